"""Downloads: explicit, with progress, checked, atomic. A mirror on 127.0.0.1 serves files the test writes."""

import functools
import http.server
import threading

import numpy as np
import pytest
from conftest import run_cli
from test_datasets import write_fashion, write_mnist_npz

from cnnlab.data import datasets, downloads
from cnnlab.errors import DatasetUnavailable


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Truncating(_Quiet):
    """Says a file is longer than it is, then closes the connection: a transfer cut off half-way."""

    def do_GET(self):
        body = b"x" * 1000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) * 10))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A school mirror on 127.0.0.1 serving tmp_path/mirror; downloads allowed (no CNNLAB_OFFLINE)."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    servers = []

    def start(handler=_Quiet):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        monkeypatch.setenv("CNNLAB_MIRROR", f"http://127.0.0.1:{server.server_address[1]}/")
        return folder

    monkeypatch.delenv("CNNLAB_OFFLINE")
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def leftovers(isolated):
    area = isolated / "cnnlab_home" / "data"
    return sorted(p.name for p in area.iterdir()) if area.exists() else []


def test_a_download_reports_bytes_and_seconds_left_and_lands_whole(mirror, isolated):
    folder = mirror()
    x_train, y_train, x_test, y_test = write_fashion(folder, n_train=3000, n_test=500)
    seen = []
    source = downloads.download("fashion_mnist", on_progress=lambda p: seen.append(
        (p.done_bytes, p.total_bytes, p.seconds_left, p.describe())))
    assert source.kind == "data-area" and source.path.endswith("fashion-mnist")
    assert seen, "no progress was reported"
    done = [d for d, *_ in seen]
    assert done == sorted(done) and seen[-1][0] == seen[-1][1]  # ends at 100 % of the true total
    assert seen[-1][1] == sum(p.stat().st_size for p in folder.iterdir())
    assert seen[-1][2] == 0 and " of " in seen[-1][3] and "MB" in seen[-1][3]
    data = datasets.load("fashion_mnist")
    assert data.source.kind == "data-area" and data.variant == "other"
    np.testing.assert_array_equal(data.x_test, x_test)
    assert leftovers(isolated) == ["fashion-mnist"]  # no temporary folder left behind


def test_a_file_that_is_not_the_official_one_is_refused_and_nothing_kept(mirror, isolated):
    write_mnist_npz(mirror() / "mnist.npz")  # a valid npz, but not the file keras.datasets publishes
    with pytest.raises(DatasetUnavailable, match="not the official MNIST file"):
        downloads.download("mnist")
    assert leftovers(isolated) == []
    assert datasets.load("mnist").source.kind == "bundled-sample"


def test_a_transfer_cut_off_half_way_leaves_nothing(mirror, isolated):
    mirror(_Truncating)
    with pytest.raises(DatasetUnavailable, match="Downloading Fashion-MNIST failed"):
        downloads.download("fashion_mnist")
    assert leftovers(isolated) == []


def test_a_download_can_be_stopped_and_keeps_nothing(mirror, isolated):
    write_fashion(mirror(), n_train=3000, n_test=500)
    with pytest.raises(downloads.Stopped, match="stopped"):
        downloads.download("fashion_mnist", should_stop=lambda: True)
    assert leftovers(isolated) == []


class _Held(_Quiet):
    """Serves nothing until the test lets it: a download that is certainly still running."""

    gate = threading.Event()

    def do_GET(self):
        self.gate.wait(timeout=60)
        super().do_GET()


def test_the_server_runs_one_download_per_dataset_in_the_background(mirror, isolated):
    write_fashion(mirror(_Held), n_train=300, n_test=50)
    _Held.gate.clear()
    registry = downloads.Downloads()
    first = registry.start("fashion-mnist")
    try:
        assert first.status == "running"
        assert registry.start("fashion_mnist") is first  # one at a time: the second start joins the first
    finally:
        _Held.gate.set()
    assert first.wait(timeout=60) and first.status == "done", first.error
    assert registry.get("fashion_mnist") is first and first.progress.fraction == 1.0
    again = registry.start("fashion_mnist")  # a finished download may be started again
    assert again is not first and again.wait(timeout=60) and again.status == "done", again.error


def test_the_command_line_downloads_with_progress_on_stderr(mirror, isolated):
    write_fashion(mirror(), n_train=3000, n_test=500)
    out = run_cli("data", "--download", "fashion_mnist")
    assert out.returncode == 0, out.stderr
    assert "Fashion-MNIST: downloaded and checked" in out.stdout
    assert "train-images-idx3-ubyte.gz:" in out.stderr and " of " in out.stderr
    assert "cnnlab's data folder" in out.stdout


def test_training_never_downloads(mirror, isolated):
    write_fashion(mirror(), n_train=300, n_test=50)
    out = run_cli("train", "--dataset", "cifar10", "--epochs", "1")
    assert out.returncode == 2 and "CIFAR-10 is not available offline" in out.stderr
    assert leftovers(isolated) == []
