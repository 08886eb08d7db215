"""The class's attempts, kept up to date incrementally: one Aggregate per (database, store, class, assignment, dataset).

An attempt is a row of the requests table (who asked for which run, in which class, for which assignment); its run
is read from the run store's record (run.json: settings, test accuracy, confusion matrix), never its model. The
first look at a class reads every attempt's record once; after that, each redraw asks the database for the ids of
the attempts (one query of integers) and reads only the records of the new ones: a new run adds its sweep row and,
when it is its student's new best, takes the place of their old best in the summed confusion matrix. A redraw with
no new attempt reads no record at all.

The cache (`_AGGREGATES`, in this process, no Streamlit) is keyed by where the attempts live, and each Aggregate
remembers the set of request ids it has counted and, for each run it read, its run.json's signature (size, mtime,
inode: one stat per run on each redraw). It starts again from nothing when that set shrinks (a student was removed
with their requests) or when a run it counted is gone from the store (deleted by the teacher: its row leaves the
sweep, and its student's next best takes its place) or was written again under the same id (a stopped run trained
again: its new accuracy is counted, not its old one); an attempt whose run is not stored yet (in line, training,
stopped) is looked up again on the next redraw until it is.
"""

import collections
import os
import threading

import numpy as np
import sqlalchemy as sa

from cnnlab.classroom import database, schema

MOST_AGGREGATES = 64  # (class, assignment, dataset) kept in this process; the oldest made is dropped first
CHUNK = 500  # request ids asked for in one IN (…) clause
SETTINGS = ("architecture", "optimizer", "learning_rate", "batch_size", "dropout", "epochs", "seed", "augment",
            "train_size")


class Aggregate:
    """What one class's attempts on one dataset add up to: a row per attempt, each student's best, the sum of the
    best runs' confusion matrices (one sum per number of classes: an imported dataset may have changed its classes)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records_read = 0  # store look-ups made: what the incremental path saves
        self.reset()

    def reset(self):
        """Forget every attempt counted (the next update counts them all again)."""
        self.seen = set()  # request ids counted (or waiting for their run)
        self.rows = {}  # request id -> row (dict): the sweep
        self.waiting = {}  # request id -> (person id, nickname, run id): asked, not stored (complete) yet
        self.best = {}  # person id -> row of their highest test accuracy
        self.totals = {}  # number of classes -> summed confusion matrix of the best runs
        self.seeds = collections.defaultdict(dict)  # every setting but the seed -> {run id: test accuracy}
        self.spreads = {}  # the same, for those with several runs -> highest minus lowest accuracy
        self.signatures = {}  # run id -> its run.json's signature when its record was read

    def add(self, store, request_id, person_id, nickname, run_id):
        """Count one attempt: its run's record read once; waiting while its run is not stored and complete."""
        self.seen.add(request_id)
        self.records_read += 1
        signature = _signature(store, run_id)  # before the read: a run written again meanwhile is read again later
        run = store.get(run_id)
        if run is None or not run.complete:
            self.waiting[request_id] = (person_id, nickname, run_id)
            return
        self.waiting.pop(request_id, None)
        self.signatures[run.id] = signature
        row = _row(request_id, person_id, nickname, run)
        self.rows[request_id] = row
        self._seed(row)
        best = self.best.get(person_id)
        if best is None or row["test_accuracy"] > best["test_accuracy"]:
            if best is not None:
                self._total(best, -1)
            self.best[person_id] = row
            self._total(row, +1)

    def _seed(self, row):
        """Keep how far apart the runs that differ only in their seed are (the luck in a single run)."""
        runs = self.seeds[row["luck_key"]]
        runs[row["run_id"]] = row["test_accuracy"]
        if len(runs) > 1:
            self.spreads[row["luck_key"]] = max(runs.values()) - min(runs.values())

    def _total(self, row, sign):
        matrix = row["matrix"]
        size = len(matrix)
        total = self.totals.get(size)
        self.totals[size] = (np.zeros_like(matrix) if total is None else total) + sign * matrix

    def retry(self, store):
        """Look again for the runs of attempts that were waiting (a training that has finished since)."""
        for request_id, (person_id, nickname, run_id) in list(self.waiting.items()):
            self.add(store, request_id, person_id, nickname, run_id)

    def unchanged(self, store):
        """True while every run counted is still in the store as it was read (one stat each): none deleted, none
        written again under its id."""
        return all(_signature(store, run_id) == signature for run_id, signature in self.signatures.items())

    def networks(self):
        """(number of classes, the best rows with that many classes): the group most best runs belong to."""
        groups = collections.defaultdict(list)
        for row in self.best.values():
            groups[len(row["matrix"])].append(row)
        if not groups:
            return None, []
        size = max(groups, key=lambda n: (len(groups[n]), n))
        return size, sorted(groups[size], key=lambda row: (-row["test_accuracy"], row["request_id"]))


def _signature(store, run_id):
    """(size, mtime, inode) of a run's run.json, or None when there is none: it changes whenever the run is written."""
    try:
        stat = os.stat(store.run_path(run_id) / "run.json")
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def _row(request_id, person_id, nickname, run):
    """One attempt as the sweep shows it: its settings, its test accuracy, and what mistakes() and filters() need."""
    config = run.config
    canonical = dict(run.record.get("canonical") or config.canonical(run.variant, run.record["data"].get(
        "fingerprint")))
    canonical.pop("seed", None)
    return {
        "request_id": request_id, "person_id": person_id, "nickname": nickname, "run_id": run.id,
        "architecture": config.architecture_name, "optimizer": config.optimizer,
        "learning_rate": config.learning_rate, "batch_size": config.batch_size, "dropout": config.dropout,
        "epochs": run.record["epochs_completed"], "seed": config.seed, "augment": config.augment,
        "train_size": config.train_size, "test_accuracy": float(run.test_accuracy),
        "matrix": np.asarray(run.metrics["confusion_matrix"], np.int64),
        "fingerprint": run.record["data"].get("fingerprint"),
        "test_fingerprint": run.record["data"].get("test_fingerprint"),
        "luck_key": repr(sorted(canonical.items())),  # every setting but the seed, and the very data
    }


_AGGREGATES = {}
_LOCK = threading.Lock()


def _scope(class_id, assignment_id, dataset):
    """The WHERE of a class's attempts on a dataset (of one assignment, or all of them when assignment_id is None)."""
    where = [schema.Request.class_id == class_id, schema.Request.dataset == dataset]
    if assignment_id is not None:
        where.append(schema.Request.assignment_id == assignment_id)
    return where


def request_ids(class_id, assignment_id, dataset):
    """The ids of the class's attempts on dataset: one query of integers, every redraw."""
    with database.transaction() as session:
        return set(session.scalars(sa.select(schema.Request.id).where(*_scope(class_id, assignment_id, dataset))))


def _new_requests(ids):
    """[(request id, person id, nickname, run id)] of these requests, oldest first (nickname in their class)."""
    found = []
    ordered = sorted(ids)
    if not ordered:
        return found
    with database.transaction() as session:
        for start in range(0, len(ordered), CHUNK):
            found += session.execute(
                sa.select(schema.Request.id, schema.Request.person_id, schema.Membership.nickname,
                          schema.Request.run_id)
                .outerjoin(schema.Membership, sa.and_(schema.Membership.person_id == schema.Request.person_id,
                                                      schema.Membership.class_id == schema.Request.class_id))
                .where(schema.Request.id.in_(ordered[start:start + CHUNK]))).all()
    return sorted((tuple(row) for row in found), key=lambda row: row[0])


def datasets(class_id, assignment_id):
    """{dataset: attempts} of a class (of one assignment, or all)."""
    where = [schema.Request.class_id == class_id]
    if assignment_id is not None:
        where.append(schema.Request.assignment_id == assignment_id)
    with database.transaction() as session:
        return dict(session.execute(sa.select(schema.Request.dataset, sa.func.count())
                                    .where(*where).group_by(schema.Request.dataset)).all())


def current(store, class_id, assignment_id, dataset):
    """The Aggregate of a class's attempts on dataset, brought up to date: only new attempts' records are read."""
    ids = request_ids(class_id, assignment_id, dataset)
    key = (database.url(), str(store.root), class_id, assignment_id, dataset)
    with _LOCK:
        aggregate = _AGGREGATES.get(key)
        if aggregate is None:
            aggregate = _AGGREGATES[key] = Aggregate()
            while len(_AGGREGATES) > MOST_AGGREGATES:
                _AGGREGATES.pop(next(iter(_AGGREGATES)))
    with aggregate.lock:
        if not aggregate.seen <= ids or not aggregate.unchanged(store):  # a request gone, a run gone or written again
            aggregate.reset()
        aggregate.retry(store)
        for request_id, person_id, nickname, run_id in _new_requests(ids - aggregate.seen):
            aggregate.add(store, request_id, person_id, nickname or "", run_id)
    return aggregate


def forget():
    """Drop every aggregate (the next look counts every attempt again)."""
    with _LOCK:
        _AGGREGATES.clear()
