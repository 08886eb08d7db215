"""A dataset loaded for training (Dataset): its images, where they came from, and its fingerprints.

load() takes the first local source (cnnlab.data.sources) and reads it once per process (cnnlab.data.readers);
loading never downloads: a download is its own, explicit action (cnnlab.data.downloads).

Every loaded Dataset has a fingerprint of its contents. A run is keyed by it and records it, so a run's pages always
show the very images it was tested on, whatever sources come and go later.
"""

import dataclasses
import functools
import hashlib
import os
import pathlib
import pickle
import socket
import tarfile

import numpy as np

from cnnlab.data.catalogue import (
    DATASETS,
    DatasetInfo,
    OwnDatasetInfo,
    Source,
    get_info,
    held_out,
    read_own_info,
    variant_label,
    variant_of,
)
from cnnlab.data import holdout
from cnnlab.data.readers import read_files
from cnnlab.data.sources import how_to_get, local_source, local_sources
from cnnlab.errors import DatasetUnavailable
from cnnlab.i18n import t

PROBE_TIMEOUT_S = 3.0


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
    info = DATASETS.get(name) or read_own_info(source.path)
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
    """Load a dataset from its first local source (see the module docstring), or from the source given; an
    assignment's held-out copy is its base dataset less the private part of the test set (cnnlab.data.holdout)."""
    info = get_info(name)
    base = held_out(info.name)
    if base is not None:
        return _public_part(info.name, load(base, source))
    source = source or resolve_source(info.name)
    return _load_cached(info.name, source, _stamp(source.path))


@functools.lru_cache(maxsize=4)
def _public_part(name, whole):
    """The held-out copy `name` of a loaded base dataset: its test set less the private part."""
    keep = np.ones(len(whole.x_test), dtype=bool)
    keep[holdout.private_indices(len(whole.x_test), holdout.split(name))] = False
    x_test, y_test = whole.x_test[keep], whole.y_test[keep]
    for array in (x_test, y_test):
        array.flags.writeable = False
    return Dataset(get_info(name), whole.source, whole.x_train, whole.y_train, x_test, y_test)


def private_test(who, name, test_fingerprint):
    """(images, labels) of the private part of a held-out copy's test set, drawn from the local copy of its base
    whose public part is the one a run was tested on (test_fingerprint); for the class's teacher or the owner only
    (cnnlab.data.holdout.require_scorer); None when no local copy matches."""
    held = holdout.require_scorer(who, name)
    for source in local_sources(held_out(name)):
        try:
            public = load(name, source)
        except DatasetUnavailable:
            continue
        if public.test_fingerprint == test_fingerprint:
            whole = load(held_out(name), source)
            chosen = holdout.private_indices(len(whole.x_test), held)
            return whole.x_test[chosen], whole.y_test[chosen]
    return None


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
