"""The Teacher page's assignments and live class (AppTest): an assignment from report A in one click with its link and
QR code, the form's mistakes as sentences, and the live table of the class's students."""

import datetime

import pytest
from test_app import all_text, page

from cnnlab import runs
from cnnlab.classroom import classes, permissions
from cnnlab.compute import jobs
from cnnlab.errors import ConfigError
from cnnlab.training import TrainConfig
from cnnlab.course import assignments
from cnnlab.data import holdout


def teacher_with_a_class(sign_in, *students):
    who = sign_in("teacher")
    classroom = classes.create(who.person_id, "CNN 2027")
    for nickname in students:
        classes.join(classroom.join_code, nickname, "127.0.0.1")
    return classroom


def test_an_assignment_from_report_a_in_one_click_with_its_link_and_qr_code(sign_in):
    classroom = teacher_with_a_class(sign_in)
    at = page("pages/10_Teacher.py").run()
    assert "No assignment for this class yet." in all_text(at)
    at.button(key="assignment_report_A").click().run()
    assert not at.exception, at.exception
    made = assignments.of_class(permissions.OWNER, classroom.id)
    assert [(a.title, a.report) for a in made] == [("net_1 and net_2 on MNIST and CIFAR-10", "A")]
    link = assignments.link(made[0].code)
    assert [s.value.replace("\\", "") for s in at.success] == [
        "Assignment “net_1 and net_2 on MNIST and CIFAR-10” made: its link and QR code are below."]
    assert link in all_text(at)  # large, for the projector
    alts = [image.alt for element in at.get("image") for image in element.proto.imgs]
    assert any(link in alt and "QR code" in alt and made[0].title in alt for alt in alts)
    assert "4 questions" in all_text(at)
    assert made[0].private_share == assignments.PRIVATE_SHARE  # a private part by default
    at.toggle(key="assignment_private").set_value(False).run()
    at.button(key="assignment_report_B").click().run()
    plain = [a for a in assignments.of_class(permissions.OWNER, classroom.id) if a.report == "B"]
    assert len(plain) == 1 and plain[0].private_share == 0 and holdout.key_for(plain[0]) is None


def form_with(at, **typed):
    """The scratch form filled in: title, then {setting: (mode, text)}."""
    next(w for w in at.text_input if w.label == "Title").input(typed.pop("title"))
    for name, (mode, text) in typed.items():
        at.selectbox(key=f"mode_{name}").select(mode)
        at.text_input(key=f"value_{name}").input(text)
    next(b for b in at.button if b.label == "Make the assignment").click().run()
    assert not at.exception, at.exception
    return at


def test_the_scratch_form_says_a_bad_range_in_a_sentence_and_makes_a_good_one(sign_in):
    classroom = teacher_with_a_class(sign_in)
    at = form_with(page("pages/10_Teacher.py").run(), title="Rates",
                   learning_rate=("range", "0.01, 0.0001"))
    assert "A range for the learning rate goes from the lowest to the highest: 0.01 is above 0.0001." in \
        [e.value for e in at.error]
    at = form_with(at, title="Rates", learning_rate=("range", "0.0001, 0.01"), optimizer=("range", "adam, sgd"))
    assert [e.value for e in at.error] == ["The assignment's rule for the optimizer is not one of locked, free, range, "
                                           "choice (a range only for numbers, from its min to its max)."]
    at = form_with(at, title="Rates", optimizer=("free", ""), batch_size=("range", "64"))
    assert any("or the lowest and the highest separated by a comma for a range (you typed “64”)" in e.value
               for e in at.error)
    assert assignments.of_class(permissions.OWNER, classroom.id) == []  # nothing made from a form with a mistake


def test_the_scratch_form_refuses_a_value_no_student_could_train_in_a_sentence(sign_in):
    classroom = teacher_with_a_class(sign_in)
    at = form_with(page("pages/10_Teacher.py").run(), title="Optimizers", optimizer=("locked", "adamx"))
    assert [e.value for e in at.error] == ["No student could train with the optimizer set to adamx: Unknown optimizer "
                                           "'adamx': choose one of sgd, sgd+momentum, adam, adamw, rmsprop, adagrad, "
                                           "adadelta, nadam."]
    at = form_with(at, title="Optimizers", optimizer=("free", ""), dropout=("locked", "7"))
    assert [e.value for e in at.error] == ["No student could train with the dropout set to 7: Dropout is 7: it must be "
                                           "from 0 to 0.9."]
    assert assignments.of_class(permissions.OWNER, classroom.id) == []  # no worksheet that breaks for every student


def test_the_scratch_form_makes_rules_the_queue_holds_and_questions_in_both_languages(sign_in):
    classroom = teacher_with_a_class(sign_in)
    at = page("pages/10_Teacher.py").run()
    at.multiselect(key="assignment_ticked").select("overfitting")
    at.text_input(key="question_en_1").input("What did the first filters learn?")
    at.text_input(key="question_es_1").input("¿Qué aprendieron los primeros filtros?")
    at.date_input(key="assignment_due_date").set_value(datetime.date.today() + datetime.timedelta(days=3))
    at = form_with(at, title="Optimizers", optimizer=("locked", "adadelta"), learning_rate=("range", "0.0001, 0.01"),
                   batch_size=("choice", "32, 64"))
    assert not at.error, [e.value for e in at.error]
    made = assignments.of_class(permissions.OWNER, classroom.id)[0]
    rules = assignments.rules_of(made)
    assert rules.settings["optimizer"] == {"mode": "locked", "value": "adadelta"}
    assert rules.settings["learning_rate"] == {"mode": "range", "min": 0.0001, "max": 0.01}
    assert rules.settings["batch_size"] == {"mode": "choice", "values": [32, 64]}
    assert rules.settings["dataset"] == {"mode": "locked", "value": "mnist"}
    assert rules.settings["seed"]["mode"] == "free"
    assert assignments.questions_of(made, "es") == [("overfitting", "¿Hay evidencia de sobreajuste?"),
                                                    ("q1", "¿Qué aprendieron los primeros filtros?")]
    assert made.due_at.time() == datetime.time(23, 59)
    queue = jobs.TrainingQueue(runs.RunStore())  # the form hid nothing: where training is asked, the rules hold
    config = TrainConfig(dataset="mnist", architecture=rules.architecture, optimizer="adam", epochs=1)
    with pytest.raises(ConfigError, match="locks the optimizer to adadelta: you asked for adam"):
        queue.submit(config, assignment=rules)
    assert queue.jobs() == []


def test_the_live_class_lists_the_classs_students(sign_in):
    teacher_with_a_class(sign_in, "Luna", "Sol")
    at = page("pages/10_Teacher.py").run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "Stuck" in d.value.columns)
    assert list(table["student"]) == ["Luna", "Sol"]
    assert list(table["now"]) == ["not started", "not started"] and list(table["Stuck"]) == ["—", "—"]
    assert "The lab started at" in all_text(at)


def test_in_spanish_the_assignments_and_the_live_class_show_no_english(sign_in):
    from test_i18n import assert_no_english, spanish_page

    teacher_with_a_class(sign_in, "Luna", "Sol")
    at = spanish_page("pages/10_Teacher.py").run()
    at.button(key="assignment_report_A").click().run()
    text = assert_no_english(at, "pages/10_Teacher.py")
    assert "Tarea del informe A" in text or any(b.label == "Tarea del informe A" for b in at.button)
    assert "La práctica empezó a las" in text and "4 preguntas" in text
    table = next(d.value for d in at.dataframe if "Atascado" in d.value.columns)
    assert list(table["ahora"]) == ["sin empezar", "sin empezar"]
