"""The convolutional VAE of `latent train conv-vae` (preset standard).

Encoder: Conv2d 1-32-64 (kernel 4, stride 2, padding 1; 28 -> 14 -> 7), ReLU, flatten, two
Linear(3136, 20) heads for the mean and the log-variance. Decoder: Linear(20, 3136), ReLU,
unflatten to 64x7x7, ConvTranspose2d 64-32-1 (kernel 4, stride 2, padding 1), ReLU between,
sigmoid output. PyTorch's default initialisation (as latent's). Loss = BCE(sum) + KL, Adam lr 1e-3, batch 128,
shuffled train set, test batches of 128 in order (z is still sampled at test time, as upstream).
Loss figures are per sample (sum over the epoch / dataset size), as upstream prints them.

The training loop is torch_vae.py's. Flags and data as `latent train conv-vae` (common.py): --epochs
(10) --batch-size (128) --lr (1e-3) --seed --threads --limit-batches --data-dir/--dataset, and
--save-samples FILE.npy.
"""
import torch
from torch import nn

import torch_vae


class ConvVAE(torch_vae.VAE):
    """torch_vae.VAE's reparameterisation and forward pass around convolutions."""

    def __init__(self):
        nn.Module.__init__(self)  # not VAE's layers: only these, drawn in this order
        self.encoder = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
                                     nn.Flatten(1))
        self.fc_mu = nn.Linear(3136, 20)
        self.fc_logvar = nn.Linear(3136, 20)
        self.decoder = nn.Sequential(nn.Linear(20, 3136), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                                     nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1))

    def encode(self, x):
        h = self.encoder(x.view(-1, 1, 28, 28))
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z):
        return torch.sigmoid(self.decoder(z).view(-1, 784))


if __name__ == "__main__":
    torch_vae.main(ConvVAE, "conv-vae", __doc__)
