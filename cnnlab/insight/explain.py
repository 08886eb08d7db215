"""Why a network decided, and what its filters look for: Grad-CAM, activation maximisation, one neuron's sum.

- `GradCam`: for an image, a class and a conv layer, where in the image the evidence for that class
  lies (Selvaraju et al. 2017): the layer's feature maps weighted by how much the class's score rises
  with each of them, kept where positive, scaled to the image.
- `maximise_filters`: for every filter of a conv layer, the input that excites it most: gradient
  ascent from faint noise, with a little decay and blur so the pattern stays readable.
- `neuron`: one cell of a feature map, worked out by hand: its receptive field on the input, the
  window of the layer's input it reads, the weights, the products, their sum, the bias and the
  activation — the same number the network computed.

Everything returns NumPy arrays or plain values; the pages only place them. TensorFlow is imported
inside the functions.
"""

import dataclasses

import numpy as np

from cnnlab.data import datasets
from cnnlab.i18n import Message
from cnnlab.insight import inspection
from cnnlab.networks import limits


def _batch(image):
    """uint8 or [0, 1] image (h, w[, c]) -> float32 (1, h, w, c)."""
    image = np.asarray(image)
    x = datasets.preprocess_images(image[np.newaxis]) if image.dtype == np.uint8 else image[np.newaxis]
    x = np.asarray(x, np.float32)
    return x[..., np.newaxis] if x.ndim == 3 else x


def top_classes(probabilities, class_names, top=3):
    """[(class index, name, probability)] of the most likely classes, most likely first."""
    order = np.argsort(-np.asarray(probabilities))[:top]
    return [(int(i), class_names[int(i)], float(probabilities[int(i)])) for i in order]


class GradCam:
    """Grad-CAM for one network; the gradient model of each layer is built once and reused."""

    def __init__(self, model):
        self.model = model
        self._models = {}

    def _model_for(self, layer_name):
        import keras

        if layer_name not in self._models:
            output = self.model.get_layer("output")  # Dense(classes, softmax): its input gives the class scores
            self._models[layer_name] = keras.Model(self.model.input,
                                                   [self.model.get_layer(layer_name).output, output.input])
        return self._models[layer_name]

    def __call__(self, image, class_index, layer_name):
        """(h, w) in [0, 1] over the image: where layer_name's feature maps argue for class_index (zeros: nowhere)."""
        import tensorflow as tf

        x = _batch(image)
        kernel, bias = self.model.get_layer("output").get_weights()
        with tf.GradientTape() as tape:
            maps, features = self._model_for(layer_name)(x, training=False)
            score = tf.reduce_sum(tf.cast(features, tf.float32) * kernel[:, class_index]) + bias[class_index]  # logit
        grads = tape.gradient(score, maps)
        maps, grads = np.asarray(maps, np.float32)[0], np.asarray(grads, np.float32)[0]  # (h', w', channels)
        weights = grads.mean(axis=(0, 1))  # how much the class's score rises with each whole map
        cam = np.maximum((maps * weights).sum(axis=-1), 0.0)
        start, jump, _ = geometry(self.model, layer_name)
        cam = _to_input(cam, start, jump, x.shape[1:3])
        top = float(cam.max())
        return cam / top if top > 0 else np.zeros_like(cam)


# ---------------------------------------------------------------- what each filter looks for

def maximise_filters(model, layer_name, steps=60, rate=0.05, decay=0.02, seed=0, budget_bytes=None):
    """(filters, h, w, c) in [0, 1]: for each filter of a conv layer, the input that excites it most.

    Filters climb together, as many in one batch as budget_bytes (None: a page's) holds for the layers up to this
    one and their gradients (limits.images_per_batch; the 1,200 filters of a wide layer at once held
    gigabytes). From faint noise around grey, each step moves each image along its normalised gradient, shrinks it
    a little towards grey (decay) and blurs it every few steps, so the pattern stays smooth enough to read. Each
    image climbs on its own: the batches change nothing but the memory.
    """
    import keras
    import tensorflow as tf

    layer = model.get_layer(layer_name)
    count = layer.output.shape[-1]
    probe = keras.Model(model.input, layer.output)
    shape = tuple(model.input_shape[1:])
    rng = np.random.default_rng(seed)
    start = (0.5 + 0.05 * rng.standard_normal((count, *shape))).astype(np.float32)
    chunk = limits.images_per_batch(limits.model_activations(probe), budget_bytes,
                                    limits.TRAINING_COPIES)

    @tf.function
    def climb(x, pick, blur):
        with tf.GradientTape() as tape:
            activations = probe(x, training=False)  # (images, h', w', filters)
            score = tf.reduce_sum(tf.reduce_mean(activations, axis=(1, 2)) * pick)
        grads = tape.gradient(score, x)
        grads /= tf.sqrt(tf.reduce_mean(tf.square(grads), axis=(1, 2, 3), keepdims=True)) + 1e-8
        moved = 0.5 + (x + rate * grads - 0.5) * (1.0 - decay)
        if blur:
            moved = tf.nn.avg_pool2d(tf.pad(moved, [[0, 0], [1, 1], [1, 1], [0, 0]], "SYMMETRIC"), 3, 1, "VALID")
        x.assign(tf.clip_by_value(moved, 0.0, 1.0))

    patterns = []
    for first in range(0, count, chunk):
        x = tf.Variable(start[first:first + chunk])
        pick = tf.one_hot(tf.range(first, min(first + chunk, count)), count)  # image i climbs filter first + i
        for step in range(steps):
            climb(x, pick, tf.constant(step % 8 == 7))
        patterns.extend(inspection.normalize(image) for image in np.asarray(x.numpy()))
    return np.stack(patterns)


def filter_activations(model, layer_name, images):
    """(len(images), filters): each image's mean activation of each filter of a conv layer."""
    import keras

    probe = keras.Model(model.input, model.get_layer(layer_name).output)
    images = np.asarray(images, np.float32)
    chunk = limits.images_per_batch(limits.model_activations(probe))
    return np.concatenate([np.asarray(probe(images[i:i + chunk], training=False), np.float32).mean(axis=(1, 2))
                           for i in range(0, len(images), chunk)])


# ---------------------------------------------------------------- one neuron, worked out by hand

@dataclasses.dataclass(frozen=True)
class Neuron:
    """One feature-map cell of a conv layer and how it was computed."""

    layer: str
    row: int
    col: int
    channel: int
    field: tuple  # (top, left, bottom, right) on the input image, bottom and right exclusive, clipped to it
    window: np.ndarray  # (k, k, in_channels): what the filter reads from the layer's input (zeros where padded)
    kernel: np.ndarray  # (k, k, in_channels): the filter's weights
    bias: float
    activation: str
    total: float  # sum of window * kernel + bias: the value before the activation
    value: float  # after the activation: the cell of the feature map, worked out here
    network_value: float  # the same cell as the network computed it (equal up to float rounding)

    @property
    def products(self):
        return self.window * self.kernel


ACTIVATIONS = {
    "relu": lambda z: max(z, 0.0), "linear": lambda z: z, "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "elu": lambda z: z if z > 0 else float(np.expm1(z)),
    "selu": lambda z: 1.0507009873554805 * (z if z > 0 else 1.6732632423543772 * float(np.expm1(z))),
    "gelu": lambda z: 0.5 * z * (1.0 + float(np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))),
    "swish": lambda z: z / (1.0 + np.exp(-z)),
}


def geometry(model, layer_name):
    """(start, jump, size) of a layer's cells on the input, in pixels: the centre of cell 0, the distance between
    neighbouring cells, and the side of each cell's receptive field.

    Walks the layers up to layer_name; 'same' padding shifts the centre by the rows Keras pads on top (the
    smaller half of the total).
    """
    import keras

    jump, size, start = 1, 1, 0.0
    for layer in model.layers[1:]:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            k = layer.kernel_size[0] if isinstance(layer, keras.layers.Conv2D) else layer.pool_size[0]
            s = layer.strides[0]
            pad = 0
            if layer.padding == "same":
                n_in, n_out = layer.input.shape[1], layer.output.shape[1]
                pad = max((n_out - 1) * s + k - n_in, 0) // 2
            start += ((k - 1) / 2 - pad) * jump
            size += (k - 1) * jump
            jump *= s
        if layer.name == layer_name:
            break
    return start, jump, size


def _receptive_field(model, layer_name, row, col):
    """(top, left, bottom, right) of the input pixels that can reach (row, col) of layer_name's output."""
    start, jump, size = geometry(model, layer_name)
    height, width = model.input_shape[1:3]
    top = int(np.floor(start + row * jump - (size - 1) / 2))
    left = int(np.floor(start + col * jump - (size - 1) / 2))
    return max(top, 0), max(left, 0), min(top + size, height), min(left + size, width)


def _to_input(cells, start, jump, shape):
    """A layer's (h', w') map laid on the input's (h, w) pixels: each pixel interpolated between the cells whose
    centres (start + i × jump) surround it, so the map stays where the layer looked."""
    def axis(n, cells_n):
        position = np.clip((np.arange(n) - start) / jump, 0, cells_n - 1)
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, cells_n - 1)
        return low, high, position - low

    (r0, r1, fr), (c0, c1, fc) = axis(shape[0], cells.shape[0]), axis(shape[1], cells.shape[1])
    top = cells[r0][:, c0] * (1 - fc) + cells[r0][:, c1] * fc
    bottom = cells[r1][:, c0] * (1 - fc) + cells[r1][:, c1] * fc
    return (top * (1 - fr)[:, None] + bottom * fr[:, None]).astype(np.float32)


def neuron(model, image, layer_name, row, col, channel):
    """A Neuron: the cell (row, col, channel) of a conv layer's feature map for image, computed by hand."""
    import keras

    layer = model.get_layer(layer_name)
    reader = keras.Model(model.input, [layer.input, layer.output])
    inputs, outputs = (np.asarray(a, np.float32)[0] for a in reader(_batch(image), training=False))
    kernel, bias = (np.asarray(w, np.float32) for w in layer.get_weights())
    k, stride = layer.kernel_size[0], layer.strides[0]
    if layer.padding == "same":  # Keras pads the bottom/right side more when the total is odd
        total_pad = max((outputs.shape[0] - 1) * stride + k - inputs.shape[0], 0)
        inputs = np.pad(inputs, [(total_pad // 2, total_pad - total_pad // 2)] * 2 + [(0, 0)])
    window = inputs[row * stride: row * stride + k, col * stride: col * stride + k, :]
    weights = kernel[..., channel]
    total = float((window * weights).sum() + bias[channel])
    name = keras.activations.serialize(layer.activation)
    name = name if isinstance(name, str) else name.get("config", {}).get("name", "linear")
    value = float(ACTIVATIONS.get(name, lambda z: z)(total))
    return Neuron(layer_name, row, col, channel, _receptive_field(model, layer_name, row, col), window, weights,
                  float(bias[channel]), name, total, value, float(outputs[row, col, channel]))


def field_picture(image, field, scale=8):
    """The input image (grey or colour), upscaled, with the receptive field outlined in yellow: (h, w, 3) uint8."""
    from PIL import Image, ImageDraw

    pixels = np.asarray(image)
    pixels = pixels if pixels.dtype == np.uint8 else inspection.to_uint8(pixels)
    pixels = pixels.squeeze()
    rgb = np.repeat(pixels[..., np.newaxis], 3, axis=-1) if pixels.ndim == 2 else pixels
    picture = Image.fromarray(inspection.upscale(rgb, scale))
    top, left, bottom, right = field
    ImageDraw.Draw(picture).rectangle([left * scale, top * scale, right * scale - 1, bottom * scale - 1],
                                      outline=(253, 231, 37), width=max(2, scale // 3))
    return np.asarray(picture)


def grey(image):
    """An image as (h, w) floats in [0, 1] (colour averaged): what the heat maps are laid over."""
    pixels = np.asarray(image, np.float32)
    pixels = pixels / 255.0 if np.asarray(image).dtype == np.uint8 else pixels
    pixels = pixels.squeeze()
    return pixels.mean(axis=-1) if pixels.ndim == 3 else pixels


def filter_patterns(store, run, model, layer_name):
    """maximise_filters of a stored run's layer, computed once and kept in the store (a broken copy is remade)."""
    import io

    from cnnlab import storage

    path = store.derived_folder(run) / f"patterns-{layer_name}.npy"
    if path.is_file():
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            pass
    patterns = maximise_filters(model, layer_name)
    buffer = io.BytesIO()
    np.save(buffer, patterns)
    storage.write_bytes(path, buffer.getvalue())
    return patterns


REGIONS = [["where.top_left", "where.top", "where.top_right"],
           ["where.left", "where.centre", "where.right"],
           ["where.bottom_left", "where.bottom", "where.bottom_right"]]  # catalogue keys, by thirds of the image


def where(heat):
    """Which ninth of the image a heat map's strongest part lies in, as a Message (for text alternatives)."""
    heat = np.asarray(heat, np.float32)
    if not heat.any():
        return Message("where.nowhere")
    strong = heat >= np.quantile(heat, 0.9)
    rows, cols = np.nonzero(strong)
    row = min(int(3 * rows.mean() / heat.shape[0]), 2)
    col = min(int(3 * cols.mean() / heat.shape[1]), 2)
    return Message(REGIONS[row][col])
