"""The datasets a student trains on (MNIST, Fashion-MNIST, CIFAR-10) and where they come from.

Sources are tried in order and the one in use is always reported:
  1. Keras's own cache ($KERAS_HOME/datasets or ~/.keras/datasets),
  2. the folder named by $CNNLAB_DATA_DIR (same layout),
  3. cnnlab's data folder ($CNNLAB_HOME/data: what cnnlab downloaded or a teacher imported),
  4. Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist),
  5. the real MNIST sample bundled with cnnlab (10,000 digits).
Loading never downloads: a download is its own, explicit action (cnnlab.data.downloads).

Besides those three, a class can bring its own pictures (cnnlab.data.own_images): each import is stored in the
data area under its name and its content's fingerprint (own/<name>/<fingerprint>/), and the name points at
the newest. Older imports under the same name stay until a teacher deletes the name, so a run always finds
the very pictures it was trained on, and runs on other pictures never share its key.

Every loaded Dataset has a fingerprint of its contents. A run is keyed by it and records it, so a
run's pages always show the very images it was tested on, whatever sources come and go later.
"""

import dataclasses
import functools
import gzip
import hashlib
import io
import json
import os
import re
import pathlib
import pickle
import pickletools
import socket
import tarfile

import numpy as np

from cnnlab import storage
from cnnlab.i18n import Message, t
from cnnlab.errors import DatasetUnavailable

PACKAGE_DATA = pathlib.Path(__file__).resolve().parent
BUNDLED_MNIST = PACKAGE_DATA / "mnist_sample.npz"
DEBIAN_FASHION_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
PROBE_TIMEOUT_S = 3.0
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


@dataclasses.dataclass(frozen=True)
class OwnDatasetInfo(DatasetInfo):
    """A dataset a class imported from its own pictures: its class names are the folder names, in any language."""

    classes: tuple = ()
    origin: str = ""  # the folder or zip it was imported from (its name only)
    imported: str = ""  # when (ISO 8601, UTC)
    fingerprint: str = ""  # the content's fingerprint: the version folder's name

    @property
    def description(self):
        return t("dataset.own.description", classes=len(self.classes), origin=self.origin,
                 date=self.imported[:10])

    @property
    def class_names(self):
        return tuple(self.classes)

    def to_dict(self):
        data = dataclasses.asdict(self)
        data["image_shape"], data["full_sizes"], data["classes"] = (list(data["image_shape"]),
                                                                     list(data["full_sizes"]), list(self.classes))
        return data

    @classmethod
    def from_dict(cls, data):
        fields = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in data.items() if k in fields}
        return cls(**{**data, "image_shape": tuple(data["image_shape"]), "full_sizes": tuple(data["full_sizes"]),
                      "classes": tuple(data["classes"])})


OWN_FOLDER = "own"  # under the data area: own/<name>/<fingerprint>/{images.npz, dataset.json}, own/<name>/current
OWN_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_shipped = {}  # name -> OwnDatasetInfo of own datasets that arrived with a training (a Ray worker elsewhere)


def own_root():
    return storage.data_area() / OWN_FOLDER


def is_own(name):
    """True for a name that is not one of the built-in datasets (nor their aliases)."""
    key = str(name).lower()
    return key not in DATASETS and key not in ALIASES


def own_names():
    """The names of the imported datasets on this server, sorted."""
    root = own_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if OWN_NAME.fullmatch(p.name) and (p / "current").is_file())


def names():
    """Every dataset a menu offers: the built-in ones, then the imported ones."""
    return list(DATASETS) + own_names()


def _read_own_info(folder):
    try:
        return OwnDatasetInfo.from_dict(json.loads((pathlib.Path(folder) / "dataset.json").read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def own_versions(name):
    """The version folders of an imported dataset: the current one first, then the others, newest first."""
    folder = own_root() / str(name).lower()
    if not folder.is_dir():
        return []
    try:
        current = (folder / "current").read_text("utf-8").strip()
    except OSError:
        current = None
    versions = [p for p in folder.iterdir() if p.is_dir() and (p / "images.npz").is_file()
                and (p / "dataset.json").is_file()]
    versions.sort(key=lambda p: (p.name != current, -p.stat().st_mtime_ns))
    return versions


def remember(info):
    """Keep an own dataset's info that came with a training (on a Ray worker whose disk does not hold it) or
    with a stored run (whose pictures may since have been deleted here)."""
    if isinstance(info, dict):
        info = OwnDatasetInfo.from_dict(info)
    if isinstance(info, OwnDatasetInfo):
        _shipped[info.name] = _shipped[(info.name, info.fingerprint)] = info


def forget(name):
    """Forget an imported dataset this process learnt from runs or trainings (it was deleted)."""
    for key in [k for k in _shipped if k == name or (isinstance(k, tuple) and k[0] == name)]:
        del _shipped[key]


def get_info(name, fingerprint=None):
    """The DatasetInfo for a name (aliases such as 'fashion-mnist' accepted); for an imported dataset, the
    version with that content fingerprint when it is here, else the current one."""
    key = ALIASES.get(str(name).lower(), str(name).lower())
    if key in DATASETS:
        return DATASETS[key]
    if fingerprint and (key, fingerprint) in _shipped:  # a version is its content: known once, the same for ever
        return _shipped[(key, fingerprint)]
    versions = own_versions(key) if OWN_NAME.fullmatch(key) else []
    if fingerprint:
        versions = [v for v in versions if v.name == fingerprint] + versions
    for folder in versions:
        info = _read_own_info(folder)
        if info is not None:
            return info
    if key in _shipped:
        return _shipped[key]
    raise DatasetUnavailable("error.dataset.unknown", name=name, choices=", ".join(names()))


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a dataset's files are: kind is keras-cache, data-dir, data-area, debian, bundled-sample."""

    kind: str
    path: str

    LABELS = {
        "keras-cache": "source.keras_cache",
        "data-dir": "source.data_dir",
        "data-area": "source.data_area",
        "debian": "source.debian",
        "download": "source.download",  # runs trained before downloads went to the data area say this
        "bundled-sample": "source.bundled_sample",
        "own": "source.own",
    }

    @property
    def label(self):
        return t(self.LABELS.get(self.kind, "source.unknown"))

    def describe(self):
        return f"{self.label} ({self.path})"


VARIANTS = {"sample": "variant.sample", "full": "variant.full", "other": "variant.other",
            "own": "variant.own"}  # catalogue keys


def variant_of(source_kind, info, sizes):
    """'sample' (the bundled sample), 'full' (the whole dataset) or 'other' (another copy, other sizes)."""
    if source_kind == "own":
        return "own"
    if source_kind == "bundled-sample":
        return "sample"
    return "full" if tuple(sizes) == tuple(info.full_sizes) else "other"


def variant_label(variant, train=None, test=None):
    """'sample', 'full' or 'other copy (6,000 + 4,000 images)', in the reader's language."""
    if variant == "other" and train is not None:
        return t("variant.other_sized", train=train, test=test)
    return t(VARIANTS.get(variant, "variant.other"))


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

    @property
    def variant(self):
        return variant_of(self.source.kind, self.info, (len(self.x_train), len(self.x_test)))

    @property
    def variant_label(self):
        return variant_label(self.variant, len(self.x_train), len(self.x_test))

    @property
    def _key(self):
        """The name, and for an imported dataset its class names too: the same pictures under other names differ."""
        if isinstance(self.info, OwnDatasetInfo):
            return "\n".join((self.info.name, *self.info.classes))
        return self.info.name

    @functools.cached_property
    def fingerprint(self):
        """16 hex digits of a hash of every image and label: a run trained on this data is keyed by it."""
        return _digest(self._key, self.x_train, self.y_train, self.x_test, self.y_test)

    @functools.cached_property
    def test_fingerprint(self):
        """16 hex digits of a hash of the test images and labels: what a run was evaluated on."""
        return _digest(self._key, self.x_test, self.y_test)

    def describe_data(self):
        """What a run records about its data: source, variant, fingerprints and sizes (and an imported
        dataset's title, classes and origin, so that its runs can still be read when the pictures are gone)."""
        described = {"source": self.source.kind, "path": self.source.path, "variant": self.variant,
                     "fingerprint": self.fingerprint, "test_fingerprint": self.test_fingerprint,
                     "dataset_train": len(self.x_train), "dataset_test": len(self.x_test)}
        if isinstance(self.info, OwnDatasetInfo):
            described["own"] = self.info.to_dict()
        return described


def _digest(name, *arrays):
    digest = hashlib.sha256(name.encode())
    for array in arrays:
        digest.update(repr((array.shape, str(array.dtype))).encode())
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()[:16]


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
    """Every local source of a dataset, in the order they are tried (no network, no decoding)."""
    name = get_info(name).name
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
    info = get_info(name)
    if info.name not in DATASETS:
        return Message("dataset.own.how_to_get", title=info.title, name=info.name)
    key = {"mnist": "dataset.how_to_get", "fashion_mnist": "dataset.how_to_get_fashion",
           "cifar10": "dataset.how_to_get_cifar"}[info.name]
    return Message(key, title=info.title, name=info.name, size=info.download_size)


def describe_sources():
    """For each dataset: its info, the local source (or None) and what to do when there is none."""
    rows = []
    for name, info in DATASETS.items():
        source = local_source(name)
        sizes = None if source is None else SAMPLE_SIZES if source.kind == "bundled-sample" else info.full_sizes
        rows.append({"dataset": name, "title": info.title, "source": source, "sizes": sizes,
                     "available": source is not None, "how_to_get": None if source else str(how_to_get(name))})
    for name in own_names():
        try:
            info = get_info(name)
        except DatasetUnavailable:
            continue
        rows.append({"dataset": name, "title": info.title, "source": Source("own", str(own_root() / name)),
                     "sizes": info.full_sizes, "available": True, "how_to_get": None, "own": True})
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


CIFAR_BATCH_IMAGES = 10_000  # pictures in one official batch: the most a batch may hold
CIFAR_CLASSES = 10
MAX_PICKLE_OPS = 16 * CIFAR_BATCH_IMAGES  # a label and a file name take at most 9 opcodes a picture (Python 3's
# protocol 2 writes a bytes file name as _codecs.encode(...)); each opcode builds at most one small object


def _count_opcodes(raw):
    """Refuse a pickle that would build more than a batch can hold, before anything is built: more than
    MAX_PICKLE_OPS opcodes (a list of 3,072 bytes repeated 100,000 times by memo reference is 200 KB of pickle and
    300 MB of array), or a memo index past them (the unpickler makes room for every index up to the one named)."""
    for count, (opcode, argument, _) in enumerate(pickletools.genops(raw), start=1):
        if count > MAX_PICKLE_OPS:
            raise pickle.UnpicklingError(f"more than {MAX_PICKLE_OPS:,} pickle opcodes, more than a CIFAR-10 batch "
                                         "needs")
        if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT") and argument >= MAX_PICKLE_OPS:
            raise pickle.UnpicklingError(f"a pickle memo index of {argument:,}, more than a CIFAR-10 batch needs")


def _ndarray(*arguments):
    """The pickle's numpy.ndarray: an argument of _reconstruct, never called (ndarray((40_000_000,), 'O') would
    make 40 million None at once)."""
    raise pickle.UnpicklingError("numpy.ndarray called, not as NumPy pickles an array")


class _Uint8:
    """The pickle's numpy.dtype('u1'): a batch's pixels are bytes. Its pickled state is ignored, never handed to
    NumPy (a uint8 dtype given the 'holds objects' flag, then an array of it, crashes the interpreter)."""

    def __setstate__(self, state):
        pass


class _PickledArray:
    """The pickle's ndarray, made by cnnlab from its checked state (shape, uint8, raw bytes) rather than by NumPy's
    own __setstate__, which trusts its input."""

    array = None

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) == 5):
            raise pickle.UnpicklingError("an array whose pickled state is not NumPy's")
        _, shape, dtype, fortran, raw = state
        if not isinstance(dtype, _Uint8) or not isinstance(raw, bytes) or not isinstance(shape, tuple) or \
                len(shape) > 2 or not all(type(side) is int and side >= 0 for side in shape) or \
                int(np.prod(shape, dtype=object)) != len(raw):
            raise pickle.UnpicklingError("an array that is not the bytes of its shape")
        self.array = np.frombuffer(raw, np.uint8).reshape(shape, order="F" if fortran else "C")


def _empty_array(subtype, shape, typecode):
    """numpy's _reconstruct as a batch uses it (ndarray, (0,), b'b'): an empty array its state then fills."""
    if subtype is not _ndarray or shape != (0,):
        raise pickle.UnpicklingError("an array reconstructed other than as NumPy pickles one")
    return _PickledArray()


def _dtype(name, align=False, copy=True):
    """The pickle's numpy.dtype: 'u1' (bytes) only."""
    if name not in ("u1", b"u1"):
        raise pickle.UnpicklingError(f"an array of {str(name)[:20]}, not of bytes")
    return _Uint8()


def _latin1(text, encoding):
    """_codecs.encode as Python 3 pickles bytes at protocol 2 (text, 'latin1'); no other codec (hex, base64 or
    a chain of them multiply the size, an unknown name raises LookupError)."""
    if type(text) is not str or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode with {str(encoding)[:20]}, not as bytes are pickled")
    return text.encode("latin-1")


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches only: plain containers, bytes and arrays of bytes, never arbitrary code. Each global
    a batch names is a stand-in that checks its arguments (_empty_array, _dtype, _latin1), and arrays are made by
    cnnlab from their checked state (_PickledArray)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _empty_array,
        ("numpy._core.multiarray", "_reconstruct"): _empty_array,
        ("numpy", "ndarray"): _ndarray, ("numpy", "dtype"): _dtype,
        ("_codecs", "encode"): _latin1,  # how Python 3 writes bytes at pickle protocol 2
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return self.ALLOWED[(module, name)]
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")


def _read_cifar_batch(raw):
    """(images (n, 32, 32, 3), labels (n,)) of one pickled batch; ValueError or UnpicklingError for anything that
    is not one, checked before a byte of it is copied."""
    _count_opcodes(raw)
    batch = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError("not a CIFAR-10 batch (no data and labels)")
    data, labels = batch[b"data"], batch[b"labels"]
    data = data.array if isinstance(data, _PickledArray) else data
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError("a CIFAR-10 batch holds rows of 3,072 bytes in an array, not "
                         f"{getattr(data, 'shape', type(data).__name__)}")
    if len(data) > CIFAR_BATCH_IMAGES:
        raise ValueError(f"a CIFAR-10 batch holds at most {CIFAR_BATCH_IMAGES:,} rows of 3,072 bytes, "
                         f"not {len(data):,}")
    if type(labels) is not list or len(labels) != len(data) or \
            not all(type(label) is int and 0 <= label < CIFAR_CLASSES for label in labels):
        raise ValueError(f"a CIFAR-10 batch holds rows of 3,072 bytes and one label (0 to {CIFAR_CLASSES - 1}) each")
    # rows are 3072 bytes: 1024 red, 1024 green, 1024 blue -> (n, 32, 32, 3)
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, np.array(labels, dtype=np.uint8)


BATCH_ERRORS = (pickle.UnpicklingError, ValueError, TypeError, EOFError, LookupError, AttributeError, MemoryError,
                OverflowError, IndexError)  # what a damaged or crafted batch raises while it is read


def cifar_arrays(raws, where, error=ValueError):
    """(x_train, y_train, x_test, y_test) from CIFAR-10's six pickled batches {name: bytes}; `error` (ValueError by
    default) names the batch that is not one."""
    batches = {}
    for name in CIFAR_TRAIN_BATCHES + ("test_batch",):
        try:
            batches[name] = _read_cifar_batch(raws[name])
        except BATCH_ERRORS as problem:
            if error is not ValueError:
                raise error("error.archive.bad_batch", name=where, member=name, error=str(problem)) from None
            if isinstance(problem, (ValueError, pickle.UnpicklingError, KeyError, EOFError)):
                raise  # what datasets.load says of an unreadable copy
            raise ValueError(f"'{name}' in {where} is not a CIFAR-10 batch ({problem})") from None
    train = [batches[n] for n in CIFAR_TRAIN_BATCHES]
    x_test, y_test = batches["test_batch"]
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), x_test, y_test)


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


# ---------------------------------------------------------------- loading

def _stamp(path):
    """(name, size, mtime) of the files under path: a file replaced in place is read again."""
    path = pathlib.Path(path)
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    try:
        return tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file())
    except OSError:
        return ()


@functools.lru_cache(maxsize=4)
def _load_cached(name, source, stamp):
    info = DATASETS.get(name) or _read_own_info(source.path)
    if info is None:
        raise DatasetUnavailable("error.dataset.unreadable", title=name, path=source.path,
                                 error="dataset.json")
    try:
        arrays = read_files(name, source.path)
    except (OSError, ValueError, KeyError, EOFError, pickle.UnpicklingError, tarfile.TarError) as error:
        raise DatasetUnavailable("error.dataset.unreadable", title=info.title, path=source.path,
                                 error=str(error)) from None
    x_train, y_train, x_test, y_test = (np.ascontiguousarray(a) for a in arrays)
    expected = info.image_shape if info.image_shape[-1] == 3 else info.image_shape[:2]
    if x_train.shape[1:] != expected or x_test.shape[1:] != expected or len(x_train) != len(y_train):
        raise DatasetUnavailable("error.dataset.shape", title=info.title, path=source.path,
                                 shape=str(x_train.shape[1:]), expected=str(expected))
    y_train, y_test = y_train.astype(np.uint8).reshape(-1), y_test.astype(np.uint8).reshape(-1)
    if len(y_test) != len(x_test) or y_train.max(initial=0) >= info.num_classes or \
            y_test.max(initial=0) >= info.num_classes:
        raise DatasetUnavailable("error.dataset.labels", title=info.title, path=source.path,
                                 classes=info.num_classes)
    for array in (x_train, y_train, x_test, y_test):
        array.flags.writeable = False  # shared by every caller in this process
    return Dataset(info, source, x_train, y_train, x_test, y_test)


@functools.lru_cache(maxsize=8)
def _probe(host, port, timeout):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def network_allows(host, port=443, timeout=PROBE_TIMEOUT_S):
    """True when a TCP connection to host:port opens within timeout seconds (asked once per process)."""
    if os.environ.get("CNNLAB_OFFLINE"):
        return False
    return _probe(host, port, timeout)


def resolve_source(name):
    """The source load() uses now: the first local copy. Never downloads (see cnnlab.data.downloads)."""
    info = get_info(name)
    source = local_source(info.name)
    if source is None:
        raise DatasetUnavailable("error.dataset.unavailable", how=how_to_get(info.name))
    return source


def load(name, source=None):
    """Load a dataset from its first local source (see the module docstring), or from the source given."""
    info = get_info(name)
    source = source or resolve_source(info.name)
    return _load_cached(info.name, source, _stamp(source.path))


def load_matching(name, test_fingerprint=None, y_test=None, prefer=None):
    """The local copy of a dataset whose test set is the one given (by fingerprint, or by its labels for runs
    recorded before fingerprints existed), trying `prefer` (a Source) first; None when no copy here matches."""
    candidates = local_sources(name)
    if prefer is not None and prefer in candidates:
        candidates.remove(prefer)
        candidates.insert(0, prefer)
    for source in candidates:
        try:
            data = load(name, source=source)
        except DatasetUnavailable:
            continue
        if test_fingerprint is not None:
            if data.test_fingerprint == test_fingerprint:
                return data
        elif y_test is not None and np.array_equal(data.y_test, y_test):
            return data
    return None
