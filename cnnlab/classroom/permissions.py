"""Who may do what: the one table every page, the command line and every Ray task asks (never a hidden button).

| action                                                    | guest | student  | teacher       |
|-----------------------------------------------------------|-------|----------|---------------|
| view: public pages, runs by link, the course              | yes   | yes      | yes           |
| train: one at a time, within the class's limits           | no    | yes      | yes           |
| stop_own: stop their own request                          | no    | yes      | yes           |
| import_own: their own pictures, private to them           | no    | yes      | yes           |
| import_class: for the class, replace or delete a class     | no    | no       | yes           |
|   dataset, the CIFAR-10 archive                           |       |          |               |
| manage: stop anyone's training, move to front, prepare,   | no    | no       | yes           |
|   delete runs, set limits                                 |       |          |               |
| see_work: which student did what                          | no    | own only | their classes |

In a personal lab (no teacher account yet) the person at the keyboard is the owner and may do everything; the
server's own command line is the owner too (whoever types there runs the server).
"""

import sqlalchemy as sa

from cnnlab.classroom import database, schema
from cnnlab.errors import NotAllowed

ACTIONS = ("view", "train", "stop_own", "import_own", "import_class", "manage", "see_work")
REFUSED = {  # the sentence a refused action gets: who may do it
    "view": "permission.view", "train": "permission.train", "stop_own": "permission.stop_own",
    "import_own": "permission.import_own", "import_class": "permission.import_class", "manage": "permission.manage",
    "see_work": "permission.see_work",
}
TABLE = {
    "guest": {"view"},
    "student": {"view", "train", "stop_own", "import_own", "see_work"},
    "teacher": set(ACTIONS),
    "owner": set(ACTIONS),
}


def may(who, action):
    """True when who's role may do action (see the table above)."""
    if action not in ACTIONS:
        raise KeyError(action)
    return action in TABLE.get(who.role, set())


def require(who, action):
    """Nothing when who may do action; else NotAllowed, one sentence saying who may."""
    if not may(who, action):
        raise NotAllowed(REFUSED[action])


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
