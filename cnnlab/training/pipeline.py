"""The data's way into a training: the split into training, validation and test images, the batched and
augmented tf.data pipeline, and the checks that can fail before a training starts (preflight)."""

import math

import numpy as np

from cnnlab.data import catalogue, datasets
from cnnlab.errors import ConfigError
from cnnlab.i18n import Message
from cnnlab.training.config import check_layers


def split_sizes(config, available):
    """(train, validation) image counts of config on a training set of `available` images."""
    n = min(config.train_size or available, available)
    n_val = int(round(n * config.validation_split))
    return n - n_val, n_val


def steps_per_epoch(config, available):
    """Batches in one epoch of config on a training set of `available` images."""
    return max(1, math.ceil(split_sizes(config, available)[0] / config.batch_size))


def split_data(config, dataset):
    """(x_train, y_train, x_val, y_val) as uint8 with a channel axis; validation is the last fraction."""
    x, y = dataset.x_train, dataset.y_train
    if x.ndim == 3:
        x = x[..., np.newaxis]  # (n, 28, 28) -> (n, 28, 28, 1)
    if config.train_size is not None:
        if config.train_size > len(x):
            raise ConfigError("error.config.train_size", size=config.train_size, available=len(x),
                              source=Message(catalogue.Source.LABELS[dataset.source.kind]))
        x, y = x[:config.train_size], y[:config.train_size]
    n_train, n_val = split_sizes(config, len(x))
    if config.validation_split > 0 and n_val == 0:
        raise ConfigError("error.config.no_validation")
    if config.batch_size > n_train:
        raise ConfigError("error.config.batch_too_large", batch=config.batch_size, n=n_train)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def batches(tf, x, y, batch_size, shuffle_seed=None, augment=False):
    """uint8 arrays -> batches of float32 in [0, 1]; shuffled each epoch and repeated when training."""
    # scaled once here: a per-batch map() competes with training for 2 CPU cores
    ds = tf.data.Dataset.from_tensor_slices((datasets.preprocess_images(x), y))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if shuffle_seed is not None:
        ds = ds.repeat()  # one iterator for all epochs; steps_per_epoch ends each epoch
    if augment:  # one call at a time: the random moves come from one generator, so their order decides them
        ds = ds.map(_augmenter(tf, shuffle_seed or 0))
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(2).with_options(options)


def _augmenter(tf, seed):
    """A batch -> the same batch moved, turned, scaled and with strokes made thicker or thinner at random.

    This is what makes a network read real drawings: people do not centre, size or stroke like MNIST.
    """
    from keras import layers

    moves = [layers.RandomTranslation(0.12, 0.12, fill_mode="constant", seed=seed),
             layers.RandomRotation(12 / 360, fill_mode="constant", seed=seed + 1),
             layers.RandomZoom((-0.2, 0.15), fill_mode="constant", seed=seed + 2)]
    generator = tf.random.Generator.from_seed(seed + 3)

    def augment(images, labels):
        for layer in moves:
            images = layer(images, training=True)
        # stroke thickness: a 3×3 max filter thickens the ink, a 2×2 min filter thins it
        thicker = tf.nn.max_pool2d(images, 3, 1, "SAME")
        thinner = -tf.nn.max_pool2d(-images, 2, 1, "SAME")
        choice = generator.uniform([tf.shape(images)[0], 1, 1, 1])
        images = tf.where(choice < 0.25, thicker, tf.where(choice > 0.85, thinner, images))
        return tf.clip_by_value(images, 0.0, 1.0), labels

    return augment


def preflight(config, dataset=None):
    """Every check that can fail before training starts: the network's shapes, the data, the split."""
    check_layers(config)
    split_data(config, dataset or datasets.load(config.dataset))
