"""The leaderboard on the pages (AppTest): the teacher chooses what it shows, sees every private score, and reveals
the private ranking; the package refuses a student who tries the same (cnnlab.course.leaderboard)."""

import pytest
from test_app import all_text, page

from cnnlab import i18n, runs
from cnnlab.compute import jobs
from cnnlab.course import assignments, handins, leaderboard
from cnnlab.errors import NotAllowed
from cnnlab.training import TrainConfig

TINY = dict(architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)


@pytest.fixture
def board(sign_in):
    """A class with kiwi, an assignment on MNIST holding 30 % of its test set back, and kiwi's run for it; the pages'
    browser is the teacher's."""
    teacher = sign_in("teacher")
    student = sign_in("student")
    rules = assignments.Rules("mnist", "fast", {"dataset": {"mode": "locked", "value": "mnist"}})
    made = assignments.create(teacher, student.class_id, "Digits", rules, [{"report": "overfitting"}])
    queue = jobs.TrainingQueue(runs.RunStore())
    job = queue.submit(TrainConfig(dataset="mnist", **TINY), who=student, assignment=handins.training_for(made))
    assert queue.wait(job, timeout=600) and job.status == "done", job.error
    sign_in("teacher")
    return teacher, student, made, queue.store.get(job.id)


def test_the_teacher_sees_every_private_score_chooses_the_names_and_reveals_the_ranking(board, sign_in):
    teacher, student, made, run = board
    at = page("pages/10_Teacher.py").run()
    assert not at.exception, at.exception
    at.toggle(key=f"board_show_{made.id}").set_value(True).run()
    assert not at.exception, at.exception
    table = next(frame.value for frame in at.dataframe if "Private score" in frame.value.columns)
    assert list(table["Student"]) == ["kiwi"] and list(table["Rank"]) == [1]
    private = leaderboard.private_score(teacher, run)
    assert private is not None and table["Private score"][0] == i18n.percent(private)
    assert table["Public score"][0] == i18n.percent(run.test_accuracy)
    assert "1 student ranked" in all_text(at)

    at.radio(key=f"board_mode_{made.id}").set_value("anonymous").run()
    at.toggle(key=f"board_reveal_{made.id}").set_value(True).run()
    assert not at.exception, at.exception
    again = assignments.get(made.code, teacher)
    assert again.leaderboard == "anonymous" and again.revealed_at is not None
    with pytest.raises(NotAllowed):  # no button hidden from a student: the package refuses them
        leaderboard.reveal(student, again, shown=False)
    assert at.toggle(key=f"board_reveal_{made.id}").disabled  # for good: the package refuses hiding it again
    with pytest.raises(NotAllowed, match="revealed for good"):
        leaderboard.reveal(teacher, again, shown=False)


def test_on_the_class_page_a_student_who_handed_in_sees_their_public_score_and_the_projector_hides_names(board,
                                                                                                         sign_in):
    teacher, student, made, run = board
    sign_in("student")
    handins.hand_in(student, made, [run.id], ["It learns."])
    at = page("pages/13_Class.py").run()
    assert not at.exception, at.exception
    table = next(frame.value for frame in at.dataframe if "Public score" in frame.value.columns)
    assert list(table["Student"]) == ["kiwi (you)"] and "Private score" not in table.columns
    assert list(table["Public score"]) == [i18n.percent(run.test_accuracy)]

    sign_in("teacher")
    at = page("pages/13_Class.py").run()
    at.selectbox(key="class_view_assignment").set_value(made.id).run()
    at.toggle(key="class_view_projector").set_value(True).run()
    at.toggle(key="class_view_board").set_value(True).run()
    assert not at.exception, at.exception
    projected = " ".join(m.value for m in at.markdown)
    assert "Public score" in projected and "Private score" not in projected  # the class's view: not yet revealed
    assert "anonymous" in projected and "kiwi" not in projected
    leaderboard.reveal(teacher, made)
    at.run()
    projected = " ".join(m.value for m in at.markdown)
    assert "Private score" in projected and "anonymous" in projected and "kiwi" not in projected
