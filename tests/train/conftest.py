"""Fixtures shared by the trainer's tests; the data-set writers themselves are in `data_files.py`."""
import pytest

from data_files import write_cifar


@pytest.fixture
def tiny_cifar(tmp_path):
    """A tiny CIFAR-10 folder (26 images per batch, 130 train / 26 test) in the standard layout: the data dir."""
    root = tmp_path / "data"
    write_cifar(root, per_batch=26)
    return root
