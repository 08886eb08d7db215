"""Networks as data: a list of layer specs, and the course's presets.

A spec is what the student edits: conv, pool, dropout, flatten, dense layers. The output layer,
Dense(num_classes, softmax), is always added when it is built (cnnlab.networks.keras_build). Shapes and parameter
counts are worked out in plain Python (cnnlab.networks.counting), so invalid specs get a message naming the layer
and the fix without importing TensorFlow; so are the server's limits on a network of one's own and how many images
one batch may hold (cnnlab.networks.limits), which the build applies before it makes a Keras model.
"""

import dataclasses
import json
import math

from cnnlab.errors import SpecError
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
