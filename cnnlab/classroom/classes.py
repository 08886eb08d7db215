"""Classes and their students: a class's join code, joining with it, personal codes, the roster.

A student is a person with a personal code (kiwi-mango-4821) and a nickname in one class; the code alone signs them in on
any device. The database keeps only a keyed hash of the code: the teacher sees a code once, when it is made (joining,
the roster, a reset), and gives it to the student.
"""

import csv
import io

import sqlalchemy as sa

from cnnlab.classroom import accounts, codes, database, schema
from cnnlab.errors import SignInRefused

MAX_ROSTER_BYTES = 256 * 1024  # a pasted list or CSV of a class: a few kilobytes
MAX_ROSTER = 200  # students added at once
MAX_TERM = 40
MAX_MEMBERS = 400  # students in one class: a known join code cannot fill the database with made-up students
ROSTER_COLUMNS = ("nickname", "apodo", "name", "nombre")  # a CSV's column of nicknames: the first of these it has


def create(teacher_id, name, term=""):
    """A new class of the teacher's, with a fresh join code."""
    name = accounts.name_of(name, "class")
    term = " ".join("".join(ch for ch in str(term or "") if ch.isprintable() or ch.isspace()).split())[:MAX_TERM]
    with database.transaction() as session:
        if session.scalar(sa.select(schema.Classroom).where(schema.Classroom.name == name)):
            raise SignInRefused("signin.class_taken", name=name)
        taken = set(session.scalars(sa.select(schema.Classroom.join_code)))
        join = next(code for code in iter(codes.join_code, None) if code not in taken)
        made = schema.Classroom(name=name, term=term, join_code=join, teacher_id=teacher_id)
        session.add(made)
    return made


def named(session, name):
    """The class with that name, or SignInRefused."""
    found = session.scalar(sa.select(schema.Classroom).where(schema.Classroom.name == " ".join(str(name).split())))
    if found is None:
        raise SignInRefused("signin.no_class", name=name)
    return found


def of_teacher(teacher_id):
    """The teacher's classes, newest first."""
    with database.transaction() as session:
        return list(session.scalars(sa.select(schema.Classroom).where(schema.Classroom.teacher_id == teacher_id)
                                    .order_by(schema.Classroom.created_at.desc(), schema.Classroom.id.desc())))


def _new_student(session, classroom, nickname, school_account=None):
    """A student in classroom under nickname, and their personal code (shown now, kept only as a keyed hash). A school
    account (cnnlab.classroom.school) is linked to them, and its name, which the student did not choose, is made the
    class's own ("Ana López 2") rather than refused."""
    nickname = accounts.name_of(nickname, "nickname")
    members = sa.select(sa.func.count()).select_from(schema.Membership).where(schema.Membership.class_id == classroom.id)
    if session.scalar(members) >= MAX_MEMBERS:
        raise SignInRefused("signin.class_full", most=MAX_MEMBERS)
    if school_account is not None:
        nickname = _free_nickname(session, classroom, nickname)
    key = nickname.casefold()[:64]  # in Python: SQLite's lower() folds ASCII only
    if _nickname_taken(session, classroom, key):
        raise SignInRefused("signin.nickname_taken", nickname=nickname)
    secret = accounts.key()
    while True:
        code = codes.personal_code()
        digest = codes.digest(secret, code)
        if session.scalar(sa.select(schema.Person.id).where(schema.Person.code_digest == digest)) is None:
            break
    person = schema.Person(role="student", name=nickname, code_digest=digest, oidc_subject=school_account)
    session.add(person)
    session.flush()
    session.add(schema.Membership(person_id=person.id, class_id=classroom.id, nickname=nickname, nickname_key=key))
    return person, code


def _nickname_taken(session, classroom, key):
    return session.scalar(sa.select(schema.Membership.person_id).where(schema.Membership.class_id == classroom.id,
                                                                      schema.Membership.nickname_key == key))


def _free_nickname(session, classroom, nickname):
    """nickname, else "nickname 2", "nickname 3"…: the first no classmate has, at most MAX_NAME letters."""
    number, free = 1, nickname
    while _nickname_taken(session, classroom, free.casefold()[:64]):
        number += 1
        free = f"{nickname[:accounts.MAX_NAME - len(str(number)) - 1].rstrip()} {number}"
    return free


def join(join_code, nickname, address, school_account=None):
    """A student joins the class whose code they typed: (the person, their personal code). With a school account
    (cnnlab.classroom.school.subject_of), the person is linked to it."""
    typed = codes.tidy_join(join_code)
    attempt = accounts.check_rate("join:" + codes.digest(accounts.key(), typed)[:48], address)
    try:
        with database.transaction() as session:
            classroom = session.scalar(sa.select(schema.Classroom).where(schema.Classroom.join_code == typed)) \
                if typed else None
            made = _new_student(session, classroom, nickname, school_account) \
                if classroom is not None and classroom.open else None
    except sa.exc.IntegrityError:  # a classmate took the same nickname at the same moment
        accounts.succeeded(attempt)
        raise SignInRefused("signin.nickname_taken", nickname=accounts.name_of(nickname, "nickname")) from None
    except SignInRefused:  # a nickname taken, empty or too long: the code was right, no failed sign-in
        accounts.succeeded(attempt)
        raise
    if made is None:
        raise SignInRefused("signin.class_closed" if classroom is not None else "signin.wrong_join_code")
    accounts.succeeded(attempt)
    return made


def sign_in(personal_code, address):
    """The student whose personal code was typed, or SignInRefused."""
    typed = codes.tidy_personal(personal_code)
    digest = codes.digest(accounts.key(), typed)
    attempt = accounts.check_rate("code:" + digest[:48], address, "codes")
    with database.transaction() as session:
        person = session.scalar(sa.select(schema.Person).where(schema.Person.code_digest == digest)) \
            if codes.PERSONAL.match(typed) else None
    if person is None:
        raise SignInRefused("signin.wrong_code")
    accounts.succeeded(attempt)
    return person


def add_students(class_id, nicknames):
    """Students made at once from a roster: [(nickname, personal code)], in the roster's order. All or none: a
    nickname taken (in the class or twice in the list) refuses the whole roster with its name."""
    try:
        with database.transaction() as session:
            classroom = session.get(schema.Classroom, class_id)
            if classroom is None:
                raise SignInRefused("signin.no_class", name=str(class_id))
            return [(person.name, code) for person, code in
                    (_new_student(session, classroom, nickname) for nickname in nicknames)]
    except sa.exc.IntegrityError:  # a student joined under one of these nicknames at the same moment
        raise SignInRefused("signin.roster_race") from None


def reset_code(class_id, person_id):
    """A student's new personal code (the old one stops working, their browser sessions end)."""
    with database.transaction() as session:
        person = _member(session, class_id, person_id)
        secret = accounts.key()
        code = codes.personal_code()
        while session.scalar(sa.select(schema.Person.id).where(schema.Person.code_digest == codes.digest(secret, code))):
            code = codes.personal_code()
        person.code_digest = codes.digest(secret, code)
        accounts.end_sessions(session, person.id)
        return code


def check_member(class_id, person_id):
    """Nothing when the person is a student of the class; else SignInRefused."""
    with database.transaction() as session:
        _member(session, class_id, person_id)


def _member(session, class_id, person_id):
    found = session.get(schema.Membership, (person_id, class_id))
    if found is None:
        raise SignInRefused("signin.not_in_class")
    return session.get(schema.Person, person_id)


def roster(class_id):
    """The class's students: [(person id, nickname, joined at)], by nickname."""
    with database.transaction() as session:
        rows = session.execute(sa.select(schema.Membership.person_id, schema.Membership.nickname,
                                         schema.Membership.joined_at)
                               .where(schema.Membership.class_id == class_id)
                               .order_by(sa.func.lower(schema.Membership.nickname)))
        return [tuple(row) for row in rows]


def parse_roster(text):
    """Nicknames from a pasted list (one a line) or a CSV (its column named nickname, else name, else the first):
    bounded before it is read."""
    if isinstance(text, bytes):
        if len(text) > MAX_ROSTER_BYTES:
            raise SignInRefused("signin.roster_big", most_kb=MAX_ROSTER_BYTES // 1024)
        text = text.decode("utf-8-sig", errors="replace")
    if len(text) > MAX_ROSTER_BYTES:
        raise SignInRefused("signin.roster_big", most_kb=MAX_ROSTER_BYTES // 1024)
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    column = next((header.index(name) for name in ROSTER_COLUMNS if name in header), None)
    if column is None:
        column = 0
    else:
        rows = rows[1:]
    names = [row[column].strip() for row in rows if len(row) > column and row[column].strip()]
    if not names:
        raise SignInRefused("signin.roster_empty")
    if len(names) > MAX_ROSTER:
        raise SignInRefused("signin.roster_long", most=MAX_ROSTER)
    return names
