"""Fashion-MNIST loading for the training tools: IDX readers, the fixed train/val/test split,
the normalisation constants every exported config.json carries, and the class names.

Validation is the LAST 5,000 images of the official training file (no shuffle, so the split is
the same on every machine); test is the official 10,000-image file and is never used for tuning.
"""
import gzip
import os
import struct

import numpy as np
import torch

DATA_DIR = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
VAL_SIZE = 5000
# Mean/std of the 60,000 training images scaled to [0,1] (computed once, rounded).
MEAN = 0.2860
STD = 0.3530
LABEL_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    """Returns the IDX file at PATH (optionally gzip-compressed) as a uint8 numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise ValueError(f"{path}: too short for an IDX header")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {data[:4].hex()})")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {body.size} bytes of data, header says {dims}")
    return body.reshape(dims)


def load_split(split):
    """Returns (images uint8 [N,28,28] tensor, labels int64 [N] tensor) for train/val/test."""
    if split == "test":
        x = read_idx(os.path.join(DATA_DIR, "t10k-images-idx3-ubyte.gz"))
        y = read_idx(os.path.join(DATA_DIR, "t10k-labels-idx1-ubyte.gz"))
    elif split in ("train", "val"):
        x = read_idx(os.path.join(DATA_DIR, "train-images-idx3-ubyte.gz"))
        y = read_idx(os.path.join(DATA_DIR, "train-labels-idx1-ubyte.gz"))
        cut = len(x) - VAL_SIZE
        x, y = (x[:cut], y[:cut]) if split == "train" else (x[cut:], y[cut:])
    else:
        raise ValueError(f"unknown split {split!r}")
    return torch.from_numpy(x.copy()), torch.from_numpy(y.astype(np.int64))


def normalise(images_u8):
    """uint8 [N,28,28] -> float [N,1,28,28], scaled to [0,1] then (x - MEAN) / STD."""
    return ((images_u8.float() / 255.0) - MEAN).div_(STD).unsqueeze(1)


def pretrained_cfg():
    """The config.json pretrained_cfg block: the runtime's preprocessing for these models."""
    return {"input_size": [1, 28, 28], "interpolation": "bilinear", "mean": [MEAN],
            "std": [STD], "crop_pct": 1.0, "crop_mode": "center"}
