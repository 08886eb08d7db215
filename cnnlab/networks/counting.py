"""Shapes and parameters counted in plain Python, nothing built: each layer's output shape and parameter
count (the Model page's table), a forward pass's FLOPs, and what a preset becomes on a dataset's images."""

import dataclasses
import math

from cnnlab.errors import SpecError
from cnnlab.i18n import Message
from cnnlab.networks.architectures import ACTIVATIONS, NAMES, PADDINGS, PRESETS, get_preset, parse_spec


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
