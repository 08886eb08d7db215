"""Estimates come from this server's measured speeds; a request over the limit is refused with what fits."""

import dataclasses

import pytest

from cnnlab import datasets, estimates, runs
from cnnlab.errors import ConfigError
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)


def test_a_training_updates_this_servers_speed_for_that_network():
    store = runs.RunStore()
    speeds = estimates.Speeds(store.root)
    config = TrainConfig(**dict(TINY, epochs=3))
    guess, measured = speeds.images_per_second(config)
    assert guess > 0 and not measured  # a first guess from the network's FLOPs
    store.get_or_train(TrainConfig(**TINY))  # one epoch: mostly building and tracing, so it is not counted
    assert speeds.images_per_second(config) == (guess, False)
    run, _ = store.get_or_train(config)
    rate, measured = speeds.images_per_second(config)
    after_the_first = sorted(run.record["epoch_seconds"][1:])
    steady = after_the_first[len(after_the_first) // 2]  # the median of the epochs after the first
    images = run.record["data"]["train"] + run.record["data"]["validation"] / 3
    assert measured and len(run.record["epoch_seconds"]) == 3 and rate == pytest.approx(images / steady, rel=1e-6)
    other = TrainConfig(**dict(TINY, architecture="net_1"))
    from cnnlab import architectures

    flops = {c.architecture: architectures.flops_per_image(c.layers, (28, 28, 1), 10) for c in (config, other)}
    estimated, _ = speeds.images_per_second(other)  # another network: from the GFLOP/s measured on this one
    assert estimated == pytest.approx(rate * flops["fast"] / flops["net_1"], rel=1e-6)
    longer = estimates.estimate(dataclasses.replace(config, epochs=30), 8000, speeds)
    assert longer.seconds > estimates.estimate(config, 8000, speeds).seconds


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


def test_a_huge_custom_network_is_refused_before_it_is_built():
    spec = [{"kind": "conv", "size": 64}, {"kind": "flatten"}, {"kind": "dense", "size": 128}]  # 5.5 M parameters
    config = TrainConfig(dataset="mnist", architecture=spec)
    with pytest.raises(ConfigError, match="this server trains custom networks of at most 5,000,000"):
        estimates.check(config, datasets.load("mnist"), estimates.Speeds(runs.RunStore().root), limit=1e9)
