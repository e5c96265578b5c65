"""Conditional VAE on MNIST, the same network as `latent train cvae` (preset 2d; --latent 20 for preset 20d).

Encoder [x, onehot(y)] 784+10 -> 400 (ReLU) -> mu, logvar (2-d); decoder [z, onehot(y)] 2+10 -> 400 (ReLU) -> 784
(sigmoid). Loss = BCE(sum) + KL, Adam lr 1e-3, batch 128, shuffled train set, test batches of 128 in order (z sampled
at test time). Loss figures are per sample. --save-samples writes 10,000 decodings of z ~ N(0, I), row i drawn for
digit i mod 10 (as `latent sample` draws a conditional model without --label).

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

CLASSES = 10


class CVAE(nn.Module):
    def __init__(self, latent):
        super().__init__()
        self.latent = latent
        self.fc1 = nn.Linear(784 + CLASSES, 400)
        self.fc21 = nn.Linear(400, latent)
        self.fc22 = nn.Linear(400, latent)
        self.fc3 = nn.Linear(latent + CLASSES, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, x, y):
        h = F.relu(self.fc1(torch.cat([x, y], 1)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decode(z, y), mu, logvar

    def decode(self, z, y):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(torch.cat([z, y], 1)))))


def loss_function(recon, x, mu, logvar):
    bce = F.binary_cross_entropy(recon, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def main():
    latent = 2
    if "--latent" in sys.argv:
        i = sys.argv.index("--latent")
        latent = int(sys.argv[i + 1])
        del sys.argv[i : i + 2]
    args = parse_args(__doc__.splitlines()[0], 128)
    xtr, ytr = (torch.from_numpy(a) for a in mnist.load_float("train"))
    xte, yte = (torch.from_numpy(a) for a in mnist.load_float("t10k"))
    onehot = lambda y: F.one_hot(y.long(), CLASSES).float()  # noqa: E731
    model = CVAE(latent)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rep = Reporter("cvae", args)
    for ep in range(1, args.epochs + 1):
        model.train()
        tot, n = 0.0, 0
        t0 = now()
        for idx in batches(len(xtr), args.batch_size, args.limit_batches, True):
            data, y = xtr[idx], onehot(ytr[idx])
            opt.zero_grad()
            recon, mu, logvar = model(data, y)
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
                recon, mu, logvar = model(xte[idx], onehot(yte[idx]))
                te += loss_function(recon, xte[idx], mu, logvar).item()
        test_s = now() - t1
        rep.epoch(ep, tot / n, te / len(xte), train_s, n, test_s)
    rep.finish()
    with torch.no_grad():
        labels = onehot(torch.arange(10000) % CLASSES)
        save_samples(args.save_samples, model.decode(torch.randn(10000, latent), labels))


if __name__ == "__main__":
    main()
