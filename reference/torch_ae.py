"""MLP autoencoder 784-512-128-32-128-512-784 on MNIST.

ReLU after every hidden layer except the 32-d code (linear bottleneck), sigmoid output,
loss = BCE summed over pixels (reported per sample), Adam lr 1e-3, batch 128, shuffled.

Flags and data as `latent train ae` (common.py): --epochs (10) --batch-size (128) --lr (1e-3) --seed
--threads --limit-batches --data-dir/--dataset, and --save-samples FILE.npy.
"""
import torch
import torch.nn.functional as F
from torch import nn, optim

import mnist
from common import Reporter, batches, now, parse_args


class AE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 128), nn.ReLU(),
                                 nn.Linear(128, 32))
        self.dec = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 512), nn.ReLU(),
                                 nn.Linear(512, 784), nn.Sigmoid())

    def forward(self, x):
        return self.dec(self.enc(x))


def main(model_class=AE, name="ae", doc=__doc__):
    """Train `model_class` (flat rows in, pixel probabilities out) as `name`; `doc`'s first line
    describes the script. torch_conv_ae.py trains its convolutional autoencoder with this loop."""
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
            loss = F.binary_cross_entropy(model(data), data, reduction="sum")
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
                te += F.binary_cross_entropy(model(data), data, reduction="sum").item()
        test_s = now() - t1
        rep.epoch(ep, tot / n, te / len(xte), train_s, n, test_s)
    rep.finish()


if __name__ == "__main__":
    main()
