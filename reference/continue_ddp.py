"""Continue a latent run in PyTorch with DistributedDataParallel: the scale-out path.

    latent export RUN --format torch --out EXPORT
    torchrun --nproc_per_node 2 reference/continue_ddp.py EXPORT --epochs 2 [--latent-run RUN] [--save OUT.safetensors]

Loads the exported module (EXPORT/model.py, `load(EXPORT)`: the weights with strict=True), restores
Adam's moments and step counts from the run's training state (EXPORT/training_state.safetensors, saved
under PyTorch's names), and trains the run's objective on the run's data with the run's batch size and
learning rate, each process on its share of every epoch's batches (DistributedSampler's split of one
seeded permutation). Backend: gloo on CPUs (what this script was run with here), NCCL on GPUs
(`--backend nccl`, one process per GPU). Epoch 0 is latent's weights evaluated here, so the first
line can be compared with latent's last epoch (printed from RUN/metrics.jsonl with --latent-run); the loss
then goes on from there. `--save` writes the weights back as safetensors that `latent` reads.

Families: the autoencoders (BCE or MSE, sparsity, contractive, denoising noise) and the VAEs
(Bernoulli or Gaussian, beta, conditional, convolutional), on MNIST-format data. A GAN's alternating
D and G steps need two DDP-wrapped networks; continue one in one process with model.py's `generate`
and `discriminate` instead.
"""
import argparse
import importlib.util
import json
import math
import os
import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mnist  # noqa: E402

LN_2PI = math.log(2 * math.pi)


def load_export(directory):
    """The module of EXPORT/model.py, imported from its file."""
    spec = importlib.util.spec_from_file_location("latent_export_model", os.path.join(directory, "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def safetensors_metadata(path):
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(size)).get("__metadata__", {})


def write_safetensors(path, tensors, metadata):
    """A safetensors file of `tensors` (name -> tensor), names sorted, with `metadata`."""
    names = sorted(tensors)
    dtypes = {torch.float32: "F32", torch.int64: "I64"}
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in names:
        t = tensors[name].detach().cpu().contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + b"".join(blobs))
    os.replace(tmp, path)


def corrupt(x, noise):
    """latent's input noise: none, gaussian:STD (clipped to [0, 1]), mask:F, salt-pepper:F."""
    if noise in ("none", "", None):
        return x
    kind, value = noise.split(":")
    value = float(value)
    if kind == "gaussian":
        return (x + value * torch.randn_like(x)).clamp(0, 1)
    n = round(value * x.shape[1])
    picked = torch.rand_like(x).argsort(1)[:, :n]
    out = x.clone()
    if kind == "mask":
        out.scatter_(1, picked, 0.0)
    else:
        out.scatter_(1, picked, torch.randint(0, 2, picked.shape, dtype=x.dtype))
    return out


class Objective(nn.Module):
    """latent's training objective of the run's model, summed over the batch; DDP wraps this
    module, so every parameter's gradient is averaged across the processes."""

    def __init__(self, model, config):
        super().__init__()
        self.model, self.config = model, config
        self.kind = config["kind"]
        self.vae = self.kind in ("vae", "conv_vae", "cvae")
        self.bernoulli = config.get("likelihood", "bernoulli") == "bernoulli"

    def recon(self, out, x):
        if self.bernoulli:
            return F.binary_cross_entropy_with_logits(out, x, reduction="sum")
        if self.vae:
            return 0.5 * F.mse_loss(out, x, reduction="sum") + 0.5 * x.numel() * LN_2PI
        return F.mse_loss(out, x, reduction="sum")

    def forward(self, x, y):
        c = self.config
        if self.vae:
            args = (x, y) if y is not None else (x,)
            mu, logvar = self.model.encode(*args)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            out = self.model.decode(*((z, y) if y is not None else (z,)), raw=True)
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            return self.recon(out, x) + c["beta"] * kl
        code = self.model.encode(corrupt(x, c.get("noise", "none")))
        loss = self.recon(self.model.decode(code, raw=True), x)
        reg = c.get("regularizer", {"type": "none"})
        if reg["type"] == "l1":
            loss = loss + reg["weight"] * code.abs().sum()
        elif reg["type"] == "kl_sparsity":
            rho, rho_hat = reg["rho"], code.mean(0).clamp(1e-6, 1 - 1e-6)
            kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
            loss = loss + reg["weight"] * x.shape[0] * kl.sum()
        elif reg["type"] == "contractive":
            w = self.model.encoder[0].weight  # [code, input]
            dh = (code * (1 - code)).pow(2)  # sigmoid'(a)^2 per code unit
            loss = loss + reg["weight"] * (dh @ w.pow(2).sum(1)).sum()
        return loss


def restore_adam(optimizer, model, exported, state_path, name="model"):
    """Adam's moments and step counts from latent's training state (tensors `model/PARAM.exp_avg`,
    `.exp_avg_sq`; steps in the metadata), so the optimiser continues rather than restarts."""
    meta = json.loads(safetensors_metadata(state_path)["latent.training_state"])
    opt = meta["optimizers"][name]
    if opt["kind"] != "adam":
        return None
    tensors = exported.read_safetensors(state_path)
    params = dict(model.named_parameters())
    for pname, p in params.items():
        optimizer.state[p] = {
            "step": torch.tensor(float(opt["steps"][pname])),
            "exp_avg": tensors[f"{name}/{pname}.exp_avg"].clone(),
            "exp_avg_sq": tensors[f"{name}/{pname}.exp_avg_sq"].clone(),
        }
    return meta


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("export", help="a directory written by `latent export RUN --format torch`")
    p.add_argument("--epochs", type=int, default=1, help="epochs to train here")
    p.add_argument("--batch-size", type=int, default=None, help="the global batch (default: the run's)")
    p.add_argument("--lr", type=float, default=None, help="default: the run's")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--limit-batches", type=int, default=0, help="global batches per epoch (0 = all)")
    p.add_argument("--data-dir", default=None, help="default: the run's data")
    p.add_argument("--dataset", choices=["mnist", "fashion-mnist", "mnist-sample"], default=None)
    p.add_argument("--backend", default="gloo", help="gloo (CPU) or nccl (GPUs)")
    p.add_argument("--latent-run", default=None, help="the latent run, to print its last epoch's figures")
    p.add_argument("--save", default=None, help="write the trained weights here (.safetensors)")
    a = p.parse_args()

    dist.init_process_group(a.backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(a.threads)
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}") if a.backend == "nccl" else torch.device("cpu")

    exported = load_export(a.export)
    spec = exported.spec(a.export)
    run = spec["run"]
    config, train = run["model"], run["train"]
    if config["kind"] in ("gan", "cgan", "dcgan", "classifier"):
        raise SystemExit(f"{config['kind']}: this script continues autoencoders and VAEs (see its docstring)")
    data_info = run["data"]
    if spec["data"]["values"] != "pixels":
        raise SystemExit("this script reads MNIST-format pixel data; the run's data are real values")
    recorded = data_info.get("dir") or None
    if recorded and not mnist.is_complete(recorded):
        recorded = None
    dataset = a.dataset or (data_info["name"] if data_info["name"] in ("mnist", "fashion-mnist", "mnist-sample") else None)
    mnist.DATA_DIR = mnist.locate(a.data_dir or (None if a.dataset else recorded), dataset)
    xtr, ytr = mnist.load_float("train")
    xte, yte = mnist.load_float("t10k")
    xtr, xte = torch.from_numpy(xtr), torch.from_numpy(xte)
    classes = spec["classes"]
    one_hot = (lambda y: F.one_hot(torch.from_numpy(y.astype("int64")), classes).float()) if classes else (lambda y: None)
    ytr_h, yte_h = one_hot(ytr), one_hot(yte)

    model = exported.load(a.export, device=device).train()
    objective = Objective(model, config).to(device)
    ddp = DDP(objective)
    lr = a.lr if a.lr is not None else train["learning_rate"]
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    state_path = os.path.join(a.export, "training_state.safetensors")
    meta = restore_adam(optimizer, model, exported, state_path) if os.path.isfile(state_path) else None
    batch = a.batch_size or train["batch_size"]
    if rank == 0:
        print(f"{world} processes ({a.backend}); {config['kind']} from {a.export} ({spec['preset']}); data {mnist.DATA_DIR}; "
              f"batch {batch} ({batch // world} per process), Adam lr {lr}; "
              + (f"Adam state restored from latent's step {meta['global_step']} (epoch {meta['epoch']})" if meta
                 else "fresh Adam state"), flush=True)
        if a.latent_run:
            with open(os.path.join(a.latent_run, "metrics.jsonl")) as f:
                last = json.loads(f.read().splitlines()[-1])
            print(f"latent epoch {last['epoch']}: train loss {last['train']['loss']:.4f}, test loss {last['test']['loss']:.4f}", flush=True)

    def move(t):
        return None if t is None else t.to(device)

    def evaluate():
        """The objective per example on the test set (z sampled, as latent's test pass), this
        process's share, summed over the processes."""
        total = torch.zeros(2, dtype=torch.float64)
        with torch.no_grad():
            for i in range(rank * 1000, len(xte), 1000 * world):
                x, y = xte[i : i + 1000], (yte_h[i : i + 1000] if classes else None)
                total += torch.tensor([objective(move(x), move(y)).item(), len(x)], dtype=torch.float64)
        dist.all_reduce(total)
        return (total[0] / total[1]).item()

    torch.manual_seed(a.seed + 1000 * rank)  # each process draws its own z and noise
    if rank == 0:
        print(f"epoch 0 (latent's weights): test loss {evaluate():.4f}", flush=True)
    else:
        evaluate()
    generator = torch.Generator().manual_seed(a.seed)  # the same permutation on every process
    for epoch in range(1, a.epochs + 1):
        order = torch.randperm(len(xtr), generator=generator)
        starts = list(range(0, len(xtr), batch))
        if a.limit_batches:
            starts = starts[: a.limit_batches]
        total = torch.zeros(2, dtype=torch.float64)
        for s in starts:
            idx = order[s : s + batch][rank::world]  # this process's share of the global batch
            x, y = xtr[idx], (ytr_h[idx] if classes else None)
            optimizer.zero_grad()
            loss = ddp(move(x), move(y))
            # DDP averages gradients over processes; scale so the step is that of the summed global batch.
            (loss * world).backward()
            optimizer.step()
            total += torch.tensor([loss.item(), len(idx)], dtype=torch.float64)
        dist.all_reduce(total)
        test = evaluate()
        if rank == 0:
            print(f"epoch {epoch}: train loss {(total[0] / total[1]).item():.4f} test loss {test:.4f} "
                  f"({int(total[1].item())} examples over {world} processes)", flush=True)
    if rank == 0 and a.save:
        state = {k: v for k, v in model.state_dict().items()}
        write_safetensors(a.save, state, {"format": "pt"})
        print(f"wrote {a.save}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
