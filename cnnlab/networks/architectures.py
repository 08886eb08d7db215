"""Networks as data: a list of layer specs, the course presets, and building them in Keras.

A spec is what the student edits: conv, pool, dropout, flatten, dense layers. The output layer,
Dense(num_classes, softmax), is always added by `build`. Shapes and parameter counts are worked
out in plain Python (`summarize`), so invalid specs get a message naming the layer and the fix
without importing TensorFlow; so are the server's limits on a network of one's own (`check_size`:
MAX_PARAMS parameters, MAX_ACTIVATIONS numbers per image), which `build` applies before it makes a
Keras model; and so is how many images one batch may hold (`images_per_batch`: TRAINING_MEMORY for a
training step, INFERENCE_MEMORY for a look inside a network on a page), since layer outputs grow with the batch.
"""

import dataclasses
import functools
import json
import math

from cnnlab.errors import ConfigError, SpecError
from cnnlab.i18n import Message, t

MAX_LAYERS = 64  # the course's deepest network has 14; the Model page's table stays readable
MAX_SPEC_CHARS = 16_000  # JSON of 64 layers with every field is about 6,000 characters
KINDS = ("conv", "maxpool", "avgpool", "dropout", "flatten", "dense", "batchnorm", "globalavgpool")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "selu", "gelu", "swish", "linear")
PADDINGS = ("valid", "same")
# the fields that mean something for each kind, with their defaults
FIELDS = {
    "conv": {"size": 32, "kernel": 3, "stride": 1, "padding": "valid", "activation": "relu"},
    "maxpool": {"kernel": 2, "stride": None, "padding": "valid"},
    "avgpool": {"kernel": 2, "stride": None, "padding": "valid"},
    "dropout": {"rate": 0.25},
    "flatten": {},
    "dense": {"size": 128, "activation": "relu"},
    "batchnorm": {},
    "globalavgpool": {},
}
NAMES = {"conv": "Conv2D", "maxpool": "MaxPooling2D", "avgpool": "AveragePooling2D", "dropout": "Dropout",
         "flatten": "Flatten", "dense": "Dense", "batchnorm": "BatchNormalization",
         "globalavgpool": "GlobalAveragePooling2D"}


@dataclasses.dataclass(frozen=True)
class Layer:
    """One layer of a spec. size = filters (conv) or units (dense); kernel = kernel or pool size."""

    kind: str
    size: int | None = None
    kernel: int | None = None
    stride: int | None = None
    padding: str | None = None
    activation: str | None = None
    rate: float | None = None

    def to_dict(self):
        """Only the fields that mean something for this kind: the canonical form."""
        return {"kind": self.kind, **{k: getattr(self, k) for k in FIELDS[self.kind]}}

    @classmethod
    def from_dict(cls, data, position=None):
        """A Layer from a dict such as {"kind": "conv", "size": 32}; missing fields take defaults."""
        where = Message("spec.layer_n", n=position) if position else Message("spec.a_layer")
        if not isinstance(data, dict) or "kind" not in data:
            raise SpecError("error.spec.no_kind", where=where, kinds=", ".join(KINDS))
        kind = str(data["kind"]).strip().lower()
        if kind not in KINDS:
            raise SpecError("error.spec.unknown_kind", where=where, kind=str(data["kind"]), kinds=", ".join(KINDS))
        values = dict(FIELDS[kind])
        for key, value in data.items():
            if key == "kind" or value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            if key not in values:
                continue  # a table row carries every column; fields of other kinds are ignored
            values[key] = value
        try:
            for key in ("size", "kernel", "stride"):
                if values.get(key) is not None:
                    values[key] = _whole(values[key])
            if values.get("rate") is not None:
                values["rate"] = float(values["rate"])
        except (TypeError, ValueError):
            raise SpecError("error.spec.not_numbers", where=where, kind=kind) from None
        return cls(kind=kind, **values)

    def describe(self):
        if self.kind == "conv":
            stride = f", stride {self.stride}" if self.stride != 1 else ""
            return f"Conv2D({self.size}, {self.kernel}x{self.kernel}{stride}, {self.padding}, {self.activation})"
        if self.kind in ("maxpool", "avgpool"):
            return f"{NAMES[self.kind]}({self.kernel})"
        if self.kind == "dropout":
            return f"Dropout({self.rate:g})"
        if self.kind == "dense":
            return f"Dense({self.size}, {self.activation})"
        return NAMES[self.kind]


def _whole(value):
    try:
        number = float(value)
        whole = int(number)
    except OverflowError:  # 10**400, or 1e309 read as infinity: no layer has that many of anything
        raise ValueError(value) from None
    if number != whole:
        raise ValueError(value)
    return whole


def conv(filters, kernel=3, stride=1, padding="valid", activation="relu"):
    return Layer("conv", size=filters, kernel=kernel, stride=stride, padding=padding, activation=activation)


def maxpool(size=2):
    return Layer("maxpool", kernel=size, padding="valid")


def dropout(rate):
    return Layer("dropout", rate=rate)


def flatten():
    return Layer("flatten")


def dense(units, activation="relu"):
    return Layer("dense", size=units, activation=activation)


# ---------------------------------------------------------------- presets from the course reports

@dataclasses.dataclass(frozen=True)
class Preset:
    """A named network from the course, with where it comes from and what its report measured."""

    name: str
    title_key: str  # catalogue keys (cnnlab.i18n)
    report: str
    layers: tuple
    provenance_key: str
    reported_key: str
    params: dict  # "HxWxC" -> exact parameter count stated by the report (or computed from its code)

    @property
    def title(self):
        return t(self.title_key)

    @property
    def provenance(self):
        return t(self.provenance_key)

    @property
    def reported(self):
        return t(self.reported_key)


PRESETS = {p.name: p for p in (
    Preset(
        name="fast", title_key="preset.fast.title", report="cnnlab",
        layers=(conv(16), maxpool(), conv(32), maxpool(), flatten(), dropout(0.25), dense(64)),
        provenance_key="preset.fast.provenance",
        reported_key="preset.fast.reported",
        params={"28x28x1": 56_714, "32x32x3": 79_530},
    ),
    Preset(
        name="net_1", title_key="preset.net_1.title", report="A",
        layers=(conv(32), conv(64), maxpool(), flatten(), dense(128)),
        provenance_key="preset.net_1.provenance",
        reported_key="preset.net_1.reported",
        params={"28x28x1": 1_199_882, "32x32x3": 1_626_442},
    ),
    Preset(
        name="net_2", title_key="preset.net_2.title", report="A",
        layers=(conv(32), conv(64, stride=2), flatten(), dense(128)),
        provenance_key="preset.net_2.provenance",
        reported_key="preset.net_2.reported",
        params={"28x28x1": 1_199_882},
    ),
    Preset(
        name="cool_cnn_3", title_key="preset.cool_cnn_3.title", report="B",
        layers=(conv(32), conv(32), maxpool(), dropout(0.25), conv(64), conv(64), maxpool(), dropout(0.25),
                flatten(), dense(256), dropout(0.3)),
        provenance_key="preset.cool_cnn_3.provenance",
        reported_key="preset.cool_cnn_3.reported",
        params={"32x32x3": 477_994},
    ),
    Preset(
        name="model_2", title_key="preset.model_2.title", report="C",
        layers=(conv(32, padding="same"), maxpool(), dropout(0.3), conv(64, padding="same"), maxpool(),
                dropout(0.3), flatten(), dense(512), dropout(0.3)),
        provenance_key="preset.model_2.provenance",
        reported_key="preset.model_2.reported",
        params={"32x32x3": 2_122_186},
    ),
    Preset(
        name="proposed", title_key="preset.proposed.title", report="C",
        layers=(conv(32, padding="same"), conv(32, padding="same"), maxpool(), dropout(0.25),
                conv(64, padding="same"), conv(64, padding="same"), maxpool(), dropout(0.25),
                conv(128, padding="same"), maxpool(), dropout(0.5), flatten(), dense(512), dropout(0.5)),
        provenance_key="preset.proposed.provenance",
        reported_key="preset.proposed.reported",
        params={"32x32x3": 1_193_642},
    ),
    Preset(
        name="keras_tutorial", title_key="preset.keras_tutorial.title", report="D",
        layers=(conv(32), maxpool(), conv(64), maxpool(), conv(64), flatten(), dense(64)),
        provenance_key="preset.keras_tutorial.provenance",
        reported_key="preset.keras_tutorial.reported",
        params={"32x32x3": 122_570},
    ),
    Preset(
        name="keras_tutorial_128", title_key="preset.keras_tutorial_128.title", report="D",
        layers=(conv(32), maxpool(), conv(64), maxpool(), conv(64), flatten(), dense(128)),
        provenance_key="preset.keras_tutorial_128.provenance",
        reported_key="preset.keras_tutorial_128.reported",
        params={"32x32x3": 188_810},
    ),
    Preset(
        name="fashion_cnn", title_key="preset.fashion_cnn.title", report="E",
        layers=(conv(32), maxpool(), conv(64), maxpool(), flatten(), dense(600), dropout(0.25), dense(120)),
        provenance_key="preset.fashion_cnn.provenance",
        reported_key="preset.fashion_cnn.reported",
        params={"28x28x1": 1_052_746},
    ),
    Preset(
        name="mlp_512", title_key="preset.mlp_512.title", report="E",
        layers=(flatten(), dense(512)),
        provenance_key="preset.mlp_512.provenance",
        reported_key="preset.mlp_512.reported",
        params={"28x28x1": 407_050},
    ),
    Preset(
        name="mlp_2048", title_key="preset.mlp_2048.title", report="E",
        layers=(flatten(), dense(2048)),
        provenance_key="preset.mlp_2048.provenance",
        reported_key="preset.mlp_2048.reported",
        params={"28x28x1": 1_628_170},
    ),
)}
DEFAULT_PRESET = "fast"


def get_preset(name):
    if name not in PRESETS:
        raise SpecError("error.spec.unknown_architecture", name=str(name), choices=", ".join(PRESETS))
    return PRESETS[name]


def preset_params(name, input_shape, num_classes):
    """A preset's parameter count on images of input_shape, or None where it cannot be built on them."""
    try:
        return count_params(get_preset(name).layers, input_shape, num_classes)
    except SpecError:
        return None


def fit_note(name, info):
    """What a student should know before training preset `name` on a dataset's images (its DatasetInfo): why it
    cannot be built on them, or that it was designed for other images (its size there); None when it was made for
    them (or name is no preset)."""
    if name not in PRESETS:
        return None
    preset = PRESETS[name]
    height, width, channels = info.image_shape
    shape = f"{height}x{width}x{channels}"
    try:
        params = count_params(preset.layers, info.image_shape, info.num_classes)
    except SpecError as error:
        return Message("preset.fit.unfit", name=name, title=info.title, shape=shape.replace("x", "×"), why=error.message)
    if shape in preset.params:
        return None
    designed = ", ".join(size.replace("x", "×") for size in preset.params)
    return Message("preset.fit.other_size", name=name, designed=designed, title=info.title,
                   shape=shape.replace("x", "×"), params=params)


def parse_spec(spec):
    """A tuple of Layers from a preset name, a JSON string, or a list of dicts / Layers.

    A spec is bounded before it is parsed (MAX_SPEC_CHARS of JSON, MAX_LAYERS layers, no nesting deeper than a
    list of layers), so that a link or a pasted text cannot make the parser or the Model page's table work for
    minutes; SpecError says which bound.
    """
    if isinstance(spec, str):
        text = spec.strip()
        if not text.startswith("["):
            return get_preset(text).layers
        if len(text) > MAX_SPEC_CHARS:
            raise SpecError("error.spec.too_long", size=len(text), limit=MAX_SPEC_CHARS)
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as error:
            raise SpecError("error.spec.json", msg=error.msg, pos=error.pos) from None
        except RecursionError:  # brackets nested deeper than Python's parser recurses: not a list of layers
            raise SpecError("error.spec.nested") from None
    if not isinstance(spec, (list, tuple)) or not spec:
        raise SpecError("error.spec.empty")
    if len(spec) > MAX_LAYERS:
        raise SpecError("error.spec.too_many_layers", count=len(spec), limit=MAX_LAYERS)
    return tuple(item if isinstance(item, Layer) else Layer.from_dict(item, position)
                 for position, item in enumerate(spec, start=1))


def with_dropout(layers, rate):
    """Set every Dropout layer's rate; returns (layers, note) where note says when nothing changed."""
    if rate is None:
        return tuple(layers), None
    if not 0 <= rate < 1:
        raise SpecError("error.spec.dropout_range", rate=rate)
    if not any(layer.kind == "dropout" for layer in layers):
        return tuple(layers), "note.no_dropout_layer"  # a catalogue key: run records keep it, pages word it
    return tuple(dataclasses.replace(l, rate=rate) if l.kind == "dropout" else l for l in layers), None


# ---------------------------------------------------------------- shapes and parameters, in plain Python

@dataclasses.dataclass(frozen=True)
class LayerRow:
    """A line of the model summary the reports print."""

    name: str
    layer: str
    output_shape: tuple
    params: int


def _fmt(shape):
    return "×".join(str(s) for s in shape)


def _check(layer, position):
    where = Message("spec.layer_named", n=position, name=NAMES[layer.kind])
    if layer.kind in ("conv", "dense") and (layer.size is None or layer.size < 1 or layer.size > 4096):
        key = "error.spec.filters" if layer.kind == "conv" else "error.spec.units"
        raise SpecError(key, where=where, size=str(layer.size))
    if layer.kind in ("conv", "maxpool", "avgpool") and (layer.kernel is None or not 1 <= layer.kernel <= 11):
        raise SpecError("error.spec.kernel", where=where, kernel=str(layer.kernel))
    if layer.stride is not None and not 1 <= layer.stride <= 8:
        raise SpecError("error.spec.stride", where=where, stride=layer.stride)
    if layer.padding is not None and layer.padding not in PADDINGS:
        raise SpecError("error.spec.padding", where=where, padding=str(layer.padding))
    if layer.activation is not None and layer.activation not in ACTIVATIONS:
        raise SpecError("error.spec.activation", where=where, activation=str(layer.activation),
                        choices=", ".join(ACTIVATIONS))
    if layer.kind == "dropout" and not 0 <= layer.rate < 1:
        raise SpecError("error.spec.rate", where=where, rate=layer.rate)
    return where


def summarize(layers, input_shape, num_classes):
    """Rows (name, layer, output shape, params) including the output layer; SpecError when it cannot build."""
    layers = parse_spec(layers)
    shape = tuple(int(s) for s in input_shape)  # (height, width, channels), then (features,) after Flatten
    rows, counts = [], {}
    for position, layer in enumerate(layers, start=1):
        where = _check(layer, position)
        params = 0
        spatial = len(shape) == 3
        if layer.kind in ("conv", "maxpool", "avgpool", "globalavgpool") and not spatial:
            raise SpecError("error.spec.flat_input", where=where, n=shape[0])
        if layer.kind == "conv":
            shape, params = _conv_shape(shape, layer, where), (layer.kernel ** 2 * shape[2] + 1) * layer.size
            shape = shape[:2] + (layer.size,)
        elif layer.kind in ("maxpool", "avgpool"):
            shape = _conv_shape(shape, layer, where)
        elif layer.kind == "flatten":  # (h, w, c) -> (h*w*c,); a no-op on a flat vector
            shape = (math.prod(shape),)
        elif layer.kind == "globalavgpool":
            shape = (shape[2],)
        elif layer.kind == "batchnorm":
            params = 4 * shape[-1]
        elif layer.kind == "dense":
            if spatial:
                raise SpecError("error.spec.dense_on_image", where=where, shape=_fmt(shape))
            params = (shape[0] + 1) * layer.size
            shape = (layer.size,)
        counts[layer.kind] = counts.get(layer.kind, 0) + 1
        rows.append(LayerRow(f"{layer.kind}_{counts[layer.kind]}", layer.describe(), shape, params))
    if len(shape) != 1:
        raise SpecError("error.spec.ends_with_image", shape=_fmt(shape))
    rows.append(LayerRow("output", f"Dense({num_classes}, softmax)", (num_classes,), (shape[0] + 1) * num_classes))
    return rows


def _conv_shape(shape, layer, where):
    """Output (h, w, c) of a conv or pool layer; SpecError when the input is smaller than the window."""
    height, width, channels = shape
    size = layer.kernel
    stride = layer.stride or (size if layer.kind != "conv" else 1)
    if layer.padding == "same":
        return (math.ceil(height / stride), math.ceil(width / stride), channels)
    if height < size or width < size:
        key = "error.spec.too_small_conv" if layer.kind == "conv" else "error.spec.too_small_pool"
        raise SpecError(key, where=where, shape=_fmt((height, width)), size=size)
    return ((height - size) // stride + 1, (width - size) // stride + 1, channels)


def count_params(layers, input_shape, num_classes):
    return sum(row.params for row in summarize(layers, input_shape, num_classes))


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


def flops_per_image(layers, input_shape, num_classes):
    """Forward-pass floating-point operations for one image (a multiply-add counts 2)."""
    flops = 0
    for row in summarize(layers, input_shape, num_classes):
        if row.params == 0:
            continue
        units = row.output_shape[-1]
        positions = math.prod(row.output_shape[:-1]) if len(row.output_shape) > 1 else 1
        flops += 2 * (row.params - units) * positions  # weights (no biases) times the positions they slide over
    return flops


def shape_key(input_shape):
    return "x".join(str(s) for s in input_shape)


# ---------------------------------------------------------------- Keras

def build(layers, input_shape, num_classes, name="cnnlab", within_limits=True):
    """A Keras Functional model: Input -> the spec's layers -> Dense(num_classes, softmax, float32).

    Nothing is built over the server's limits (check_size): the spec is counted first, in plain Python.
    within_limits=False only for a network already trained here (a stored run: its weights are on disk).
    """
    layers = parse_spec(layers)
    if within_limits:
        check_size(layers, input_shape, num_classes)  # SpecError or ConfigError before any Keras work
    rows = summarize(layers, input_shape, num_classes)
    import keras  # heavy: only when a model is really built

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    for layer, row in zip(layers, rows):
        x = _keras_layer(keras, layer, row.name)(x)
    # the output stays float32 under mixed precision so the softmax is stable
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="output")(x)
    return keras.Model(inputs=inputs, outputs=outputs, name=name)


def _keras_layer(keras, layer, name):
    kl = keras.layers
    if layer.kind == "conv":
        return kl.Conv2D(layer.size, layer.kernel, strides=layer.stride, padding=layer.padding,
                         activation=layer.activation, name=name)
    if layer.kind in ("maxpool", "avgpool"):
        pool = kl.MaxPooling2D if layer.kind == "maxpool" else kl.AveragePooling2D
        return pool(layer.kernel, strides=layer.stride, padding=layer.padding, name=name)
    if layer.kind == "dropout":
        return kl.Dropout(layer.rate, name=name)
    if layer.kind == "dense":
        return kl.Dense(layer.size, activation=layer.activation, name=name)
    if layer.kind == "batchnorm":
        return kl.BatchNormalization(name=name)
    if layer.kind == "globalavgpool":
        return kl.GlobalAveragePooling2D(name=name)
    return kl.Flatten(name=name)
