"""Networks as data: a list of layer specs, the course presets, and building them in Keras.

A spec is what the student edits: conv, pool, dropout, flatten, dense layers. The output layer,
Dense(num_classes, softmax), is always added by `build`. Shapes and parameter counts are worked
out in plain Python (`summarize`), so invalid specs get a message naming the layer and the fix
without importing TensorFlow; `build` checks the same spec and then makes a Keras model.
"""

import dataclasses
import json
import math

from cnnlab.errors import SpecError

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
        where = f"Layer {position}" if position else "A layer"
        if not isinstance(data, dict) or "kind" not in data:
            raise SpecError(f"{where} must be an object with a 'kind' (one of {', '.join(KINDS)}).")
        kind = str(data["kind"]).strip().lower()
        if kind not in KINDS:
            raise SpecError(f"{where}: unknown kind '{data['kind']}' — use one of {', '.join(KINDS)}.")
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
            raise SpecError(f"{where} ({kind}): sizes must be whole numbers and rates numbers.") from None
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
    number = float(value)
    if number != int(number):
        raise ValueError(value)
    return int(number)


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
    title: str
    report: str
    layers: tuple
    provenance: str
    reported: str
    params: dict  # "HxWxC" -> exact parameter count stated by the report (or computed from its code)


PRESETS = {p.name: p for p in (
    Preset(
        name="fast", title="Fast default", report="cnnlab",
        layers=(conv(16), maxpool(), conv(32), maxpool(), flatten(), dropout(0.25), dense(64)),
        provenance="cnnlab's small default: two conv+pool blocks; trains in seconds on a CPU.",
        reported="About 97-98 % on the bundled MNIST sample after 3-5 epochs.",
        params={"28x28x1": 56_714, "32x32x3": 79_530},
    ),
    Preset(
        name="net_1", title="net_1", report="A",
        layers=(conv(32), conv(64), maxpool(), flatten(), dense(128)),
        provenance="Report A: Conv2D(32,3) -> Conv2D(64,3) -> MaxPool(2) -> Dense(128) -> Dense(10).",
        reported="MNIST: 0.9829 after 700 epochs (batch 128); CIFAR-10 with Adam: 0.6469 after 30 epochs.",
        params={"28x28x1": 1_199_882, "32x32x3": 1_626_442},
    ),
    Preset(
        name="net_2", title="net_2", report="A",
        layers=(conv(32), conv(64, stride=2), flatten(), dense(128)),
        provenance="Report A: net_1 without the MaxPool; the second conv has stride 2 (12x12x64 out).",
        reported="MNIST: 0.9794 after 700 epochs (batch 128).",
        params={"28x28x1": 1_199_882},
    ),
    Preset(
        name="cool_cnn_3", title="Cool CNN No. 3", report="B",
        layers=(conv(32), conv(32), maxpool(), dropout(0.25), conv(64), conv(64), maxpool(), dropout(0.25),
                flatten(), dense(256), dropout(0.3)),
        provenance="Report B: two conv-conv-pool-dropout blocks, Dense(256), dropout 0.3; all convs 'valid'.",
        reported="CIFAR-10: 0.80 after 100 epochs at batch 32 (5 h 40 min); 0.73 after 50.",
        params={"32x32x3": 477_994},
    ),
    Preset(
        name="model_2", title="Model 2", report="C",
        layers=(conv(32, padding="same"), maxpool(), dropout(0.3), conv(64, padding="same"), maxpool(),
                dropout(0.3), flatten(), dense(512), dropout(0.3)),
        provenance="Report C: two conv(same)-pool-dropout(0.3) blocks, Dense(512), dropout 0.3.",
        reported="CIFAR-10: 71.5 %; MNIST: 99.33 % (epochs and batch not stated).",
        params={"32x32x3": 2_122_186},
    ),
    Preset(
        name="proposed", title="Proposed model", report="C",
        layers=(conv(32, padding="same"), conv(32, padding="same"), maxpool(), dropout(0.25),
                conv(64, padding="same"), conv(64, padding="same"), maxpool(), dropout(0.25),
                conv(128, padding="same"), maxpool(), dropout(0.5), flatten(), dense(512), dropout(0.5)),
        provenance="Report C's proposed model: conv blocks of 32, 64 and 128 filters ('same'), Dense(512).",
        reported="CIFAR-10: 80.11 %; MNIST: 99.55 % (epochs and batch not stated).",
        params={"32x32x3": 1_193_642},
    ),
    Preset(
        name="keras_tutorial", title="Keras tutorial CNN", report="D",
        layers=(conv(32), maxpool(), conv(64), maxpool(), conv(64), flatten(), dense(64)),
        provenance="Report D, the TensorFlow CNN tutorial. The report outputs logits with "
                   "from_logits=True; cnnlab ends in softmax, which is the same model.",
        reported="CIFAR-10: 0.7113 after 10 epochs; 0.7018 after 15 (overfitting).",
        params={"32x32x3": 122_570},
    ),
    Preset(
        name="keras_tutorial_128", title="Keras tutorial CNN, Dense(128)", report="D",
        layers=(conv(32), maxpool(), conv(64), maxpool(), conv(64), flatten(), dense(128)),
        provenance="Report D's variant with Dense(128) instead of Dense(64).",
        reported="CIFAR-10: 0.6944 after 7 epochs.",
        params={"32x32x3": 188_810},
    ),
    Preset(
        name="fashion_cnn", title="Fashion-MNIST CNN", report="E",
        layers=(conv(32), maxpool(), conv(64), maxpool(), flatten(), dense(600), dropout(0.25), dense(120)),
        provenance="Report E (PyTorch): Conv(32,3x3) -> Conv(64,3x3) -> Dense(600) -> Dense(120) -> Dense(10), "
                   "dropout 0.25. The report does not spell out pooling: cnnlab reads it as a 2x2 max pool "
                   "after each conv, 'valid' convs, dropout after Dense(600).",
        reported="Fashion-MNIST: ~83 % (lr 1e-3, batch 64, 5 epochs); >90 % (lr 1e-5, batch 1000, 100 epochs).",
        params={"28x28x1": 1_052_746},
    ),
    Preset(
        name="mlp_512", title="MLP, 512 hidden units", report="E",
        layers=(flatten(), dense(512)),
        provenance="Report E's one-hidden-layer perceptron with n=512.",
        reported="Fashion-MNIST: stops improving after ~30 epochs (lr 1e-3, batch 1000).",
        params={"28x28x1": 407_050},
    ),
    Preset(
        name="mlp_2048", title="MLP, 2048 hidden units", report="E",
        layers=(flatten(), dense(2048)),
        provenance="Report E's one-hidden-layer perceptron with n=2048.",
        reported="Fashion-MNIST: validation loss rises after ~10 epochs (lr 1e-3, batch 500).",
        params={"28x28x1": 1_628_170},
    ),
)}
DEFAULT_PRESET = "fast"


def get_preset(name):
    if name not in PRESETS:
        raise SpecError(f"Unknown architecture '{name}': choose one of {', '.join(PRESETS)}, or give a layer list.")
    return PRESETS[name]


def parse_spec(spec):
    """A tuple of Layers from a preset name, a JSON string, or a list of dicts / Layers."""
    if isinstance(spec, str):
        text = spec.strip()
        if not text.startswith("["):
            return get_preset(text).layers
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as error:
            raise SpecError(f"The layer list is not valid JSON ({error.msg} at character {error.pos}).") from None
    if not isinstance(spec, (list, tuple)) or not spec:
        raise SpecError("A network needs at least one layer.")
    return tuple(item if isinstance(item, Layer) else Layer.from_dict(item, position)
                 for position, item in enumerate(spec, start=1))


def with_dropout(layers, rate):
    """Set every Dropout layer's rate; returns (layers, note) where note says when nothing changed."""
    if rate is None:
        return tuple(layers), None
    if not 0 <= rate < 1:
        raise SpecError(f"Dropout rate {rate} is out of range: use a value from 0 to 0.9.")
    if not any(layer.kind == "dropout" for layer in layers):
        return tuple(layers), ("This network has no Dropout layer, so the dropout setting changes nothing; "
                               "add a Dropout layer in the layer editor to use it.")
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
    where = f"Layer {position} ({NAMES[layer.kind]})"
    if layer.kind in ("conv", "dense") and (layer.size is None or layer.size < 1 or layer.size > 4096):
        unit = "filters" if layer.kind == "conv" else "units"
        raise SpecError(f"{where}: the number of {unit} must be from 1 to 4096, not {layer.size}.")
    if layer.kind in ("conv", "maxpool", "avgpool") and (layer.kernel is None or not 1 <= layer.kernel <= 11):
        raise SpecError(f"{where}: the kernel size must be from 1 to 11, not {layer.kernel}.")
    if layer.stride is not None and not 1 <= layer.stride <= 8:
        raise SpecError(f"{where}: the stride must be from 1 to 8, not {layer.stride}.")
    if layer.padding is not None and layer.padding not in PADDINGS:
        raise SpecError(f"{where}: padding must be 'valid' or 'same', not '{layer.padding}'.")
    if layer.activation is not None and layer.activation not in ACTIVATIONS:
        raise SpecError(f"{where}: unknown activation '{layer.activation}' — use one of {', '.join(ACTIVATIONS)}.")
    if layer.kind == "dropout" and not 0 <= layer.rate < 1:
        raise SpecError(f"{where}: the rate must be at least 0 and below 1, not {layer.rate}.")
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
            raise SpecError(f"{where} needs an image-shaped input but gets a flat vector of {shape[0]} values: "
                            f"move it before the Flatten layer.")
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
                raise SpecError(f"{where} gets a {_fmt(shape)} image-shaped input: add a Flatten layer before it.")
            params = (shape[0] + 1) * layer.size
            shape = (layer.size,)
        counts[layer.kind] = counts.get(layer.kind, 0) + 1
        rows.append(LayerRow(f"{layer.kind}_{counts[layer.kind]}", layer.describe(), shape, params))
    if len(shape) != 1:
        raise SpecError(f"The network ends with a {_fmt(shape)} image-shaped output: add a Flatten "
                        f"(or GlobalAveragePooling2D) layer before the output layer.")
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
        fix = "use padding='same' or remove a pooling layer before it" if layer.kind == "conv" \
            else "remove this pooling layer or use padding='same' in the convs before it"
        raise SpecError(f"{where}: its {_fmt((height, width))} input is smaller than its {size}×{size} "
                        f"window — {fix}.")
    return ((height - size) // stride + 1, (width - size) // stride + 1, channels)


def count_params(layers, input_shape, num_classes):
    return sum(row.params for row in summarize(layers, input_shape, num_classes))


def shape_key(input_shape):
    return "x".join(str(s) for s in input_shape)


# ---------------------------------------------------------------- Keras

def build(layers, input_shape, num_classes, name="cnnlab"):
    """A Keras Functional model: Input -> the spec's layers -> Dense(num_classes, softmax, float32)."""
    rows = summarize(layers, input_shape, num_classes)  # SpecError before any Keras work
    layers = parse_spec(layers)
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
