"""An assignment's leaderboard (#32), one that cannot be gamed: students see their public score (the test accuracy of
their best run on the public part of the test set); the private score -- the same run on the part the teacher holds
back (cnnlab.data.holdout) -- is computed here only, for the class's teacher, and shown to the class only once the
teacher reveals the private ranking.

A student's entry is their best run by public score among the runs they handed in, else among every run they trained
for the assignment; only runs on the assignment's held-out copy of its starting dataset are ranked (one board per
assignment). The teacher chooses what the board shows (schema.Assignment.leaderboard): "nicknames", "anonymous"
(everyone's rank and score, nobody's name but the reader's own "you") or "off" (not a competition: no board at all).

Private scores are kept beside the runs' store, not in their records (records are exported and shown to students):
<CNNLAB_HOME>/holdout/<assignment id>.json, {"run id:version": score}, written atomically under a lock; a run is
scored once (again when it is trained again under its id). Only complete runs are ranked.
"""

import dataclasses
import json

import filelock
import numpy as np
import sqlalchemy as sa

from cnnlab import storage
from cnnlab.classroom import classes, database, permissions, requests, schema
from cnnlab.course import assignments
from cnnlab.data import datasets, holdout
from cnnlab.errors import ConfigError, NotAllowed

MODES = ("nicknames", "anonymous", "off")


@dataclasses.dataclass(frozen=True)
class Entry:
    """One student's line: their rank by public score (and by private score once revealed, else None), the name the
    reader may see (None: anonymous), the scores, whether it is the reader's own line, and the run (the teacher's
    view and the reader's own line only)."""

    rank: int
    private_rank: int | None
    name: str | None
    public: float
    private: float | None
    mine: bool
    run_id: str | None


def _scores_file(assignment_id):
    return storage.home() / "holdout" / f"{int(assignment_id)}.json"


def _read_scores(path):
    try:
        found = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in found.items() if isinstance(v, (int, float))} if isinstance(found, dict) \
        else {}


def private_score(who, run):
    """The run's accuracy on the private part of its test set (None: it was not trained on a held-out copy, or no
    local copy of its data is here); for the class's teacher or the owner only (cnnlab.data.holdout.require_scorer).
    Computed once per run: the network rebuilt from its settings and its weights loaded, never a model file."""
    parsed = holdout.parse(run.config.dataset)
    if parsed is None:
        return None
    holdout.require_scorer(who, run.config.dataset)
    path, kept = _scores_file(parsed[1]), f"{run.id}:{run.version}"  # a run trained again is scored again
    known = _read_scores(path)
    if kept in known:
        return known[kept]
    part = datasets.private_test(who, run.config.dataset, run.record.get("data", {}).get("test_fingerprint"))
    if part is None or len(part[1]) == 0:
        return None
    probabilities = run.build_model().predict(datasets.preprocess_images(part[0]), batch_size=256, verbose=0)
    score = float(np.mean(np.argmax(probabilities, axis=1) == part[1]))
    path.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(path) + ".lock"):
        known = _read_scores(path)
        known[kept] = score
        storage.write_text(path, json.dumps(known, sort_keys=True))
    return score


def _teaches(who, assignment):
    return who.role in ("owner", "teacher") and requests.may_see_class(who, assignment.class_id)


def _require_teacher(who, assignment):
    permissions.require(who, "manage")
    if not _teaches(who, assignment):
        raise NotAllowed("permission.not_your_class")


def set_mode(who, assignment, mode):
    """What the board shows: "nicknames", "anonymous" or "off" (the class's teacher or the owner)."""
    _require_teacher(who, assignment)
    if mode not in MODES:
        raise ConfigError("leaderboard.bad_mode", mode=str(mode)[:20], modes=", ".join(MODES))
    _update(assignment, leaderboard=mode)


def reveal(who, assignment, shown=True):
    """Show the class the private ranking: the class's teacher or the owner. A reveal is for good: once the class
    has seen private scores, hiding them again would reopen the assignment (cnnlab.course.handins) to students who
    know them, so asking to hide a revealed ranking is refused; hiding one never revealed changes nothing."""
    _require_teacher(who, assignment)
    with database.transaction() as session:
        row = session.get(schema.Assignment, assignment.id)
        revealed = row is not None and row.revealed_at is not None
    if shown and not revealed:
        _update(assignment, revealed_at=schema.now())
    elif not shown and revealed:
        raise NotAllowed("leaderboard.reveal_final")


def _update(assignment, **values):
    with database.transaction() as session:
        session.execute(sa.update(schema.Assignment).where(schema.Assignment.id == assignment.id).values(**values))


def _best(store, run_ids, dataset):
    """The stored run with the best public score among run_ids on the board's dataset (None: none)."""
    found = [run for run in map(store.get, dict.fromkeys(run_ids))
             if run is not None and run.complete and run.config.dataset == dataset]
    return max(found, key=lambda run: (run.test_accuracy, run.id), default=None)


def best_runs(store, assignment, dataset=None):
    """{person id: their best run} of the class's students (its roster only): among the runs they handed in (only
    those, once they handed in: a run handed in and deleted since leaves no score, never another run's), else among
    every run they trained for the assignment; only runs on `dataset` (the assignment's held-out copy of its
    starting dataset, or that dataset when it holds nothing back)."""
    from cnnlab.course import handins  # the handed-in copy, never a draft saved since

    dataset = dataset or holdout.key_for(assignment) or assignments.rules_of(assignment).dataset
    with database.transaction() as session:
        handed = {row.person_id: handins.handed_runs_of(row) for row in session.scalars(
            sa.select(schema.HandIn).where(schema.HandIn.assignment_id == assignment.id,
                                           schema.HandIn.handed_at.is_not(None)))}
        asked = {}
        for person_id, run_id in session.execute(sa.select(schema.Request.person_id, schema.Request.run_id).where(
                schema.Request.assignment_id == assignment.id).order_by(schema.Request.id)):
            asked.setdefault(person_id, []).append(run_id)
        roster = set(session.scalars(sa.select(schema.Membership.person_id).where(
            schema.Membership.class_id == assignment.class_id)))  # a request tagged from elsewhere is never ranked
    best = {}
    for person_id in (set(handed) | set(asked)) & roster:  # who handed in: what they handed in only (gone: none)
        run = _best(store, handed[person_id] if person_id in handed else asked[person_id], dataset)
        if run is not None:
            best[person_id] = run
    return best


def board(who, assignment, store, as_class=False):
    """The board as who may read it: the class's teacher (and the owner) every name, run and private score; a
    student of the class the names the teacher chose, their own run, and private scores once revealed; anyone
    else: the unknown-assignment sentence. "off": NotAllowed with "not a competition" for students. as_class: the
    teacher's board as the class may see it (the projector): names and private scores only as a student's."""
    found = assignments.get(assignment.code, who)  # to anyone outside the class: an unknown code
    teacher = _teaches(who, found) and not as_class
    if not teacher and found.leaderboard == "off":
        raise NotAllowed("leaderboard.off")
    revealed = found.revealed_at is not None
    best = best_runs(store, found)
    names = {person_id: nickname for person_id, nickname, _ in classes.roster(found.class_id)}
    scorer = who if teacher else permissions.OWNER  # a student reads private scores only once revealed (below)
    rows = []
    for person_id, run in best.items():
        private = private_score(scorer, run) if teacher or revealed else None
        rows.append((person_id, run, private))
    rows.sort(key=lambda row: (-row[1].test_accuracy, names.get(row[0], ""), row[0]))
    private_order = sorted((row for row in rows if row[2] is not None), key=lambda row: -row[2])
    private_rank = {row[0]: _rank(private_order, i, lambda r: r[2]) for i, row in enumerate(private_order)}
    out = []
    for i, (person_id, run, private) in enumerate(rows):
        mine = who.role == "student" and who.person_id == person_id
        shown = names.get(person_id) if teacher or found.leaderboard == "nicknames" or mine else None
        out.append(Entry(_rank(rows, i, lambda r: r[1].test_accuracy), private_rank.get(person_id), shown,
                         run.test_accuracy, private, mine, run.id if teacher or mine else None))
    return out


def _rank(ordered, index, score):
    """1 + how many rank strictly ahead (equal scores share a rank: 1, 2, 2, 4)."""
    value = score(ordered[index])
    return 1 + sum(1 for row in ordered[:index] if score(row) > value)
