"""The private part of an assignment's test set (#32): held back by the teacher, never shown to a student.

An assignment with a private share (schema.Assignment.private_share, 0.3) on a built-in dataset is done on its own
copy of that dataset, named `<dataset>.a<assignment id>` ("mnist.a7"): the same training images, and the test images
less a private part. The private part is drawn by the server's key (cnnlab.classroom.accounts.key, which personal
codes already hang on), the same images for every assignment of the server on that dataset: one assignment's private
images are never another's public ones. Every page, export and command that shows a test set shows the copy's: the
public part. The private part is drawn only by cnnlab.data.datasets.private_test, for the scores of the class's
teacher (cnnlab.course.leaderboard).

While an assignment's private ranking is not revealed, the class's students may not use the whole dataset (its test
set holds the private images), and neither may guests (a student signed out is a guest): cnnlab.data.ownership.
may_use. A student of another class with no such assignment still may: their class does no such assignment, and the
dataset's files are public anyway; what no page gives anyone is the split itself.

The copy's runs are keyed like any others (by its name and its content's fingerprint), so identical settings of one
assignment train once for the whole class; they never share a key with the whole dataset's runs.
"""

import dataclasses
import hashlib
import hmac
import json
import re

import numpy as np
import sqlalchemy as sa

from cnnlab.classroom import accounts, database, permissions, requests, schema
from cnnlab.errors import DatasetUnavailable, NotAllowed

KEY = re.compile(r"([a-z0-9_]+)\.a([0-9]{1,9})")
BUILT_IN = frozenset({"mnist", "fashion_mnist", "cifar10"})  # catalogue.DATASETS (a test keeps the two the same)


@dataclasses.dataclass(frozen=True)
class Split:
    """An assignment's split of a dataset's test set: which dataset and assignment, its class, title and share, and
    whether its private ranking is revealed."""

    base: str
    assignment_id: int
    class_id: int
    title: str
    share: float
    revealed: bool


def parse(name):
    """(base dataset, assignment id) of a held-out copy's name ("mnist.a7" -> ("mnist", 7); "MNIST.a07" is the same
    copy, whose name is "mnist.a7": canonical); else None."""
    found = KEY.fullmatch(str(name).lower())
    return (found.group(1), int(found.group(2))) if found else None


def canonical(name):
    """A held-out copy's one name ("mnist.a07" -> "mnist.a7"); any other name as it is."""
    parsed = parse(name)
    return f"{parsed[0]}.a{parsed[1]}" if parsed else name


def bases_of(assignment):
    """The built-in datasets an assignment lets its students train on (its rules' dataset setting: the locked one,
    the choices, or every one when free), each held out when it has a private share; [] when it has none."""
    if not assignment.private_share:
        return []
    rules = json.loads(assignment.rules)
    rule = rules.get("settings", {}).get("dataset") or {"mode": "free"}
    allowed = {"locked": [rule.get("value")], "choice": rule.get("values") or []}.get(rule.get("mode"),
                                                                                     sorted(BUILT_IN))
    found = [str(rules.get("dataset", "")).lower()] + [str(name).lower() for name in allowed]
    return [name for name in dict.fromkeys(found) if name in BUILT_IN]


def key_for(assignment, base=None):
    """The name of an assignment's held-out copy of a dataset (its starting one when none is given), or None when
    it holds nothing back there (no private share; a class's own pictures are held out by nobody)."""
    bases = bases_of(assignment)
    base = str(base).lower() if base is not None else (bases[0] if bases else None)
    return f"{base}.a{assignment.id}" if base in bases else None


def split(name):
    """The Split behind a held-out copy's name; DatasetUnavailable (unknown dataset) when there is none."""
    parsed = parse(name)
    row = None
    if parsed is not None:
        with database.transaction() as session:
            row = session.get(schema.Assignment, parsed[1])
    if row is None or key_for(row, parsed[0]) is None:
        raise DatasetUnavailable("error.dataset.unknown", name=str(name)[:80], choices="")
    return Split(parsed[0], row.id, row.class_id, row.title, float(row.private_share), row.revealed_at is not None)


def private_indices(count, held):
    """The sorted indices of the private part of a test set of `count` images under the Split `held`: a random
    round(share × count) of them, drawn by the server's key for the dataset (the same images for every assignment
    on it; the same key draws the same images on every app server sharing it: CNNLAB_SECRET_KEY)."""
    digest = hmac.new(accounts.key().encode(), f"cnnlab held-out test images {held.base} {count}".encode(),
                      hashlib.sha256).digest()
    order = np.random.default_rng(int.from_bytes(digest[:8], "big")).permutation(count)
    return np.sort(order[:round(held.share * count)])


def held_from(who, base, taught=None):
    """True when who may not use the whole `base` dataset: a student of a class, or a guest (a student signed out
    is one), while an assignment (of that class; for a guest, of any class) holds part of its test set back and its
    private ranking is not revealed. Teachers and the owner always may. taught: a dict kept across the calls of one
    listing (one question to the database per listing)."""
    if who.role in ("owner", "teacher") or (who.role == "student" and who.class_id is None):
        return False
    cache = {} if taught is None else taught
    whose = ("held", who.class_id if who.role == "student" else None)
    if whose not in cache:
        query = sa.select(schema.Assignment).where(schema.Assignment.revealed_at.is_(None),
                                                   schema.Assignment.private_share > 0)
        if who.role == "student":
            query = query.where(schema.Assignment.class_id == who.class_id)
        with database.transaction() as session:
            cache[whose] = {base for row in session.scalars(query) for base in bases_of(row)}
    return str(base).lower() in cache[whose]


def held_in_class(class_id, base):
    """True while an assignment of the class holds part of `base`'s test set back unrevealed: the private images are
    the same for every assignment on a dataset, so a network of a revealed assignment of the class that scores the
    whole test set would give away its score on a later assignment's private part (another class's students may use
    the whole dataset anyway while their own class holds nothing back: held_from)."""
    query = sa.select(schema.Assignment).where(schema.Assignment.revealed_at.is_(None),
                                               schema.Assignment.private_share > 0,
                                               schema.Assignment.class_id == class_id)
    with database.transaction() as session:
        return any(str(base).lower() in bases_of(row) for row in session.scalars(query))


def refusal(who, name):
    """Why who may not take home a run on the dataset `name` whole (a catalogue key), or None when they may. A run on
    an assignment's held-out copy goes home whole only to the class's teacher and the owner until its private ranking
    is revealed, and after that only once no other assignment of its class holds back the same dataset's test images
    (they are the same private images); its lab report (the public part only) goes home as any other's."""
    if parse(name) is None:
        return None
    try:
        held = split(name)
    except DatasetUnavailable:  # its assignment is gone: nothing says what was held back any more
        return None if who.role == "owner" else "take.held_back"
    if teaches(who, held):
        return None
    if not held.revealed:
        return "take.held_back"
    return "take.held_elsewhere" if held_in_class(held.class_id, held.base) else None


def may_use(who, name):
    """Whether who may use a held-out copy: its class's students, the class's teacher, the owner."""
    try:
        held = split(name)
    except DatasetUnavailable:
        return False
    if who.role == "owner":
        return True
    if who.role == "student":
        return who.class_id == held.class_id and who.person_id is not None
    return teaches(who, held)


def teaches(who, held):
    """True when who is the owner or the teacher of the Split's class."""
    return who.role == "owner" or (who.role == "teacher" and requests.may_see_class(who, held.class_id))


def require_scorer(who, name):
    """The Split, for the class's teacher or the owner only: only they may score runs on the private part."""
    held = split(name)
    permissions.require(who, "manage")
    if not teaches(who, held):
        raise NotAllowed("permission.not_your_class")
    return held


def names_for(who):
    """The held-out copies a menu offers who: their class's (a student), the classes they teach (a teacher), every
    one (the owner); oldest assignment first."""
    if who.role not in ("owner", "teacher", "student") or (who.role != "owner" and who.person_id is None):
        return []
    query = sa.select(schema.Assignment).where(schema.Assignment.private_share > 0).order_by(schema.Assignment.id)
    if who.role == "student":
        if who.class_id is None:
            return []
        query = query.where(schema.Assignment.class_id == who.class_id)
    elif who.role == "teacher":
        query = query.join(schema.Classroom, schema.Classroom.id == schema.Assignment.class_id).where(
            schema.Classroom.teacher_id == who.person_id)
    with database.transaction() as session:
        return [key_for(row, base) for row in session.scalars(query) for base in bases_of(row)]


def for_assignment(assignment, config):
    """(the settings the assignment's rules are held to, the settings to train): a training asked for on one of the
    assignment's datasets is trained on its held-out copy, and one asked for on the copy is checked as its base."""
    parsed = parse(config.dataset)
    if parsed is not None and parsed[1] == assignment.id and key_for(assignment, parsed[0]):
        return dataclasses.replace(config, dataset=parsed[0]), config
    key = key_for(assignment, config.dataset)
    return (config, dataclasses.replace(config, dataset=key)) if key else (config, config)


def for_assignment_id(assignment_id, config):
    """for_assignment() of the assignment with that id ((config, config) when there is none, or no id)."""
    if assignment_id is None:
        return config, config
    with database.transaction() as session:
        row = session.get(schema.Assignment, assignment_id)
    return for_assignment(row, config) if row is not None else (config, config)
