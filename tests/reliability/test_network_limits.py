"""Networks over each of the server's limits (parameters, activations per image): refused from their layer list, in
words, before anything is built, on every path: the package, prepare, train, a Ray training, the CLI and the pages.

The networks are written here, as a student would send them. The parameter one has 13 billion parameters: building it
would take the machine's memory (the CLI died of it after 16 s), so a test that returns at all built nothing.

A network under both limits still grows with its batch: a batch over one training's memory is refused with the largest
that fits, and every batch the package makes (training, validation, predictions, the pages' looks inside) is sized by
memory, measured in a process of its own.
"""

import dataclasses
import json
import multiprocessing
import os
import time

import numpy as np
import pytest
from conftest import ROOT, run_cli, settled_workers
from streamlit.testing.v1 import AppTest

from cnnlab import runs, training
from cnnlab.classroom import permissions
from cnnlab.compute import executors, jobs, ray_client, ray_hub, worker
from cnnlab.course import exports
from cnnlab.data import catalogue, datasets
from cnnlab.errors import ConfigError, SpecError
from cnnlab.networks import architectures, counting, keras_build, limits
from cnnlab.runs import estimates
from cnnlab.training import TrainConfig

OVER = {  # limit -> (a network over it on MNIST's 28x28x1 images, the words that name the limit)
    # conv 4096 'same' -> 28x28x4096 = 3.2 M values, flattened into Dense(4096): 13.2 billion parameters
    "params": ([{"kind": "conv", "size": 4096, "padding": "same"}, {"kind": "flatten"},
                {"kind": "dense", "size": 4096}], "parameters, more than this server's limit of 5,000,000"),
    # a wide 'same' conv: 28x28x2048 = 1.6 M values for each image, with only 25 thousand parameters
    "activations": ([{"kind": "conv", "size": 2048, "kernel": 1, "padding": "same"}, {"kind": "globalavgpool"}],
                    "numbers for each image (6.1 MB as float32), more than this server's limit of 1,000,000"),
}
LIMITS = sorted(OVER)
MNIST = catalogue.get_info("mnist")


def config(limit, **settings):
    return TrainConfig(dataset="mnist", architecture=OVER[limit][0], epochs=1, batch_size=10, train_size=20,
                       **settings)


def refused_quickly(function, words, seconds=1.0):
    """function() raises ConfigError naming the limit, within seconds: nothing was built or trained."""
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        function()
    assert time.perf_counter() - started < seconds
    assert words in str(caught.value), str(caught.value)
    return caught.value


def workers():
    return set(multiprocessing.active_children())


@pytest.mark.parametrize("limit", LIMITS)
def test_the_package_counts_the_network_and_never_builds_it(limit):
    spec, words = OVER[limit]
    size = limits.size(spec, MNIST.image_shape, MNIST.num_classes)
    assert size.params > limits.MAX_PARAMS if limit == "params" else (
        size.activations > limits.MAX_ACTIVATIONS and size.params < limits.MAX_PARAMS)
    refused_quickly(lambda: limits.check_size(spec, MNIST.image_shape, MNIST.num_classes), words, 0.05)
    refused_quickly(lambda: keras_build.build(spec, MNIST.image_shape, MNIST.num_classes), words)
    # train() refuses before it reads the data, and a warm-up keeps nothing
    refused_quickly(lambda: training.train(config(limit)), words)
    warm = training.WarmNetworks()
    refused_quickly(lambda: training.warm_up(config(limit), warm), words)
    assert len(warm) == 0
    # and the submit path (the Teacher page, the course) says the same sentence
    refused_quickly(lambda: estimates.check(config(limit), datasets.load("mnist"), estimates.Speeds(), 1e9), words)


@pytest.mark.parametrize("limit", LIMITS)
def test_prepare_skips_it_without_a_word_and_no_worker_builds_it(limit):
    queue = jobs.TrainingQueue(runs.RunStore(), worker.ProcessExecutor())  # the web server's executor
    before = settled_workers()
    assert queue.prepare(config(limit)) is False
    assert queue.prepare(config(limit, seed=3)) is False  # asked again, with other settings: still nothing
    assert workers() == before
    kept = len(training.WARM)
    worker._warm_up_in_worker(config(limit).to_dict())  # what the worker would do if it were asked: nothing
    assert len(training.WARM) == kept


@pytest.mark.parametrize("limit", LIMITS)
def test_a_ray_training_is_refused_before_anything_is_sent(limit):
    executor = ray_client.RayExecutor("local")
    refused_quickly(lambda: executor.train(config(limit), datasets.load("mnist")), OVER[limit][1])
    assert not executor._connected  # no cluster was started or asked


@pytest.fixture(scope="module")
def local_ray():
    """A private Ray instance on loopback (as test_executors starts one), stopped at the end of the module."""
    executor = executors.executor("local")
    executor.connect()
    yield executor
    ray_hub.import_ray().shutdown()
    executors.executor.cache_clear()


@pytest.mark.xdist_group("ray")  # on the worker that runs test_executors' Ray: one Ray instance at a time
def test_a_ray_task_sent_such_a_network_builds_nothing_and_says_why(local_ray):
    """The task itself refuses (as if a server without the check above had sent it): train() counts first."""
    ray = ray_hub.import_ray()
    data = local_ray._put(datasets.load("mnist"))
    for limit in LIMITS:
        progress = ray_hub.Training(local_ray._hub(ray), f"over-{limit}")
        assert ray.get(progress.claim.remote("this test"))
        started = time.perf_counter()
        result = ray_hub.task_function().options(max_retries=0, num_cpus=1).remote(
            config(limit).to_dict(), data, progress, dataclasses.asdict(permissions.OWNER))  # one who may train
        with pytest.raises(ray.exceptions.RayTaskError) as caught:
            ray.get(result, timeout=120)
        assert isinstance(caught.value.cause, ConfigError) and OVER[limit][1] in str(caught.value.cause)
        assert time.perf_counter() - started < 60
        assert ray.get(progress.state.remote(0))["epochs"] == []


@pytest.mark.parametrize("limit", LIMITS)
def test_the_command_line_says_one_line_and_exits_2(limit):
    started = time.perf_counter()
    out = run_cli("train", "--architecture", json.dumps(OVER[limit][0]), "--epochs", "1", "--train-size", "20",
                  "--batch-size", "10", timeout=120)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and OVER[limit][1] in lines[0], out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""
    assert time.perf_counter() - started < 60  # nothing loaded, built or trained: only the interpreter's start
    assert runs.RunStore().list() == []


def page(path, **state):
    at = AppTest.from_file(os.path.join(ROOT, path), default_timeout=120)
    for key, value in state.items():
        at.session_state[key] = value
    return at


@pytest.mark.parametrize("limit", LIMITS)
def test_the_model_page_says_which_limit_and_offers_no_use(limit, fresh_streamlit_caches):
    at = page("pages/2_Model.py", dataset="mnist", architecture=OVER[limit][0]).run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("This network is too large to train on this server: ")
    assert OVER[limit][1] in errors[0]
    size = limits.size(OVER[limit][0], MNIST.image_shape, MNIST.num_classes)
    assert f"Total params: **{size.params:,}**" in " ".join(m.value for m in at.markdown)  # the summary stays
    assert at.button[0].disabled


@pytest.mark.parametrize("limit", LIMITS)
def test_the_train_page_says_it_prepares_nothing_and_trains_nothing(limit, fresh_streamlit_caches):
    before = settled_workers()
    at = page("pages/3_Train.py", dataset="mnist", architecture=OVER[limit][0]).run()
    assert not at.exception, at.exception
    assert [w.value for w in at.warning if OVER[limit][1] in w.value], [w.value for w in at.warning]
    at.button[0].click().run()  # Train
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("These settings cannot train: custom on MNIST: ")
    assert OVER[limit][1] in errors[0]
    assert workers() == before and not runs.RunStore().list()


@pytest.mark.parametrize("limit", LIMITS)
def test_a_settings_link_to_it_fills_the_form_says_why_and_prepares_nothing(limit, fresh_streamlit_caches):
    before = settled_workers()
    at = page("pages/3_Train.py")
    at.query_params.update(exports.settings_query(config(limit)))
    at.run()
    assert not at.exception, at.exception
    assert "Settings from the link: custom on MNIST" in " ".join(m.value for m in at.info)
    assert [w.value for w in at.warning if OVER[limit][1] in w.value], [w.value for w in at.warning]
    assert workers() == before


def test_every_preset_stays_bounded_on_every_image_the_app_accepts():
    """Presets are not held to the limits for networks of one's own; their size is bounded by the image sides."""
    from cnnlab.data import own_images

    shapes = [info.image_shape for info in catalogue.DATASETS.values()]
    shapes += [(side, side, channels) for side in own_images.SIDES for channels in (1, 3)]
    for name, preset in architectures.PRESETS.items():
        for shape in shapes:
            try:
                size = limits.check_size(preset.layers, shape, 10)
            except SpecError:
                continue  # cannot be built on these images at all (said in words elsewhere)
            assert size.params <= 30_000_000 and size.activations <= limits.MAX_ACTIVATIONS, (name, shape)
    # a network just over the parameter limit is refused with Keras's own count of it
    over = [{"kind": "flatten"}, {"kind": "dense", "size": 4096}, {"kind": "dense", "size": 435}]
    model = keras_build.build(over, (28, 28, 1), 10, within_limits=False)
    assert model.count_params() > limits.MAX_PARAMS
    error = refused_quickly(lambda: limits.check_size(over, (28, 28, 1), 10), "5,000,000")
    assert f"{model.count_params():,} parameters" in str(error)
    under = over[:2] + [{"kind": "dense", "size": 433}]
    assert limits.check_size(under, (28, 28, 1), 10).params == keras_build.build(
        under, (28, 28, 1), 10).count_params() <= limits.MAX_PARAMS


# ---------------------------------------------------------------- a batch over one training's memory (#29 item 2)

# the reviewer's network: 14 thousand parameters and 942 thousand numbers per image, under both limits above, yet a
# batch of 4,096 holds 15 GB of layer outputs (and predictions in batches of 1,024 took a training to 8.1 GB)
WIDE = [{"kind": "conv", "size": 1200, "kernel": 1, "padding": "same"}, {"kind": "globalavgpool"}]
TRAIN_PAGE_BATCHES = (16, 32, 64, 128, 256, 512, 1024)  # pages/3_Train.py's BATCH_SIZES


def keras_activations(spec, shape=(28, 28, 1), classes=10):
    """Numbers per image as Keras has them: the outputs of the built network's layers (the oracle for the count)."""
    import math

    model = keras_build.build(spec, shape, classes, within_limits=False)
    return sum(math.prod(layer.output.shape[1:]) for layer in model.layers[1:])


def largest_batch(spec):
    """The largest batch one training's memory holds, from Keras's count: 4 bytes a number, 3 copies while training."""
    return limits.TRAINING_MEMORY // (keras_activations(spec) * 4 * 3)


def test_the_wide_network_is_under_both_limits_but_not_at_a_batch_of_4096():
    size = limits.check_size(WIDE, MNIST.image_shape, MNIST.num_classes)  # both limits pass
    assert size.activations == keras_activations(WIDE) and size.params < 20_000
    largest = largest_batch(WIDE)
    assert largest == 189  # 2 GB / (942,010 numbers x 4 bytes x 3)
    words = f"use a batch size of {largest:,} or less"
    refused = refused_quickly(lambda: training.check_layers(config_wide(4096)), words)
    assert str(refused).startswith("custom on MNIST: A batch of 4,096 images would need up to 43.1 GB while "
                                   "training (942,010 numbers for each image"), str(refused)
    assert training.check_layers(config_wide(largest)) == size  # the largest that fits is accepted ...
    refused_quickly(lambda: training.check_layers(config_wide(largest + 1)), words)  # ... and no more
    # every path that trains says it before anything is read or built: train(), the worker's warm-up, submit
    refused_quickly(lambda: training.train(config_wide(4096)), words)
    warm = training.WarmNetworks()
    refused_quickly(lambda: training.warm_up(config_wide(4096), warm), words)
    assert len(warm) == 0
    queue = jobs.TrainingQueue(runs.RunStore(), worker.ProcessExecutor())
    before = settled_workers()
    refused_quickly(lambda: queue.submit(config_wide(4096), student="ada"), words)
    assert queue.prepare(config_wide(4096)) is False and workers() == before
    assert queue.jobs() == [] and runs.RunStore().list() == []
    from cnnlab import i18n

    i18n.set_language("es")
    with pytest.raises(ConfigError, match="usa un tamaño de lote de 189 o menos"):
        training.check_layers(config_wide(4096))


def config_wide(batch_size, **settings):
    return TrainConfig(dataset="mnist", architecture=WIDE, epochs=1, batch_size=batch_size,
                       **{"train_size": 2000, **settings})


def test_the_command_line_refuses_the_wide_network_at_4096_in_one_line():
    out = run_cli("train", "--architecture", json.dumps(WIDE), "--epochs", "1", "--batch-size", "4096", timeout=120)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert "A batch of 4,096 images would need up to 43.1 GB" in lines[0]
    assert "use a batch size of 189 or less" in lines[0], lines[0]
    assert "Traceback" not in out.stderr and out.stdout == "" and runs.RunStore().list() == []


def test_the_train_page_says_the_largest_batch_under_the_form_and_when_train_is_pressed(fresh_streamlit_caches):
    before = settled_workers()
    at = page("pages/3_Train.py", dataset="mnist", architecture=WIDE, batch_size=4096).run()  # as a link sets it
    assert not at.exception, at.exception
    words = "use a batch size of 189 or less"
    assert [w.value for w in at.warning if words in w.value], [w.value for w in at.warning]
    at.button[0].click().run()  # Train
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("These settings cannot train: custom on MNIST: A batch of 4,096 "
                                                     "images would need up to 43.1 GB"), errors
    assert words in errors[0]
    assert workers() == before and not runs.RunStore().list()
    # at a batch that fits, the same network is no longer warned about
    at = page("pages/3_Train.py", dataset="mnist", architecture=WIDE, batch_size=128).run()
    assert not at.exception and not [w.value for w in at.warning if "batch" in w.value], [w.value for w in at.warning]


def test_every_preset_trains_at_every_batch_size_the_train_page_offers_and_the_course_runs():
    """The budget was chosen so: every preset on MNIST, Fashion-MNIST and CIFAR-10 at 16 to 1,024; on pictures of
    one's own up to 64x64x3 at 256 and less (a larger batch there is refused with the largest that fits, never
    less than 256); and every experiment of the course as the reports ran it."""
    from cnnlab.course import experiments
    from cnnlab.data import own_images

    for name in architectures.PRESETS:
        for dataset in catalogue.DATASETS:
            info = catalogue.get_info(dataset)
            if counting.preset_params(name, info.image_shape, info.num_classes) is None:
                continue  # cannot be built on these images at all (said in words elsewhere)
            for batch in TRAIN_PAGE_BATCHES:
                training.check_layers(TrainConfig(dataset=dataset, architecture=name, batch_size=batch))
        for side in own_images.SIDES:
            for channels in (1, 3):
                own = dataclasses.replace(MNIST, image_shape=(side, side, channels), title=f"own {side}")
                if counting.preset_params(name, own.image_shape, own.num_classes) is None:
                    continue
                for batch in TRAIN_PAGE_BATCHES:
                    settings = TrainConfig(dataset="mnist", architecture=name, batch_size=batch)
                    try:
                        training.check_layers(settings, own)
                    except ConfigError as error:
                        assert batch > 256, (name, side, channels, batch)
                        largest = int(str(error).split("use a batch size of ")[1].split(" or less")[0].replace(
                            ",", ""))
                        assert 256 <= largest < batch, str(error)
    for experiment in experiments.EXPERIMENTS:
        training.check_layers(experiment.settings)


# ---------------------------------------------------------------- batches sized by memory, in bounded memory

def test_batches_cut_by_the_memory_budget_change_nothing_but_the_memory(monkeypatch):
    """Predictions, the learned map's features, occlusion and filter patterns in batches of a few images are those
    of one batch, up to float rounding (each image is computed on its own)."""
    import keras

    from cnnlab.insight import explain, inspection, learned

    keras.utils.set_random_seed(0)  # the same network every run: an unseeded one drifted past 1e-5 in one suite run
    model = keras_build.build("fast", (28, 28, 1), 10)
    images = datasets.load("mnist").x_test[:50]
    whole, few = 10 ** 12, limits.model_activations(model) * 4 * 2 * 7  # bytes: everything, 7 images
    assert limits.images_per_batch(limits.model_activations(model), few) == 7
    assert np.allclose(training.predict(model, images, budget_bytes=few),  # equal up to float rounding
                       training.predict(model, images, budget_bytes=whole), rtol=1e-5, atol=1e-7)
    with monkeypatch.context() as small:  # a page's budget made small: page functions read limits' own
        small.setattr(limits, "INFERENCE_MEMORY", few)
        chunked = (learned.features(model, images), inspection.occlusion(model, images[0] / 255.0, 7),
                   explain.filter_activations(model, "conv_2", images[..., None] / 255.0))
    assert np.allclose(chunked[0], learned.features(model, images), rtol=1e-5, atol=1e-6)
    assert np.allclose(chunked[1], inspection.occlusion(model, images[0] / 255.0, 7), atol=1e-5)
    assert np.allclose(chunked[2], explain.filter_activations(model, "conv_2", images[..., None] / 255.0), atol=1e-5)
    patterns = explain.maximise_filters(model, "conv_2", steps=9, budget_bytes=1)  # one filter at a time
    assert np.allclose(patterns, explain.maximise_filters(model, "conv_2", steps=9, budget_bytes=whole), atol=1e-5)


MEASURE = """
import dataclasses, os, sys, threading, time
import numpy as np
from cnnlab.networks import architectures
from cnnlab.networks import counting, keras_build, limits
from cnnlab.data import datasets
from cnnlab.data import catalogue
from cnnlab.insight import explain, inspection, learned
from cnnlab import training

WIDE = [{"kind": "conv", "size": 1200, "kernel": 1, "padding": "same"}, {"kind": "globalavgpool"}]
abort_mb = float(sys.argv[1])
data = datasets.load("mnist")
images = data.x_test[:100]


def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


import keras  # idle: a server that has TensorFlow loaded and has shown a small network once
keras_build.build("fast", (28, 28, 1), 10)(images[:1] / 255.0)
idle, phase = rss(), {"peak": 0}


def watch():  # the old code took gigabytes: stop at abort_mb above idle rather than take the machine's memory
    while True:
        grown = rss() - idle
        phase["peak"] = max(phase["peak"], grown)
        if grown > abort_mb * 2 ** 20:
            print(f"aborted: {grown // 2 ** 20} MB above idle", flush=True)
            os._exit(3)
        time.sleep(0.002)


threading.Thread(target=watch, daemon=True).start()
# a page on the web server: the network of a stored run, asked for predictions, its map, occlusion, filter patterns
model = keras_build.build(WIDE, (28, 28, 1), 10)
training.predict(model, images)
learned.features(model, images)
inspection.occlusion(model, images[0] / 255.0, 3)
# filter patterns: 240 filters of a 'same' conv on pictures of one's own of 64x64, 983,040 numbers per image each
explain.maximise_filters(keras_build.build([dict(WIDE[0], size=240), WIDE[1]], (64, 64, 1), 10), "conv_1", steps=1)
time.sleep(0.05)
print("page", phase["peak"] // 2 ** 20, flush=True)
# the worker: one epoch at the largest batch that fits, its validation and its predictions on the test images
phase["peak"] = 0
largest = limits.images_per_batch(limits.size(WIDE, (28, 28, 1), 10).activations,
                                         limits.TRAINING_MEMORY, limits.TRAINING_COPIES)
config = training.TrainConfig(dataset="mnist", architecture=WIDE, epochs=1, batch_size=largest,
                              train_size=520, validation_split=0.5)
small = dataclasses.replace(data, x_test=data.x_test[:400], y_test=data.y_test[:400])  # predicted 284 at a time
result = training.train(config, dataset=small)
time.sleep(0.05)
print("training", phase["peak"] // 2 ** 20, result.sizes["train"], result.sizes["validation"], flush=True)
# the kernel's peak of this address space (VmHWM): ru_maxrss would keep the peak of pytest, whose vfork ran this
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) * 1024
print("maxrss", (hwm - idle) // 2 ** 20, flush=True)
"""
PAGE_BOUND_MB = 400  # a page's budget: 256 MB of layer outputs by the count (measured: 260 MB above idle)
TRAINING_BOUND_MB = 2450  # one training's budget: 2 GB of layer outputs by the count (measured: 2,106 MB)


def test_the_wide_network_trains_at_its_largest_batch_and_is_looked_inside_in_bounded_memory():
    """Measured in a process of its own (the resident size every 2 ms, and the kernel's peak, VmHWM), above a server that has
    TensorFlow loaded. Before batches were sized by memory, the page's part took 1.8 GB and the training went past
    2.85 GB, where the measuring process stops itself (predictions in batches of 1,024 took the issue's training at
    a batch of 16 to 8.1 GB)."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": ROOT, "CNNLAB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", MEASURE, str(TRAINING_BOUND_MB + 400)], capture_output=True,
                         text=True, env=env, timeout=300, cwd=ROOT)
    lines = dict(line.split(" ", 1) for line in out.stdout.strip().splitlines())
    assert out.returncode == 0 and "aborted:" not in lines, (out.stdout, out.stderr[-3000:])
    assert int(lines["page"]) < PAGE_BOUND_MB, f"a page took {lines['page']} MB above idle"
    grown, train, validation = (int(n) for n in lines["training"].split())
    assert (train, validation) == (260, 260)  # batches of 189 (the largest) and 71; a validation batch of 256
    assert grown < TRAINING_BOUND_MB and int(lines["maxrss"]) < TRAINING_BOUND_MB, lines
