"""The course's experiment registry, `reproduce`, `prepare`, and the answers computed from runs."""

import json

import pytest
from conftest import run_cli

from cnnlab import runs, training
from cnnlab.course import experiments
from cnnlab.data import catalogue
from cnnlab.networks import counting


def last_json(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


def test_every_report_is_covered_and_every_experiment_builds():
    # the five reports' experiments, exactly: A1–A6, B1–B2, C1–C4, D1–D3, E1–E5
    expected = [f"{report}{n}" for report, count in zip("ABCDE", (6, 2, 4, 3, 5)) for n in range(1, count + 1)]
    assert [e.id for e in experiments.EXPERIMENTS] == expected and len(expected) == 20
    assert {e.report for e in experiments.EXPERIMENTS} == set("ABCDE")
    assert len(experiments.BY_ID) == len(experiments.EXPERIMENTS)  # ids are unique
    for e in experiments.EXPERIMENTS:
        config = e.config()
        training.check_layers(config)
        assert config.epochs == e.epochs and config.batch_size == e.batch_size
        assert e.reported_test_accuracy is not None or e.reported_note, e.id
    by_id = experiments.BY_ID
    assert (by_id["A1"].epochs, by_id["A3"].epochs, by_id["A5"].validation_split) == (30, 700, 0.2)
    assert by_id["A5"].optimizer == "adam" and by_id["A6"].optimizer == "adadelta"
    assert (by_id["E1"].config().learning_rate, by_id["E1"].batch_size, by_id["E1"].epochs) == (1e-3, 64, 5)
    assert by_id["D3"].architecture == "keras_tutorial_128" and by_id["D3"].epochs == 7
    # the report's networks, with their exact parameter counts
    cifar = catalogue.get_info("cifar10")
    assert counting.count_params(by_id["B2"].config().layers, cifar.image_shape, 10) == 477_994
    assert counting.count_params(by_id["C2"].config().layers, cifar.image_shape, 10) == 1_193_642


def test_settings_a_report_leaves_out_are_said():
    for key in ("A1", "B1", "C1", "D1", "E1"):
        assert experiments.BY_ID[key].assumed, key


def test_a_run_belongs_to_an_experiment_at_full_length_or_when_launched_for_it():
    store = runs.RunStore()
    a1, a3 = experiments.get("a1"), experiments.get("A3")
    assert a1.suggested_epochs(gpu=False) == 30 and a3.suggested_epochs(gpu=False) == 30
    assert a3.suggested_epochs(gpu=True) == 700
    run, _ = store.get_or_train(a1.config(epochs=1), requested_by="A1")
    assert run.experiments == ["A1"]
    assert a1.matches(run) and not a3.matches(run)  # A3's settings at 1 epoch too, but A3 did not ask for it
    assert not experiments.get("A2").matches(run)
    again, cached = store.get_or_train(a3.config(epochs=1), requested_by="A3")  # the same settings: no training
    assert cached and again.id == run.id and again.experiments == ["A1", "A3"]
    assert a3.matches(again) and runs.RunStore().get(run.id).experiments == ["A1", "A3"]  # kept on disk
    assert experiments.epochs_label(a3, again) == "shortened: 1 of 700 epochs"
    other = store.get_or_train(training.TrainConfig(architecture="net_1", epochs=1, batch_size=128))[0]
    assert not a1.matches(other)  # adam, not adadelta


def test_reproduce_list_json():
    out = run_cli("reproduce", "--list", "--json")
    assert out.returncode == 0, out.stderr
    listed = last_json(out.stdout)
    assert len(listed) == len(experiments.EXPERIMENTS)
    assert all(item["measured"] is None for item in listed)  # nothing run yet
    run, _ = runs.RunStore().get_or_train(experiments.get("C3").config(epochs=1), requested_by="C3")
    listed = {item["id"]: item for item in last_json(run_cli("reproduce", "--list", "--json").stdout)}
    assert listed["C3"]["measured"] == {"run_id": run.id, "epochs_completed": 1, "test_accuracy": run.test_accuracy,
                                        "data_variant": "sample", "shortened": True}
    assert listed["C4"]["measured"] is None and listed["C1"]["measured"] is None
    e1 = listed["E1"]
    assert {k: e1[k] for k in ("report", "dataset", "architecture", "epochs", "reported_test_accuracy")} == {
        "report": "E", "dataset": "fashion_mnist", "architecture": "fashion_cnn", "epochs": 5,
        "reported_test_accuracy": 0.83}


def test_reproduce_trains_through_the_store_and_labels_a_shortened_run():
    out = run_cli("reproduce", "C3", "--epochs", "1", "--json")
    assert out.returncode == 0, out.stderr
    result = last_json(out.stdout)
    assert result["id"] == "C3" and result["reported_test_accuracy"] == 0.9933
    assert result["shortened"] is True and result["epochs"] == 1 and result["reported_epochs"] == 10
    assert 0.8 < result["test_accuracy"] <= 1 and result["train_seconds"] > 0 and not result["cached"]
    assert "shortened: 1 of 10 epochs" in out.stdout and "reported: 0.9933" in out.stdout
    again = last_json(run_cli("reproduce", "C3", "--epochs", "1", "--json").stdout)
    assert again["cached"] and again["run_id"] == result["run_id"]
    stored = runs.RunStore().get(result["run_id"])
    assert experiments.get("C3").matches(stored) and stored.experiments == ["C3"]  # the app sees it as C3


@pytest.mark.parametrize("args,message", [
    (("Z9",), "Unknown experiment 'Z9'"),
    (("A1", "--epochs", "31"), "--epochs must be from 1"),
    (("A1", "--epochs", "0"), "--epochs must be from 1"),
    (("D1", "--offline"), "CIFAR-10"),
])
def test_reproduce_bad_input_is_one_line(args, message):
    out = run_cli("reproduce", *args)
    assert out.returncode == 2
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("cnnlab:") and message in last and "Traceback" not in out.stderr


def test_prepare_trains_what_it_can_and_reports_each_bad_line(tmp_path):
    config = json.dumps({"dataset": "mnist", "architecture": "fast", "epochs": 1, "train_size": 500})
    plan = tmp_path / "class.txt"
    plan.write_text(f"# before Monday's class\nA2 epochs=1\n\n{config}\nZ9\nA2 epochs=lots\nD1  # CIFAR\n")
    out = run_cli("prepare", str(plan), "--json", "--offline")
    assert out.returncode == 2
    results = last_json(out.stdout)
    assert [r["line"] for r in results] == [2, 4, 5, 6, 7]
    assert results[0]["item"] == "A2" and 0 < results[0]["test_accuracy"] <= 1
    assert results[1]["item"] == "fast" and "run_id" in results[1]
    assert "Unknown experiment" in results[2]["error"] and "epochs=N" in results[3]["error"]
    assert "CIFAR-10" in results[4]["error"]
    assert "2 of 5 ready" in out.stdout
    assert len([l for l in out.stderr.splitlines() if l.startswith("cnnlab:")]) == 3
    second = run_cli("prepare", str(plan), "--json", "--offline")
    assert all(r.get("cached", True) for r in last_json(second.stdout))  # already stored: instant in class
    missing = run_cli("prepare", str(tmp_path / "nope.txt"))
    assert missing.returncode == 2 and "Cannot read" in missing.stderr
    binary = tmp_path / "weights.h5"
    binary.write_bytes(bytes(range(256)) * 4)
    wrong = run_cli("prepare", str(binary))
    assert wrong.returncode == 2 and "not a text file" in wrong.stderr.strip().splitlines()[-1]


@pytest.fixture
def report_a_runs():
    store = runs.RunStore()
    return [store.get_or_train(experiments.get(key).config(epochs=2), requested_by=key)[0] for key in ("A1", "A2")]


def test_answers_come_from_the_runs(report_a_runs):
    net_1, net_2 = report_a_runs
    answers = {a.question: a for a in experiments.answers("A", runs.RunStore().list())}
    which = answers["which_model"]
    assert which.answered
    winner, loser = (net_1, net_2) if net_1.test_accuracy >= net_2.test_accuracy else (net_2, net_1)
    assert which.text.startswith(f"On MNIST, {winner.config.architecture} ({winner.test_accuracy:.2%}")
    assert f"{loser.test_accuracy:.2%}" in which.text
    assert not answers["which_optimizer"].answered and "A5 and A6" in answers["which_optimizer"].text
    assert answers["overfitting"].answered and "A1 (net_1, 2 epochs)" in answers["overfitting"].text
    assert answers["improve"].answered
    assert all(not a.answered for a in experiments.answers("E", runs.RunStore().list()))


def fake_run(experiment, accuracy, final_loss, epochs):
    """A run record with given numbers, to check that an answer's words follow them."""
    record = {"status": "complete", "epochs_completed": epochs, "history": {"loss": [final_loss] * epochs},
              "metrics": {"test_accuracy": accuracy, "test_loss": final_loss}, "params": 1_626_442,
              "data": {"variant": "full"}, "created": "2026-12-04T00:00:00+00:00",
              "experiments": [experiment.id]}
    return runs.Run(f"{hash(experiment.id) & 0xffffffffffffffff:016x}", None, experiment.config(epochs), record)


@pytest.mark.parametrize("adam, adadelta, starts, not_in", [
    (0.62, 0.34, "Adam: with the same network on CIFAR-10, Adam reaches 62.00% and Adadelta 34.00%, 28.00 points less",
     "Adadelta:"),
    (0.40, 0.55, "Adadelta: with the same network on CIFAR-10, Adadelta reaches 55.00% and Adam 40.00%, 15.00 points",
     "small steps"),
    (0.500, 0.498, "Neither, from these runs: on CIFAR-10 Adam reaches 50.00% and Adadelta 49.80%", "small steps"),
])
def test_the_optimizer_answer_follows_its_numbers(adam, adadelta, starts, not_in):
    stored = [fake_run(experiments.get("A5"), adam, 1.0, 3), fake_run(experiments.get("A6"), adadelta, 2.0, 3)]
    answer = next(a for a in experiments.answers("A", stored) if a.question == "which_optimizer")
    assert answer.answered and answer.text.startswith(starts), answer.text
    assert not_in not in answer.text


def test_unequal_lengths_are_said():
    stored = [fake_run(experiments.get("A5"), 0.6, 1.0, 3), fake_run(experiments.get("A6"), 0.3, 2.0, 1)]
    answer = next(a for a in experiments.answers("A", stored) if a.question == "which_optimizer")
    assert "different lengths (A5: 3 epochs and A6: 1 epoch)" in answer.text


def test_which_model_says_when_the_pair_was_tested_or_trained_on_different_images_or_for_different_lengths():
    """#29 item 7: every answer that compares runs says what makes them not like for like."""
    a1, a2 = fake_run(experiments.get("A1"), 0.98, 0.1, 3), fake_run(experiments.get("A2"), 0.97, 0.1, 3)
    same = next(a for a in experiments.answers("A", [a1, a2]) if a.question == "which_model")
    assert "not a fair" not in same.text and "different lengths" not in same.text  # like for like: no caveat
    a1.record["data"] = {"variant": "sample", "test_fingerprint": "aa", "fingerprint": "f1", "test": 2000,
                         "train": 6000}
    a2.record["data"] = {"variant": "full", "test_fingerprint": "bb", "fingerprint": "f2", "test": 10000,
                         "train": 48000}
    a2.record["epochs_completed"] = 1
    text = next(a for a in experiments.answers("A", [a1, a2]) if a.question == "which_model").text
    assert "tested on different images (A1: 2,000 test images, sample and A2: 10,000 test images" in text, text
    assert "different training images (A1: 6,000 training images" in text
    assert "different lengths (A1: 3 epochs and A2: 1 epoch)" in text
    a5, a6 = fake_run(experiments.get("A5"), 0.6, 1.0, 3), fake_run(experiments.get("A6"), 0.3, 2.0, 3)
    a6.record["data"] = dict(a2.record["data"])
    optimizer = next(a for a in experiments.answers("A", [a5, a6]) if a.question == "which_optimizer").text
    assert "tested on different images" in optimizer and "different lengths" not in optimizer


def test_a_longer_training_is_never_compared_with_itself(isolated):
    """B1 and B2 are the same settings but for epochs; shortened to the same length they are one run."""
    from test_archives import official_members, write_archive

    from cnnlab.data import archives

    members, _ = official_members(n=40)  # 200 training images: enough for batch 32
    archives.import_cifar(write_archive(isolated / "cifar-10-python.tar.gz", members))
    store = runs.RunStore()
    for key in ("B1", "B2"):
        store.get_or_train(experiments.get(key).config(epochs=1), requested_by=key)
    answer = next(a for a in experiments.answers("B", store.list()) if a.question == "longer")
    assert not answer.answered and "+0.00" not in answer.text
    assert answer.text.startswith("B1 and B2 resolve to the same run") and "run B2 with its own settings" in answer.text
    overfitting = next(a for a in experiments.answers("B", store.list()) if a.question == "overfitting")
    assert overfitting.text.startswith("B1 and B2 (cool_cnn_3, 1 epoch)")  # one run, answered once
    longer, _ = store.get_or_train(experiments.get("B2").config(epochs=2), requested_by="B2")
    answer = next(a for a in experiments.answers("B", store.list()) if a.question == "longer")
    assert answer.answered and ": 2 epochs give" in answer.text and "after 1:" in answer.text
