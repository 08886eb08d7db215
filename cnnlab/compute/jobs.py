"""The server's training queue: identical requests merged, fair to every student, progress readable.

A page submits a TrainConfig for a student and gets a Job back; worker threads train the jobs in order (on a
cluster, one whose network a free worker holds may overtake two: cnnlab.compute.warm_order) through the run store
and an executor (cnnlab.compute.executors), so a student can leave the page, come back, or press Stop. On one
machine one training runs at a time; on a Ray cluster, as many as it has room for. A student has at most one
training queued or running (asking for another replaces it only when they say so).
Identical settings from several students train once; Stop detaches only the student who pressed it,
and a shared training ends (at its next batch, keeping the partial run) when nobody waits for it.
Other students see their place in line and how long the trainings ahead of them should take.
"""

import itertools
import json
import logging
import threading
import time

from cnnlab import runs, training
from cnnlab.classroom import permissions
from cnnlab.classroom import requests as asked
from cnnlab.compute import accounting, in_process, seed_groups, warm_order
from cnnlab.compute.job import AlreadyQueued, Job
from cnnlab.data import datasets, holdout, ownership
from cnnlab.errors import CnnlabError, TrainingStoppedEarly
from cnnlab.i18n import Message
from cnnlab.runs import estimates

log = logging.getLogger(__name__)
KEEP_FINISHED = 100


class TrainingQueue:
    """A line of Jobs served by worker threads, first come first served (but for a training whose network a free
    worker holds, which may overtake two: warm_order): as many trainings at once as the executor has room for."""

    CAPACITY_SECONDS = 10.0  # how long the cluster's size is trusted before it is asked again

    def __init__(self, store, executor=None, limit=None):
        self.store = store
        self._limit = limit if callable(limit) else (lambda: limit)  # the server's limit in minutes (None: default)
        self.executor = executor or in_process.LocalExecutor()
        self.speeds = estimates.Speeds(store.root)
        self._jobs = {}
        self._waiting = []
        self._numbers = itertools.count(1)
        self._changed = threading.Condition()
        self._workers = []
        self._capacity_read = (-float("inf"), 1)  # (when, trainings at once)
        self._capacity_reading = threading.Event()  # set while it is read again in the background
        self._choosing = threading.Lock()  # held by the worker thread choosing the next job (warm_order)

    def submit(self, config, dataset=None, requested_by=None, student=None, replace=False, who=permissions.OWNER,
               ahead_of_class=False, assignment=None):
        """The Job for these settings: an existing one when the same settings are queued or running.

        `who` asks (cnnlab.classroom.sessions.Who; the command line and tests are the owner): they must be allowed
        to train and have training time left today. A signed-in person waits under their own name (one place in
        line, whatever browser or tab asks); `student` names the waiter otherwise (a personal lab's tab).
        ahead_of_class: a teacher's preparation (manage), which nobody waits for.

        The data is chosen once (here, unless the caller already chose it): the job's id and its training
        use that very copy, never a download. A student's second, different request raises AlreadyQueued
        unless replace is true; a request over the server's limit (the queue's, read in one place: `limit`
        given when the queue was made) raises ConfigError with what would fit. A run already stored is never
        refused: it trains nothing, whatever the limit.

        assignment: the rules a training for an assignment keeps (cnnlab.course.assignments.Rules, or anything with
        .check(config)); a setting it locks, or one out of its range, choices or budget, raises ConfigError before
        anything is queued. Every executor (this machine's worker process, a Ray cluster) is fed by this queue, so
        the rules hold on Ray too. One with an .id and a .budget (cnnlab.course.handins.ForAssignment) is recorded
        on the student's request, and its budget's minutes hold what they trained for it (compute.accounting).
        """
        if assignment is not None:  # checked as asked; trained on the assignment's held-out copy (data.holdout)
            if hasattr(assignment, "admit"):  # its class's people only (course.handins.ForAssignment)
                assignment.admit(who)
            checked, config = holdout.for_assignment_id(getattr(assignment, "id", None), config)
            assignment.check(checked)
        if ahead_of_class:  # a teacher prepares before class: nobody waits for it, no budget is spent
            permissions.require(who, "manage")
            student = None
        else:
            permissions.require(who, "train")
            asked.require_budget(who)
            student = who.key or student
        ownership.require_use(who, config.dataset)  # not another student's private pictures
        dataset = dataset or datasets.load(config.dataset)
        job_id = runs.run_id_for(config, dataset)
        job = self._queued(config, dataset, job_id, student, requested_by, replace, who, assignment)
        if ahead_of_class:
            job.prepared = True
        if student and who.person_id is not None and student not in job.requests:
            settings = json.dumps(config.to_dict(), sort_keys=True)
            job.requests[student] = asked.record(who, job_id, config.dataset, settings,
                                                 assignment_id=getattr(assignment, "id", None))
        return job

    def _queued(self, config, dataset, job_id, student, requested_by, replace, who=permissions.OWNER,
                assignment=None):
        """The job queued or running for job_id, joined by student (a new one when there is none)."""
        with self._changed:
            job = self._jobs.get(job_id)
            joining = job is not None and job.status in ("queued", "running") and student not in job.waiters
        if joining:  # what is left of it must fit in the student's time (asked outside the queue's lock)
            accounting.require_time(who, job.estimate_seconds * (1 - job.fraction), assignment)
        with self._changed:
            job = self._jobs.get(job_id)
            if job is not None and job.status in ("queued", "running"):
                self._join(job, student, requested_by, replace)
                return job
        stored = self.store.get(job_id)
        if stored is not None and stored.complete:
            found = estimates.Estimate(0.0, 0.0, True)  # it comes back from the store at once: no limit applies
        else:
            found = estimates.check(config, dataset, self.speeds, self.limit())  # outside the lock: reads speeds.json
            accounting.require_time(who if student else permissions.OWNER, found.seconds, assignment)
        self.capacity()  # outside the lock too: the first time, it may start or join a Ray cluster
        with self._changed:
            job = self._jobs.get(job_id)
            if job is not None and job.status in ("queued", "running"):
                self._join(job, student, requested_by, replace)
                return job
            self._leave_others(student, job_id, replace)
            job = Job(id=job_id, config=config, number=next(self._numbers), dataset=dataset,
                      requested_by={requested_by} if requested_by else set(),
                      waiters={student} if student else set(), estimate_seconds=found.seconds, asked_by=who)
            self._jobs[job_id] = job
            self._waiting.append(job_id)
            self._forget_old()
            self._start_workers()
            self._changed.notify_all()
        return job

    def limit(self):
        """The server's limit on one training, in minutes as configured (None: the default for this device)."""
        return self._limit()

    def prepare(self, config):
        """Have the executor get config's network ready (compiled and traced) before anyone asks; returns at once."""
        return self.executor.prepare(config)

    def capacity(self):
        """Trainings at once: 1 in this process; on Ray, what its nodes have room for. Read the first time (joining
        the cluster), then again every 10 s in the background: a page or a worker thread (under the queue's lock)
        never waits for the cluster to answer."""
        when, slots = self._capacity_read
        if when == -float("inf"):
            return self._read_capacity()
        if time.monotonic() - when > self.CAPACITY_SECONDS and not self._capacity_reading.is_set():
            self._capacity_reading.set()
            try:
                threading.Thread(target=self._read_capacity, args=(True,), name="cnnlab-capacity", daemon=True).start()
            except RuntimeError:  # no thread to be had now: read again next time
                self._capacity_reading.clear()
        return slots

    def _read_capacity(self, again=False):
        try:
            try:
                slots = self.executor.capacity()
            except CnnlabError:  # an unreachable cluster: its jobs fail with that message, one at a time
                slots = 1
            except Exception:  # noqa: BLE001 -- Ray's own errors: read again later (at once when first asked)
                if not again:
                    raise
                log.warning("could not read the cluster's size; keeping %s", self._capacity_read[1], exc_info=True)
                slots = self._capacity_read[1]
            self._capacity_read = (time.monotonic(), slots)
        finally:
            self._capacity_reading.clear()  # after the new time: nobody starts a second read meanwhile
        if again:  # a cluster that grew: more trainings at once from now on
            with self._changed:
                self._start_workers()
                self._changed.notify_all()
        return slots

    def _start_workers(self):
        wanted = min(self.capacity(), len(self._waiting) + len(self._running()))
        while len(self._workers) < wanted:
            worker = threading.Thread(target=self._work, name=f"cnnlab-trainer-{len(self._workers) + 1}", daemon=True)
            self._workers.append(worker)
            worker.start()

    def jobs(self):
        """Every job queued or running, in line (for the teacher; one whose network a free worker holds may go before
        up to two ahead of it: warm_order)."""
        with self._changed:
            return self._running() + [self._jobs[i] for i in self._waiting]

    def datasets_in_use(self):
        """The datasets of the trainings queued or running (an imported one is not deleted under them)."""
        return {job.config.dataset for job in self.jobs()}

    def workers(self):
        """The executor's workers, each with the networks it trains now: [{"host", "cpus", "gpus", …, "training"}]."""
        rows = self.executor.workers()
        running = {job.id: job for job in self.jobs() if job.status == "running"}
        for row in rows:  # on one machine its one worker trains whatever runs
            ids = row.get("training", []) if self.executor.kind == "ray" else list(running)
            row["training"] = [running[i].config.architecture_name for i in ids if i in running]
        return rows

    def move_to_front(self, job_id, who=permissions.OWNER):
        """A teacher puts a queued job first in line (where no training overtakes it: warm_order)."""
        permissions.require(who, "manage")
        with self._changed:
            if job_id in self._waiting:
                self._waiting.remove(job_id)
                self._waiting.insert(0, job_id)
                self._jobs[job_id].overtaken = warm_order.MAX_OVERTAKEN
                self._changed.notify_all()

    def _join(self, job, student, requested_by, replace):
        """Add a student (and the experiment that asked) to a job already in line."""
        self._leave_others(student, job.id, replace)
        if student:
            job.waiters.add(student)
            job.stop_requested = False  # someone waits for it again: a stop it was given when left alone is off
        if requested_by:
            job.requested_by.add(requested_by)

    def _leave_others(self, student, job_id, replace):
        mine = self._job_of(student)
        if mine is None or mine.id == job_id:
            return
        if not replace:
            raise AlreadyQueued(mine)
        self._detach(mine, student)

    def job_of(self, student):
        """The student's training queued or running, or None."""
        with self._changed:
            return self._job_of(student)

    def _job_of(self, student):
        if not student:
            return None
        return next((job for job in self._jobs.values()
                     if student in job.waiters and job.status in ("queued", "running")), None)

    def ahead(self, job):
        """(trainings ahead of job, their estimated seconds left): what a student waits for before theirs."""
        with self._changed:
            if job.status != "queued" or job.id not in self._waiting:
                return 0, 0.0
            before = [self._jobs[i] for i in self._waiting[:self._waiting.index(job.id)]]
            running = self._running()
            seconds = sum(j.estimate_seconds for j in before)
            seconds += sum(j.estimate_seconds * (1 - j.fraction) for j in running)
            return len(before) + len(running), seconds / max(1, min(self.capacity(), len(before) + len(running)))

    def get(self, job_id):
        with self._changed:
            return self._jobs.get(job_id)

    def position(self, job):
        """0 while it trains, n when n-1 jobs are ahead of it in line, None when finished (a place can grow, by two
        at most, when trainings behind it whose network a free worker holds go first: warm_order)."""
        with self._changed:
            if job.status == "running":
                return 0
            if job.id in self._waiting:
                return self._waiting.index(job.id) + 1 + len(self._running())
            return None

    def stop(self, job_id, student=None, who=permissions.OWNER):
        """A student leaves a job; when nobody waits for it any more (or no student is named: a teacher, the
        CLI) it ends at its next batch, keeping the partial run (a queued one is dropped).

        Leaving one's own place needs `stop_own`; stopping it for everyone, or for someone else, `manage`."""
        student = who.key or student if student is not None else None
        permissions.require(who, "stop_own" if student is not None else "manage")
        with self._changed:
            job = self._jobs.get(job_id)
            if job is None:
                return
            if student is not None:
                self._detach(job, student)
            else:
                job.waiters.clear()
                self._end(job)

    def _detach(self, job, student):
        job.waiters.discard(student)
        if not job.waiters and not job.prepared:  # a teacher's preparation ends only by a teacher's Stop
            self._end(job)

    def _end(self, job):
        job.stop_requested = True
        if job.status == "queued":
            self._waiting.remove(job.id)
            job.status, job.error, job.finished = "failed", Message("job.stopped_before_start"), time.time()
            self._changed.notify_all()

    def wait(self, job, timeout=None):
        """Block until the job has finished (for the CLI and tests); True when it did."""
        deadline = None if timeout is None else time.time() + timeout
        with self._changed:
            while job.status in ("queued", "running"):
                left = None if deadline is None else deadline - time.time()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def _running(self):
        return sorted((j for j in self._jobs.values() if j.status == "running"), key=lambda j: j.number)

    def _forget_old(self):
        finished = sorted((j for j in self._jobs.values() if j.status in ("done", "failed")), key=lambda j: j.number)
        for job in finished[:max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[job.id]

    def _work(self):
        while True:
            with self._changed:
                while not self._waiting or len(self._running()) >= self.capacity():
                    self._changed.wait(self.CAPACITY_SECONDS)
            with self._choosing:  # one worker thread at a time: two would both send a job to one free worker
                with self._changed:
                    if not self._waiting or len(self._running()) >= self.capacity():
                        continue  # another worker thread took the last place: nothing is chosen (nor promised)
                    candidates = warm_order.window([self._jobs[i] for i in self._waiting])
                chosen = warm_order.choose(self.executor, candidates)  # outside the lock: it may ask the cluster
                with self._changed:
                    if not self._waiting or len(self._running()) >= self.capacity():
                        continue  # another worker thread took the last place meanwhile
                    job = warm_order.take(self._waiting, self._jobs, chosen)
                    job.status, job.started = "running", time.time()
            self._train(job)
            with self._changed:
                job.finished, job.dataset = time.time(), None  # finished jobs do not keep a copy of the data alive
                self._changed.notify_all()
            accounting.charge(job)
            seed_groups.advance(self, job)  # a repeat's next seed joins the end of the line

    def _asked_again(self, job):
        """True when no Stop stands on the job now: a Stop it got was taken back by someone asking for it again."""
        with self._changed:
            return not job.stop_requested

    def _trainer(self, job):
        """Who it trains for: who asked, else someone waiting, who may still train on its pictures (ownership)."""
        with self._changed:
            waiting = [permissions.Who("student", int(key[7:])) for key in sorted(job.waiters) if key[:7] == "person:"]
        return ownership.first_allowed([job.asked_by, *waiting], job.config.dataset, job.dataset.info.title)

    def _train(self, job):
        job.steps = training.steps_per_epoch(job.config, len(job.dataset.x_train))

        def on_epoch_end(epoch, logs):
            for key, value in logs.items():
                job.history.setdefault(key, []).append(value)
            job.batch = 0

        def on_batch_end(batch, logs):
            job.batch = batch + 1

        try:
            who = self._trainer(job)
            while True:
                try:
                    run, cached = self.store.get_or_train(job.config, on_epoch_end=on_epoch_end,
                                                          on_batch_end=on_batch_end,
                                                          should_stop=lambda: job.stop_requested, dataset=job.dataset,
                                                          executor=self.executor, who=who)
                except TrainingStoppedEarly:
                    if not self._asked_again(job):
                        raise
                    run = None
                if run is not None and (run.complete or not self._asked_again(job)):
                    break
                # someone asked for it again after the Stop had reached the training (a student who rejoined a
                # training just stopped): what they get is a whole run, so it trains again, to the end
                job.history, job.batch = {}, 0
            job.trained_on = run.record.get("trained_on")
            for experiment_id in sorted(job.requested_by):  # every experiment that asked, also while it trained
                run = self.store.tag(run.id, experiment_id) or run
            job.history, job.cached, job.status = run.history, cached, "done"
        except CnnlabError as error:
            job.error, job.status = error.message, "failed"
        except Exception as error:  # the worker must survive anything one training does
            log.exception("training %s failed", job.id)
            job.error, job.status = Message("error.training.failed", kind=type(error).__name__,
                                            error=str(error)), "failed"

