"""Estimates come from this server's measured speeds; a request over the limit is refused with what fits."""

import dataclasses
import math
import multiprocessing
import time

import pytest
from conftest import settled_workers

from cnnlab import runs
from cnnlab.data import datasets
from cnnlab.errors import ConfigError
from cnnlab.runs import estimates
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)


# two networks of one's own whose forward passes differ by exactly 2x, by hand: Flatten then Dense(u) then the output
# Dense(10) on 784 pixels costs 2*784*u + 2*u*10 FLOPs, so doubling u doubles every term
NARROW = [{"kind": "flatten"}, {"kind": "dense", "size": 32}]
WIDE = [{"kind": "flatten"}, {"kind": "dense", "size": 64}]


def test_a_training_updates_this_servers_speed_for_that_network():
    store = runs.RunStore()
    speeds = estimates.Speeds(store.root)
    config = TrainConfig(**dict(TINY, architecture=NARROW, epochs=3))
    guess, measured = speeds.images_per_second(config)
    assert guess > 0 and not measured  # a first guess from the network's FLOPs
    store.get_or_train(TrainConfig(**dict(TINY, architecture=NARROW)))  # one epoch: mostly building, not counted
    assert speeds.images_per_second(config) == (guess, False)
    run, _ = store.get_or_train(config)
    rate, measured = speeds.images_per_second(config)
    assert (run.record["data"]["train"], run.record["data"]["validation"]) == (240, 80)  # a quarter validates
    after_the_first = sorted(run.record["epoch_seconds"][1:])
    steady = after_the_first[len(after_the_first) // 2]  # the median of the epochs after the first
    assert measured and len(run.record["epoch_seconds"]) == 3

    def seconds(**changes):
        return estimates.estimate(dataclasses.replace(config, **changes), 8000, speeds).seconds

    # the oracle is the server's own clock: one epoch more of these settings is estimated at what an epoch took
    # here, whatever the length; and an epoch of twice the images (training and validation alike) at twice that
    assert seconds(epochs=2) - seconds(epochs=1) == pytest.approx(steady, rel=1e-9)
    assert seconds(epochs=30) - seconds(epochs=29) == pytest.approx(steady, rel=1e-9)
    assert seconds(epochs=2, train_size=640) - seconds(epochs=1, train_size=640) == pytest.approx(2 * steady,
                                                                                                   rel=1e-9)
    other = TrainConfig(**dict(TINY, architecture=WIDE))
    estimated, _ = speeds.images_per_second(other)  # another network: from the GFLOP/s measured on this one
    assert estimated == pytest.approx(rate / 2, rel=1e-9)  # twice the FLOPs (by hand, above): half the speed
    longer = estimates.estimate(dataclasses.replace(config, epochs=30), 8000, speeds)
    assert longer.seconds > estimates.estimate(config, 8000, speeds).seconds


def test_sizes_and_flops_are_counted_as_keras_and_a_hand_count_have_them():
    from cnnlab.networks import architectures, counting, keras_build, limits

    # by hand, on 6x6x1 images and 3 classes: conv 2 filters 3x3 -> 4x4x2 (params (9+1)*2 = 20, 32 values);
    # maxpool -> 2x2x2 (8); flatten (8); dense 4 (params (8+1)*4 = 36, 4 values); output 3 (params (4+1)*3 = 15)
    tiny = [architectures.conv(2), architectures.maxpool(), architectures.flatten(), architectures.dense(4)]
    assert limits.size(tiny, (6, 6, 1), 3) == limits.Size(params=20 + 36 + 15,
                                                          activations=32 + 8 + 8 + 4 + 3)
    # multiply-adds x 2: conv 18 weights at 16 positions, dense 32 weights, output 12 weights
    assert counting.flops_per_image(tiny, (6, 6, 1), 3) == 2 * (18 * 16 + 32 + 12)
    # and on networks Keras builds: its own parameter count and the outputs of its layers
    for spec, shape in ((tiny, (6, 6, 1)), ("fast", (28, 28, 1)), ("proposed", (32, 32, 3)),
                        ([architectures.conv(8, kernel=5, stride=2, padding="same"), architectures.Layer("batchnorm"),
                          architectures.Layer("avgpool", kernel=3, padding="same"),
                          architectures.Layer("globalavgpool"), architectures.dropout(0.2)], (15, 17, 3))):
        model = keras_build.build(spec, shape, 10 if spec != tiny else 3)
        values = sum(math.prod(layer.output.shape[1:]) for layer in model.layers[1:])  # without the Input layer
        assert limits.size(spec, shape, 10 if spec != tiny else 3) == limits.Size(
            model.count_params(), values), spec


def test_a_request_over_the_limit_is_refused_with_settings_that_fit(monkeypatch):
    speeds = estimates.Speeds(runs.RunStore().root)
    data = datasets.load("mnist")
    config = TrainConfig(dataset="mnist", architecture="net_1", epochs=40, batch_size=128)
    full = estimates.estimate(config, len(data.x_train), speeds)
    limit = full.minutes / 4
    with pytest.raises(ConfigError) as caught:
        estimates.check(config, data, speeds, limit=limit)
    message = str(caught.value)
    assert message.startswith("This training would take about") and "What fits:" in message
    fewer = int(message.split("What fits: ")[1].split(" epochs")[0])
    assert estimates.estimate(dataclasses.replace(config, epochs=fewer), len(data.x_train), speeds).minutes <= limit
    assert estimates.estimate(dataclasses.replace(config, epochs=fewer + 1), len(data.x_train), speeds).minutes > limit
    assert " or " in message and "training images" in message
    assert estimates.check(config, data, speeds, limit=full.minutes * 2).seconds == pytest.approx(full.seconds)
    monkeypatch.setenv("CNNLAB_MAX_MINUTES", "soon")
    with pytest.raises(ConfigError, match="must be a number of minutes"):
        estimates.check(config, data, speeds)


def test_a_huge_network_is_refused_by_prepare_and_by_submit_and_no_worker_builds_it():
    from cnnlab import training
    from cnnlab.compute import jobs, worker

    store = runs.RunStore()
    executor = worker.ProcessExecutor()  # the web server's: it prepares in a worker process
    queue = jobs.TrainingQueue(store, executor)
    huge = TrainConfig(dataset="mnist", architecture=[{"kind": "conv", "size": 64}, {"kind": "flatten"},
                                                      {"kind": "dense", "size": 128}])  # 5.5 M parameters
    before = settled_workers()  # conftest: those of earlier tests ended
    started = time.perf_counter()
    assert queue.prepare(huge) is False  # what the Train page asks on every render
    # no worker was started to build it (a network under the limits starts one: test_executors' prepare test)
    assert time.perf_counter() - started < 0.5 and set(multiprocessing.active_children()) == before
    with pytest.raises(ConfigError, match="more than this server's limit of 5,000,000 for a network of your own"):
        queue.submit(huge, student="ada")
    assert queue.jobs() == [] and store.list() == []
    warm = training.WarmNetworks()  # what the worker would do if asked: refuse, and keep nothing
    with pytest.raises(ConfigError, match="5,000,000"):
        training.warm_up(huge, warm)
    assert len(warm) == 0


RECORDER = """
import pathlib, sys, time
sys.path.insert(0, {root!r})
from cnnlab.runs import estimates
from cnnlab.training import TrainConfig
speeds = estimates.Speeds({store!r})
pathlib.Path({go!r} + ".{first}").touch()  # ready
while not pathlib.Path({go!r}).exists():  # both processes start writing at once
    time.sleep(0.001)
for size in range({first}, {first} + {count}):
    speeds.record(TrainConfig(architecture=[{{"kind": "flatten"}}, {{"kind": "dense", "size": size}}]), 1000, 1.0,
                  device="cpu")
"""


def test_two_processes_recording_speeds_at_once_lose_nothing(tmp_path):
    """#29 item 10: the server and the command line both write speeds.json; each keeps the other's measurements."""
    import pathlib
    import subprocess
    import sys

    from conftest import ROOT

    store, go, count = tmp_path / "store", tmp_path / "go", 60
    store.mkdir()
    writers = [subprocess.Popen([sys.executable, "-c", RECORDER.format(root=ROOT, store=str(store), go=str(go),
                                                                        first=first, count=count)])
               for first in (8, 8 + count)]
    deadline = time.time() + 60
    while not all(pathlib.Path(f"{go}.{first}").exists() for first in (8, 8 + count)) and time.time() < deadline:
        time.sleep(0.01)  # both imported and waiting
    go.touch()
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    networks = estimates.Speeds(store).read()["cpu"]["networks"]
    assert len(networks) == 2 * count  # no process's update overwrote the other's
