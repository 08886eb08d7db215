"""Notes and tags a student writes on their own requests (#33): only they write them, their teacher reads them, and
their lab report carries them under each run's title."""

import pytest

from cnnlab.classroom import accounts, classes, requests, sessions
from cnnlab.errors import NotAllowed


@pytest.fixture
def people(isolated):
    teacher = accounts.add_teacher("Ms Rivera", "a-long-password")
    classroom = classes.create(teacher.id, "CNN 2027")
    sol, mar = (classes.join(classroom.join_code, name, "127.0.0.1")[0] for name in ("Sol", "Mar"))
    return {"teacher": sessions.person(teacher.id), "sol": sessions.person(sol.id), "mar": sessions.person(mar.id)}


def test_tags_are_what_was_typed_between_commas_trimmed_bounded_and_each_once():
    assert requests.tags(" dropout,Seed   study, DROPOUT,, seed study ") == ["dropout", "Seed study"]
    assert requests.tags(",".join(f"tag {n}" for n in range(20))) == [f"tag {n}" for n in range(requests.MOST_TAGS)]
    assert requests.tags("x" * 100) == ["x" * requests.TAG_CHARACTERS] and requests.tags(None) == []


def test_only_the_student_who_asked_tags_a_request_their_teacher_reads_it_and_their_report_carries_it(people):
    sol, mar, teacher = people["sol"], people["mar"], people["teacher"]
    first = requests.record(sol, "run-a", "mnist", "{}")
    again = requests.record(sol, "run-a", "mnist", "{}")  # the same run asked for twice: one note each
    other = requests.record(sol, "run-b", "mnist", "{}")
    assert requests.set_tags(sol, first, "dropout, seed study") == ["dropout", "seed study"]
    requests.set_note(sol, first, "the dropout one")
    requests.set_note(sol, again, "the dropout one")
    for forbidden in (lambda: requests.set_tags(mar, first, "mine now"), lambda: requests.set_tags(teacher, first, "x"),
                      lambda: requests.set_tags(sessions.GUEST, first, "x")):
        with pytest.raises(NotAllowed, match="Only the student who asked for a run may write its note"):
            forbidden()
    seen = {request.id: request for request in requests.of_person(teacher, sol.person_id)}  # their teacher reads them
    assert seen[first].tags == "dropout, seed study" and seen[first].note == "the dropout one"
    with pytest.raises(NotAllowed):
        requests.of_person(mar, sol.person_id)  # a classmate does not
    assert requests.notes_of_runs(sol, ["run-a", "run-b"]) == {"run-a": ["the dropout one [dropout, seed study]",
                                                                         "the dropout one"]}
    requests.set_tags(sol, other, "baseline")
    assert requests.notes_of_runs(sol, ["run-b"]) == {"run-b": ["[baseline]"]}
    assert requests.notes_of_runs(mar, ["run-a"]) == {} and requests.notes_of_runs(sessions.GUEST, ["run-a"]) == {}
