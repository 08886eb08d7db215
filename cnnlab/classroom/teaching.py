"""What a teacher does to their classes, each action checked here: only the class's own teacher may (a teacher of
another class may not, a student never). The Teacher page and the command line both come through these."""

import sqlalchemy as sa

from cnnlab.classroom import classes, database, permissions, requests, schema, sessions
from cnnlab.errors import NotAllowed

MAX_MINUTES_PER_DAY = 24 * 60


def _theirs(who, class_id):
    """The class, if who is its teacher (or the owner); else NotAllowed."""
    permissions.require(who, "manage")
    with database.transaction() as session:
        found = session.get(schema.Classroom, class_id)
    if found is None or (who.role != "owner" and found.teacher_id != who.person_id):
        raise NotAllowed("permission.not_your_class")
    return found


def create_class(who, name, term=""):
    """A new class of this teacher's."""
    permissions.require(who, "manage")
    if who.person_id is None:
        raise NotAllowed("permission.class_needs_teacher")
    return classes.create(who.person_id, name, term)


def add_roster(who, class_id, text):
    """Students from a pasted list or a CSV's bytes: [(nickname, personal code)] (all or none)."""
    _theirs(who, class_id)
    return classes.add_students(class_id, classes.parse_roster(text))


def reset_code(who, class_id, person_id):
    """A student's new personal code; the old one and their browser sessions end."""
    _theirs(who, class_id)
    return classes.reset_code(class_id, person_id)


def sign_out_student(who, class_id, person_id):
    """End every browser session of a student of the class (a shared computer left signed in)."""
    _theirs(who, class_id)
    classes.check_member(class_id, person_id)
    sessions.end_all(person_id)


def set_limits(who, class_id, minutes_per_day=None, open_=None):
    """The class's daily training minutes per student (None: no limit) and whether it takes new students."""
    _theirs(who, class_id)
    if minutes_per_day is not None and not 0 <= int(minutes_per_day) <= MAX_MINUTES_PER_DAY:
        raise NotAllowed("permission.minutes_range", most=MAX_MINUTES_PER_DAY)
    with database.transaction() as session:
        found = session.get(schema.Classroom, class_id)
        found.minutes_per_day = None if minutes_per_day is None else int(minutes_per_day)
        if open_ is not None:
            found.open = bool(open_)


def overview(who, class_id):
    """The class's students for its teacher: [{person_id, nickname, joined_at, requests, seconds_today}]."""
    _theirs(who, class_id)
    midnight = schema.now().replace(hour=0, minute=0, second=0, microsecond=0)
    today = sa.case((schema.Request.asked_at >= midnight, schema.Request.seconds), else_=0.0)
    with database.transaction() as session:
        rows = session.execute(
            sa.select(schema.Membership.person_id, schema.Membership.nickname, schema.Membership.joined_at,
                      sa.func.count(schema.Request.id), sa.func.coalesce(sa.func.sum(today), 0.0))
            .outerjoin(schema.Request, sa.and_(schema.Request.person_id == schema.Membership.person_id,
                                               schema.Request.class_id == schema.Membership.class_id))
            .where(schema.Membership.class_id == class_id)
            .group_by(schema.Membership.person_id, schema.Membership.nickname, schema.Membership.joined_at)
            .order_by(sa.func.lower(schema.Membership.nickname)))
        return [{"person_id": person_id, "nickname": nickname, "joined_at": joined, "requests": count,
                 "seconds_today": float(seconds)} for person_id, nickname, joined, count, seconds in rows]


def work(who, class_id, limit=2000):
    """Which student asked for which run: [(nickname, Request)], newest first."""
    _theirs(who, class_id)
    return requests.of_class(who, class_id, limit)
