"""Training a network: the settings (TrainConfig), the device, and train() with progress callbacks.

TensorFlow is imported inside the functions that need it, so importing this module is cheap.
"""

import dataclasses
import functools
import hashlib
import json
import math
import os
import pathlib
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import numpy as np

from cnnlab.networks import architectures
from cnnlab.data import datasets
from cnnlab.errors import ConfigError, SpecError, TrainingDiverged, TrainingStoppedEarly
from cnnlab.i18n import Message, t

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
        fix("dataset", datasets.get_info(self.dataset).name)
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


# ---------------------------------------------------------------- the device

@functools.lru_cache(maxsize=1)
def gpu_name():
    """The NVIDIA GPU's name without importing TensorFlow (for the home page), or None; asked once per process."""
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out.splitlines()[0] if out else None


def device_summary():
    name = gpu_name()
    return f"GPU ({name})" if name else t("device.cpu", cores=os.cpu_count())


@functools.lru_cache(maxsize=1)
def configure_devices():
    """Memory growth on every GPU (so several models share one); returns what TensorFlow trains on."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised: growth can only be set before first use
            pass
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        name = f"GPU ({details.get('device_name', gpus[0].name)})"
        # float16 maths with float32 weights on tensor cores (compute capability 7.0+); the output layer
        # stays float32 (architectures.build), so probabilities and losses keep their precision
        if details.get("compute_capability", (0, 0)) >= (7, 0) and os.environ.get("CNNLAB_MIXED_PRECISION") != "0":
            import keras
            keras.mixed_precision.set_global_policy("mixed_float16")
            name += ", mixed precision"
        return name
    return f"CPU ({os.cpu_count()} cores)"


# ---------------------------------------------------------------- training

@dataclasses.dataclass
class TrainResult:
    """What a finished (or stopped) training produced; the run store saves it."""

    config: TrainConfig
    model: object  # keras.Model; None once the weights travelled as bytes (from a worker process or a Ray task)
    history: dict  # {"loss": [...], "accuracy": [...], "val_loss": [...], "val_accuracy": [...]}
    test_loss: float
    test_accuracy: float
    probabilities: np.ndarray  # (n_test, num_classes) float32
    y_test: np.ndarray  # (n_test,) uint8
    stopped: bool  # Stop ended it before its last epoch; it keeps its whole epochs only
    train_seconds: float
    epoch_seconds: list  # each epoch's wall time, its validation included (the first also builds and traces)
    device: str
    source: datasets.Source
    data: dict  # which copy of the data: Dataset.describe_data() (source, variant, fingerprints, sizes)
    sizes: dict  # {"train": n, "validation": n, "test": n}
    notes: list
    trained_on: dict = dataclasses.field(default_factory=dict)  # {"executor", "node", "pid", "network", ...}
    versions: dict = dataclasses.field(default_factory=dict)  # TensorFlow's and Keras's, where it trained
    weights: bytes | None = None  # the .weights.h5 file's bytes, when the model itself stayed in a worker
    timeline: dict | None = None  # how it learned, epoch by epoch (see Timeline): arrays by name

    @property
    def epochs_completed(self):
        """Whole epochs: an epoch that Stop cut short is not in the history (train() leaves it out)."""
        return len(self.history.get("loss", []))

    def save_weights(self, path):
        """Write the weights file (.weights.h5) to path, from the model or from the bytes it travelled as."""
        if self.model is not None:
            self.model.save_weights(path)
        else:
            pathlib.Path(path).write_bytes(self.weights)

    def detach_model(self, warm=None):
        """Keep the weights as bytes and drop the Keras model: what a worker sends back to the app.

        With warm (a WarmNetworks), the compiled network is kept there for the next training of its kind.
        """
        with tempfile.TemporaryDirectory() as folder:
            path = pathlib.Path(folder) / "model.weights.h5"
            self.model.save_weights(path)
            if warm is not None:
                warm.keep(self.config, self.model)
            self.weights, self.model = path.read_bytes(), None
        return self


class WarmNetworks:
    """Compiled networks a worker keeps between trainings, so that training one again skips tracing.

    Tracing a network's training and validation steps is most of a small training's first epoch (0.8 s of
    `fast`'s 1.5 s on 2 cores, against 0.65 s for a steady epoch). A network is kept under everything its
    traced steps depend on (its layers, input shape, classes, optimizer and precision) and handed out to one
    training at a time; train() then gives it the weights a fresh build with the run's seed would have, and
    its optimizer a fresh state, so a run trains exactly as on a new network.
    """

    def __init__(self, size=4):
        self.size = size
        self._networks = {}  # key -> compiled keras.Model, least recently kept first
        self._starts = {}  # key -> (the settings, their start state) of a network prepared for given settings
        self._lock = threading.Lock()

    @staticmethod
    def _start_key(config):
        return config.seed, config.learning_rate

    @staticmethod
    def key(config):
        import keras

        return network_signature(config) + (keras.mixed_precision.global_policy().name,)

    def take(self, config):
        """A compiled network for config's settings, no longer kept here, or None."""
        with self._lock:
            return self._networks.pop(self.key(config), None)

    def keep(self, config, model, start=None):
        """Keep model for config's kind of network; start: (settings, _start_state) prepared for one training."""
        key = self.key(config)
        with self._lock:
            self._networks[key] = model
            self._starts.pop(key, None)
            if start is not None:
                self._starts[key] = (self._start_key(start[0]), start[1])
            while len(self._networks) > self.size:
                oldest = next(iter(self._networks))
                del self._networks[oldest]
                self._starts.pop(oldest, None)

    def with_start(self, config, make):
        """Give the kept network for config a start state for config's seed and rate (make()); False when it has
        one already or no network is kept."""
        key = self.key(config)
        with self._lock:
            prepared = self._starts.get(key)
            if key not in self._networks or (prepared is not None and prepared[0] == self._start_key(config)):
                return False
        state = make()
        with self._lock:
            if key not in self._networks:
                return False
            self._starts[key] = (self._start_key(config), state)
        return True

    def start_state(self, config):
        """The start state prepared with the network, when it was prepared for config's seed and rate; else None."""
        with self._lock:
            prepared = self._starts.pop(self.key(config), None)
        return prepared[1] if prepared is not None and prepared[0] == self._start_key(config) else None

    def __len__(self):
        return len(self._networks)

    def __contains__(self, config):
        with self._lock:
            return self.key(config) in self._networks


WARM = WarmNetworks()  # a worker process's networks (the server's worker process, a Ray worker)


def seed_everything(seed):
    """What keras.utils.set_random_seed(seed) does (Python, NumPy, Keras and TensorFlow seeds), except that
    TensorFlow's kernel caches are kept when its global seed is seed already.

    tf.random.set_seed clears every kernel TensorFlow has made ready, and the first step of a network kept in a
    worker then waited for its kernels again: 107 ms against 11 ms for `fast` on 2 cores, about a fifth of a
    steady epoch of the first epoch's wait (#16). What a training draws starts over all the same: initializers,
    dropout and augmentation draw with Keras's seeded, stateless ops, and each shuffle makes its own generator
    from (global seed, its seed), an unseeded one drawing its seed from a generator reset here as set_seed
    does. Only TensorFlow's stateful random ops (tf.random.uniform and the like), which no training uses, go on
    where they were instead of starting over.
    """
    import keras
    from tensorflow.python.eager import context  # TensorFlow's global seed and its generator of op seeds

    if context.global_seed() != seed:
        keras.utils.set_random_seed(seed)
        return
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)
    context.context()._rng = random.Random(seed)  # as set_seed does, without clearing the kernel caches


def network_signature(config):
    """What a compiled network's traced steps depend on: its layers, input shape, classes and optimizer."""
    info = datasets.get_info(config.dataset)
    layers = json.dumps([layer.to_dict() for layer in config.layers], sort_keys=True)
    return layers, tuple(info.image_shape), info.num_classes, config.optimizer, config.architecture_name


def warm_up(config, warm):
    """Compile config's network and trace its training and validation steps on blank images; keep it in warm.

    What a worker does while a student is still choosing settings, so that the first epoch they wait for is as
    quick as the next ones. With it, the start state of config's seed and learning rate (a kept network only
    gets that, and its steps run once more where the new seed cleared TensorFlow's kernels). False when nothing
    was left to do.
    """
    check_layers(config)  # a network over the limits is never built, not even for a warm-up
    configure_devices()
    from tensorflow.python.eager import context

    if config in warm:
        reseeded = context.global_seed() != config.seed
        if not warm.with_start(config, lambda: _fresh_start(config)):
            return False
        model = warm.take(config) if reseeded else None
        if model is not None:
            state = warm.start_state(config)
            _blank_fit(model, datasets.get_info(config.dataset))
            warm.keep(config, model, start=(config, state) if state is not None else None)
        return True
    seed_everything(config.seed)  # before the steps run: the start state's seeding then clears nothing
    info = datasets.get_info(config.dataset)
    model = architectures.build(config.layers, info.image_shape, info.num_classes, name=config.architecture_name)
    model.compile(optimizer=make_optimizer(config.optimizer, config.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    _blank_fit(model, info)
    # and the start state a fresh build with the form's seed has (weights, optimizer), so that train() need not
    # build the network again (about 0.1 s of the first epoch's wait)
    warm.keep(config, model, start=(config, _fresh_start(config)))
    return True


def _blank_fit(model, info):
    """Two epochs on three blank images with validation: the steps are traced and their kernels made ready.

    In batches of two sizes (2, then 1), with the dtypes and image shapes of real data: Keras then traces its
    steps for any batch size at once, as it would only on a real training's second shape (its last, smaller one).
    """
    import tensorflow as tf

    x, y = np.zeros((3, *info.image_shape), np.uint8), np.zeros(3, np.uint8)
    model.fit(_pipeline(tf, x, y, 2), epochs=2, validation_data=_pipeline(tf, x, y, 2), shuffle=False, verbose=0)


def _fresh_start(config):
    """_start_state of a network built afresh with config's seed."""
    info = datasets.get_info(config.dataset)
    seed_everything(config.seed)
    fresh = architectures.build(config.layers, info.image_shape, info.num_classes, name=config.architecture_name)
    return _start_state(fresh, config)


def _start_state(model, config):
    """The weights of config's network as a fresh build with its seed has them, and a fresh optimizer's state, as
    NumPy arrays in the order of model's variables (model: that fresh build, or a kept network's twin)."""
    import keras

    optimizer = make_optimizer(config.optimizer, config.learning_rate)
    if isinstance(getattr(model, "optimizer", None), keras.optimizers.LossScaleOptimizer) or (
            keras.mixed_precision.global_policy().name == "mixed_float16"):
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    optimizer.build(model.trainable_variables)
    return [v.numpy() for v in model.variables], [v.numpy() for v in optimizer.variables]


def _restart(model, state):
    """Give a kept network a start state (_start_state): its weights, seeds and a new optimizer state; False where
    the shapes differ."""
    weights, slots = state
    pairs = list(zip(model.variables, weights)) + list(zip(model.optimizer.variables, slots))
    if (len(model.variables) != len(weights) or len(model.optimizer.variables) != len(slots)
            or any(tuple(a.shape) != tuple(b.shape) for a, b in pairs)):
        return False
    for kept, new in pairs:
        kept.assign(new)
    return True


def confusion_matrix(y_true, y_pred, num_classes):
    """(num_classes, num_classes) counts: row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return matrix


def per_class_accuracy(matrix):
    totals = matrix.sum(axis=1)
    return np.divide(np.diag(matrix), totals, out=np.zeros(len(matrix)), where=totals > 0)


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


def split_sizes(config, available):
    """(train, validation) image counts of config on a training set of `available` images."""
    n = min(config.train_size or available, available)
    n_val = int(round(n * config.validation_split))
    return n - n_val, n_val


def steps_per_epoch(config, available):
    """Batches in one epoch of config on a training set of `available` images."""
    return max(1, math.ceil(split_sizes(config, available)[0] / config.batch_size))


def split_data(config, dataset):
    """(x_train, y_train, x_val, y_val) as uint8 with a channel axis; validation is the last fraction."""
    x, y = dataset.x_train, dataset.y_train
    if x.ndim == 3:
        x = x[..., np.newaxis]  # (n, 28, 28) -> (n, 28, 28, 1)
    if config.train_size is not None:
        if config.train_size > len(x):
            raise ConfigError("error.config.train_size", size=config.train_size, available=len(x),
                              source=Message(datasets.Source.LABELS[dataset.source.kind]))
        x, y = x[:config.train_size], y[:config.train_size]
    n_train, n_val = split_sizes(config, len(x))
    if config.validation_split > 0 and n_val == 0:
        raise ConfigError("error.config.no_validation")
    if config.batch_size > n_train:
        raise ConfigError("error.config.batch_too_large", batch=config.batch_size, n=n_train)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def _pipeline(tf, x, y, batch_size, shuffle_seed=None, augment=False):
    """uint8 arrays -> batches of float32 in [0, 1]; shuffled each epoch and repeated when training."""
    # scaled once here: a per-batch map() competes with training for 2 CPU cores
    ds = tf.data.Dataset.from_tensor_slices((datasets.preprocess_images(x), y))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if shuffle_seed is not None:
        ds = ds.repeat()  # one iterator for all epochs; steps_per_epoch ends each epoch
    if augment:  # one call at a time: the random moves come from one generator, so their order decides them
        ds = ds.map(_augmenter(tf, shuffle_seed or 0))
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(2).with_options(options)


def _augmenter(tf, seed):
    """A batch -> the same batch moved, turned, scaled and with strokes made thicker or thinner at random.

    This is what makes a network read real drawings: people do not centre, size or stroke like MNIST.
    """
    from keras import layers

    moves = [layers.RandomTranslation(0.12, 0.12, fill_mode="constant", seed=seed),
             layers.RandomRotation(12 / 360, fill_mode="constant", seed=seed + 1),
             layers.RandomZoom((-0.2, 0.15), fill_mode="constant", seed=seed + 2)]
    generator = tf.random.Generator.from_seed(seed + 3)

    def augment(images, labels):
        for layer in moves:
            images = layer(images, training=True)
        # stroke thickness: a 3×3 max filter thickens the ink, a 2×2 min filter thins it
        thicker = tf.nn.max_pool2d(images, 3, 1, "SAME")
        thinner = -tf.nn.max_pool2d(-images, 2, 1, "SAME")
        choice = generator.uniform([tf.shape(images)[0], 1, 1, 1])
        images = tf.where(choice < 0.25, thicker, tf.where(choice > 0.85, thinner, images))
        return tf.clip_by_value(images, 0.0, 1.0), labels

    return augment


class Timeline:
    """How a network learns, recorded before the first epoch (its random start) and after each completed one.

    Small by design (a few KB an epoch of net_1): the first conv layer's filters (float16), its feature maps of
    one fixed test image (at most MAPS of them, each scaled to 0–255), and for every layer with weights a
    histogram of its kernel (BINS bins), their spread (standard deviation) and how much they moved in the epoch
    (the change's norm over the weights' norm before it). A stopped training keeps the epochs it completed.
    """

    BINS, MAPS = 24, 16

    def __init__(self, keras, model, image):
        self.model, self.image = model, np.asarray(image, np.float32)[np.newaxis] / 255.0
        self.layers = [layer for layer in model.layers if layer.weights and layer.get_weights()[0].ndim > 1]
        convs = [layer for layer in self.layers if isinstance(layer, keras.layers.Conv2D)]
        self.first = convs[0] if convs else None
        self.probe = keras.Model(model.input, self.first.output) if self.first is not None else None
        self.entries, self.last = [], None

    def record(self):
        kernels = [np.asarray(layer.get_weights()[0], np.float32) for layer in self.layers]
        entry = {"spread": [float(k.std()) for k in kernels],
                 "update": [0.0 if self.last is None else
                            float(np.linalg.norm(k - old) / max(np.linalg.norm(old), 1e-12))
                            for k, old in zip(kernels, self.last or kernels)],
                 "histograms": [self._histogram(k) for k in kernels]}
        if self.first is not None:
            entry["filters"] = kernels[self.layers.index(self.first)].astype(np.float16)
            maps = np.nan_to_num(np.asarray(self.probe(self.image, training=False), np.float32)[0][..., :self.MAPS])
            low, high = maps.min(axis=(0, 1)), maps.max(axis=(0, 1))
            entry["maps"] = ((maps - low) / np.maximum(high - low, 1e-12) * 255).round().astype(np.uint8)
        self.entries.append(entry)
        self.last = kernels

    def _histogram(self, kernel):
        """(counts, edges) of a kernel's weights; a diverged training's NaN weights are left out, not a crash."""
        finite = kernel[np.isfinite(kernel)]
        if not finite.size:
            return np.zeros(self.BINS, np.int64), np.linspace(0.0, 1.0, self.BINS + 1)
        return np.histogram(finite, bins=self.BINS)

    def arrays(self):
        """{name: array} with one row per recorded epoch (row 0: before training), for np.savez."""
        out = {"layers": np.array([layer.name for layer in self.layers]),
               "spread": np.array([e["spread"] for e in self.entries], np.float32),
               "update": np.array([e["update"] for e in self.entries], np.float32),
               "counts": np.array([[h[0] for h in e["histograms"]] for e in self.entries], np.int32),
               "edges": np.array([[h[1] for h in e["histograms"]] for e in self.entries], np.float32)}
        if self.first is not None:
            out["filters"] = np.stack([e["filters"] for e in self.entries])
            out["maps"] = np.stack([e["maps"] for e in self.entries])
            out["image"] = (self.image[0] * 255).round().astype(np.uint8)
        return out

    def callback(self, keras):
        timeline = self

        class Record(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                timeline.record()

            def on_epoch_end(self, epoch, logs=None):
                timeline.record()

        return Record()


BATCH_REPORT_SECONDS = 0.1  # a progress bar needs no more; each report reads the loss off the device


def _progress_callback(keras, on_epoch_end, on_batch_end, should_stop, state, every=BATCH_REPORT_SECONDS):
    """A Keras callback that reports progress, stops when asked and watches for a NaN loss.

    Only whole epochs count: the epoch that a Stop cuts short is neither reported nor timed, and the weights of
    the last whole epoch are kept in state["whole_weights"] for train() to go back to.

    Batch-end work runs on Keras's callback threads (async_safe), so reading a batch's loss never makes
    the training thread wait; batch progress is passed on at most every `every` seconds, in order, and
    each epoch's last batch is always passed on before its epoch end (Keras waits for the batch callbacks
    there), so the last progress a student sees is complete when train() returns.
    """
    lock = threading.Lock()
    last = {"batch": -1, "at": -math.inf, "latest": None}  # the last batch reported; the latest one seen

    def report(batch, logs):
        last["batch"], last["at"] = batch, time.perf_counter()
        on_batch_end(batch, logs)

    class Progress(keras.callbacks.Callback):
        async_safe = True

        def on_train_batch_end(self, batch, logs=None):
            if should_stop is not None and should_stop():
                state["stopped"] = True
                self.model.stop_training = True
            with lock:
                state["batches"] = max(state["batches"], batch + 1)  # batches of this epoch that ran
            if on_batch_end is None:
                return
            logs = {k: float(v) for k, v in (logs or {}).items()}
            with lock:
                if last["latest"] is None or batch > last["latest"][0]:
                    last["latest"] = (batch, logs)
                if batch <= last["batch"] or time.perf_counter() - last["at"] < every:
                    return  # an older batch finishing late, or too soon after the last report
                report(batch, logs)

        def on_epoch_begin(self, epoch, logs=None):
            state["epoch_started"] = time.perf_counter()
            with lock:
                last["batch"], last["latest"] = -1, None
                state["batches"] = 0

        def on_epoch_end(self, epoch, logs=None):
            if on_batch_end is not None:
                with lock:  # every batch callback of this epoch has run (Keras flushed them)
                    if last["latest"] is not None and last["latest"][0] > last["batch"]:
                        report(*last["latest"])
            steps = self.params.get("steps")
            if state["stopped"] and steps is not None and state["batches"] < steps:
                # Keras ends an epoch that Stop cut short as if it were whole: it is not one, so it is not
                # reported, timed or kept (train() drops it from the history and the timeline)
                state["cut_short"] = True
                return
            state["epoch_seconds"].append(time.perf_counter() - state["epoch_started"])  # with its validation
            logs = {k: float(v) for k, v in (logs or {}).items()}
            if not math.isfinite(logs.get("loss", 0.0)):
                state["diverged_epoch"] = epoch + 1
                self.model.stop_training = True
                return
            if should_stop is not None:  # what a stop in the next epoch goes back to
                state["whole_weights"] = self.model.get_weights()
            if on_epoch_end is not None:
                on_epoch_end(epoch, logs)

    return Progress()


def train(config, on_epoch_end=None, on_batch_end=None, should_stop=None, dataset=None, warm=None):
    """Train config's network; callbacks get (epoch, logs) / (batch, logs); should_stop() ends at the next batch.

    A stopped training keeps the epochs it completed (the weights, history and timeline of the last whole one);
    stopped inside its first epoch, it has none, and raises TrainingStoppedEarly.

    warm: a WarmNetworks to take an already compiled network from (give it back with detach_model(warm)).
    A network over the server's limits raises ConfigError before any data is read or anything is built.
    """
    check_layers(config, dataset.info if dataset is not None else None)
    dataset = dataset or datasets.load(config.dataset)
    info = dataset.info
    x_train, y_train, x_val, y_val = split_data(config, dataset)
    device = configure_devices()
    import keras
    import tensorflow as tf

    seed_everything(config.seed)
    kept = warm.take(config) if warm is not None else None
    # a network prepared for these very settings came with its start state: no build to wait for
    state = warm.start_state(config) if kept is not None else None
    if state is not None and _restart(kept, state):
        model, reused = kept, True
    else:
        model = architectures.build(config.layers, info.image_shape, info.num_classes, name=config.architecture_name)
        reused = kept is not None and _restart(kept, _start_state(model, config))
        if reused:
            model = kept
        else:
            model.compile(optimizer=make_optimizer(config.optimizer, config.learning_rate),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    steps = steps_per_epoch(config, len(dataset.x_train))
    state = {"stopped": False, "diverged_epoch": None, "epoch_seconds": [], "epoch_started": 0.0, "batches": 0,
             "cut_short": False, "whole_weights": None}
    callback = _progress_callback(keras, on_epoch_end, on_batch_end, should_stop, state, BATCH_REPORT_SECONDS)
    # validation only goes forward: batches of at least 256 images, but no more than one training's memory holds
    activations = architectures.model_activations(model)
    validation_batch = min(max(config.batch_size, 256), architectures.images_per_batch(
        activations, architectures.TRAINING_MEMORY, architectures.INFERENCE_COPIES))
    validation = _pipeline(tf, x_val, y_val, validation_batch) if len(x_val) else None
    x_test = dataset.x_test[..., np.newaxis] if dataset.x_test.ndim == 3 else dataset.x_test
    timeline = Timeline(keras, model, x_test[0])  # the first test image: the same one every epoch
    started = time.perf_counter()
    history = model.fit(_pipeline(tf, x_train, y_train, config.batch_size, shuffle_seed=config.seed,
                                  augment=config.augment),
                        epochs=config.epochs, steps_per_epoch=steps, validation_data=validation,
                        callbacks=[callback, timeline.callback(keras)], shuffle=False, verbose=0)
    train_seconds = time.perf_counter() - started
    if state["diverged_epoch"] is not None:
        raise TrainingDiverged("error.training.diverged", epoch=state["diverged_epoch"],
                               rate=config.learning_rate)
    whole = len(state["epoch_seconds"])  # epochs that ran to their end
    if state["cut_short"]:  # a stopped run keeps its whole epochs only: their weights, history and timeline
        if whole == 0:
            if warm is not None:
                warm.keep(config, model)  # its compiled steps serve the next training all the same
            raise TrainingStoppedEarly("error.training.stopped_in_first_epoch")
        model.set_weights(state["whole_weights"])
        timeline.entries = timeline.entries[:whole + 1]  # row 0 is the random start
    probabilities = predict(model, x_test, budget_bytes=architectures.TRAINING_MEMORY)  # the training's own budget
    test_loss, test_accuracy = evaluate(probabilities, dataset.y_test)
    return TrainResult(
        config=config, model=model,
        history={k: [float(v) for v in values[:whole]] for k, values in history.history.items()},
        test_loss=test_loss, test_accuracy=test_accuracy, probabilities=probabilities,
        y_test=np.asarray(dataset.y_test), stopped=state["stopped"] and whole < config.epochs,
        train_seconds=train_seconds,
        epoch_seconds=[round(s, 4) for s in state["epoch_seconds"]],
        device=device, source=dataset.source, data=dataset.describe_data(),
        sizes={"train": len(x_train), "validation": len(x_val), "test": len(x_test)}, notes=config.notes,
        trained_on=dict(here(), network="kept" if reused else "new"),
        versions={"tensorflow": tf.__version__, "keras": keras.__version__}, timeline=timeline.arrays())


def here():
    """Where this process trains: {"executor": "local", "node": host name, "pid": process id}."""
    return {"executor": "local", "node": socket.gethostname(), "pid": os.getpid()}


def predict(model, images, batch_size=1024, budget_bytes=None):
    """Class probabilities (n, num_classes) for uint8 or float images, without Keras's predict loop, in batches of
    at most batch_size images and of no more than budget_bytes of layer outputs (architectures.images_per_batch;
    None: a page's INFERENCE_MEMORY): a wide network's batch of 1,024 would hold gigabytes."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        images = datasets.preprocess_images(images)
    batch_size = min(batch_size, architectures.images_per_batch(architectures.model_activations(model), budget_bytes))
    outputs = [np.asarray(model(images[i:i + batch_size], training=False))
               for i in range(0, len(images), batch_size)]
    return np.concatenate(outputs).astype(np.float32) if outputs else np.zeros((0, model.output_shape[-1]))


def evaluate(probabilities, labels):
    """(loss, accuracy) as Keras computes them: cross-entropy with probabilities clipped at 1e-7."""
    labels = np.asarray(labels, dtype=int)
    picked = np.clip(probabilities[np.arange(len(labels)), labels].astype(np.float64), 1e-7, 1.0)
    loss = float(-np.mean(np.log(picked)))
    accuracy = float(np.mean(np.argmax(probabilities, axis=1) == labels))
    return loss, accuracy


def check_layers(config, info=None):
    """The network's architectures.Size on its dataset (info: that dataset's DatasetInfo, when known), counted
    without building anything; SpecError when it cannot be built on those images, ConfigError when it is over the
    server's limits (architectures.check_size) or when a batch of config.batch_size images would hold more layer
    outputs than one training may (architectures.TRAINING_MEMORY; presets too: their batches grow like any other).
    Every path that builds config's network calls this first."""
    info = info or datasets.get_info(config.dataset)
    try:
        found = architectures.check_size(config.layers, info.image_shape, info.num_classes)
        largest = architectures.images_per_batch(found.activations, architectures.TRAINING_MEMORY,
                                                 architectures.TRAINING_COPIES)
        if config.batch_size > largest:
            held = config.batch_size * found.activations * architectures.FLOAT_BYTES * architectures.TRAINING_COPIES
            raise ConfigError("error.limit.batch", batch=config.batch_size, gb=held / 1024 ** 3,
                              activations=found.activations, limit_gb=architectures.TRAINING_MEMORY / 1024 ** 3,
                              largest=largest)
        return found
    except (SpecError, ConfigError) as error:
        raise type(error)("error.spec.on_dataset", name=config.architecture_name, title=info.title,
                          error=error.message) from None


def preflight(config, dataset=None):
    """Every check that can fail before training starts: the network's shapes, the data, the split."""
    check_layers(config)
    split_data(config, dataset or datasets.load(config.dataset))
