"""Assignments: the rules of the course's reports, check() refusing each kind of violation in one sentence, who may
make and see an assignment (SQLite and PostgreSQL), and the queue refusing a locked setting before queueing."""

import dataclasses
import datetime
import json
import re

import pytest

from cnnlab import i18n, runs, training
from cnnlab.classroom import accounts, classes, permissions
from cnnlab.compute import jobs
from cnnlab.course import assignments, experiments
from cnnlab.data import catalogue
from cnnlab.errors import ConfigError, NotAllowed
from cnnlab.i18n import Message
from cnnlab.networks import architectures, counting
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)
PASSWORD = "a-long-password"


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(training, "gpu_name", lambda: None)


def refusal(rules, config):
    with pytest.raises(ConfigError) as refused:
        assignments.check(rules, config)
    return str(refused.value)


# ---------------------------------------------------------------- the rules of each report

def test_report_a_offers_its_two_datasets_networks_and_optimizers_and_locks_the_rest(no_gpu):
    rules, questions = assignments.from_report("a")
    settings = rules.settings
    assert settings["dataset"] == {"mode": "choice", "values": ["mnist", "cifar10"]}
    assert settings["architecture"] == {"mode": "choice", "values": ["net_1", "net_2"]}
    assert settings["optimizer"] == {"mode": "choice", "values": ["adadelta", "adam"]}
    assert settings["validation_split"] == {"mode": "choice", "values": [0.1, 0.2]}
    assert settings["batch_size"] == {"mode": "locked", "value": 128}
    assert settings["augment"] == {"mode": "locked", "value": False}
    assert settings["dropout"] == {"mode": "locked", "value": None}
    assert settings["epochs"] == {"mode": "range", "min": 1, "max": experiments.CPU_EPOCHS}  # 700 on a GPU
    assert rules.budget == {"epochs": experiments.CPU_EPOCHS, "params": None, "minutes": None}
    assert (rules.dataset, rules.architecture) == ("mnist", "net_1")
    assert questions == [{"report": q} for q in ("which_model", "which_optimizer", "overfitting", "improve")]


def test_on_a_gpu_the_epochs_go_to_the_reports_longest(monkeypatch):
    monkeypatch.setattr(training, "gpu_name", lambda: "NVIDIA H100")
    rules, _ = assignments.from_report("A")
    assert rules.settings["epochs"]["max"] == 700 and rules.budget["epochs"] == 700


@pytest.mark.parametrize("report", list(experiments.REPORTS))
def test_every_experiment_of_a_report_keeps_its_rules_and_the_json_is_canonical(report, no_gpu):
    rules, questions = assignments.from_report(report)
    assert questions == [{"report": question} for question in experiments.QUESTIONS[report]]
    for experiment in experiments.of_report(report):
        assignments.check(rules, experiment.config(experiment.suggested_epochs(gpu=False)))
        for name, rule in rules.settings.items():  # one value across the report: locked; several: a choice
            values = {json.dumps(e.settings.to_dict()[name]) for e in experiments.of_report(report)}
            if name != "epochs":
                assert rule["mode"] == ("locked" if len(values) == 1 else "choice"), name
    again = assignments.Rules.from_json(rules.to_json())
    assert again == rules and again.to_json() == rules.to_json()
    assert rules.to_json() == json.dumps(json.loads(rules.to_json()), sort_keys=True, separators=(",", ":"))


def test_report_b_locks_everything_but_the_epochs(no_gpu):
    rules, _ = assignments.from_report("B")
    assert {name for name, rule in rules.settings.items() if rule["mode"] != "locked"} == {"epochs"}
    assert rules.settings["optimizer"] == {"mode": "locked", "value": "rmsprop"}


def test_an_unknown_report_is_one_sentence_with_the_choices():
    with pytest.raises(ConfigError, match="There is no course report “Z”: choose one of A, B, C, D, E."):
        assignments.from_report("Z")


# ---------------------------------------------------------------- check(): each kind of violation

def rules_with(settings=None, budget=None):
    return assignments.Rules("mnist", "fast", settings or {}, budget or {})


def test_a_locked_setting_is_refused_with_what_it_is_locked_to_and_what_was_asked():
    rules = rules_with({"optimizer": {"mode": "locked", "value": "adadelta"}})
    assert refusal(rules, TrainConfig(**TINY, optimizer="adam")) == \
        "The assignment locks the optimizer to adadelta: you asked for adam."
    assignments.check(rules, TrainConfig(**TINY, optimizer="adadelta"))
    with i18n.speaking("es"):
        assert refusal(rules, TrainConfig(**TINY, optimizer="adam")) == \
            "La tarea fija el optimizador en adadelta: pediste adam."


def test_a_range_and_a_choice_say_what_is_allowed():
    rules = rules_with({"learning_rate": {"mode": "range", "min": 0.0001, "max": 0.01},
                        "batch_size": {"mode": "choice", "values": [32, 64]},
                        "augment": {"mode": "locked", "value": False}})
    assert refusal(rules, TrainConfig(**TINY, learning_rate=0.5)) == \
        "The assignment allows the learning rate from 0.0001 to 0.01: you asked for 0.5."
    assert refusal(rules, TrainConfig(**dict(TINY, batch_size=128))) == \
        "The assignment allows only 32 or 64 for the batch size: you asked for 128."
    assert refusal(rules, TrainConfig(**TINY, augment=True)) == \
        "The assignment locks data augmentation to off: you asked for on."
    for allowed in (dict(learning_rate=0.0001), dict(learning_rate=0.01), dict(batch_size=64)):
        assignments.check(rules, TrainConfig(**dict(TINY, **allowed)))
    with i18n.speaking("es"):
        assert refusal(rules, TrainConfig(**TINY, learning_rate=0.5)) == \
            "La tarea admite la tasa de aprendizaje entre 0,0001 y 0,01: pediste 0,5."


def test_the_budget_holds_the_epochs_and_the_networks_parameters():
    info = catalogue.get_info("mnist")
    params = counting.count_params(architectures.get_preset("fast").layers, info.image_shape, info.num_classes)
    rules = rules_with(budget={"epochs": 3, "params": params})
    assignments.check(rules, TrainConfig(**dict(TINY, epochs=3)))  # exactly the budget: allowed
    assert refusal(rules, TrainConfig(**dict(TINY, epochs=4))) == \
        "The assignment's budget is at most 3 epochs a training: you asked for 4."
    smaller = rules_with(budget={"params": params - 1})
    assert refusal(smaller, TrainConfig(**TINY)) == (f"The assignment's budget is a network of at most {params - 1:,} "
                                                     f"parameters: yours has {params:,}.")


def test_a_custom_network_must_be_the_locked_presets_layers():
    rules = rules_with({"architecture": {"mode": "locked", "value": "net_1"}})
    typed_out = [layer.to_dict() for layer in architectures.get_preset("net_1").layers]
    assignments.check(rules, TrainConfig(**dict(TINY, architecture=typed_out)))  # the same layers, typed out
    wider = [dict(layer, size=layer["size"] * 2) if layer["kind"] == "conv" else layer for layer in typed_out]
    assert refusal(rules, TrainConfig(**dict(TINY, architecture=wider))) == \
        "The assignment locks the network to net_1: you asked for a network of your own layers."
    assert refusal(rules, TrainConfig(**TINY)) == "The assignment locks the network to net_1: you asked for fast."
    chosen = rules_with({"architecture": {"mode": "choice", "values": ["net_1", "net_2"]}})
    assignments.check(chosen, TrainConfig(**dict(TINY, architecture=typed_out)))
    assert "only net_1 or net_2 for the network" in refusal(chosen, TrainConfig(**dict(TINY, architecture=wider)))


def test_a_setting_left_free_or_unnamed_takes_anything_and_the_defaults_are_named():
    rules = rules_with({"seed": {"mode": "free"}, "dropout": {"mode": "locked", "value": None},
                        "train_size": {"mode": "locked", "value": None}})
    assignments.check(rules, TrainConfig(**dict(TINY, seed=12345, train_size=None)))
    assert refusal(rules, TrainConfig(**dict(TINY, train_size=None), dropout=0.2)) == \
        "The assignment locks the dropout to the network's own rates: you asked for 0.2."
    assert refusal(rules, TrainConfig(**TINY)) == \
        "The assignment locks the train size to the whole training set: you asked for 320."


@pytest.mark.parametrize("settings, budget", [
    ({"colour": {"mode": "free"}}, {}),
    ({"optimizer": {"mode": "sometimes"}}, {}),
    ({"optimizer": {"mode": "range", "min": 1, "max": 2}}, {}),
    ({"epochs": {"mode": "range", "min": 5, "max": 2}}, {}),
    ({"seed": {"mode": "choice", "values": []}}, {}),
    ({"seed": {"mode": "locked"}}, {}),
    ({}, {"epochs": 0}),
    ({}, {"hours": 3}),
])
def test_rules_that_make_no_sense_are_refused_when_made(settings, budget):
    with pytest.raises(ConfigError):
        assignments.Rules("mnist", "fast", settings, budget)


# ---------------------------------------------------------------- the queue refuses before queueing

def test_the_queue_refuses_a_locked_setting_before_anything_is_queued(people_db):
    teacher, _, classroom, _, _, student = a_school()
    rules = rules_with({"optimizer": {"mode": "locked", "value": "adadelta"}})
    made = assignments.create(teacher, classroom.id, "Optimizers", rules, [])
    queue = jobs.TrainingQueue(runs.RunStore())
    with pytest.raises(ConfigError, match="locks the optimizer to adadelta: you asked for adam"):
        queue.submit(TrainConfig(**TINY), who=student, assignment=assignments.rules_of(made))

    class Checked:  # anything with .check(config) will do
        seen = []

        def check(self, config):
            self.seen.append(config.learning_rate)
            raise ConfigError("assignment.title_missing")

    with pytest.raises(ConfigError, match="Type the assignment's title"):
        queue.submit(TrainConfig(**TINY, learning_rate=0.5), assignment=Checked())
    assert Checked.seen == [0.5] and queue.jobs() == []


# ---------------------------------------------------------------- who may make and see an assignment

def a_school():
    """Two teachers with a class each and a student in each: (teacher, other teacher, class, other class, the
    other class's student, the class's student), as Who."""
    ana = accounts.add_teacher("Ana", PASSWORD)
    bea = accounts.add_teacher("Bea", PASSWORD)
    mine, theirs = classes.create(ana.id, "5A"), classes.create(bea.id, "5B")
    luna = classes.join(mine.join_code, "Luna", "127.0.0.1")[0]
    sol = classes.join(theirs.join_code, "Sol", "127.0.0.1")[0]
    return (permissions.Who("teacher", ana.id, "Ana"), permissions.Who("teacher", bea.id, "Bea"), mine, theirs,
            permissions.Who("student", sol.id, "Sol", theirs.id), permissions.Who("student", luna.id, "Luna", mine.id))


def test_only_the_classs_teacher_or_the_owner_makes_an_assignment(people_db, no_gpu):
    teacher, other_teacher, classroom, _, outsider, student = a_school()
    rules, questions = assignments.from_report("A")
    made = assignments.create(teacher, classroom.id, "  Report A:\tnet_1 and net_2 ", rules, questions)
    assert made.title == "Report A: net_1 and net_2" and made.report is None
    assert len(made.code) == assignments.CODE_LENGTH and assignments.link(made.code) == f"/?assignment={made.code}"
    assert assignments.rules_of(made) == rules and json.loads(made.questions) == questions
    assert (made.leaderboard, made.private_share, made.due_at) == ("nicknames", 0.3, None)
    assignments.create(permissions.OWNER, classroom.id, "By the owner", rules, questions)
    with pytest.raises(NotAllowed, match="Only the class's own teacher"):
        assignments.create(other_teacher, classroom.id, "Not mine", rules, questions)
    for nobody in (student, outsider, permissions.GUEST):
        with pytest.raises(NotAllowed, match="Only a teacher may"):
            assignments.create(nobody, classroom.id, "Not mine", rules, questions)
    assert [a.title for a in assignments.of_class(teacher, classroom.id)] == ["By the owner", made.title]


def test_the_class_sees_its_assignments_and_to_anyone_else_a_code_is_unknown(people_db, no_gpu):
    teacher, other_teacher, classroom, _, outsider, student = a_school()
    rules, questions = assignments.from_report("B")
    made = assignments.create(teacher, classroom.id, "Longer", rules, questions)
    for allowed in (teacher, permissions.OWNER, student):
        assert [a.code for a in assignments.of_class(allowed, classroom.id)] == [made.code]
        assert assignments.get(made.code.lower(), allowed).id == made.id  # typed in lower case: the same code
    for refused in (other_teacher, outsider, permissions.GUEST):
        with pytest.raises(NotAllowed, match="Only the class's teacher and its students"):
            assignments.of_class(refused, classroom.id)
        with pytest.raises(NotAllowed) as hidden:
            assignments.get(made.code, refused)
        assert hidden.value.message == Message("assignment.unknown", code=made.code)
    with pytest.raises(NotAllowed) as unknown:
        assignments.get("ZZZZZZZZZZ", student)
    assert unknown.value.message == Message("assignment.unknown", code="ZZZZZZZZZZ")


def test_a_title_and_a_due_time_are_checked(people_db):
    teacher, _, classroom, _, _, _ = a_school()
    rules = rules_with()
    for title, sentence in (("   ", "Type the assignment's title."), ("x" * 121, "at most 120"),
                            ("tab\x00zero", "no control characters")):
        with pytest.raises(ConfigError, match=sentence):
            assignments.create(teacher, classroom.id, title, rules, [])
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    with pytest.raises(ConfigError, match="has passed"):
        assignments.create(teacher, classroom.id, "Late", rules, [], due_at=past)
    soon = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=2))) + datetime.timedelta(days=1)
    made = assignments.create(teacher, classroom.id, "Tomorrow", rules, [], due_at=soon)
    assert made.due_at == soon.astimezone(datetime.UTC).replace(tzinfo=None)  # kept in UTC, like every stamp
    assert dataclasses.is_dataclass(rules) and assignments.get(made.code, teacher).due_at == made.due_at


# ---------------------------------------------------------------- questions: the course's and the teacher's own

def test_questions_are_the_reports_worded_as_the_course_page_and_the_teachers_in_each_language(people_db, no_gpu):
    teacher, _, classroom, _, _, student = a_school()
    rules, report_questions = assignments.from_report("B")
    own = [{"text": {"en": "  What did   the\tfilters learn? ", "es": "¿Qué aprendieron los filtros?"}},
           {"text": {"es": "¿Cuántas épocas bastan?"}}]
    made = assignments.create(teacher, classroom.id, "Longer", rules, report_questions + own)
    assert assignments.questions_of(made, "en") == [
        ("overfitting", "Is there evidence of overfitting?"), ("longer", "Does training longer help?"),
        ("improve", "How could the results improve?"), ("q1", "What did the filters learn?"),
        ("q2", "¿Cuántas épocas bastan?")]  # written only in Spanish: Spanish for everyone
    assert assignments.questions_of(assignments.get(made.code, student), "es")[2:] == [
        ("improve", "¿Cómo podrían mejorar los resultados?"), ("q1", "¿Qué aprendieron los filtros?"),
        ("q2", "¿Cuántas épocas bastan?")]
    with i18n.speaking("es"):  # the reader's language when none is named
        assert assignments.questions_of(made)[0] == ("overfitting", "¿Hay evidencia de sobreajuste?")
    assert json.loads(made.questions)[3] == {"text": {"en": "What did the filters learn?",
                                                      "es": "¿Qué aprendieron los filtros?"}}
    shown = assignments.as_dict(made, "5A")
    assert shown["questions"] == json.loads(made.questions)
    assert shown["questions_shown"][3] == {"id": "q1", "text": "What did the filters learn?"}


@pytest.mark.parametrize("questions, sentence", [
    ([{"report": "favourite_colour"}], "A question is one of the course's (which_model, "),
    (["Is it overfitting?"], "or your own text in en, es"),
    ([{"text": {"fr": "Pourquoi ?"}}], "or your own text in en, es"),
    ([{"text": {"en": "x", "es": "y"}, "report": "longer"}], "A question is one of"),
    ([{"text": "Why?"}], "A question is one of"),
    ([{"text": {"en": "  ", "es": ""}}], "Type your question in at least one language."),
    ([{"text": {"en": "tab\x00zero"}}], "each at most 2,000 characters"),
    ([{"text": {"es": "x" * 2001}}], "each at most 2,000 characters"),
    ([{"report": "longer"}, {"report": "longer"}], "asks each of the course's questions once"),
    ([{"text": {"en": f"Question {n}?"}} for n in range(21)], "at most 20 questions"),
    ("Why?", "at most 20 questions"),
])
def test_a_question_that_is_not_one_is_refused_in_a_sentence(people_db, questions, sentence):
    teacher, _, classroom, _, _, _ = a_school()
    with pytest.raises(ConfigError, match=re.escape(sentence)):
        assignments.create(teacher, classroom.id, "Questions", rules_with(), questions)
    assert assignments.of_class(teacher, classroom.id) == []


# ---------------------------------------------------------------- rules as a teacher types them in a form

@pytest.mark.parametrize("name, mode, typed, rule", [
    ("optimizer", "locked", " Adam ", {"mode": "locked", "value": "adam"}),
    ("batch_size", "choice", "32, 64", {"mode": "choice", "values": [32, 64]}),
    ("learning_rate", "range", "0.0001,0.01", {"mode": "range", "min": 0.0001, "max": 0.01}),
    ("dropout", "locked", "none", {"mode": "locked", "value": None}),
    ("augment", "locked", "off", {"mode": "locked", "value": False}),
    ("seed", "free", "anything", {"mode": "free"}),
])
def test_a_rule_as_typed(name, mode, typed, rule):
    assert assignments.typed_rule(name, mode, typed) == rule
    assignments.Rules("mnist", "fast", {name: rule})


@pytest.mark.parametrize("name, mode, typed, sentence", [
    ("epochs", "locked", "five", "“five” is not a value for the epochs: type a number"),
    ("batch_size", "range", "64", "For the batch size, type one value to lock it"),
    ("augment", "choice", "on, maybe", "“maybe” is not a value for data augmentation"),
    ("learning_rate", "range", "nan, 1", "“nan” is not a value for the learning rate"),
    ("optimizer", "locked", "", "“” is not a value for the optimizer"),
])
def test_a_rule_typed_wrong_is_a_sentence(name, mode, typed, sentence):
    with pytest.raises(ConfigError, match=re.escape(sentence)):
        assignments.typed_rule(name, mode, typed)


def test_a_range_from_the_highest_to_the_lowest_says_so():
    with pytest.raises(ConfigError) as refused:
        assignments.Rules("mnist", "fast", {"learning_rate": {"mode": "range", "min": 0.01, "max": 0.0001}})
    assert str(refused.value) == \
        "A range for the learning rate goes from the lowest to the highest: 0.01 is above 0.0001."
    with i18n.speaking("es"):
        assert str(refused.value) == \
            "Un rango para la tasa de aprendizaje va del menor al mayor: 0,01 es mayor que 0,0001."


# ---------------------------------------------------------------- rules no student could train are refused when made

@pytest.mark.parametrize("name, mode, typed, sentence", [
    ("optimizer", "locked", "adamx", "No student could train with the optimizer set to adamx: Unknown optimizer"),
    ("architecture", "locked", "net_9", "No student could train with the network set to net_9: "),
    ("batch_size", "range", "0, 5", "No student could train with the batch size set to 0: Batch size is 0"),
    ("learning_rate", "range", "-1, 0", "No student could train with the learning rate set to -1: "),
    ("epochs", "range", "0, 0", "No student could train with the epochs set to 0: "),
    ("dropout", "locked", "7", "No student could train with the dropout set to 7: "),
    ("optimizer", "choice", "adam, adamx", "No student could train with the optimizer set to adamx: "),
    ("dataset", "locked", "mnsit", "No student could train with the dataset set to mnsit: Unknown dataset 'mnsit'"),
])
def test_a_value_no_student_could_train_is_refused_when_the_assignment_is_made(people_db, name, mode, typed,
                                                                                sentence):
    teacher, _, classroom, _, _, student = a_school()
    rules = rules_with({name: assignments.typed_rule(name, mode, typed)})
    with pytest.raises(ConfigError, match=re.escape(sentence)):
        assignments.create(teacher, classroom.id, "Broken", rules, [])
    assert assignments.of_class(teacher, classroom.id) == []  # nothing made: no student's worksheet breaks
    with i18n.speaking("es"), pytest.raises(ConfigError, match="Ningún alumno podría entrenar con"):
        assignments.create(teacher, classroom.id, "Broken", rules, [])


def test_the_starting_network_and_a_network_too_big_for_the_dataset_are_refused_when_made(people_db):
    teacher, _, classroom, _, _, _ = a_school()
    with pytest.raises(ConfigError, match="No student could train with the network set to net_9"):
        assignments.create(teacher, classroom.id, "Broken", assignments.Rules("mnist", "net_9", {}), [])
    with pytest.raises(ConfigError, match="No student could train with the batch size set to 4096: net_1 on MNIST: "
                                          "A batch of 4,096 images would need"):  # within TrainConfig's limits
        assignments.create(teacher, classroom.id, "Too big", assignments.Rules(
            "mnist", "net_1", {"batch_size": {"mode": "range", "min": 32, "max": 4096}}), [])
    assert assignments.create(teacher, classroom.id, "Fine", rules_with(
        {"batch_size": {"mode": "range", "min": 32, "max": 256}}), []).title == "Fine"


def test_an_assignment_made_before_the_check_is_a_sentence_on_its_worksheet(people_db):
    """One already in the database: steps() raises a sentence (the Assignment page shows it), never a crash."""
    from cnnlab.classroom import database, schema
    from cnnlab.course import worksheet

    teacher, _, classroom, _, _, _ = a_school()
    made = assignments.create(teacher, classroom.id, "Old", rules_with(), [])
    bad = rules_with({"optimizer": {"mode": "locked", "value": "adamx"}})
    with database.transaction() as session:
        session.get(schema.Assignment, made.id).rules = bad.to_json()
        old = session.get(schema.Assignment, made.id)
        session.expunge(old)
    with pytest.raises(ConfigError, match="Unknown optimizer 'adamx'"):
        worksheet.steps(old)


# ---------------------------------------------------------------- a dataset as a teacher types it

def test_a_dataset_typed_as_an_alias_is_its_dataset_and_a_lock_kept_as_one_still_trains(people_db):
    from cnnlab.course import worksheet

    assert assignments.typed_rule("dataset", "locked", " Fashion-MNIST ") == {"mode": "locked",
                                                                               "value": "fashion_mnist"}
    assert assignments.typed_rule("dataset", "choice", "mnist, CIFAR-10") == {"mode": "choice",
                                                                               "values": ["mnist", "cifar10"]}
    kept = assignments.Rules("fashion_mnist", "fast", {"dataset": {"mode": "locked", "value": "fashion-mnist"}})
    kept.check(worksheet.starting_config(kept))  # a lock kept as its alias allows the worksheet's own first step
    assert refusal(kept, TrainConfig(**TINY)) == \
        "The assignment locks the dataset to fashion-mnist: you asked for mnist."
    teacher, _, classroom, _, _, _ = a_school()
    made = assignments.create(teacher, classroom.id, "Clothes", assignments.Rules("fashion_mnist", "fast", {
        "dataset": assignments.typed_rule("dataset", "locked", "fashion")}), [])
    assert assignments.rules_of(made).settings["dataset"] == {"mode": "locked", "value": "fashion_mnist"}


def test_a_dataset_the_teacher_may_not_use_is_refused_when_made(people_db, tmp_path):
    """Another class's student's private pictures: there, trainable, and unknown to this teacher."""
    from PIL import Image

    from cnnlab.data import own_images

    teacher, _, classroom, _, outsider, _ = a_school()
    for number, shape in enumerate(("circle", "square")):
        (tmp_path / "leaves" / shape).mkdir(parents=True)
        for n in range(6):
            Image.new("L", (28, 28), 40 * number + 10 * n).save(tmp_path / "leaves" / shape / f"{n}.png")
    key = own_images.import_images(tmp_path / "leaves", "leaves", who=outsider).name
    assert key == f"leaves.p{outsider.person_id}" and TrainConfig(dataset=key).dataset == key
    with pytest.raises(ConfigError, match=re.escape(f"No student could train with the dataset set to {key}: "
                                                    f"Unknown dataset '{key}'")):
        assignments.create(teacher, classroom.id, "Theirs", assignments.Rules("mnist", "fast", {
            "dataset": {"mode": "choice", "values": ["mnist", key]}}), [])
    assert assignments.of_class(teacher, classroom.id) == []
