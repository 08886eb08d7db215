"""Where a kept network's first epoch and a training's end spend their time, as the server's worker trains.

    python bench/first_epoch.py [--repeats N] [--json]

In a fresh process per variant (as the worker: `fast` prepared by training.warm_up, then trained again and
again with train() on the MNIST sample, 5 epochs, batch 64), each repeat measures the first training step
(batch 0 to batch 1, ms), the first epoch's point over a steady epoch (from calling train() to its first
epoch end, over the median of the later epochs) and how long fit() took to return after the last epoch (s).
Variants: what cnnlab does; TensorFlow's global seed set again before each training (keras.utils.set_random_seed,
which clears TensorFlow's kernel caches); tf.data's autotuner on (prefetch AUTOTUNE). These figures decided
seed_everything and the fixed prefetch without the autotuner (docs/performance.md, "Fixed costs").
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
VARIANTS = ("cnnlab", "reseed_every_training", "autotune_on")


def child(variant, repeats):
    """In a fresh process: the figures of each repeat of one variant, as one JSON line."""
    sys.path.insert(0, str(ROOT))
    import keras
    import tensorflow as tf

    from cnnlab import training
    from cnnlab.data import datasets
    from cnnlab.training import pipeline, warm_networks

    if variant == "reseed_every_training":
        warm_networks.seed_everything = keras.utils.set_random_seed  # read through its module by train and warm_up
    if variant == "autotune_on":
        real = pipeline.batches
        pipeline.batches = lambda *a, **k: real(*a, **k).with_options(_autotune(tf))
    marks = {}

    class Marks(keras.callbacks.Callback):
        async_safe = True

        def on_train_batch_begin(self, batch, logs=None):
            if batch < 2:
                marks.setdefault(("batch", batch), time.perf_counter())

    fit = keras.Model.fit

    def timed_fit(self, *args, **kwargs):
        kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + [Marks()]
        result = fit(self, *args, **kwargs)
        marks["fit_returned"] = time.perf_counter()
        return result

    keras.Model.fit = timed_fit
    config = training.TrainConfig(architecture="fast", epochs=5, batch_size=64, seed=0)
    dataset = datasets.load(config.dataset)
    other = training.TrainConfig(architecture="mlp_512", epochs=1, train_size=1000)  # the worker is in use
    training.train(other, dataset=dataset, warm=training.WARM).detach_model(training.WARM)
    rows = []
    for _ in range(repeats + 1):  # the first repeat also prepares the worker's threads: not counted
        training.warm_up(config, training.WARM)  # the Train page asks for it while the student reads
        marks.clear()
        epochs = []
        started = time.perf_counter()
        result = training.train(config, dataset=dataset, warm=training.WARM,
                                on_epoch_end=lambda epoch, logs: epochs.append(time.perf_counter()))
        result.detach_model(training.WARM)
        steady = statistics.median(result.epoch_seconds[1:])
        rows.append({"first_step_ms": round(1000 * (marks[("batch", 1)] - marks[("batch", 0)]), 1),
                     "first_epoch_to_steady": round((epochs[0] - started) / steady, 3),
                     "fit_end_s": round(marks["fit_returned"] - epochs[-1], 3),
                     "steady_epoch_s": round(steady, 3)})
    print(json.dumps(rows[1:]))


def _autotune(tf):
    options = tf.data.Options()
    options.autotune.enabled = True
    return options


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.repeats)
        return
    figures = {}
    for variant in VARIANTS:
        out = subprocess.run([sys.executable, __file__, "--child", variant, "--repeats", str(args.repeats)],
                             capture_output=True, text=True, check=True, env=dict(os.environ, CNNLAB_OFFLINE="1"))
        rows = json.loads(out.stdout.strip().splitlines()[-1])
        figures[variant] = {
            "first_step_ms_median": round(statistics.median(r["first_step_ms"] for r in rows), 1),
            "first_epoch_to_steady_median": round(statistics.median(r["first_epoch_to_steady"] for r in rows), 3),
            "fit_end_s_median": round(statistics.median(r["fit_end_s"] for r in rows), 3),
            "fit_end_s_max": max(r["fit_end_s"] for r in rows),
            "trainings_ending_over_1s": sum(r["fit_end_s"] > 1.0 for r in rows), "trainings": len(rows),
            "steady_epoch_s_median": round(statistics.median(r["steady_epoch_s"] for r in rows), 3)}
    if args.json:
        print(json.dumps(figures))
        return
    for variant, row in figures.items():
        print(variant, " ".join(f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
