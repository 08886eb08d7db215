"""Who asked for which run: the personal side of shared runs.

Identical settings still train once and the run store keeps one copy; each request for it is a row here (who, when,
from which class, their note, the training time it cost them), so "My runs" lists a student's, the teacher sees each
student's, and a day's training minutes can be counted against the class's budget.
"""

import datetime
import math

import sqlalchemy as sa

from cnnlab.classroom import database, schema
from cnnlab.errors import NotAllowed


def may_see(who, person_id):
    """True when who may see what that person did: themselves; a teacher, the students of their classes; the owner,
    everyone."""
    if who.role == "owner" or (who.person_id is not None and who.person_id == person_id):
        return True
    if who.role != "teacher":
        return False
    with database.transaction() as session:
        return session.scalar(
            sa.select(sa.func.count()).select_from(schema.Membership)
            .join(schema.Classroom, schema.Classroom.id == schema.Membership.class_id)
            .where(schema.Membership.person_id == person_id, schema.Classroom.teacher_id == who.person_id)) > 0


def require_see(who, person_id):
    if not may_see(who, person_id):
        raise NotAllowed("permission.see_other")


def may_see_class(who, class_id):
    """True when who may see a class's work: its teacher (or the owner)."""
    if who.role == "owner":
        return True
    if who.role != "teacher":
        return False
    with database.transaction() as session:
        found = session.get(schema.Classroom, class_id)
        return found is not None and found.teacher_id == who.person_id


def record(who, run_id, dataset, settings, note="", assignment_id=None):
    """Keep who asked for run_id (nothing for guests and the owner of a personal lab, who are nobody), and for which
    assignment (None: for none)."""
    if who.person_id is None:
        return None
    with database.transaction() as session:
        made = schema.Request(person_id=who.person_id, class_id=who.class_id, run_id=run_id, dataset=dataset,
                              settings=settings, note=str(note or "").replace("\x00", "")[:2000],
                              assignment_id=assignment_id)
        session.add(made)
    return made.id


NOTE_CHARACTERS = 500
TAG_CHARACTERS, MOST_TAGS = 30, 8


def _own(session, who, request_id):
    """The request, if it is who's own (only the person who asked writes its note and tags); else NotAllowed."""
    found = session.get(schema.Request, int(request_id))
    if found is None or who.person_id is None or found.person_id != who.person_id:
        raise NotAllowed("permission.note_own")
    return found


def set_note(who, request_id, note):
    """A student's note on one of their own requests ("the dropout one", "why did it overfit?"): only the person who
    asked writes it (their teacher reads it). Bounded to NOTE_CHARACTERS; returns the note kept."""
    note = str(note or "").replace("\x00", "").strip()[:NOTE_CHARACTERS]
    with database.transaction() as session:
        _own(session, who, request_id).note = note
    return note


def tags(text):
    """The tags in a text, as typed between commas ("dropout, Seed study,dropout" -> ["dropout", "Seed study"]): each
    trimmed to TAG_CHARACTERS, spaces collapsed, a repeat (in any case) dropped, at most MOST_TAGS."""
    found = {}
    for part in str(text or "").replace("\x00", "").split(","):
        tag = " ".join(part.split())[:TAG_CHARACTERS].strip()
        if tag:
            found.setdefault(tag.casefold(), tag)
    return list(found.values())[:MOST_TAGS]


def set_tags(who, request_id, text):
    """A student's tags on one of their own requests, as typed between commas (see tags); returns the tags kept."""
    kept = tags(text)
    with database.transaction() as session:
        _own(session, who, request_id).tags = ", ".join(kept)
    return kept


def notes_of_runs(who, run_ids):
    """{run id: ["note [tag, tag]", …]}: what who wrote on their own requests for these runs (for their lab report;
    nothing for someone who is nobody: a guest, a personal lab's owner)."""
    if who.person_id is None:
        return {}
    with database.transaction() as session:
        found = session.scalars(sa.select(schema.Request).where(schema.Request.person_id == who.person_id,
                                                                schema.Request.run_id.in_(list(run_ids)))
                                .order_by(schema.Request.asked_at, schema.Request.id))
        written = {}
        for request in found:
            text = " ".join(part for part in (request.note, f"[{request.tags}]" if request.tags else "") if part)
            if text and text not in written.setdefault(request.run_id, []):
                written[request.run_id].append(text)
    return written


def charge(request_id, seconds):
    """Add the training time a request cost (its share of a training that ran for it)."""
    if request_id is None:
        return
    with database.transaction() as session:
        session.execute(sa.update(schema.Request).where(schema.Request.id == request_id)
                        .values(seconds=schema.Request.seconds + float(seconds)))


def of_person(who, person_id, limit=500):
    """A person's requests, newest first, if who may see them (themselves, their teacher, the owner)."""
    require_see(who, person_id)
    with database.transaction() as session:
        return list(session.scalars(sa.select(schema.Request).where(schema.Request.person_id == person_id)
                                    .order_by(schema.Request.asked_at.desc(), schema.Request.id.desc()).limit(limit)))


def of_class(who, class_id, limit=5000):
    """A class's requests with the nickname of who asked: [(nickname, Request)], newest first (its teacher only)."""
    if not may_see_class(who, class_id):
        raise NotAllowed("permission.see_other")
    with database.transaction() as session:
        rows = session.execute(
            sa.select(schema.Membership.nickname, schema.Request)
            .join(schema.Membership, sa.and_(schema.Membership.person_id == schema.Request.person_id,
                                             schema.Membership.class_id == schema.Request.class_id))
            .where(schema.Request.class_id == class_id)
            .order_by(schema.Request.asked_at.desc(), schema.Request.id.desc()).limit(limit))
        return [tuple(row) for row in rows]


def last_run(person_id):
    """The run of a person's newest request (None: they asked for nothing yet)."""
    with database.transaction() as session:
        return session.scalar(sa.select(schema.Request.run_id).where(schema.Request.person_id == person_id)
                              .order_by(schema.Request.asked_at.desc(), schema.Request.id.desc()).limit(1))


def seconds_today(person_id):
    """The training time a person's requests cost since midnight (UTC)."""
    midnight = schema.now().replace(hour=0, minute=0, second=0, microsecond=0)
    with database.transaction() as session:
        return float(session.scalar(sa.select(sa.func.coalesce(sa.func.sum(schema.Request.seconds), 0.0))
                                    .where(schema.Request.person_id == person_id,
                                           schema.Request.asked_at >= midnight)))


def budget_left(who):
    """Seconds of training a student has left today under their class's budget; None: no budget (teachers, the
    owner, a class without one)."""
    if who.role != "student" or who.class_id is None:
        return None
    with database.transaction() as session:
        classroom = session.get(schema.Classroom, who.class_id)
        minutes = classroom.minutes_per_day if classroom else None
    if minutes is None:
        return None
    return max(0.0, minutes * 60 - seconds_today(who.person_id))


def require_time_left(who, seconds):
    """Nothing when a training's estimate fits in what is left of a student's time today (or there is no budget);
    else NotAllowed saying both, so a student with two minutes left does not start a half-hour training."""
    left = budget_left(who)
    if left is not None and seconds > left:
        raise NotAllowed("permission.budget_short", needs=max(1, math.ceil(seconds / 60)), left=int(left // 60))


def require_budget(who):
    """Nothing while the student has training time left today; else NotAllowed saying when it comes back."""
    left = budget_left(who)
    if left is not None and left <= 0:
        tomorrow = (schema.now() + datetime.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        raise NotAllowed("permission.budget_spent",
                         hours=max(1, round((tomorrow - schema.now()).total_seconds() / 3600)))


# ---------------------------------------------------------------- an assignment's trainings

def runs_asked(person_id, assignment_id=None):
    """The run ids a person asked for, newest first (each once): all of them, or those asked for one assignment."""
    query = sa.select(schema.Request.run_id).where(schema.Request.person_id == person_id)
    if assignment_id is not None:
        query = query.where(schema.Request.assignment_id == assignment_id)
    with database.transaction() as session:
        found = session.scalars(query.order_by(schema.Request.asked_at.desc(), schema.Request.id.desc()))
        return list(dict.fromkeys(found))


def seconds_for(person_id, assignment_id):
    """The training time a person's requests for one assignment cost so far."""
    with database.transaction() as session:
        return float(session.scalar(sa.select(sa.func.coalesce(sa.func.sum(schema.Request.seconds), 0.0))
                                    .where(schema.Request.person_id == person_id,
                                           schema.Request.assignment_id == assignment_id)))


def require_assignment_time(who, assignment_id, minutes, seconds):
    """Nothing when the time a student already spent training for an assignment plus this training's estimate stays
    within the assignment's minutes (or it has none); else NotAllowed saying both numbers and the budget."""
    if minutes is None or assignment_id is None or who.person_id is None:
        return
    spent = seconds_for(who.person_id, assignment_id)
    if spent + seconds > minutes * 60:
        raise NotAllowed("worksheet.minutes_short", needs=max(1, math.ceil(seconds / 60)),
                         spent=math.ceil(spent / 60), most=minutes)
