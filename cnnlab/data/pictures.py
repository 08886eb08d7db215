"""Reading a picture file safely, whatever sent it (the Draw page, an upload, a zip of a class's pictures, the
command line): its size and pixel count are checked from the header before any pixel is decoded, and any mode
becomes RGBA floats."""

import io
import pathlib
import warnings

import numpy as np

from cnnlab.errors import CnnlabError

MAX_FILE_BYTES = 10 * 1024 * 1024  # an upload or a file given to `predict`
MAX_PIXELS = 40_000_000  # checked from the header, before any pixel is decoded
MAX_SIDE = 12_000
WORKING_SIDE = 1024  # larger images are scaled down to this before preprocessing
FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")
EXTENSIONS = ("png", "jpg", "jpeg", "gif", "webp", "bmp")


# ---------------------------------------------------------------- reading files safely

def read_image(raw, working_side=WORKING_SIDE):
    """Bytes of an image file -> a PIL image, EXIF orientation applied; CnnlabError when unusable.

    The size and the pixel count are checked from the header before decoding, so a tiny file that
    declares a huge image (a decompression bomb) is refused without allocating its pixels. A JPEG is decoded
    at 1/2, 1/4 or 1/8 of its size when that still leaves working_side pixels each way (every byte of it is
    still read, so a damaged file is still found); image.info["file_size"] keeps the size the file holds,
    turned as the picture is shown.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not raw:
        raise CnnlabError("error.image.empty")
    if len(raw) > MAX_FILE_BYTES:
        raise CnnlabError("error.image.too_big", size=len(raw) / 1e6, limit=MAX_FILE_BYTES / 1e6)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=FORMATS)
    except UnidentifiedImageError:
        raise CnnlabError("error.image.not_image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # Pillow's own header check, for sizes far past ours
        raise CnnlabError("error.image.bomb", millions=MAX_PIXELS // 1_000_000) from None
    except (OSError, ValueError) as error:
        raise CnnlabError("error.image.unreadable", reason=_reason(error)) from None
    width, height = image.size
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise CnnlabError("error.image.too_many_pixels", width=width, height=height,
                          millions=MAX_PIXELS // 1_000_000, side=MAX_SIDE)
    if width < 1 or height < 1:
        raise CnnlabError("error.image.no_pixels")
    try:
        image.seek(0)  # an animated GIF or WebP: its first frame
        if image.format in ("JPEG", "MPO"):
            image.draft(image.mode, (working_side, working_side))  # decode a big scan at 1/2, 1/4 or 1/8 size
        image.load()
        image = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as error:
        raise CnnlabError("error.image.damaged", reason=_reason(error)) from None
    turned = (image.width > image.height) != (width > height) and image.width != image.height
    image.info["file_size"] = (height, width) if turned else (width, height)
    return image


def _reason(error):
    text = str(error).strip().rstrip(".")
    return text[:120] if text else type(error).__name__


def read_path(path):
    """A file on disk -> a PIL image, with one-line reasons for a missing path, a folder or a bad file."""
    path = pathlib.Path(path)
    if not path.exists():
        raise CnnlabError("error.file.missing")
    if path.is_dir():
        raise CnnlabError("error.file.folder")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CnnlabError("error.image.too_big", size=size / 1e6, limit=MAX_FILE_BYTES / 1e6)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CnnlabError("error.file.unreadable", reason=str(error.strerror or error)) from None
    return read_image(raw)


def to_array(image):
    """A PIL image in any mode (1, L, I;16, P with transparency, RGB, RGBA, CMYK…) -> (H, W, 4) float32 in [0, 1]."""
    from PIL import Image

    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16- or 32-bit greyscale: scale, don't clip
        values = np.asarray(image, dtype=np.float32)
        top = 1.0 if mode == "F" else 65535.0 if mode.startswith("I;16") or values.max() > 255 else 255.0
        grey = Image.fromarray(np.clip(values / top, 0, 1).astype(np.float32), mode="F")
        if max(grey.size) > WORKING_SIDE:
            grey.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.BOX)
        grey = np.asarray(grey, dtype=np.float32)
        return np.dstack([grey, grey, grey, np.ones_like(grey)])
    image = image.convert("RGBA")  # palette transparency, LA, CMYK, 1-bit… all become RGBA
    if max(image.size) > WORKING_SIDE:
        image.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.BOX)
    return np.asarray(image, dtype=np.float32) / 255.0
