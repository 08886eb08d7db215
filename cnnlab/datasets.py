"""The datasets a student trains on (MNIST, Fashion-MNIST, CIFAR-10) and where they come from.

Sources are tried in order and the one in use is always reported:
  1. Keras's own cache ($KERAS_HOME/datasets or ~/.keras/datasets),
  2. the folder named by $CNNLAB_DATA_DIR (same layout),
  3. Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist),
  4. a download through keras.datasets, when the network answers quickly,
  5. the real MNIST sample bundled with cnnlab (10,000 digits).
Everything is read with NumPy; TensorFlow is imported only for a download.
"""

import dataclasses
import functools
import gzip
import io
import os
import pathlib
import pickle
import socket
import tarfile

import numpy as np

from cnnlab.i18n import Message, t
from cnnlab.errors import DatasetUnavailable

PACKAGE_DATA = pathlib.Path(__file__).resolve().parent / "data"
BUNDLED_MNIST = PACKAGE_DATA / "mnist_sample.npz"
DEBIAN_FASHION_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
PROBE_TIMEOUT_S = 3.0
DOWNLOAD_SOCKET_TIMEOUT_S = 30.0
FASHION_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
SAMPLE_SIZES = (8_000, 2_000)  # the bundled MNIST sample's fixed split (scripts/make_mnist_sample.py)


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a student needs to know about a dataset before loading it."""

    name: str
    title: str
    description_key: str  # catalogue keys (cnnlab.i18n): the words follow the reader's language
    image_shape: tuple  # (height, width, channels) after preprocessing
    classes_key: str
    download_host: str
    download_size: str
    full_sizes: tuple  # (train, test) images of the whole dataset

    @property
    def description(self):
        return t(self.description_key)

    @property
    def class_names(self):
        """The class names in the current language (index = label)."""
        return tuple(t(self.classes_key))

    @property
    def num_classes(self):
        return len(self.class_names)


DATASETS = {
    "mnist": DatasetInfo(
        name="mnist",
        title="MNIST",
        description_key="dataset.mnist.description",
        image_shape=(28, 28, 1),
        classes_key="dataset.mnist.classes",
        download_host="storage.googleapis.com",
        download_size="11 MB",
        full_sizes=(60_000, 10_000),
    ),
    "fashion_mnist": DatasetInfo(
        name="fashion_mnist",
        title="Fashion-MNIST",
        description_key="dataset.fashion_mnist.description",
        image_shape=(28, 28, 1),
        classes_key="dataset.fashion_mnist.classes",
        download_host="storage.googleapis.com",
        download_size="30 MB",
        full_sizes=(60_000, 10_000),
    ),
    "cifar10": DatasetInfo(
        name="cifar10",
        title="CIFAR-10",
        description_key="dataset.cifar10.description",
        image_shape=(32, 32, 3),
        classes_key="dataset.cifar10.classes",
        download_host="www.cs.toronto.edu",
        download_size="170 MB",
        full_sizes=(50_000, 10_000),
    ),
}
ALIASES = {"fashion-mnist": "fashion_mnist", "fashion": "fashion_mnist", "cifar-10": "cifar10", "cifar": "cifar10"}


def get_info(name):
    """The DatasetInfo for a name (aliases such as 'fashion-mnist' accepted)."""
    key = ALIASES.get(str(name).lower(), str(name).lower())
    if key not in DATASETS:
        raise DatasetUnavailable("error.dataset.unknown", name=name, choices=", ".join(DATASETS))
    return DATASETS[key]


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a dataset's files are: kind is keras-cache, data-dir, debian, download, bundled-sample."""

    kind: str
    path: str

    LABELS = {
        "keras-cache": "source.keras_cache",
        "data-dir": "source.data_dir",
        "debian": "source.debian",
        "download": "source.download",
        "bundled-sample": "source.bundled_sample",
    }

    @property
    def label(self):
        return t(self.LABELS[self.kind])

    @property
    def variant(self):
        """'sample' for the bundled sample, 'full' for the whole dataset: runs on them differ."""
        return "sample" if self.kind == "bundled-sample" else "full"

    def describe(self):
        return f"{self.label} ({self.path})"


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """Raw images as uint8: (n, height, width) for grayscale, (n, height, width, 3) for colour."""

    info: DatasetInfo
    source: Source
    x_train: np.ndarray
    y_train: np.ndarray  # (n,) uint8 class indices
    x_test: np.ndarray
    y_test: np.ndarray

    def summary(self):
        return t("dataset.summary", title=self.info.title, train=len(self.x_train), test=len(self.x_test),
                 source=self.source.describe())


def preprocess_images(images):
    """uint8 (n, h, w[, c]) -> float32 (n, h, w, c) in [0, 1], as the course reports do."""
    images = np.asarray(images)
    if images.ndim == 3:  # grayscale: add the channel axis (n, 28, 28) -> (n, 28, 28, 1)
        images = images[..., np.newaxis]
    return images.astype(np.float32) / 255.0


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


def local_source(name):
    """The first local source of a dataset (no network, no decoding), or None."""
    name = get_info(name).name
    for kind, roots in (("keras-cache", keras_cache_dirs()), ("data-dir", _data_dirs())):
        for root in roots:
            path = _files_in(root, name)
            if path is not None:
                return Source(kind, str(path))
    if name == "fashion_mnist" and _files_in(DEBIAN_FASHION_DIR, name) is not None:
        return Source("debian", str(DEBIAN_FASHION_DIR))
    if name == "mnist" and BUNDLED_MNIST.is_file():
        return Source("bundled-sample", str(BUNDLED_MNIST))
    return None


def how_to_get(name):
    """One sentence telling a user how to make a dataset available offline."""
    info = get_info(name)
    key = {"mnist": "dataset.how_to_get", "fashion_mnist": "dataset.how_to_get_fashion",
           "cifar10": "dataset.how_to_get_cifar"}[info.name]
    return Message(key, title=info.title, name=info.name, size=info.download_size)


def describe_sources():
    """For each dataset: its info, the local source (or None) and what to do when there is none."""
    rows = []
    for name, info in DATASETS.items():
        source = local_source(name)
        sizes = None if source is None else SAMPLE_SIZES if source.variant == "sample" else info.full_sizes
        rows.append({"dataset": name, "title": info.title, "source": source, "sizes": sizes,
                     "available": source is not None, "how_to_get": None if source else str(how_to_get(name))})
    return rows


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


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches only: plain containers and NumPy arrays, never arbitrary code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),  # how Python 3 writes bytes at pickle protocol 2
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")


def _read_cifar_batch(raw):
    batch = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[b"labels"], dtype=np.uint8)
    # rows are 3072 bytes: 1024 red, 1024 green, 1024 blue -> (n, 32, 32, 3)
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels


def read_cifar(path):
    """Read CIFAR-10's python batches from their folder or straight from cifar-10-python.tar.gz."""
    path = pathlib.Path(path)
    names = CIFAR_TRAIN_BATCHES + ("test_batch",)
    if path.is_dir():
        raws = {n: (path / n).read_bytes() for n in names}
    else:
        with tarfile.open(path, "r:gz") as archive:
            raws = {n: archive.extractfile(f"cifar-10-batches-py/{n}").read() for n in names}
    train = [_read_cifar_batch(raws[n]) for n in CIFAR_TRAIN_BATCHES]
    x_test, y_test = _read_cifar_batch(raws["test_batch"])
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), x_test, y_test)


def _read(name, path):
    if name == "fashion_mnist":
        return read_fashion_folder(path)
    if name == "cifar10":
        return read_cifar(path)
    return read_mnist_npz(path)


# ---------------------------------------------------------------- loading

@functools.lru_cache(maxsize=4)
def _load_cached(name, source):
    info = DATASETS[name]
    try:
        arrays = _read(name, source.path)
    except (OSError, ValueError, KeyError, EOFError, pickle.UnpicklingError, tarfile.TarError) as error:
        raise DatasetUnavailable("error.dataset.unreadable", title=info.title, path=source.path,
                                 error=str(error)) from None
    x_train, y_train, x_test, y_test = (np.ascontiguousarray(a) for a in arrays)
    expected = info.image_shape if info.image_shape[-1] == 3 else info.image_shape[:2]
    if x_train.shape[1:] != expected or x_test.shape[1:] != expected or len(x_train) != len(y_train):
        raise DatasetUnavailable("error.dataset.shape", title=info.title, path=source.path,
                                 shape=str(x_train.shape[1:]), expected=str(expected))
    y_train, y_test = y_train.astype(np.uint8).reshape(-1), y_test.astype(np.uint8).reshape(-1)
    for array in (x_train, y_train, x_test, y_test):
        array.flags.writeable = False  # shared by every caller in this process
    return Dataset(info, source, x_train, y_train, x_test, y_test)


@functools.lru_cache(maxsize=8)
def _probe(host, timeout):
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def network_allows(host, timeout=PROBE_TIMEOUT_S):
    """True when a TCP connection to host:443 opens within timeout seconds (asked once per process)."""
    if os.environ.get("CNNLAB_OFFLINE"):
        return False
    return _probe(host, timeout)


def download(name):
    """Download through keras.datasets into Keras's cache; a clear error when there is no network."""
    info = get_info(name)
    if not network_allows(info.download_host):
        raise DatasetUnavailable("error.dataset.no_network", host=info.download_host, how=how_to_get(info.name))
    import keras  # heavy: only when downloading

    loaders = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist,
               "cifar10": keras.datasets.cifar10}
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_SOCKET_TIMEOUT_S)  # a stalled transfer ends instead of hanging
    try:
        loaders[info.name].load_data()
    except Exception as error:  # urllib, http and archive errors all end the same way for a user
        raise DatasetUnavailable("error.dataset.download_failed", title=info.title, error=str(error),
                                 how=how_to_get(info.name)) from None
    finally:
        socket.setdefaulttimeout(previous)
    source = local_source(info.name)
    if source is None or source.kind == "bundled-sample":
        raise DatasetUnavailable("error.dataset.download_missing", title=info.title,
                                 folder=str(keras_cache_dirs()[0]), how=how_to_get(info.name))
    return Source("download", source.path)


def resolve_source(name, allow_download=True):
    """The source load() would use: a local copy, else a download, else the bundled sample."""
    info = get_info(name)
    source = local_source(info.name)
    if source is not None and source.kind != "bundled-sample":
        return source
    if allow_download and network_allows(info.download_host):
        try:
            return download(info.name)
        except DatasetUnavailable:
            if source is None:
                raise
    if source is None:
        raise DatasetUnavailable("error.dataset.unavailable", how=how_to_get(info.name))
    return source


def load(name, allow_download=True, source=None):
    """Load a dataset from its first available source (see the module docstring)."""
    info = get_info(name)
    source = source or resolve_source(info.name, allow_download)
    return _load_cached(info.name, source)
