"""What the reference scripts share: the flags of `latent train` that apply to them, the data
directory found as latent finds it, batches as DataLoader makes them, and the report (one line per
epoch, then one JSON line)."""
import argparse
import json
import platform
import time

import numpy as np
import torch

import mnist


def parse_args(desc, default_batch, default_epochs=1, default_lr=1e-3):
    """The flags: --epochs --batch-size --lr --seed --threads --limit-batches as `latent train`
    takes them, the data as it finds it (--data-dir DIR, --dataset NAME, LATENT_DATA_DIR), and
    --save-samples FILE.npy (10,000 generated images in [0, 1])."""
    p = argparse.ArgumentParser(description=desc)
    p.add_argument("--epochs", type=int, default=default_epochs)
    p.add_argument("--batch-size", type=int, default=default_batch)
    p.add_argument("--lr", type=float, default=default_lr, help="the base learning rate")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--limit-batches", type=int, default=0, help="train batches per epoch (0 = all)")
    p.add_argument("--data-dir", default=None, help="a directory of MNIST-format IDX files")
    p.add_argument("--dataset", choices=["mnist", "fashion-mnist", "mnist-sample"], default=None)
    p.add_argument("--save-samples", default="", help="write 10,000 generated images in [0,1] to this .npy")
    a = p.parse_args()
    mnist.DATA_DIR = mnist.locate(a.data_dir, a.dataset)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    return a


def batches(n, bs, limit, shuffle):
    """Index batches like DataLoader(shuffle=..., drop_last=False) (RandomSampler = randperm)."""
    idx = torch.randperm(n) if shuffle else torch.arange(n)
    out = [idx[i : i + bs] for i in range(0, n, bs)]
    return out[:limit] if limit else out


class Reporter:
    def __init__(self, model, args):
        self.model, self.args, self.epochs = model, args, []

    def epoch(self, ep, train_loss, test_loss, train_s, n_train, test_s, extra=None):
        sps = n_train / train_s
        rec = dict(epoch=ep, train_loss=train_loss, test_loss=test_loss, train_s=round(train_s, 3),
                   test_s=round(test_s, 3), samples=n_train, samples_per_s=round(sps, 1))
        if extra:
            rec.update(extra)
        self.epochs.append(rec)
        ex = "" if not extra else " " + " ".join(f"{k}={v:.4f}" for k, v in extra.items())
        print(f"epoch {ep}: train_loss/sample={train_loss:.4f} test_loss/sample={test_loss:.4f} "
              f"train_wall_s={train_s:.2f} samples/s={sps:.1f} test_wall_s={test_s:.2f}{ex}", flush=True)

    def finish(self):
        last = self.epochs[-1]
        best_sps = max(e["samples_per_s"] for e in self.epochs)
        print(json.dumps(dict(
            impl="torch", model=self.model, torch=torch.__version__, threads=self.args.threads,
            seed=self.args.seed, batch_size=self.args.batch_size, epochs=len(self.epochs),
            limit_batches=self.args.limit_batches, data=mnist.DATA_DIR, train_loss=last["train_loss"],
            test_loss=last["test_loss"], samples_per_s=last["samples_per_s"], best_samples_per_s=best_sps,
            train_s_total=round(sum(e["train_s"] for e in self.epochs), 3),
            per_epoch=self.epochs, machine=platform.processor() or platform.machine(),
        )), flush=True)


now = time.perf_counter


def save_samples(path, images):
    """images: tensor [N, pixels] in [0, 1]; written as float32 .npy for `latent classify`."""
    if path:
        np.save(path, images.detach().clamp(0, 1).reshape(images.shape[0], -1).numpy().astype(np.float32))
