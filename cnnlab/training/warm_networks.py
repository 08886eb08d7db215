"""Networks kept warm between trainings: a new training of the same shape reuses a built, compiled network
with fresh weights and optimizer state, as if it were built anew (seeded the same way)."""

import json
import random
import threading

import numpy as np

from cnnlab.data import catalogue
from cnnlab.networks import keras_build
from cnnlab.training import pipeline
from cnnlab.training.config import check_layers, make_optimizer
from cnnlab.training.devices import configure_devices


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
        """Keep model for config's kind of network; start: (settings, fresh_state) prepared for one training."""
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
    info = catalogue.get_info(config.dataset)
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
            _blank_fit(model, catalogue.get_info(config.dataset))
            warm.keep(config, model, start=(config, state) if state is not None else None)
        return True
    seed_everything(config.seed)  # before the steps run: the start state's seeding then clears nothing
    info = catalogue.get_info(config.dataset)
    model = keras_build.build(config.layers, info.image_shape, info.num_classes, name=config.architecture_name)
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
    model.fit(pipeline.batches(tf, x, y, 2), epochs=2, validation_data=pipeline.batches(tf, x, y, 2), shuffle=False,
              verbose=0)


def _fresh_start(config):
    """fresh_state of a network built afresh with config's seed."""
    info = catalogue.get_info(config.dataset)
    seed_everything(config.seed)
    fresh = keras_build.build(config.layers, info.image_shape, info.num_classes, name=config.architecture_name)
    return fresh_state(fresh, config)


def fresh_state(model, config):
    """The weights of config's network as a fresh build with its seed has them, and a fresh optimizer's state, as
    NumPy arrays in the order of model's variables (model: that fresh build, or a kept network's twin)."""
    import keras

    optimizer = make_optimizer(config.optimizer, config.learning_rate)
    if isinstance(getattr(model, "optimizer", None), keras.optimizers.LossScaleOptimizer) or (
            keras.mixed_precision.global_policy().name == "mixed_float16"):
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    optimizer.build(model.trainable_variables)
    return [v.numpy() for v in model.variables], [v.numpy() for v in optimizer.variables]


def restart(model, state):
    """Give a kept network a start state (fresh_state): its weights, seeds and a new optimizer state; False where
    the shapes differ."""
    weights, slots = state
    pairs = list(zip(model.variables, weights)) + list(zip(model.optimizer.variables, slots))
    if (len(model.variables) != len(weights) or len(model.optimizer.variables) != len(slots)
            or any(tuple(a.shape) != tuple(b.shape) for a, b in pairs)):
        return False
    for kept, new in pairs:
        kept.assign(new)
    return True
