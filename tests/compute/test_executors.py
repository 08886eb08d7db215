"""Training on Ray, for real: a private local instance in this process, and a head with a second node on loopback.

The private instance ("local") is started once for the module; the two-node cluster runs inside a
network namespace that has only loopback (stack notes: Ray would otherwise put its nodes on the
machine's outward address), with drivers run there as `python -m cnnlab … --ray 127.0.0.1:PORT`.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import types

import numpy as np
import pytest
from ray_cluster import LoopbackCluster, can_make_namespaces
from test_priority import may_lower_niceness

from cnnlab import runs, training
from cnnlab.compute import executors, jobs, worker
from cnnlab.training import TrainConfig

ROOT = pathlib.Path(__file__).resolve().parents[2]
TINY = dict(dataset="mnist", architecture="fast", epochs=2, batch_size=32, train_size=640, validation_split=0.25)
# under pytest-xdist the module runs on one worker (its Ray instance and cluster are started once), as do the other
# tests that start a local Ray (test_network_limits): never two Ray instances of the suite at once on two cores
pytestmark = pytest.mark.xdist_group("ray")


def outward_listeners():
    """Listening TCP sockets not on loopback: {(address:port, process)} from ss."""
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True).stdout
    found = set()
    for line in out.splitlines():
        parts = line.split()
        local = parts[3]
        if not local.startswith(("127.", "[::1]", "[::ffff:127.")):
            found.add((local.rsplit(":", 1)[0], parts[-1].split('"')[1] if '"' in parts[-1] else ""))
    return found


@pytest.fixture(scope="module")
def local_ray():
    """One private Ray instance for the module's in-process tests; stopped at the end."""
    if shutil.which("ss") is None:
        pytest.skip("ss (iproute2) is needed to see which addresses Ray listens on")
    before = outward_listeners()
    executor = executors.executor("local")
    executor.connect()
    yield executor, before
    import ray
    ray.shutdown()
    executors.executor.cache_clear()


def wait_for(condition, seconds):
    deadline = time.time() + seconds
    while not condition() and time.time() < deadline:
        time.sleep(0.05)
    return condition()


def test_a_local_ray_instance_trains_into_the_apps_store_and_listens_on_loopback_only(local_ray):
    executor, before = local_ray
    assert {"address": "127.0.0.1"}.items() <= executor.workers()[0].items()
    new = {entry for entry in outward_listeners() - before if entry[1].startswith(("ray", "raylet", "gcs", "python"))}
    assert not new, f"Ray listens beyond loopback: {new}"

    store = runs.RunStore()
    queue = jobs.TrainingQueue(store, executor)
    seen = []
    job = queue.submit(TrainConfig(**dict(TINY, epochs=3)), student="ana")
    while job.status in ("queued", "running"):
        seen.append((job.epochs_done, job.batch))
        time.sleep(0.02)
    assert job.status == "done", job.error
    run = store.get(job.id)
    assert run.complete and run.record["epochs_completed"] == 3
    where = run.record["trained_on"]
    assert where["executor"] == "ray" and where["address"] == "127.0.0.1" and where["pid"] != os.getpid()
    assert job.trained_on == where
    assert [done for done, _ in seen if done > 0], "no epoch's progress reached the app while it trained"
    # the files came back whole: the rebuilt network gives the stored predictions
    model, (probabilities, _) = run.build_model(), run.predictions()
    import numpy as np

    from cnnlab import training
    again = training.predict(model, run.data().x_test[:200])
    assert np.argmax(again, 1).tolist() == np.argmax(probabilities[:200], 1).tolist()
    assert len(executor._data) == 1  # the dataset went into the object store once
    queue.wait(queue.submit(TrainConfig(**dict(TINY, seed=3))), timeout=120)
    assert len(executor._data) == 1  # and was used again, not put again
    assert store.get(run.id).record["trained_on"]["worker"]  # by a worker actor (cnnlab.compute.ray_workers)


def test_stop_on_ray_ends_at_the_next_batch_and_keeps_the_partial_run(local_ray):
    executor, _ = local_ray
    store = runs.RunStore()
    queue = jobs.TrainingQueue(store, executor)
    job = queue.submit(TrainConfig(**dict(TINY, epochs=200, train_size=2000)), student="ana")
    assert wait_for(lambda: job.epochs_done >= 1, 120), job.error
    assert [node["training"] for node in queue.workers()] == [["fast"]]  # what the Teacher page shows
    asked = time.time()
    queue.stop(job.id, student="ana")
    assert queue.wait(job, timeout=120) and job.status == "done", job.error
    assert time.time() - asked < 10
    stored = store.get(job.id)
    assert stored.record["status"] == "stopped" and 1 <= stored.record["epochs_completed"] < 200
    assert not list((store.root / "tmp").iterdir())


def test_a_shared_training_on_ray_goes_on_when_one_student_stops(local_ray):
    executor, _ = local_ray
    store = runs.RunStore()
    queue = jobs.TrainingQueue(store, executor)
    config = TrainConfig(**dict(TINY, epochs=6, seed=11))
    job = queue.submit(config, student="ana")
    assert queue.submit(config, student="ben") is job
    assert wait_for(lambda: job.epochs_done >= 1, 120), job.error
    queue.stop(job.id, student="ana")
    assert queue.wait(job, timeout=120) and job.status == "done"
    assert store.get(job.id).record["status"] == "complete" and job.epochs_done == 6


def test_a_stop_taken_back_on_ray_before_the_training_saw_it_is_forgotten(local_ray):
    """#29 item 10: Stop, then the student rejoins; the cluster is busy, so the training has not started yet."""
    import ray

    from cnnlab.data import datasets

    executor, _ = local_ray
    data = datasets.load("mnist")
    # every worker actor is given to another server's training until the stop has been taken back (a busy training
    # of so many epochs once ended first on a loaded machine, and the next one then saw the stop)
    assert executor.start(timeout=300) >= 1  # its workers have started and told the hub
    names, hub = executor._worker_names(fresh=True), executor._hub(ray)
    for _ in names:
        assert ray.get(hub.pick.remote("another server's", names, "", "")) is not None
    asked = []

    def should_stop():
        asked.append(1)
        if len(asked) == 3:  # Stop was sent (1), then the claim that takes it back (2): now the workers are free
            for name in names:
                hub.release.remote("another server's", name)
        return len(asked) == 1

    result = executor.train(TrainConfig(**dict(TINY, seed=22)), data, should_stop=should_stop)
    assert not result.stopped and result.epochs_completed == 2 and len(asked) > 3


def test_an_error_inside_a_ray_task_reaches_the_page_in_words(local_ray):
    executor, _ = local_ray
    queue = jobs.TrainingQueue(runs.RunStore(), executor)
    job = queue.submit(TrainConfig(**dict(TINY, batch_size=4000)))
    assert queue.wait(job, timeout=120) and job.status == "failed"
    assert "Batch size 4000" in str(job.error)  # the message's own parameters travelled back


def test_a_cluster_that_does_not_answer_fails_in_one_line(tmp_path):
    from tests.conftest import run_cli

    started = time.time()
    done = run_cli("train", "--epochs", "1", "--ray", "127.0.0.1:9", timeout=120)
    assert done.returncode == 2 and time.time() - started < 60
    assert "The Ray cluster at 127.0.0.1:9 cannot be reached" in done.stderr and "Traceback" not in done.stderr
    bad = run_cli("train", "--epochs", "1", "--ray", "not an address")
    assert bad.returncode == 2 and "is not one cnnlab understands" in bad.stderr.strip().splitlines()[-1]


def test_a_web_servers_trainings_run_in_a_worker_process_with_progress_stop_and_a_clear_death():
    executor = worker.ProcessExecutor()
    store = runs.RunStore()
    queue = jobs.TrainingQueue(store, executor)
    job = queue.submit(TrainConfig(**dict(TINY, epochs=3)), student="ana")
    batches = []
    while job.status in ("queued", "running"):
        batches.append(job.batch)
        time.sleep(0.01)
    assert job.status == "done", job.error
    where = store.get(job.id).record["trained_on"]
    assert where["executor"] == "local" and where["pid"] != os.getpid() and job.epochs_done == 3
    # Stop, at the next batch, keeping the partial run
    job = queue.submit(TrainConfig(**dict(TINY, epochs=200, train_size=2000)), student="ana")
    assert wait_for(lambda: job.epochs_done >= 1, 120), job.error
    queue.stop(job.id, student="ana")
    assert queue.wait(job, timeout=60) and store.get(job.id).record["status"] == "stopped"
    # an error inside the worker comes back in words; the worker goes on serving
    bad = queue.submit(TrainConfig(**dict(TINY, batch_size=4000)))
    assert queue.wait(bad, timeout=60) and "Batch size 4000" in str(bad.error)
    # the worker killed mid-training: a clear failure, nothing stored, and the next training gets a new worker
    job = queue.submit(TrainConfig(**dict(TINY, epochs=200, train_size=2000, seed=5)), student="ben")
    assert wait_for(lambda: job.epochs_done >= 1, 120), job.error
    pid = next(iter(executor._pool._processes))
    os.kill(pid, 9)
    assert queue.wait(job, timeout=60) and job.status == "failed"
    assert "The process training this network stopped before it finished" in str(job.error)
    assert store.get(job.id) is None and not list((store.root / "tmp").iterdir())
    again = queue.submit(TrainConfig(**dict(TINY, seed=6)))
    assert queue.wait(again, timeout=120) and again.status == "done", again.error


def test_a_servers_worker_starts_ahead_of_its_first_training_with_tensorflow_imported(monkeypatch):
    """What bench/classroom.py does before a class presses Train: the worker process is up, TensorFlow loaded in it,
    and the first training runs there."""
    monkeypatch.setattr(worker.ProcessExecutor, "IDLE_SECONDS", 60.0)  # (the suite's 3 s: a loaded machine's gap)
    executor = worker.ProcessExecutor()
    try:
        assert executor.start(timeout=120) == 1
        pid = next(iter(executor._pool._processes))
        maps = pathlib.Path(f"/proc/{pid}/maps").read_text()
        assert "libtensorflow" in maps  # TensorFlow's own library is loaded in the worker, not only Python
        queue = jobs.TrainingQueue(runs.RunStore(), executor)
        job = queue.submit(TrainConfig(**TINY))
        assert queue.wait(job, timeout=120) and job.status == "done", job.error
        assert queue.store.get(job.id).record["trained_on"]["pid"] == pid
    finally:
        executor.close()


def test_a_stop_taken_back_before_the_worker_saw_it_is_forgotten():
    """#29 item 10: Stop, then the student rejoins while the worker process is still starting: it trains to the end."""
    from cnnlab.data import datasets

    executor = worker.ProcessExecutor()
    asked = []
    try:
        result = executor.train(TrainConfig(**TINY), datasets.load("mnist"),
                                should_stop=lambda: asked.append(1) or len(asked) == 1)  # Stop, then asked again
    finally:
        executor.close()
    assert not result.stopped and result.epochs_completed == 2 and len(asked) > 1


def test_the_worker_gets_a_network_ready_while_the_student_chooses(tmp_path, monkeypatch):
    page = tmp_path / "page.py"  # as in a Streamlit server, __main__ is the page being run: the worker must not run it
    page.write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(page)
    monkeypatch.setitem(sys.modules, "__main__", main)
    store = runs.RunStore()
    queue = jobs.TrainingQueue(store, worker.ProcessExecutor())
    config = TrainConfig(**dict(TINY, architecture="net_2", optimizer="rmsprop"))
    assert queue.prepare(config) and not queue.prepare(config)  # asked once, answered at once
    job = queue.submit(config)
    assert queue.wait(job, timeout=120) and job.status == "done", job.error
    assert store.get(job.id).record["trained_on"]["network"] == "kept"  # compiled and traced before it was asked
    other = queue.submit(TrainConfig(**dict(TINY, architecture="net_2", optimizer="sgd")))
    assert queue.wait(other, timeout=120) and store.get(other.id).record["trained_on"]["network"] == "new"
    here = training.train(config)  # oracle: a new network in this process
    np.testing.assert_allclose(store.get(job.id).history["loss"], here.history["loss"], rtol=1e-4)
    assert store.get(job.id).test_accuracy == pytest.approx(here.test_accuracy, abs=2e-3)
    assert not (tmp_path / "ran").exists()
    queue.executor.close()


def test_a_killed_server_leaves_no_worker_training_for_nobody(tmp_path):
    script = tmp_path / "server.py"
    script.write_text(f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from cnnlab import runs, training
from cnnlab.compute import jobs, worker
from cnnlab.training import TrainConfig
if __name__ == "__main__":
    queue = jobs.TrainingQueue(runs.RunStore(), worker.ProcessExecutor())
    job = queue.submit(TrainConfig(architecture="fast", epochs=500, train_size=2000))
    while job.epochs_done < 1:
        time.sleep(0.05)
    print(*queue.executor._pool._processes, flush=True)
    time.sleep(600)
""")
    server = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "CNNLAB_HOME": str(tmp_path / "home")})
    worker_pid = int(server.stdout.readline())
    server.kill()  # SIGKILL: no atexit, no shutdown of the pool
    server.wait()

    def gone():
        try:
            return "zombie" in pathlib.Path(f"/proc/{worker_pid}/status").read_text().lower()
        except OSError:
            return True

    assert wait_for(gone, 15)  # the worker noticed its server was gone and ended its training


# ---------------------------------------------------------------- a head and a second node, on loopback only

@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not can_make_namespaces():
        pytest.skip("needs unshare -n and nsenter (root, as CI runs) to keep a two-node Ray on loopback")
    made = LoopbackCluster(tmp_path_factory.mktemp("cluster"))
    try:
        made.start()
        yield made
    finally:
        made.stop()


def finished(process, timeout=300):
    out, err = process.communicate(timeout=timeout)
    return process.returncode, (json.loads(out.strip().splitlines()[-1]) if process.returncode == 0 else None), err


def test_two_trainings_run_at_once_on_the_two_nodes(cluster):
    status = cluster.inside([sys.executable, "-c", "import ray; ray.init(address='%s'); "
                             "print(sum(n['Alive'] for n in ray.nodes()))" % cluster.address])
    assert status.stdout.strip().endswith("2"), status.stderr
    settings = ["--architecture", "fast", "--epochs", "3", "--train-size", "2000"]
    first = cluster.train("a", *settings, "--seed", "1")
    second = cluster.train("b", *settings, "--seed", "2")
    (code_a, a, err_a), (code_b, b, err_b) = finished(first), finished(second)
    assert code_a == 0 and code_b == 0, err_a + err_b
    assert a["trained_on"]["executor"] == b["trained_on"]["executor"] == "ray"
    assert a["trained_on"]["node"] != b["trained_on"]["node"]  # 2 CPUs each: one training per node
    assert a["run_id"] != b["run_id"] and not a["cached"] and not b["cached"]
    # started as a school's nodes are (Ray's niceness 15 for its workers), the worker actors and the hub took the
    # server's priority back, every thread of them (where allowed: root, as CI runs; cnnlab.compute.priority)
    actors = [a["trained_on"]["pid"], b["trained_on"]["pid"], *cluster.named("ray::HubActor")]
    if may_lower_niceness():
        assert len(actors) == 3 and [cluster.niceness(pid) for pid in actors] == [{0}] * 3
    for raylet in cluster.raylets():  # …which Ray gave them: the nodes were started without RAY_worker_niceness
        assert b"RAY_worker_niceness" not in pathlib.Path(f"/proc/{raylet}/environ").read_bytes()


def test_identical_settings_from_two_app_servers_train_once(cluster):
    settings = ["--architecture", "fast", "--epochs", "3", "--train-size", "2000", "--seed", "7"]
    first, second = cluster.train("server1", *settings), cluster.train("server2", *settings)
    (code_a, a, err_a), (code_b, b, err_b) = finished(first), finished(second)
    assert code_a == 0 and code_b == 0, err_a + err_b
    assert a["run_id"] == b["run_id"]
    assert a["trained_on"] == b["trained_on"]  # one task, one process: both stores got its files
    assert a["test_accuracy"] == b["test_accuracy"]
    for home in ("server1", "server2"):
        assert (cluster.folder / home / "runs" / a["run_id"] / "model.weights.h5").is_file()


def test_a_node_that_dies_mid_training_leaves_a_clear_failure_and_no_run(cluster):
    settings = ["--architecture", "fast", "--epochs", "60", "--train-size", "3000"]
    drivers = {"x": cluster.train("x", *settings, "--seed", "21"), "y": cluster.train("y", *settings, "--seed", "22")}
    lines = {name: [] for name in drivers}
    deadline = time.time() + 180
    while time.time() < deadline and not all(any("epoch 1/" in line for line in lines[n]) for n in drivers):
        for name, process in drivers.items():  # both train, one on each node; wait for an epoch of each
            if not any("epoch 1/" in line for line in lines[name]):
                lines[name].append(process.stderr.readline())
    victim = next(pid for pid, words in cluster.raylets().items() if "sockets/raylet.1" in words)
    cluster.kill_node(victim)
    results = {}
    for name, process in drivers.items():
        out, err = process.communicate(timeout=240)
        results[name] = (process.returncode, out, "".join(lines[name]) + err)
    failed = [name for name, (code, _, _) in results.items() if code != 0]
    assert len(failed) == 1, results
    code, out, err = results[failed[0]]
    assert code == 2 and "The Ray worker training this network stopped before it finished" in err
    assert "Traceback" not in err
    store = cluster.folder / failed[0]
    assert not list((store / "runs").iterdir()) and not list((store / "tmp").iterdir())  # nothing partial
    survivor = next(name for name in drivers if name not in failed)
    assert json.loads(results[survivor][1].strip().splitlines()[-1])["status"] == "complete", results[survivor]
