"""Who asked for which run: kept per person, seen by themselves and their teacher only, counted against a budget."""

import datetime

import sqlalchemy as sa

import pytest

from cnnlab.classroom import accounts, classes, database, requests, schema, sessions
from cnnlab.errors import NotAllowed

ADDRESS = "10.0.0.1"


@pytest.fixture
def school(people_db):
    """Two teachers, each with a class: Ana's 5A (Luna, Sol) and Bea's 5B (Mar). {name: Who} and the class ids."""
    ana, bea = (accounts.add_teacher(name, "a-long-password") for name in ("Ana", "Bea"))
    first, second = classes.create(ana.id, "5A"), classes.create(bea.id, "5B")
    ids = {"Ana": ana.id, "Bea": bea.id}
    for made, nicknames in ((first, ("Luna", "Sol")), (second, ("Mar",))):
        for nickname in nicknames:
            ids[nickname] = classes.join(made.join_code, nickname, ADDRESS)[0].id
    people = {name: sessions.person(person_id) for name, person_id in ids.items()}
    return people, {"5A": first.id, "5B": second.id}


def ask(who, run_id, note=""):
    return requests.record(who, run_id, "mnist", '{"epochs": 1}', note)


def set_budget(class_id, minutes):
    with database.transaction() as session:
        session.get(schema.Classroom, class_id).minutes_per_day = minutes


# who may see whose work


@pytest.mark.parametrize("viewer, seen, allowed", [
    ("Luna", "Luna", True), ("Luna", "Sol", False), ("Luna", "Mar", False), ("Luna", "Ana", False),
    ("Ana", "Luna", True), ("Ana", "Sol", True), ("Ana", "Mar", False), ("Ana", "Bea", False), ("Ana", "Ana", True),
    ("Bea", "Mar", True), ("Bea", "Luna", False),
])
def test_may_see_themselves_and_the_students_of_their_classes(school, viewer, seen, allowed):
    people, _ = school
    assert requests.may_see(people[viewer], people[seen].person_id) is allowed
    if allowed:
        requests.require_see(people[viewer], people[seen].person_id)
    else:
        with pytest.raises(NotAllowed, match="teacher of their class"):
            requests.require_see(people[viewer], people[seen].person_id)


def test_the_owner_sees_everyone_and_a_guest_nobody(school):
    people, _ = school
    for person in people.values():
        assert requests.may_see(sessions.OWNER, person.person_id)
        assert not requests.may_see(sessions.GUEST, person.person_id)
    assert not requests.may_see(sessions.GUEST, None)  # a guest is not "themselves" of nobody


def test_a_teacher_sees_a_student_of_theirs_who_is_in_another_class_too(school):
    people, class_ids = school
    with database.transaction() as session:  # Mar also takes Ana's 5A, under another nickname
        session.add(schema.Membership(person_id=people["Mar"].person_id, class_id=class_ids["5A"], nickname="Marea",
                                      nickname_key="marea"))
    assert requests.may_see(people["Ana"], people["Mar"].person_id)


@pytest.mark.parametrize("viewer, class_name, allowed", [
    ("Ana", "5A", True), ("Ana", "5B", False), ("Bea", "5B", True), ("Luna", "5A", False), ("Mar", "5A", False),
])
def test_may_see_class_is_its_teacher_only(school, viewer, class_name, allowed):
    people, class_ids = school
    assert requests.may_see_class(people[viewer], class_ids[class_name]) is allowed


def test_may_see_class_for_the_owner_a_guest_and_no_such_class(school):
    people, class_ids = school
    assert requests.may_see_class(sessions.OWNER, class_ids["5B"])
    assert not requests.may_see_class(sessions.GUEST, class_ids["5A"])
    assert not requests.may_see_class(people["Ana"], max(class_ids.values()) + 100)


# what was asked


def test_record_keeps_who_asked_from_which_class_newest_first(school):
    people, class_ids = school
    first = ask(people["Luna"], "run-1", note="my first")
    second = ask(people["Luna"], "run-2")
    ask(people["Sol"], "run-1")
    mine = requests.of_person(people["Luna"], people["Luna"].person_id)
    assert [r.id for r in mine] == [second, first]
    assert [r.run_id for r in mine] == ["run-2", "run-1"] and mine[1].note == "my first"
    assert {r.class_id for r in mine} == {class_ids["5A"]} and {r.person_id for r in mine} == {people["Luna"].person_id}
    assert mine[0].settings == '{"epochs": 1}' and mine[0].seconds == 0


def test_nobody_is_recorded_for_a_guest_or_the_owner(school):
    assert ask(sessions.GUEST, "run-1") is None and ask(sessions.OWNER, "run-1") is None
    with database.transaction() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(schema.Request)) == 0


def test_a_long_note_is_cut(school):
    people, _ = school
    ask(people["Luna"], "run-1", note="x" * 10_000)
    assert len(requests.of_person(people["Luna"], people["Luna"].person_id)[0].note) == 2000


def test_a_note_with_a_nul_is_kept_without_it(school):
    people, _ = school  # PostgreSQL refuses a NUL in a text: record() drops it on both databases
    ask(people["Luna"], "run-1", note="a\x00b")
    assert requests.of_person(people["Luna"], people["Luna"].person_id)[0].note == "ab"


def test_a_student_writes_the_note_of_their_own_request_and_nobody_elses(school):
    people, class_ids = school
    mine, theirs = ask(people["Luna"], "run-1"), ask(people["Sol"], "run-2")
    assert requests.set_note(people["Luna"], mine, "  dropout 0.5: less overfitting\x00 ") == "dropout 0.5: less overfitting"
    for who, request_id in ((people["Luna"], theirs), (people["Ana"], mine), (sessions.GUEST, mine),
                            (people["Luna"], 987654)):  # a classmate's, their teacher's pen, a guest, none
        with pytest.raises(NotAllowed, match="Only the student who asked"):
            requests.set_note(who, request_id, "mine now")
    assert requests.set_note(people["Luna"], mine, "y" * 5000) == "y" * requests.NOTE_CHARACTERS
    teacher_reads = {request.id: request.note for _, request in requests.of_class(people["Ana"], class_ids["5A"])}
    assert teacher_reads == {mine: "y" * requests.NOTE_CHARACTERS, theirs: ""}


def test_a_student_cannot_read_a_classmates_requests_nor_a_teacher_another_class(school):
    people, class_ids = school
    ask(people["Sol"], "run-1")
    ask(people["Mar"], "run-2")
    with pytest.raises(NotAllowed):
        requests.of_person(people["Luna"], people["Sol"].person_id)
    with pytest.raises(NotAllowed):
        requests.of_person(people["Bea"], people["Sol"].person_id)
    with pytest.raises(NotAllowed):
        requests.of_class(people["Bea"], class_ids["5A"])
    with pytest.raises(NotAllowed):
        requests.of_class(people["Sol"], class_ids["5A"])
    assert [r.run_id for r in requests.of_person(people["Ana"], people["Sol"].person_id)] == ["run-1"]
    assert [r.run_id for r in requests.of_person(sessions.OWNER, people["Mar"].person_id)] == ["run-2"]


def test_of_class_lists_the_classs_requests_with_nicknames_newest_first(school):
    people, class_ids = school
    made = [ask(people[name], f"run-{i}") for i, name in enumerate(["Luna", "Sol", "Luna"])]
    ask(people["Mar"], "run-other")  # another class
    ask(people["Ana"], "run-teacher")  # the teacher's own: no class
    rows = requests.of_class(people["Ana"], class_ids["5A"])
    assert [(nickname, r.id) for nickname, r in rows] == list(zip(["Luna", "Sol", "Luna"], made))[::-1]
    assert [r.run_id for _, r in requests.of_class(people["Bea"], class_ids["5B"])] == ["run-other"]
    assert [r.run_id for _, r in requests.of_class(sessions.OWNER, class_ids["5A"])] == ["run-2", "run-1", "run-0"]


# training time and the class's budget


def test_charge_adds_up_and_seconds_today_counts_today_only(school):
    people, _ = school
    luna = people["Luna"]
    first, second = ask(luna, "run-1"), ask(luna, "run-2")
    requests.charge(first, 30)
    requests.charge(first, 12.5)
    requests.charge(second, 7)
    requests.charge(None, 1000)  # a run already stored costs nothing
    ask(people["Sol"], "run-3")
    assert requests.seconds_today(luna.person_id) == pytest.approx(49.5)
    assert requests.seconds_today(people["Sol"].person_id) == 0
    midnight = schema.now().replace(hour=0, minute=0, second=0, microsecond=0)
    with database.transaction() as session:  # the first was asked just before midnight: yesterday's
        session.get(schema.Request, first).asked_at = midnight - datetime.timedelta(seconds=1)
    assert requests.seconds_today(luna.person_id) == pytest.approx(7)


def test_budget_left_is_the_class_minutes_less_todays_training(school):
    people, class_ids = school
    luna, sol = people["Luna"], people["Sol"]
    assert requests.budget_left(luna) is None  # no budget set
    requests.require_budget(luna)
    set_budget(class_ids["5A"], 2)
    assert requests.budget_left(luna) == pytest.approx(120)
    asked = ask(luna, "run-1")
    requests.charge(asked, 90)
    assert requests.budget_left(luna) == pytest.approx(30)
    requests.require_budget(luna)  # time left: nothing said
    requests.charge(asked, 45)
    assert requests.budget_left(luna) == 0  # never below
    assert requests.budget_left(sol) == pytest.approx(120)  # a classmate's own budget
    requests.require_budget(sol)
    assert requests.budget_left(people["Ana"]) is None and requests.budget_left(sessions.OWNER) is None
    assert requests.budget_left(people["Mar"]) is None  # another class, without a budget


def test_require_budget_refuses_a_spent_budget_saying_when_it_comes_back(school):
    people, class_ids = school
    set_budget(class_ids["5A"], 1)
    requests.charge(ask(people["Luna"], "run-1"), 60)
    with pytest.raises(NotAllowed) as refused:
        requests.require_budget(people["Luna"])
    now = schema.now()
    until_midnight = ((now + datetime.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
                      - now).total_seconds() / 3600
    hours = refused.value.message.params["hours"]
    assert 1 <= hours <= 24 and abs(hours - max(1, until_midnight)) <= 0.51
    assert f"{hours} hour" in str(refused.value)
    set_budget(class_ids["5A"], 3)  # the teacher gives more time: training may go on
    requests.require_budget(people["Luna"])
