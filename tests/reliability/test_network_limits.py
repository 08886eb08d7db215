"""Networks over each of the server's limits (parameters, activations per image): refused from their layer list, in
words, before anything is built, on every path: the package, prepare, train, a Ray training, the CLI and the pages.

The networks are written here, as a student would send them. The parameter one has 13 billion parameters: building it
would take the machine's memory (the CLI died of it after 16 s), so a test that returns at all built nothing.
"""

import json
import multiprocessing
import os
import time

import pytest
from streamlit.testing.v1 import AppTest

from cnnlab import architectures, datasets, estimates, exports, executors, jobs, runs, training
from cnnlab.errors import ConfigError, SpecError
from cnnlab.training import TrainConfig
from conftest import ROOT, run_cli

OVER = {  # limit -> (a network over it on MNIST's 28x28x1 images, the words that name the limit)
    # conv 4096 'same' -> 28x28x4096 = 3.2 M values, flattened into Dense(4096): 13.2 billion parameters
    "params": ([{"kind": "conv", "size": 4096, "padding": "same"}, {"kind": "flatten"},
                {"kind": "dense", "size": 4096}], "parameters, more than this server's limit of 5,000,000"),
    # a wide 'same' conv: 28x28x2048 = 1.6 M values for each image, with only 25 thousand parameters
    "activations": ([{"kind": "conv", "size": 2048, "kernel": 1, "padding": "same"}, {"kind": "globalavgpool"}],
                    "numbers for each image (6.1 MB as float32), more than this server's limit of 1,000,000"),
}
LIMITS = sorted(OVER)
MNIST = datasets.get_info("mnist")


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
    size = architectures.size(spec, MNIST.image_shape, MNIST.num_classes)
    assert size.params > architectures.MAX_PARAMS if limit == "params" else (
        size.activations > architectures.MAX_ACTIVATIONS and size.params < architectures.MAX_PARAMS)
    refused_quickly(lambda: architectures.check_size(spec, MNIST.image_shape, MNIST.num_classes), words, 0.05)
    refused_quickly(lambda: architectures.build(spec, MNIST.image_shape, MNIST.num_classes), words)
    # train() refuses before it reads the data, and a warm-up keeps nothing
    refused_quickly(lambda: training.train(config(limit)), words)
    warm = training.WarmNetworks()
    refused_quickly(lambda: training.warm_up(config(limit), warm), words)
    assert len(warm) == 0
    # and the submit path (the Teacher page, the course) says the same sentence
    refused_quickly(lambda: estimates.check(config(limit), datasets.load("mnist"), estimates.Speeds(), 1e9), words)


@pytest.mark.parametrize("limit", LIMITS)
def test_prepare_skips_it_without_a_word_and_no_worker_builds_it(limit):
    queue = jobs.TrainingQueue(runs.RunStore(), executors.ProcessExecutor())  # the web server's executor
    before = workers()
    assert queue.prepare(config(limit)) is False
    assert queue.prepare(config(limit, seed=3)) is False  # asked again, with other settings: still nothing
    assert workers() == before
    kept = len(training.WARM)
    executors._warm_up_in_worker(config(limit).to_dict())  # what the worker would do if it were asked: nothing
    assert len(training.WARM) == kept


@pytest.mark.parametrize("limit", LIMITS)
def test_a_ray_training_is_refused_before_anything_is_sent(limit):
    executor = executors.RayExecutor("local")
    refused_quickly(lambda: executor.train(config(limit), datasets.load("mnist")), OVER[limit][1])
    assert not executor._connected  # no cluster was started or asked


@pytest.fixture(scope="module")
def local_ray():
    """A private Ray instance on loopback (as test_executors starts one), stopped at the end of the module."""
    executor = executors.executor("local")
    executor.connect()
    yield executor
    executors._ray().shutdown()
    executors.executor.cache_clear()


def test_a_ray_task_sent_such_a_network_builds_nothing_and_says_why(local_ray):
    """The task itself refuses (as if a server without the check above had sent it): train() counts first."""
    ray = executors._ray()
    data = local_ray._put(datasets.load("mnist"))
    for limit in LIMITS:
        progress = executors._Training(local_ray._hub(ray), f"over-{limit}")
        assert ray.get(progress.claim.remote("this test"))
        started = time.perf_counter()
        result = executors._task_function().options(max_retries=0, num_cpus=1).remote(
            config(limit).to_dict(), data, progress)
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
    size = architectures.size(OVER[limit][0], MNIST.image_shape, MNIST.num_classes)
    assert f"Total params: **{size.params:,}**" in " ".join(m.value for m in at.markdown)  # the summary stays
    assert at.button[0].disabled


@pytest.mark.parametrize("limit", LIMITS)
def test_the_train_page_says_it_prepares_nothing_and_trains_nothing(limit, fresh_streamlit_caches):
    before = workers()
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
    before = workers()
    at = page("pages/3_Train.py")
    at.query_params.update(exports.settings_query(config(limit)))
    at.run()
    assert not at.exception, at.exception
    assert "Settings from the link: custom on MNIST" in " ".join(m.value for m in at.info)
    assert [w.value for w in at.warning if OVER[limit][1] in w.value], [w.value for w in at.warning]
    assert workers() == before


def test_every_preset_stays_bounded_on_every_image_the_app_accepts():
    """Presets are not held to the limits for networks of one's own; their size is bounded by the image sides."""
    from cnnlab import own_images

    shapes = [info.image_shape for info in datasets.DATASETS.values()]
    shapes += [(side, side, channels) for side in own_images.SIDES for channels in (1, 3)]
    for name, preset in architectures.PRESETS.items():
        for shape in shapes:
            try:
                size = architectures.check_size(preset.layers, shape, 10)
            except SpecError:
                continue  # cannot be built on these images at all (said in words elsewhere)
            assert size.params <= 30_000_000 and size.activations <= architectures.MAX_ACTIVATIONS, (name, shape)
    # a network just over the parameter limit is refused with Keras's own count of it
    over = [{"kind": "flatten"}, {"kind": "dense", "size": 4096}, {"kind": "dense", "size": 435}]
    model = architectures.build(over, (28, 28, 1), 10, within_limits=False)
    assert model.count_params() > architectures.MAX_PARAMS
    error = refused_quickly(lambda: architectures.check_size(over, (28, 28, 1), 10), "5,000,000")
    assert f"{model.count_params():,} parameters" in str(error)
    under = over[:2] + [{"kind": "dense", "size": 433}]
    assert architectures.check_size(under, (28, 28, 1), 10).params == architectures.build(
        under, (28, 28, 1), 10).count_params() <= architectures.MAX_PARAMS
