"""Why the network decided and what its filters look for, checked against oracles the tests build."""

import numpy as np
import pytest

from cnnlab import runs
from cnnlab.insight import explain
from cnnlab.networks import keras_build
from cnnlab.training import TrainConfig

# 28×28 noise with nothing (class 0), a bright 8×8 square (class 1) or a bright 8×8 cross (class 2) at a random
# place: the evidence for classes 1 and 2 is the shape, wherever it is (class 0 is what is left when there is none)
SPEC = [{"kind": "conv", "size": 8}, {"kind": "maxpool"}, {"kind": "conv", "size": 16},
        {"kind": "flatten"}, {"kind": "dense", "size": 32}]
CLASSES = 3


def shape(label, rng):
    mark = np.zeros((8, 8), bool)
    if label == 1:
        mark[:, :] = True
    elif label == 2:
        mark[3:5, :] = mark[:, 3:5] = True
    return mark


def squares(count, seed, places=None):
    """(images uint8 (count, 28, 28), labels, (top, left) of each shape)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, count)
    corners = places if places is not None else rng.integers(1, 19, (count, 2))
    images = rng.integers(0, 70, (count, 28, 28), dtype=np.uint8)
    for image, label, (top, left) in zip(images, labels, corners):
        window = image[top:top + 8, left:left + 8]
        mark = shape(label, rng)
        window[mark] = rng.integers(200, 256, mark.sum())
    return images, labels, corners


@pytest.fixture(scope="module")
def square_net():
    """A tiny network trained to read the squares (the oracle: the evidence is the square, nothing else)."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras_build.build(SPEC, (28, 28, 1), CLASSES)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    images, labels, _ = squares(1500, 0)
    model.fit(images[..., None] / 255.0, labels, epochs=6, batch_size=32, verbose=0)
    test, test_labels, corners = squares(90, 1)
    accuracy = float(np.mean(model(test[..., None] / 255.0).numpy().argmax(axis=1) == test_labels))
    assert accuracy > 0.95, accuracy
    return model, test, test_labels, corners


@pytest.mark.parametrize("layer, peaking", [("conv_1", 0.9), ("conv_2", 0.8)])
def test_grad_cam_peaks_on_the_shape_that_decides_the_class(square_net, layer, peaking):
    model, test, labels, corners = square_net
    cam = explain.GradCam(model)
    inside_share, peaks, shown = [], 0, 0
    for image, label, (top, left) in zip(test, labels, corners):
        if label == 0:
            continue  # no shape: nothing to point at
        heat = cam(image, int(label), layer)
        assert heat.shape == (28, 28) and 0 <= heat.min() and heat.max() <= 1
        mask = np.zeros((28, 28), bool)
        mask[max(top - 2, 0):top + 10, max(left - 2, 0):left + 10] = True  # the shape, and a cell's blur around it
        row, col = np.unravel_index(np.argmax(heat), heat.shape)
        shown += 1
        peaks += bool(mask[row, col])
        inside_share.append(heat[mask].sum() / max(heat.sum(), 1e-9))
    # the strongest point lies on the shape (the last conv layer's cells are coarser: 11×11 for 28×28 pixels),
    # and more than half of the heat lies in the shape's box, which is 18 % of the image
    assert peaks >= peaking * shown, (peaks, shown)
    assert np.median(inside_share) > 0.5, np.median(inside_share)


def test_grad_cam_says_where_and_for_another_class_looks_less_at_the_shape(square_net):
    model = square_net[0]
    cam = explain.GradCam(model)
    regions = {(2, 2): "where.top_left", (2, 18): "where.top_right", (18, 10): "where.bottom", (10, 10): "where.centre"}
    for place, region in regions.items():
        images, labels, _ = squares(40, 5, places=[place] * 40)
        index = int(np.flatnonzero(labels == 1)[0])
        own = cam(images[index], 1, "conv_2")
        assert explain.where(own).key == region, (place, explain.where(own).key)
        other = cam(images[index], 2, "conv_2")  # "what if": what argues for a cross in a square
        top, left = place
        assert own[top:top + 8, left:left + 8].mean() > other[top:top + 8, left:left + 8].mean()
    assert explain.where(np.zeros((28, 28))).key == "where.nowhere"


def test_activation_maximisation_excites_each_filter_more_than_noise_and_any_real_image(square_net):
    model, test = square_net[0], square_net[1]
    patterns = explain.maximise_filters(model, "conv_2")
    assert patterns.shape == (16, 28, 28, 1) and patterns.min() >= 0 and patterns.max() <= 1
    start = 0.5 + 0.05 * np.random.default_rng(0).standard_normal((16, 28, 28, 1)).astype(np.float32)
    before = np.diag(explain.filter_activations(model, "conv_2", start))
    after = np.diag(explain.filter_activations(model, "conv_2", patterns))
    alive = after > 1e-3  # a filter that never fires (a dead ReLU) has nothing to show
    assert alive.sum() >= 12, after
    factor = after[alive] / np.maximum(before[alive], 1e-3)
    # stated in the README: every live filter ×1.5 or more over the noise it starts from, ×2 in the median
    # (about the most an image in [0, 1] can do for this network: longer climbs end at the same values)
    assert factor.min() >= 1.5 and np.median(factor) >= 2.0, factor
    best_real = explain.filter_activations(model, "conv_2", test[..., None] / 255.0).max(axis=0)
    assert np.mean(after[alive] > best_real[alive]) >= 0.9, (after, best_real)  # beyond every test image


@pytest.mark.parametrize("spec, layer", [
    (SPEC, "conv_1"), (SPEC, "conv_2"),
    ([{"kind": "conv", "size": 4, "kernel": 5, "stride": 2, "padding": "same", "activation": "tanh"},
      {"kind": "maxpool", "kernel": 2}, {"kind": "conv", "size": 6, "kernel": 3, "padding": "same"},
      {"kind": "flatten"}], "conv_2"),
])
def test_one_neuron_worked_out_by_hand_is_the_networks_own_number_and_field(spec, layer):
    import keras

    keras.utils.set_random_seed(1)
    model = keras_build.build(spec, (28, 28, 1), 10)
    image = squares(1, 3)[0][0]
    maps = keras.Model(model.inputs, model.get_layer(layer).output)
    height, width, channels = maps.output.shape[1:]
    twin = open_twin(spec)
    for row, col, channel in ((height // 2, width // 2, 0), (1, width - 2, channels - 1), (0, 0, 1)):
        cell = explain.neuron(model, image, layer, row, col, channel)
        assert cell.value == pytest.approx(cell.network_value, abs=1e-4)
        assert cell.window.shape == cell.kernel.shape
        # oracle: the input pixels whose change moves this cell are exactly its receptive field, read off the
        # gradient of a twin with the same geometry in which every path is open (linear, averaging, positive
        # weights): the real network's ReLUs and max pools close some paths, so its support can only be smaller
        grad = np.abs(tape_gradient(twin, layer, image, row, col, channel))
        assert np.count_nonzero(grad) > 0
        top, left, bottom, right = cell.field
        expected = np.zeros_like(grad, dtype=bool)
        expected[top:bottom, left:right] = True
        np.testing.assert_array_equal(grad > 0, expected)
        real = np.abs(tape_gradient(model, layer, image, row, col, channel))
        assert not np.any((real > 0) & ~expected)  # the real network never reaches outside it either


def open_twin(spec):
    """A network with the geometry of spec in which every input pixel of a cell's field reaches the cell."""
    import keras

    twin_spec = [dict(layer, kind="avgpool") if layer["kind"] == "maxpool" else
                 dict(layer, activation="linear") if layer["kind"] == "conv" else layer for layer in spec]
    twin = keras_build.build(twin_spec, (28, 28, 1), 10)
    for layer in twin.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = layer.get_weights()
            layer.set_weights([np.ones_like(kernel), np.zeros_like(bias)])
    return twin


def tape_gradient(model, layer, image, row, col, channel):
    """d cell / d input pixels: (h, w)."""
    import keras
    import tensorflow as tf

    x = tf.Variable(image[None, ..., None] / 255.0 + 0.01, dtype=tf.float32)
    with tf.GradientTape() as tape:
        cell = keras.Model(model.inputs, model.get_layer(layer).output)(x)[0, row, col, channel]
    return tape.gradient(cell, x).numpy()[0, ..., 0]


def test_filter_patterns_are_computed_once_kept_with_the_run_and_remade_when_broken():
    store = runs.RunStore()
    run, _ = store.get_or_train(TrainConfig(architecture="fast", epochs=1, train_size=320, validation_split=0.25))
    model = run.build_model()
    first = explain.filter_patterns(store, run, model, "conv_1")
    path = store.derived_folder(run) / "patterns-conv_1.npy"
    stamp = path.stat().st_mtime_ns
    np.testing.assert_array_equal(explain.filter_patterns(store, run, model, "conv_1"), first)
    assert path.stat().st_mtime_ns == stamp  # read back, not climbed again
    path.write_bytes(b"not a numpy file")
    np.testing.assert_allclose(explain.filter_patterns(store, run, model, "conv_1"), first, atol=1e-5)
    store.delete(run.id)
    assert not path.parent.exists()
