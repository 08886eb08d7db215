"""How long a training will take on this server, and the server's limit on it.

Speeds are measured, not guessed: after every training the store's speeds.json keeps this server's
images per second for that network (a moving average) and its overall training rate in model GFLOP/s,
which estimates a network it has not trained yet from its FLOPs. A request over the server's limit
(CNNLAB_MAX_MINUTES; by default 10 minutes on a CPU, 30 on a GPU) is refused with the estimate and
the nearest settings that fit. A network over the server's limits (cnnlab.networks.limits: parameters,
activations per image, a batch over the memory of one training) is refused before anything is built
(training.check_layers).
"""

import dataclasses
import hashlib
import json
import math
import os
import pathlib
import threading

import filelock

from cnnlab import storage, training
from cnnlab.errors import ConfigError
from cnnlab.i18n import Alternatives, Message
from cnnlab.networks import architectures, counting

DEFAULT_LIMIT_MINUTES = {"cpu": 10.0, "gpu": 30.0}
STARTING_GFLOPS = {"cpu": 100.0, "gpu": 5000.0}  # model GFLOP/s of training before anything was measured here
FIXED_SECONDS = 3.0  # building, tracing, evaluating and storing a run, whatever its size
SMOOTHING = 0.5  # weight of the newest measurement in the moving averages
TRAINING_FLOPS_PER_FORWARD = 3  # a training step is a forward and a backward pass (about twice the forward)
_lock = threading.Lock()


def network_key(config):
    """The same network on the same image shape, whatever the other settings."""
    info = _info(config)
    text = json.dumps([[layer.to_dict() for layer in config.layers], list(info.image_shape)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _info(config):
    from cnnlab.data import catalogue

    return catalogue.get_info(config.dataset)


def device_kind():
    return "gpu" if training.gpu_name() else "cpu"


def limit_minutes(configured=None):
    """The server's limit: the value given (e.g. from secrets.toml), else CNNLAB_MAX_MINUTES, else the default."""
    value = configured if configured not in (None, "") else os.environ.get("CNNLAB_MAX_MINUTES")
    if value in (None, ""):
        return DEFAULT_LIMIT_MINUTES[device_kind()]
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        raise ConfigError("error.limit.bad", value=str(value)) from None
    if not math.isfinite(minutes) or minutes <= 0:
        raise ConfigError("error.limit.bad", value=str(value))
    return minutes


class Speeds:
    """This server's measured training speeds, kept in the run store (speeds.json, written atomically)."""

    def __init__(self, root=None):
        self.path = pathlib.Path(root or storage.home()) / "speeds.json"

    def _file_lock(self):
        """The store's cross-process lock on speeds.json (locks/speeds.lock): the server and the command line both
        read, change and write it, and without it one's update overwrites the other's."""
        folder = self.path.parent / "locks"
        folder.mkdir(parents=True, exist_ok=True)
        return filelock.FileLock(str(folder / "speeds.lock"))

    def read(self):
        try:
            data = json.loads(self.path.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def record(self, config, images, seconds, device=None):
        """Fold one training (images seen while training, in seconds) into the averages."""
        if seconds <= 0 or images <= 0:
            return
        info = _info(config)
        rate = images / seconds
        gflops = rate * counting.flops_per_image(config.layers, info.image_shape, info.num_classes) \
            * TRAINING_FLOPS_PER_FORWARD / 1e9
        kind = device or device_kind()
        with _lock, self._file_lock():  # threads of this process, then every process on this store
            data = self.read()
            networks = data.setdefault(kind, {}).setdefault("networks", {})
            key = network_key(config)
            networks[key] = _average(networks.get(key), rate)
            data[kind]["gflops"] = _average(data[kind].get("gflops"), gflops)
            storage.write_text(self.path, json.dumps(data, indent=1))

    def record_run(self, run):
        """A finished run's steady speed: its epochs after the first (which also builds and traces the network).
        A run of one epoch says too little about the steady speed and is not counted."""
        steady = sorted(run.record.get("epoch_seconds", [])[1:])
        if not steady:
            return
        median = steady[len(steady) // 2]
        data = run.record["data"]
        self.record(run.config, data["train"] + data["validation"] / TRAINING_FLOPS_PER_FORWARD, median)

    def images_per_second(self, config, device=None):
        """(images/s while training, measured?) for config's network on this server."""
        kind = device or device_kind()
        data = self.read().get(kind, {})
        measured = data.get("networks", {}).get(network_key(config))
        if measured:
            return measured, True
        info = _info(config)
        flops = counting.flops_per_image(config.layers, info.image_shape, info.num_classes)
        gflops = data.get("gflops") or STARTING_GFLOPS[kind]
        return gflops * 1e9 / max(flops * TRAINING_FLOPS_PER_FORWARD, 1), bool(data.get("gflops"))


def _average(old, new):
    return new if not old else SMOOTHING * new + (1 - SMOOTHING) * old


@dataclasses.dataclass(frozen=True)
class Estimate:
    seconds: float
    images_per_second: float
    measured: bool  # from this server's own trainings (not from a first guess)

    @property
    def minutes(self):
        return self.seconds / 60


def estimate(config, available, speeds):
    """How long config takes on this server with `available` training images (before validation is split off)."""
    n_train, n_val = training.split_sizes(config, available)
    rate, measured = speeds.images_per_second(config)
    # training images go forward and back; validation and test images only forward (about a third as long)
    seconds = config.epochs * (n_train + n_val / TRAINING_FLOPS_PER_FORWARD) / rate + FIXED_SECONDS
    return Estimate(seconds, rate, measured)


def check(config, dataset, speeds, limit=None):
    """The Estimate of config on dataset; ConfigError when it is over the limit (with what would fit) or when a
    network is over the server's limits on its size or its batch (training.check_layers: nothing is built)."""
    training.check_layers(config, dataset.info)
    minutes = limit_minutes(limit)
    found = estimate(config, len(dataset.x_train), speeds)
    if found.minutes <= minutes:
        return found
    raise ConfigError("error.limit.too_long", minutes=found.minutes, limit=minutes,
                      fits=_what_fits(config, dataset, speeds, minutes))


def _what_fits(config, dataset, speeds, minutes):
    """The nearest settings under the limit: fewer epochs, fewer images, or the small default network."""
    options = []
    available = len(dataset.x_train)
    for epochs in range(config.epochs - 1, 0, -1):
        if estimate(dataclasses.replace(config, epochs=epochs), available, speeds).minutes <= minutes:
            options.append(Message("limit.fewer_epochs", epochs=epochs))
            break
    size = config.train_size or available
    while size > 100:
        size = int(size * 0.8)
        smaller = dataclasses.replace(config, train_size=size)
        if estimate(smaller, available, speeds).minutes <= minutes:
            options.append(Message("limit.fewer_images", images=size))
            break
    if config.architecture != architectures.DEFAULT_PRESET:
        small = dataclasses.replace(config, architecture=architectures.DEFAULT_PRESET)
        if estimate(small, available, speeds).minutes <= minutes:
            options.append(Message("limit.smaller_network", name=architectures.DEFAULT_PRESET))
    return Alternatives(options or [Message("limit.nothing_fits")])
