"""The measurements behind cnnlab's training choices on a CPU: threads, oneDNN, the input pipeline, steps per call.

    python bench/choices.py [--quick] [--json]

Each variant trains `fast` and `net_1` on the MNIST sample in a fresh process (thread counts and oneDNN can
only be set before TensorFlow starts) and reports steady-state images/s: the epochs after the first, which
also traces. Variants run in turn, twice in alternating order without --quick, and each figure is the
median; the ratios against the default are the figures to read (absolute speeds on shared machines drift).
Also measured in the default process: what validation adds to an epoch (cnnlab validates every epoch, on
a tenth of the data) and images/s per batch size.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent

VARIANTS = {  # name -> (environment, settings of the child)
    "default": ({}, {}),  # what cnnlab does: TensorFlow's thread pools, oneDNN on, images scaled once, 1 step per call
    "threads_1_1": ({}, {"intra": 1, "inter": 1}),
    "threads_2_1": ({}, {"intra": 2, "inter": 1}),
    "threads_1_2": ({}, {"intra": 1, "inter": 2}),
    "onednn_off": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, {}),
    "input_numpy_arrays": ({}, {"input": "numpy"}),  # model.fit(x, y): Keras's own array adapter
    "input_scale_per_batch": ({}, {"input": "map"}),  # uint8 in tf.data, scaled by a map() per batch
    "steps_per_execution_4": ({}, {"steps_per_execution": 4}),
    "steps_per_execution_16": ({}, {"steps_per_execution": 16}),
}
ARCHITECTURES = ("fast", "net_1")


def child(settings):
    """In a fresh process: steady images/s of each architecture under settings, as one JSON line."""
    import numpy as np
    import tensorflow as tf

    if settings.get("intra"):
        tf.config.threading.set_intra_op_parallelism_threads(settings["intra"])
    if settings.get("inter"):
        tf.config.threading.set_inter_op_parallelism_threads(settings["inter"])
    sys.path.insert(0, str(ROOT))
    import keras

    from cnnlab.data import datasets
    from cnnlab.networks import architectures, keras_build
    from cnnlab.training import pipeline

    data = datasets.load("mnist")
    size, epochs, batch = settings.get("size", 4000), 3, settings.get("batch", 64)
    x, y = data.x_train[:size, ..., None], np.asarray(data.y_train[:size])
    figures = {}
    for name in ARCHITECTURES:
        keras.utils.set_random_seed(0)
        model = keras_build.build(architectures.get_preset(name).layers, (28, 28, 1), 10)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                      steps_per_execution=settings.get("steps_per_execution", 1))
        times = []

        class Clock(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.started)

        if settings.get("input") == "numpy":
            model.fit(datasets.preprocess_images(x), y, batch_size=batch, epochs=epochs, callbacks=[Clock()],
                      verbose=0)
        else:
            if settings.get("input") == "map":
                ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(size, seed=0).batch(batch).repeat()
                ds = ds.map(lambda a, b: (tf.cast(a, tf.float32) / 255.0, b), num_parallel_calls=tf.data.AUTOTUNE)
                ds = ds.prefetch(tf.data.AUTOTUNE)
            else:
                ds = pipeline.batches(tf, x, y, batch, shuffle_seed=0)
            model.fit(ds, epochs=epochs, steps_per_epoch=-(-size // batch), callbacks=[Clock()], verbose=0)
        figures[name] = size / statistics.median(times[1:])
        if settings.get("validation"):  # what validating a tenth of the data adds to an epoch, traced already
            val = pipeline.batches(tf, x[: size // 10], y[: size // 10], 256)
            model.evaluate(val, verbose=0)
            started = time.perf_counter()
            model.evaluate(val, verbose=0)
            figures[f"validation_share_{name}"] = (time.perf_counter() - started) / statistics.median(times[1:])
    print(json.dumps(figures))


def measure(name, extra=None):
    environment, settings = VARIANTS.get(name, ({}, {}))
    settings = dict(settings, **(extra or {}))
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(settings)], capture_output=True,
                         text=True, check=True, cwd=ROOT, env=dict(os.environ, **environment, CNNLAB_OFFLINE="1"))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each variant once")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(json.loads(args.child))
    order = list(VARIANTS)
    rounds = [order] if args.quick else [order, order[::-1]]
    seen = {name: [] for name in order}
    for names in rounds:
        for name in names:
            seen[name].append(measure(name))
    figures = {}
    for name, results in seen.items():
        for architecture in ARCHITECTURES:
            speed = statistics.median(r[architecture] for r in results)
            figures[f"{name}_images_per_s_{architecture}"] = round(speed)
    for name in order:
        for architecture in ARCHITECTURES:
            figures[f"{name}_vs_default_{architecture}"] = round(
                figures[f"{name}_images_per_s_{architecture}"] / figures[f"default_images_per_s_{architecture}"], 3)
    validation = measure("default", {"validation": True})
    for architecture in ARCHITECTURES:
        figures[f"validation_share_of_epoch_{architecture}"] = round(validation[f"validation_share_{architecture}"], 3)
    for batch in (32, 64, 128, 256):
        speeds = measure("default", {"batch": batch})
        for architecture in ARCHITECTURES:
            figures[f"batch_{batch}_images_per_s_{architecture}"] = round(speeds[architecture])
    for key, value in figures.items():
        print(f"{key:<44} {value}")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
