"""DCGAN for 28x28 MNIST (images scaled to [-1,1]), the same network as `latent train dcgan`.

G: z [N,100] -> [N,100,1,1] -> ConvT(100,128,k7) BN ReLU (7x7) -> ConvT(128,64,k4,s2,p1) BN ReLU (14x14)
   -> ConvT(64,1,k4,s2,p1) tanh (28x28) -> [N,784].
D: [N,784] -> [N,1,28,28] -> Conv(1,64,k4,s2,p1) LeakyReLU(0.2) (14x14) -> Conv(64,128,k4,s2,p1) BN LeakyReLU(0.2)
   (7x7) -> Conv(128,1,k7) -> [N,1] logit.  Every conv bias-free.
Init (PyTorch DCGAN example): conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0.
Loss: BCE-with-logits (mean), non-saturating G loss. Adam lr 2e-4 betas (0.5, 0.999), batch 128.
Per iteration (DCGAN-example order, as torch_gan.py): one z batch; D step on real (label 1) + G(z).detach()
(label 0); then G step on D(G(z)) with label 1, reusing the same fake batch.
Reported: train_loss = mean D loss per batch, g_loss = mean G loss per batch;
test_loss = D loss on the test set (real test images vs. the same number of fresh fakes), no grad, with BatchNorm as in
training: each batch normalised by its own statistics, the running statistics frozen (momentum 0), as latent evaluates a
GAN. (In eval mode D would normalise with running statistics that average real and fake batches, a mixture it never
judged; the PyTorch DCGAN example never leaves training mode.) Samples are drawn in eval mode.
Parameter names match latent's (generator.N.*, discriminator.N.*), so checkpoints are exchangeable.

Flags and data as `latent train dcgan` (common.py): --epochs (10) --batch-size (128) --lr (2e-4) --seed --threads
--limit-batches --data-dir/--dataset, and --save-samples FILE.npy.
"""
import torch
import torch.nn.functional as F
from torch import nn, optim

import mnist
from common import Reporter, batches, now, parse_args, save_samples

NZ = 100


def G():
    return nn.Sequential(
        nn.Unflatten(1, (NZ, 1, 1)),
        nn.ConvTranspose2d(NZ, 128, 7, 1, 0, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
        nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, 2, 1, bias=False), nn.Tanh(),
        nn.Flatten(1),
    )


def D():
    return nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, 64, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.Conv2d(128, 1, 7, 1, 0, bias=False),
        nn.Flatten(1),
    )


def weights_init(m):
    """The PyTorch DCGAN example's initialisation."""
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


def batchnorm_momentum(momentum, *nets):
    """Set every BatchNorm's momentum: 0.1 (PyTorch's default) to train, 0 to keep the running statistics frozen."""
    for net in nets:
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.momentum = momentum


def main():
    args = parse_args(__doc__.splitlines()[0], 128, default_epochs=10, default_lr=2e-4)
    xtr = torch.from_numpy(mnist.load_float("train")[0]) * 2 - 1
    xte = torch.from_numpy(mnist.load_float("t10k")[0]) * 2 - 1
    g, d = G(), D()
    g.apply(weights_init)
    d.apply(weights_init)
    opt_g = optim.Adam(g.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = optim.Adam(d.parameters(), lr=args.lr, betas=(0.5, 0.999))
    bce = F.binary_cross_entropy_with_logits
    rep = Reporter("dcgan", args)
    for ep in range(1, args.epochs + 1):
        g.train(); d.train()
        batchnorm_momentum(0.1, g, d)
        d_tot = g_tot = 0.0
        nb = n = 0
        t0 = now()
        for idx in batches(len(xtr), args.batch_size, args.limit_batches, True):
            real = xtr[idx]
            b = real.shape[0]
            ones, zeros = torch.ones(b, 1), torch.zeros(b, 1)
            z = torch.randn(b, NZ)
            fake = g(z)
            opt_d.zero_grad()
            loss_d = bce(d(real), ones) + bce(d(fake.detach()), zeros)
            loss_d.backward()
            opt_d.step()
            opt_g.zero_grad()
            loss_g = bce(d(fake), ones)
            loss_g.backward()
            opt_g.step()
            d_tot += loss_d.item(); g_tot += loss_g.item()
            nb += 1; n += b
        train_s = now() - t0
        batchnorm_momentum(0.0, g, d)  # still training mode: batch statistics, running ones untouched
        te, tb = 0.0, 0
        t1 = now()
        with torch.no_grad():
            for idx in batches(len(xte), args.batch_size, 0, False):
                real = xte[idx]
                b = real.shape[0]
                fake = g(torch.randn(b, NZ))
                te += (bce(d(real), torch.ones(b, 1)) + bce(d(fake), torch.zeros(b, 1))).item()
                tb += 1
        test_s = now() - t1
        rep.epoch(ep, d_tot / nb, te / tb, train_s, n, test_s, extra=dict(g_loss=g_tot / nb))
    rep.finish()
    g.eval()
    with torch.no_grad():
        save_samples(args.save_samples, (g(torch.randn(10000, NZ)) + 1) / 2)


if __name__ == "__main__":
    main()
