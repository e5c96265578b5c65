"""The convolutional autoencoder of `latent train conv-ae` (preset standard) on MNIST.

Encoder: Conv2d 1-32-64 (kernel 4, stride 2, padding 1; 28 -> 14 -> 7), ReLU, flatten,
Linear(3136, 32) to a linear 32-d code. Decoder: Linear(32, 3136), ReLU, unflatten to 64x7x7,
ConvTranspose2d 64-32-1 (kernel 4, stride 2, padding 1), ReLU between, sigmoid output. PyTorch's
default initialisation (as latent's). Loss = BCE summed over pixels (reported per sample), Adam
lr 1e-3, batch 128, shuffled.

Flags and data as `latent train conv-ae` (common.py): --epochs (10) --batch-size (128) --lr (1e-3) --seed
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
        self.enc = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
                                 nn.Flatten(1), nn.Linear(3136, 32))
        self.dec = nn.Sequential(nn.Linear(32, 3136), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                                 nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1),
                                 nn.Sigmoid())

    def forward(self, x):
        return self.dec(self.enc(x.view(-1, 1, 28, 28))).view(-1, 784)


def main():
    args = parse_args(__doc__.splitlines()[0], 128, default_epochs=10, default_lr=1e-3)
    xtr = torch.from_numpy(mnist.load_float("train")[0])
    xte = torch.from_numpy(mnist.load_float("t10k")[0])
    model = AE()
    opt = optim.Adam(model.parameters(), lr=args.lr)
    rep = Reporter("conv-ae", args)
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
