"""Readers, one per real file format: MNIST's npz, Fashion-MNIST's IDX files, CIFAR-10's batches (a folder, or
the checked archive), and an imported dataset's images.npz."""

import gzip
import pathlib

import numpy as np

from cnnlab.data.catalogue import DATASETS
from cnnlab.data.cifar_pickle import CIFAR_TRAIN_BATCHES, cifar_arrays
from cnnlab.data.sources import FASHION_FILES

# ---------------------------------------------------------------- readers, one per real format

def _read_idx(raw):
    """Decode an IDX file (the MNIST format): magic 0x00000800 | ndim, big-endian sizes, uint8 data."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError("not an IDX file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"IDX file declares shape {shape} but holds {data.size} values")
    return data.reshape(shape)


def read_fashion_folder(folder):
    folder = pathlib.Path(folder)
    arrays = []
    for fname in FASHION_FILES:
        with gzip.open(folder / fname, "rb") as f:
            arrays.append(_read_idx(f.read()))
    y_train, x_train, y_test, x_test = arrays
    return x_train, y_train, x_test, y_test


def read_mnist_npz(path):
    with np.load(path, allow_pickle=False) as f:
        return f["x_train"], f["y_train"], f["x_test"], f["y_test"]


def read_cifar(path):
    """Read CIFAR-10's python batches from their folder or straight from cifar-10-python.tar.gz (checked)."""
    path = pathlib.Path(path)
    if path.is_dir():
        return cifar_arrays({n: (path / n).read_bytes() for n in CIFAR_TRAIN_BATCHES + ("test_batch",)}, str(path))
    from cnnlab.data import archives  # the archive's members are checked before any is read

    return archives.read_arrays(path)


def read_own(folder):
    """(x_train, y_train, x_test, y_test) of an imported dataset's version folder."""
    return read_mnist_npz(pathlib.Path(folder) / "images.npz")


def read_files(name, path):
    """(x_train, y_train, x_test, y_test) from a dataset's files in their own format."""
    if name not in DATASETS:
        return read_own(path)
    if name == "fashion_mnist":
        return read_fashion_folder(path)
    if name == "cifar10":
        return read_cifar(path)
    return read_mnist_npz(path)
