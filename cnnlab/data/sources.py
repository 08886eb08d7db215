"""Where a dataset's files may be, tried in order, and the one in use always reported:
  1. Keras's own cache ($KERAS_HOME/datasets or ~/.keras/datasets),
  2. the folder named by $CNNLAB_DATA_DIR (same layout),
  3. cnnlab's data folder ($CNNLAB_HOME/data: what cnnlab downloaded or a teacher imported),
  4. Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist),
  5. the real MNIST sample bundled with cnnlab (10,000 digits).
Nothing here opens a file's contents or the network."""

import os
import pathlib

from cnnlab import storage
from cnnlab.classroom import permissions
from cnnlab.data import ownership
from cnnlab.data.catalogue import DATASETS, Source, get_info, held_out, own_names, own_root, own_versions
from cnnlab.data.cifar_pickle import CIFAR_TRAIN_BATCHES
from cnnlab.errors import DatasetUnavailable
from cnnlab.i18n import Message

PACKAGE_DATA = pathlib.Path(__file__).resolve().parent
BUNDLED_MNIST = PACKAGE_DATA / "mnist_sample.npz"
DEBIAN_FASHION_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)


SAMPLE_SIZES = (8_000, 2_000)  # the bundled MNIST sample's fixed split (scripts/make_mnist_sample.py)


# ---------------------------------------------------------------- where files may be

def keras_cache_dirs():
    """Keras's dataset caches: $KERAS_HOME/datasets, else ~/.keras/datasets, and /tmp/.keras/datasets."""
    if os.environ.get("KERAS_HOME"):
        return [pathlib.Path(os.environ["KERAS_HOME"]) / "datasets"]
    return [pathlib.Path.home() / ".keras" / "datasets", pathlib.Path("/tmp/.keras/datasets")]


def _data_dirs():
    folder = os.environ.get("CNNLAB_DATA_DIR")
    if not folder:
        return []
    folder = pathlib.Path(folder)
    return [folder, folder / "datasets"]


def data_area():
    """cnnlab's own data folder: downloads and imports land here (the layout of Keras's cache)."""
    return storage.data_area()


def _files_in(root, name):
    """The path of this dataset's files under one root folder, or None."""
    if name == "mnist":
        path = root / "mnist.npz"
        return path if path.is_file() else None
    if name == "fashion_mnist":
        for folder in (root / "fashion-mnist", root):
            if all((folder / f).is_file() for f in FASHION_FILES):
                return folder
        return None
    for folder in (root / "cifar-10-batches-py-target" / "cifar-10-batches-py", root / "cifar-10-batches-py"):
        if all((folder / f).is_file() for f in CIFAR_TRAIN_BATCHES + ("test_batch",)):
            return folder
    archive = root / "cifar-10-python.tar.gz"
    return archive if archive.is_file() else None


def local_sources(name):
    """Every local source of a dataset, in the order they are tried (no network, no decoding); an assignment's
    held-out copy is read from its base dataset's."""
    name = held_out(name) or get_info(name).name
    if name not in DATASETS:  # an imported dataset: its current version, then the earlier ones
        return [Source("own", str(folder)) for folder in own_versions(name)]
    found = []
    for kind, roots in (("keras-cache", keras_cache_dirs()), ("data-dir", _data_dirs()),
                        ("data-area", [data_area()])):
        for root in roots:
            path = _files_in(root, name)
            if path is not None:
                found.append(Source(kind, str(path)))
    if name == "fashion_mnist" and _files_in(DEBIAN_FASHION_DIR, name) is not None:
        found.append(Source("debian", str(DEBIAN_FASHION_DIR)))
    if name == "mnist" and BUNDLED_MNIST.is_file():
        found.append(Source("bundled-sample", str(BUNDLED_MNIST)))
    return found


def local_source(name):
    """The first local source of a dataset, or None."""
    found = local_sources(name)
    return found[0] if found else None


def how_to_get(name):
    """One sentence telling a user how to make a dataset available offline."""
    info = get_info(held_out(name) or name)
    if info.name not in DATASETS:
        return Message("dataset.own.how_to_get", title=info.title, name=info.name)
    key = {"mnist": "dataset.how_to_get", "fashion_mnist": "dataset.how_to_get_fashion",
           "cifar10": "dataset.how_to_get_cifar"}[info.name]
    return Message(key, title=info.title, name=info.name, size=info.download_size)


def describe_sources(who=permissions.OWNER):
    """For each dataset who may use: its info, the local source (or None) and what to do when there is none."""
    rows = []
    for name, info in DATASETS.items():
        source = local_source(name)
        sizes = None if source is None else SAMPLE_SIZES if source.kind == "bundled-sample" else info.full_sizes
        rows.append({"dataset": name, "title": info.title, "source": source, "sizes": sizes,
                     "available": source is not None, "how_to_get": None if source else str(how_to_get(name))})
    for name in own_names():
        if not ownership.may_use(who, name):
            continue  # another student's private pictures
        try:
            info = get_info(name)
        except DatasetUnavailable:
            continue
        rows.append({"dataset": name, "title": info.title, "source": Source("own", str(own_root() / name)),
                     "sizes": info.full_sizes, "available": True, "how_to_get": None, "own": True})
    return rows
