"""Settings that cannot work get a message that says what to change; a diverged run is never stored as good."""

import math

import pytest
from conftest import run_cli

from cnnlab import runs, training
from cnnlab.compute import jobs
from cnnlab.errors import ConfigError, SpecError, TrainingDiverged
from cnnlab.training import TrainConfig


@pytest.mark.parametrize("settings,words", [
    ({"learning_rate": 0}, "Learning rate is 0: it must be from"),
    ({"learning_rate": math.nan}, "Learning rate"),
    ({"learning_rate": -1}, "Learning rate"),
    ({"epochs": 0}, "Epochs is 0"),
    ({"batch_size": 0}, "Batch size"),
    ({"validation_split": 0.9}, "Validation split"),
    ({"dropout": 1.0}, "Dropout"),
    ({"optimizer": "magic"}, "Unknown optimizer 'magic'"),
    ({"architecture": "no_such_net"}, "no_such_net"),
])
def test_impossible_settings_say_what_to_change(settings, words):
    with pytest.raises((ConfigError, SpecError), match=words):
        TrainConfig(**settings)


def test_a_batch_larger_than_the_data_and_collapsing_shapes_are_caught_before_training():
    with pytest.raises(ConfigError, match="Batch size 4096 is larger than the .* training images: lower the batch"):
        training.preflight(TrainConfig(batch_size=4096, train_size=500))
    spec = '[{"kind": "conv", "size": 8, "kernel": 5}, {"kind": "maxpool"}, {"kind": "conv", "size": 8, "kernel": 5},' \
           ' {"kind": "maxpool"}, {"kind": "conv", "size": 8, "kernel": 5}]'
    with pytest.raises(SpecError, match="Conv"):
        training.preflight(TrainConfig(architecture=spec))


@pytest.mark.parametrize("args,words", [
    (("--learning-rate", "0"), "Learning rate is 0"),
    (("--learning-rate", "nan"), "Learning rate"),
    (("--batch-size", "2048", "--train-size", "1000"), "Batch size 2048 is larger"),
    (("--batch-size", "5000"), "Batch size is 5,000: it must be from 1 to 4,096"),
    (("--epochs", "-3"), "Epochs"),
    (("--architecture", "[{\"kind\": \"conv\", \"size\": 4, \"kernel\": 40}]"), "kernel"),
])
def test_the_command_line_says_it_in_one_line(args, words):
    out = run_cli("train", *args)
    assert out.returncode == 2
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("cnnlab:") and words in last and "Traceback" not in out.stderr


def test_a_diverging_training_is_reported_and_not_stored_as_good():
    store = runs.RunStore()
    linear = '[{"kind": "flatten"}, {"kind": "dense", "size": 256, "activation": "linear"}, ' \
             '{"kind": "dense", "size": 256, "activation": "linear"}]'  # nothing bounds the weights
    config = TrainConfig(architecture=linear, optimizer="sgd", learning_rate=10.0, epochs=2, train_size=640,
                         batch_size=32)
    with pytest.raises(TrainingDiverged, match="Lower the learning rate"):
        store.get_or_train(config)
    assert store.list() == [] and store.get(config.run_id("sample")) is None
    queue = jobs.TrainingQueue(store)
    job = queue.submit(config)
    assert queue.wait(job, timeout=120)
    assert job.status == "failed" and "diverged" in str(job.error)
    assert store.list() == []
