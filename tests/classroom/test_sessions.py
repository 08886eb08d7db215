"""A signed-in browser's token: who it signs in, and GUEST with a reason (never an exception) for any other text."""

import datetime

import sqlalchemy as sa

import pytest

from cnnlab.classroom import accounts, classes, database, schema, sessions

ADDRESS = "10.0.0.1"


@pytest.fixture
def people(people_db):
    """A teacher and two students of the teacher's class: {"teacher": id, "luna": id, "sol": id, "class": id}."""
    teacher = accounts.add_teacher("Ana", "a-long-password")
    made = classes.create(teacher.id, "5A")
    luna, sol = (classes.join(made.join_code, nickname, ADDRESS)[0] for nickname in ("Luna", "Sol"))
    return {"teacher": teacher.id, "luna": luna.id, "sol": sol.id, "class": made.id}


def test_a_token_signs_in_its_person_with_their_role_and_class(people):
    student, teacher = sessions.open_session(people["luna"]), sessions.open_session(people["teacher"])
    who, reason = sessions.who(student)
    assert reason is None
    assert (who.role, who.person_id, who.name, who.class_id) == ("student", people["luna"], "Luna", people["class"])
    assert who.session_id == student.split(".")[0] and who.key == f"person:{people['luna']}"
    who, reason = sessions.who(teacher)
    assert reason is None and (who.role, who.person_id, who.name, who.class_id) == ("teacher", people["teacher"],
                                                                                    "Ana", None)
    assert sessions.who(student)[0] == sessions.who(student)[0]  # asked again, the same answer


def test_tokens_are_random_and_only_a_digest_of_their_secret_is_kept(people):
    tokens = [sessions.open_session(people["luna"]) for _ in range(3)]
    assert len(set(tokens)) == 3
    with database.transaction() as session:
        rows = list(session.scalars(sa.select(schema.BrowserSession)))
    stored = " ".join(f"{row.id} {row.secret_digest}" for row in rows)
    assert all(token.split(".", 1)[1] not in stored for token in tokens)


def one_changed(text, where):
    return text[:where] + ("A" if text[where] != "A" else "B") + text[where + 1:]


def tampered(token):
    """Tokens a browser might send instead of the one it was given."""
    session_id, secret = token.split(".", 1)
    return [
        one_changed(token, 0), one_changed(token, 31), one_changed(token, 33), one_changed(token, len(token) - 1),
        session_id, session_id + ".", session_id + "." + secret[:-1], token + "x", token[::-1], "." + secret,
        session_id.upper() + "." + secret, f"{session_id}.{secret}.{secret}", "garbage", ".", "..", "x" * 32 + ".y",
        "\x00" * 40, "é" * 32 + "." + secret, "' OR 1=1 --" + " " * 21 + "." + secret, "A" * 10_000_000,
        session_id + "." + "A" * 10_000_000, 12345,
    ]


def test_a_tampered_token_is_a_guest_and_never_an_exception(people):
    token = sessions.open_session(people["luna"])
    for sent in tampered(token):
        assert sessions.who(sent) == (sessions.GUEST, "tampered"), repr(sent)[:80]
    assert sessions.who(token)[0].person_id == people["luna"]  # the real one still works


def test_a_token_with_a_nul_character_is_a_guest_too(people):
    token = sessions.open_session(people["luna"])
    session_id, secret = token.split(".", 1)
    for sent in ("\x00" * 32 + "." + secret, session_id[:-1] + "\x00." + secret):
        assert sessions.who(sent) == (sessions.GUEST, "tampered")


@pytest.mark.parametrize("nothing", ["", None])
def test_no_token_is_a_guest_with_no_reason(people_db, nothing):
    assert sessions.who(nothing) == (sessions.GUEST, None)


def test_a_token_past_its_expiry_is_expired(people):
    token, other = sessions.open_session(people["luna"]), sessions.open_session(people["luna"])
    with database.transaction() as session:
        session.get(schema.BrowserSession, token.split(".")[0]).expires_at = schema.now() - datetime.timedelta(
            seconds=1)
    assert sessions.who(token) == (sessions.GUEST, "expired")
    assert sessions.who(other)[0].person_id == people["luna"]


def test_a_new_token_expires_after_the_days_it_was_opened_for(people):
    token = sessions.open_session(people["luna"], days=2)
    with database.transaction() as session:
        found = session.get(schema.BrowserSession, token.split(".")[0])
        left = found.expires_at - schema.now()
    assert datetime.timedelta(days=2) - datetime.timedelta(minutes=1) < left <= datetime.timedelta(days=2)


def test_close_ends_that_token_only(people):
    token, other_browser = sessions.open_session(people["luna"]), sessions.open_session(people["luna"])
    sessions.close(token)
    assert sessions.who(token) == (sessions.GUEST, "ended")
    assert sessions.who(other_browser)[0].person_id == people["luna"]
    for nonsense in (None, "", "garbage", "A" * 10_000_000):  # signing out with a bad cookie is no error
        sessions.close(nonsense)
    assert sessions.who(other_browser)[0].person_id == people["luna"]


def test_ended_wins_over_expired(people):
    token = sessions.open_session(people["luna"])
    sessions.close(token)
    with database.transaction() as session:
        session.get(schema.BrowserSession, token.split(".")[0]).expires_at = schema.now() - datetime.timedelta(days=1)
    assert sessions.who(token) == (sessions.GUEST, "ended")


def test_end_all_ends_every_browser_of_that_person_only(people):
    lunas = [sessions.open_session(people["luna"]) for _ in range(3)]
    sols = sessions.open_session(people["sol"])
    sessions.end_all(people["luna"])
    assert [sessions.who(token)[1] for token in lunas] == ["ended"] * 3
    assert sessions.who(sols)[0].person_id == people["sol"]
    later = sessions.open_session(people["luna"])  # signing in again works
    assert sessions.who(later)[0].person_id == people["luna"]


def test_a_token_whose_session_row_is_gone_signs_nobody_in(people):
    token = sessions.open_session(people["luna"])
    with database.transaction() as session:
        session.execute(sa.delete(schema.BrowserSession))
    assert sessions.who(token) == (sessions.GUEST, "tampered")


def test_a_removed_person_takes_their_sessions_along(people):
    token = sessions.open_session(people["sol"])
    with database.transaction() as session:
        session.delete(session.get(schema.Person, people["sol"]))
    assert sessions.who(token) == (sessions.GUEST, "tampered")


def test_a_token_from_another_database_signs_nobody_in(people, tmp_path, monkeypatch):
    token = sessions.open_session(people["luna"])
    monkeypatch.delenv("CNNLAB_DATABASE_URL", raising=False)
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "another_server"))  # a fresh SQLite database
    teacher = accounts.add_teacher("Ana", "a-long-password")
    made = classes.create(teacher.id, "5A")
    for nickname in ("Luna", "Sol"):  # the same people, with the same ids, on another server
        classes.join(made.join_code, nickname, ADDRESS)
    assert sessions.who(token) == (sessions.GUEST, "tampered")


def test_person_is_who_without_a_session(people):
    who = sessions.person(people["sol"])
    assert (who.role, who.name, who.class_id, who.session_id) == ("student", "Sol", people["class"], None)
    assert sessions.OWNER.role == "owner" and sessions.OWNER.key is None and sessions.GUEST.key is None
