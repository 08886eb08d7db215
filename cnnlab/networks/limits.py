"""The server's limits on a network, checked before anything is built: parameters, numbers its layers output
for one image, and how many images one batch may hold within a training's or a page's memory."""

import dataclasses
import functools
import math

from cnnlab.errors import ConfigError
from cnnlab.networks.architectures import PRESETS, parse_spec
from cnnlab.networks.counting import summarize

# ---------------------------------------------------------------- the server's limits on a network, before it is built

MAX_PARAMS = 5_000_000  # weights and biases of a network of one's own, output layer included (20 MB as float32)
MAX_ACTIVATIONS = 1_000_000  # numbers its layers output for one image, kept for the backward pass (4 MB as float32)
FLOAT_BYTES = 4


@dataclasses.dataclass(frozen=True)
class Size:
    """How much of the server a network takes, counted from its spec: nothing is built to know it."""

    params: int
    activations: int  # numbers all its layers output for one image (a batch holds batch_size times as many)

    @property
    def activation_mb(self):
        return self.activations * FLOAT_BYTES / 1024 ** 2


def size(layers, input_shape, num_classes):
    """The Size of a spec on images of input_shape; SpecError when it cannot build."""
    rows = summarize(layers, input_shape, num_classes)
    return Size(sum(row.params for row in rows), sum(math.prod(row.output_shape) for row in rows))


def check_size(layers, input_shape, num_classes):
    """The network's Size, or ConfigError saying which limit it is over (MAX_PARAMS, MAX_ACTIVATIONS), by how much and
    what to change; SpecError when it cannot build at all. Every path that builds a network calls this first.

    A course preset (whatever its dropout rates) is the course's own network: its size on the images the app
    accepts is bounded (28 to 64 pixels a side), so it is not held to the limits for networks of one's own.
    """
    layers = parse_spec(layers)
    found = size(layers, input_shape, num_classes)
    if _plain(layers) in _preset_layers():
        return found
    if found.params > MAX_PARAMS:
        raise ConfigError("error.limit.params", params=found.params, limit=MAX_PARAMS)
    if found.activations > MAX_ACTIVATIONS:
        raise ConfigError("error.limit.activations", activations=found.activations, mb=found.activation_mb,
                          limit=MAX_ACTIVATIONS, limit_mb=MAX_ACTIVATIONS * FLOAT_BYTES / 1024 ** 2)
    return found


def _plain(layers):
    """The layers without their dropout rates (a preset with the Dropout setting changed is still that preset)."""
    return tuple(dataclasses.replace(layer, rate=None) if layer.kind == "dropout" else layer for layer in layers)


@functools.cache
def _preset_layers():
    return {_plain(preset.layers) for preset in PRESETS.values()}


# ---------------------------------------------------------------- what one batch may hold

# Layer outputs grow with the batch: a network under MAX_ACTIVATIONS (4 MB an image) still holds 16 GB at a batch of
# 4,096, so batches are sized from these budgets (bytes of layer outputs at once), never from a fixed number of images.
TRAINING_MEMORY = 2 * 1024 ** 3  # one training: the class server (2 cores, 24 GB) trains one run at a time next to
#   the web server, so 2 GB of layer outputs leaves the rest to the server and its sessions; and every preset trains
#   at every batch size the Train page offers on MNIST, Fashion-MNIST and CIFAR-10 (the largest, `proposed` at a
#   batch of 1,024 on CIFAR-10, counts 1.6 GB). training.check_layers refuses a batch size over it.
INFERENCE_MEMORY = 256 * 1024 ** 2  # one look inside a network on a page (predictions, occlusion, the learned map,
#   filter patterns): many students' pages compute at once in the one server process
TRAINING_COPIES = 3  # a training step holds the outputs kept for the backward pass, their gradients and temporaries
#   (measured on CPU: 1.6 to 2.3 times one batch's outputs; also what a gradient taken through a network holds)
INFERENCE_COPIES = 2  # a forward pass holds a layer's output and its activation's output at once (measured: 2.0
#   times one batch's outputs for a network that is one wide conv)


def images_per_batch(activations, budget_bytes=None, copies=INFERENCE_COPIES):
    """How many images one batch may hold: activations numbers per image (as `size` counts them, or
    `model_activations`), FLOAT_BYTES each, copies times over, within budget_bytes (None: INFERENCE_MEMORY, a
    page's); at least 1."""
    budget_bytes = INFERENCE_MEMORY if budget_bytes is None else budget_bytes
    return max(1, int(budget_bytes // (max(int(activations), 1) * FLOAT_BYTES * copies)))


def model_activations(model):
    """Numbers a built Keras model's layers output for one image, Input left out: `size`'s count for its spec."""
    return sum(math.prod(layer.output.shape[1:]) for layer in model.layers
               if type(layer).__name__ != "InputLayer")
