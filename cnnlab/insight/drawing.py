"""A drawing, photo or scan of a handwritten digit -> the 28×28 input an MNIST network expects.

MNIST was made like this: the ink of each digit was cropped, scaled to fit a 20×20 box keeping
its aspect ratio, and placed in a 28×28 image so that its centre of mass sits in the middle.
`prepare()` does the same to any image and keeps every step, so a student sees exactly what the
network sees. The bundled model (models/) is loaded from its weights into a network rebuilt
from its config, after its checksum is verified.
"""

import dataclasses
import hashlib
import json
import os
import pathlib

import numpy as np

from cnnlab.data import catalogue, own_images
from cnnlab.data.pictures import read_image, to_array
from cnnlab.errors import CnnlabError

MODELS_DIR = pathlib.Path(__file__).resolve().parents[2] / "models"
BUNDLED = "mnist_draw"
INK_LEVEL = 0.25  # a pixel with at least this much ink counts for the bounding box
MIN_INK_FRACTION = 0.08  # the ink's bounding box must span this share of the image's shorter side


class BlankImage(CnnlabError):
    """There is no ink to read (an empty canvas, a blank page, a tiny speck)."""


@dataclasses.dataclass(frozen=True)
class Prepared:
    """Each step of the preprocessing, as float32 images in [0, 1] with white ink on black."""

    ink: np.ndarray  # (H, W) the whole image as ink strength
    cropped: np.ndarray  # (h, w) the ink's bounding box
    fitted: np.ndarray  # (≤box, ≤box) scaled to fit the box, aspect ratio kept
    network_input: np.ndarray  # (size, size) placed by its centre of mass: what the network sees
    inverted: bool  # True when the image had dark ink on a light background
    used_alpha: bool  # True when the ink came from the alpha channel (transparent background)
    shift: tuple  # (rows, cols) the centre-of-mass placement moved the fitted digit


# ---------------------------------------------------------------- from pixels to ink

def ink_of(pixels):
    """(H, W), (H, W, 3) or (H, W, 4) pixels (uint8 or floats in [0, 1]) -> (ink (H, W) in [0, 1], inverted, used_alpha).

    White ink on black (the canvas), dark ink on light paper and ink on a transparent background all
    give the same result: 1 where the ink is, 0 where the background is.
    """
    array = np.asarray(pixels)
    array = array.astype(np.float32) / 255.0 if array.dtype == np.uint8 else array.astype(np.float32)
    if array.ndim == 2:
        array = array[..., np.newaxis]
    if array.ndim != 3 or array.shape[-1] not in (1, 2, 3, 4):
        raise CnnlabError("error.image.bad_array", shape=str(np.shape(pixels)))
    alpha = array[..., 3] if array.shape[-1] == 4 else (array[..., 1] if array.shape[-1] == 2 else None)
    colour = array[..., :3] if array.shape[-1] >= 3 else array[..., :1]
    luminance = colour @ np.array([0.299, 0.587, 0.114], np.float32) if colour.shape[-1] == 3 else colour[..., 0]
    if alpha is not None and float(alpha.min()) < 0.95:
        # a transparent background: the opaque strokes are the ink, whatever their colour
        return _stretch(alpha), False, True
    border = np.concatenate([luminance[0], luminance[-1], luminance[:, 0], luminance[:, -1]])
    background = float(np.median(border))
    inverted = background > 0.5
    ink = 1.0 - luminance if inverted else luminance
    return _stretch(ink, 1.0 - background if inverted else background), inverted, False


def _stretch(ink, background=None):
    """Background level -> 0, strongest ink -> 1; faint paper texture below 10 % is dropped."""
    low = float(np.median(ink)) if background is None else background
    low = min(low, float(ink.max()))
    span = float(ink.max()) - low
    if span < 0.15:  # almost no contrast: a blank page, a black canvas
        return np.zeros_like(ink)
    ink = np.clip((ink - low) / span, 0.0, 1.0)
    ink[ink < 0.1] = 0.0
    return ink


def _resize(array, size):
    """Float (h, w) image -> (size[1], size[0]) with area averaging when shrinking (as MNIST's anti-aliasing)."""
    from PIL import Image

    height, width = array.shape
    shrinking = size[0] < width or size[1] < height
    filter_ = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    image = Image.fromarray(np.ascontiguousarray(array, dtype=np.float32), mode="F")
    return np.clip(np.asarray(image.resize(size, filter_), dtype=np.float32), 0.0, 1.0)


def centre_of_mass(image):
    """(row, col) of the ink's centre of mass."""
    total = float(image.sum())
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


def prepare(pixels, box=20, size=28):
    """Any image of a digit -> Prepared, ending in the (size, size) network input; BlankImage when there is no ink.

    box=20, size=28 is MNIST's recipe. Fashion-MNIST products fill the whole image: use box=size=28.
    """
    ink, inverted, used_alpha = ink_of(pixels)
    mask = ink >= INK_LEVEL
    if not mask.any():
        raise BlankImage("error.drawing.blank")
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    extent = max(bottom - top, right - left)
    if extent < MIN_INK_FRACTION * min(ink.shape) and min(ink.shape) >= 2 * size:
        raise BlankImage("error.drawing.speck", extent=extent)
    cropped = ink[top:bottom, left:right]
    height, width = cropped.shape
    scale = box / max(height, width)
    fitted_size = (max(1, round(width * scale)), max(1, round(height * scale)))  # (w, h) for PIL
    fitted = _resize(cropped, fitted_size)
    if fitted.max() > 0:
        fitted = fitted / fitted.max()  # thin strokes shrunk by averaging keep full-strength cores
    # place the fitted digit so that its centre of mass lands on the centre of the image
    com_row, com_col = centre_of_mass(fitted) if fitted.sum() > 0 else (fitted.shape[0] / 2, fitted.shape[1] / 2)
    fh, fw = fitted.shape
    middle = (size - 1) / 2  # the centre of a size×size image in pixel coordinates
    top = int(np.clip(round(middle - com_row), 0, size - fh))
    left = int(np.clip(round(middle - com_col), 0, size - fw))
    network_input = np.zeros((size, size), np.float32)
    network_input[top:top + fh, left:left + fw] = fitted
    centred_top, centred_left = (size - fh) // 2, (size - fw) // 2
    return Prepared(ink=ink, cropped=cropped, fitted=fitted, network_input=network_input,
                    inverted=inverted, used_alpha=used_alpha, shift=(top - centred_top, left - centred_left))


def prepare_file(raw, box=20, size=28):
    """Image-file bytes -> Prepared (read safely, then prepared)."""
    return prepare(to_array(read_image(raw)), box=box, size=size)


def prepare_picture(pixels, shape, background=1.0):
    """(H, W, 4) RGBA pixels (float in [0, 1] as pictures.to_array gives, or uint8 as the canvas gives) ->
    Prepared for a network trained on imported pictures: laid on `background` (white, as the import lays
    transparency; the Draw page's canvas is black) and cropped and resized exactly as the import did, never inverted.
    """
    from PIL import Image

    rgba = np.asarray(pixels, np.float32)
    if np.asarray(pixels).dtype == np.uint8:
        rgba = rgba / 255.0
    alpha = rgba[..., 3:4]
    flat = rgba[..., :3] * alpha + background * (1.0 - alpha)  # (H, W, 3) in [0, 1]
    picture = Image.fromarray((flat * 255).round().clip(0, 255).astype(np.uint8), mode="RGB")
    network_input = own_images.to_pixels(picture, shape).astype(np.float32) / 255.0  # (h, w) grey or (h, w, 3) colour
    whole = np.asarray(picture.convert("L"), np.float32) / 255.0
    return Prepared(ink=whole, cropped=whole, fitted=network_input, network_input=network_input,
                    inverted=False, used_alpha=False, shift=(0, 0))


# ---------------------------------------------------------------- the bundled model

@dataclasses.dataclass(frozen=True)
class Bundled:
    """A trained model that ships in models/: its config, its weights file and what it scores."""

    name: str
    folder: pathlib.Path
    manifest: dict

    @property
    def config(self):
        from cnnlab import training
        return training.TrainConfig.from_dict(self.manifest["config"])

    @property
    def class_names(self):
        from cnnlab.data import catalogue
        return catalogue.get_info(self.config.dataset).class_names

    def build_model(self):
        """The network rebuilt from its config, with the weights loaded after their checksum is verified."""
        from cnnlab.data import catalogue
        from cnnlab.networks import keras_build

        weights = self.folder / self.manifest["weights"]
        if not weights.is_file():
            raise CnnlabError("error.bundled.missing_weights", name=weights.name)
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        if digest != self.manifest["sha256"]:
            raise CnnlabError("error.bundled.checksum")
        config = self.config
        info = catalogue.get_info(config.dataset)
        model = keras_build.build(config.layers, info.image_shape, info.num_classes, name=config.architecture_name)
        model.load_weights(weights)
        return model


def bundled(name=BUNDLED, folder=None):
    """The bundled model `name` described by models/manifest.json."""
    folder = pathlib.Path(folder or os.environ.get("CNNLAB_MODELS_DIR") or MODELS_DIR)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())[name]
    except (OSError, ValueError, KeyError):
        raise CnnlabError("error.bundled.not_installed", name=name, folder=str(folder)) from None
    return Bundled(name, folder / name, manifest)


# ---------------------------------------------------------------- reading a digit

def box_for(dataset):
    """MNIST digits are fitted to 20×20 inside 28×28; Fashion-MNIST products fill the whole 28×28."""
    return 20 if catalogue.base_name(dataset) == "mnist" else 28  # an assignment's copy of MNIST too


def classify(model, network_input):
    """(28, 28) float input -> (num_classes,) probabilities, calling the model directly (fast for one image)."""
    batch = np.asarray(network_input, np.float32)[np.newaxis, ..., np.newaxis]
    return np.asarray(model(batch, training=False))[0].astype(np.float64)


def ranked(probabilities, class_names, top=3):
    """[(class name, probability)] most likely first."""
    order = np.argsort(-np.asarray(probabilities), kind="stable")[:top]
    return [(class_names[i], float(probabilities[i])) for i in order]
