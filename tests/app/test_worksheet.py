"""The worksheet (AppTest): a student opens an assignment, trains its first step, sees the evidence of their own run
beside the questions (never an automatic answer), answers and hands in; a settings link that changes a locked
setting is refused; the home page lists the assignment; the teacher sees the rules and the hand-ins."""

import sqlalchemy as sa
from test_app import TINY, all_text, page, stored_run  # noqa: F401 (stored_run: a fixture)
from test_i18n import assert_no_english

from cnnlab.classroom import database, schema
from cnnlab.course import assignments, experiments, exports, handins
from cnnlab.insight import inspection
from cnnlab.training import TrainConfig

LOCKED = {name: {"mode": "locked", "value": value}
          for name, value in {**TINY, "dropout": None, "seed": 0, "augment": False}.items()}


def an_assignment(teacher, student):
    """A scratch assignment of the student's class whose starting settings are TINY's (the stored run's), with the
    learning rate free; nothing held back of MNIST's test set, so its first step is the stored run."""
    rules = assignments.Rules("mnist", "fast", {**LOCKED, "optimizer": {"mode": "locked", "value": "adam"},
                                                "learning_rate": {"mode": "range", "min": 0.0001, "max": 0.01}})
    questions = [{"report": "overfitting"}, {"report": "improve"}]
    made = assignments.create(teacher, student.class_id, "Lab 3: overfitting", rules, questions)
    with database.transaction() as session:
        session.execute(sa.update(schema.Assignment).where(schema.Assignment.id == made.id).values(private_share=0))
    return made


def worksheet(code, **query):
    at = page("pages/12_Assignment.py")
    at.query_params["assignment"] = code
    for name, value in query.items():
        at.query_params[name] = value
    return at.run()


def test_a_student_trains_reads_their_evidence_answers_and_hands_in(sign_in, stored_run):
    import ui

    teacher, student = sign_in("teacher"), sign_in("student")
    made = an_assignment(teacher, student)
    home = page("app.py").run()
    assert not home.exception, home.exception
    assert "Lab 3: overfitting" in " ".join(link.label for link in home.get("page_link"))

    at = worksheet(made.code)
    assert not at.exception, at.exception
    text = all_text(at)
    assert "Train the starting network" in text and "Change one thing (the learning rate)" in text
    assert "No runs yet" in text and not at.dataframe
    at.button(key="train_1").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    job = next(iter(ui.queue().jobs()), None) or ui.queue().get(stored_run.id)
    assert job is not None and ui.queue().wait(job, timeout=120) and job.id == stored_run.id
    at.run()
    assert not at.exception, at.exception
    evidence = next(frame.value for frame in at.dataframe if "Test accuracy" in frame.value.columns)
    assert list(evidence["Run"]) == [stored_run.id[:8]]
    text = all_text(at)
    assert all(question in text for _, question in assignments.questions_of(made))
    for report in experiments.REPORTS:  # the Course page's answers: none of them here
        for answer in experiments.answers(report, [stored_run]):
            assert answer.text not in text
    assert inspection.overfitting_verdict(stored_run.history).message not in text
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")  # their curves
    pictures = [image for element in at.get("image") for image in element.proto.imgs]
    assert any("Grad-CAM" in image.caption and "Grad-CAM heat map" in image.alt for image in pictures)

    at.text_area(key="answer_overfitting").input("The validation curve stays close: not yet.")
    at.text_area(key="answer_improve").input("Train longer.")
    at.button(key="hand_in").click().run()
    assert not at.exception and "Handed in (1 time)." in all_text(at), all_text(at)
    kept = handins.mine(student, made)
    assert kept.times == 1 and handins.runs_of(kept) == [stored_run.id]
    assert handins.answers_of(kept) == ["The validation curve stays close: not yet.", "Train longer."]
    at.text_area(key="answer_improve").input("Train longer, with dropout.")
    at.button(key="save_draft").click().run()  # a draft since: what was handed in stays, and the page says so
    assert not at.exception and "Your saved draft is not what you handed in" in all_text(at), all_text(at)
    kept = handins.mine(student, made)
    assert (handins.answers_of(kept)[1], handins.handed_answers_of(kept)[1]) == ("Train longer, with dropout.",
                                                                                 "Train longer.")

    sign_in("teacher")
    teacher_view = worksheet(made.code)
    assert not teacher_view.exception, teacher_view.exception
    assert "Handed in by kiwi" in all_text(teacher_view) and "(1 time)" in all_text(teacher_view)
    rules = next(frame.value for frame in teacher_view.dataframe if "Rule" in frame.value.columns)
    assert "locked to adam" in list(rules["Rule"])
    labels = [button.proto.label for button in teacher_view.get("download_button")]
    assert "Every lab report and the gradebook (zip)" in labels and "Gradebook (CSV)" in labels


def test_a_settings_link_that_changes_a_locked_setting_is_refused(sign_in, stored_run):
    import ui

    teacher, student = sign_in("teacher"), sign_in("student")
    made = an_assignment(teacher, student)
    at = worksheet(made.code, **exports.settings_query(TrainConfig(**{**TINY, "optimizer": "sgd"})))
    assert not at.exception, at.exception
    assert "The assignment locks the optimizer to adam: you asked for sgd." in " ".join(e.value for e in at.error)
    assert "keep the assignment's rules" not in all_text(at) and ui.queue().jobs() == []  # nothing taken from it
    allowed = worksheet(made.code, **exports.settings_query(TrainConfig(**{**TINY, "learning_rate": 0.005})))
    assert not allowed.error and "keep the assignment's rules" in all_text(allowed)  # the one free setting
    assert allowed.number_input[0].value == 0.005


def test_to_a_student_of_another_class_or_a_guest_the_assignment_is_unknown(sign_in, stored_run):
    teacher, student = sign_in("teacher"), sign_in("student")
    made = an_assignment(teacher, student)
    sign_in("guest")
    at = worksheet(made.code)
    assert not at.exception and f"There is no assignment with the code “{made.code}” for you" in all_text(at)
    sign_in("student")
    linked = page("app.py")  # the link the teacher hands out, /?assignment=CODE, opens the worksheet
    linked.query_params["assignment"] = made.code.lower()
    linked.run()
    assert not linked.exception, linked.exception
    assert "Train the starting network" in all_text(linked) and linked.query_params["assignment"] == made.code


def test_the_worksheet_after_a_training_speaks_spanish_with_no_english_left(sign_in, stored_run):
    import ui

    teacher, student = sign_in("teacher"), sign_in("student")
    made = an_assignment(teacher, student)
    job = ui.queue().submit(TrainConfig(**TINY), who=student, assignment=handins.training_for(made))
    assert ui.queue().wait(job, timeout=120)
    at = page("pages/12_Assignment.py")
    at.query_params["assignment"], at.query_params["lang"] = made.code, "es"
    text = assert_no_english(at.run(), "pages/12_Assignment.py")
    assert "Entrena la red de partida" in text and "Evidencia de tus ejecuciones" in text
    assert handins.when(schema.now(), "es").endswith(" UTC")


def test_a_second_tab_is_told_another_saved_and_shows_or_replaces_it(sign_in, stored_run):
    teacher, student = sign_in("teacher"), sign_in("student")
    import ui

    made = an_assignment(teacher, student)
    laptop = worksheet(made.code)
    laptop.button(key="train_1").click().run()  # the stored run, now asked for this assignment by the student
    job = next(iter(ui.queue().jobs()), None) or ui.queue().get(stored_run.id)
    assert job is not None and ui.queue().wait(job, timeout=120)
    laptop.run()
    phone = worksheet(made.code)  # both opened before either saved
    laptop.text_area(key="answer_overfitting").input("Long answer from the laptop.")
    laptop.button(key="hand_in").click().run()
    assert "Handed in (1 time)." in all_text(laptop)
    phone.text_area(key="answer_improve").input("Typed on the phone.")
    phone.button(key="hand_in").click().run()
    assert not phone.exception and "saved from another tab or device" in all_text(phone), all_text(phone)
    assert handins.handed_answers_of(handins.mine(student, made)) == ["Long answer from the laptop.", ""]
    runs_key = next(box.key for box in phone.multiselect if (box.key or "").startswith("worksheet_runs_"))
    phone.multiselect(key=runs_key).set_value([])  # the phone's choice of runs goes with its answers
    phone.button(key="stale_load").click().run()  # shows what the laptop saved
    assert phone.text_area(key="answer_overfitting").value == "Long answer from the laptop."
    assert phone.multiselect(key=runs_key).value == handins.runs_of(handins.mine(student, made)) == [stored_run.id]
    phone.text_area(key="answer_improve").input("Typed on the phone.")
    phone.button(key="hand_in").click().run()
    assert "Handed in again (2 times)." in all_text(phone), all_text(phone)
    assert handins.handed_answers_of(handins.mine(student, made)) == ["Long answer from the laptop.",
                                                                       "Typed on the phone."]
    laptop.text_area(key="answer_overfitting").input("The laptop again.")
    laptop.button(key="save_draft").click().run()
    assert "saved from another tab or device" in all_text(laptop)
    laptop.button(key="stale_keep").click().run()
    laptop.button(key="save_draft").click().run()  # told, the laptop keeps its own answers
    assert handins.answers_of(handins.mine(student, made)) == ["The laptop again.", ""]


def test_an_assignment_no_student_could_train_is_a_sentence_not_a_traceback(sign_in):
    """Made before assignments were checked when made (in the database already): its worksheet says so, and the
    rest of the page (the questions, the hand-in) is still there."""
    teacher, student = sign_in("teacher"), sign_in("student")
    made = an_assignment(teacher, student)
    bad = assignments.Rules("mnist", "fast", {**LOCKED, "optimizer": {"mode": "locked", "value": "adamx"}})
    with database.transaction() as session:
        session.execute(sa.update(schema.Assignment).where(schema.Assignment.id == made.id).values(
            rules=bad.to_json()))
    at = worksheet(made.code)
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [
        "This assignment's settings cannot be trained: Unknown optimizer 'adamx': choose one of sgd, sgd+momentum, "
        "adam, adamw, rmsprop, adagrad, adadelta, nadam. Ask your teacher to correct the assignment."]
    assert at.button(key="hand_in") is not None
