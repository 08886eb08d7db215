"""Hand-ins: a student's worksheet of an assignment (the runs they chose, their own answers), saved as they go and
handed in, again and again until the due time; the class's teacher reads them, with the lab report made from them.

A draft and what was handed in are kept apart: saving a draft never changes the handed-in copy, which is what the
teacher, the gradebook and the leaderboard read. Once the due time has passed, or the teacher has shown the class the
private ranking, the assignment is closed: nothing more is saved, handed in or trained for it.

A hand-in is a row of the people's database (cnnlab.classroom.schema.HandIn), one per student and assignment. Its
runs are runs the student asked for this assignment (cnnlab.classroom.requests), never another student's; its
answers are theirs: nothing here writes an answer for them (the report holds their words and the evidence of their
runs, never cnnlab.course.experiments.answers). To anyone but the student, the class's teacher and the owner, an
assignment and its hand-ins are unknown (the sentence assignments.get says for a code that does not exist).
"""

import dataclasses
import datetime
import json
import unicodedata

import sqlalchemy as sa
from babel import dates

from cnnlab import i18n
from cnnlab.classroom import database, requests, schema
from cnnlab.course import assignments, reports
from cnnlab.errors import ConfigError, NotAllowed
from cnnlab.i18n import t

MAX_ANSWER = 5000  # characters of one answer
MAX_RUNS = 20  # runs chosen for one hand-in


@dataclasses.dataclass(frozen=True)
class ForAssignment:
    """What TrainingQueue.submit(assignment=…) is given for a training asked for an assignment: its rules (check),
    who may train for it (admit), its id (the student's request records it) and its budget (whose minutes hold their
    trainings for it)."""

    id: int
    rules: assignments.Rules

    def check(self, config):
        self.rules.check(config)
        with database.transaction() as session:
            _require_open(session.get(schema.Assignment, self.id))

    def admit(self, who):
        """Nothing when who may train for the assignment: a student of its class, its class's teacher, the owner (a
        personal lab); to anyone else it is unknown (the sentence of a code that does not exist), so another class's
        request is never tagged with it (TrainingQueue.submit asks before anything is queued)."""
        with database.transaction() as session:
            found = session.get(schema.Assignment, self.id)
        if found is not None:
            _visible(who, found)

    @property
    def budget(self):
        return self.rules.budget


def training_for(assignment):
    """The rules a training for this assignment keeps, recorded on the request (see ForAssignment)."""
    return ForAssignment(assignment.id, assignments.rules_of(assignment))


def when(stamp, lang=None):
    """A time the database keeps (UTC, no tzinfo) the reader's way: "Dec 8, 2026 2:00 PM UTC", "8 dic 2026 14:00
    UTC"."""
    where = i18n.locale(lang or i18n.get_language())
    aware = stamp.replace(tzinfo=datetime.UTC)
    return (f"{dates.format_date(aware, 'medium', locale=where)} "
            f"{dates.format_time(aware, 'short', tzinfo=datetime.UTC, locale=where)} UTC")


def _require_open(assignment):
    """Nothing while the assignment takes work; NotAllowed once its due time has passed or its private ranking is out
    (then every score is known, and a new hand-in or training would be chosen by it)."""
    if assignment is None:
        return
    if assignment.revealed_at is not None:
        raise NotAllowed("handin.revealed")
    if assignment.due_at is not None and schema.now() > assignment.due_at:
        raise NotAllowed("handin.past_due", due=when(assignment.due_at))


# ---------------------------------------------------------------- who may read and write

def _unknown(assignment):
    return NotAllowed("assignment.unknown", code=assignment.code)


def _visible(who, assignment):
    """The assignment as the database has it now, when who may see it; else the unknown-code sentence."""
    try:
        return assignments.get(assignment.code, who)
    except NotAllowed:
        raise _unknown(assignment) from None


def _member(who, assignment):
    """The student's nickname in the assignment's class: only its students keep a worksheet."""
    found = _visible(who, assignment)
    with database.transaction() as session:
        membership = (session.get(schema.Membership, (who.person_id, found.class_id))
                      if who.role == "student" and who.person_id is not None else None)
    if membership is None:
        raise NotAllowed("handin.students_only")
    return found, membership.nickname


def may_read_all(who, assignment):
    """True when who may read every hand-in of the assignment: its class's teacher, or the owner."""
    return who.role in ("owner", "teacher") and requests.may_see_class(who, assignment.class_id)


# ---------------------------------------------------------------- a student's own worksheet

def _runs(who, assignment, runs):
    """The chosen run ids, each once, each one this student asked for this assignment (so held to its rules when
    it was asked: a run trained elsewhere with a locked setting changed is not one); else NotAllowed naming the
    first that is not."""
    chosen = list(dict.fromkeys(str(run) for run in runs or ()))
    if len(chosen) > MAX_RUNS:
        raise ConfigError("handin.too_many_runs", most=MAX_RUNS)
    theirs = set(requests.runs_asked(who.person_id, assignment.id))
    for run in chosen:
        if run not in theirs:
            raise NotAllowed("handin.not_your_run", id=run[:12])
    return chosen


def _answers(answers, questions):
    """One answer per question as kept (missing ones empty): trimmed, at most MAX_ANSWER characters, printable text
    on as many lines as the student likes; else ConfigError naming the answer."""
    given = [str(answer or "") for answer in answers or ()]
    if len(given) > len(questions):
        raise ConfigError("handin.too_many_answers", count=len(questions))
    kept = []
    for number, answer in enumerate(given + [""] * (len(questions) - len(given)), start=1):
        text = unicodedata.normalize("NFC", answer.replace("\r\n", "\n").replace("\r", "\n")).strip()
        if len(text) > MAX_ANSWER:
            raise ConfigError("handin.answer_long", number=number, most=MAX_ANSWER)
        if not all(ch.isprintable() or ch in "\n\t" for ch in text):
            raise ConfigError("handin.answer_bad", number=number)
        kept.append(text)
    return kept


ANY = object()  # save()/hand_in() since=ANY: whatever was saved meanwhile (the command line, a script)


def save(who, assignment, runs, answers, since=ANY):
    """Keep the student's draft (their chosen runs and answers) without handing it in: what they handed in stays as
    it was. The HandIn row; once the assignment is closed (see _require_open), a sentence saying why. since: the
    saved_at of the draft the student's page showed when it opened (None: nothing was saved then); when another tab
    or device saved since, nothing is written and a sentence says when (handin.stale): one tab's answers never
    silently replace another's."""
    return _keep(who, assignment, runs, answers, False, since)


def hand_in(who, assignment, runs, answers, since=ANY):
    """Hand in (again, as often as they like) until the due time: the draft is saved and becomes the handed-in copy,
    stamped and counted; once the assignment is closed, a sentence with the due time (or the ranking that is out).
    since: as for save()."""
    return _keep(who, assignment, runs, answers, True, since)


def _keep(who, assignment, runs, answers, handing_in, since):
    found, _ = _member(who, assignment)
    _require_open(found)  # at once, before what they typed is judged (_write asks again as it writes)
    kept_runs, kept_answers = _runs(who, found, runs), _answers(answers, assignments.questions_of(found))
    try:
        return _write(who, found.id, kept_runs, kept_answers, handing_in, since)
    except sa.exc.IntegrityError:  # another tab made the row at the same moment: it is there now
        if since is not ANY:  # this tab saw no draft, and now there is one: the other tab's, not to be replaced
            _stale(who, found.id)
        return _write(who, found.id, kept_runs, kept_answers, handing_in, since)


def _write(who, assignment_id, runs, answers, handing_in, since=ANY):
    """Write the draft (and, handing in, the handed-in copy) in one transaction that also asks whether the assignment
    is still open: after the write, so on SQLite it holds the write lock (a reveal cannot slip in before the commit),
    and on PostgreSQL the assignment's row is read FOR SHARE (a reveal waits for this hand-in). times counts in the
    database (times + 1), so two tabs handing in at once count twice. since (not ANY): the row is written only if its
    saved_at is still that one (one conditional UPDATE: two stale tabs cannot both pass)."""
    stamp, runs, answers = schema.now(), json.dumps(runs), json.dumps(answers, ensure_ascii=False)
    values = {"runs": runs, "answers": answers, "saved_at": stamp}
    if handing_in:
        values.update(handed_runs=runs, handed_answers=answers, handed_at=stamp, times=schema.HandIn.times + 1)
    mine = (schema.HandIn.assignment_id == assignment_id, schema.HandIn.person_id == who.person_id)
    with database.transaction() as session:
        updated = 0
        if since is ANY or since is not None:
            update = sa.update(schema.HandIn).where(*mine)
            if since is not ANY:
                update = update.where(schema.HandIn.saved_at == since)
            updated = session.execute(update.values(**values).execution_options(synchronize_session=False)).rowcount
            if not updated and since is not ANY:
                _stale(who, assignment_id, session)
        if not updated:  # the first save: two tabs at once both get here, and the second one's insert is refused
            session.execute(sa.insert(schema.HandIn).values(assignment_id=assignment_id, person_id=who.person_id,
                                                            **{**values, "times": 1 if handing_in else 0}))
        _require_open(session.scalar(sa.select(schema.Assignment).where(schema.Assignment.id == assignment_id)
                                     .with_for_update(read=True)))
        return session.scalar(sa.select(schema.HandIn).where(*mine).execution_options(populate_existing=True))


def _stale(who, assignment_id, session=None):
    """NotAllowed (handin.stale) saying when the student's draft was last saved, by another tab or device."""
    query = sa.select(schema.HandIn.saved_at).where(schema.HandIn.assignment_id == assignment_id,
                                                    schema.HandIn.person_id == who.person_id)
    if session is None:
        with database.transaction() as session:
            saved = session.scalar(query)
    else:
        saved = session.scalar(query)
    raise NotAllowed("handin.stale", when=when(saved) if saved is not None else "?")


def mine(who, assignment):
    """The student's own hand-in of the assignment (None: nothing saved yet)."""
    found, _ = _member(who, assignment)
    with database.transaction() as session:
        return session.scalar(sa.select(schema.HandIn).where(schema.HandIn.assignment_id == found.id,
                                                             schema.HandIn.person_id == who.person_id))


def runs_of(hand_in):
    return json.loads(hand_in.runs) if hand_in is not None else []


def answers_of(hand_in):
    return json.loads(hand_in.answers) if hand_in is not None else []


def handed_runs_of(hand_in):
    """The run ids of what was handed in ([]: nothing handed in yet); the draft may differ (see runs_of)."""
    return json.loads(hand_in.handed_runs) if hand_in is not None and hand_in.handed_runs else []


def handed_answers_of(hand_in):
    """The answers that were handed in ([]: nothing handed in yet); the draft may differ (see answers_of)."""
    return json.loads(hand_in.handed_answers) if hand_in is not None and hand_in.handed_answers else []


def draft_differs(hand_in):
    """True when the student saved a draft since their last hand-in that is not what they handed in."""
    return (hand_in is not None and hand_in.handed_at is not None
            and (runs_of(hand_in), answers_of(hand_in)) != (handed_runs_of(hand_in), handed_answers_of(hand_in)))


# ---------------------------------------------------------------- the teacher's side

def of_assignment(who, assignment):
    """Every hand-in of the assignment with the student's nickname, [(nickname, HandIn)] by nickname: for the class's
    teacher and the owner; to anyone else the assignment is unknown."""
    if not may_read_all(who, assignment):
        raise _unknown(assignment)
    with database.transaction() as session:
        rows = session.execute(
            sa.select(schema.Membership.nickname, schema.HandIn)
            .join(schema.Membership, sa.and_(schema.Membership.person_id == schema.HandIn.person_id,
                                             schema.Membership.class_id == assignment.class_id))
            .where(schema.HandIn.assignment_id == assignment.id).order_by(sa.func.lower(schema.Membership.nickname)))
        return [tuple(row) for row in rows]


def _readable(who, hand_in):
    """(assignment, nickname) of a hand-in that who may read: its student, the class's teacher, the owner."""
    with database.transaction() as session:
        assignment = session.get(schema.Assignment, hand_in.assignment_id)
        membership = session.get(schema.Membership, (hand_in.person_id, assignment.class_id)) if assignment else None
    if assignment is None:
        raise NotAllowed("assignment.unknown", code="")
    if not (may_read_all(who, assignment) or (who.person_id is not None and who.person_id == hand_in.person_id
                                              and who.role == "student")):
        raise _unknown(assignment)
    return assignment, membership.nickname if membership else ""


def report_blocks(who, hand_in, store):
    """The lab report of a hand-in: the assignment's title, whose it is and when it was handed in, each question with
    the student's own answer, then the report of their chosen runs (cnnlab.course.reports, without the course's
    automatic answers). Once handed in, it is the handed-in copy -- what the teacher grades, and what the student
    sees they handed in -- never a draft saved since; before, the draft, said to be one."""
    assignment, nickname = _readable(who, hand_in)
    handed = hand_in.handed_at is not None
    said = (t("handin.report_by", name=nickname, when=when(hand_in.handed_at), times=hand_in.times)
            if handed else t("handin.report_draft", name=nickname, when=when(hand_in.saved_at)))
    out = [reports.Heading(assignment.title, 1), reports.Paragraph(said), reports.Heading(t("handin.report_answers"))]
    answers, chosen = (handed_answers_of(hand_in), handed_runs_of(hand_in)) if handed else \
        (answers_of(hand_in), runs_of(hand_in))
    for number, (_, question) in enumerate(assignments.questions_of(assignment)):
        answer = answers[number] if number < len(answers) and answers[number] else t("handin.no_answer")
        out.append(reports.Written(f"**{question}**", answer))  # their words as typed (no markup of theirs)
    runs = [run for run in (store.get(run_id) for run_id in chosen) if run is not None]
    if runs:
        out += reports.blocks(runs)[1:]  # its own title gives way to the assignment's
    return out


def report(who, hand_in, store):
    """The lab report of a hand-in as one self-contained HTML page (see report_blocks)."""
    return reports.to_html(report_blocks(who, hand_in, store))
