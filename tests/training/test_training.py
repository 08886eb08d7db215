import math

import numpy as np
import pytest

from cnnlab import i18n, training
from cnnlab.data import datasets
from cnnlab.errors import CnnlabError, ConfigError, SpecError, TrainingStoppedEarly
from cnnlab.networks import keras_build
from cnnlab.training import TrainConfig, callbacks

TINY = dict(dataset="mnist", architecture="fast", epochs=2, batch_size=32, train_size=640, validation_split=0.25)


def test_default_learning_rate_is_resolved_so_equal_settings_share_a_key():
    assert TrainConfig(optimizer="adam").learning_rate == 0.001
    assert TrainConfig(optimizer="sgd").learning_rate == 0.01
    assert TrainConfig().run_id() == TrainConfig(learning_rate=0.001).run_id()
    assert TrainConfig().run_id() != TrainConfig(seed=1).run_id()
    assert TrainConfig().run_id("full") != TrainConfig().run_id("sample")


def test_preset_and_its_layers_train_the_same_network_but_are_named_apart():
    from cnnlab.networks import architectures
    by_name = TrainConfig(architecture="net_1")
    by_layers = TrainConfig(architecture=[l.to_dict() for l in architectures.PRESETS["net_1"].layers])
    assert by_name.layers == by_layers.layers
    assert by_layers.architecture_name == "custom"
    assert TrainConfig.from_dict(by_layers.to_dict()) == by_layers


def test_dropout_override_is_part_of_the_key_and_notes_when_it_changes_nothing():
    assert TrainConfig(architecture="cool_cnn_3", dropout=0.5).run_id() != TrainConfig(architecture="cool_cnn_3").run_id()
    assert "no Dropout layer" in i18n.text(TrainConfig(architecture="net_1", dropout=0.5).notes[0])


@pytest.mark.parametrize("settings, expected", [
    ({"epochs": 0}, "Epochs is 0: it must be from 1 to 1,000"),
    ({"batch_size": 100_000}, "Batch size is 100,000"),
    ({"learning_rate": 0}, "Learning rate is 0"),
    ({"learning_rate": float("nan")}, "Learning rate must be a finite number"),
    ({"learning_rate": "fast"}, "Learning rate must be a number"),
    ({"epochs": 2.5}, "Epochs must be a whole number"),
    ({"dropout": 0.95}, "Dropout is 0.95"),
    ({"validation_split": 0.9}, "Validation split is 0.9"),
    ({"optimizer": "lbfgs"}, "Unknown optimizer 'lbfgs'"),
    ({"architecture": "vgg16"}, "Unknown architecture 'vgg16'"),
    ({"dataset": "svhn"}, "Unknown dataset 'svhn'"),
])
def test_out_of_range_settings_fail_before_any_work(settings, expected):
    with pytest.raises(CnnlabError) as caught:
        TrainConfig(**settings)
    assert expected in str(caught.value)


def test_combinations_that_cannot_work_are_caught_with_the_data():
    data = datasets.load("mnist")
    with pytest.raises(ConfigError, match="Batch size 512 is larger than the 300 training images"):
        training.split_data(TrainConfig(batch_size=512, train_size=400, validation_split=0.25), data)
    with pytest.raises(ConfigError, match="more than the 8,000 images available"):
        training.split_data(TrainConfig(train_size=20_000), data)
    with pytest.raises(SpecError, match="custom on CIFAR-10: Layer"):
        training.check_layers(TrainConfig(dataset="cifar10", architecture=[
            {"kind": "maxpool", "kernel": 8}, {"kind": "maxpool", "kernel": 8}, {"kind": "flatten"}]))


def test_train_reports_progress_and_returns_every_result(monkeypatch):
    monkeypatch.setattr(callbacks, "BATCH_REPORT_SECONDS", 0.0)  # report every batch that arrives in order
    epochs, batches = [], []
    result = training.train(TrainConfig(**TINY), on_epoch_end=lambda e, logs: epochs.append((e, logs)),
                            on_batch_end=lambda b, logs: batches.append((len(epochs), b, logs)))
    assert [e for e, _ in epochs] == [0, 1]
    assert set(epochs[0][1]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    steps = math.ceil(480 / 32)
    for epoch in (0, 1):
        seen = [b for e, b, _ in batches if e == epoch]
        assert seen and seen == sorted(set(seen)) and 0 <= seen[0] and seen[-1] < steps  # in order, no repeats
    assert all(isinstance(logs["loss"], float) for _, _, logs in batches)
    assert result.sizes == {"train": 480, "validation": 160, "test": 2000}
    assert len(result.history["val_accuracy"]) == 2 and not result.stopped
    assert result.probabilities.shape == (2000, 10)
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1, rtol=1e-4)
    assert result.test_accuracy > 0.5  # 480 real digits, two epochs: well above chance (0.1)
    # oracle: Keras's own evaluate on the same test set
    data = datasets.load("mnist")
    keras_loss, keras_accuracy = result.model.evaluate(datasets.preprocess_images(data.x_test), data.y_test,
                                                       verbose=0)
    assert result.test_accuracy == pytest.approx(keras_accuracy, abs=1e-6)
    assert result.test_loss == pytest.approx(keras_loss, rel=1e-4)


@pytest.mark.parametrize("augment", [False, True])
def test_training_is_seeded(augment):
    a = training.train(TrainConfig(**dict(TINY, epochs=1, augment=augment)))
    b = training.train(TrainConfig(**dict(TINY, epochs=1, augment=augment)))
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-5)
    assert a.test_accuracy == pytest.approx(b.test_accuracy, abs=2e-3)


def test_seeding_with_the_seed_tensorflow_has_draws_as_a_full_reseed():
    """seed_everything keeps TensorFlow's kernels when its global seed is unchanged, yet what a training draws
    starts over as after keras.utils.set_random_seed: Python, NumPy, shuffles with and without their own seed,
    Keras's initializers, dropout and random ops."""
    import random

    import keras
    import tensorflow as tf
    from tensorflow.python.eager import context

    def draws():
        seeded = [int(i) for i in tf.data.Dataset.range(8).shuffle(8, seed=3)]  # by (global seed, 3)
        unseeded = [int(i) for i in tf.data.Dataset.range(8).shuffle(8)]  # by (global seed, a drawn op seed)
        dense = keras.layers.Dense(3)
        dense.build((None, 4))
        dropped = keras.layers.Dropout(0.5)(np.ones((1, 6), np.float32), training=True)
        return (random.random(), float(np.random.rand()), seeded, unseeded, dense.kernel.numpy().tolist(),
                np.asarray(dropped).tolist(), keras.random.uniform([2]).numpy().tolist())

    keras.utils.set_random_seed(7)
    expected = draws()
    assert context.global_seed() == 7  # so the next call keeps TensorFlow's caches
    training.seed_everything(7)
    assert draws() == expected
    training.seed_everything(7)
    assert draws() == expected
    training.seed_everything(8)  # another seed: set as Keras sets it, caches cleared
    assert context.global_seed() == 8
    other = draws()
    keras.utils.set_random_seed(8)
    assert other == draws() != expected


@pytest.mark.parametrize("settings", [
    dict(architecture="model_2", optimizer="adagrad"),  # dropout seeds; an optimizer whose state starts at 0.1
    dict(architecture="fast", optimizer="adam", dropout=0.3),
])
def test_a_kept_network_trains_exactly_as_a_new_one(settings):
    warm = training.WarmNetworks()
    first = training.TrainConfig(**dict(TINY, **settings, seed=1, epochs=1))
    # a run stopped half-way leaves its network in the middle of an epoch, with trained weights and state; with no
    # whole epoch it stores nothing, but its compiled network is kept all the same
    asked = []
    with pytest.raises(TrainingStoppedEarly):
        training.train(first, warm=warm, should_stop=lambda: asked.append(1) or len(asked) > 4)
    assert len(warm) == 1
    traced = next(iter(warm._networks.values())).train_function
    config = training.TrainConfig(**dict(TINY, **settings, seed=2, learning_rate=0.02, batch_size=64))
    again = training.train(config, warm=warm)
    assert len(warm) == 0 and again.model.train_function is traced  # the kept network, not traced again
    new = training.train(config)  # oracle: a network built and compiled for this run
    assert new.model.train_function is not traced
    np.testing.assert_allclose(again.history["loss"], new.history["loss"], rtol=1e-6)
    np.testing.assert_allclose(again.history["val_accuracy"], new.history["val_accuracy"], rtol=1e-6)
    np.testing.assert_allclose(again.probabilities, new.probabilities, atol=1e-6)
    assert float(again.model.optimizer.learning_rate) == pytest.approx(0.02)


def test_a_network_warmed_up_on_blank_images_trains_as_a_new_one():
    warm = training.WarmNetworks()
    config = TrainConfig(**dict(TINY, epochs=1, augment=True))
    assert training.warm_up(config, warm) and not training.warm_up(config, warm)  # once
    kept = warm.take(config)
    traced = kept.train_function, kept.test_function
    warm.keep(config, kept)
    again = training.train(config, warm=warm)
    assert (again.model.train_function, again.model.test_function) == traced  # neither step traced again
    new = training.train(config)
    assert again.trained_on["network"] == "kept" and new.trained_on["network"] == "new"
    np.testing.assert_allclose(again.history["loss"], new.history["loss"], rtol=1e-6)
    np.testing.assert_allclose(again.probabilities, new.probabilities, atol=1e-6)


def test_a_network_prepared_for_its_seed_and_rate_trains_without_a_build_and_as_a_new_one(monkeypatch):
    from cnnlab.networks import keras_build

    warm = training.WarmNetworks()
    config = TrainConfig(**dict(TINY, epochs=1, seed=5, learning_rate=0.003, dropout=0.3))
    assert training.warm_up(config, warm)
    builds, real = [], keras_build.build
    monkeypatch.setattr(keras_build, "build", lambda *a, **k: builds.append(a) or real(*a, **k))
    prepared = training.train(config, warm=warm)
    assert builds == [] and prepared.trained_on["network"] == "kept"  # its start came with it
    prepared.detach_model(warm)
    other = TrainConfig(**dict(TINY, epochs=1, seed=6, learning_rate=0.003, dropout=0.3))
    assert training.warm_up(other, warm) and not training.warm_up(other, warm)  # the kept one gets seed 6's start
    builds.clear()  # that start was built while the student chose: not in the training's time
    again = training.train(other, warm=warm)
    assert builds == [] and again.trained_on["network"] == "kept"
    again.detach_model(warm)
    unprepared = training.train(TrainConfig(**dict(TINY, epochs=1, seed=5, learning_rate=0.01, dropout=0.3)),
                                warm=warm)
    assert len(builds) == 1 and unprepared.trained_on["network"] == "kept"  # built only for its start state
    monkeypatch.setattr(keras_build, "build", real)
    for used, settings in ((prepared, config), (again, other)):  # oracle: a network built for the run
        new = training.train(settings)
        assert new.trained_on["network"] == "new"
        np.testing.assert_allclose(used.history["loss"], new.history["loss"], rtol=1e-6)
        np.testing.assert_allclose(used.probabilities, new.probabilities, atol=1e-6)


def test_kept_networks_are_keyed_by_what_their_traced_steps_depend_on():
    warm = training.WarmNetworks(size=2)
    adam = training.train(TrainConfig(**dict(TINY, epochs=1)))
    adam.detach_model(warm)
    assert warm.take(TrainConfig(**dict(TINY, optimizer="sgd"))) is None
    assert warm.take(TrainConfig(**dict(TINY, dropout=0.5))) is None
    assert warm.take(TrainConfig(**dict(TINY, dataset="cifar10"))) is None  # another image shape
    other = TrainConfig(**dict(TINY, dataset="fashion_mnist", epochs=7, seed=3, batch_size=16, learning_rate=0.1,
                               train_size=320))
    model = warm.take(other)  # same shapes: the data, epochs, seed, batch, rate and size are not part of a trace
    assert model is not None and len(warm) == 0
    for name in ("net_1", "net_2", "fast"):  # the least recently kept goes first
        warm.keep(TrainConfig(**dict(TINY, architecture=name)), model)
    assert len(warm) == 2 and warm.take(TrainConfig(**dict(TINY, architecture="net_1"))) is None


def test_stop_inside_the_first_epoch_keeps_nothing_and_says_so():
    asked, epochs = [], []

    def should_stop():
        asked.append(1)
        return len(asked) >= 3

    with pytest.raises(TrainingStoppedEarly, match="Stopped before the first epoch finished"):
        training.train(TrainConfig(**dict(TINY, epochs=5)), should_stop=should_stop,
                       on_epoch_end=lambda epoch, logs: epochs.append(epoch))
    assert len(asked) < math.ceil(480 / 32)  # stopped a batch or two after asking, not at the end of the epoch
    assert epochs == []  # Keras ends the cut epoch as if it were whole: it is not reported as one


def test_a_stopped_run_is_its_whole_epochs_exactly():
    steps = math.ceil(480 / 32)
    asked, epochs = [], []

    def should_stop():  # a few batches into the second epoch
        asked.append(1)
        return len(asked) >= steps + 3

    config = TrainConfig(**dict(TINY, epochs=5))
    stopped = training.train(config, should_stop=should_stop, on_epoch_end=lambda epoch, logs: epochs.append(epoch))
    assert stopped.stopped and stopped.epochs_completed == 1 and epochs == [0]
    assert len(asked) < 2 * steps  # it did stop inside the second epoch
    assert {len(values) for values in stopped.history.values()} == {1} and len(stopped.epoch_seconds) == 1
    assert len(stopped.timeline["spread"]) == 2  # the random start and the one whole epoch
    # oracle: the same settings trained for exactly one epoch; the stopped run is that run, weights and all
    one = training.train(TrainConfig(**dict(TINY, epochs=1)))
    assert not one.stopped
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(stopped.history[key], one.history[key], rtol=1e-6)
    np.testing.assert_allclose(stopped.probabilities, one.probabilities, atol=1e-6)
    for a, b in zip(stopped.model.get_weights(), one.model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(stopped.timeline["filters"][-1].astype(np.float32),
                               one.timeline["filters"][-1].astype(np.float32))


def test_a_stop_after_the_last_batch_of_the_last_epoch_is_a_complete_run():
    steps = math.ceil(480 / 32)
    asked = []
    result = training.train(TrainConfig(**dict(TINY, epochs=1)),
                            should_stop=lambda: asked.append(1) or len(asked) >= steps)  # asked at the very end
    assert result.epochs_completed == 1 and not result.stopped


def test_batch_reports_are_throttled(monkeypatch):
    monkeypatch.setattr(callbacks, "BATCH_REPORT_SECONDS", 3600.0)
    batches = []
    result = training.train(TrainConfig(**TINY), on_batch_end=lambda b, logs: batches.append(b))
    steps = training.steps_per_epoch(result.config, 8000)
    # the first batch at once, then nothing for an hour, except each epoch's last batch before its end
    assert batches == [0, steps - 1, steps - 1], (batches, steps)


def test_confusion_matrix_and_per_class_accuracy():
    matrix = training.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], 3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    np.testing.assert_allclose(training.per_class_accuracy(matrix), [0.5, 1.0, 2 / 3])


def test_augment_is_part_of_the_key_only_when_on():
    plain, augmented = TrainConfig(), TrainConfig(augment=True)
    assert "augment" not in plain.canonical()  # runs stored before augmentation keep their ids
    assert augmented.canonical()["augment"] is True and plain.run_id() != augmented.run_id()
    assert TrainConfig.from_dict(augmented.to_dict()) == augmented
    with pytest.raises(ConfigError, match="Augment"):
        TrainConfig(augment="yes")


def test_augmented_batches_keep_labels_range_and_ink():
    import tensorflow as tf

    from cnnlab.data import datasets
    from cnnlab.training import pipeline

    data = datasets.load("mnist")
    x, y = data.x_train[:256, ..., None], data.y_train[:256]
    plain = next(iter(pipeline.batches(tf, x, y, 256, shuffle_seed=3)))
    moved = next(iter(pipeline.batches(tf, x, y, 256, shuffle_seed=3, augment=True)))
    np.testing.assert_array_equal(plain[1].numpy(), moved[1].numpy())  # same images in the same order
    a, b = plain[0].numpy(), moved[0].numpy()
    assert a.shape == b.shape and 0.0 <= b.min() and b.max() <= 1.0
    assert np.abs(a - b).mean() > 0.02  # the images did change
    ink_ratio = b.sum(axis=(1, 2, 3)) / a.sum(axis=(1, 2, 3))
    assert 0.4 < np.median(ink_ratio) < 2.0  # ... but each still holds about as much ink (nothing lost off-screen)


def test_without_a_gpu_training_stays_in_float32():
    import keras

    device = training.configure_devices()
    if device.startswith("GPU"):
        pytest.skip("this machine has a GPU")
    assert device.startswith("CPU") and keras.mixed_precision.global_policy().name == "float32"
    model = keras_build.build("fast", (28, 28, 1), 10)
    assert model.get_layer("output").dtype_policy.compute_dtype == "float32"
