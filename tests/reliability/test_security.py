"""Only files cnnlab wrote are loaded as models; user strings never become paths; the server stays local."""

import pathlib
import tomllib

import pytest

from cnnlab import drawing, runs
from cnnlab.errors import CnnlabError
from cnnlab.training import TrainConfig
from conftest import ROOT, run_cli

TINY = dict(dataset="mnist", architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)


@pytest.mark.parametrize("run_id", ["../../etc/passwd", "/etc/passwd", "..", "a" * 17, "0123456789ABCDEF",
                                    "0123456789abcde/", "~root", "%2e%2e"])
def test_run_ids_from_users_never_become_paths(run_id):
    store = runs.RunStore()
    with pytest.raises(CnnlabError):
        store.run_path(run_id)
    out = run_cli("predict", str(pathlib.Path(ROOT, "README.md")), "--run", run_id)
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_a_model_file_planted_in_the_store_is_never_loaded():
    store = runs.RunStore()
    run, _ = store.get_or_train(TrainConfig(**TINY))
    weights = run.path / "model.weights.h5"
    planted = bytearray(weights.read_bytes())
    planted[-100:] = b"\x00" * 100  # someone swaps the weights file
    weights.write_bytes(bytes(planted))
    fresh = runs.RunStore(store.root)
    assert fresh.get(run.id) is None  # the checksum no longer matches: set aside, not loaded
    assert any("set aside" in str(notice) or run.id in str(notice) for notice in fresh.notices)


def test_stored_runs_hold_weights_and_json_only():
    run, _ = runs.RunStore().get_or_train(TrainConfig(**TINY))
    assert sorted(p.name for p in run.path.iterdir()) == ["model.weights.h5", "predictions.npz", "run.json"]


def test_the_bundled_model_is_checked_before_loading():
    bundle = drawing.bundled()
    assert len(bundle.manifest["sha256"]) == 64
    assert sorted(p.name for p in bundle.folder.iterdir()) == ["model.weights.h5"]  # no pickled model file


def test_the_server_binds_to_localhost_by_default():
    config = tomllib.loads(pathlib.Path(ROOT, ".streamlit", "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    readme = pathlib.Path(ROOT, "README.md").read_text()
    assert "--server.address 0.0.0.0" in readme  # how to open it to a classroom deliberately
