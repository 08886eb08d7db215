"""The datasets cnnlab knows (MNIST, Fashion-MNIST, CIFAR-10) and the ones a class imported: their facts
(DatasetInfo), names, and the kinds of source and variant a copy can be.

A class's own pictures (cnnlab.data.own_images) are stored in the data area under their name and their content's
fingerprint (own/<name>/<fingerprint>/), and the name points at the newest. Older imports under the same name stay
until a teacher deletes the name, so a run always finds the very pictures it was trained on, and runs on other
pictures never share its key."""

import dataclasses
import json
import pathlib
import re

from cnnlab import storage
from cnnlab.data import holdout
from cnnlab.errors import DatasetUnavailable
from cnnlab.i18n import t


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
OWN_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")  # a name someone types
# a stored one: a student's private import carries its owner (cnnlab.data.ownership)
OWN_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}(\.p[0-9]{1,9})?")
PRIVATE_SUFFIX = re.compile(r"\.p([0-9]{1,9})$")  # whose a private key is, even with its owner.json gone


_shipped = {}  # name -> OwnDatasetInfo of own datasets that arrived with a training (a Ray worker elsewhere)
_held = {}  # held-out copy's name -> its DatasetInfo (an assignment's title, share and dataset never change)


def own_root():
    return storage.data_area() / OWN_FOLDER


def is_own(name):
    """True for a name that is not one of the built-in datasets (nor their aliases, nor an assignment's held-out copy
    of one)."""
    key = str(name).lower()
    return key not in DATASETS and key not in ALIASES and held_out(key) is None


def held_out(name):
    """The base dataset of an assignment's held-out copy ("mnist.a7" -> "mnist", cnnlab.data.holdout); else None."""
    parsed = holdout.parse(name)
    return parsed[0] if parsed is not None and parsed[0] in DATASETS else None


def base_name(name):
    """The built-in dataset a held-out copy is of, else the name itself (what a page that knows MNIST asks)."""
    return held_out(name) or str(name).lower()


def own_names():
    """The keys of the imported datasets on this server, sorted (whose each is: cnnlab.data.ownership)."""
    root = own_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if OWN_KEY.fullmatch(p.name) and (p / "current").is_file())


def names():
    """Every dataset on this server: the built-in ones, then the imported ones (a menu offers those who may use:
    cnnlab.data.ownership.names)."""
    return list(DATASETS) + own_names()


def public_names():
    """The datasets anyone may be told of: the built-in ones and the class's imports, never a student's private key."""
    return [name for name in names() if not PRIVATE_SUFFIX.search(name)]


def read_own_info(folder):
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
    with a stored run (whose pictures may since have been deleted here); a held-out copy's too (a Ray worker has no
    database to ask)."""
    if isinstance(info, DatasetInfo) and held_out(info.name):
        _held[info.name] = info
        return
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
    if held_out(key):
        return _held_info(holdout.canonical(key))  # "mnist.a07" is mnist.a7
    if fingerprint and (key, fingerprint) in _shipped:  # a version is its content: known once, the same for ever
        return _shipped[(key, fingerprint)]
    versions = own_versions(key) if OWN_KEY.fullmatch(key) else []
    if fingerprint:
        versions = [v for v in versions if v.name == fingerprint] + versions
    for folder in versions:
        info = read_own_info(folder)
        if info is not None:
            return info
    if key in _shipped:
        return _shipped[key]
    raise DatasetUnavailable("error.dataset.unknown", name=name, choices=", ".join(public_names()))


def _held_info(key):
    """A held-out copy's DatasetInfo: its base's, under its own name, titled by its assignment, and the test set of a
    whole copy less the private part (so a whole copy is still the "full" variant)."""
    if key not in _held:
        try:
            held = holdout.split(key)
        except DatasetUnavailable:  # no such assignment, or it holds nothing back
            raise DatasetUnavailable("error.dataset.unknown", name=key, choices=", ".join(public_names())) from None
        base = DATASETS[held_out(key)]
        test = base.full_sizes[1] - round(held.share * base.full_sizes[1])
        _held[key] = dataclasses.replace(base, name=key, title=f"{base.title} · {held.title}",
                                         full_sizes=(base.full_sizes[0], test))
    return _held[key]


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
