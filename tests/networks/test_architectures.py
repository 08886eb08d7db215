import numpy as np
import pytest
from scipy import signal

from cnnlab import i18n
from cnnlab.errors import SpecError
from cnnlab.networks import architectures as arch
from cnnlab.networks import counting, keras_build

SHAPES = {"28x28x1": (28, 28, 1), "32x32x3": (32, 32, 3)}


@pytest.mark.parametrize("name", sorted(arch.PRESETS))
def test_preset_parameter_counts_match_the_reports(name):
    preset = arch.PRESETS[name]
    assert preset.params, "every preset states at least one parameter count"
    for key, expected in preset.params.items():
        model = keras_build.build(preset.layers, SHAPES[key], 10)
        assert model.count_params() == expected
        assert counting.count_params(preset.layers, SHAPES[key], 10) == expected


def test_report_numbers_spelled_out():
    # the figures printed in ../shared/reference/course-experiments.md
    assert arch.PRESETS["net_1"].params == {"28x28x1": 1_199_882, "32x32x3": 1_626_442}
    assert arch.PRESETS["net_2"].params["28x28x1"] == 1_199_882
    assert arch.PRESETS["cool_cnn_3"].params["32x32x3"] == 477_994
    assert arch.PRESETS["model_2"].params["32x32x3"] == 2_122_186
    assert arch.PRESETS["proposed"].params["32x32x3"] == 1_193_642
    assert arch.PRESETS["keras_tutorial"].params["32x32x3"] == 122_570
    convs = [r.params for r in counting.summarize("keras_tutorial", (32, 32, 3), 10) if r.name.startswith("conv")]
    assert sum(convs) == 56_320


@pytest.mark.parametrize("name", sorted(arch.PRESETS))
@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
def test_plain_python_summary_agrees_with_keras(name, shape):
    rows = counting.summarize(name, shape, 10)
    model = keras_build.build(name, shape, 10)
    keras_layers = model.layers[1:]  # without the Input layer
    assert [r.name for r in rows] == [layer.name for layer in keras_layers]
    assert [r.output_shape for r in rows] == [tuple(layer.output.shape[1:]) for layer in keras_layers]
    assert [r.params for r in rows] == [layer.count_params() for layer in keras_layers]


def test_net_2_second_conv_outputs_12x12x64():
    rows = counting.summarize("net_2", (28, 28, 1), 10)
    assert rows[1].output_shape == (12, 12, 64)


def test_one_filter_conv_equals_scipy_correlate2d():
    rng = np.random.default_rng(0)
    image = rng.random((9, 11)).astype(np.float32)
    kernel = rng.standard_normal((3, 3)).astype(np.float32)
    model = keras_build.build([arch.conv(1, activation="linear"), arch.flatten()], (9, 11, 1), 2)
    conv = model.get_layer("conv_1")
    conv.set_weights([kernel[:, :, None, None], np.zeros(1, np.float32)])
    feature_map = np.asarray(conv(image[None, :, :, None]))[0, :, :, 0]
    np.testing.assert_allclose(feature_map, signal.correlate2d(image, kernel, mode="valid"), rtol=1e-5, atol=1e-5)


def test_course_figure_convolution_gives_4():
    # report E's figure: a 5x5 binary input and a 3x3 filter; the top-left output cell is 4
    image = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]], np.float32)
    kernel = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], np.float32)
    model = keras_build.build([arch.conv(1, activation="linear"), arch.flatten()], (5, 5, 1), 2)
    conv = model.get_layer("conv_1")
    conv.set_weights([kernel[:, :, None, None], np.zeros(1, np.float32)])
    out = np.asarray(conv(image[None, :, :, None]))[0, :, :, 0]
    assert out[0, 0] == 4
    np.testing.assert_array_equal(out, signal.correlate2d(image, kernel, mode="valid"))


def test_kernel_larger_than_input_names_the_layer_and_the_fix():
    # 28 -> pool 14 -> pool 7 -> conv 5 -> pool 2 -> a 3x3 conv cannot fit
    spec = [arch.maxpool(), arch.maxpool(), arch.conv(8), arch.maxpool(), arch.conv(8, kernel=3), arch.flatten()]
    with pytest.raises(SpecError) as caught:
        counting.summarize(spec, (28, 28, 1), 10)
    message = str(caught.value)
    assert "Layer 5 (Conv2D)" in message and "2×2 input is smaller than its 3×3" in message
    assert "padding='same'" in message
    with pytest.raises(SpecError, match="Layer 5"):
        keras_build.build(spec, (28, 28, 1), 10)  # build checks before Keras does


@pytest.mark.parametrize("spec, expected", [
    ([arch.conv(8), arch.dense(10)], "Layer 2 (Dense) gets a 26×26×8 image-shaped input: add a Flatten"),
    ([arch.conv(8)], "ends with a 26×26×8 image-shaped output"),
    ([arch.flatten(), arch.conv(8)], "Layer 2 (Conv2D) needs an image-shaped input"),
    ([{"kind": "convolution"}], "Layer 1: unknown kind 'convolution'"),
    ([{"kind": "dense", "size": 10, "activation": "softplus2"}, ], "unknown activation 'softplus2'"),
    ([{"kind": "dropout", "rate": 1.5}], "rate must be at least 0 and below 1"),
    ([{"kind": "conv", "size": 2.5}], "sizes must be whole numbers"),
    ([{"kind": "conv", "size": 0}, arch.flatten()], "number of filters must be from 1 to 4096"),
    ("[{\"kind\": \"conv\",]", "not valid JSON"),
    ("resnet_9000", "Unknown architecture 'resnet_9000'"),
    ([], "at least one layer"),
])
def test_invalid_specs_get_messages_a_student_can_act_on(spec, expected):
    with pytest.raises(SpecError) as caught:
        counting.summarize(spec, (28, 28, 1), 10)
    assert expected in str(caught.value)


def test_spec_round_trips_through_dicts_and_json():
    layers = arch.PRESETS["proposed"].layers
    dicts = [layer.to_dict() for layer in layers]
    assert arch.parse_spec(dicts) == layers
    import json
    assert arch.parse_spec(json.dumps(dicts)) == layers


def test_table_rows_with_other_columns_are_accepted():
    # the layer editor's table carries every column; fields of other kinds are ignored
    row = {"kind": "maxpool", "size": 64, "kernel": 2, "stride": None, "padding": "valid",
           "activation": "relu", "rate": float("nan")}
    assert arch.Layer.from_dict(row) == arch.maxpool(2)


def test_dropout_setting_overrides_every_dropout_layer():
    layers, note = arch.with_dropout(arch.PRESETS["cool_cnn_3"].layers, 0.5)
    assert note is None
    assert [l.rate for l in layers if l.kind == "dropout"] == [0.5, 0.5, 0.5]
    assert counting.count_params(layers, (32, 32, 3), 10) == 477_994


def test_dropout_setting_on_a_network_without_dropout_says_so():
    layers, note = arch.with_dropout(arch.PRESETS["net_1"].layers, 0.3)
    assert layers == arch.PRESETS["net_1"].layers
    assert "no Dropout layer" in i18n.text(note)


def test_output_layer_is_float32_softmax():
    model = keras_build.build("fast", (28, 28, 1), 10)
    assert model.get_layer("output").dtype_policy.compute_dtype == "float32"
    out = np.asarray(model(np.zeros((2, 28, 28, 1), np.float32)))
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
