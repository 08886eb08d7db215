"""Teachers: made on the command line, signed in with a password, and a rate limit that refuses before any hash."""

import datetime
import time

import sqlalchemy as sa
from argon2 import PasswordHasher

import pytest

from cnnlab.classroom import accounts, database, schema, sessions
from cnnlab.errors import SignInRefused

PASSWORD = "a-long-password"


def count(table):
    with database.transaction() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(table))


class CountingHasher(PasswordHasher):
    """The real Argon2 hasher, counting how often a password is verified."""

    verified = 0

    def verify(self, hash, password):
        CountingHasher.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def counting_hasher(monkeypatch):
    CountingHasher.verified = 0
    monkeypatch.setattr(accounts, "_hasher", CountingHasher)
    return CountingHasher


def test_a_teacher_is_added_with_a_hashed_password_and_signs_in(people_db):
    made = accounts.add_teacher("  Ana   María ", PASSWORD)
    assert made.name == "Ana María"  # spaces tidied, as it is shown
    with database.transaction() as session:
        stored = session.get(schema.Person, made.id)
        assert stored.role == "teacher" and PASSWORD not in stored.password_hash
        assert PasswordHasher().verify(stored.password_hash, PASSWORD)
    signed_in = accounts.sign_in_teacher("ana maría", PASSWORD, "10.0.0.1")  # the name in any case
    assert signed_in.id == made.id


def test_a_teacher_name_is_taken_whatever_its_case(people_db):
    accounts.add_teacher("Ana", PASSWORD)
    for again in ("Ana", "ANA", " ana "):
        with pytest.raises(SignInRefused) as refused:
            accounts.add_teacher(again, "another-password")
        assert refused.value.message.key == "signin.teacher_taken"
    assert count(schema.Person) == 1
    assert accounts.sign_in_teacher("Ana", PASSWORD, "10.0.0.1").name == "Ana"  # the first one's password stays


@pytest.mark.parametrize("name", ["", "   ", "x" * (accounts.MAX_NAME + 1), "Ana\x00", "Ana\x1b[31m",
                                  "Ana\u200bBea"])
def test_a_name_that_cannot_be_shown_is_refused(people_db, name):
    with pytest.raises(SignInRefused):
        accounts.add_teacher(name, PASSWORD)
    assert count(schema.Person) == 0


def test_a_short_password_is_refused_and_nobody_is_added(people_db):
    short = "x" * (accounts.MIN_PASSWORD - 1)
    for password in (short, "", None):
        with pytest.raises(SignInRefused) as refused:
            accounts.add_teacher("Ana", password)
        assert str(accounts.MIN_PASSWORD) in str(refused.value)
    assert not accounts.is_class_server()
    accounts.add_teacher("Ana", "x" * accounts.MIN_PASSWORD)  # exactly the least is enough
    assert accounts.is_class_server()


def test_a_wrong_name_and_a_wrong_password_get_the_same_sentence(people_db):
    accounts.add_teacher("Ana", PASSWORD)
    with pytest.raises(SignInRefused) as wrong_password:
        accounts.sign_in_teacher("Ana", PASSWORD + "!", "10.0.0.1")
    with pytest.raises(SignInRefused) as wrong_name:
        accounts.sign_in_teacher("Anna", PASSWORD, "10.0.0.1")
    with pytest.raises(SignInRefused) as no_password:
        accounts.sign_in_teacher("Ana", None, "10.0.0.1")
    assert str(wrong_password.value) == str(wrong_name.value) == str(no_password.value)
    assert "Anna" not in str(wrong_name.value)  # nothing says whether the name exists
    assert count(schema.SignInAttempt) == 3  # each failure is counted


def test_an_unknown_name_costs_a_verify_too(people_db, counting_hasher):
    """The answer for a name nobody has takes as long as for a wrong password: a hash is verified either way."""
    accounts.add_teacher("Ana", PASSWORD)
    with pytest.raises(SignInRefused):
        accounts.sign_in_teacher("Nobody", PASSWORD, "10.0.0.1")
    assert counting_hasher.verified == 1


def test_is_class_server_once_a_teacher_exists(people_db):
    assert accounts.is_class_server() is False
    accounts.add_teacher("Ana", PASSWORD)
    assert accounts.is_class_server() is True


def test_set_password_changes_it_and_ends_the_teachers_sessions(people_db):
    ana = accounts.add_teacher("Ana", PASSWORD)
    bea = accounts.add_teacher("Bea", PASSWORD)
    tokens = [sessions.open_session(ana.id) for _ in range(2)]
    other = sessions.open_session(bea.id)
    assert all(sessions.who(token)[0].person_id == ana.id for token in tokens)
    accounts.set_password("ANA", "a-new-password")
    assert [sessions.who(token) for token in tokens] == [(sessions.GUEST, "ended")] * 2
    assert sessions.who(other)[0].person_id == bea.id  # another teacher stays signed in
    with pytest.raises(SignInRefused):
        accounts.sign_in_teacher("Ana", PASSWORD, "10.0.0.1")
    assert accounts.sign_in_teacher("Ana", "a-new-password", "10.0.0.1").id == ana.id


def test_set_password_refuses_a_short_one_and_an_unknown_teacher(people_db):
    accounts.add_teacher("Ana", PASSWORD)
    with pytest.raises(SignInRefused):
        accounts.set_password("Ana", "short")
    with pytest.raises(SignInRefused) as unknown:
        accounts.set_password("Zoe", "a-new-password")
    assert unknown.value.message.key == "signin.no_teacher"
    assert accounts.sign_in_teacher("Ana", PASSWORD, "10.0.0.1").name == "Ana"  # unchanged


def fail(name, address, times):
    for _ in range(times):
        with pytest.raises(SignInRefused) as refused:
            accounts.sign_in_teacher(name, "not-the-password", address)
        assert refused.value.message.key == "signin.wrong_password"


def test_too_many_failures_for_a_name_from_an_address_refuse_it_there_without_verifying(people_db, counting_hasher):
    accounts.add_teacher("Ana", PASSWORD)
    for i in range(accounts.RATE["tried"]):  # a student guessing the teacher's password from their computer
        fail("ANA" if i % 2 else "ana", "10.0.1.9", 1)
    verified = counting_hasher.verified
    assert verified == accounts.RATE["tried"]

    started, outcomes = time.monotonic(), []
    for i in range(1000):  # guessing on: each is refused before any hash is computed
        try:
            accounts.sign_in_teacher("Ana", PASSWORD if i % 2 else f"guess-{i}", "10.0.1.9")
        except Exception as error:  # noqa: BLE001 - whatever it is, it must be SignInRefused
            outcomes.append(error)
    elapsed = time.monotonic() - started
    assert len(outcomes) == 1000 and all(type(error) is SignInRefused for error in outcomes)
    assert {error.message.key for error in outcomes} == {"signin.too_many"}
    assert "Too many" in str(outcomes[-1])
    assert counting_hasher.verified == verified  # not one more Argon2 verify
    assert elapsed < 60, f"1,000 refused sign-ins took {elapsed:.1f} s"
    # the teacher, at their own computer, is not locked out by what a student typed at another
    assert accounts.sign_in_teacher("Ana", PASSWORD, "10.0.1.10").name == "Ana"


def test_guessing_a_teachers_password_from_many_addresses_meets_the_limit_for_all_of_them(people_db, monkeypatch):
    monkeypatch.setitem(accounts.RATE, "teachers", 5)  # the same code, a smaller limit: fewer Argon2 verifies
    accounts.add_teacher("Ana", PASSWORD)
    for i in range(5):
        fail("Ana", f"198.51.100.{i}", 1)  # one guess from each of many addresses
    with pytest.raises(SignInRefused, match="Too many"):
        accounts.sign_in_teacher("Ana", PASSWORD, "198.51.100.99")


def test_parallel_guesses_are_counted_before_they_are_verified(people_db, monkeypatch):
    import threading

    monkeypatch.setitem(accounts.RATE, "tried", 3)
    accounts.add_teacher("Ana", PASSWORD)
    outcomes = []

    def guess(i):
        try:
            accounts.sign_in_teacher("Ana", f"guess-{i}", "10.0.3.1")
        except SignInRefused as refused:
            outcomes.append(refused.message.key)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(outcomes) == 12  # each one a sentence
    # counted as they start, not after their 0.16 s of hashing: at most a few over the limit got to be verified
    assert outcomes.count("signin.wrong_password") <= 3 + 2, outcomes


def test_too_many_failures_from_one_address_refuse_any_name_from_it(people_db, monkeypatch):
    monkeypatch.setitem(accounts.RATE, "address", 4)  # the same code, a smaller limit: fewer Argon2 verifies
    accounts.add_teacher("Ana", PASSWORD)
    for i in range(4):
        fail(f"nobody-{i}", "192.0.2.7", 1)  # each name tried once: only the address adds up
    with pytest.raises(SignInRefused, match="Too many"):
        accounts.sign_in_teacher("Ana", PASSWORD, "192.0.2.7")
    assert accounts.sign_in_teacher("Ana", PASSWORD, "192.0.2.8").name == "Ana"  # another address may


def test_one_failure_below_the_limit_still_lets_the_right_password_in(people_db, monkeypatch):
    monkeypatch.setitem(accounts.RATE, "tried", 3)  # the same code, a smaller limit: fewer Argon2 verifies
    accounts.add_teacher("Ana", PASSWORD)
    fail("Ana", "10.0.0.1", 2)
    assert accounts.sign_in_teacher("Ana", PASSWORD, "10.0.0.1").name == "Ana"


def test_failures_older_than_a_minute_do_not_count(people_db, monkeypatch):
    monkeypatch.setitem(accounts.RATE, "tried", 3)
    accounts.add_teacher("Ana", PASSWORD)
    fail("Ana", "10.0.0.1", 3)
    with pytest.raises(SignInRefused, match="Too many"):
        accounts.sign_in_teacher("Ana", PASSWORD, "10.0.0.1")
    with database.transaction() as session:  # the same failures, as if they had happened 61 seconds ago
        session.execute(sa.update(schema.SignInAttempt)
                        .values(at=schema.now() - datetime.timedelta(seconds=61)))
    assert accounts.sign_in_teacher("Ana", PASSWORD, "10.0.0.1").name == "Ana"


def test_failures_older_than_an_hour_are_forgotten_when_another_is_counted(people_db):
    accounts.add_teacher("Ana", PASSWORD)
    with database.transaction() as session:
        session.add(schema.SignInAttempt(tried="teacher:old", address="10.0.0.9",
                                         at=schema.now() - datetime.timedelta(hours=2)))
        session.add(schema.SignInAttempt(tried="teacher:recent", address="10.0.0.9",
                                         at=schema.now() - datetime.timedelta(minutes=30)))
    fail("Ana", "10.0.0.1", 1)
    with database.transaction() as session:
        kept = set(session.scalars(sa.select(schema.SignInAttempt.tried)))
    assert "teacher:old" not in kept and "teacher:recent" in kept and len(kept) == 2
