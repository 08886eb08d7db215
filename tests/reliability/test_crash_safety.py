"""kill -9 mid-training, damaged entries, atomic writes: nothing partial visible, nothing finished lost."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

from conftest import ROOT, run_cli

from cnnlab import runs
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)


def start_training(epochs=40):
    args = [sys.executable, "-m", "cnnlab", "train", "--architecture", "net_1", "--epochs", str(epochs), "--json"]
    return subprocess.Popen(args, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_epoch(process, stream, marker, timeout=180):
    """Until the process writes a line starting with marker: proof that an epoch has finished and the next
    one is under way (not that it is still importing TensorFlow). Returns the line."""
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            assert process.poll() is None, "the training process ended before an epoch finished"
            continue
        if line.startswith(marker):
            return line
    raise AssertionError(f"no {marker!r} line within {timeout} s")


def test_kill_9_mid_training_leaves_nothing_partial_and_the_next_start_is_clean():
    store = runs.RunStore()
    finished, _ = store.get_or_train(TrainConfig(**TINY))  # a finished run that must survive
    process = start_training()
    line = wait_for_epoch(process, process.stderr, "epoch 1/40")
    assert process.poll() is None and "loss" in line  # mid-training: epoch 2 of 40 is running
    assert any(store.root.joinpath("locks").glob("*.lock"))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    fresh = runs.RunStore(store.root)
    assert [run.id for run in fresh.list()] == [finished.id]  # the killed run is not visible
    assert fresh.get(finished.id).metrics == finished.metrics
    # the next training of the same settings is not blocked by the dead process's lock
    out = run_cli("train", "--architecture", "net_1", "--epochs", "1", "--train-size", "640", "--json")
    assert out.returncode == 0, out.stderr
    assert not list(fresh.root.joinpath("tmp").iterdir())  # leftovers cleaned


def test_kill_9_of_the_server_mid_training_keeps_every_finished_run(isolated):
    """A streamlit server training from its queue is killed; a new server starts clean."""
    store = runs.RunStore()
    finished, _ = store.get_or_train(TrainConfig(**TINY))
    script = isolated / "server.py"
    script.write_text(
        "import time\n"
        "from cnnlab import runs, training\n"
        "from cnnlab.compute import jobs\n"
        "queue = jobs.TrainingQueue(runs.RunStore())\n"
        "job = queue.submit(training.TrainConfig(architecture='net_1', epochs=40))\n"
        "while job.epochs_done < 1:\n"
        "    time.sleep(0.05)\n"
        "print(f'epoch {job.epochs_done} done, status {job.status}', flush=True)\n"
        "queue.wait(job)\n")
    process = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = wait_for_epoch(process, process.stdout, "epoch 1 done")
    assert line.strip() == "epoch 1 done, status running"  # killed while the queue's worker trains
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    fresh = runs.RunStore(store.root)
    assert [run.id for run in fresh.list()] == [finished.id]
    assert fresh.notices == []


def test_a_truncated_run_gets_a_one_line_warning_and_is_retrained_on_demand():
    args = ("train", "--architecture", "fast", "--epochs", "1", "--train-size", "320", "--json")
    first = json.loads(run_cli(*args).stdout.strip().splitlines()[-1])
    weights = runs.RunStore().root / "runs" / first["run_id"] / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])
    listed = run_cli("runs", "--json")
    warnings = [line for line in listed.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and first["run_id"] in warnings[0] and "\n" not in warnings[0]
    assert json.loads(listed.stdout.strip().splitlines()[-1]) == []
    again = json.loads(run_cli(*args).stdout.strip().splitlines()[-1])
    assert again["run_id"] == first["run_id"] and again["cached"] is False  # retrained, same settings
    assert list((runs.RunStore().root / "corrupt").iterdir())  # the damaged copy was set aside, not deleted
