"""Benchmarks of cnnlab's hot paths, measured in one process so the ratios are fair.

    python bench/run.py [--quick] [--json]

Prints one line per figure; with --json the last stdout line is one JSON object with them all.
Figures: train_images_per_s (cnnlab's train(), callbacks included) against bare_fit_images_per_s
(a plain model.fit of the same network on the same arrays), their ratio, cache_hit_s,
feature_maps_ms and home_import_s.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("CNNLAB_OFFLINE", "1")


def images_per_second(architecture, epochs, train_size, repeats):
    """(cnnlab train() images/s, bare fit images/s), each the best of `repeats` runs."""
    import keras
    import numpy as np

    from cnnlab import architectures, datasets, training

    data = datasets.load("mnist")
    config = training.TrainConfig(architecture=architecture, epochs=epochs, batch_size=128,
                                  train_size=train_size, validation_split=0.0)
    x = datasets.preprocess_images(data.x_train[:train_size])
    y = np.asarray(data.y_train[:train_size])
    ours, bare = [], []
    for _ in range(repeats):
        # both timings include building the graph on the first batch, so they compare like with like
        result = training.train(config, dataset=data, on_epoch_end=lambda e, logs: None,
                                on_batch_end=lambda b, logs: None)
        ours.append(train_size * epochs / result.train_seconds)
        model = architectures.build(architecture, data.info.image_shape, 10)
        model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        started = time.perf_counter()
        model.fit(x, y, batch_size=128, epochs=epochs, verbose=0)
        bare.append(train_size * epochs / (time.perf_counter() - started))
    return max(ours), max(bare)


def cache_hit_seconds():
    from cnnlab import runs, training

    store = runs.RunStore(tempfile.mkdtemp(prefix="cnnlab-bench-"))
    config = training.TrainConfig(epochs=1, train_size=1000)
    store.get_or_train(config)
    started = time.perf_counter()
    run, cached = store.get_or_train(config)
    run.build_model()
    run.predictions()
    assert cached
    return time.perf_counter() - started, run


def feature_maps_ms(run, repeats=20):
    from cnnlab import datasets, inspection

    extractor, names = inspection.feature_extractor(run.build_model())
    image = datasets.load("mnist").x_test[0]
    inspection.feature_maps(extractor, names, image)  # warm
    started = time.perf_counter()
    for _ in range(repeats):
        inspection.feature_maps(extractor, names, image)
    return (time.perf_counter() - started) / repeats * 1000


def home_import_seconds():
    code = ("import time, runpy, sys; t = time.perf_counter(); runpy.run_path('app.py'); "
            "print(time.perf_counter() - t, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    seconds, tensorflow = out.stdout.split()[-2:]
    return float(seconds), tensorflow == "True"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a minute or two on 2 cores)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    epochs, size, repeats = (2, 4000, 1) if args.quick else (3, 8000, 2)
    figures = {}
    for architecture in ("net_1", "fast"):
        ours, bare = images_per_second(architecture, epochs, size, repeats)
        figures[f"train_images_per_s_{architecture}"] = round(ours)
        figures[f"bare_fit_images_per_s_{architecture}"] = round(bare)
        figures[f"train_ratio_vs_bare_fit_{architecture}"] = round(ours / bare, 3)
    figures["cache_hit_s"], run = cache_hit_seconds()
    figures["feature_maps_ms"] = feature_maps_ms(run)
    figures["home_import_s"], figures["home_imports_tensorflow"] = home_import_seconds()
    for key, value in figures.items():
        print(f"{key:<36} {value:.3f}" if isinstance(value, float) else f"{key:<36} {value}")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
