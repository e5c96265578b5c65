"""pytorch/examples vae/main.py, reproduced without torchvision.

784-400-20 MLP VAE, ReLU, sigmoid output, loss = BCE(sum) + KL, Adam lr 1e-3, batch 128,
shuffled train set, test batches of 128 in order (z is still sampled at test time, as upstream).
Loss figures are per sample (sum over the epoch / dataset size), as upstream prints them.

Flags and data as `latent train vae` (common.py): --epochs (10) --batch-size (128) --lr (1e-3) --seed
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
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def main(model_class=VAE, name="vae", doc=__doc__):
    """Train `model_class` (a module with this VAE's forward and decode) as `name`; `doc`'s first
    line describes the script. torch_conv_vae.py trains its convolutional VAE with this loop."""
    args = parse_args(doc.splitlines()[0], 128, default_epochs=10, default_lr=1e-3)
    xtr = torch.from_numpy(mnist.load_float("train")[0])
    xte = torch.from_numpy(mnist.load_float("t10k")[0])
    model = model_class()
    opt = optim.Adam(model.parameters(), lr=args.lr)
    rep = Reporter(name, args)
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
