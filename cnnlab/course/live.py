"""The live class: one row per student of a class, what they are doing now, for the teacher's page while it is open.

A student is not started (nothing asked for yet), in line (their place in the queue), training (epoch k of n),
finished, stopped (a training they, or the teacher, stopped before or while it trained: not a failure), failed (the
training's reason, worded), or idle for N minutes (finished, and nothing asked for since); with their best test
accuracy so far (for an assignment, the run its leaderboard ranks: cnnlab.course.leaderboard.best_runs), whether they
handed in the assignment, and what makes them stuck: a failed training, no training STUCK_MINUTES into the lab, a
diverging run (its loss not a number, or rising epoch on epoch).

The lab starts when the teacher opens the live view (the page keeps that time and passes it as lab_start); rows()
called without one takes the assignment's creation, and without an assignment no student is flagged for not training.
With an assignment, only the trainings asked for it count.

Built for a class of 40 with thousands of attempts redrawn every few seconds: one query for the class's students, one
for their requests, one for the assignment's hand-ins (and the leaderboard's few), never one per student; each run's record read through the run
store (which keeps records it read until their file changes), never a model. Trainings in flight come from the
in-memory queue (cnnlab.compute.jobs.TrainingQueue): a request's run is queued or training there until it is stored.
"""

import dataclasses
import datetime
import math

import sqlalchemy as sa

from cnnlab.classroom import database, requests, schema
from cnnlab.course import leaderboard
from cnnlab.errors import CnnlabError, NotAllowed
from cnnlab.i18n import Message

STUCK_MINUTES = 10  # no training this long into the lab: stuck
IDLE_MINUTES = 5  # finished this long ago, and nothing asked for since: idle
RISING_EPOCHS = 3  # the training loss rising over this many epochs in a row (two rises): diverging
STATES = ("not_started", "in_line", "training", "finished", "stopped", "failed", "idle")
FLAGS = {"failed": "live.flag.failed", "no_training": "live.flag.no_training",  # catalogue keys
         "diverging": "live.flag.diverging"}


@dataclasses.dataclass(frozen=True)
class Row:
    """One student of the class, as the live view shows them."""

    person_id: int
    nickname: str
    state: str  # one of STATES
    said: Message  # the state in words: "training (epoch 3 of 10)", "failed: …"
    run_id: str | None  # the run to open: the one in line or training, else their latest
    best_accuracy: float | None  # their best stored run's test accuracy (None: no run stored yet); for an
    # assignment, the run its leaderboard ranks (complete, on the assignment's copy of its data)
    best_run: str | None
    handed_in: bool | None  # None: no assignment
    flags: tuple = ()  # of FLAGS: why they look stuck (empty: they do not)

    @property
    def stuck(self):
        return bool(self.flags)

    def flags_said(self):
        """The flags in words, for the table: "a training failed; a diverging run"."""
        return [Message(FLAGS[flag], minutes=STUCK_MINUTES) for flag in self.flags]


def rows(who, class_id, assignment=None, queue=None, store=None, now=None, lab_start=None):
    """[Row] for every student of the class, by nickname; only its teacher or the owner may read them.

    assignment: a schema.Assignment of the class (only its trainings count; hand-ins are read); queue: the
    TrainingQueue (None: nothing in flight); store: the RunStore (None: no accuracy); now: UTC without tzinfo."""
    if not requests.may_see_class(who, class_id):
        raise NotAllowed("live.refused")
    if assignment is not None and assignment.class_id != class_id:
        raise NotAllowed("live.refused")
    now = now or schema.now()
    students, asked, handed = _read(class_id, assignment)
    start = _lab_start(assignment, lab_start)
    records = _records(store, {run_id for runs, _ in asked.values() for run_id in runs})
    board = None if assignment is None or store is None else leaderboard.best_runs(store, assignment)
    found = []
    for person_id, nickname in students:
        runs, times = asked.get(person_id, ((), ()))
        row = _row(person_id, nickname, runs, times, records, queue, now, start,
                   None if assignment is None else person_id in handed)
        if board is not None:  # the board's rule: the same best run, the same score
            best = board.get(person_id)
            row = dataclasses.replace(row, best_accuracy=best.test_accuracy if best else None,
                                      best_run=best.id if best else None)
        found.append(row)
    return found


def _read(class_id, assignment):
    """(students [(person id, nickname)] by nickname, {person id: (run ids, asked at)} newest first, {person ids
    who handed in}): three queries, whatever the class's size."""
    asked_for = sa.select(schema.Request.person_id, schema.Request.run_id, schema.Request.asked_at).where(
        schema.Request.class_id == class_id)
    if assignment is not None:
        asked_for = asked_for.where(schema.Request.assignment_id == assignment.id)
    with database.transaction() as session:
        students = [tuple(row) for row in session.execute(
            sa.select(schema.Membership.person_id, schema.Membership.nickname)
            .where(schema.Membership.class_id == class_id).order_by(schema.Membership.nickname_key))]
        lists = {}
        for person_id, run_id, asked_at in session.execute(
                asked_for.order_by(schema.Request.asked_at.desc(), schema.Request.id.desc())):
            runs, times = lists.setdefault(person_id, ([], []))
            runs.append(run_id)
            times.append(asked_at)
        handed = set() if assignment is None else set(session.scalars(
            sa.select(schema.HandIn.person_id).where(schema.HandIn.assignment_id == assignment.id,
                                                     schema.HandIn.handed_at.is_not(None))))
    return students, lists, handed


def _lab_start(assignment, lab_start):
    """When the lab started: the later of the teacher's opening of the live view and the assignment's creation."""
    made = assignment.created_at if assignment is not None else None
    starts = [time for time in (made, lab_start) if time is not None]
    return max(starts) if starts else None


def _records(store, run_ids):
    """{run id: its stored record} (a run not stored, or damaged, is left out); records only, never a model."""
    if store is None:
        return {}
    found = {}
    for run_id in run_ids:
        try:
            run = store.get(run_id)
        except CnnlabError:  # an id that is not one: nothing stored under it
            run = None
        if run is not None:
            found[run_id] = run.record
    return found


def _row(person_id, nickname, runs, times, records, queue, now, start, handed_in):
    """One student's Row from their requests (newest first), the stored records and the queue."""
    best = max((run_id for run_id in set(runs) if _accuracy(records.get(run_id)) is not None),
               key=lambda run_id: _accuracy(records[run_id]), default=None)
    state, said, history = _state(runs, times, records, queue, now)
    flags = []
    if state == "failed":
        flags.append("failed")
    late = start is not None and now - start >= datetime.timedelta(minutes=STUCK_MINUTES)
    if late and not any(asked_at >= start for asked_at in times):
        flags.append("no_training")
    if _diverging(history):
        flags.append("diverging")
    return Row(person_id, nickname, state, said, runs[0] if runs else None,
               _accuracy(records.get(best)) if best else None, best, handed_in, tuple(flags))


def _state(runs, times, records, queue, now):
    """(state, its words, the latest run's loss history so far) from the student's latest request."""
    if not runs:
        return "not_started", Message("live.state.not_started"), {}
    latest = runs[0]
    job = queue.get(latest) if queue is not None else None
    if job is not None and job.status == "failed" and job.stop_requested:  # stopped before it began, or its first
        return "stopped", Message("live.state.stopped"), dict(job.history)  # epoch ended: nothing kept, no failure
    if job is not None and job.status == "queued":
        return "in_line", Message("live.state.in_line", position=queue.position(job) or 1), {}
    if job is not None and job.status == "running":
        return "training", Message("live.state.training", done=job.epochs_done, epochs=job.config.epochs), \
            dict(job.history)
    record = records.get(latest)
    if record is None:
        reason = job.error if job is not None and job.status == "failed" and job.error else Message("live.lost")
        return "failed", Message("live.state.failed", reason=reason), {}
    if record.get("status") == "stopped":  # stopped while it trained: the epochs it finished are kept
        return "stopped", Message("live.state.stopped"), record.get("history") or {}
    ended = max(times[0], _created(record))
    idle = int((now - ended).total_seconds() // 60)
    if idle >= IDLE_MINUTES:
        return "idle", Message("live.state.idle", minutes=idle), record.get("history") or {}
    return "finished", Message("live.state.finished"), record.get("history") or {}


def _created(record):
    """When a run was stored, as UTC without tzinfo (like the database's times)."""
    try:
        made = datetime.datetime.fromisoformat(record["created"])
    except (KeyError, TypeError, ValueError):
        return datetime.datetime.min
    return made.astimezone(datetime.UTC).replace(tzinfo=None) if made.tzinfo else made


def _accuracy(record):
    value = (record or {}).get("metrics", {}).get("test_accuracy")
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _diverging(history):
    """True when the training loss is not a number, or rose over the last RISING_EPOCHS epochs in a row."""
    losses = [float("nan") if value is None else value for value in history.get("loss", [])]
    if any(not math.isfinite(value) for value in losses):
        return True
    last = losses[-RISING_EPOCHS:]
    return len(last) == RISING_EPOCHS and all(after > before for before, after in zip(last, last[1:]))
