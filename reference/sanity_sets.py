"""The sets of README's sanity table for `latent score`: real and damaged MNIST digits as float32 .npy in [0, 1].

python sanity_sets.py OUT_DIR writes, from the genuine MNIST files (MNIST_DIR, default ../datasets/mnist):
  test.npy       the 10,000 test digits (the reference itself: every figure at its ideal)
  train.npy      the first 10,000 training digits (real data the reference has not seen)
  noise0.1.npy   train.npy plus Gaussian noise of standard deviation 0.1, clipped to [0, 1]
  noise0.3.npy   the same with 0.3
  blur.npy       train.npy blurred by a 5x5 Gaussian kernel of sigma 1 (zero padding)
  one_class.npy  every training digit 1 (6,742 of them)
  shuffled.npy   train.npy with each image's pixels in a random order
Damage is applied to training digits rather than to the test digits themselves, so no set is a
pixel-for-pixel pairing of the reference. Seeded (numpy default_rng(0)).

Imports mnist.py from this directory, else from LATENT_REFERENCE_DIR (default ../shared/reference relative to the
repository root).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.environ.get("LATENT_REFERENCE_DIR", os.path.join(ROOT, "..", "shared", "reference")))
sys.path.insert(0, HERE)
os.environ.setdefault("MNIST_DIR", os.path.join(ROOT, "datasets", "mnist"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import mnist  # noqa: E402


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    xtr, ytr = mnist.load_float("train")
    xte, _ = mnist.load_float("t10k")
    train = xtr[:10000]
    np.save(os.path.join(out, "test.npy"), xte)
    np.save(os.path.join(out, "train.npy"), train)
    for s in (0.1, 0.3):
        noisy = np.clip(train + rng.normal(0, s, train.shape).astype(np.float32), 0, 1)
        np.save(os.path.join(out, f"noise{s}.npy"), noisy)
    k = np.exp(-0.5 * (np.arange(5) - 2.0) ** 2)
    k = np.outer(k, k)
    k /= k.sum()
    w = torch.from_numpy(k.astype(np.float32)).view(1, 1, 5, 5)
    blur = torch.nn.functional.conv2d(torch.from_numpy(train).view(-1, 1, 28, 28), w, padding=2)
    np.save(os.path.join(out, "blur.npy"), blur.reshape(-1, 784).numpy())
    np.save(os.path.join(out, "one_class.npy"), xtr[ytr == 1])
    shuffled = train.copy()
    for row in shuffled:
        rng.shuffle(row)
    np.save(os.path.join(out, "shuffled.npy"), shuffled)


if __name__ == "__main__":
    main()
