"""Looking inside a trained network: filters, feature maps, mistakes, and the overfitting question.

Everything returns NumPy arrays or plain values; the pages only place them.
"""

import dataclasses

import numpy as np

from cnnlab.data import datasets
from cnnlab.i18n import Message
from cnnlab.networks import limits


def conv_layer_names(model):
    return [layer.name for layer in model.layers if layer.name.startswith("conv_")]


def filters(model, layer_name):
    """A conv layer's kernels as (out_channels, k, k, in_channels), each scaled to [0, 1] for display."""
    return scaled_kernels(model.get_layer(layer_name).get_weights()[0])


def scaled_kernels(kernel):
    """Conv weights (k, k, in, out) as (out, k, k, in), each filter scaled to [0, 1] for display."""
    kernel = np.transpose(np.asarray(kernel, np.float32), (3, 0, 1, 2))
    low = kernel.min(axis=(1, 2, 3), keepdims=True)
    high = kernel.max(axis=(1, 2, 3), keepdims=True)
    return (kernel - low) / np.maximum(high - low, 1e-12)


def feature_extractor(model):
    """One Keras model that returns every conv layer's output: build it once, call it per image."""
    import keras

    names = conv_layer_names(model)
    if not names:  # an MLP: nothing to show, and Keras refuses a model without outputs
        return None, []
    outputs = [model.get_layer(name).output for name in names]
    return keras.Model(inputs=model.input, outputs=outputs), names


def feature_maps(extractor, names, image):
    """{layer name: (h, w, channels) float32} for one image (uint8 or float in [0, 1])."""
    image = np.asarray(image)
    batch = datasets.preprocess_images(image[np.newaxis]) if image.dtype == np.uint8 else image[np.newaxis]
    if batch.ndim == 3:
        batch = batch[..., np.newaxis]
    outputs = extractor(batch, training=False)  # called directly: 10x faster than predict() for one image
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return {name: np.asarray(out)[0] for name, out in zip(names, outputs)}


def normalize(array):
    """Scale to [0, 1] (a constant array becomes zeros)."""
    array = np.asarray(array, dtype=np.float32)
    span = float(array.max() - array.min()) if array.size else 0.0
    return (array - array.min()) / span if span > 0 else np.zeros_like(array)


def tile(images, columns=8, pad=1, scale=1):
    """A grid of (n, h, w) or (n, h, w, 3) images in [0, 1] as one image; pixels upscaled by `scale` (nearest)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    n, h, w, c = images.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    grid = np.ones((rows * (h + pad) - pad, columns * (w + pad) - pad, c), np.float32)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        grid[r * (h + pad): r * (h + pad) + h, col * (w + pad): col * (w + pad) + w] = image
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return grid[..., 0] if c == 1 else grid


def feature_map_grid(maps, limit=None, columns=8, size=96):
    """(h, w, channels) feature maps -> one uint8 image of viridis tiles with white gaps, each tile about size px."""
    maps = np.asarray(maps)
    count = maps.shape[-1] if limit is None else min(limit, maps.shape[-1])
    coloured = [apply_colormap(normalize(maps[..., c])) / 255.0 for c in range(count)]
    return to_uint8(tile(coloured, columns=columns, pad=2, scale=max(1, size // maps.shape[0])))


def filter_grid(model, layer_name, scale=14):
    """Every filter of a conv layer as one uint8 image: in colour for an RGB first layer, else the channel mean."""
    return kernel_grid(model.get_layer(layer_name).get_weights()[0], scale)


def kernel_grid(kernel, scale=14):
    """(one uint8 image of every filter, (out, k, k, in)) from conv weights (k, k, in, out)."""
    kernels = scaled_kernels(kernel)
    shown = kernels if kernels.shape[-1] == 3 else kernels.mean(axis=-1)
    return to_uint8(tile(shown, columns=16, pad=1, scale=scale)), kernels.shape


def upscale(image, scale):
    """Nearest-neighbour upscaling so 28x28 pixels stay crisp in the browser."""
    return np.asarray(image).repeat(scale, axis=0).repeat(scale, axis=1)


def to_uint8(image):
    """[0, 1] floats -> uint8 for st.image."""
    return (np.clip(np.asarray(image, dtype=np.float32), 0, 1) * 255).round().astype(np.uint8)


def apply_colormap(image, name="viridis"):
    """(h, w) in [0, 1] -> (h, w, 3) uint8 through a perceptually uniform colour map readable by colour-blind users."""
    stops = COLORMAPS[name]
    positions = np.linspace(0, 1, len(stops))
    flat = np.clip(np.asarray(image, dtype=np.float32), 0, 1).reshape(-1)
    rgb = np.stack([np.interp(flat, positions, stops[:, channel]) for channel in range(3)], axis=-1)
    return rgb.reshape(*np.shape(image), 3).round().astype(np.uint8)


# viridis and cividis sampled at 9 points (from matplotlib's tables)
COLORMAPS = {
    "viridis": np.array([[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
                         [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]], np.float32),
    "cividis": np.array([[0, 34, 78], [18, 53, 112], [59, 73, 108], [87, 93, 109], [112, 113, 115],
                         [138, 134, 120], [165, 156, 116], [195, 179, 105], [254, 232, 56]], np.float32),
}


# ---------------------------------------------------------------- mistakes

@dataclasses.dataclass(frozen=True)
class Mistake:
    index: int  # position in the test set
    true: int
    predicted: int
    confidence: float  # probability of the predicted class


def mistakes(probabilities, y_true):
    """Misclassified test images, most confident mistakes first."""
    predicted = np.argmax(probabilities, axis=1)
    confidence = probabilities[np.arange(len(predicted)), predicted]
    wrong = np.flatnonzero(predicted != np.asarray(y_true))
    order = wrong[np.argsort(-confidence[wrong], kind="stable")]
    return [Mistake(int(i), int(y_true[i]), int(predicted[i]), float(confidence[i])) for i in order]


def cell_indices(probabilities, y_true, true_class, predicted_class):
    """Test-set indices in one confusion-matrix cell (true row, predicted column)."""
    predicted = np.argmax(probabilities, axis=1)
    return np.flatnonzero((np.asarray(y_true) == true_class) & (predicted == predicted_class))


def most_confused(matrix, class_names, top=3):
    """The largest off-diagonal cells: [(true name, predicted name, count)]."""
    matrix = np.asarray(matrix).copy()
    np.fill_diagonal(matrix, 0)
    flat = np.argsort(-matrix, axis=None)[:top]
    pairs = [np.unravel_index(i, matrix.shape) for i in flat]
    return [(class_names[t], class_names[p], int(matrix[t, p])) for t, p in pairs if matrix[t, p] > 0]


# ---------------------------------------------------------------- the overfitting question

@dataclasses.dataclass(frozen=True)
class Verdict:
    """The answer to "is it overfitting?", with the numbers behind it."""

    kind: str  # overfitting | underfitting | good | too-short | no-validation
    note: object  # an i18n.Message, worded in the reader's language
    best_epoch: int | None = None
    gap: float | None = None

    @property
    def message(self):
        return str(self.note)


def overfitting_verdict(history, gap_threshold=0.03, rise_threshold=0.05):
    """Read the curves: a validation loss rising after its best epoch, or a wide train/validation gap."""
    train_acc, val_acc = history.get("accuracy", []), history.get("val_accuracy", [])
    val_loss = history.get("val_loss", [])
    if not val_loss:
        return Verdict("no-validation", Message("verdict.no_validation"))
    epochs = len(val_loss)
    best = int(np.argmin(val_loss))
    gap = float(train_acc[-1] - val_acc[-1])
    rise = (val_loss[-1] - val_loss[best]) / max(val_loss[best], 1e-12)
    if epochs >= 3 and best < epochs - 1 and rise > rise_threshold and gap > gap_threshold / 2:
        return Verdict("overfitting",
                       Message("verdict.overfitting", best=best + 1, best_loss=float(val_loss[best]), rise=float(rise),
                               epochs=epochs, last_loss=float(val_loss[-1]), train=float(train_acc[-1]), gap=gap,
                               val=float(val_acc[-1])),
                       best, gap)
    if gap > 2 * gap_threshold:
        return Verdict("overfitting",
                       Message("verdict.starting", train=float(train_acc[-1]), gap=gap, val=float(val_acc[-1])),
                       best, gap)
    if epochs < 3:
        return Verdict("too-short", Message("verdict.too_short", epochs=epochs), best, gap)
    if val_acc[-1] < 0.5 and train_acc[-1] < 0.6:
        return Verdict("underfitting",
                       Message("verdict.underfitting", train=float(train_acc[-1]), val=float(val_acc[-1])), best, gap)
    return Verdict("good", Message("verdict.good", best=best + 1, gap=abs(gap)), best, gap)


# ---------------------------------------------------------------- the data page

def samples_per_class(images, labels, num_classes, per_class=8):
    """(num_classes, per_class, ...) images: the first few of each class."""
    rows = []
    for label in range(num_classes):
        chosen = np.flatnonzero(np.asarray(labels) == label)[:per_class]
        rows.append(images[chosen])
    return rows


def class_counts(labels, num_classes):
    return np.bincount(np.asarray(labels, dtype=int), minlength=num_classes)


# ---------------------------------------------------------------- an uploaded image as the network's input

def image_from_upload(raw, image_shape, as_imported=False):
    """Bytes of an image file -> uint8 (h, w) or (h, w, 3) in the dataset's shape; CnnlabError when unusable.

    The file is read by pictures.read_image (size and pixel limits from the header, EXIF orientation) and
    prepared the way the run's own data was: MNIST and Fashion-MNIST have white ink on black, so a light
    background is inverted to match; pictures a class imported (as_imported) are kept as they are, cropped and
    resized exactly as the import did (own_images.to_pixels).
    """
    from PIL import Image

    from cnnlab.data import own_images, pictures

    if as_imported:
        pixels = own_images.to_pixels(pictures.read_image(raw, working_side=own_images.working_side(image_shape)),
                                      image_shape)
        return pixels
    image = pictures.read_image(raw)
    height, width, channels = image_shape
    image = image.convert("RGBA")
    background = Image.new("RGBA", image.size, (255, 255, 255, 255))
    image = Image.alpha_composite(background, image).convert("L" if channels == 1 else "RGB")
    pixels = np.asarray(image.resize((width, height), Image.Resampling.LANCZOS), dtype=np.uint8)
    if channels == 1 and pixels.mean() > 127:
        pixels = 255 - pixels  # dark ink on light paper -> light ink on black, like the dataset
    return pixels


# ---------------------------------------------------------------- which pixels drove the decision

def occlusion(model, image, class_index, patch=4, stride=2):
    """(h, w) in [0, 1]: how much hiding each pixel lowers the chosen class's probability.

    A patch×patch black square is slid over the image (forward passes of as many positions as a page may hold at
    once: limits.images_per_batch); each pixel gets the mean drop in log-probability of the squares that
    covered it, strongest = 1 (log-probability, so a confident 99.99 % still shows which pixels it rests on).
    """
    image = np.asarray(image, np.float32)
    if image.ndim == 2:
        image = image[..., np.newaxis]  # (h, w) -> (h, w, 1)
    height, width = image.shape[:2]
    corners = [(r, c) for r in range(0, height - patch + 1, stride) for c in range(0, width - patch + 1, stride)]
    batch = np.repeat(image[np.newaxis], len(corners) + 1, axis=0)  # (positions + 1, h, w, channels)
    for i, (r, c) in enumerate(corners, start=1):
        batch[i, r:r + patch, c:c + patch] = 0.0
    chunk = limits.images_per_batch(limits.model_activations(model))
    chosen = np.concatenate([np.asarray(model(batch[i:i + chunk], training=False), np.float64)[:, class_index]
                             for i in range(0, len(batch), chunk)])
    log_p = np.log(np.clip(chosen, 1e-12, 1.0))
    drops = np.maximum(log_p[0] - log_p[1:], 0.0)
    total, covered = np.zeros((height, width), np.float32), np.zeros((height, width), np.float32)
    for drop, (r, c) in zip(drops, corners):
        total[r:r + patch, c:c + patch] += drop
        covered[r:r + patch, c:c + patch] += 1
    return normalize(total / np.maximum(covered, 1))


def overlay(image, heat, strength=0.6):
    """A grey (h, w) image in [0, 1] with a (h, w) heat map in [0, 1] laid over it in viridis: (h, w, 3) uint8."""
    grey = np.repeat(np.asarray(image, np.float32)[..., np.newaxis], 3, axis=-1) * 255
    colour = apply_colormap(heat).astype(np.float32)
    weight = strength * np.asarray(heat, np.float32)[..., np.newaxis]
    return ((1 - weight) * grey + weight * colour).round().clip(0, 255).astype(np.uint8)
