"""One stored run (Run): its record, files and checksums, read back and checked."""

import dataclasses
import datetime
import hashlib
import json
import pathlib
import re

import numpy as np

from cnnlab import training
from cnnlab.data import catalogue, datasets, sources
from cnnlab.errors import CnnlabError, DatasetUnavailable
from cnnlab.i18n import Message
from cnnlab.networks import counting, keras_build

RECORD_FORMAT = 2  # 2: the record carries its data's fingerprints and a checksum of itself
READABLE_FORMATS = (1, 2)  # runs of format 1 stay readable: nothing already trained is lost
RUN_ID = re.compile(r"^[0-9a-f]{16}$")
FILES = ("predictions.npz", "model.weights.h5")
TIMELINE = "timeline.npz"  # how it learned (training.Timeline); runs trained before it have none


def _record_checksum(record):
    """SHA-256 of a record's canonical JSON, without the field that holds it."""
    body = {key: value for key, value in record.items() if key != "record_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class RunDamaged(CnnlabError):
    """A run's weights or predictions no longer match their checksum: it was set aside, and is retrained on demand."""


class RunReplaced(RunDamaged):
    """A run trained again under its id while an older copy of it was being read: nothing is damaged or set aside;
    reading it again gives the new one."""


class DataGone(CnnlabError):
    """The copy of the data a run was tested on is not on this server now; its message says which and how."""


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class CorruptRun(Exception):
    """A stored run whose files are missing, truncated or do not match their checksums (internal: the store
    sets the entry aside and tells the student with notice.run_damaged)."""


@dataclasses.dataclass(frozen=True)
class Run:
    """A stored run: read-only; its model is rebuilt from the config and its weights loaded.

    Its files' checksums are checked when they are first read (the weights when the model is built, the
    predictions when they are asked for), not every time the store is listed.
    """

    id: str
    path: pathlib.Path
    config: training.TrainConfig
    record: dict
    store: object = dataclasses.field(default=None, compare=False, repr=False)  # sets it aside when damaged
    _verified: set = dataclasses.field(default_factory=set, compare=False, repr=False)

    def _checked(self, name):
        """The path of one of the run's files, after its checksum was found right (once per run object)."""
        path = self.path / name
        if name not in self._verified:
            try:
                good = _sha256(path) == self.record["checksums"][name]
            except OSError:
                good = False
            if not good:
                if self._replaced():  # another version of the run is there now: nothing is damaged
                    raise RunReplaced("error.run.replaced", run_id=self.id)
                if self.store is not None:
                    self.store._set_aside(self.id, self.path, Message("corrupt.checksum", name=name))
                raise RunDamaged("error.run.damaged", run_id=self.id, name=name)
            self._verified.add(name)
        return path

    def _replaced(self):
        """True when the run's folder now holds another version of it (a stopped run trained again since this Run
        was read): its files are that version's, not damaged ones of this."""
        try:
            record = json.loads((self.path / "run.json").read_text())
            return record["id"] == self.id and record["checksums"] != self.record["checksums"]
        except (OSError, ValueError, KeyError, TypeError):
            return False

    @property
    def version(self):
        """Changes whenever the run is replaced under the same id (a stopped run trained again)."""
        return self.record["checksums"]["model.weights.h5"]

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
        return catalogue.get_info(self.config.dataset, fingerprint=self.record["data"].get("fingerprint"))

    @property
    def variant(self):
        """'sample', 'full' or 'other': which copy of the dataset it trained on."""
        return self.record["data"]["variant"]

    @property
    def variant_label(self):
        data = self.record["data"]
        return catalogue.variant_label(self.variant, data.get("dataset_train"), data.get("dataset_test"))

    @property
    def experiments(self):
        """Ids of the course experiments that asked for this run (see cnnlab.course.experiments)."""
        return list(self.record.get("experiments", []))

    def data(self):
        """The very dataset this run was tested on (found by its fingerprint among the local copies).

        Raises DataGone, which says which data that was and how to get it back, when no copy here matches.
        """
        data = self.record["data"]
        prefer = catalogue.Source(data["source"], data["path"])
        fingerprint = data.get("test_fingerprint")
        found = datasets.load_matching(self.config.dataset, test_fingerprint=fingerprint,
                                       y_test=None if fingerprint else self.predictions()[1], prefer=prefer)
        if found is None:
            try:
                now = datasets.load(self.config.dataset)
                current = Message("run.data_now", variant=now.variant_label, test=len(now.x_test),
                                  source=Message(catalogue.Source.LABELS[now.source.kind]))
            except DatasetUnavailable:
                current = Message("run.data_none")
            raise DataGone("error.run.data_gone", title=self.info.title, variant=self.variant_label,
                           test=data["test"], source=Message(catalogue.Source.LABELS.get(data["source"],
                                                                                         "source.unknown")),
                           now=current, how=sources.how_to_get(self.config.dataset))
        return found

    def predictions(self):
        """(probabilities (n_test, classes) float32, y_test (n_test,) uint8)."""
        with np.load(self._checked("predictions.npz"), allow_pickle=False) as f:
            return f["probabilities"], f["y_test"]

    def timeline(self):
        """How it learned ({name: array}, row 0 before training, then one row per epoch), or None for a run
        trained before timelines were recorded."""
        if TIMELINE not in self.record["checksums"]:
            return None
        with np.load(self._checked(TIMELINE), allow_pickle=False) as f:
            return {name: f[name] for name in f.files}

    def build_model(self):
        """The network rebuilt from the config, with the stored weights loaded (it trained here: whatever the limits
        on a network to train now, a stored run stays readable)."""
        info = self.info
        model = keras_build.build(self.config.layers, info.image_shape, info.num_classes,
                                  name=self.config.architecture_name, within_limits=False)
        model.load_weights(self._checked("model.weights.h5"))
        return model

    def summary_row(self):
        """One row of the runs table (the Compare page and `cnnlab runs`)."""
        config = self.config
        return {
            "run_id": self.id, "dataset": config.dataset, "data": self.variant,
            "architecture": config.architecture_name, "params": self.record["params"],
            "optimizer": config.optimizer, "learning_rate": config.learning_rate,
            "batch_size": config.batch_size, "epochs": self.record["epochs_completed"],
            "epochs_asked": config.epochs, "dropout": config.dropout,
            "test_accuracy": self.test_accuracy, "test_loss": self.test_loss,
            "train_seconds": round(self.train_seconds, 1), "status": self.record["status"],
            "created": self.record["created"], "experiments": self.experiments,
        }


def record_of(run_id, result, checksums):
    """The run.json of a TrainResult: what it was (settings, data, network), how it went, and its files' checksums."""
    config = result.config
    info = catalogue.get_info(config.dataset, fingerprint=result.data.get("fingerprint"))
    predicted = np.argmax(result.probabilities, axis=1)
    matrix = training.confusion_matrix(result.y_test, predicted, info.num_classes)
    return {
        "format": RECORD_FORMAT, "id": run_id,
        "status": "stopped" if result.stopped else "complete",
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": config.to_dict(), "canonical": config.canonical(result.data["variant"], result.data["fingerprint"]),
        "params": counting.count_params(config.layers, info.image_shape, info.num_classes),
        "epochs_completed": result.epochs_completed, "history": result.history,
        "metrics": {"test_loss": result.test_loss, "test_accuracy": result.test_accuracy,
                    "confusion_matrix": matrix.tolist(),
                    "per_class_accuracy": training.per_class_accuracy(matrix).tolist()},
        "train_seconds": result.train_seconds, "epoch_seconds": result.epoch_seconds, "device": result.device,
        "trained_on": result.trained_on,
        "data": {**result.data, **result.sizes},
        "notes": result.notes, "versions": result.versions,
        "checksums": checksums,
    }
