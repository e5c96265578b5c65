"""Conditional MLP GAN on MNIST (images scaled to [-1,1]): the GAN of torch_gan.py with the label.

G reads [z, onehot(y)]: 110-256-512-1024-784, LeakyReLU(0.2), tanh out. D reads [x, onehot(y)]:
794-512-256-1, LeakyReLU(0.2), logit out. Loss: BCE-with-logits (mean), non-saturating G loss.
Adam lr 2e-4 betas (0.5, 0.999), batch 64. Per iteration: one z per real image, the fakes drawn
for the real images' labels; D step on real (label 1) + G(z, y).detach() (label 0); then G step
on D(G(z, y), y) with label 1, reusing the same fake batch.
Reported: train_loss = mean D loss per batch, g_loss = mean G loss per batch; test_loss = D loss
on the test set (real test images vs. fakes for their labels), no grad. Samples: digit i mod 10.

The training loop is torch_gan.py's. Flags and data as `latent train cgan` (common.py): --epochs
(30) --batch-size (64) --lr (2e-4) --seed --threads --limit-batches --data-dir/--dataset, and
--save-samples FILE.npy.
"""
import torch_gan

CLASSES = 10

if __name__ == "__main__":
    torch_gan.main(CLASSES, "cgan", __doc__)
