"""beta-VAE on MNIST, the same network as `latent train vae --preset beta4`.

784-400-20 MLP VAE (pytorch/examples' network: ReLU, sigmoid output), loss = BCE(sum) + beta * KL with beta = 4
(--beta changes it; 1 is torch_vae.py), Adam lr 1e-3, batch 128, shuffled train set, test batches of 128 in order
(z sampled at test time). Loss figures are per sample. --save-samples writes 10,000 decodings of z ~ N(0, I).

Imports common.py and mnist.py from this directory, else from LATENT_REFERENCE_DIR (default ../shared/reference
relative to the repository root). MNIST_DIR defaults to the repository's datasets/mnist.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.environ.get("LATENT_REFERENCE_DIR", os.path.join(ROOT, "..", "shared", "reference")))
sys.path.insert(0, HERE)
os.environ.setdefault("MNIST_DIR", os.path.join(ROOT, "datasets", "mnist"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn, optim  # noqa: E402

import mnist  # noqa: E402
from common import Reporter, batches, now, parse_args, save_samples  # noqa: E402

BETA = 4.0


class VAE(nn.Module):
    def __init__(self, latent=20):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, latent)
        self.fc22 = nn.Linear(400, latent)
        self.fc3 = nn.Linear(latent, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decode(z), mu, logvar

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))


def loss_function(recon, x, mu, logvar, beta):
    bce = F.binary_cross_entropy(recon, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + beta * kld


def main():
    beta = BETA
    if "--beta" in sys.argv:
        i = sys.argv.index("--beta")
        beta = float(sys.argv[i + 1])
        del sys.argv[i : i + 2]
    args = parse_args(__doc__.splitlines()[0], 128)
    xtr = torch.from_numpy(mnist.load_float("train")[0])
    xte = torch.from_numpy(mnist.load_float("t10k")[0])
    model = VAE()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rep = Reporter("beta-vae", args)
    for ep in range(1, args.epochs + 1):
        model.train()
        tot, n = 0.0, 0
        t0 = now()
        for idx in batches(len(xtr), args.batch_size, args.limit_batches, True):
            data = xtr[idx]
            opt.zero_grad()
            recon, mu, logvar = model(data)
            loss = loss_function(recon, data, mu, logvar, beta)
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
                te += loss_function(recon, data, mu, logvar, beta).item()
        test_s = now() - t1
        rep.epoch(ep, tot / n, te / len(xte), train_s, n, test_s)
    rep.finish()
    with torch.no_grad():
        save_samples(args.save_samples, model.decode(torch.randn(10000, 20)))


if __name__ == "__main__":
    main()
