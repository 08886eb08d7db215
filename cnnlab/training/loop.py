"""The training loop: train() a network on a dataset (warm or new, seeded, batch by batch, with progress, Stop and
divergence), predict() in batches within a page's memory, and the results a run keeps (TrainResult).

TensorFlow is imported inside the functions that need it, so importing this module is cheap.
"""

import dataclasses
import pathlib
import tempfile
import time

import numpy as np

from cnnlab.data import catalogue, datasets
from cnnlab.errors import TrainingDiverged, TrainingStoppedEarly
from cnnlab.networks import keras_build, limits
from cnnlab.training import callbacks, pipeline, warm_networks
from cnnlab.training.config import TrainConfig, check_layers, make_optimizer
from cnnlab.training.devices import configure_devices, here
from cnnlab.training.pipeline import split_data, steps_per_epoch
from cnnlab.training.timeline import Timeline

# ---------------------------------------------------------------- training

@dataclasses.dataclass
class TrainResult:
    """What a finished (or stopped) training produced; the run store saves it."""

    config: TrainConfig
    model: object  # keras.Model; None once the weights travelled as bytes (from a worker process or a Ray task)
    history: dict  # {"loss": [...], "accuracy": [...], "val_loss": [...], "val_accuracy": [...]}
    test_loss: float
    test_accuracy: float
    probabilities: np.ndarray  # (n_test, num_classes) float32
    y_test: np.ndarray  # (n_test,) uint8
    stopped: bool  # Stop ended it before its last epoch; it keeps its whole epochs only
    train_seconds: float
    epoch_seconds: list  # each epoch's wall time, its validation included (the first also builds and traces)
    device: str
    source: catalogue.Source
    data: dict  # which copy of the data: Dataset.describe_data() (source, variant, fingerprints, sizes)
    sizes: dict  # {"train": n, "validation": n, "test": n}
    notes: list
    trained_on: dict = dataclasses.field(default_factory=dict)  # {"executor", "node", "pid", "network", ...}
    versions: dict = dataclasses.field(default_factory=dict)  # TensorFlow's and Keras's, where it trained
    weights: bytes | None = None  # the .weights.h5 file's bytes, when the model itself stayed in a worker
    timeline: dict | None = None  # how it learned, epoch by epoch (see Timeline): arrays by name

    @property
    def epochs_completed(self):
        """Whole epochs: an epoch that Stop cut short is not in the history (train() leaves it out)."""
        return len(self.history.get("loss", []))

    def save_weights(self, path):
        """Write the weights file (.weights.h5) to path, from the model or from the bytes it travelled as."""
        if self.model is not None:
            self.model.save_weights(path)
        else:
            pathlib.Path(path).write_bytes(self.weights)

    def detach_model(self, warm=None):
        """Keep the weights as bytes and drop the Keras model: what a worker sends back to the app.

        With warm (a WarmNetworks), the compiled network is kept there for the next training of its kind.
        """
        with tempfile.TemporaryDirectory() as folder:
            path = pathlib.Path(folder) / "model.weights.h5"
            self.model.save_weights(path)
            if warm is not None:
                warm.keep(self.config, self.model)
            self.weights, self.model = path.read_bytes(), None
        return self


def confusion_matrix(y_true, y_pred, num_classes):
    """(num_classes, num_classes) counts: row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return matrix


def per_class_accuracy(matrix):
    totals = matrix.sum(axis=1)
    return np.divide(np.diag(matrix), totals, out=np.zeros(len(matrix)), where=totals > 0)


def train(config, on_epoch_end=None, on_batch_end=None, should_stop=None, dataset=None, warm=None):
    """Train config's network; callbacks get (epoch, logs) / (batch, logs); should_stop() ends at the next batch.

    A stopped training keeps the epochs it completed (the weights, history and timeline of the last whole one);
    stopped inside its first epoch, it has none, and raises TrainingStoppedEarly.

    warm: a WarmNetworks to take an already compiled network from (give it back with detach_model(warm)).
    A network over the server's limits raises ConfigError before any data is read or anything is built.
    """
    check_layers(config, dataset.info if dataset is not None else None)
    dataset = dataset or datasets.load(config.dataset)
    info = dataset.info
    x_train, y_train, x_val, y_val = split_data(config, dataset)
    device = configure_devices()
    import keras
    import tensorflow as tf

    warm_networks.seed_everything(config.seed)
    model, reused = _network(config, info, warm)
    steps = steps_per_epoch(config, len(dataset.x_train))
    state = {"stopped": False, "diverged_epoch": None, "epoch_seconds": [], "epoch_started": 0.0, "batches": 0,
             "cut_short": False, "whole_weights": None}
    callback = callbacks._progress_callback(keras, on_epoch_end, on_batch_end, should_stop, state,
                                            callbacks.BATCH_REPORT_SECONDS)
    # validation only goes forward: batches of at least 256 images, but no more than one training's memory holds
    activations = limits.model_activations(model)
    validation_batch = min(max(config.batch_size, 256), limits.images_per_batch(
        activations, limits.TRAINING_MEMORY, limits.INFERENCE_COPIES))
    validation = pipeline.batches(tf, x_val, y_val, validation_batch) if len(x_val) else None
    x_test = dataset.x_test[..., np.newaxis] if dataset.x_test.ndim == 3 else dataset.x_test
    timeline = Timeline(keras, model, x_test[0])  # the first test image: the same one every epoch
    started = time.perf_counter()
    history = model.fit(pipeline.batches(tf, x_train, y_train, config.batch_size, shuffle_seed=config.seed,
                                         augment=config.augment),
                        epochs=config.epochs, steps_per_epoch=steps, validation_data=validation,
                        callbacks=[callback, timeline.callback(keras)], shuffle=False, verbose=0)
    train_seconds = time.perf_counter() - started
    whole = _whole_epochs(config, state, model, timeline, warm)
    probabilities = predict(model, x_test, budget_bytes=limits.TRAINING_MEMORY)  # the training's own budget
    test_loss, test_accuracy = evaluate(probabilities, dataset.y_test)
    return TrainResult(
        config=config, model=model,
        history={k: [float(v) for v in values[:whole]] for k, values in history.history.items()},
        test_loss=test_loss, test_accuracy=test_accuracy, probabilities=probabilities,
        y_test=np.asarray(dataset.y_test), stopped=state["stopped"] and whole < config.epochs,
        train_seconds=train_seconds,
        epoch_seconds=[round(s, 4) for s in state["epoch_seconds"]],
        device=device, source=dataset.source, data=dataset.describe_data(),
        sizes={"train": len(x_train), "validation": len(x_val), "test": len(x_test)}, notes=config.notes,
        trained_on=dict(here(), network="kept" if reused else "new"),
        versions={"tensorflow": tf.__version__, "keras": keras.__version__}, timeline=timeline.arrays())


def _network(config, info, warm):
    """(compiled model, reused): the network warm kept for these settings, restarted, or a new one built."""
    kept = warm.take(config) if warm is not None else None
    # a network prepared for these very settings came with its start state: no build to wait for
    state = warm.start_state(config) if kept is not None else None
    if state is not None and warm_networks.restart(kept, state):
        model, reused = kept, True
    else:
        model = keras_build.build(config.layers, info.image_shape, info.num_classes, name=config.architecture_name)
        reused = kept is not None and warm_networks.restart(kept, warm_networks.fresh_state(model, config))
        if reused:
            model = kept
        else:
            model.compile(optimizer=make_optimizer(config.optimizer, config.learning_rate),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, reused


def _whole_epochs(config, state, model, timeline, warm):
    """The epochs that ran to their end, the model and timeline taken back to the last of them after a Stop;
    TrainingDiverged for a NaN loss, TrainingStoppedEarly when Stop came inside the first epoch."""
    if state["diverged_epoch"] is not None:
        raise TrainingDiverged("error.training.diverged", epoch=state["diverged_epoch"],
                               rate=config.learning_rate)
    whole = len(state["epoch_seconds"])  # epochs that ran to their end
    if state["cut_short"]:  # a stopped run keeps its whole epochs only: their weights, history and timeline
        if whole == 0:
            if warm is not None:
                warm.keep(config, model)  # its compiled steps serve the next training all the same
            raise TrainingStoppedEarly("error.training.stopped_in_first_epoch")
        model.set_weights(state["whole_weights"])
        timeline.entries = timeline.entries[:whole + 1]  # row 0 is the random start
    return whole


def predict(model, images, batch_size=1024, budget_bytes=None):
    """Class probabilities (n, num_classes) for uint8 or float images, without Keras's predict loop, in batches of
    at most batch_size images and of no more than budget_bytes of layer outputs (limits.images_per_batch;
    None: a page's INFERENCE_MEMORY): a wide network's batch of 1,024 would hold gigabytes."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        images = datasets.preprocess_images(images)
    batch_size = min(batch_size, limits.images_per_batch(limits.model_activations(model), budget_bytes))
    outputs = [np.asarray(model(images[i:i + batch_size], training=False))
               for i in range(0, len(images), batch_size)]
    return np.concatenate(outputs).astype(np.float32) if outputs else np.zeros((0, model.output_shape[-1]))


def evaluate(probabilities, labels):
    """(loss, accuracy) as Keras computes them: cross-entropy with probabilities clipped at 1e-7."""
    labels = np.asarray(labels, dtype=int)
    picked = np.clip(probabilities[np.arange(len(labels)), labels].astype(np.float64), 1e-7, 1.0)
    loss = float(-np.mean(np.log(picked)))
    accuracy = float(np.mean(np.argmax(probabilities, axis=1) == labels))
    return loss, accuracy
