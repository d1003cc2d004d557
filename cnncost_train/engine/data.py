"""Data sets as plain numpy arrays, read from the files users have on disk and checked on the way.

CIFAR-10 (Krizhevsky 2009): the python layout of cifar-10-python.tar.gz, five pickled training
batches and one test batch, each a dict with b'data' (N, 3072) uint8 rows in channel-major order
and b'labels' (N ints in 0..9).  Read from `cifar-10-batches-py/` or straight out of the tarball.
Fashion-MNIST (Xiao et al. 2017): four idx files (magic 2051 for images, 2049 for labels, then
big-endian int32 sizes), plain or gzipped.

We check what a damaged or wrong file breaks (shapes, dtypes, label ranges, counts), not md5
sums: mirrors reorder the images.  Every failure is a `DataError` with one line that says where
we looked and how to get the data.  No torch here.
"""
from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnncost.errors import CostError

ENV = "CNNCOST_DATA"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FASHION_URL = "https://github.com/zalandoresearch/fashion-mnist (data/fashion)"
FASHION_SYSTEM = Path("/usr/share/datasets/fashion-mnist")
CIFAR10_COUNTS = (50000, 10000)
FASHION_COUNTS = (60000, 10000)
#: per-channel mean and std of the CIFAR-10 training set, in [0, 1] units (as published)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class DataError(CostError):
    """Missing or damaged data; the message says where we looked and how to get the data."""


@dataclass(frozen=True)
class Dataset:
    """Images as uint8 (N, H, W, C), labels as int64 (N,), for the training and the test split."""
    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: int
    source: str
    mean: tuple = CIFAR10_MEAN
    std: tuple = CIFAR10_STD

    def subset(self, n_train: int, n_test: int, seed: int = 0) -> "Dataset":
        """n images of each split drawn without replacement by a fixed seed (for --smoke; some
        copies of CIFAR-10 store the test set sorted by class, so the first n would be one class)."""
        rng = np.random.default_rng(seed)
        a = np.sort(rng.permutation(len(self.train_y))[:n_train])
        b = np.sort(rng.permutation(len(self.test_y))[:n_test])
        return Dataset(self.name, self.train_x[a], self.train_y[a], self.test_x[b], self.test_y[b], self.classes,
                       self.source + f" (subset {len(a)}/{len(b)})", self.mean, self.std)


def search_dirs(data_dir=None) -> list[Path]:
    """--data-dir if given, else $CNNCOST_DATA if set, else ./data."""
    if data_dir is not None:
        return [Path(data_dir)]
    if os.environ.get(ENV):
        return [Path(os.environ[ENV])]
    return [Path("data")]


# ---------------------------------------------------------------- CIFAR-10

def find_cifar10(data_dir=None) -> Path | None:
    for d in search_dirs(data_dir):
        for cand in (d / "cifar-10-batches-py", d, d / "cifar-10-python.tar.gz"):
            if cand.is_dir() and (cand / "test_batch").is_file():
                return cand
            if cand.is_file() and cand.name.endswith(".tar.gz"):
                return cand
    return None


def _where(data_dir) -> str:
    return ", ".join(str(d) for d in search_dirs(data_dir))


def _cifar_missing(data_dir) -> DataError:
    return DataError(f"CIFAR-10 not found: looked for cifar-10-batches-py/ or cifar-10-python.tar.gz in "
                     f"{_where(data_dir)}; download {CIFAR10_URL} and unpack it there, or point --data-dir "
                     f"or ${ENV} at its folder")


def _unpickle(raw: bytes, label: str, where: str) -> dict:
    try:
        d = pickle.loads(raw, encoding="bytes")
    except Exception as err:  # truncated or not a pickle
        raise DataError(f"CIFAR-10 file {label} in {where} is damaged ({type(err).__name__}: {err}); "
                        f"download {CIFAR10_URL} again") from None
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise DataError(f"CIFAR-10 file {label} in {where} is not a CIFAR-10 batch (no data/labels); "
                        f"download {CIFAR10_URL} again")
    return d


def _cifar_batch(d: dict, label: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = d[b"data"], d[b"labels"]
    bad = f"CIFAR-10 file {label} in {where}"
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072:
        shape = getattr(x, "shape", None)
        dtype = getattr(x, "dtype", type(x).__name__)
        raise DataError(f"{bad}: data should be uint8 rows of 3072, got {dtype} {shape}; "
                        f"download {CIFAR10_URL} again")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{bad}: {len(x)} images but labels of shape {y.shape} ({y.dtype}); "
                        f"download {CIFAR10_URL} again")
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{bad}: labels should lie in 0..9, found {y.min()}..{y.max()}; "
                        f"download {CIFAR10_URL} again")
    return x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), y.astype(np.int64)


def _cifar_files(path: Path):
    """Yield (name, bytes) for the six batches, from a folder or the tarball."""
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    if path.is_dir():
        for n in names:
            f = path / n
            if not f.is_file():
                raise DataError(f"CIFAR-10 in {path} is incomplete: {n} is missing; download {CIFAR10_URL}")
            yield n, f.read_bytes()
        return
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            for n in names:
                if n not in members:
                    raise DataError(f"CIFAR-10 archive {path} is incomplete: {n} is missing; "
                                    f"download {CIFAR10_URL} again")
                yield n, tar.extractfile(members[n]).read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DataError(f"CIFAR-10 archive {path} is damaged ({err}); download {CIFAR10_URL} again") from None


def load_cifar10(data_dir=None, counts: tuple | None = CIFAR10_COUNTS) -> Dataset:
    """CIFAR-10 as uint8 NHWC; `counts` = (train, test) image counts to insist on (None: any consistent size)."""
    path = find_cifar10(data_dir)
    if path is None:
        raise _cifar_missing(data_dir)
    parts = {n: _cifar_batch(_unpickle(raw, n, str(path)), n, str(path)) for n, raw in _cifar_files(path)}
    train_x = np.concatenate([parts[f"data_batch_{i}"][0] for i in range(1, 6)])
    train_y = np.concatenate([parts[f"data_batch_{i}"][1] for i in range(1, 6)])
    test_x, test_y = parts["test_batch"]
    if counts is not None and (len(train_x), len(test_x)) != tuple(counts):
        raise DataError(f"CIFAR-10 in {path} has {len(train_x)} training and {len(test_x)} test images, expected "
                        f"{counts[0]} and {counts[1]}; download {CIFAR10_URL} again")
    if len(train_x) == 0 or len(test_x) == 0:
        raise DataError(f"CIFAR-10 in {path} has an empty split; download {CIFAR10_URL} again")
    return Dataset("cifar10", np.ascontiguousarray(train_x), train_y, np.ascontiguousarray(test_x), test_y,
                   10, str(path))


# ---------------------------------------------------------------- Fashion-MNIST

FASHION_FILES = {"train_x": "train-images-idx3-ubyte", "train_y": "train-labels-idx1-ubyte",
                 "test_x": "t10k-images-idx3-ubyte", "test_y": "t10k-labels-idx1-ubyte"}


def explicit(data_dir=None) -> bool:
    """Whether the user named the data's place (--data-dir or $CNNCOST_DATA): then only it is read."""
    return data_dir is not None or bool(os.environ.get(ENV))


def _fashion_dirs(data_dir) -> list[Path]:
    """Where Fashion-MNIST is looked for: the named place only, else ./data and then the system copy
    (Debian's dataset-fashion-mnist package)."""
    dirs = []
    for d in search_dirs(data_dir):
        dirs += [d / "fashion-mnist", d]
    return dirs if explicit(data_dir) else dirs + [FASHION_SYSTEM]


def _fashion_missing(data_dir) -> DataError:
    where = ", ".join(str(d) for d in _fashion_dirs(data_dir))
    how = (f"download them there from {FASHION_URL}, or name no folder to use Debian's copy "
           f"(`apt-get install dataset-fashion-mnist`)" if explicit(data_dir) else
           f"`apt-get install dataset-fashion-mnist` or download them from {FASHION_URL}")
    return DataError(f"Fashion-MNIST not found: looked for {FASHION_FILES['train_x']}(.gz) and its three companions "
                     f"in {where} only; {how}")


def find_fashion_mnist(data_dir=None) -> tuple[Path, dict] | None:
    """(folder, {split key: file}) of the first place holding all four files; a place holding some
    but not all is an error that names the missing ones; None when no place holds any."""
    partial = None
    for d in _fashion_dirs(data_dir):
        found = {}
        for key, stem in FASHION_FILES.items():
            for cand in (d / stem, d / f"{stem}.gz"):
                if cand.is_file():
                    found[key] = cand
                    break
        if len(found) == 4:
            return d, found
        if found and partial is None:
            partial = (d, found)
    if partial is not None:
        d, found = partial
        missing = ", ".join(FASHION_FILES[k] for k in FASHION_FILES if k not in found)
        raise DataError(f"Fashion-MNIST in {d} is incomplete: {missing}(.gz) missing; download them from "
                        f"{FASHION_URL}")
    return None


def _read_idx(path: Path, magic: int) -> np.ndarray:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise DataError(f"Fashion-MNIST file {path} is damaged ({err}); download it again from {FASHION_URL}") from None
    dims = magic & 0xFF
    if len(raw) < 4 + 4 * dims or int.from_bytes(raw[:4], "big") != magic:
        raise DataError(f"Fashion-MNIST file {path} is not an idx file with magic {magic}; "
                        f"download it again from {FASHION_URL}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    body = np.frombuffer(raw, np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        raise DataError(f"Fashion-MNIST file {path} holds {body.size} bytes for shape {shape}, expected "
                        f"{int(np.prod(shape))} (truncated?); download it again from {FASHION_URL}")
    return body.reshape(shape)


def load_fashion_mnist(data_dir=None, counts: tuple | None = FASHION_COUNTS) -> Dataset:
    """Fashion-MNIST as uint8 (N, 28, 28, 1) with int64 labels in 0..9."""
    hit = find_fashion_mnist(data_dir)
    if hit is None:
        raise _fashion_missing(data_dir)
    d, found = hit
    arrays = {k: _read_idx(p, 2051 if k.endswith("x") else 2049) for k, p in found.items()}
    for split in ("train", "test"):
        x, y = arrays[f"{split}_x"], arrays[f"{split}_y"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.ndim != 1 or len(x) != len(y) or not len(x):
            raise DataError(f"Fashion-MNIST {split} split in {d} has images {x.shape} and labels {y.shape}; "
                            f"expected (N, 28, 28) and (N,)")
        if y.max() > 9:
            raise DataError(f"Fashion-MNIST {split} labels in {d} should lie in 0..9, found up to {y.max()}")
    n = (len(arrays["train_x"]), len(arrays["test_x"]))
    if counts is not None and n != tuple(counts):
        raise DataError(f"Fashion-MNIST in {d} has {n[0]} training and {n[1]} test images, expected "
                        f"{counts[0]} and {counts[1]}; download it again from {FASHION_URL}")
    train = arrays["train_x"].astype(np.float64) / 255  # normalisation from the training pixels themselves
    return Dataset("fashion-mnist", arrays["train_x"][..., None].copy(), arrays["train_y"].astype(np.int64),
                   arrays["test_x"][..., None].copy(), arrays["test_y"].astype(np.int64), 10, str(d),
                   (float(train.mean()),), (float(train.std()),))


def synthetic(n_train: int, n_test: int, shape=(32, 32, 3), classes: int = 10, seed: int = 0) -> Dataset:
    """Random images whose class sets a per-class mean colour, so a model can learn something
    (for --smoke on a fresh install without the data)."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(40, 216, size=(classes, shape[-1]))

    def split(n):
        y = rng.integers(0, classes, n)
        x = centres[y][:, None, None, :] + rng.normal(0, 40, (n, *shape))
        return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.int64)

    tx, ty = split(n_train)
    vx, vy = split(n_test)
    return Dataset("synthetic", tx, ty, vx, vy, classes, "synthetic (random, class-coloured)")
