"""Hand-ins (SQLite and PostgreSQL): a student saves and hands in their own runs and answers, again until the due time;
the class's teacher reads them and the lab report; to another student, a guest or another class's teacher the
assignment is unknown. A draft saved after a hand-in never changes what was handed in; after the due time, or once the
private ranking is out, nothing more is saved, handed in or trained for it; two tabs handing in at once both count.
Trainings for an assignment are recorded as such and held to its minutes."""

import datetime
import html
import json
import threading

import pytest
import sqlalchemy as sa

from cnnlab import runs
from cnnlab.classroom import accounts, classes, database, permissions, requests, schema
from cnnlab.compute import jobs
from cnnlab.course import assignments, experiments, handins, leaderboard
from cnnlab.errors import ConfigError, NotAllowed
from cnnlab.i18n import Message
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)
PASSWORD = "a-long-password"


def a_class():
    """(teacher, other class's teacher, the class, other class's student, a student, a classmate), as Who."""
    ana, bea = accounts.add_teacher("Ana", PASSWORD), accounts.add_teacher("Bea", PASSWORD)
    mine, theirs = classes.create(ana.id, "5A"), classes.create(bea.id, "5B")
    luna = classes.join(mine.join_code, "Luna", "127.0.0.1")[0]
    rio = classes.join(mine.join_code, "Rio", "127.0.0.1")[0]
    sol = classes.join(theirs.join_code, "Sol", "127.0.0.1")[0]
    return (permissions.Who("teacher", ana.id, "Ana"), permissions.Who("teacher", bea.id, "Bea"), mine,
            permissions.Who("student", sol.id, "Sol", theirs.id), permissions.Who("student", luna.id, "Luna", mine.id),
            permissions.Who("student", rio.id, "Rio", mine.id))


def an_assignment(teacher, classroom, due_at=None, minutes=None):
    rules = assignments.Rules("mnist", "fast", {"optimizer": {"mode": "locked", "value": "adam"}},
                              {"epochs": None, "params": None, "minutes": minutes})
    questions = [{"report": "overfitting"}, {"text": {"en": "What would you try next?", "es": "¿Qué probarías?"}}]
    return assignments.create(teacher, classroom.id, "Overfitting", rules, questions, due_at=due_at)


def unknown(call, made):
    with pytest.raises(NotAllowed) as refused:
        call()
    assert refused.value.message == Message("assignment.unknown", code=made.code)


def test_a_student_saves_and_hands_in_again_and_again_their_own_runs_and_answers(people_db):
    teacher, _, classroom, _, luna, rio = a_class()
    made = an_assignment(teacher, classroom)
    requests.record(luna, "run-of-luna", "mnist", "{}", assignment_id=made.id)
    requests.record(rio, "run-of-rio", "mnist", "{}", assignment_id=made.id)
    requests.record(luna, "elsewhere", "mnist", "{}")  # on the Train page, for no assignment
    assert handins.mine(luna, made) is None
    draft = handins.save(luna, made, ["run-of-luna"], ["  It overfits after epoch 3.\r\nSee the curves. "])
    assert (draft.handed_at, draft.times) == (None, 0)
    assert handins.answers_of(draft) == ["It overfits after epoch 3.\nSee the curves.", ""]  # one per question
    first = handins.hand_in(luna, made, ["run-of-luna"], ["It overfits.", "Dropout."])
    assert first.times == 1 and first.handed_at is not None
    again = handins.hand_in(luna, made, ["run-of-luna", "run-of-luna"], ["It overfits a lot.", "Dropout 0.5."])
    assert again.times == 2 and again.handed_at >= first.handed_at and again.id == first.id
    kept = handins.mine(luna, made)
    assert handins.runs_of(kept) == ["run-of-luna"]
    assert handins.answers_of(kept) == ["It overfits a lot.", "Dropout 0.5."]
    assert handins.mine(rio, made) is None  # a classmate has their own worksheet, not Luna's
    for other in ("run-of-rio", "elsewhere"):  # a classmate's, or one of hers trained for no assignment
        with pytest.raises(NotAllowed, match=rf"for this assignment yourself \(its Train buttons\): {other} is not"):
            handins.save(luna, made, [other], [])
    with pytest.raises(ConfigError, match="Answer 2 is longer than 5,000 characters"):
        handins.save(luna, made, [], ["fine", "x" * 5001])
    with pytest.raises(ConfigError, match="Answer 1 holds control characters"):
        handins.save(luna, made, [], ["bell\x07"])
    with pytest.raises(ConfigError, match="2 questions: give at most one answer to each"):
        handins.save(luna, made, [], ["a", "b", "c"])
    assert handins.answers_of(handins.mine(luna, made)) == ["It overfits a lot.", "Dropout 0.5."]  # refusals keep it


def test_the_classs_teacher_reads_the_hand_ins_and_to_anyone_else_the_assignment_is_unknown(people_db):
    teacher, other_teacher, classroom, outsider, luna, rio = a_class()
    made = an_assignment(teacher, classroom)
    requests.record(luna, "run-of-luna", "mnist", "{}", assignment_id=made.id)
    handed = handins.hand_in(luna, made, ["run-of-luna"], ["Yes."])
    for reader in (teacher, permissions.OWNER):
        assert [(name, row.id) for name, row in handins.of_assignment(reader, made)] == [("Luna", handed.id)]
    for nobody in (other_teacher, outsider, luna, rio, permissions.GUEST):
        unknown(lambda: handins.of_assignment(nobody, made), made)
    for stranger in (other_teacher, outsider, permissions.GUEST):
        unknown(lambda: handins.save(stranger, made, [], []), made)
        unknown(lambda: handins.hand_in(stranger, made, [], []), made)
        unknown(lambda: handins.mine(stranger, made), made)
    for nobody in (other_teacher, outsider, rio, permissions.GUEST):  # a classmate too: Luna's report is not theirs
        unknown(lambda: handins.report(nobody, handed, runs.RunStore()), made)
    with pytest.raises(NotAllowed, match="Only the class's students keep a worksheet"):
        handins.hand_in(teacher, made, [], [])


def closed(calls, sentence):
    """Each call is refused with that sentence."""
    for call in calls:
        with pytest.raises(NotAllowed) as refused:
            call()
        assert refused.value.message == sentence


def test_after_the_due_time_nothing_is_saved_handed_in_or_trained_and_what_was_handed_in_stays(people_db):
    teacher, _, classroom, _, luna, _ = a_class()
    made = an_assignment(teacher, classroom, due_at=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1))
    assert handins.hand_in(luna, made, [], ["On time."]).times == 1
    past = schema.now() - datetime.timedelta(minutes=5)
    with database.transaction() as session:
        session.execute(sa.update(schema.Assignment).where(schema.Assignment.id == made.id).values(due_at=past))
    queue = jobs.TrainingQueue(runs.RunStore())
    closed([lambda: handins.hand_in(luna, made, [], ["Late."]), lambda: handins.save(luna, made, [], ["Late draft."]),
            lambda: handins.save(luna, made, [], ["x" * 6000]),  # said before what they typed is judged
            lambda: queue.submit(TrainConfig(**TINY), who=luna, assignment=handins.training_for(made))],
           Message("handin.past_due", due=handins.when(past)))
    late = str(NotAllowed("handin.past_due", due=handins.when(past)))
    assert "has passed" in late and "UTC" in late and "trained for" in late
    kept = handins.mine(luna, made)
    assert (kept.times, handins.answers_of(kept), handins.handed_answers_of(kept)) == (1, ["On time.", ""],
                                                                                      ["On time.", ""])
    assert queue.jobs() == [] and requests.runs_asked(luna.person_id, made.id) == []  # nothing was queued


def test_once_the_private_ranking_is_out_nothing_is_saved_handed_in_or_trained(people_db):
    teacher, _, classroom, _, luna, rio = a_class()
    made = an_assignment(teacher, classroom)
    handins.hand_in(luna, made, [], ["Before."])
    leaderboard.reveal(teacher, made)
    queue = jobs.TrainingQueue(runs.RunStore())
    closed([lambda: handins.hand_in(luna, made, [], ["After."]), lambda: handins.save(luna, made, [], ["After."]),
            lambda: handins.hand_in(rio, made, [], ["Never handed in."]),
            lambda: queue.submit(TrainConfig(**TINY), who=luna, assignment=handins.training_for(made))],
           Message("handin.revealed"))
    assert "private ranking" in str(NotAllowed("handin.revealed"))
    with pytest.raises(NotAllowed, match="private ranking"):  # a reveal as the page wrote: asked again as it writes
        handins._write(luna, made.id, [], ["Written as it was revealed."], True)
    assert handins.answers_of(handins.mine(luna, made))[0] == "Before." and handins.mine(rio, made) is None
    with pytest.raises(NotAllowed, match="revealed for good"):  # the class has seen private scores: no reopening
        leaderboard.reveal(teacher, made, shown=False)
    with pytest.raises(NotAllowed, match="private ranking"):
        handins.hand_in(luna, made, [], ["After."])


def test_a_draft_saved_after_a_hand_in_changes_nothing_the_teacher_or_the_leaderboard_read(people_db, stored):
    handed_run = stored(TrainConfig(**TINY))
    draft_run, _ = runs.RunStore().get_or_train(TrainConfig(**{**TINY, "seed": 7}))
    teacher, _, classroom, _, luna, _ = a_class()
    made = an_assignment(teacher, classroom)
    with database.transaction() as session:  # nothing held back: the board ranks runs on MNIST itself
        session.execute(sa.update(schema.Assignment).where(schema.Assignment.id == made.id).values(private_share=0))
    made = assignments.get(made.code, teacher)
    for run in (handed_run, draft_run):
        requests.record(luna, run.id, "mnist", "{}", assignment_id=made.id)
    handins.hand_in(luna, made, [handed_run.id], ["Handed in.", "Dropout."])
    row = handins.save(luna, made, [draft_run.id], ["A draft since.", ""])
    assert (handins.runs_of(row), handins.answers_of(row)) == ([draft_run.id], ["A draft since.", ""])
    handed = (handins.handed_runs_of(row), handins.handed_answers_of(row))
    assert handed == ([handed_run.id], ["Handed in.", "Dropout."])
    assert row.times == 1 and handins.draft_differs(row)
    for reader in (teacher, luna):  # both read what was handed in: the teacher grades it, the student sees it
        page = handins.report(reader, row, runs.RunStore())
        assert "Handed in." in page and "A draft since." not in page
        assert handed_run.id[:8] in page and draft_run.id[:8] not in page
    assert leaderboard.best_runs(runs.RunStore(), made)[luna.person_id].id == handed_run.id
    again = handins.hand_in(luna, made, [draft_run.id], ["A draft since.", ""])
    assert handins.handed_runs_of(again) == [draft_run.id] and not handins.draft_differs(again)
    assert leaderboard.best_runs(runs.RunStore(), made)[luna.person_id].id == draft_run.id


def test_tabs_handing_in_at_the_same_moment_all_count_and_nothing_breaks(people_db):
    teacher, _, classroom, _, luna, rio = a_class()
    made = an_assignment(teacher, classroom)
    joined = [classes.join(classroom.join_code, f"Tab{i}", "127.0.0.1")[0] for i in range(3)]
    students = [luna, rio] + [permissions.Who("student", person.id, person.name, classroom.id) for person in joined]
    for student in students:  # each a new worksheet: the tabs race to make its row
        start, failed = threading.Barrier(3), []

        def tab(number, student=student, start=start, failed=failed):
            try:
                start.wait()
                handins.hand_in(student, made, [], [f"From tab {number}."])
            except Exception as error:  # what would reach the page
                failed.append(error)
        tabs = [threading.Thread(target=tab, args=(number,)) for number in range(3)]
        for thread in tabs:
            thread.start()
        for thread in tabs:
            thread.join(60)
        assert failed == []
        row = handins.mine(student, made)
        assert row.times == 3 and handins.handed_answers_of(row) == handins.answers_of(row)


def test_a_stale_tab_never_replaces_what_another_tab_saved_or_handed_in(people_db):
    """The laptop and the phone opened the worksheet before either saved (since=None); the laptop hands in; the phone,
    still showing the empty draft, is refused with when it was saved, and what was handed in stays the laptop's until
    the phone, told so, keeps its own answers (since=ANY)."""
    teacher, _, classroom, _, luna, _ = a_class()
    made = an_assignment(teacher, classroom)
    laptop = handins.hand_in(luna, made, [], ["Long answer to Q1.", ""], since=None)
    for stale in (None, laptop.saved_at - datetime.timedelta(seconds=1)):
        for action in (handins.hand_in, handins.save):
            with pytest.raises(NotAllowed) as refused:
                action(luna, made, [], ["", "Answer to Q2 typed on the phone."], since=stale)
            assert refused.value.message.key == "handin.stale"
    kept = handins.mine(luna, made)
    assert handins.handed_answers_of(kept) == handins.answers_of(kept) == ["Long answer to Q1.", ""]
    assert kept.times == 1
    again = handins.save(luna, made, [], ["Long answer to Q1, better.", ""], since=laptop.saved_at)  # its own draft
    assert handins.answers_of(again)[0] == "Long answer to Q1, better."
    phone = handins.hand_in(luna, made, [], ["", "Answer to Q2 typed on the phone."], since=handins.ANY)
    assert phone.times == 2 and handins.handed_answers_of(phone) == ["", "Answer to Q2 typed on the phone."]


def test_two_stale_tabs_saving_at_the_same_moment_write_once(people_db):
    teacher, _, classroom, _, luna, _ = a_class()
    made = an_assignment(teacher, classroom)
    opened = handins.save(luna, made, [], ["Opened."]).saved_at
    start, outcomes = threading.Barrier(3), []

    def tab(number):
        start.wait()
        try:
            handins.hand_in(luna, made, [], [f"From tab {number}."], since=opened)
            outcomes.append("written")
        except NotAllowed as error:
            outcomes.append(error.message.key)
    tabs = [threading.Thread(target=tab, args=(number,)) for number in range(3)]
    for thread in tabs:
        thread.start()
    for thread in tabs:
        thread.join(60)
    assert sorted(outcomes) == ["handin.stale", "handin.stale", "written"]
    assert handins.mine(luna, made).times == 1


def test_the_lab_report_holds_the_students_own_answers_and_their_run_never_an_automatic_answer(people_db, stored):
    run = stored(TrainConfig(**TINY))
    teacher, _, classroom, _, luna, _ = a_class()
    made = an_assignment(teacher, classroom)
    requests.record(luna, run.id, "mnist", "{}", assignment_id=made.id)
    handed = handins.hand_in(luna, made, [run.id], ["My curves part after epoch 1.", ""])
    page = handins.report(teacher, handed, runs.RunStore())
    assert "My curves part after epoch 1." in handins.report(luna, handed, runs.RunStore())  # hers to read too
    assert "Overfitting" in page and "Handed in by Luna" in page and "(1 time)" in page
    assert "My curves part after epoch 1." in page and "What would you try next?" in page and "(no answer)" in page
    assert run.id[:8] in page  # the report of the chosen run follows
    assert html.escape(assignments.questions_of(made)[0][1], quote=False) in page
    for report in experiments.REPORTS:  # no automatic answer of the course's questions, for any report
        for answer in experiments.answers(report, [run]):
            assert html.escape(answer.text, quote=False) not in page


def test_a_training_for_an_assignment_is_recorded_and_held_to_its_minutes(people_db, stored):
    run = stored(TrainConfig(**TINY))
    teacher, _, classroom, _, luna, _ = a_class()
    made = an_assignment(teacher, classroom, minutes=2)
    with database.transaction() as session:  # nothing held back: it trains on MNIST itself, so the run is stored
        session.execute(sa.update(schema.Assignment).where(schema.Assignment.id == made.id).values(private_share=0))
    made = assignments.get(made.code, teacher)
    queue = jobs.TrainingQueue(runs.RunStore())
    job = queue.submit(TrainConfig(**TINY), who=luna, assignment=handins.training_for(made))
    assert queue.wait(job, timeout=60) and job.id == run.id  # already stored: costs nothing
    assert requests.runs_asked(luna.person_id, made.id) == [run.id]
    with database.transaction() as session:
        assert session.scalar(sa.select(schema.Request.assignment_id).where(
            schema.Request.person_id == luna.person_id)) == made.id
        session.add(schema.Request(person_id=luna.person_id, class_id=classroom.id, run_id="earlier",
                                   dataset="mnist", settings="{}", seconds=119.9, assignment_id=made.id))
    longer = TrainConfig(**{**TINY, "epochs": 3, "train_size": 6000})
    with pytest.raises(NotAllowed, match=r"already trained 2 min of this assignment's 2 min"):
        queue.submit(longer, who=luna, assignment=handins.training_for(made))
    with pytest.raises(ConfigError, match="locks the optimizer to adam"):
        queue.submit(TrainConfig(**{**TINY, "optimizer": "sgd"}), who=luna, assignment=handins.training_for(made))
    assert json.loads(made.rules)["budget"]["minutes"] == 2
