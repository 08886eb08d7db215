"""Ray's worker actors (#34): how many each node gets, which one a training goes to, and, on a private local Ray for
real, that they keep TensorFlow, the data and compiled networks between trainings with the same losses as a fresh
network, warm a network up ahead of a training, show the Teacher page what they hold, and are replaced when killed.
"""

import os
import pathlib
import signal
import time

import numpy as np
import pytest

from test_executors import wait_for
from test_network_limits import local_ray  # noqa: F401 (a fixture: one private loopback Ray for this module)
from test_priority import may_lower_niceness

from cnnlab import runs, training
from cnnlab.compute import jobs, priority, ray_client, ray_hub, ray_warming, ray_workers
from cnnlab.data import datasets
from cnnlab.errors import ConfigError, TrainingStoppedEarly
from cnnlab.training import TrainConfig

ROOT = pathlib.Path(__file__).resolve().parents[2]
TINY = dict(dataset="mnist", architecture="fast", epochs=2, batch_size=32, train_size=640, validation_split=0.25)


def node(name, cpus, gpus=0):
    return {"NodeID": name, "Resources": {"CPU": cpus, **({"GPU": gpus} if gpus else {})}}


def test_each_node_gets_an_actor_per_gpu_and_per_share_of_its_other_cores():
    version = ray_workers.version(2)
    assert version.startswith(ray_workers.code_version()) and version != ray_workers.version(1)
    planned = ray_workers.plan([node("box", 16, gpus=1), node("pc", 4), node("old", 1)], 2)
    assert [(name.split(" ")[1:], resources) for name, _, resources in planned] == [
        ([version, "box", "gpu0"], {"num_gpus": 1, "num_cpus": 1}),
        *[([version, "box", f"cpu{i}"], {"num_cpus": 2}) for i in range(7)],  # 15 other cores: 7 shares of 2
        ([version, "pc", "cpu0"], {"num_cpus": 2}), ([version, "pc", "cpu1"], {"num_cpus": 2})]  # "old": too small
    # a cluster with no node as large as a share still trains: one actor with all of its largest node's cores
    assert [(name.split(" ")[2:], resources) for name, _, resources in ray_workers.plan([node("a", 1), node("b", 1.5)],
                                                                                        2)] == [
        (["b", "cpu0"], {"num_cpus": 1.5})]
    assert ray_workers.plan([], 2) == []


def test_the_hub_gives_a_training_to_an_idle_gpu_then_to_one_holding_its_network_then_its_data():
    hub = ray_hub.Hub()
    names = ["worker v n1 cpu0", "worker v n1 cpu1", "worker v n2 cpu0"]
    holds = {"where": {"node": "n"}, "training": None, "now": None, "datasets": {}, "networks": {}}
    assert hub.pick("run 1", names, "net", "data") is None  # no worker has started yet (one Ray cannot place never)
    hub.worker_report(names[0], dict(holds, datasets={"data": "MNIST"}, networks={}))
    hub.worker_report(names[1], holds)
    hub.worker_report(names[2], dict(holds, datasets={}, networks={"net": "fast"}))
    assert hub.pick("run 1", names, "net", "data") == names[2]  # its network beats its data
    assert hub.pick("run 2", names, "net", "data") == names[0]  # the one with the network is reserved: the data
    assert hub.pick("run 3", names, "net", "data") == names[1]
    assert hub.pick("run 4", names, "net", "data") is None  # every worker busy: the training waits
    hub.trainings["run 7"] = {"stop": True}  # a training nobody waits for any more
    assert hub.pick("run 7", names, "net", "data") is None  # …waits like any other while every worker is busy
    hub.release("run 3", names[1])  # run 3 never reached its worker
    hub.release("run 1", names[1])  # not the training it was picked for: nothing changes
    assert hub.pick("run 7", names, "net", "data") is False  # …and never begins once one is free
    assert hub.pick("run 4", names, "net", "data") == names[1]
    hub.worker_report(names[2], dict(holds, datasets={}, networks={"net": "fast"}, training="run 1", now="fast"))
    hub.worker_report(names[2], dict(holds, datasets={"data": "MNIST"}, networks={"net": "fast"}))  # run 1 ended
    hub.worker_report("worker v n3 gpu0", holds)
    assert hub.pick("run 5", names + ["worker v n3 gpu0"], "net", "data") == "worker v n3 gpu0"  # a GPU first
    gpu = "worker v n3 gpu0"  # picked first whatever it holds (run 5): while idle, only what it holds counts
    assert hub.idle_networks(names + [gpu]) == {names[2]: (["net"], 1)}  # the queue may send its training first
    hub.release("run 5", gpu)
    assert hub.idle_networks(names + [gpu]) == {gpu: ([], 1)}  # a training of "net" would go to the GPU, not names[2]
    assert hub.idle_networks(names) == {names[2]: (["net"], 1)}  # picked once so far (run 1)
    assert hub.pick("run 6", names, "net", "data") == names[2]
    assert hub.idle_networks(names) == {}  # picked: not idle any more
    assert hub.held([names[2], "worker v gone cpu0"]) == {names[2]: {"datasets": ["MNIST"], "networks": ["fast"],
                                                                     "now": None, "niceness": None}}


def test_the_actors_version_changes_with_any_file_of_cnnlab(tmp_path, monkeypatch):
    package = tmp_path / "cnnlab"
    (package / "locales").mkdir(parents=True)
    (package / "a.py").write_text("A = 1\n")
    (package / "locales" / "en.json").write_text("{}\n")
    monkeypatch.setattr(ray_workers, "package_folder", lambda: str(package))  # what travels to the nodes
    versions = []
    for change in (None, lambda: (package / "a.py").write_text("A = 2\n"),
                   lambda: (package / "locales" / "en.json").write_text('{"k": "v"}\n')):
        if change:
            change()
        ray_workers.code_version.cache_clear()
        versions.append(ray_workers.code_version())
    ray_workers.code_version.cache_clear()
    assert len(set(versions)) == 3, versions  # a digest of the files, not of nothing


def test_a_share_of_cores_too_small_or_not_a_number_is_refused_in_words(monkeypatch):
    for value in ("0.01", "0", "many", "2000"):
        monkeypatch.setenv(ray_client.CPUS_VARIABLE, value)
        with pytest.raises(ConfigError, match=f"CNNLAB_RAY_CPUS_PER_TRAINING={value} is not a number of CPU cores"):
            ray_client.cpus_per_training()
    monkeypatch.setenv(ray_client.CPUS_VARIABLE, "0.25")
    assert ray_client.cpus_per_training() == 0.25


def test_a_worker_picked_by_a_server_that_never_sent_its_training_is_free_again(monkeypatch):
    hub, name = ray_hub.Hub(), "worker v n1 cpu0"
    hub.worker_report(name, {"where": {"node": "n1"}, "training": None, "now": None, "datasets": {}, "networks": {}})
    assert hub.pick("run 1", [name], "net", "data") == name and hub.pick("run 2", [name], "net", "data") is None
    later = time.monotonic() + ray_hub.RESERVE_SECONDS + 1
    monkeypatch.setattr(ray_hub.time, "monotonic", lambda: later)
    assert hub.pick("run 2", [name], "net", "data") == name


def test_a_network_is_warmed_up_once_in_an_idle_worker():
    hub, names = ray_hub.Hub(), ["worker v n1 cpu0", "worker v n1 cpu1", "worker v n1 cpu2"]
    holds = {"where": {"node": "n1"}, "training": None, "now": None, "datasets": {}, "networks": {}}
    for name in names[:2]:
        hub.worker_report(name, holds)
    assert hub.pick("run 1", names, "other", "data") == names[0]
    assert hub.pick_to_warm(names, "net", "fast") == names[1]  # not the busy one, nor one not started yet
    assert hub.pick_to_warm(names, "net", "fast") is None  # being warmed up there already
    assert hub.pick_to_warm(names, "other net", "net_2") is None  # one warm-up at a time: nothing queues behind it
    assert hub.pick("run 2", names, "net", "data") == names[1]  # its training goes where it is warmed up
    hub.worker_report(names[2], holds)
    assert hub.pick_to_warm(names, "third", "net_2") == names[2]
    assert hub.pick_to_warm(names, "fourth", "net_3") is None  # no worker idle and not warming


def test_workers_of_another_version_are_ended_only_once_idle(monkeypatch):
    hub, names = ray_hub.Hub(), ["worker old n1 cpu0", "worker old n1 cpu1", "worker old n2 cpu0"]
    holds = {"where": {"node": "n1"}, "training": None, "now": None, "datasets": {}, "networks": {}}
    hub.worker_report(names[0], dict(holds, training="run 1", now="fast"))  # training
    hub.worker_report(names[1], holds)
    hub.pick("run 2", names[1:2], "net", "data")  # picked for a training that has not begun
    assert hub.idle_of(names) == []  # never heard of: perhaps starting, not ended yet
    hub.worker_report(names[0], holds)
    assert hub.idle_of(names) == [names[0]]
    later = time.monotonic() + ray_hub.UNHEARD_SECONDS + 1
    monkeypatch.setattr(ray_hub.time, "monotonic", lambda: later)
    assert hub.idle_of(names) == [names[0], names[2]]  # never heard from in five minutes: no server uses it
    hub.drop_workers(names[1:2])  # forgotten (it died): heard of again only when a new one reports
    assert hub.idle_of(names) == [names[0], names[2]] and hub.unheard_of(names) == names[1:]


# ---------------------------------------------------------------- on a private local Ray, for real

def trained(queue, config, **options):
    job = queue.submit(config, **options)
    assert queue.wait(job, timeout=180) and job.status == "done", job.error
    return job, queue.store.get(job.id)


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_trainings_run_in_a_worker_that_keeps_tensorflow_the_data_and_the_network(local_ray, monkeypatch):
    assert local_ray.start(timeout=300) == local_ray.capacity() == 1  # its actor up, TensorFlow imported
    store = runs.RunStore()
    queue = jobs.TrainingQueue(store, local_ray)
    _, first = trained(queue, TrainConfig(**dict(TINY, seed=1)))
    _, second = trained(queue, TrainConfig(**dict(TINY, seed=2)))
    a, b = first.record["trained_on"], second.record["trained_on"]
    assert a["executor"] == b["executor"] == "ray" and a["pid"] == b["pid"] != os.getpid()  # one long-lived actor
    assert a["worker"] == b["worker"] is not None  # one long-lived actor (named)
    assert b["network"] == "kept"  # the second training compiled and traced nothing
    here = training.train(TrainConfig(**dict(TINY, seed=2)))  # oracle: a fresh network in this process
    np.testing.assert_allclose(second.history["loss"], here.history["loss"], rtol=1e-4)
    assert second.test_accuracy == pytest.approx(here.test_accuracy, abs=2e-3)
    assert len(local_ray._data) == 1  # the data went into the object store once (and the worker fetched it once)
    seen = {}  # what the Teacher page shows: the one worker, the data and the network it holds, idle again
    assert wait_for(lambda: seen.update(rows=local_ray.actors()) or seen["rows"][0]["training"] is None, 10), seen
    rows = seen["rows"]
    assert len(rows) == local_ray.capacity() == 1 and rows[0]["cpus"] == 2 and rows[0]["slot"] == "cpu0"
    assert rows[0]["datasets"] == [datasets.load("mnist").info.title] and rows[0]["networks"] == ["fast (adam)"]
    # the queue's question: which of the next in line does an idle worker hold the network of (warm_order)
    monkeypatch.setattr(ray_warming, "PROMISE_SECONDS", 3600.0)  # a promise ends by a pick only, however slow
    answers = []

    def asked(*configs):
        local_ray._warm_asked = -1.0  # a hub slower than a second on a loaded machine is asked again at once
        answers.append(local_ray.warm_first(list(configs)))
        return answers[-1]

    sgd, adam, other = (TrainConfig(**dict(TINY, optimizer="sgd")), TrainConfig(**dict(TINY, seed=5)),
                        TrainConfig(**dict(TINY, seed=6)))
    assert asked(sgd) is None
    assert wait_for(lambda: 1 in answers or asked(sgd, adam) == 1, 30)  # (asked once more if the hub was slow)
    # …and that worker is promised to that job: the next one chosen does not count on it
    assert asked(sgd, other) is None
    trained(queue, adam)  # …until it is picked for a training (here: that job's)
    answers.clear()
    assert wait_for(lambda: 1 in answers or asked(sgd, other) == 1, 30)


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_a_worker_gets_a_network_ready_while_the_student_chooses(local_ray):
    store = runs.RunStore()
    queue = jobs.TrainingQueue(store, local_ray)
    config = TrainConfig(**dict(TINY, architecture="net_2", optimizer="rmsprop"))
    assert queue.prepare(config) and not queue.prepare(config)  # asked once, answered at once (in the background)
    assert wait_for(lambda: "net_2 (rmsprop)" in sum((row["networks"] for row in local_ray.actors()), []), 60)
    _, run = trained(queue, config)
    assert run.record["trained_on"]["network"] == "kept"  # compiled and traced before it was asked
    _, other = trained(queue, TrainConfig(**dict(TINY, architecture="net_2", optimizer="sgd")))
    assert other.record["trained_on"]["network"] == "new"
    here = training.train(config)  # oracle: a new network in this process
    np.testing.assert_allclose(run.history["loss"], here.history["loss"], rtol=1e-4)
    assert run.test_accuracy == pytest.approx(here.test_accuracy, abs=2e-3)


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_a_hub_started_again_hears_from_the_workers_and_the_class_trains_on(local_ray):
    import ray

    store = runs.RunStore()
    queue = jobs.TrainingQueue(store, local_ray)
    trained(queue, TrainConfig(**dict(TINY, seed=21)))  # the worker is up and the hub knows it
    ray.kill(local_ray._hub(ray), no_restart=True)  # as when the hub's node dies
    job = queue.submit(TrainConfig(**dict(TINY, seed=22)))  # a new hub, which the worker reports in to
    assert queue.wait(job, timeout=180), "a training waited for ever on a hub that has not heard from the worker"
    # it trains, or (when it was claimed on the dead hub before the nodes were read again) fails in words
    assert job.status == "done" or "stopped before it finished" in str(job.error), job.error
    _, run = trained(queue, TrainConfig(**dict(TINY, seed=23)))
    assert run.record["trained_on"]["executor"] == "ray"


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_a_worker_killed_mid_training_fails_it_clearly_and_another_takes_the_next(local_ray):
    store = runs.RunStore()
    queue = jobs.TrainingQueue(store, local_ray)
    job = queue.submit(TrainConfig(**dict(TINY, epochs=200, train_size=2000, seed=5)), student="ben")
    deadline = time.time() + 120
    while job.epochs_done < 1 and time.time() < deadline:
        time.sleep(0.05)
    assert [row["training"] for row in local_ray.actors()] == ["fast"], job.error  # what the Teacher page sees
    ray = ray_hub.import_ray()
    pid = ray.get(local_ray._hub(ray).state.remote(job.id, 0))["where"]["pid"]
    os.kill(pid, signal.SIGKILL)
    assert queue.wait(job, timeout=60) and job.status == "failed"
    assert "The Ray worker training this network stopped before it finished" in str(job.error)
    assert store.get(job.id) is None and not list((store.root / "tmp").iterdir())  # nothing partial
    _, again = trained(queue, TrainConfig(**dict(TINY, seed=6)))
    assert again.record["trained_on"]["pid"] != pid  # a new worker under the dead one's name


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_a_training_that_nobody_waits_for_any_more_never_begins_on_a_worker(local_ray):
    import threading

    ray = ray_hub.import_ray()
    assert local_ray.start(timeout=300) == 1  # its worker has started and told the hub
    names = local_ray._worker_names(fresh=True)
    hub = local_ray._hub(ray)
    for _ in names:  # every worker is given to another server's training, for a second
        assert ray.get(hub.pick.remote("another server's", names, "", "")) is not None
    threading.Timer(1.0, lambda: [hub.release.remote("another server's", name) for name in names]).start()
    config, data = TrainConfig(**dict(TINY, seed=31)), datasets.load("mnist")
    with pytest.raises(TrainingStoppedEarly):
        local_ray.train(config, data, should_stop=lambda: True)
    assert ray.get(hub.state.remote(config.run_id(data.variant, data.fingerprint), 0)) is None  # forgotten
    assert all(row["training"] is None for row in local_ray.actors())
    assert ray.get(hub.pick.remote("next", names, "", "")) is not None  # no worker was kept from the next training
    hub.release.remote("next", names[0])


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_the_teacher_page_shows_each_worker_and_what_it_holds(local_ray, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CNNLAB_RAY_ADDRESS", "local")  # the page's queue joins this very Ray and finds its workers
    _, run = trained(jobs.TrainingQueue(runs.RunStore(), local_ray), TrainConfig(**dict(TINY, seed=8)))
    at = AppTest.from_file(str(ROOT / "pages" / "10_Teacher.py"), default_timeout=120).run()
    assert not at.exception, at.exception
    assert [(row["niceness"], row["here"], row["below_server"]) for row in local_ray.actors()] == [
        (priority.current(), True, False)]  # the server's priority (this test's: 10 under `nice`)
    assert not [box for box in at.warning if "lower CPU priority" in box.value]
    actors = next(frame.value for frame in at.dataframe if "networks ready" in frame.value.columns)
    assert actors.to_dict("records") == [{
        "machine": local_ray.actors()[0]["host"], "worker": "CPU 1 (2 cores)",
        "datasets held": datasets.load("mnist").info.title, "networks ready": actors.iloc[0]["networks ready"],
        "training now": "—"}]
    assert "fast (adam)" in actors.iloc[0]["networks ready"]
    if not may_lower_niceness():
        return  # what follows sets another process's niceness back: root only (as CI runs)
    actor = run.record["trained_on"]["pid"]  # Ray's own priority, as on a node a plain user started: a warning
    try:
        renice(actor, 19)
        local_ray._pool.handle(local_ray._worker_names()[0]).report_in.remote()
        assert wait_for(lambda: local_ray.actors()[0]["below_server"], 10)
        at = AppTest.from_file(str(ROOT / "pages" / "10_Teacher.py"), default_timeout=120).run()
        warned = [box.value for box in at.warning if "lower CPU priority" in box.value]
        assert warned and local_ray.actors()[0]["host"] in warned[0] and "RAY_worker_niceness=0" in warned[0]
    finally:
        renice(actor, priority.current())


def renice(pid, niceness):
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        os.setpriority(os.PRIO_PROCESS, int(task.name), niceness)
