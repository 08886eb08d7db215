"""Only files cnnlab wrote are loaded as models; user strings never become paths; the server stays local."""

import json
import os
import pathlib
import shutil

import pytest
from conftest import ROOT, run_cli

from cnnlab import runs
from cnnlab.errors import CnnlabError
from cnnlab.insight import drawing
from cnnlab.runs import entries
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)


@pytest.mark.parametrize("run_id", ["../../etc/passwd", "/etc/passwd", "..", "a" * 17, "0123456789ABCDEF",
                                    "0123456789abcde/", "~root", "%2e%2e"])
def test_run_ids_from_users_never_become_paths(run_id):
    store = runs.RunStore()
    with pytest.raises(CnnlabError):
        store.run_path(run_id)
    out = run_cli("predict", str(pathlib.Path(ROOT, "README.md")), "--run", run_id)
    assert out.returncode == 2 and "Traceback" not in out.stderr


def tamper(how, run, other):
    """Change a stored run the way a careless or mischievous hand would; other is a second, valid run."""
    record = json.loads((run.path / "run.json").read_text())
    if how == "better_accuracy":  # a student edits the score shown on every page
        record["metrics"]["test_accuracy"] = 0.999
    elif how == "history":  # the learning curves say something else
        record["history"]["val_accuracy"] = [0.99] * len(record["history"]["val_accuracy"])
    elif how == "data":  # claims another copy of the data
        record["data"]["test_fingerprint"] = other.record["data"]["test_fingerprint"][::-1]
    elif how == "settings":  # another network under the same id
        record["config"]["architecture"] = "net_1"
    elif how == "swapped_weights":  # a valid weights file of another network of the same shape
        shutil.copyfile(other.path / "model.weights.h5", run.path / "model.weights.h5")
    elif how == "swapped_predictions":  # valid predictions of another run: wrong mistakes and matrix
        shutil.copyfile(other.path / "predictions.npz", run.path / "predictions.npz")
    if how in ("better_accuracy", "history", "data", "settings"):
        (run.path / "run.json").write_text(json.dumps(record))


@pytest.mark.parametrize("how", ["better_accuracy", "history", "data", "settings", "swapped_weights",
                                 "swapped_predictions"])
def test_a_run_changed_after_it_was_written_is_refused(how):
    store = runs.RunStore()
    run, _ = store.get_or_train(TrainConfig(**TINY))
    other, _ = store.get_or_train(TrainConfig(**dict(TINY, seed=1)))
    tamper(how, run, other)
    fresh = runs.RunStore(store.root)
    if how.startswith("swapped"):  # a file of the same size: caught when it is read, not on every listing
        found = fresh.get(run.id)
        with pytest.raises(runs.RunDamaged, match="does not match its checksum"):
            found.build_model() if how == "swapped_weights" else found.predictions()
    assert fresh.get(run.id) is None  # never shown, never loaded
    assert [r.id for r in fresh.list()] == [other.id]
    notice = str(fresh.notices[0])
    assert run.id in notice and "was damaged" in notice
    assert any(p.name.startswith(run.id) for p in (store.root / "corrupt").iterdir())  # kept for the teacher


def test_the_checksums_are_not_a_signature():
    """What they do not protect against, said by a test: whoever can write the store can rewrite a run whole,
    checksums included. Such a forgery loads, but only as weights into the network rebuilt from its settings:
    it can make a run's numbers wrong, never run code. The store's folder must be writable by cnnlab alone."""
    store = runs.RunStore()
    run, _ = store.get_or_train(TrainConfig(**TINY))
    other, _ = store.get_or_train(TrainConfig(**dict(TINY, seed=1)))
    shutil.copyfile(other.path / "model.weights.h5", run.path / "model.weights.h5")
    record = json.loads((run.path / "run.json").read_text())
    record["checksums"]["model.weights.h5"] = entries._sha256(run.path / "model.weights.h5")
    record["record_sha256"] = entries._record_checksum(record)
    (run.path / "run.json").write_text(json.dumps(record))
    forged = runs.RunStore(store.root).get(run.id)
    assert forged is not None  # accepted: consistent files are indistinguishable from real ones
    model = forged.build_model()
    assert [layer.__class__.__name__ for layer in model.layers] == \
        [layer.__class__.__name__ for layer in other.build_model().layers]  # its own network, nothing else


def test_stored_runs_hold_weights_and_json_only():
    run, _ = runs.RunStore().get_or_train(TrainConfig(**TINY))
    assert sorted(p.name for p in run.path.iterdir()) == ["model.weights.h5", "predictions.npz", "run.json",
                                                          "timeline.npz"]
    import numpy as np

    for name in ("predictions.npz", "timeline.npz"):  # plain arrays: readable without unpickling anything
        with np.load(run.path / name, allow_pickle=False) as arrays:
            assert all(arrays[key].dtype != object for key in arrays.files)


def test_the_bundled_model_is_checked_before_loading(tmp_path, monkeypatch):
    bundle = drawing.bundled()
    assert sorted(p.name for p in bundle.folder.iterdir()) == ["model.weights.h5"]  # no pickled model file
    assert bundle.build_model().count_params() > 0  # the shipped weights match their checksum
    copy = tmp_path / "models"
    shutil.copytree(bundle.folder.parent, copy)
    weights = copy / bundle.folder.name / "model.weights.h5"
    raw = bytearray(weights.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one byte changed in the middle of the weights: still a readable HDF5 file
    weights.write_bytes(bytes(raw))
    monkeypatch.setenv("CNNLAB_MODELS_DIR", str(copy))
    with pytest.raises(CnnlabError, match="checksum"):
        drawing.bundled().build_model()  # refused before Keras reads a byte of it
    weights.unlink()
    with pytest.raises(CnnlabError, match="model.weights.h5"):
        drawing.bundled().build_model()


def listening(port):
    """The local addresses (hex, as the kernel writes them) of the sockets listening on TCP port: 0100007F is
    127.0.0.1; 00000000 and the all-zero IPv6 address are every interface."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in pathlib.Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.append(address)
    return found


def test_the_server_listens_on_localhost_only_unless_told_otherwise(isolated):
    """`streamlit run app.py` as the README says, with no address given: the socket it listens on is 127.0.0.1's
    alone (.streamlit/config.toml), so nobody else on the school's network reaches it by accident."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=ROOT, XDG_CONFIG_HOME=str(isolated / "xdg"))
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("streamlit did not start")
        assert listening(port) == ["0100007F"]  # 127.0.0.1, and no socket on every interface
    finally:
        process.terminate()
        process.wait(timeout=15)
    readme = pathlib.Path(ROOT, "README.md").read_text()
    assert "--server.address 0.0.0.0" in readme  # how to open it to a classroom deliberately
