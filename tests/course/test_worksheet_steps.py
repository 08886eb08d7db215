"""A worksheet's steps (a report's experiments in order; from scratch: the starting settings, one change, a
comparison), the starting settings held to the rules, the evidence as numbers with no verdict, and the class's open
assignments a student's home page lists (SQLite and PostgreSQL)."""

import datetime

import pytest
import sqlalchemy as sa

from cnnlab import training
from cnnlab.classroom import accounts, classes, database, permissions, schema
from cnnlab.course import assignments, experiments, handins, worksheet
from cnnlab.insight import inspection
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(training, "gpu_name", lambda: None)


class Made:  # what steps() reads of an assignment row
    def __init__(self, rules, report=None):
        self.rules, self.report = rules.to_json(), report


def test_a_reports_worksheet_asks_for_its_experiments_in_order_then_a_comparison(no_gpu):
    rules, _ = assignments.from_report("A")
    steps = worksheet.steps(Made(rules, "A"))
    assert [step.kind for step in steps] == ["train"] * len(experiments.of_report("A")) + ["compare"]
    for step, experiment in zip(steps, experiments.of_report("A")):
        assert step.config == experiment.config(experiment.suggested_epochs(gpu=False))  # at most 30 on a CPU
        assert str(step.text) == f"Train experiment {experiment.id}: {experiment.title}."
        rules.check(step.config)


def test_a_scratch_worksheet_starts_within_the_rules_then_changes_what_they_leave_free():
    rules = assignments.Rules("fashion_mnist", "net_1", {
        "optimizer": {"mode": "choice", "values": ["sgd", "adam"]}, "batch_size": {"mode": "locked", "value": 128},
        "learning_rate": {"mode": "range", "min": 0.05, "max": 0.5}, "epochs": {"mode": "range", "min": 1, "max": 40},
        "dataset": {"mode": "locked", "value": "fashion_mnist"}, "architecture": {"mode": "locked", "value": "net_1"},
        "validation_split": {"mode": "locked", "value": 0.1}, "train_size": {"mode": "locked", "value": None},
        "seed": {"mode": "locked", "value": 0}, "augment": {"mode": "locked", "value": False}},
        {"epochs": 3, "params": None, "minutes": None})
    start = worksheet.starting_config(rules)
    assert (start.dataset, start.architecture) == ("fashion_mnist", "net_1")
    assert (start.optimizer, start.batch_size) == ("sgd", 128)  # a choice's first value; the locked one
    assert start.learning_rate == 0.05 and start.epochs == 3  # the range's lower end; the budget's epochs
    rules.check(start)
    assert worksheet.changeable(rules) == ["epochs", "optimizer", "learning_rate", "dropout"]
    steps = worksheet.steps(Made(rules))
    assert [step.kind for step in steps] == ["train", "change", "compare"] and steps[0].config == start
    assert str(steps[1].text) == "Change one thing (the epochs, the optimizer, the learning rate and the dropout) " \
        "and train again."


def test_the_evidence_is_numbers_and_never_a_verdict(stored):
    run = stored(TrainConfig(**TINY))
    rows = worksheet.evidence([run])
    assert rows[0]["run"] == run.id[:8] and rows[0]["epochs"] == 1 and rows[0]["network"] == "fast"
    assert rows[0]["test"].endswith("%") and rows[0]["validation"].endswith("%")
    shown = " ".join(str(value) for value in rows[0].values())
    assert inspection.overfitting_verdict(run.history).message not in shown


def test_a_students_home_lists_their_classs_open_assignments_with_their_hand_in(people_db):
    ana = accounts.add_teacher("Ana", "a-long-password")
    classroom = classes.create(ana.id, "5A")
    luna = classes.join(classroom.join_code, "Luna", "127.0.0.1")[0]
    teacher, student = permissions.Who("teacher", ana.id), permissions.Who("student", luna.id, "Luna", classroom.id)
    rules = assignments.Rules("mnist", "fast", {})
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    past = assignments.create(teacher, classroom.id, "Closed", rules, [], due_at=soon)
    later = assignments.create(teacher, classroom.id, "Open", rules, [], due_at=soon)
    handins.hand_in(student, later, [], [])
    with database.transaction() as session:
        session.execute(sa.update(schema.Assignment).where(schema.Assignment.id == past.id)
                        .values(due_at=schema.now() - datetime.timedelta(minutes=1)))
    assert [(made.title, hand_in.times) for made, hand_in in worksheet.open_for(student)] == [("Open", 1)]
    assert worksheet.open_for(teacher) == [] and worksheet.open_for(permissions.GUEST) == []
