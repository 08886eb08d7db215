import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT

from cnnlab import runs
from cnnlab.course import exports
from cnnlab.errors import CnnlabError, TrainingStoppedEarly
from cnnlab.runs import entries
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)


def test_a_cache_hit_returns_identical_weights_and_metrics():
    store = runs.RunStore()
    trained = []
    run, cached = store.get_or_train(TrainConfig(**TINY), on_epoch_end=lambda e, logs: trained.append(e))
    assert not cached and trained == [0] and run.complete
    again, cached = store.get_or_train(TrainConfig(**TINY), on_epoch_end=lambda e, logs: trained.append(e))
    assert cached and trained == [0]  # nothing trained the second time
    assert again.id == run.id and again.metrics == run.metrics and again.history == run.history
    first, second = run.build_model().get_weights(), again.build_model().get_weights()
    assert len(first) == len(second) > 0
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    probabilities, y_test = again.predictions()
    assert probabilities.shape == (2000, 10) and y_test.shape == (2000,)
    row = again.summary_row()
    assert row["architecture"] == "fast" and row["data"] == "sample" and row["params"] == 56_714


def test_rebuilt_model_predicts_what_was_stored():
    store = runs.RunStore()
    run, _ = store.get_or_train(TrainConfig(**TINY))
    from cnnlab import training
    from cnnlab.data import datasets
    probabilities, _ = run.predictions()
    again = training.predict(run.build_model(), datasets.load("mnist").x_test)
    np.testing.assert_allclose(again, probabilities, atol=1e-5)


@pytest.mark.parametrize("damage", ["truncate_weights", "garbage_json", "delete_predictions", "edit_config"])
def test_a_damaged_entry_is_set_aside_and_retrained(damage):
    store = runs.RunStore()
    run, _ = store.get_or_train(TrainConfig(**TINY))
    if damage == "truncate_weights":
        weights = run.path / "model.weights.h5"
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "garbage_json":
        (run.path / "run.json").write_text('{"format": 1, "id": ')
    elif damage == "delete_predictions":
        (run.path / "predictions.npz").unlink()
    else:
        record = json.loads((run.path / "run.json").read_text())
        record["config"]["epochs"] = 50
        (run.path / "run.json").write_text(json.dumps(record))
    fresh = runs.RunStore(store.root)
    assert fresh.get(run.id) is None
    notice = str(fresh.notices[0])
    assert len(fresh.notices) == 1 and run.id in notice and "retrained" in notice
    assert len(list((store.root / "corrupt").iterdir())) == 1
    assert fresh.list() == []
    again, cached = fresh.get_or_train(TrainConfig(**TINY))
    assert not cached and again.id == run.id and again.complete


def test_run_ids_from_users_never_become_paths():
    store = runs.RunStore()
    for bad in ("../../etc", "/etc/passwd", "abc", "0123456789ABCDEF", "0123456789abcdef/.."):
        with pytest.raises(CnnlabError, match="is not a run id"):
            store.get(bad)
    assert store.get("0123456789abcdef") is None


def test_a_stopped_run_is_kept_marked_and_replaced_by_a_full_training():
    store = runs.RunStore()
    config = TrainConfig(**dict(TINY, epochs=3))
    done = []
    stopped, cached = store.get_or_train(config, on_epoch_end=lambda epoch, logs: done.append(epoch),
                                         should_stop=lambda: len(done) >= 1)  # Stop early in the second epoch
    assert not cached and not stopped.complete and stopped.record["status"] == "stopped"
    assert stopped.record["epochs_completed"] == 1 and done == [0]  # whole epochs only: the cut one is not counted
    assert {len(values) for values in stopped.history.values()} == {1} and len(stopped.record["epoch_seconds"]) == 1
    assert len(stopped.timeline()["spread"]) == 2  # the random start and the one whole epoch
    assert store.get(stopped.id).record["status"] == "stopped"  # the partial run is kept
    script = exports.script(stopped)  # the code that trains it again trains the epochs it kept
    assert "EPOCHS = 1\n" in script and "stopped after 1 of 3 epochs, so the code trains 1" in script
    full, cached = store.get_or_train(config)
    assert not cached and full.complete and full.id == stopped.id and full.record["epochs_completed"] == 3


def test_a_run_stopped_inside_its_first_epoch_is_not_stored_and_says_why():
    store = runs.RunStore()
    with pytest.raises(TrainingStoppedEarly, match="no epoch was completed"):
        store.get_or_train(TrainConfig(**dict(TINY, epochs=3)), should_stop=lambda: True)
    assert list((store.root / "runs").iterdir()) == [] and store.list() == []  # no run with zero epochs
    assert list((store.root / "tmp").iterdir()) == []


def test_leftovers_of_a_dead_writer_are_cleaned():
    store = runs.RunStore()
    dead = store.root / "tmp" / "0123456789abcdef.999999999.deadbeef"
    dead.mkdir()
    (dead / "run.json").write_text("{")
    store.clean_tmp()
    assert not dead.exists()


def test_two_processes_asking_for_the_same_settings_train_once(isolated):
    args = ["-m", "cnnlab", "train", "--architecture", "fast", "--epochs", "1", "--batch-size", "32",
            "--train-size", "320", "--validation-split", "0.25", "--json"]
    env = dict(os.environ, PYTHONPATH=ROOT)
    procs = [subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env, cwd=ROOT) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert sorted(r["cached"] for r in results) == [False, True]
    assert results[0]["run_id"] == results[1]["run_id"]
    assert results[0]["test_accuracy"] == results[1]["test_accuracy"]
    assert len(list((isolated / "cnnlab_home" / "runs").iterdir())) == 1


def test_listing_a_store_reads_only_what_changed_and_checks_files_when_they_are_read(monkeypatch):
    store = runs.RunStore()
    first, _ = store.get_or_train(TrainConfig(**TINY))
    second, _ = store.get_or_train(TrainConfig(**dict(TINY, seed=1)))
    hashed = []
    real = entries._sha256
    monkeypatch.setattr(entries, "_sha256", lambda path: hashed.append(path.name) or real(path))
    fresh = runs.RunStore(store.root)
    assert {r.id for r in fresh.list()} == {first.id, second.id} and hashed == []  # no file hashed to list
    reads = []
    real_read = fresh._read
    monkeypatch.setattr(fresh, "_read", lambda run_id, path: reads.append(run_id) or real_read(run_id, path))
    for _ in range(3):
        fresh.list()
    assert reads == []  # nothing changed on disk: nothing read again
    run = fresh.get(first.id)
    run.predictions()
    run.predictions()
    run.build_model()
    assert hashed == ["predictions.npz", "model.weights.h5"]  # each checked once, when first read


def test_a_run_replaced_under_its_id_has_a_new_version():
    store = runs.RunStore()
    config = TrainConfig(**dict(TINY, epochs=2))
    done = []
    stopped, _ = store.get_or_train(config, on_epoch_end=lambda epoch, logs: done.append(epoch),
                                    should_stop=lambda: len(done) >= 1)
    full, _ = store.get_or_train(config)
    assert full.id == stopped.id and full.version != stopped.version  # the pages' model cache is keyed by it
    assert store.get(full.id).complete
    with pytest.raises(runs.RunReplaced, match="was trained again"):
        stopped.predictions()  # an older copy's files read after the replacement: said; the new run is not set aside
    assert list((store.root / "corrupt").iterdir()) == [] and store.get(full.id).complete


READER = """
import json, pathlib, sys
sys.path.insert(0, {root!r})
from cnnlab import runs
reader, seen = runs.RunStore({store!r}), {{}}
pathlib.Path({ready!r}).touch()
while not pathlib.Path({done!r}).exists():
    try:
        run = reader.get({run_id!r})
        said = "missing" if run is None else run.record["status"]
        if run is not None and sum(seen.values()) % 10 == 0:  # and its files, now and then
            run.predictions()
    except runs.RunReplaced:  # an older copy read while the new one came: said, nothing set aside
        said = "replaced"
    except Exception as error:
        said = type(error).__name__
    seen[said] = seen.get(said, 0) + 1
print(json.dumps({{"seen": seen, "notices": [str(notice) for notice in reader.notices]}}))
"""


def test_a_reader_never_finds_a_run_missing_or_damaged_while_it_is_replaced(tmp_path):
    """#29 item 10: a run replaced under its id (a stopped run trained again) is swapped in one step; another
    process reading it all the while (a second server, the command line) finds the old run or the new, every time."""
    from cnnlab import training
    from cnnlab.data import datasets

    store = runs.RunStore()
    config = TrainConfig(**dict(TINY, epochs=2))
    done = []
    stopped = training.train(config, on_epoch_end=lambda epoch, logs: done.append(epoch),
                             should_stop=lambda: len(done) >= 1)
    full = training.train(config)
    run_id = runs.run_id_for(config, datasets.load("mnist"))
    store.save(run_id, stopped)
    ready, finished = tmp_path / "ready", tmp_path / "finished"
    reader = subprocess.Popen([sys.executable, "-c", READER.format(root=ROOT, store=str(store.root), run_id=run_id,
                                                                   ready=str(ready), done=str(finished))],
                              stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not ready.exists() and time.time() < deadline:
            time.sleep(0.01)
        for result in [full, stopped] * 15:
            store.save(run_id, result)
    finally:
        finished.touch()
        out, _ = reader.communicate(timeout=60)
    report = json.loads(out.strip().splitlines()[-1])
    assert {"complete", "stopped"} <= set(report["seen"]) <= {"complete", "stopped", "replaced"}, report
    assert report["notices"] == [] and list((store.root / "corrupt").iterdir()) == []  # nothing set aside
    assert store.get(run_id).record["status"] == "stopped"  # the last one written
