import numpy as np
import pytest
from scipy import signal

from cnnlab.insight import convolution
from cnnlab.networks import architectures, keras_build


def test_course_figure_first_cell_is_4_and_matches_scipy():
    out, steps = convolution.correlate(convolution.COURSE_IMAGE, convolution.COURSE_KERNEL)
    assert out[0, 0] == 4 and len(steps) == 9
    np.testing.assert_array_equal(out, signal.correlate2d(convolution.COURSE_IMAGE, convolution.COURSE_KERNEL,
                                                          mode="valid"))
    assert convolution.arithmetic(steps[0], convolution.COURSE_KERNEL).endswith("= 4")


@pytest.mark.parametrize("n, k, s, padding", [(28, 3, 1, "valid"), (28, 3, 2, "valid"), (26, 3, 2, "valid"),
                                              (7, 3, 2, "same"), (32, 5, 1, "same"), (5, 3, 3, "same")])
def test_output_size_and_same_padding_agree_with_keras(n, k, s, padding):
    layer = architectures.conv(1, kernel=k, stride=s, padding=padding, activation="linear")
    model = keras_build.build([layer, architectures.flatten()], (n, n, 1), 2)
    conv = model.get_layer("conv_1")
    kernel = np.random.default_rng(0).standard_normal((k, k)).astype(np.float32)
    conv.set_weights([kernel[:, :, None, None], np.zeros(1, np.float32)])
    image = np.random.default_rng(1).random((n, n)).astype(np.float32)
    expected = np.asarray(conv(image[None, :, :, None]))[0, :, :, 0]
    out, _ = convolution.correlate(image, kernel, s, padding)
    assert out.shape[0] == convolution.output_size(n, k, s, padding) == expected.shape[0]
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_max_pool_keeps_the_largest_of_each_block():
    out, where = convolution.max_pool(convolution.POOL_GRID)
    np.testing.assert_array_equal(out, [[6, 8], [3, 4]])
    assert where == [(1, 1), (1, 3), (2, 0), (3, 3)]


def test_filter_image_same_size_and_identity():
    image = np.random.default_rng(2).random((10, 12)).astype(np.float32)
    np.testing.assert_allclose(convolution.filter_image(image, convolution.CLASSIC_KERNELS["kernel.identity"]), image)
    blurred = convolution.filter_image(image, convolution.CLASSIC_KERNELS["kernel.box_blur"])
    assert blurred.shape == image.shape
    assert blurred[5, 5] == pytest.approx(image[4:7, 4:7].mean(), rel=1e-5)
    assert convolution.filter_image(np.zeros((6, 6, 3)), convolution.CLASSIC_KERNELS["kernel.sharpen"]).shape == (6, 6, 3)
