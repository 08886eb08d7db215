import io

import numpy as np
import pytest
from PIL import Image
from scipy import signal

from cnnlab.errors import CnnlabError
from cnnlab.insight import inspection
from cnnlab.networks import architectures, keras_build


def test_feature_maps_of_every_conv_layer_match_a_scipy_oracle():
    model = keras_build.build([architectures.conv(2, activation="linear"), architectures.maxpool(),
                               architectures.conv(3), architectures.flatten()], (12, 12, 1), 10)
    rng = np.random.default_rng(1)
    kernel = rng.standard_normal((3, 3, 1, 2)).astype(np.float32)
    model.get_layer("conv_1").set_weights([kernel, np.zeros(2, np.float32)])
    extractor, names = inspection.feature_extractor(model)
    assert names == ["conv_1", "conv_2"]
    image = rng.integers(0, 256, (12, 12), dtype=np.uint8)
    maps = inspection.feature_maps(extractor, names, image)
    assert maps["conv_1"].shape == (10, 10, 2) and maps["conv_2"].shape == (3, 3, 3)
    expected = signal.correlate2d(image / 255.0, kernel[:, :, 0, 1], mode="valid")
    np.testing.assert_allclose(maps["conv_1"][:, :, 1], expected, atol=1e-5)


def test_a_network_without_convolutions_has_no_extractor():
    model = keras_build.build("mlp_512", (28, 28, 1), 10)
    assert inspection.feature_extractor(model) == (None, [])


def test_filters_are_per_filter_scaled_to_unit_range():
    model = keras_build.build("fast", (28, 28, 1), 10)
    kernels = inspection.filters(model, "conv_2")
    assert kernels.shape == (32, 3, 3, 16)
    assert np.allclose(kernels.min(axis=(1, 2, 3)), 0) and np.allclose(kernels.max(axis=(1, 2, 3)), 1)


def test_tile_places_images_in_a_grid_with_gaps():
    images = np.stack([np.full((2, 2), v, np.float32) for v in (0.0, 0.5, 1.0)])
    grid = inspection.tile(images, columns=2, pad=1)
    assert grid.shape == (5, 5)
    assert grid[0, 0] == 0 and grid[0, 3] == 0.5 and grid[3, 0] == 1.0 and grid[0, 2] == 1.0
    assert inspection.tile(images, columns=3, pad=0, scale=2).shape == (4, 12)


def test_mistakes_come_most_confident_first():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    y_true = np.array([0, 0, 0, 1])
    found = inspection.mistakes(probabilities, y_true)
    assert [(m.index, m.true, m.predicted) for m in found] == [(1, 0, 1), (3, 1, 0), (2, 0, 1)]
    assert found[0].confidence == pytest.approx(0.8)
    np.testing.assert_array_equal(inspection.cell_indices(probabilities, y_true, 0, 1), [1, 2])


def test_most_confused_pairs():
    matrix = np.array([[5, 3, 0], [0, 4, 1], [7, 0, 2]])
    assert inspection.most_confused(matrix, ["a", "b", "c"], top=2) == [("c", "a", 7), ("a", "b", 3)]


def history(train_acc, val_acc, val_loss):
    return {"accuracy": train_acc, "val_accuracy": val_acc, "loss": [1.0] * len(train_acc), "val_loss": val_loss}


def test_overfitting_verdict_reads_the_curves():
    rising = inspection.overfitting_verdict(history([0.8, 0.9, 0.95, 0.99, 0.995], [0.78, 0.85, 0.86, 0.85, 0.84],
                                                    [0.6, 0.45, 0.44, 0.52, 0.6]))
    assert rising.kind == "overfitting" and rising.best_epoch == 2 and "epoch 3" in rising.message
    healthy = inspection.overfitting_verdict(history([0.8, 0.9, 0.95], [0.82, 0.91, 0.95], [0.5, 0.3, 0.2]))
    assert healthy.kind == "good"
    low = inspection.overfitting_verdict(history([0.2, 0.25, 0.3], [0.2, 0.26, 0.3], [2.2, 2.1, 2.0]))
    assert low.kind == "underfitting"
    assert inspection.overfitting_verdict({"accuracy": [0.9], "loss": [0.3]}).kind == "no-validation"


def png(mode, size, color):
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_upload_is_resized_and_dark_ink_on_paper_is_inverted():
    image = Image.new("L", (100, 100), 255)
    image.paste(0, (40, 10, 60, 90))  # a dark vertical stroke on white paper
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    pixels = inspection.image_from_upload(buffer.getvalue(), (28, 28, 1))
    assert pixels.shape == (28, 28) and pixels.dtype == np.uint8
    assert pixels[14, 14] > 200 and pixels[2, 2] < 20  # now white ink on black, like MNIST
    colour = inspection.image_from_upload(png("RGB", (64, 48), (10, 200, 30)), (32, 32, 3))
    assert colour.shape == (32, 32, 3) and tuple(colour[5, 5]) == (10, 200, 30)


@pytest.mark.parametrize("raw, expected", [
    (b"", "empty"),
    (b"hello, I am text with a .png name", "not an image"),
    (png("RGB", (8, 8), 0)[:40], "not an image"),
])
def test_bad_uploads_get_a_reason(raw, expected):
    with pytest.raises(CnnlabError, match=expected):
        inspection.image_from_upload(raw, (28, 28, 1))


def test_colormap_is_viridis_from_purple_to_yellow():
    rgb = inspection.apply_colormap(np.array([[0.0, 1.0]]))
    assert rgb.shape == (1, 2, 3)
    assert tuple(rgb[0, 0]) == (68, 1, 84) and tuple(rgb[0, 1]) == (253, 231, 37)
