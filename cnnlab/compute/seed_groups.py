"""A repeat with more seeds: the seeds of one settings group are one request in the queue, trained one after the other.

Runs that differ only in their seed are a group (cnnlab.course.comparisons.group_of). The queue allows a student one
training at a time (jobs.TrainingQueue: a second, different one raises AlreadyQueued), and a group is that one
training: its first seed is queued now, and each next one joins the end of the line when the one before it is done.
So a student repeating with four seeds holds one place in line, never four places ahead of a classmate, and asking for
something else while the group trains is refused as any second training is (or replaces it, when they say so).

In every other way each seed is a training of its own: identical settings (a classmate's, a seed already stored)
still train once, and each seed is its own request in the database, charged its own time against the class's budget
and an assignment's minutes (compute.accounting). The whole group's estimate must fit in the time the student has left
before its first seed is queued, and each seed is asked again (who may train, the time left) when its turn comes.

A group ends early, with `error` saying why, when its student leaves one of its seeds (Stop, or another training in
its place), a seed fails, or the next seed is refused.
"""

import dataclasses
import logging
import threading
import time

from cnnlab import runs
from cnnlab.classroom import permissions
from cnnlab.classroom import requests as asked
from cnnlab.compute import accounting
from cnnlab.data import datasets, holdout, ownership
from cnnlab.errors import CnnlabError
from cnnlab.i18n import Message
from cnnlab.runs import estimates

log = logging.getLogger(__name__)
CHOICES = (2, 4)  # how many more seeds the pages offer


@dataclasses.dataclass(eq=False)
class SeedGroup:
    """A student's repeat: each seed's settings in training order, and the queue's Job of each seed asked so far."""

    configs: list  # TrainConfig per seed
    student: str | None  # their name in the queue (None: the command line, a test)
    who: object = permissions.OWNER
    dataset: object = dataclasses.field(default=None, repr=False)  # until the last seed is queued
    assignment: object = None
    requested_by: str | None = None
    origin: str | None = None  # the run it repeats
    jobs: list = dataclasses.field(default_factory=list)
    error: object = None  # why it ended early (a Message, or the failed seed's error)
    _lock: object = dataclasses.field(default_factory=threading.Lock, repr=False)

    @property
    def seeds(self):
        return [config.seed for config in self.configs]

    @property
    def run_ids(self):
        """The run id of each seed queued so far."""
        return [job.id for job in self.jobs]

    @property
    def finished(self):
        """How many seeds have trained."""
        return sum(job.status == "done" for job in self.jobs)

    @property
    def current(self):
        """The Job of the seed training or in line now (the last one asked)."""
        return self.jobs[-1] if self.jobs else None

    @property
    def status(self):
        """'running' while a seed is in line or training, 'done' once every seed trained, 'failed': it ended early."""
        if self.error is not None:
            return "failed"
        last = self.current
        if last is not None and last.status == "failed":
            return "failed"
        if last is not None and last.status == "done" and len(self.jobs) == len(self.configs):
            return "done"
        return "running"

    @property
    def why(self):
        """Why it ended early (a Message or text), or None."""
        if self.error is not None:
            return self.error
        last = self.current
        return last.error if last is not None and last.status == "failed" else None

    def wait(self, queue, timeout=None):
        """Block until every seed trained or the group ended (the command line, tests); True when it did."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.status == "running":
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            if not queue.wait(self.current, timeout=0.2 if left is None else min(left, 0.2)):
                continue
            time.sleep(0.01)  # the worker queues the next seed just after this one ends
        return True

    def advance(self, queue, job):
        """After `job` ended: queue the next seed, or end the group saying why (each seed is advanced from once)."""
        with self._lock:
            if self.error is not None or self.current is not job or job.status not in ("done", "failed"):
                return
            if job.status == "failed":
                self.dataset = None
                return
            if self.student is not None and self.student not in job.waiters:
                self._end(Message("repeat.group_left", seed=job.config.seed))
                return
            if len(self.jobs) == len(self.configs):
                self.dataset = None
                return
            try:
                self._queue(queue, self.configs[len(self.jobs)])
            except CnnlabError as error:
                self._end(error.message)
                return
        if self.current.status in ("done", "failed"):  # it came back from the store before it was watched
            self.advance(queue, self.current)

    def _queue(self, queue, config):
        made = queue.submit(config, self.dataset, requested_by=self.requested_by, student=self.student, who=self.who,
                            assignment=self.assignment)
        self.jobs.append(made)
        made.groups[self.student] = self  # the queue tells the group when this seed ends (jobs.TrainingQueue._work)

    def _end(self, why):
        self.error, self.dataset = why, None


def advance(queue, job):
    """The queue's word that `job` ended: every group waiting on it goes on (called by the queue's worker, which must
    survive anything one group does)."""
    for group in list(job.groups.values()):
        try:
            group.advance(queue, job)
        except Exception as error:  # noqa: BLE001 (a database gone away: the group ends, the worker goes on)
            log.exception("the repeat after %s could not go on", job.id)
            group._end(Message("error.training.failed", kind=type(error).__name__, error=str(error)))


def _checked(configs, assignment):
    """The settings each seed trains with: held to an assignment's rules (on its held-out copy) like any training."""
    checked = []
    for config in configs:
        held, trained = holdout.for_assignment_id(getattr(assignment, "id", None), config)
        if assignment is not None:
            assignment.check(held)
        checked.append(trained)
    return checked


def seconds_to_train(queue, configs, dataset):
    """The estimated seconds of the seeds not stored yet (a stored one comes back at once and costs nothing);
    ConfigError when one is over the server's limit."""
    total = 0.0
    for config in configs:
        stored = queue.store.get(runs.run_id_for(config, dataset))
        if stored is None or not stored.complete:
            total += estimates.check(config, dataset, queue.speeds, queue.limit()).seconds
    return total


def repeat(queue, run, seeds, who=permissions.OWNER, student=None, assignment=None, requested_by=None, replace=False):
    """A SeedGroup training a stored run's settings with each of `seeds` (cnnlab.course.comparisons.more_seeds), its
    first seed queued.

    Asked as queue.submit asks one training (who may train, their budget, an assignment's rules, their private
    pictures), and the whole group's estimate must fit in who's time left today and the assignment's minutes before
    anything is queued. A run trained on another copy of its data than the one here now is refused (its seeds would
    not be of one group). replace: the group takes the place of the student's training in line (else AlreadyQueued)."""
    if not seeds:
        raise ValueError("a repeat needs at least one seed")
    permissions.require(who, "train")
    asked.require_budget(who)
    configs = _checked([dataclasses.replace(run.config, seed=int(seed)) for seed in seeds], assignment)
    ownership.require_use(who, configs[0].dataset)  # not another student's private pictures (before they are read)
    dataset = datasets.load(configs[0].dataset)
    if dataset.fingerprint != (run.record.get("data") or {}).get("fingerprint"):
        raise CnnlabError("repeat.other_data", id=run.id, variant=run.variant_label)
    student = who.key or student
    accounting.require_time(who if student else permissions.OWNER, seconds_to_train(queue, configs, dataset),
                            assignment)
    group = SeedGroup(configs, student, who, dataset, assignment, requested_by, origin=run.id)
    with group._lock:
        first = queue.submit(configs[0], dataset, requested_by=requested_by, student=student, who=who,
                             replace=replace, assignment=assignment)
        group.jobs.append(first)
        first.groups[student] = group
    group.advance(queue, first)  # a first seed already stored is done at once: the next one is queued now
    return group
