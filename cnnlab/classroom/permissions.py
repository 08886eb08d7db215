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

Who may see which student's work is asked of the database: cnnlab.classroom.requests.may_see. This module needs
none, so every layer may ask it.

In a personal lab (no teacher account yet) the person at the keyboard is the owner and may do everything; the
server's own command line is the owner too (whoever types there runs the server).
"""

import dataclasses

from cnnlab.errors import NotAllowed

@dataclasses.dataclass(frozen=True)
class Who:
    """Who is asking: a guest, a student, a teacher, or the owner of a personal lab (and the server's command line).

    What every check here decides on; pages, the command line and Ray tasks pass it along (it is plain data)."""

    role: str  # "guest" | "student" | "teacher" | "owner"
    person_id: int | None = None
    name: str = ""
    class_id: int | None = None  # a student's class
    session_id: str | None = None
    class_name: str = ""
    language: str | None = None  # the language they last chose (it follows them to another device)

    @property
    def key(self):
        """The name this person has in the training queue (one place in line each, whatever the browser)."""
        return f"person:{self.person_id}" if self.person_id is not None else None


OWNER = Who("owner")
GUEST = Who("guest")
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
