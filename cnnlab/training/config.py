"""A training's settings (TrainConfig), their limits, and the checks a network passes before it is built."""

import dataclasses
import functools
import hashlib
import json
import math

from cnnlab.data import catalogue
from cnnlab.errors import ConfigError, SpecError
from cnnlab.i18n import Message
from cnnlab.networks import architectures, limits

# Keras's default learning rate for each optimizer; "sgd+momentum" is SGD with momentum 0.9.
OPTIMIZERS = {
    "sgd": 0.01, "sgd+momentum": 0.01, "adam": 0.001, "adamw": 0.001,
    "rmsprop": 0.001, "adagrad": 0.001, "adadelta": 0.001, "nadam": 0.001,
}


LIMITS = {"epochs": (1, 1000), "batch_size": (1, 4096), "learning_rate": (1e-7, 10.0),
          "validation_split": (0.0, 0.5), "dropout": (0.0, 0.9), "train_size": (10, 10_000_000),
          "seed": (0, 2 ** 31 - 1)}


CONFIG_FORMAT = 1  # bump when a change to training makes old runs incomparable


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run. Its canonical JSON (with the data variant) is the run's key."""

    dataset: str = "mnist"
    architecture: str | tuple = architectures.DEFAULT_PRESET  # a preset name or a tuple of Layers
    epochs: int = 5
    batch_size: int = 64
    optimizer: str = "adam"
    learning_rate: float | None = None  # None: Keras's default for the optimizer
    dropout: float | None = None  # None: the preset's own rates
    validation_split: float = 0.1
    train_size: int | None = None  # None: the whole training set
    seed: int = 0
    augment: bool = False  # random shifts, rotations, scaling and stroke thickness while training

    def __post_init__(self):
        fix = functools.partial(object.__setattr__, self)
        fix("dataset", catalogue.get_info(self.dataset).name)
        architecture = self.architecture
        if isinstance(architecture, str) and not architecture.strip().startswith("["):
            architectures.get_preset(architecture.strip())
            fix("architecture", architecture.strip())
        else:
            fix("architecture", architectures.parse_spec(architecture))
        optimizer = str(self.optimizer).lower().replace(" ", "")
        if optimizer not in OPTIMIZERS:
            raise ConfigError("error.config.optimizer", name=str(self.optimizer), choices=", ".join(OPTIMIZERS))
        fix("optimizer", optimizer)
        if self.learning_rate is None:
            fix("learning_rate", OPTIMIZERS[optimizer])
        for name in ("epochs", "batch_size", "train_size", "seed"):
            value = getattr(self, name)
            if value is not None:
                fix(name, _whole(name, value))
        for name in ("learning_rate", "validation_split", "dropout"):
            value = getattr(self, name)
            if value is not None:
                fix(name, _number(name, value))
        if not isinstance(self.augment, bool):
            raise ConfigError("error.config.augment")
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                raise ConfigError("error.config.range", setting=_label(name), value=value, low=low, high=high)

    @property
    def layers(self):
        """The spec's layers with the dropout setting applied."""
        return architectures.with_dropout(self._base_layers, self.dropout)[0]

    @property
    def notes(self):
        """Things a student should know about these settings (e.g. a dropout that changes nothing)."""
        note = architectures.with_dropout(self._base_layers, self.dropout)[1]
        return [note] if note else []

    @property
    def _base_layers(self):
        if isinstance(self.architecture, str):
            return architectures.get_preset(self.architecture).layers
        return self.architecture

    @property
    def architecture_name(self):
        return self.architecture if isinstance(self.architecture, str) else "custom"

    def to_dict(self):
        data = dataclasses.asdict(self)
        if not isinstance(self.architecture, str):
            data["architecture"] = [layer.to_dict() for layer in self.architecture]
        return data

    @classmethod
    def from_dict(cls, data):
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ConfigError("error.config.unknown_settings", names=", ".join(sorted(unknown)), count=len(unknown))
        return cls(**data)

    def canonical(self, variant="full", fingerprint=None):
        """The key material: every setting, the resolved layers, and which data it trains on.

        fingerprint is the dataset's content hash (datasets.Dataset.fingerprint); runs recorded before
        fingerprints existed have none, and keep their ids.
        """
        settings = {k: v for k, v in self.to_dict().items() if k not in ("dataset", "architecture")}
        if not self.augment:
            del settings["augment"]  # runs from before augmentation existed keep their ids
        key = {"format": CONFIG_FORMAT, "dataset": self.dataset, "data_variant": variant,
               "architecture": self.architecture_name,
               "layers": [layer.to_dict() for layer in self.layers], **settings}
        if fingerprint is not None:
            key["data_fingerprint"] = fingerprint
        return key

    def run_id(self, variant="full", fingerprint=None):
        text = json.dumps(self.canonical(variant, fingerprint), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


SETTINGS = {"epochs": "setting.epochs", "batch_size": "setting.batch_size", "learning_rate": "setting.learning_rate",
            "validation_split": "setting.validation_split", "dropout": "setting.dropout",
            "train_size": "setting.train_size", "seed": "setting.seed"}


def _label(name):
    return Message(SETTINGS[name])


def _whole(name, value):
    try:
        number = float(value)
        if number == int(number):
            return int(number)
    except (TypeError, ValueError, OverflowError):
        pass
    raise ConfigError("error.config.whole", setting=_label(name), value=repr(value))


def _number(name, value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError("error.config.number", setting=_label(name), value=repr(value)) from None
    if not math.isfinite(number):
        raise ConfigError("error.config.finite", setting=_label(name), value=repr(value))
    return number


def make_optimizer(name, learning_rate):
    import keras

    opt = keras.optimizers
    makers = {
        "sgd": lambda: opt.SGD(learning_rate), "sgd+momentum": lambda: opt.SGD(learning_rate, momentum=0.9),
        "adam": lambda: opt.Adam(learning_rate), "adamw": lambda: opt.AdamW(learning_rate),
        "rmsprop": lambda: opt.RMSprop(learning_rate), "adagrad": lambda: opt.Adagrad(learning_rate),
        "adadelta": lambda: opt.Adadelta(learning_rate), "nadam": lambda: opt.Nadam(learning_rate),
    }
    return makers[name]()


def check_layers(config, info=None):
    """The network's limits.Size on its dataset (info: that dataset's DatasetInfo, when known), counted
    without building anything; SpecError when it cannot be built on those images, ConfigError when it is over the
    server's limits (limits.check_size) or when a batch of config.batch_size images would hold more layer
    outputs than one training may (limits.TRAINING_MEMORY; presets too: their batches grow like any other).
    Every path that builds config's network calls this first."""
    info = info or catalogue.get_info(config.dataset)
    try:
        found = limits.check_size(config.layers, info.image_shape, info.num_classes)
        largest = limits.images_per_batch(found.activations, limits.TRAINING_MEMORY,
                                          limits.TRAINING_COPIES)
        if config.batch_size > largest:
            held = config.batch_size * found.activations * limits.FLOAT_BYTES * limits.TRAINING_COPIES
            raise ConfigError("error.limit.batch", batch=config.batch_size, gb=held / 1024 ** 3,
                              activations=found.activations, limit_gb=limits.TRAINING_MEMORY / 1024 ** 3,
                              largest=largest)
        return found
    except (SpecError, ConfigError) as error:
        raise type(error)("error.spec.on_dataset", name=config.architecture_name, title=info.title,
                          error=error.message) from None
