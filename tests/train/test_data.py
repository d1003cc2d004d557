"""CIFAR-10 and Fashion-MNIST readers on tiny data sets written in the standard formats
(`data_files.py`: pickled dicts of uint8 rows for CIFAR-10, per the dataset page
https://www.cs.toronto.edu/~kriz/cifar.html; idx with magic 2051/2049 and big-endian int32 sizes
for Fashion-MNIST), plus damaged variants."""
import gzip
import pickle

import numpy as np
import pytest

from cnncost_train.engine import data
from data_files import PER_BATCH, write_cifar, write_fashion, write_idx


def test_reads_folder_pixel_exact(tmp_path):
    arrays = write_cifar(tmp_path)
    ds = data.load_cifar10(tmp_path, counts=None)
    assert ds.train_x.shape == (5 * PER_BATCH, 32, 32, 3) and ds.train_x.dtype == np.uint8
    assert ds.test_x.shape == (PER_BATCH, 32, 32, 3) and ds.train_y.dtype == np.int64
    np.testing.assert_array_equal(ds.train_x, np.concatenate([a[0] for a in arrays[:5]]))
    np.testing.assert_array_equal(ds.train_y, np.concatenate([a[1] for a in arrays[:5]]))
    np.testing.assert_array_equal(ds.test_x, arrays[5][0])


def test_reads_tarball_and_batches_folder_itself(tmp_path):
    arrays = write_cifar(tmp_path / "a", tar=True)
    ds = data.load_cifar10(tmp_path / "a", counts=None)
    np.testing.assert_array_equal(ds.test_y, arrays[5][1])
    write_cifar(tmp_path / "b")
    ds = data.load_cifar10(tmp_path / "b" / "cifar-10-batches-py", counts=None)
    assert len(ds.train_y) == 5 * PER_BATCH


def test_env_variable_is_searched(tmp_path, monkeypatch):
    write_cifar(tmp_path)
    monkeypatch.setenv("CNNCOST_DATA", str(tmp_path))
    assert len(data.load_cifar10(counts=None).test_y) == PER_BATCH


def test_counts_are_checked(tmp_path):
    write_cifar(tmp_path)
    with pytest.raises(data.DataError, match="60 training and 12 test images, expected 50000 and 10000"):
        data.load_cifar10(tmp_path)


def test_missing_says_where_and_how(tmp_path):
    with pytest.raises(data.DataError) as err:
        data.load_cifar10(tmp_path / "nowhere")
    msg = str(err.value)
    assert "\n" not in msg and str(tmp_path / "nowhere") in msg and "cifar-10-python.tar.gz" in msg


def test_truncated_batch(tmp_path):
    write_cifar(tmp_path)
    f = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    f.write_bytes(f.read_bytes()[:500])
    with pytest.raises(data.DataError, match="data_batch_3 .* is damaged"):
        data.load_cifar10(tmp_path, counts=None)


def test_label_out_of_range(tmp_path):
    write_cifar(tmp_path, labels=[10] * PER_BATCH)
    with pytest.raises(data.DataError, match=r"labels should lie in 0\.\.9, found 10\.\.10"):
        data.load_cifar10(tmp_path, counts=None)


def test_wrong_row_length(tmp_path):
    write_cifar(tmp_path)
    f = tmp_path / "cifar-10-batches-py" / "test_batch"
    d = pickle.loads(f.read_bytes())
    d[b"data"] = d[b"data"][:, :3000]
    f.write_bytes(pickle.dumps(d))
    with pytest.raises(data.DataError, match="uint8 rows of 3072"):
        data.load_cifar10(tmp_path, counts=None)


def test_subset_draws_across_a_sorted_test_set(tmp_path):
    write_cifar(tmp_path, per_batch=100)
    ds = data.load_cifar10(tmp_path, counts=None)
    order = np.argsort(ds.test_y, kind="stable")          # a copy with the test set sorted by class
    sorted_ds = data.Dataset("c", ds.train_x, ds.train_y, ds.test_x[order], ds.test_y[order], 10, "s")
    sub = sorted_ds.subset(50, 40)
    assert len(sub.test_y) == 40 and len(set(sub.test_y.tolist())) > 3


# ---------------------------------------------------------------- Fashion-MNIST

@pytest.mark.parametrize("gz", [True, False])
def test_fashion_reads_idx(tmp_path, gz):
    arrays = write_fashion(tmp_path / "fashion-mnist", gz=gz)
    ds = data.load_fashion_mnist(tmp_path, counts=None)
    assert ds.train_x.shape == (30, 28, 28, 1) and ds.test_x.shape == (10, 28, 28, 1)
    np.testing.assert_array_equal(ds.train_x[..., 0], arrays["train"][0])
    np.testing.assert_array_equal(ds.test_y, arrays["t10k"][1])
    assert ds.mean[0] == pytest.approx(arrays["train"][0].mean() / 255)


def test_fashion_bad_magic_and_truncated(tmp_path):
    write_fashion(tmp_path / "fashion-mnist")
    f = tmp_path / "fashion-mnist" / "train-labels-idx1-ubyte.gz"
    write_idx(f, np.zeros(30), 2051)
    with pytest.raises(data.DataError, match="magic 2049"):
        data.load_fashion_mnist(tmp_path, counts=None)
    write_fashion(tmp_path / "fashion-mnist")
    f = tmp_path / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"
    raw = gzip.open(f).read()
    gzip.open(f, "wb").write(raw[:-100])
    with pytest.raises(data.DataError, match="truncated"):
        data.load_fashion_mnist(tmp_path, counts=None)


def test_fashion_counts_and_labels(tmp_path):
    write_fashion(tmp_path / "fashion-mnist")
    with pytest.raises(data.DataError, match="30 training and 10 test images, expected 60000 and 10000"):
        data.load_fashion_mnist(tmp_path)
    write_idx(tmp_path / "fashion-mnist" / "train-labels-idx1-ubyte.gz", np.full(30, 12), 2049)
    with pytest.raises(data.DataError, match="0..9, found up to 12"):
        data.load_fashion_mnist(tmp_path, counts=None)


@pytest.fixture
def system_copy(tmp_path, monkeypatch):
    """A complete Fashion-MNIST where Debian's dataset-fashion-mnist package puts it (faked, so the tests
    mean the same with and without the package)."""
    write_fashion(tmp_path / "system", n=(30, 10), seed=9)
    monkeypatch.setattr(data, "FASHION_SYSTEM", tmp_path / "system")
    monkeypatch.delenv(data.ENV, raising=False)
    return tmp_path / "system"


@pytest.mark.parametrize("layout", ["missing", "empty", "partial", "env-empty"])
def test_named_fashion_folder_is_the_only_place_read(tmp_path, monkeypatch, system_copy, layout):
    named = tmp_path / "named"
    if layout != "missing":
        named.mkdir()
    if layout == "partial":
        write_fashion(named)
        (named / "t10k-labels-idx1-ubyte.gz").unlink()
    if layout == "env-empty":
        monkeypatch.setenv(data.ENV, str(named))
    with pytest.raises(data.DataError) as err:
        data.load_fashion_mnist(None if layout == "env-empty" else named, counts=None)
    msg = str(err.value)
    assert str(named) in msg and str(system_copy) not in msg and "\n" not in msg
    assert ("incomplete: t10k-labels-idx1-ubyte(.gz) missing" in msg) == (layout == "partial")


def test_system_copy_is_read_when_no_folder_is_named(tmp_path, monkeypatch, system_copy):
    monkeypatch.chdir(tmp_path)                       # no ./data here
    ds = data.load_fashion_mnist(counts=None)
    assert ds.source == str(system_copy) and len(ds.train_y) == 30
