"""The convolutional autoencoder of `latent train conv-ae` (preset standard) on MNIST.

Encoder: Conv2d 1-32-64 (kernel 4, stride 2, padding 1; 28 -> 14 -> 7), ReLU, flatten,
Linear(3136, 32) to a linear 32-d code. Decoder: Linear(32, 3136), ReLU, unflatten to 64x7x7,
ConvTranspose2d 64-32-1 (kernel 4, stride 2, padding 1), ReLU between, sigmoid output. PyTorch's
default initialisation (as latent's). Loss = BCE summed over pixels (reported per sample), Adam
lr 1e-3, batch 128, shuffled.

The training loop is torch_ae.py's. Flags and data as `latent train conv-ae` (common.py): --epochs
(10) --batch-size (128) --lr (1e-3) --seed --threads --limit-batches --data-dir/--dataset.
"""
from torch import nn

import torch_ae


class ConvAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
                                 nn.Flatten(1), nn.Linear(3136, 32))
        self.dec = nn.Sequential(nn.Linear(32, 3136), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                                 nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1),
                                 nn.Sigmoid())

    def forward(self, x):
        return self.dec(self.enc(x.view(-1, 1, 28, 28))).view(-1, 784)


if __name__ == "__main__":
    torch_ae.main(ConvAE, "conv-ae", __doc__)
