"""MNIST-format data as latent finds and reads it: the four IDX files (gzip-compressed or raw,
`train-images-idx3-ubyte` or `train-images.idx3-ubyte`), with numpy only (no torchvision).

Where the data is looked for (`locate`), as `latent train` does: --data-dir DIR, else --dataset NAME
(mnist and fashion-mnist from latent's user data directory, where `latent fetch NAME` puts them;
mnist-sample is the sample compiled into latent, crates/latent-data/sample), else the environment
variable LATENT_DATA_DIR, else the full MNIST in the user data directory, else the sample.
"""
import gzip
import os
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_DIR = os.path.join(ROOT, "crates", "latent-data", "sample")
SPLITS = ("train", "t10k")

# The directory the scripts read, set by common.parse_args (MNIST_DIR, the shared scripts'
# variable, is still honoured when nothing else is given).
DATA_DIR = os.environ.get("MNIST_DIR")


def data_home():
    """latent's user data directory: $XDG_DATA_HOME/latent (~/.local/share/latent) on Linux,
    ~/Library/Application Support/latent on macOS, %APPDATA%\\latent on Windows."""
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Application Support/latent")
    if os.name == "nt":
        return os.path.join(os.environ.get("APPDATA", os.path.expanduser("~")), "latent")
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(base, "latent")


def find_file(data_dir, split, part):
    """The path of `split`'s `part` ("images" or "labels") in data_dir, under either spelling,
    compressed or raw."""
    rank = 3 if part == "images" else 1
    for stem in (f"{split}-{part}-idx{rank}-ubyte", f"{split}-{part}.idx{rank}-ubyte"):
        for name in (stem + ".gz", stem):
            path = os.path.join(data_dir, name)
            if os.path.isfile(path):
                return path
    raise FileNotFoundError(f"{data_dir}: no {split}-{part}-idx{rank}-ubyte[.gz]")


def is_complete(data_dir):
    try:
        for split in SPLITS:
            find_file(data_dir, split, "images")
            find_file(data_dir, split, "labels")
        return True
    except FileNotFoundError:
        return False


def locate(data_dir=None, dataset=None):
    """The data directory, in latent's order (see the module docstring)."""
    if data_dir:
        return data_dir
    if dataset == "mnist-sample":
        return SAMPLE_DIR
    if dataset:
        path = os.path.join(data_home(), dataset)
        if not is_complete(path):
            raise SystemExit(f"--dataset {dataset}: {path} lacks the four IDX files (run `latent fetch {dataset}`)")
        return path
    env = os.environ.get("LATENT_DATA_DIR") or DATA_DIR
    if env:
        return env
    full = os.path.join(data_home(), "mnist")
    if is_complete(full):
        return full
    print(f"note: no full MNIST in {full} (`latent fetch mnist`); using the sample in {SAMPLE_DIR}", file=sys.stderr)
    return SAMPLE_DIR


def read_idx(path):
    """An unsigned-byte IDX array, checked against its header."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    ndim = magic & 0xFF
    assert (magic >> 8) == 0x08, f"{path}: expected ubyte IDX, magic={magic:#x}"
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    assert arr.size == int(np.prod(dims)), (path, dims, arr.size)
    return arr.reshape(dims)


def load(split, data_dir=None):
    """split: 'train' or 't10k'. Returns (images uint8 [N, ...], labels uint8 [N])."""
    data_dir = data_dir or DATA_DIR or locate()
    imgs = read_idx(find_file(data_dir, split, "images"))
    labels = read_idx(find_file(data_dir, split, "labels"))
    assert imgs.shape[0] == labels.shape[0]
    return imgs, labels


def load_float(split, data_dir=None):
    """Images as float32 [N, pixels] in [0, 1] (pixel / 255, as torchvision's ToTensor and latent)."""
    imgs, labels = load(split, data_dir)
    return imgs.reshape(imgs.shape[0], -1).astype(np.float32) / 255.0, labels
