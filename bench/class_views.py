"""What the class learned together, for a class of 40 students and 2,000 attempts: the first full count, and one new
run added afterwards (the incremental path).

    python bench/class_views.py [--students 40] [--attempts 2000] [--postgres] [--json]

In a temporary CNNLAB_HOME: a teacher, a class of --students, and --attempts requests spread over them, each with a
stored run of the right shape (run.json, predictions.npz and weights written by RunStore.save from a made-up
TrainResult: random settings, a confusion matrix from made-up predictions on MNIST's bundled test set; no training).
Then, as the teacher: sweep + mistakes on the whole class (every record read once), then one student asks for one
more run and the views are asked again (only that record is read). Printed: both times, their ratio, and how many
records each read. --postgres uses a PostgreSQL on 127.0.0.1 (tests/classroom/postgres_server.py) instead of SQLite.

`make_run` is also what tests/insight/test_class_views.py makes its hand-made runs with.
"""

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "classroom"))
os.environ.setdefault("CNNLAB_OFFLINE", "1")

_WEIGHTS = {}  # the layers' canonical JSON -> the bytes of an untrained network's .weights.h5 (built once)


def weights_of(config, info):
    """A .weights.h5 file's bytes that fit config's network (freshly initialised, seed 0; built once per network)."""
    import keras

    from cnnlab.networks import keras_build

    key = (json.dumps([layer.to_dict() for layer in config.layers]), info.image_shape)
    if key not in _WEIGHTS:
        keras.utils.set_random_seed(0)
        model = keras_build.build(config.layers, info.image_shape, info.num_classes, name=config.architecture_name,
                                  within_limits=False)
        with tempfile.TemporaryDirectory() as folder:
            path = pathlib.Path(folder) / "model.weights.h5"
            model.save_weights(path)
            _WEIGHTS[key] = path.read_bytes()
    return _WEIGHTS[key]


def make_run(store, config, predicted, dataset=None, weights=None):
    """Store a run of config whose test predictions are `predicted` (labels, one per test image of the dataset): its
    record, predictions and weights as a training would have written them. Returns the Run."""
    from cnnlab import runs
    from cnnlab.data import datasets
    from cnnlab.training import loop

    dataset = dataset or datasets.load(config.dataset)
    predicted = np.asarray(predicted)
    classes = dataset.info.num_classes
    probabilities = np.full((len(predicted), classes), 0.1 / classes, np.float32)
    probabilities[np.arange(len(predicted)), predicted] += 0.9
    accuracy = float(np.mean(predicted == dataset.y_test))
    epochs = config.epochs
    result = loop.TrainResult(
        config=config, model=None, history={"loss": [1.0] * epochs, "accuracy": [accuracy] * epochs,
                                            "val_loss": [1.0] * epochs, "val_accuracy": [accuracy] * epochs},
        test_loss=1.0 - accuracy, test_accuracy=accuracy, probabilities=probabilities, y_test=dataset.y_test,
        stopped=False, train_seconds=1.0, epoch_seconds=[1.0 / epochs] * epochs, device="cpu", source=dataset.source,
        data=dataset.describe_data(), sizes={"train": len(dataset.x_train), "validation": 0,
                                             "test": len(dataset.x_test)},
        notes=[], weights=weights if weights is not None else weights_of(config, dataset.info))
    return store.save(runs.run_id_for(config, dataset), result)


def guesses(y_test, accuracy, rng, confused=(3, 5)):
    """Made-up predictions: right on about `accuracy` of the images; wrong ones mostly swap the confused pair."""
    predicted = np.array(y_test, copy=True)
    wrong = rng.random(len(y_test)) > accuracy
    swapped = np.where(y_test == confused[0], confused[1], np.where(y_test == confused[1], confused[0],
                                                                    (y_test + 1) % 10))
    predicted[wrong] = swapped[wrong]
    return predicted


def random_config(rng, number):
    from cnnlab.training import TrainConfig

    return TrainConfig(dataset="mnist", architecture=str(rng.choice(["fast", "net_1"])),
                       optimizer=str(rng.choice(["adam", "sgd", "rmsprop"])),
                       learning_rate=float(rng.choice([1e-4, 1e-3, 1e-2, 1e-1])),
                       batch_size=int(rng.choice([16, 32, 64, 128])), dropout=float(rng.choice([0.0, 0.25, 0.5])),
                       epochs=int(rng.choice([1, 2, 5])), seed=number % 3)


def class_of(students, attempts, rng):
    """A teacher, a class of students, and `attempts` requests with stored runs: (teacher's Who, class id, store)."""
    from cnnlab import runs
    from cnnlab.classroom import accounts, classes, requests, sessions
    from cnnlab.data import datasets

    teacher = accounts.add_teacher("Ms Rivera", "a-long-password")
    classroom = classes.create(teacher.id, "CNN 2027")
    made = classes.add_students(classroom.id, [f"student{i:02d}" for i in range(students)])
    people = [sessions.person(classes.sign_in(code, "127.0.0.1").id) for _, code in made]
    store, dataset = runs.RunStore(), datasets.load("mnist")
    for number in range(attempts):
        config = random_config(rng, number)
        run = make_run(store, config, guesses(dataset.y_test, rng.uniform(0.6, 0.99), rng), dataset)
        requests.record(people[number % students], run.id, "mnist", json.dumps(config.to_dict()))
    return sessions.person(teacher.id), classroom.id, store, people, dataset


def measure(teacher, class_id, store):
    """(seconds, records read) of the sweep and the mistakes, asked together as the Class page asks them."""
    from cnnlab.insight import class_aggregate, class_views

    started = time.perf_counter()
    class_views.sweep(teacher, class_id, store=store)
    class_views.mistakes(teacher, class_id, store=store, examples=0)
    seconds = time.perf_counter() - started
    aggregate = class_aggregate.current(store, class_id, None, "mnist")
    return seconds, aggregate.records_read


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--attempts", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    os.environ["CNNLAB_HOME"] = tempfile.mkdtemp(prefix="cnnlab-bench-class-")
    server = None
    if options.postgres:
        import postgres_server

        server = postgres_server.Server()
        os.environ["CNNLAB_DATABASE_URL"] = server.url
    try:
        figures = run(options)
    finally:
        if server is not None:
            server.stop()
    if options.json:
        print(json.dumps(figures, indent=1))
        return
    print(f"{figures['attempts']} attempts of {figures['students']} students ({figures['database']}), "
          f"made in {figures['setup_seconds']:.0f} s")
    print(f"first full count: {figures['first_ms']:.0f} ms ({figures['first_reads']} records read)")
    print(f"one new run:      {figures['new_run_ms']:.1f} ms ({figures['new_run_reads']} record read)")
    print(f"nothing new:      {figures['unchanged_ms']:.1f} ms ({figures['unchanged_reads']} records read)")
    print(f"ratio first / new run: {figures['ratio']:.0f}×")


def run(options):
    from cnnlab.classroom import requests

    rng = np.random.default_rng(0)
    started = time.perf_counter()
    teacher, class_id, store, people, dataset = class_of(options.students, options.attempts, rng)
    setup = time.perf_counter() - started
    first, first_reads = measure(teacher, class_id, store)
    unchanged, after_unchanged = measure(teacher, class_id, store)
    config = random_config(rng, options.attempts + 1)
    run_ = make_run(store, config, guesses(dataset.y_test, 0.995, rng), dataset)
    requests.record(people[0], run_.id, "mnist", json.dumps(config.to_dict()))
    new, after_new = measure(teacher, class_id, store)
    return {"students": options.students, "attempts": options.attempts, "setup_seconds": setup,
            "database": "PostgreSQL" if options.postgres else "SQLite",
            "first_ms": first * 1000, "first_reads": first_reads,
            "unchanged_ms": unchanged * 1000, "unchanged_reads": after_unchanged - first_reads,
            "new_run_ms": new * 1000, "new_run_reads": after_new - after_unchanged, "ratio": first / new}


if __name__ == "__main__":
    main()
