"""Teachers, classes and students: made, found and signed in.

A teacher is made on the server's command line only (python -m cnnlab teacher add), so no student can claim the
role first; their password is kept as an Argon2 hash. A class gets a join code; a student joins with it and a
nickname and gets a personal code to write down (no e-mail, no password). Every failed sign-in is counted, by the
name or code tried and by the address it came from, and too many in a minute (RATE) are refused before any hash
is computed.
"""

import datetime
import os
import secrets
import threading
import time
import unicodedata

import sqlalchemy as sa

from cnnlab import storage
from cnnlab.classroom import codes, database, schema
from cnnlab.errors import SignInRefused

MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # what the sign-in form takes, and the command line: hashed whole, never longer
MAX_NAME = 40
RATE = {"tried": 10, "address": 60, "codes": 100, "teachers": 100}  # failed sign-ins allowed a minute: per code
# tried (per teacher's name and address), per address (a school behind one address has a class of students), and
# from everywhere together for personal codes and for teachers' passwords (guessing from many addresses)
COUNTING = threading.Lock()  # one sign-in attempt counted at a time in this process (check_rate)
VERIFYING = threading.BoundedSemaphore(2)  # Argon2 verifies at once (64 MiB and 0.16 s each): the rest wait
KEY_FILE = "people.key"
NAME_REFUSED = {  # what: (the sentence when it is empty, when it is too long or unprintable)
    "name": ("signin.name_missing", "signin.name_bad"), "class": ("signin.class_missing", "signin.class_bad"),
    "nickname": ("signin.nickname_missing", "signin.nickname_bad"),
}


def _hasher():
    from argon2 import PasswordHasher  # its defaults: 0.16 s a verify on 2 cores, only after the rate limit

    return PasswordHasher()


def key(session=None):
    """The key that hashes personal codes, never kept in the database: CNNLAB_SECRET_KEY (the same on every app
    server that shares a database), else one made once in $CNNLAB_HOME/people.key, readable by its owner only."""
    if os.environ.get("CNNLAB_SECRET_KEY"):
        return os.environ["CNNLAB_SECRET_KEY"]
    path = storage.home() / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = storage.temporary_sibling(path)
        descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(staged, path)  # the first process to make it wins; the others read its key
        except FileExistsError:
            pass
        finally:
            os.unlink(staged)
    return path.read_text().strip()


def name_of(typed, what="name"):
    """A name or nickname as kept: printable, trimmed, at most MAX_NAME characters; else SignInRefused."""
    text = unicodedata.normalize("NFC", " ".join(str(typed or "").split()))
    if not text:
        raise SignInRefused(NAME_REFUSED[what][0])
    if len(text) > MAX_NAME or not all(ch.isprintable() for ch in text):
        raise SignInRefused(NAME_REFUSED[what][1], most=MAX_NAME)
    return text


CLASS_SERVER_SECONDS = 5.0  # how long a page trusts "a teacher exists" before asking the database again
_class_server = {}  # database address -> (when asked, the answer): a personal lab's pages never wait for it


def is_class_server(session=None):
    """True as soon as a teacher account exists: people sign in; before that, a personal lab where the person at the
    keyboard may do everything. Without a session, the answer is kept CLASS_SERVER_SECONDS per process (a teacher
    added on the command line counts within that time)."""
    if session is not None:
        return session.scalar(sa.select(sa.func.count()).where(schema.Person.role == "teacher")) > 0
    address = database.url()
    asked, answer = _class_server.get(address, (-float("inf"), False))
    if time.monotonic() - asked > CLASS_SERVER_SECONDS:
        if not database.exists():
            answer = False  # no SQLite file yet: nobody was ever added
        else:
            with database.transaction() as session:
                answer = is_class_server(session)
        _class_server[address] = (time.monotonic(), answer)
    return answer


def add_teacher(name, password):
    """A new teacher account (from the server's command line)."""
    name = name_of(name)
    if len(password or "") < MIN_PASSWORD:
        raise SignInRefused("signin.password_short", least=MIN_PASSWORD)
    hashed = _hasher().hash(password)
    with database.transaction() as session:
        if session.scalar(sa.select(schema.Person).where(schema.Person.teacher_name == name.casefold())):
            raise SignInRefused("signin.teacher_taken", name=name)
        person = schema.Person(role="teacher", name=name, teacher_name=name.casefold(), password_hash=hashed)
        session.add(person)
    _class_server.pop(database.url(), None)  # this process knows at once
    return person


def set_password(name, password):
    """A teacher's new password (the command line); their browser sessions end."""
    if len(password or "") < MIN_PASSWORD:
        raise SignInRefused("signin.password_short", least=MIN_PASSWORD)
    with database.transaction() as session:
        person = teacher_named(session, name)
        person.password_hash = _hasher().hash(password)
        end_sessions(session, person.id)


def set_language(person_id, lang):
    """Keep the language a person chose: it is theirs on the next device they sign in on."""
    with database.transaction() as session:
        person = session.get(schema.Person, person_id)
        if person is not None:
            person.language = str(lang)[:8]


def teachers(session):
    """Every teacher of the server, by name."""
    return list(session.scalars(sa.select(schema.Person).where(schema.Person.role == "teacher")
                                .order_by(schema.Person.teacher_name)))


def teacher_named(session, name):
    person = session.scalar(sa.select(schema.Person).where(schema.Person.teacher_name == name_of(name).casefold()))
    if person is None:
        raise SignInRefused("signin.no_teacher", name=name_of(name))
    return person


def sign_in_teacher(name, password, address):
    """The teacher with that name and password, or SignInRefused (the same words for a wrong name or password)."""
    name = name_of(name)
    tried = "teacher:" + codes.digest(key(), f"{name.casefold()}\n{_address(address)}")[:48]
    attempt = check_rate(tried, address, "teachers")
    with database.transaction() as session:
        person = session.scalar(sa.select(schema.Person).where(schema.Person.teacher_name == name.casefold()))
    from argon2.exceptions import Argon2Error

    try:
        with VERIFYING:
            _hasher().verify(person.password_hash if person else _DUMMY(), (password or "")[:MAX_PASSWORD])
    except Argon2Error:
        person = None
    if person is None:
        raise SignInRefused("signin.wrong_password")
    succeeded(attempt)
    return person


def _DUMMY(made=[]):  # noqa: B006 - a hash to verify against when the name is unknown: the answer takes as long
    if not made:
        made.append(_hasher().hash(secrets.token_hex(16)))
    return made[0]


def end_sessions(session, person_id):
    session.execute(sa.update(schema.BrowserSession)
                    .where(schema.BrowserSession.person_id == person_id, schema.BrowserSession.revoked_at.is_(None))
                    .values(revoked_at=schema.now()))


def check_rate(tried, address, everywhere=None):
    """Refuse, before any hash is computed, a code or a teacher's name (and address), an address, or a kind of
    sign-in from everywhere ("codes", "teachers") that failed too often in the last minute. Else this attempt is
    counted at once, as a failure until succeeded() forgets it: attempts made in parallel cannot all slip under the
    limit while their hashes are computed (one count at a time: this process's lock, and PostgreSQL's for every
    server). Returns the attempt's id."""
    with COUNTING, database.transaction() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(sa.text("SELECT pg_advisory_xact_lock(7242020)"))
        return _count(session, tried, address, everywhere)


def _count(session, tried, address, everywhere):
    since = schema.now() - datetime.timedelta(minutes=1)
    recent = sa.select(sa.func.count()).select_from(schema.SignInAttempt).where(schema.SignInAttempt.at >= since)
    counts = {"tried": session.scalar(recent.where(schema.SignInAttempt.tried == tried)),
              "address": session.scalar(recent.where(schema.SignInAttempt.address == _address(address)))}
    if everywhere:
        prefix = {"codes": "code:", "teachers": "teacher:"}[everywhere]
        counts[everywhere] = session.scalar(recent.where(schema.SignInAttempt.tried.like(f"{prefix}%")))
    if any(counts[which] >= RATE[which] for which in counts):
        raise SignInRefused("signin.too_many", seconds=60)
    made = schema.SignInAttempt(tried=tried, address=_address(address))
    session.add(made)
    session.execute(sa.delete(schema.SignInAttempt)  # what is older than an hour counts for nothing any more
                    .where(schema.SignInAttempt.at < schema.now() - datetime.timedelta(hours=1)))
    session.flush()
    return made.id


def succeeded(attempt_id):
    """A sign-in that succeeded is not a failure: its attempt is forgotten."""
    with database.transaction() as session:
        session.execute(sa.delete(schema.SignInAttempt).where(schema.SignInAttempt.id == attempt_id))


def _address(address):
    """An address as counted: printable, at most 64 characters (it comes from the server, never from a form)."""
    return "".join(ch for ch in str(address) if ch.isprintable())[:64]
