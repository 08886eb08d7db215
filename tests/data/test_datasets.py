import gzip
import os
import pickle
import tarfile

import numpy as np
import pytest

from cnnlab.data import catalogue, datasets, readers, sources
from cnnlab.errors import DatasetUnavailable


def fake_images(n, shape, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


def write_mnist_npz(path, n_train=12, n_test=5):
    arrays = {"x_train": fake_images(n_train, (28, 28), 1), "y_train": np.arange(n_train, dtype=np.uint8) % 10,
              "x_test": fake_images(n_test, (28, 28), 2), "y_test": np.arange(n_test, dtype=np.uint8) % 10}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


def idx_bytes(array):
    """The IDX format: two zero bytes, type 0x08 (uint8), ndim, big-endian int32 sizes, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return header + array.tobytes()


def write_fashion(folder, n_train=9, n_test=4):
    x_train, x_test = fake_images(n_train, (28, 28), 3), fake_images(n_test, (28, 28), 4)
    y_train, y_test = np.arange(n_train, dtype=np.uint8) % 10, np.arange(n_test, dtype=np.uint8) % 10
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in (("train-images-idx3-ubyte.gz", x_train), ("train-labels-idx1-ubyte.gz", y_train),
                        ("t10k-images-idx3-ubyte.gz", x_test), ("t10k-labels-idx1-ubyte.gz", y_test)):
        with gzip.open(folder / name, "wb") as f:
            f.write(idx_bytes(array))
    return x_train, y_train, x_test, y_test


def cifar_batch(n, seed):
    """A batch as CIFAR-10's python version pickles it: rows of 1024 R, 1024 G, 1024 B bytes."""
    images = fake_images(n, (32, 32, 3), seed)
    rows = images.transpose(0, 3, 1, 2).reshape(n, 3072)
    labels = [int(v) for v in np.random.default_rng(seed).integers(0, 10, n)]
    return images, labels, pickle.dumps({b"batch_label": b"x", b"labels": labels, b"data": rows,
                                         b"filenames": [b"f.png"] * n}, protocol=2)


def write_cifar_folder(folder, n=3):
    folder.mkdir(parents=True, exist_ok=True)
    train_images, train_labels = [], []
    for i in range(1, 6):
        images, labels, raw = cifar_batch(n, 10 + i)
        (folder / f"data_batch_{i}").write_bytes(raw)
        train_images.append(images)
        train_labels += labels
    test_images, test_labels, raw = cifar_batch(n, 99)
    (folder / "test_batch").write_bytes(raw)
    return np.concatenate(train_images), np.array(train_labels), test_images, np.array(test_labels)


def test_bundled_sample_is_10000_real_digits_in_a_fixed_split():
    source = datasets.resolve_source("mnist")
    assert source.kind == "bundled-sample"
    data = datasets.load("mnist")
    assert data.variant == "sample" and data.variant_label == "sample"
    assert data.x_train.shape == (8000, 28, 28) and data.x_test.shape == (2000, 28, 28)
    assert data.x_train.dtype == np.uint8
    assert set(np.unique(data.y_train)) == set(range(10)) and set(np.unique(data.y_test)) == set(range(10))
    # real digits: mostly black background, white strokes in the middle, like MNIST's mean of ~33
    assert 25 < data.x_train.mean() < 40
    assert data.x_train[:, :3, :].mean() < 1 and data.x_train[:, 10:18, 10:18].mean() > 60
    assert "bundled" in data.summary() and "8,000" in data.summary()
    assert not data.x_train.flags.writeable  # shared by all callers


def test_keras_cache_npz_is_used_first(isolated):
    arrays = write_mnist_npz(isolated / "keras_home" / "datasets" / "mnist.npz")
    data = datasets.load("mnist")
    assert data.source.kind == "keras-cache" and data.variant == "other"  # 12 + 5 images: not the full MNIST
    assert data.variant_label == "other copy (12 + 5 images)"
    np.testing.assert_array_equal(data.x_train, arrays["x_train"])
    np.testing.assert_array_equal(data.y_test, arrays["y_test"])


def test_data_dir_fashion_idx_gz(isolated, monkeypatch):
    x_train, y_train, x_test, y_test = write_fashion(isolated / "data" / "fashion-mnist")
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(isolated / "data"))
    data = datasets.load("fashion-mnist")
    assert data.source.kind == "data-dir"
    np.testing.assert_array_equal(data.x_train, x_train)
    np.testing.assert_array_equal(data.y_train, y_train)
    np.testing.assert_array_equal(data.x_test, x_test)
    np.testing.assert_array_equal(data.y_test, y_test)


def test_debian_fashion_folder(isolated, monkeypatch):
    x_train, *_ = write_fashion(isolated / "debian")
    monkeypatch.setattr(sources, "DEBIAN_FASHION_DIR", isolated / "debian")
    data = datasets.load("fashion_mnist")
    assert data.source.kind == "debian"
    np.testing.assert_array_equal(data.x_train, x_train)


def test_source_order_keras_cache_then_data_dir_then_debian(isolated, monkeypatch):
    write_fashion(isolated / "debian")
    monkeypatch.setattr(sources, "DEBIAN_FASHION_DIR", isolated / "debian")
    assert sources.local_source("fashion_mnist").kind == "debian"
    write_fashion(isolated / "data" / "fashion-mnist")
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(isolated / "data"))
    assert sources.local_source("fashion_mnist").kind == "data-dir"
    write_fashion(isolated / "keras_home" / "datasets" / "fashion-mnist")
    assert sources.local_source("fashion_mnist").kind == "keras-cache"


def test_cifar_batches_in_keras_3_layout(isolated):
    folder = isolated / "keras_home" / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    x_train, y_train, x_test, y_test = write_cifar_folder(folder)
    data = datasets.load("cifar10")
    assert data.source.kind == "keras-cache"
    assert data.x_train.shape == (15, 32, 32, 3)
    np.testing.assert_array_equal(data.x_train, x_train)  # channel-first rows become (h, w, c) pixels
    np.testing.assert_array_equal(data.y_train, y_train)
    np.testing.assert_array_equal(data.x_test, x_test)
    np.testing.assert_array_equal(data.y_test, y_test)


def test_cifar_read_straight_from_the_tar_gz(isolated, monkeypatch):
    folder = isolated / "build" / "cifar-10-batches-py"
    x_train, _, x_test, _ = write_cifar_folder(folder)
    (isolated / "data").mkdir()
    with tarfile.open(isolated / "data" / "cifar-10-python.tar.gz", "w:gz") as archive:
        archive.add(folder, arcname="cifar-10-batches-py")
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(isolated / "data"))
    data = datasets.load("cifar10")
    assert data.source.kind == "data-dir" and data.source.path.endswith(".tar.gz")
    np.testing.assert_array_equal(data.x_train, x_train)
    np.testing.assert_array_equal(data.x_test, x_test)


def test_cifar_missing_says_how_to_get_it_without_network():
    with pytest.raises(DatasetUnavailable) as caught:
        datasets.load("cifar10")
    message = str(caught.value)
    assert "python -m cnnlab data --download cifar10" in message and "CNNLAB_DATA_DIR" in message
    row = {r["dataset"]: r for r in sources.describe_sources()}["cifar10"]
    assert not row["available"] and row["how_to_get"] == message


def test_a_pickle_that_runs_code_is_refused(isolated):
    # os.system, not print: a local Ray started earlier in the same process replaces builtins.print with its own
    marker = isolated / "owned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    folder = isolated / "keras_home" / "datasets" / "cifar-10-batches-py"
    write_cifar_folder(folder)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]}))
    with pytest.raises(DatasetUnavailable, match=r"refusing to load (posix|os)\.system from a CIFAR batch"):
        datasets.load("cifar10")
    assert not marker.exists()


def test_corrupt_files_give_a_clear_message(isolated):
    path = isolated / "keras_home" / "datasets" / "mnist.npz"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(DatasetUnavailable, match="unreadable.*get a fresh copy"):
        datasets.load("mnist")


def test_idx_with_a_wrong_size_is_refused():
    raw = idx_bytes(np.zeros((3, 28, 28), np.uint8))[:-10]
    with pytest.raises(ValueError, match="declares shape"):
        readers._read_idx(raw)


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(DatasetUnavailable, match="choose one of mnist, fashion_mnist, cifar10"):
        catalogue.get_info("imagenet")


def test_offline_never_tries_to_download(monkeypatch):
    def no_socket(*args, **kwargs):
        raise AssertionError("the network was touched")

    from cnnlab.data import downloads

    monkeypatch.setattr(datasets.socket, "create_connection", no_socket)
    with pytest.raises(DatasetUnavailable, match="No network"):
        downloads.download("fashion_mnist")
    with pytest.raises(DatasetUnavailable, match="CIFAR-10 is not available offline"):
        datasets.load("cifar10")  # loading never downloads, online or not


def test_preprocessing_scales_and_adds_the_channel_axis():
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    out = datasets.preprocess_images(images)
    assert out.shape == (1, 2, 2, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, :, :, 0], [[0, 1], [0.2, 0.4]])
    assert datasets.preprocess_images(np.zeros((2, 32, 32, 3), np.uint8)).shape == (2, 32, 32, 3)


def test_a_fingerprint_follows_the_contents_not_the_file(isolated):
    path = isolated / "keras_home" / "datasets" / "mnist.npz"
    write_mnist_npz(path)
    first = datasets.load("mnist")
    assert len(first.fingerprint) == len(first.test_fingerprint) == 16
    assert datasets.load("mnist").fingerprint == first.fingerprint  # the same contents, the same fingerprint
    arrays = dict(np.load(path))
    arrays["y_test"] = (arrays["y_test"] + 1) % 10  # one change in the test labels, same file name
    np.savez(path, **arrays)
    os.utime(path, ns=(1, 1))  # even with an old timestamp the new size/mtime is seen
    second = datasets.load("mnist")
    assert second.test_fingerprint != first.test_fingerprint and second.fingerprint != first.fingerprint
    np.testing.assert_array_equal(second.y_test, arrays["y_test"])  # read again, not the cached copy


def test_every_local_copy_is_listed_in_order(isolated, monkeypatch):
    write_mnist_npz(isolated / "keras_home" / "datasets" / "mnist.npz")
    write_mnist_npz(isolated / "cnnlab_home" / "data" / "mnist.npz", n_test=7)
    kinds = [source.kind for source in sources.local_sources("mnist")]
    assert kinds == ["keras-cache", "data-area", "bundled-sample"]
    sample = datasets.load("mnist", source=sources.local_sources("mnist")[-1])
    found = datasets.load_matching("mnist", test_fingerprint=sample.test_fingerprint)
    assert found.source.kind == "bundled-sample"  # found by its fingerprint, though it comes last
    assert datasets.load_matching("mnist", y_test=sample.y_test).source.kind == "bundled-sample"
    assert datasets.load_matching("mnist", test_fingerprint="0" * 16) is None
