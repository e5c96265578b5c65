"""The convolutional VAE of `latent train conv-vae` (preset standard).

Encoder: Conv2d 1-32-64 (kernel 4, stride 2, padding 1; 28 -> 14 -> 7), ReLU, flatten, two
Linear(3136, 20) heads for the mean and the log-variance. Decoder: Linear(20, 3136), ReLU,
unflatten to 64x7x7, ConvTranspose2d 64-32-1 (kernel 4, stride 2, padding 1), ReLU between,
sigmoid output. PyTorch's default initialisation (as latent's). Loss = BCE(sum) + KL, Adam lr 1e-3, batch 128,
shuffled train set, test batches of 128 in order (z is still sampled at test time, as upstream).
Loss figures are per sample (sum over the epoch / dataset size), as upstream prints them.

Flags and data as `latent train conv-vae` (common.py): --epochs (10) --batch-size (128) --lr (1e-3) --seed
--threads --limit-batches --data-dir/--dataset, and --save-samples FILE.npy.
"""
import torch
import torch.nn.functional as F
from torch import nn, optim

import mnist
from common import Reporter, batches, now, parse_args, save_samples


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
                                     nn.Flatten(1))
        self.fc_mu = nn.Linear(3136, 20)
        self.fc_logvar = nn.Linear(3136, 20)
        self.decoder = nn.Sequential(nn.Linear(20, 3136), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                                     nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1))

    def encode(self, x):
        h = self.encoder(x.view(-1, 1, 28, 28))
        return self.fc_mu(h), self.fc_logvar(h)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        return torch.sigmoid(self.decoder(z).view(-1, 784))

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def main():
    args = parse_args(__doc__.splitlines()[0], 128, default_epochs=10, default_lr=1e-3)
    xtr = torch.from_numpy(mnist.load_float("train")[0])
    xte = torch.from_numpy(mnist.load_float("t10k")[0])
    model = VAE()
    opt = optim.Adam(model.parameters(), lr=args.lr)
    rep = Reporter("conv-vae", args)
    for ep in range(1, args.epochs + 1):
        model.train()
        tot, n = 0.0, 0
        t0 = now()
        for idx in batches(len(xtr), args.batch_size, args.limit_batches, True):
            data = xtr[idx]
            opt.zero_grad()
            recon, mu, logvar = model(data)
            loss = loss_function(recon, data, mu, logvar)
            loss.backward()
            tot += loss.item()
            opt.step()
            n += len(idx)
        train_s = now() - t0
        model.eval()
        te = 0.0
        t1 = now()
        with torch.no_grad():
            for idx in batches(len(xte), args.batch_size, 0, False):
                data = xte[idx]
                recon, mu, logvar = model(data)
                te += loss_function(recon, data, mu, logvar).item()
        test_s = now() - t1
        rep.epoch(ep, tot / n, te / len(xte), train_s, n, test_s)
    rep.finish()
    with torch.no_grad():
        save_samples(args.save_samples, model.decode(torch.randn(10000, 20)))


if __name__ == "__main__":
    main()
