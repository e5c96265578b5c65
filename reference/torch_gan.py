"""Plain MLP GAN on MNIST (images scaled to [-1,1]).

G: 100-256-512-1024-784, LeakyReLU(0.2), tanh out.  D: 784-512-256-1, LeakyReLU(0.2), logit out.
Loss: BCE-with-logits (mean), non-saturating G loss. Adam lr 2e-4 betas (0.5, 0.999), batch 64.
Per iteration (DCGAN-example order): one z batch; D step on real (label 1) + G(z).detach() (label 0);
then G step on D(G(z)) with label 1, reusing the same fake batch.
Reported: train_loss = mean D loss per batch, g_loss = mean G loss per batch;
test_loss = D loss on the test set (real test images vs. the same number of fresh fakes), no grad.

Flags and data as `latent train gan` (common.py): --epochs (30) --batch-size (64) --lr (2e-4) --seed
--threads --limit-batches --data-dir/--dataset, and --save-samples FILE.npy.
"""
import torch
import torch.nn.functional as F
from torch import nn, optim

import mnist
from common import Reporter, batches, now, parse_args, save_samples

NZ = 100


def G(classes=0):
    return nn.Sequential(nn.Linear(NZ + classes, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
                         nn.Linear(512, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 784), nn.Tanh())


def D(classes=0):
    return nn.Sequential(nn.Linear(784 + classes, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256), nn.LeakyReLU(0.2),
                         nn.Linear(256, 1))


def main(classes=0, name="gan", doc=__doc__):
    """Train the GAN; with `classes` > 0 the conditional GAN (torch_cgan.py), whose G reads
    [z, onehot(y)] and whose D reads [x, onehot(y)], fakes drawn for the real images' labels."""
    args = parse_args(doc.splitlines()[0], 64, default_epochs=30, default_lr=2e-4)
    xtr, ytr = mnist.load_float("train")
    xte, yte = mnist.load_float("t10k")
    xtr, ytr = torch.from_numpy(xtr) * 2 - 1, torch.from_numpy(ytr)
    xte, yte = torch.from_numpy(xte) * 2 - 1, torch.from_numpy(yte)
    g, d = G(classes), D(classes)
    opt_g = optim.Adam(g.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = optim.Adam(d.parameters(), lr=args.lr, betas=(0.5, 0.999))
    bce = F.binary_cross_entropy_with_logits

    def onehot(y):
        return F.one_hot(y.long(), classes).float() if classes else None

    def with_label(a, y):
        return a if y is None else torch.cat([a, y], 1)

    gen = lambda z, y: g(with_label(z, y))  # noqa: E731
    dis = lambda x, y: d(with_label(x, y))  # noqa: E731
    rep = Reporter(name, args)
    for ep in range(1, args.epochs + 1):
        g.train(); d.train()
        d_tot = g_tot = 0.0
        nb = n = 0
        t0 = now()
        for idx in batches(len(xtr), args.batch_size, args.limit_batches, True):
            real, y = xtr[idx], onehot(ytr[idx])
            b = real.shape[0]
            ones, zeros = torch.ones(b, 1), torch.zeros(b, 1)
            fake = gen(torch.randn(b, NZ), y)
            opt_d.zero_grad()
            loss_d = bce(dis(real, y), ones) + bce(dis(fake.detach(), y), zeros)
            loss_d.backward()
            opt_d.step()
            opt_g.zero_grad()
            loss_g = bce(dis(fake, y), ones)
            loss_g.backward()
            opt_g.step()
            d_tot += loss_d.item(); g_tot += loss_g.item()
            nb += 1; n += b
        train_s = now() - t0
        g.eval(); d.eval()
        te, tb = 0.0, 0
        t1 = now()
        with torch.no_grad():
            for idx in batches(len(xte), args.batch_size, 0, False):
                real, y = xte[idx], onehot(yte[idx])
                b = real.shape[0]
                fake = gen(torch.randn(b, NZ), y)
                te += (bce(dis(real, y), torch.ones(b, 1)) + bce(dis(fake, y), torch.zeros(b, 1))).item()
                tb += 1
        test_s = now() - t1
        rep.epoch(ep, d_tot / nb, te / tb, train_s, n, test_s, extra=dict(g_loss=g_tot / nb))
    rep.finish()
    g.eval()
    with torch.no_grad():
        # A conditional GAN draws digit i mod `classes` for sample i.
        labels = onehot(torch.arange(10000) % classes) if classes else None
        save_samples(args.save_samples, (gen(torch.randn(10000, NZ), labels) + 1) / 2)


if __name__ == "__main__":
    main()
