"""Check `latent export --format torch` for every exportable family against latent itself.

    python reference/check_torch_export.py --latent target/release/latent [--work /tmp/latent-export-check]

For each family: train a small run on the built-in MNIST sample (1 epoch of 3 batches; the table
sample for real values), export it, load model.py's module with `load(dir)` (strict=True), and
compare with the `latent` command on the same inputs:
- decoders and generators: `latent decode RUN --codes Z.npy` against `decode(z)` / `generate(z)`
  (real values brought to the data's units with spec.json's standardisation);
- encoders: `latent embed RUN` (the sample's test digits, with their labels for a conditional model)
  against `encode(x)` (a VAE's mean).
Prints the largest absolute difference per check and fails above 1e-5.
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mnist  # noqa: E402

TOLERANCE = 1e-5
TABLE = os.path.join(mnist.ROOT, "crates", "latent-data", "sample", "table", "wdbc-200.csv")

# (run name, `latent train` arguments)
RUNS = [
    ("ae", ["ae"]),
    ("ae-shallow", ["ae", "--preset", "shallow"]),
    ("dae", ["dae"]),
    ("sparse", ["sparse"]),
    ("sparse-l1", ["sparse", "--preset", "l1"]),
    ("contractive", ["contractive"]),
    ("ae-elu-mse", ["ae", "--activation", "elu", "--loss", "mse", "--hidden", "64,16"]),
    ("ae-linear", ["ae", "--activation", "identity", "--loss", "mse", "--hidden", "64"]),
    ("conv-ae", ["conv-ae", "--hidden", "8,16"]),
    ("vae", ["vae"]),
    ("vae-softplus", ["vae", "--activation", "softplus", "--hidden", "64,32"]),
    ("conv-vae", ["conv-vae", "--hidden", "8,16"]),
    ("cvae", ["cvae"]),
    ("gan", ["gan"]),
    ("cgan", ["cgan"]),
    ("dcgan", ["dcgan"]),
    ("vae-table", ["vae", "--data", TABLE, "--label-column", "diagnosis"]),
    ("ae-table", ["ae", "--data", TABLE, "--label-column", "diagnosis", "--hidden", "16"]),
]


def sh(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return done


def load_module(directory):
    spec = importlib.util.spec_from_file_location(f"export_{os.path.basename(directory)}", os.path.join(directory, "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--latent", required=True, help="the latent binary")
    p.add_argument("--work", default="/tmp/latent-export-check")
    p.add_argument("--only", default=None, help="comma-separated run names")
    a = p.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.work, exist_ok=True)
    test_x, test_y = mnist.load_float("t10k", mnist.SAMPLE_DIR)
    rng = np.random.default_rng(0)
    worst, failures = 0.0, []
    for name, train_args in RUNS:
        if a.only and name not in a.only.split(","):
            continue
        run, out = os.path.join(a.work, name), os.path.join(a.work, name + "-torch")
        data = [] if "--data" in train_args else ["--dataset", "mnist-sample"]
        sh([a.latent, "train", *train_args, *data, "--epochs", "1", "--limit-batches", "3", "--seed", "3",
            "--out", run, "--force", "--quiet"])
        sh([a.latent, "export", run, "--format", "torch", "--out", out])
        module = load_module(out)
        model = module.load(out)  # strict=True: every key and shape of model.safetensors
        spec = module.spec(out)
        classes = spec["classes"]
        checks = []

        # Decoder or generator against `latent decode`.
        n = 64
        z = rng.standard_normal((n, spec["latent_dim"])).astype(np.float32)
        labels = (np.arange(n) % classes).astype(np.uint8) if classes else None
        np.save(os.path.join(a.work, "z.npy"), z)
        cmd = [a.latent, "decode", run, "--codes", os.path.join(a.work, "z.npy"), "--out", os.path.join(a.work, "x.npy")]
        if classes:
            np.save(os.path.join(a.work, "labels.npy"), labels)
            cmd += ["--labels", os.path.join(a.work, "labels.npy")]
        sh(cmd)
        want = np.load(os.path.join(a.work, "x.npy"))
        args = [torch.from_numpy(z)]
        if classes:
            args.append(torch.nn.functional.one_hot(torch.from_numpy(labels.astype(np.int64)), classes).float())
        with torch.no_grad():
            got = (model.generate if hasattr(model, "generate") else model.decode)(*args).numpy()
        scaling = spec["data"]["scaling"]
        if scaling["kind"] == "standardized":
            # latent wrote the data's units (value = x * std + mean): compared in the model's units,
            # since the features' units differ by orders of magnitude.
            mean, std = np.array(scaling["mean"], dtype=np.float64), np.array(scaling["std"], dtype=np.float64)
            checks.append(("decode", np.abs((want - mean) / std - got).max()))
        else:
            checks.append(("decode", np.abs(got - want).max()))

        # Encoder against `latent embed` on the sample's test digits.
        if hasattr(model, "encode") and scaling["kind"] == "pixels":
            sh([a.latent, "embed", run, "--out", os.path.join(a.work, "codes.npy")])
            want = np.load(os.path.join(a.work, "codes.npy"))
            args = [torch.from_numpy(test_x)]
            if classes:
                args.append(torch.nn.functional.one_hot(torch.from_numpy(test_y.astype(np.int64)), classes).float())
            with torch.no_grad():
                got = model.encode(*args)
            got = (got[0] if isinstance(got, tuple) else got).numpy()
            checks.append(("encode", np.abs(got - want).max()))

        keys = len(model.state_dict())
        for what, diff in checks:
            worst = max(worst, diff)
            verdict = "ok" if diff <= TOLERANCE else "FAIL"
            if diff > TOLERANCE:
                failures.append(f"{name} {what}")
            print(f"{name:<14} {spec['kind']:<12} {what:<7} max abs diff {diff:.2e}  {verdict}  ({keys} state_dict entries, strict load)")
    print(json.dumps({"torch": torch.__version__, "worst": float(worst), "failures": failures}))
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
