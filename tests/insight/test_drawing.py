"""The drawing pipeline (MNIST's own recipe), safe image reading, and the bundled model."""

import io
import json
import shutil
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from bench import drawings
from cnnlab.data import datasets, pictures
from cnnlab.errors import CnnlabError
from cnnlab.insight import drawing


def stroke_image(points, size=280, width=20, ink=255, paper=0):
    image = Image.new("L", (size, size), paper)
    ImageDraw.Draw(image).line(points, fill=ink, width=width)
    return np.asarray(image)


SEVEN = [(60, 50), (200, 50), (110, 230)]


def png_bytes(image, **params):
    buffer = io.BytesIO()
    image.save(buffer, **params)
    return buffer.getvalue()


# ---------------------------------------------------------------- preprocessing oracles

def test_centred_stroke_stays_centred_and_fits_20():
    prepared = drawing.prepare(stroke_image([(140, 40), (140, 240)]))
    row, col = drawing.centre_of_mass(prepared.network_input)
    assert abs(row - 13.5) <= 0.6 and abs(col - 13.5) <= 0.6
    assert max(prepared.fitted.shape) == 20  # the longest side fits the 20×20 box
    assert prepared.network_input.shape == (28, 28) and prepared.network_input.dtype == np.float32
    assert 0.0 <= prepared.network_input.min() and prepared.network_input.max() == pytest.approx(1.0)


def test_shifted_stroke_comes_back_to_the_centre():
    centred = drawing.prepare(stroke_image(SEVEN)).network_input
    shifted = drawing.prepare(stroke_image([(x - 50, y + 30) for x, y in SEVEN])).network_input
    np.testing.assert_allclose(shifted, centred, atol=1e-5)
    row, col = drawing.centre_of_mass(centred)
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1


def test_scale_does_not_matter():
    big = drawing.prepare(stroke_image(SEVEN, width=20)).network_input
    small = drawing.prepare(stroke_image([(x // 2, y // 2) for x, y in SEVEN], width=10)).network_input
    assert np.abs(big - small).mean() < 0.03


def test_inverted_colours_give_the_same_input():
    white_on_black = stroke_image(SEVEN)
    dark_on_paper = 255 - white_on_black
    a, b = drawing.prepare(white_on_black), drawing.prepare(dark_on_paper)
    assert not a.inverted and b.inverted
    np.testing.assert_allclose(a.network_input, b.network_input, atol=1e-5)


def test_grey_paper_and_grey_ink_are_stretched():
    pencil_on_paper = stroke_image(SEVEN, ink=90, paper=210)  # a photo: grey paper, grey pencil
    np.testing.assert_allclose(drawing.prepare(pencil_on_paper).network_input,
                               drawing.prepare(stroke_image(SEVEN)).network_input, atol=1e-5)


@pytest.mark.parametrize("ink_colour", [(0, 0, 0, 255), (255, 255, 255, 255), (200, 30, 30, 255)])
def test_alpha_background_uses_the_opaque_strokes(ink_colour):
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(image).line(SEVEN, fill=ink_colour, width=20)
    prepared = drawing.prepare(np.asarray(image))
    assert prepared.used_alpha
    np.testing.assert_allclose(prepared.network_input, drawing.prepare(stroke_image(SEVEN)).network_input, atol=1e-5)


def test_canvas_rgba_with_black_background():
    rgb = np.repeat(stroke_image(SEVEN)[..., np.newaxis], 3, axis=-1)
    canvas = np.dstack([rgb, np.full((280, 280), 255, np.uint8)])  # what st_canvas returns
    np.testing.assert_allclose(drawing.prepare(canvas).network_input,
                               drawing.prepare(stroke_image(SEVEN)).network_input, atol=1e-5)


@pytest.mark.parametrize("pixels", [
    np.zeros((280, 280, 4), np.uint8) + np.array([0, 0, 0, 255], np.uint8),  # black canvas
    np.full((300, 200), 255, np.uint8),  # a white page
    np.zeros((280, 280, 4), np.uint8),  # fully transparent
    np.full((280, 280), 128, np.uint8),  # flat grey
], ids=["black", "white", "transparent", "grey"])
def test_blank_images_are_refused(pixels):
    with pytest.raises(drawing.BlankImage, match="blank"):
        drawing.prepare(pixels)


def test_a_speck_is_refused_with_advice():
    speck = stroke_image([(140, 140), (143, 141)], width=6)
    with pytest.raises(drawing.BlankImage, match="speck"):
        drawing.prepare(speck)


def test_an_mnist_digit_is_left_as_mnist_made_it(bundled_model):
    data = datasets.load("mnist")
    original = data.x_test[:300].astype(np.float32) / 255
    again = np.stack([drawing.prepare(image).network_input for image in data.x_test[:300]])
    # already cropped, fitted and centred by MNIST: preprocessing again moves little, and reads the same
    assert np.abs(again - original).mean() < 0.08
    predicted = np.argmax(np.asarray(bundled_model(again[..., np.newaxis], training=False)), axis=1)
    assert np.mean(predicted == data.y_test[:300]) >= 0.97


def test_fashion_box_fills_the_image():
    shirt = np.zeros((100, 60), np.uint8)
    shirt[10:90, 5:55] = 200
    prepared = drawing.prepare(shirt, box=drawing.box_for("fashion_mnist"))
    assert max(prepared.fitted.shape) == 28


# ---------------------------------------------------------------- reading files safely

def test_bad_files_get_reasons():
    with pytest.raises(CnnlabError, match="empty"):
        pictures.read_image(b"")
    with pytest.raises(CnnlabError, match="not an image"):
        pictures.read_image(b"this is a text file pretending to be a png")
    with pytest.raises(CnnlabError, match="not an image"):
        pictures.read_image(np.random.default_rng(0).bytes(4096))
    whole = png_bytes(Image.fromarray(stroke_image(SEVEN)), format="PNG")
    with pytest.raises(CnnlabError, match="damaged or truncated"):
        pictures.read_image(whole[: len(whole) // 2])


def bomb_png(width=60_000, height=60_000):
    """A valid PNG header that declares a huge image, followed by a few compressed rows: tiny on disk."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width // 8 + 1) * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_refused_from_its_header():
    raw = bomb_png(8_000, 6_000)  # 48 million pixels: past cnnlab's limit, under Pillow's
    assert len(raw) < 10_000
    with pytest.raises(CnnlabError, match="8,000×6,000 pixels.*scale it down"):
        pictures.read_image(raw)
    with pytest.raises(CnnlabError, match="far more pixels.*scale it down"):
        pictures.read_image(bomb_png(60_000, 60_000))  # past Pillow's own limit too


def test_paths(tmp_path):
    with pytest.raises(CnnlabError, match="No such file"):
        pictures.read_path(tmp_path / "missing.png")
    with pytest.raises(CnnlabError, match="folder"):
        pictures.read_path(tmp_path)


def variants_of_a_seven():
    """The same drawn 7 in many real file formats and modes: (name, bytes)."""
    grey = Image.fromarray(255 - stroke_image(SEVEN, width=22))  # dark ink on white paper
    rgba = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).line(SEVEN, fill=(20, 20, 120, 255), width=22)
    palette = grey.convert("P")
    palette.info["transparency"] = 255  # the white paper becomes transparent
    sixteen = Image.fromarray(np.asarray(grey, np.uint16) * 257)  # mode I;16
    rotated = grey.rotate(90, expand=True)  # stored on its side, EXIF says turn it back
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    frames = [grey.convert("P"), Image.new("P", (280, 280), 0)]
    big = grey.resize((4000, 4000), Image.Resampling.BILINEAR)
    variants = [
        ("png-grey", png_bytes(grey, format="PNG")),
        ("png-rgba-transparent", png_bytes(rgba, format="PNG")),
        ("png-palette-transparency", png_bytes(palette, format="PNG")),
        ("png-16-bit", png_bytes(sixteen, format="PNG")),
        ("jpeg-cmyk", png_bytes(grey.convert("CMYK"), format="JPEG", quality=90)),
        ("jpeg-exif-rotated", png_bytes(rotated.convert("RGB"), format="JPEG", quality=90, exif=exif)),
        ("gif-animated", png_bytes(frames[0], format="GIF", save_all=True, append_images=frames[1:])),
        ("webp", png_bytes(grey.convert("RGB"), format="WEBP", quality=90)),
        ("bmp", png_bytes(grey, format="BMP")),
        ("jpeg-4000px-scan", png_bytes(big, format="JPEG", quality=85)),
        ("png-24px-thumbnail", png_bytes(grey.resize((24, 24), Image.Resampling.BOX), format="PNG")),
    ]
    assert sixteen.mode == "I;16" and Image.open(io.BytesIO(variants[4][1])).mode == "CMYK"
    return dict(variants)


VARIANTS = ["png-grey", "png-rgba-transparent", "png-palette-transparency", "png-16-bit", "jpeg-cmyk",
            "jpeg-exif-rotated", "gif-animated", "webp", "bmp", "jpeg-4000px-scan", "png-24px-thumbnail"]


@pytest.fixture(scope="module")
def variants():
    return variants_of_a_seven()


@pytest.fixture(scope="module")
def bundled_model():
    return drawing.bundled().build_model()


@pytest.mark.parametrize("name", VARIANTS)
def test_odd_but_valid_files_are_read_as_the_same_seven(name, variants, bundled_model):
    raw = variants[name]
    reference = drawing.prepare(stroke_image(SEVEN, width=22)).network_input
    prepared = drawing.prepare_file(raw)
    assert np.abs(prepared.network_input - reference).mean() < 0.08, name
    assert np.argmax(drawing.classify(bundled_model, prepared.network_input)) == 7


# ---------------------------------------------------------------- the bundled model

def test_bundled_model_manifest_says_how_it_was_made():
    bundle = drawing.bundled()
    manifest = bundle.manifest
    assert manifest["command"].startswith("python scripts/make_bundled_model.py")
    assert bundle.config.augment and bundle.config.dataset == "mnist"
    size = (bundle.folder / manifest["weights"]).stat().st_size
    assert size < 5_000_000
    assert manifest["params"] == bundle.build_model().count_params()


def test_bundled_model_scores_what_its_manifest_says(bundled_model):
    data = datasets.load("mnist")  # the bundled sample's test split, as in the manifest
    inputs = datasets.preprocess_images(data.x_test)[..., np.newaxis]
    accuracy = float(np.mean(np.argmax(np.asarray(bundled_model(inputs, training=False)), 1) == data.y_test))
    assert accuracy >= 0.97
    assert accuracy == pytest.approx(drawing.bundled().manifest["test_accuracy"], abs=0.002)


def test_bundled_model_reads_drawings_from_a_hand_it_never_saw(bundled_model):
    images, labels = drawings.stroke_digits(per_digit=10, seed=7)  # not the manifest's seed
    accuracy, _ = drawings.accuracy(bundled_model, images, labels)
    assert accuracy >= 0.85


def test_bundled_weights_are_checked_before_loading(tmp_path):
    shutil.copytree(drawing.MODELS_DIR, tmp_path / "models")
    weights = tmp_path / "models" / drawing.BUNDLED / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(CnnlabError, match="checksum"):
        drawing.bundled(folder=tmp_path / "models").build_model()
    (tmp_path / "models" / "manifest.json").write_text(json.dumps({}))
    with pytest.raises(CnnlabError, match="not installed"):
        drawing.bundled(folder=tmp_path / "models")


def test_occlusion_map_lies_on_the_digit(bundled_model):
    from cnnlab.insight import inspection

    image = drawing.prepare(stroke_image(SEVEN)).network_input
    heat = inspection.occlusion(bundled_model, image, 7)
    assert heat.shape == (28, 28) and heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    near_ink = np.asarray(Image.fromarray((image > 0.2).astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(5))) > 0
    assert heat[near_ink].mean() > 2 * heat[~near_ink].mean()
    strongest = np.argsort(-heat, axis=None)[:40]
    assert near_ink.reshape(-1)[strongest].mean() >= 2 * near_ink.mean()  # far above chance
    overlay = inspection.overlay(image, heat)
    assert overlay.shape == (28, 28, 3) and overlay.dtype == np.uint8
