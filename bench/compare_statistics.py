"""Is the difference real (#33): the statistics of two runs on 10,000 test images, against the issue's 0.3 s.

    python bench/compare_statistics.py [--repeats 20] [--json]

Two networks' answers on 10,000 test images (about 98 % and 97 % right, like two MNIST runs), then:
1. cnnlab.course.statistics.paired: McNemar's test and the 95 % interval from 2,000 bootstrap resamples (each
   resample one multinomial draw of the three kinds of image: A alone right, B alone right, the rest);
2. the textbook bootstrap it replaces: 2,000 resamples of the 10,000 images' indices, vectorised in NumPy, for the
   record of why the multinomial draw was chosen (the same distribution, see tests/course/test_statistics.py);
3. comparisons.disagreements, the images the Compare page draws;
4. statistics.groups on 3 against 3 seeds (the exact permutation test) and 12 against 12 (Welch's).
Median and slowest of --repeats each, in seconds.
--page: two net_1 runs (seeds 0 and 1, one epoch on the MNIST sample) trained in a fresh home, then the whole Compare
page drawn in AppTest with both chosen (the table, curves, settings, verdict and the gallery of up to 32 disagreeing
images, and both networks' Grad-CAM and first-layer maps side by side for the first of them), a first time (predictions
and images read, the networks built) and --repeats times after, for the issue's "gallery < 1 s"; then another image
put side by side (its Grad-CAMs and maps made anew) --repeats times.
--seeds: `fast` on the MNIST sample (the Train page's 5 epochs, batch 64) through the server's queue and its worker
process: seed 0 once (the worker warms up), seed 9 alone (a run's training time), then a repeat with three more seeds
(1, 2 and 3, cnnlab.compute.seed_groups: one after the other) against the issue's "about 3x a run's training time".
"""

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # not bench/: this file's name would hide the standard library's statistics

import numpy as np  # noqa: E402

from cnnlab.course import comparisons, statistics  # noqa: E402

N_TEST, CLASSES = 10_000, 10


def predictions(rng):
    """(probabilities A, probabilities B, y_test): A right on about 98 % of the images, B on about 97 %."""
    y_test = rng.integers(0, CLASSES, N_TEST)
    made = []
    for right in (0.98, 0.97):
        answer = np.where(rng.random(N_TEST) < right, y_test, (y_test + rng.integers(1, CLASSES, N_TEST)) % CLASSES)
        probabilities = rng.random((N_TEST, CLASSES)).astype(np.float32) * 0.1
        probabilities[np.arange(N_TEST), answer] = 1.0
        made.append(probabilities / probabilities.sum(axis=1, keepdims=True))
    return made[0], made[1], y_test


def textbook(right_a, right_b, rng):
    differences = right_a.astype(np.int8) - right_b
    indices = rng.integers(0, N_TEST, (statistics.RESAMPLES, N_TEST))
    resampled = differences[indices].mean(axis=1)
    return np.quantile(resampled, [0.025, 0.975])


def timed(function, repeats):
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
    return {"median": float(np.median(seconds)), "slowest": max(seconds)}


def page_seconds(repeats):
    """{first, median, slowest} seconds of the Compare page with two net_1 runs chosen."""
    with tempfile.TemporaryDirectory() as home:
        os.environ.update(CNNLAB_HOME=home, CNNLAB_OFFLINE="1")
        from streamlit.testing.v1 import AppTest

        from cnnlab import runs
        from cnnlab.training import TrainConfig

        store = runs.RunStore()
        for seed in (0, 1):
            store.get_or_train(TrainConfig(architecture="net_1", epochs=1, seed=seed))
        at = AppTest.from_file(str(ROOT / "pages" / "6_Compare.py"), default_timeout=300)
        started = time.perf_counter()
        at.run()
        first = time.perf_counter() - started
        assert not at.exception and at.get("image"), at.exception
        again = timed(at.run, repeats)
        images = sum(len(element.proto.imgs) for element in at.get("image"))
        options = at.selectbox(key="side_pick").options
        picks = iter(options[1:] * repeats)

        def another():
            at.selectbox(key="side_pick").set_value(next(picks)).run()
            assert not at.exception, at.exception

        return {"first": first, **again, "images": images,
                "side": timed(another, min(repeats, len(options) - 1)) if len(options) > 1 else None}


def seeds_seconds():
    """{run, repeat, ratio}: seconds of one `fast` run on the sample, and of a repeat with three more seeds."""
    with tempfile.TemporaryDirectory() as home:
        os.environ.update(CNNLAB_HOME=home, CNNLAB_OFFLINE="1")
        from cnnlab import runs
        from cnnlab.compute import executors, jobs, seed_groups
        from cnnlab.training import TrainConfig

        queue = jobs.TrainingQueue(runs.RunStore(), executors.executor("", server=True))
        config = TrainConfig(architecture="fast", epochs=5, batch_size=64)
        first = queue.submit(config)  # the worker process starts and warms up
        queue.wait(first)
        started = time.perf_counter()
        alone = queue.submit(TrainConfig(architecture="fast", epochs=5, batch_size=64, seed=9))
        queue.wait(alone)
        run_seconds = time.perf_counter() - started
        run = queue.store.get(first.id)
        started = time.perf_counter()
        group = seed_groups.repeat(queue, run, [1, 2, 3])
        assert group.wait(queue) and group.status == "done", group.why
        repeat_seconds = time.perf_counter() - started
        trained = [job.finished - job.started for job in group.jobs]
        return {"run": run_seconds, "repeat": repeat_seconds, "ratio": repeat_seconds / run_seconds,
                "each_seed": trained, "alone_trained": alone.finished - alone.started}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--page", action="store_true")
    parser.add_argument("--seeds", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(33)
    probabilities_a, probabilities_b, y_test = predictions(rng)
    predicted_a, predicted_b = probabilities_a.argmax(axis=1), probabilities_b.argmax(axis=1)
    few, many = rng.normal(0.98, 0.002, (2, 3)), rng.normal(0.98, 0.002, (2, 12))
    found = {
        "paired (McNemar + 2,000 resamples)": timed(lambda: statistics.paired(predicted_a, predicted_b, y_test),
                                                    args.repeats),
        "the same from probabilities (argmax included)": timed(lambda: statistics.paired(
            probabilities_a.argmax(axis=1), probabilities_b.argmax(axis=1), y_test), args.repeats),
        "textbook bootstrap (2,000 x 10,000 indices)": timed(lambda: textbook(predicted_a == y_test,
                                                                              predicted_b == y_test, rng),
                                                             max(3, args.repeats // 5)),
        "disagreements": timed(lambda: comparisons.disagreements(probabilities_a, probabilities_b, y_test),
                               args.repeats),
        "groups, 3 against 3 seeds (permutation)": timed(lambda: statistics.groups(*few), args.repeats),
        "groups, 12 against 12 seeds (Welch)": timed(lambda: statistics.groups(*many), args.repeats),
    }
    if args.page:
        found["Compare page, two net_1 runs (whole page)"] = page_seconds(max(3, args.repeats // 4))
    if args.seeds:
        found["three more seeds of fast (repeat)"] = seeds_seconds()
    compared = statistics.paired(predicted_a, predicted_b, y_test)
    if args.json:
        print(json.dumps({"n_test": N_TEST, "seconds": found, "result": compared.as_dict()}))
        return
    for name, seconds in found.items():
        if "ratio" in seconds:
            each = ", ".join(f"{value:.1f}" for value in seconds["each_seed"])
            print(f"{name:<48} one run {seconds['run']:.1f} s, three seeds {seconds['repeat']:.1f} s: "
                  f"{seconds['ratio']:.2f}x (each seed trained in {each} s)")
            continue
        first = f" (first {seconds['first']:.2f} s, {seconds['images']} images)" if "first" in seconds else ""
        print(f"{name:<48} median {seconds['median']:.4f} s, slowest {seconds['slowest']:.4f} s{first}")
        if seconds.get("side"):
            print(f"{'  another image side by side':<48} median {seconds['side']['median']:.4f} s, "
                  f"slowest {seconds['side']['slowest']:.4f} s")
    print(f"(target: < 0.3 s for the first line)  {compared.verdict()}")


if __name__ == "__main__":
    main()
