"""`python -m cnnlab compare` (#33): two real tiny runs compared image by image and as groups of seeds; bad ids and
runs on other test images are one line and exit code 2."""

import json

import numpy as np
import pytest
from conftest import run_cli
from test_app import real_digits_in_another_split

from cnnlab import runs
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=3, batch_size=32, train_size=640, validation_split=0.25)


def last_json(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


def train(**settings):
    return runs.RunStore().get_or_train(TrainConfig(**{**TINY, **settings}))[0]


@pytest.fixture
def two_runs(stored):
    """Run A (seed 0, trained once per worker and copied) and run B: the same settings with seed 1."""
    return stored(TrainConfig(**TINY)), train(seed=1)


def test_compare_prints_the_verdict_and_its_json_holds_the_numbers(two_runs):
    run_a, run_b = two_runs
    out = run_cli("compare", run_a.id[:6], run_b.id, "--json")
    assert out.returncode == 0, out.stderr
    found = last_json(out.stdout)
    (probabilities_a, y_test), (probabilities_b, _) = run_a.predictions(), run_b.predictions()
    right_a, right_b = probabilities_a.argmax(axis=1) == y_test, probabilities_b.argmax(axis=1) == y_test
    assert found["run_a"] == run_a.id and found["run_b"] == run_b.id
    assert found["n_test"] == 2000 == y_test.size
    assert found["a_right_b_wrong"] == int(np.sum(right_a & ~right_b))
    assert found["a_wrong_b_right"] == int(np.sum(~right_a & right_b))
    assert found["difference"] == pytest.approx(run_a.test_accuracy - run_b.test_accuracy, abs=1e-9)
    low, high = found["interval"]
    assert low <= found["difference"] <= high
    assert found["test"] == "mcnemar" and 0 <= found["p_value"] <= 1 and found["reason"] is None
    assert found["verdict"] in out.stdout and "2,000 test images: A is right and B wrong on" in out.stdout
    spanish = run_cli("compare", run_a.id, run_b.id, "--lang", "es")
    assert spanish.returncode == 0 and "2.000 imágenes de test: A acierta y B falla en" in spanish.stdout


@pytest.mark.parametrize("ids, expected", [
    (("zzzz", None), 'No stored run has an id starting with "zzzz"'),
    (("ab", None), "needs at least 4 characters"),
])
def test_a_bad_id_is_one_line_and_exit_code_2(stored, ids, expected):
    out = run_cli("compare", ids[0], ids[1] or stored(TrainConfig(**TINY)).id)
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len([line for line in lines if line.startswith("cnnlab:")]) == 1 and expected in lines[-1], out.stderr
    assert "Traceback" not in out.stderr


def test_runs_on_other_test_images_are_one_line_and_exit_code_2(stored, isolated):
    run_a = stored(TrainConfig(**TINY))
    real_digits_in_another_split(isolated / "keras_home" / "datasets" / "mnist.npz")  # another copy of MNIST
    trained = run_cli("train", "--architecture", "fast", "--epochs", "1", "--train-size", "320", "--json")
    assert trained.returncode == 0, trained.stderr
    run_b = last_json(trained.stdout)["run_id"]
    out = run_cli("compare", run_a.id, run_b)
    assert out.returncode == 2 and out.stdout == "" and "Traceback" not in out.stderr
    assert out.stderr.strip() == (
        "cnnlab: No test compares these runs: A was tested on 2,000 test images, sample and B on 4,000 test images, "
        "other copy (6,000 + 4,000 images). A paired test needs the very same test images: train both on the same copy "
        "of the data.")
    as_json = run_cli("compare", run_a.id, run_b, "--json")
    assert as_json.returncode == 2
    found = last_json(as_json.stdout)
    assert found["test"] is None and found["reason"].startswith("No test compares these runs")


def test_groups_compare_the_seeds_of_each_setting(two_runs):
    run_a, run_b = two_runs
    shorter = [train(epochs=1, seed=seed) for seed in (0, 1)]
    out = run_cli("compare", run_a.id, shorter[0].id, "--groups", "--json")
    assert out.returncode == 0, out.stderr
    found = last_json(out.stdout)
    assert [row["run_id"] for row in found["group_a"]] == [run_a.id, run_b.id]
    assert [row["run_id"] for row in found["group_b"]] == [run.id for run in shorter]
    assert found["test"] == "permutation" and found["p_value"] == pytest.approx(1 / 3)  # 2 of the 6 splits
    assert found["a_values"] == [run_a.test_accuracy, run_b.test_accuracy]
    assert found["difference"] == pytest.approx((run_a.test_accuracy + run_b.test_accuracy
                                                 - shorter[0].test_accuracy - shorter[1].test_accuracy) / 2)
    assert "2 seeds per group is little evidence" in out.stdout and "A: 2 seeds, mean" in out.stdout
    same = run_cli("compare", run_a.id, run_b.id, "--groups")
    assert same.returncode == 2 and same.stderr.strip() == (
        "cnnlab: A and B are in the same group (they differ only in the seed): there is one setting here, not two to "
        "compare.")


def test_repeat_trains_more_seeds_once_and_lists_the_group(stored):
    run = stored(TrainConfig(**TINY))
    out = run_cli("repeat", run.id[:8], "--seeds", "1", "--json")
    assert out.returncode == 0, out.stderr
    found = last_json(out.stdout)
    [seed] = found["seeds"]
    assert seed["seed"] == 1 and seed["cached"] is False
    added = runs.RunStore().get(seed["run_id"])
    assert added.config == TrainConfig(**TINY, seed=1) and added.complete
    assert found["group"] == [run.id, added.id] and found["accuracies"] == [run.test_accuracy, added.test_accuracy]
    assert found["mean"] == pytest.approx((run.test_accuracy + added.test_accuracy) / 2)
    assert f"{run.id[:8]}: 2 seeds, mean" in out.stdout and "seed 1: " in out.stdout
    again = last_json(run_cli("repeat", run.id, "--seeds", "1", "--json").stdout)  # the same seed: nothing trains
    assert again["seeds"][0]["cached"] is True and again["group"] == found["group"]
    assert len(runs.RunStore().list()) == 2
    bad = run_cli("repeat", run.id, "--seeds", "0")
    assert bad.returncode == 2 and bad.stderr.strip() == "cnnlab: --seeds is 0: it must be from 1 to 20."
