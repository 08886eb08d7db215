"""Whose imported pictures are whose: a student's import is private to them (and their teacher) until the teacher
shares it with the class; a teacher's (or a personal lab's) import is the class's, as before.

A private dataset is stored like any other (cnnlab.data.catalogue: own/<key>/…) under a key that carries its owner
(`leaves.p12` for person 12's "leaves", so two students' "leaves" never meet), with own/<key>/owner.json saying
whose it is, in which class, and whether the teacher shared it. A dataset with no owner.json is the class's.

Every check is here, once: which datasets a menu offers (names), whether a training, a run or a link may use one
(may_use, require_use), which runs a list shows (visible_runs), how much of their quota a student has used
(check_quota), and who may share or delete one. A dataset someone may not use is "unknown" to them: its name says
nothing about another student's work.
"""

import contextlib
import json
import os

import filelock

from cnnlab import storage
from cnnlab.classroom import permissions
from cnnlab.data import catalogue, holdout
from cnnlab.errors import CnnlabError, DatasetUnavailable, NotAllowed

OWNER_FILE = "owner.json"
QUOTA_MB = 50  # a student's pictures, as stored pixels (all versions of all their datasets); CNNLAB_STUDENT_QUOTA_MB
MB = 1024 * 1024


def quota_bytes():
    """How many bytes of pixels each student may keep: CNNLAB_STUDENT_QUOTA_MB, else 50 MB."""
    try:
        megabytes = float(os.environ.get("CNNLAB_STUDENT_QUOTA_MB", QUOTA_MB))
    except ValueError:
        megabytes = QUOTA_MB
    return int(max(0.0, megabytes) * MB)


def is_private_import(who):
    """True when who's imports are their own (a student); a teacher's and the owner's are the class's."""
    return who.role == "student" and who.person_id is not None


def key_for(name, who):
    """The stored key of a dataset `name` (already checked: own_images.check_name) that who imports."""
    return f"{name}.p{who.person_id}" if is_private_import(who) else name


def owner_of(key):
    """{"person_id", "class_id", "shared", "name"} of a private dataset, or None for a class dataset (or none).

    A private key (`leaves.p12`) whose owner.json is missing or cannot be read (deleted since, damaged) stays private
    to the person its key names: never silently the class's."""
    key = str(key)
    suffix = catalogue.PRIVATE_SUFFIX.search(key)
    if suffix is None:
        return None  # a class dataset: its key names nobody
    found = _owner_file(key)
    if found is None or found["person_id"] != int(suffix.group(1)):
        return {"person_id": int(suffix.group(1)), "class_id": None, "shared": False, "name": ""}
    return found


def _owner_file(key):
    """What own/<key>/owner.json says, or None when it is missing or cannot be read."""
    try:
        found = json.loads((catalogue.own_root() / key / OWNER_FILE).read_text("utf-8"))
        return {"person_id": int(found["person_id"]), "class_id": found.get("class_id"),
                "shared": bool(found.get("shared")), "name": str(found.get("name", ""))}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def mark_owner(key, who, new_pictures=True):
    """Write owner.json for a private import (atomically; before the pictures are in place, so none is ever
    visible to the class, even for a moment). The same pictures again keep the teacher's sharing; new ones are
    private until the teacher shares them again (the teacher shared what they saw)."""
    folder = catalogue.own_root() / key
    folder.mkdir(parents=True, exist_ok=True)
    found = _owner_file(key)
    if found is None or found["person_id"] != who.person_id or (new_pictures and found["shared"]):
        storage.write_text(folder / OWNER_FILE, json.dumps({"person_id": who.person_id, "class_id": who.class_id,
                                                            "shared": False, "name": who.name}))


def may_use(who, name, taught=None):
    """True when who may see, train on, or open runs of the dataset `name` (every built-in one, every class one).
    taught: {class id: whether who teaches it}, kept across the calls of one listing (one question per class)."""
    key = str(name).lower()
    if catalogue.held_out(key):  # an assignment's copy with a private part held back: its class's
        return holdout.may_use(who, key)
    if not catalogue.is_own(key):  # a built-in dataset: not to a student whose class's assignment holds part back
        return not holdout.held_from(who, catalogue.ALIASES.get(key, key), taught)
    owner = owner_of(key)
    if owner is None or who.role == "owner":
        return True
    if who.person_id is not None and owner["person_id"] == who.person_id:
        return True
    if owner["shared"] and who.class_id is not None and who.class_id == owner["class_id"]:
        return True
    if who.role != "teacher" or owner["class_id"] is None:
        return False
    taught = {} if taught is None else taught
    if owner["class_id"] not in taught:
        from cnnlab.classroom import requests  # the database: only asked for a teacher looking at a student's import

        taught[owner["class_id"]] = requests.may_see_class(who, owner["class_id"])
    return taught[owner["class_id"]]


def require_use(who, name):
    """Nothing when who may use the dataset; else the sentence an unknown dataset gets (whose it is stays unsaid), or,
    for a built-in one an assignment holds part of back, why and what stands in for it."""
    if may_use(who, name):
        return
    key = catalogue.ALIASES.get(str(name).lower(), str(name).lower())
    if key in catalogue.DATASETS:
        usable = names(who)
        instead = stand_in(who, key, usable) if usable else None
        raise DatasetUnavailable("error.dataset.held_back", title=catalogue.DATASETS[key].title,
                                 instead=catalogue.get_info(instead).title if instead else "—")
    raise DatasetUnavailable("error.dataset.unknown", name=str(name), choices=", ".join(names(who)))


def names(who):
    """Every dataset a menu offers who: the built-in ones, then the imported ones they may use."""
    taught = {}
    return [name for name in catalogue.names() if may_use(who, name, taught)] + holdout.names_for(who)


def stand_in(who, name, usable=None):
    """The dataset a page shows who in place of `name`: itself when they may use it, else their class's held-out
    copy of it (an assignment holds part of its test set back), else the first they may use (usable: names(who))."""
    usable = names(who) if usable is None else usable
    key = catalogue.ALIASES.get(str(name).lower(), str(name).lower())
    if key in usable:
        return key
    copies = [other for other in usable if catalogue.held_out(other) == key]
    return (copies or usable)[0]


def visible_runs(runs, who):
    """The runs who may open: those on datasets they may use (a student's private pictures stay theirs)."""
    allowed, taught = {}, {}
    shown = []
    for run in runs:
        dataset = run.config.dataset
        if dataset not in allowed:
            allowed[dataset] = may_use(who, dataset, taught)
        if allowed[dataset]:
            shown.append(run)
    return shown


def _bytes_of(key):
    """The pixels a dataset's versions keep (all of them: older ones stay for the runs trained on them)."""
    total = 0
    for folder in catalogue.own_versions(key):
        info = catalogue.read_own_info(folder)
        if info is not None:
            height, width, channels = info.image_shape
            total += sum(info.full_sizes) * height * width * channels
    return total


def used_bytes(person_id):
    """How many bytes of pixels a person's private imports keep."""
    root = catalogue.own_root()
    if person_id is None or not root.is_dir():
        return 0
    suffix = f".p{person_id}"
    return sum(_bytes_of(path.name) for path in root.iterdir() if path.name.endswith(suffix)
               and (owner_of(path.name) or {}).get("person_id") == person_id)


def check_quota(who, key, pictures, shape):
    """Nothing when `pictures` more pictures of shape fit in who's quota (a re-import of the same name counts
    once more: its earlier version stays for the runs trained on it); else ImportRefused saying how much is left."""
    from cnnlab.data.uploads import ImportRefused

    if not is_private_import(who):
        return
    height, width, channels = shape
    wanted = int(pictures) * height * width * channels
    used, quota = used_bytes(who.person_id), quota_bytes()
    if used + wanted > quota:
        raise ImportRefused("error.own.quota", wanted=wanted / MB, used=used / MB, quota=quota / MB,
                            name=key.split(".p")[0])


def quota_lock(who):
    """Held while a student's import is checked against their quota and stored: two imports at once (two tabs)
    are counted one after the other, never both against the same used total. Nothing for a class import."""
    if not is_private_import(who):
        return contextlib.nullcontext()
    root = catalogue.own_root()
    root.mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(str(root / f".quota-p{who.person_id}.lock"), timeout=120)


def first_allowed(candidates, name, title):
    """The first of candidates (Who), as the database knows them now, who may train on the dataset `name` now (a
    training that waited while its pictures were made private again, or its student was removed); else CnnlabError
    with a sentence that names no one's pictures."""
    from cnnlab.classroom import sessions

    for candidate in candidates:
        now = sessions.as_now(candidate)
        if permissions.may(now, "train") and may_use(now, name):
            return now
    raise CnnlabError("error.own.no_longer_yours", name=title)


def require_delete(who, key):
    """Nothing when who may delete the imported dataset key: its owner (a student, their own), or a teacher who may
    use it; else NotAllowed."""
    owner = owner_of(key)
    if owner is not None and who.person_id is not None and owner["person_id"] == who.person_id:
        permissions.require(who, "import_own")
        return
    permissions.require(who, "import_class")
    if not may_use(who, key):
        raise NotAllowed("permission.import_class")


def share(key, shared, who):
    """A teacher shares a student's dataset with the student's class (shared=True), or makes it private again.
    Only the teacher of that class (or the owner of the server) may."""
    permissions.require(who, "import_class")
    owner = owner_of(key)
    if owner is None:
        raise DatasetUnavailable("error.own.not_private", name=str(key))
    if not may_use(who, key) or who.role == "student":
        raise NotAllowed("permission.import_class")
    storage.write_text(catalogue.own_root() / key / OWNER_FILE,
                       json.dumps({**owner, "shared": bool(shared)}))
