"""Tiny data sets written in the standard formats, for the trainer's tests: CIFAR-10 as pickled dicts of
uint8 rows (the dataset page, https://www.cs.toronto.edu/~kriz/cifar.html), Fashion-MNIST as idx files
(magic 2051/2049, big-endian int32 sizes)."""
import gzip
import pickle
import struct
import tarfile

import numpy as np

PER_BATCH = 12


def cifar_arrays(per_batch=PER_BATCH, seed=0):
    """Six batches of random images (N, 32, 32, 3) and labels, as the reader should return them."""
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, per_batch))
            for _ in range(6)]


def write_cifar(root, per_batch=PER_BATCH, seed=0, labels=None, tar=False):
    """Write cifar-10-batches-py/ under root (or the .tar.gz) in the official pickle layout:
    b'data' rows are the R plane, then G, then B, each 32x32 row-major."""
    arrays = cifar_arrays(per_batch, seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for n, (x, y) in zip(names, arrays):
        rows = np.stack([x[..., c].reshape(len(x), 1024) for c in range(3)], axis=1).reshape(len(x), 3072)
        yl = labels if labels is not None else [int(v) for v in y]
        with open(folder / n, "wb") as f:
            pickle.dump({b"data": rows, b"labels": yl, b"batch_label": n.encode()}, f)
    if tar:
        with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as t:
            t.add(folder, arcname="cifar-10-batches-py")
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()
    return arrays


def write_idx(path, array, magic, gz=True):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", s) for s in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(raw)


def write_fashion(folder, n=(30, 10), seed=0, gz=True):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, count in zip(("train", "t10k"), n):
        x = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, count).astype(np.uint8)
        sfx = ".gz" if gz else ""
        write_idx(folder / f"{split}-images-idx3-ubyte{sfx}", x, 2051, gz)
        write_idx(folder / f"{split}-labels-idx1-ubyte{sfx}", y, 2049, gz)
        out[split] = (x, y)
    return out
