"""The run store: every finished training kept on disk, keyed by its settings, shared by everyone.

Layout under $CNNLAB_HOME (default ~/.cache/cnnlab):
    runs/<run_id>/run.json            config, history, metrics, checksums of the files below
    runs/<run_id>/predictions.npz     test-set probabilities (n_test, classes) and labels
    runs/<run_id>/model.weights.h5    weights only: the network is rebuilt from the config
    locks/<run_id>.lock               cross-process lock: identical requests train once
    tmp/                              runs being written (renamed into runs/ when complete)
    corrupt/                          damaged entries set aside, never loaded
"""

import dataclasses
import datetime
import hashlib
import json
import os
import pathlib
import re
import shutil
import uuid

import filelock
import numpy as np

from cnnlab import architectures, datasets, training
from cnnlab.errors import CnnlabError
from cnnlab.i18n import Message

RECORD_FORMAT = 1
RUN_ID = re.compile(r"^[0-9a-f]{16}$")
FILES = ("predictions.npz", "model.weights.h5")


def default_root():
    if os.environ.get("CNNLAB_HOME"):
        return pathlib.Path(os.environ["CNNLAB_HOME"])
    cache = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(cache) / "cnnlab"


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_tree(folder):
    for path in pathlib.Path(folder).iterdir():
        with open(path, "rb") as f:
            os.fsync(f.fileno())


class CorruptRun(Exception):
    """A stored run whose files are missing, truncated or do not match their checksums (internal: the store
    sets the entry aside and tells the student with notice.run_damaged)."""


@dataclasses.dataclass(frozen=True)
class Run:
    """A stored run: read-only; its model is rebuilt from the config and its weights loaded."""

    id: str
    path: pathlib.Path
    config: training.TrainConfig
    record: dict

    @property
    def complete(self):
        return self.record["status"] == "complete"

    @property
    def history(self):
        return self.record["history"]

    @property
    def metrics(self):
        return self.record["metrics"]

    @property
    def test_accuracy(self):
        return self.metrics["test_accuracy"]

    @property
    def test_loss(self):
        return self.metrics["test_loss"]

    @property
    def train_seconds(self):
        return self.record["train_seconds"]

    @property
    def info(self):
        return datasets.get_info(self.config.dataset)

    def predictions(self):
        """(probabilities (n_test, classes) float32, y_test (n_test,) uint8)."""
        with np.load(self.path / "predictions.npz", allow_pickle=False) as f:
            return f["probabilities"], f["y_test"]

    def build_model(self):
        """The network rebuilt from the config, with the stored weights loaded."""
        info = self.info
        model = architectures.build(self.config.layers, info.image_shape, info.num_classes,
                                    name=self.config.architecture_name)
        model.load_weights(self.path / "model.weights.h5")
        return model

    def summary_row(self):
        """One row of the runs table (the Compare page and `cnnlab runs`)."""
        config = self.config
        return {
            "run_id": self.id, "dataset": config.dataset, "data": self.record["data"]["variant"],
            "architecture": config.architecture_name, "params": self.record["params"],
            "optimizer": config.optimizer, "learning_rate": config.learning_rate,
            "batch_size": config.batch_size, "epochs": self.record["epochs_completed"],
            "epochs_asked": config.epochs, "dropout": config.dropout,
            "test_accuracy": self.test_accuracy, "test_loss": self.test_loss,
            "train_seconds": round(self.train_seconds, 1), "status": self.record["status"],
            "created": self.record["created"],
        }


class RunStore:
    """Runs on disk; safe for many threads and processes at once."""

    def __init__(self, root=None):
        self.root = pathlib.Path(root) if root else default_root()
        self.notices = []  # one-line warnings for the user (corrupt entries set aside, ...)
        for sub in ("runs", "locks", "tmp", "corrupt"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def __repr__(self):
        return f"RunStore({str(self.root)!r})"

    def run_path(self, run_id):
        """The folder of a run; ids from users never become paths outside the store."""
        if not isinstance(run_id, str) or not RUN_ID.match(run_id):
            raise CnnlabError("error.run.bad_id", run_id=str(run_id))
        return self.root / "runs" / run_id

    # ------------------------------------------------------------ reading

    def get(self, run_id):
        """The stored run, or None when there is none; a damaged entry is set aside with a notice."""
        path = self.run_path(run_id)
        if not path.exists():
            return None
        try:
            return self._read(run_id, path)
        except CorruptRun as error:
            self._set_aside(run_id, path, error.args[0])
            return None

    def _read(self, run_id, path):
        try:
            record = json.loads((path / "run.json").read_text())
            if record.get("format") != RECORD_FORMAT or record.get("id") != run_id:
                raise CorruptRun(Message("corrupt.format"))
            config = training.TrainConfig.from_dict(record["config"])
            if config.run_id(record["data"]["variant"]) != run_id:
                raise CorruptRun(Message("corrupt.settings"))
            for name in FILES:
                if _sha256(path / name) != record["checksums"][name]:
                    raise CorruptRun(Message("corrupt.checksum", name=name))
        except CorruptRun:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise CorruptRun(f"{type(error).__name__}: {error}") from None
        return Run(run_id, path, config, record)

    def _set_aside(self, run_id, path, reason):
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        target = self.root / "corrupt" / f"{run_id}-{stamp}-{uuid.uuid4().hex[:6]}"
        try:
            os.replace(path, target)
        except OSError:
            return  # another process set it aside first
        self.notices.append(Message("notice.run_damaged", run_id=run_id, reason=reason, target=str(target)))

    def list(self):
        """Every readable run, newest first."""
        runs = []
        for path in sorted((self.root / "runs").iterdir()):
            if RUN_ID.match(path.name):
                run = self.get(path.name)
                if run is not None:
                    runs.append(run)
        return sorted(runs, key=lambda run: run.record["created"], reverse=True)

    def find(self, config, allow_download=False):
        """The stored run for these settings on the data that would be used now, or None."""
        try:
            source = datasets.resolve_source(config.dataset, allow_download=allow_download)
        except datasets.DatasetUnavailable:
            return None
        return self.get(config.run_id(source.variant))

    # ------------------------------------------------------------ writing

    def lock(self, run_id):
        self.run_path(run_id)
        return filelock.FileLock(str(self.root / "locks" / f"{run_id}.lock"))

    def save(self, run_id, result):
        """Write a TrainResult atomically (temporary folder, then one rename) and return the Run."""
        final = self.run_path(run_id)
        tmp = self.root / "tmp" / f"{run_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            np.savez(tmp / "predictions.npz", probabilities=result.probabilities.astype(np.float32),
                     y_test=result.y_test.astype(np.uint8))
            result.model.save_weights(tmp / "model.weights.h5")
            record = self._record(run_id, result, {name: _sha256(tmp / name) for name in FILES})
            (tmp / "run.json").write_text(json.dumps(record, indent=1))
            _fsync_tree(tmp)
            if final.exists():  # a stopped run being replaced by a complete one
                old = self.root / "tmp" / f"{run_id}.replaced.{uuid.uuid4().hex[:8]}"
                os.replace(final, old)
                shutil.rmtree(old, ignore_errors=True)
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return self._read(run_id, final)

    @staticmethod
    def _record(run_id, result, checksums):
        config, info = result.config, datasets.get_info(result.config.dataset)
        predicted = np.argmax(result.probabilities, axis=1)
        matrix = training.confusion_matrix(result.y_test, predicted, info.num_classes)
        import keras
        import tensorflow as tf

        return {
            "format": RECORD_FORMAT, "id": run_id,
            "status": "stopped" if result.stopped else "complete",
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "config": config.to_dict(), "canonical": config.canonical(result.source.variant),
            "params": architectures.count_params(config.layers, info.image_shape, info.num_classes),
            "epochs_completed": result.epochs_completed, "history": result.history,
            "metrics": {"test_loss": result.test_loss, "test_accuracy": result.test_accuracy,
                        "confusion_matrix": matrix.tolist(),
                        "per_class_accuracy": training.per_class_accuracy(matrix).tolist()},
            "train_seconds": result.train_seconds, "device": result.device,
            "data": {"source": result.source.kind, "path": result.source.path,
                     "variant": result.source.variant, **result.sizes},
            "notes": result.notes, "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
            "checksums": checksums,
        }

    def clean_tmp(self):
        """Remove leftovers of writers that died (their process is gone)."""
        for path in (self.root / "tmp").iterdir():
            parts = path.name.split(".")
            pid = int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None
            if pid is None or not _alive(pid):
                shutil.rmtree(path, ignore_errors=True)

    # ------------------------------------------------------------ the one entry point for pages and CLI

    def get_or_train(self, config, on_epoch_end=None, on_batch_end=None, should_stop=None, on_wait=None,
                     allow_download=True):
        """(run, cached): the stored run for config, or a new one trained once however many ask at once."""
        training.check_layers(config)
        source = datasets.resolve_source(config.dataset, allow_download=allow_download)
        run_id = config.run_id(source.variant)
        run = self.get(run_id)
        if run is not None and run.complete:
            return run, True
        lock = self.lock(run_id)
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            if on_wait is not None:
                on_wait(run_id)  # someone is training the same settings: wait and reuse their run
            lock.acquire()
        try:
            run = self.get(run_id)
            if run is not None and run.complete:
                return run, True
            self.clean_tmp()
            dataset = datasets.load(config.dataset, source=source)
            result = training.train(config, on_epoch_end=on_epoch_end, on_batch_end=on_batch_end,
                                    should_stop=should_stop, dataset=dataset)
            return self.save(run_id, result), False
        finally:
            lock.release()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
