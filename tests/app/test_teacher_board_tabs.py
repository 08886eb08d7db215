"""The board's controls on the Teacher page change the database only when the teacher changes them: two tabs of the
same teacher (two AppTest sessions), the older one's rerun shows the newer one's reveal and leaves it alone."""

from test_app import page

from cnnlab.course import assignments


def test_an_older_tabs_rerun_does_not_undo_a_newer_tabs_reveal(sign_in):
    teacher = sign_in("teacher")
    student = sign_in("student")
    rules = assignments.Rules("mnist", "fast", {"dataset": {"mode": "locked", "value": "mnist"}})
    made = assignments.create(teacher, student.class_id, "Digits", rules, [{"report": "overfitting"}])
    sign_in("teacher")
    older, newer = page("pages/10_Teacher.py").run(), page("pages/10_Teacher.py").run()
    assert not older.exception and not newer.exception, (older.exception, newer.exception)
    assert older.toggle(key=f"board_reveal_{made.id}").value is False

    newer.toggle(key=f"board_reveal_{made.id}").set_value(True).run()
    newer.radio(key=f"board_mode_{made.id}").set_value("off").run()
    assert not newer.exception, newer.exception
    older.run()  # the older tab reruns (any click on it): its controls still hold the old values
    assert not older.exception, older.exception
    again = assignments.get(made.code, teacher)
    assert again.revealed_at is not None and again.leaderboard == "off"
    assert older.toggle(key=f"board_reveal_{made.id}").value is True  # it shows the board as it is now
    assert older.radio(key=f"board_mode_{made.id}").value == "off"

    assert older.toggle(key=f"board_reveal_{made.id}").disabled  # a reveal is for good (leaderboard.reveal)

    older.radio(key=f"board_mode_{made.id}").set_value("anonymous").run()  # a change made in the older tab is made
    assert not older.exception, older.exception
    assert assignments.get(made.code, teacher).leaderboard == "anonymous"
    assert assignments.get(made.code, teacher).revealed_at is not None
    newer.run()
    assert newer.radio(key=f"board_mode_{made.id}").value == "anonymous"
    assert newer.toggle(key=f"board_reveal_{made.id}").value is True
