"""The database's tables, as SQLAlchemy 2 classes: one row per person, class, browser session, request, attempt,
assignment.

A change here is a migration in migrations/versions/ too (python -m cnnlab db upgrade applies it); a test compares
the two, so neither moves without the other.
"""

import datetime

import sqlalchemy as sa
from sqlalchemy import orm


def now():
    """The time rows are stamped with: UTC, without tzinfo (SQLite and PostgreSQL store the same thing)."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class Base(orm.DeclarativeBase):
    pass


class Person(Base):
    """A teacher (a sign-in name and an Argon2 password hash) or a student (a personal code, kept as a keyed hash)."""

    __tablename__ = "people"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    role: orm.Mapped[str] = orm.mapped_column(sa.String(16))  # "teacher" | "student"
    name: orm.Mapped[str] = orm.mapped_column(sa.String(64))  # what others read: a teacher's name, a nickname
    teacher_name: orm.Mapped[str | None] = orm.mapped_column(sa.String(64), unique=True)  # teachers sign in by it
    password_hash: orm.Mapped[str | None] = orm.mapped_column(sa.String(256))  # teachers
    code_digest: orm.Mapped[str | None] = orm.mapped_column(sa.String(64), unique=True)  # students
    oidc_subject: orm.Mapped[str | None] = orm.mapped_column(sa.String(256), unique=True)  # signed in by a school
    language: orm.Mapped[str | None] = orm.mapped_column(sa.String(8))  # the last one they chose, on any device
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(default=now)


class Membership(Base):
    """A student in a class, under a nickname no classmate has."""

    __tablename__ = "memberships"
    __table_args__ = (sa.UniqueConstraint("class_id", "nickname_key", name="uq_memberships_class_nickname"),)
    person_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    class_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True)
    nickname: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    nickname_key: orm.Mapped[str] = orm.mapped_column(sa.String(64))  # casefolded: "Ana" and "ana" are one
    joined_at: orm.Mapped[datetime.datetime] = orm.mapped_column(default=now)


class Classroom(Base):
    """A class a teacher runs: its name and term, the join code students type, its limits."""

    __tablename__ = "classes"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(80), unique=True)
    term: orm.Mapped[str] = orm.mapped_column(sa.String(40), default="")
    join_code: orm.Mapped[str] = orm.mapped_column(sa.String(16), unique=True)
    teacher_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("people.id", ondelete="CASCADE"), index=True)
    minutes_per_day: orm.Mapped[int | None] = orm.mapped_column()  # each student's training budget; None: no limit
    open: orm.Mapped[bool] = orm.mapped_column(default=True)  # students may join with the code
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(default=now)


class BrowserSession(Base):
    """One signed-in browser: the cookie holds `<id>.<secret>`; here only the secret's SHA-256 is kept.

    A page cannot set a cookie: it makes the session with a one-time ticket (60 s), and the browser takes the ticket to
    the server's /api/session route, which gives the cookie its token (ticket_digest is then emptied)."""

    __tablename__ = "sessions"
    id: orm.Mapped[str] = orm.mapped_column(sa.String(32), primary_key=True)
    person_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("people.id", ondelete="CASCADE"), index=True)
    secret_digest: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(default=now)
    expires_at: orm.Mapped[datetime.datetime] = orm.mapped_column()
    revoked_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column()
    ticket_digest: orm.Mapped[str | None] = orm.mapped_column(sa.String(64), unique=True)
    ticket_expires_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column()


class Request(Base):
    """Who asked for which run, when, from which class, with their note and tags. The run itself stays in the run
    store."""

    __tablename__ = "requests"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    person_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("people.id", ondelete="CASCADE"), index=True)
    class_id: orm.Mapped[int | None] = orm.mapped_column(sa.ForeignKey("classes.id", ondelete="SET NULL"), index=True)
    run_id: orm.Mapped[str] = orm.mapped_column(sa.String(64), index=True)
    dataset: orm.Mapped[str] = orm.mapped_column(sa.String(80))
    settings: orm.Mapped[str] = orm.mapped_column(sa.Text)  # the TrainConfig's canonical JSON
    note: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")
    tags: orm.Mapped[str] = orm.mapped_column(sa.Text, default="", server_default="")  # "dropout, seed study"
    asked_at: orm.Mapped[datetime.datetime] = orm.mapped_column(default=now, index=True)
    seconds: orm.Mapped[float] = orm.mapped_column(default=0.0)  # training time it cost (0: already stored)
    assignment_id: orm.Mapped[int | None] = orm.mapped_column(
        sa.ForeignKey("assignments.id", ondelete="SET NULL", name="fk_requests_assignment_id"), index=True)


class SignInAttempt(Base):
    """A failed sign-in, by the name or code tried and the address it came from (the rate limit counts these)."""

    __tablename__ = "sign_in_attempts"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    tried: orm.Mapped[str] = orm.mapped_column(sa.String(64), index=True)  # a digest, never the code itself
    address: orm.Mapped[str] = orm.mapped_column(sa.String(64), index=True)
    at: orm.Mapped[datetime.datetime] = orm.mapped_column(default=now, index=True)


class Assignment(Base):
    """Work a teacher hands out to a class: its link code, its rules (which settings students may change, the budget),
    its questions and its due time; the private part of its test set is cnnlab.data.holdout's (private_share)."""

    __tablename__ = "assignments"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    class_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    code: orm.Mapped[str] = orm.mapped_column(sa.String(16), unique=True)  # the link's: random, unguessable
    title: orm.Mapped[str] = orm.mapped_column(sa.String(120))
    report: orm.Mapped[str | None] = orm.mapped_column(sa.String(1))  # the course report it was made from (A–E)
    rules: orm.Mapped[str] = orm.mapped_column(sa.Text)  # cnnlab.course.assignments.Rules, canonical JSON
    questions: orm.Mapped[str] = orm.mapped_column(sa.Text)  # JSON: the report's question keys, or the teacher's
    due_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column()  # UTC, like now(); None: no due time
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(default=now)
    leaderboard: orm.Mapped[str] = orm.mapped_column(sa.String(16), default="nicknames")  # | "anonymous" | "off"
    private_share: orm.Mapped[float] = orm.mapped_column(default=0.3)  # of the test set, held back by the teacher
    revealed_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column()  # the private ranking shown; None: not yet


class HandIn(Base):
    """A student's worksheet of an assignment: the draft (runs: the runs they chose, a JSON list of run ids; answers:
    a JSON list, one per question), saved as they go, and the copy they last handed in (handed_runs, handed_answers:
    None until they hand in), which drafts never change; handed_at is the last hand-in (None: not handed in), times
    how many."""

    __tablename__ = "hand_ins"
    __table_args__ = (sa.UniqueConstraint("assignment_id", "person_id", name="uq_hand_ins_assignment_person"),)
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    assignment_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("assignments.id", ondelete="CASCADE"),
                                                       index=True)
    person_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey("people.id", ondelete="CASCADE"), index=True)
    runs: orm.Mapped[str] = orm.mapped_column(sa.Text, default="[]")
    answers: orm.Mapped[str] = orm.mapped_column(sa.Text, default="[]")
    saved_at: orm.Mapped[datetime.datetime] = orm.mapped_column(default=now)
    handed_runs: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    handed_answers: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    handed_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column()
    times: orm.Mapped[int] = orm.mapped_column(default=0)
