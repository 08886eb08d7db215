"""The convolution and pooling operations themselves, in NumPy, step by step (the Convolution page)."""

import dataclasses

import numpy as np

# report E's figure: a 5x5 binary input and a 3x3 filter; the first output cell is 4
COURSE_IMAGE = np.array([[1, 1, 1, 0, 0],
                         [0, 1, 1, 1, 0],
                         [0, 0, 1, 1, 1],
                         [0, 0, 1, 1, 0],
                         [0, 1, 1, 0, 0]], dtype=np.float32)
COURSE_KERNEL = np.array([[1, 0, 1],
                          [0, 1, 0],
                          [1, 0, 1]], dtype=np.float32)
POOL_GRID = np.array([[1, 1, 2, 4],
                      [5, 6, 7, 8],
                      [3, 2, 1, 0],
                      [1, 2, 3, 4]], dtype=np.float32)

CLASSIC_KERNELS = {  # catalogue key of the name -> weights
    "kernel.identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], np.float32),
    "kernel.sobel_x": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32),
    "kernel.sobel_y": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], np.float32),
    "kernel.laplacian": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32),
    "kernel.box_blur": np.full((3, 3), 1 / 9, np.float32),
    "kernel.gaussian_blur": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32) / 16,
    "kernel.sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float32),
}


def output_size(size, kernel, stride=1, padding="valid"):
    """Output width of a conv or pool: valid = floor((n - k) / s) + 1, same = ceil(n / s)."""
    if padding == "same":
        return -(-size // stride)
    if size < kernel:
        return 0
    return (size - kernel) // stride + 1


def _pad_same(image, kernel, stride):
    """Zero padding as Keras's 'same' does it (extra row/column at the bottom/right)."""
    out = output_size(image.shape[0], kernel, stride, "same"), output_size(image.shape[1], kernel, stride, "same")
    total = [max((o - 1) * stride + kernel - n, 0) for o, n in zip(out, image.shape)]
    return np.pad(image, [(t // 2, t - t // 2) for t in total])


@dataclasses.dataclass(frozen=True)
class Step:
    """One output cell: where the window sits, what it covers, and the arithmetic."""

    row: int
    col: int
    window: np.ndarray
    products: np.ndarray
    value: float


def computed_so_far(shape, steps):
    """The output grid as text after some steps: each computed cell's value, "" where the window has not been."""
    cells = [[""] * shape[1] for _ in range(shape[0])]
    for step in steps:
        cells[step.row][step.col] = f"{step.value:g}"
    return cells


def correlate(image, kernel, stride=1, padding="valid"):
    """What Conv2D computes (cross-correlation): (output, steps) where steps explain each cell."""
    image, kernel = np.asarray(image, np.float32), np.asarray(kernel, np.float32)
    k = kernel.shape[0]
    if padding == "same":
        image = _pad_same(image, k, stride)
    rows, cols = output_size(image.shape[0], k, stride), output_size(image.shape[1], k, stride)
    out = np.zeros((rows, cols), np.float32)
    steps = []
    for r in range(rows):
        for c in range(cols):
            window = image[r * stride: r * stride + k, c * stride: c * stride + k]
            products = window * kernel
            out[r, c] = products.sum()
            steps.append(Step(r, c, window, products, float(out[r, c])))
    return out, steps


def arithmetic(step, kernel):
    """'1×1 + 1×0 + ... = 4' for one output cell."""
    terms = [f"{a:g}×{b:g}" for a, b in zip(step.window.ravel(), np.asarray(kernel).ravel())]
    return " + ".join(terms) + f" = {step.value:g}"


def max_pool(grid, size=2):
    """Max pooling with stride = size: (output, argmax positions (row, col) in the input)."""
    grid = np.asarray(grid, np.float32)
    rows, cols = grid.shape[0] // size, grid.shape[1] // size
    out = np.zeros((rows, cols), np.float32)
    where = []
    for r in range(rows):
        for c in range(cols):
            block = grid[r * size:(r + 1) * size, c * size:(c + 1) * size]
            i, j = np.unravel_index(np.argmax(block), block.shape)
            out[r, c] = block[i, j]
            where.append((int(r * size + i), int(c * size + j)))
    return out, where


def filter_image(image, kernel):
    """A (h, w) or (h, w, 3) image in [0, 1] filtered with 'same' padding (colour: channel by channel)."""
    image = np.asarray(image, np.float32)
    if image.ndim == 3:
        return np.stack([filter_image(image[..., c], kernel) for c in range(image.shape[2])], axis=-1)
    k = np.asarray(kernel).shape[0]
    padded = _pad_same(image, k, 1)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k))  # (h, w, k, k)
    return np.einsum("hwij,ij->hw", windows, np.asarray(kernel, np.float32))
