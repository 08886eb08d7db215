import time

import pytest

from cnnlab import runs
from cnnlab.compute import in_process, jobs
from cnnlab.errors import TrainingStoppedEarly
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)


def test_identical_requests_share_one_job_and_others_queue_behind():
    queue = jobs.TrainingQueue(runs.RunStore())
    first = queue.submit(TrainConfig(**dict(TINY, epochs=2)))
    same = queue.submit(TrainConfig(**dict(TINY, epochs=2)))
    other = queue.submit(TrainConfig(**dict(TINY, seed=1)))
    assert same is first and other is not first
    assert queue.position(other) in (1, 2)  # behind the first one
    assert queue.wait(first, timeout=180) and queue.wait(other, timeout=180)
    assert first.status == "done" and other.status == "done" and first.epochs_done == 2
    assert queue.position(first) is None
    again = queue.submit(TrainConfig(**dict(TINY, epochs=2)))
    assert queue.wait(again, timeout=60) and again.cached


def test_stop_keeps_the_partial_run_and_a_failure_is_reported():
    store = runs.RunStore()
    queue = jobs.TrainingQueue(store)
    job = queue.submit(TrainConfig(**dict(TINY, epochs=50)))
    deadline = time.time() + 120
    while job.epochs_done < 1 and time.time() < deadline:  # let it learn for an epoch first
        time.sleep(0.05)
    queue.stop(job.id)
    assert queue.wait(job, timeout=120) and job.status == "done"
    stored = store.get(job.id)
    assert stored.record["status"] == "stopped" and 1 <= stored.record["epochs_completed"] < 50
    bad = queue.submit(TrainConfig(**dict(TINY, batch_size=4000)))
    assert queue.wait(bad, timeout=60) and bad.status == "failed" and "Batch size 4000" in str(bad.error)


def blocked_queue():
    """A queue whose worker is held on its first job (someone else holds that run's lock), so others wait."""
    from cnnlab.data import datasets

    store = runs.RunStore()
    queue = jobs.TrainingQueue(store)
    first = TrainConfig(**dict(TINY, seed=99))
    lock = store.lock(runs.run_id_for(first, datasets.load("mnist")))
    lock.acquire()
    holder = queue.submit(first, student="teacher")
    deadline = time.time() + 30
    while holder.status != "running" and time.time() < deadline:
        time.sleep(0.02)
    return queue, holder, lock


def test_a_student_has_one_training_at_a_time_and_replaces_it_only_when_asked():
    queue, holder, lock = blocked_queue()
    try:
        mine = queue.submit(TrainConfig(**TINY), student="ana")
        with pytest.raises(jobs.AlreadyQueued, match="You already have a training queued or running") as caught:
            queue.submit(TrainConfig(**dict(TINY, seed=1)), student="ana")
        assert caught.value.job is mine and queue.job_of("ana") is mine
        same = queue.submit(TrainConfig(**TINY), student="ana")  # the same settings again: the same job
        assert same is mine
        other = queue.submit(TrainConfig(**dict(TINY, seed=1)), student="ana", replace=True)
        assert other is not mine and queue.job_of("ana") is other
        assert mine.status == "failed" and "before it started" in str(mine.error)  # dropped from the line
        ben = queue.submit(TrainConfig(**dict(TINY, seed=2)), student="ben")
        assert ben.status == "queued"  # others may
    finally:
        for job in (holder, queue.job_of("ana"), queue.job_of("ben")):
            if job is not None:
                queue.stop(job.id)  # nothing left to train after the test
        lock.release()
    assert queue.wait(holder, timeout=60)


def test_stop_detaches_only_the_student_who_pressed_it():
    queue, holder, lock = blocked_queue()
    try:
        shared = queue.submit(TrainConfig(**TINY), student="ana")
        assert queue.submit(TrainConfig(**TINY), student="ben") is shared and shared.waiters == {"ana", "ben"}
        queue.stop(shared.id, student="ana")
        assert shared.status == "queued" and not shared.stop_requested and shared.waiters == {"ben"}
        queue.stop(shared.id, student="ben")  # nobody waits any more: it leaves the line
        assert shared.status == "failed" and shared.stop_requested
        assert queue.submit(TrainConfig(**dict(TINY, seed=99)), student="carla") is holder
        queue.stop(holder.id, student="teacher")  # carla still waits for the running one: it goes on
        assert holder.status == "running" and not holder.stop_requested
    finally:
        lock.release()
    assert queue.wait(holder, timeout=120) and holder.status == "done"
    assert runs.RunStore().get(holder.id).complete  # trained to the end for carla


def test_the_line_says_how_long_the_trainings_ahead_take():
    queue, holder, lock = blocked_queue()
    try:
        second = queue.submit(TrainConfig(**dict(TINY, epochs=3)), student="ana")
        third = queue.submit(TrainConfig(**dict(TINY, seed=5)), student="ben")
        assert second.estimate_seconds > third.estimate_seconds > 0  # three epochs against one
        count, seconds = queue.ahead(third)
        assert count == 2 and seconds == pytest.approx(second.estimate_seconds + holder.estimate_seconds, rel=0.01)
        assert queue.ahead(holder) == (0, 0.0)
    finally:
        for job in (third, second, holder):
            queue.stop(job.id)
        lock.release()
    assert queue.wait(holder, timeout=60)


def test_a_teacher_moves_a_job_to_the_front_and_sees_the_whole_line():
    queue, holder, lock = blocked_queue()
    try:
        a = queue.submit(TrainConfig(**dict(TINY, seed=1)), student="ana")
        b = queue.submit(TrainConfig(**dict(TINY, seed=2)), student="ben")
        c = queue.submit(TrainConfig(**dict(TINY, seed=3)))  # prepared by the teacher: nobody waits for it
        assert [job.id for job in queue.jobs()] == [holder.id, a.id, b.id, c.id]
        queue.move_to_front(c.id)
        assert [job.id for job in queue.jobs()] == [holder.id, c.id, a.id, b.id]
        assert queue.position(c) == 2 and queue.position(a) == 3
        assert queue.ahead(a)[0] == 2  # the running one and c
    finally:
        lock.release()
    for job in (holder, a, b, c):
        assert queue.wait(job, timeout=180) and job.status == "done"


def test_a_stored_run_is_never_refused_by_the_limit_and_the_limit_is_read_where_the_queue_was_made(monkeypatch):
    store = runs.RunStore()
    stored, _ = store.get_or_train(TrainConfig(**TINY))
    monkeypatch.setenv("CNNLAB_MAX_MINUTES", "0.0001")  # far below any training, even this one's
    queue = jobs.TrainingQueue(store)
    again = queue.submit(TrainConfig(**TINY))  # stored already: it trains nothing, so no limit applies
    assert queue.wait(again, timeout=60) and again.cached and again.id == stored.id
    with pytest.raises(Exception, match="limit is 0 minutes"):
        queue.submit(TrainConfig(**dict(TINY, seed=5)))  # not stored: refused, nothing queued
    monkeypatch.delenv("CNNLAB_MAX_MINUTES")
    strict = jobs.TrainingQueue(store, limit=lambda: "0.0001")  # the server's setting, e.g. from secrets.toml
    with pytest.raises(Exception, match="limit is 0 minutes"):
        strict.submit(TrainConfig(**dict(TINY, seed=6)))
    assert strict.jobs() == [] and strict.submit(TrainConfig(**TINY)).id == stored.id


class RejoinedAfterTheStop(in_process.LocalExecutor):
    """Trains in this process, as the CLI does; when a training comes back stopped (or stopped inside its first
    epoch), a student asks for the same settings again before the queue has the result: a student who rejoins a
    training just stopped, after the Stop had reached it."""

    def __init__(self):
        self.rejoin = []  # what to do once, the first time a training comes back stopped

    def train(self, config, dataset, **callbacks):
        try:
            result = super().train(config, dataset, **callbacks)
        except TrainingStoppedEarly:
            while self.rejoin:
                self.rejoin.pop()()
            raise
        while result.stopped and self.rejoin:
            self.rejoin.pop()()
        return result


@pytest.mark.parametrize("stopped_in", ["the second epoch", "the first epoch"])
def test_a_student_who_rejoins_a_training_just_stopped_gets_a_whole_run(stopped_in):
    store = runs.RunStore()
    executor = RejoinedAfterTheStop()
    queue = jobs.TrainingQueue(store, executor)
    config = TrainConfig(**dict(TINY, epochs=4, train_size=2000 if stopped_in == "the first epoch" else 640))
    job = queue.submit(config, student="ana")
    executor.rejoin.append(lambda: queue.submit(config, student="ana"))  # Train pressed again, same settings
    deadline = time.time() + 120
    while (job.epochs_done < 1 if stopped_in == "the second epoch" else job.batch < 1) and time.time() < deadline:
        time.sleep(0.01)
    queue.stop(job.id, student="ana")
    assert queue.wait(job, timeout=180) and job.status == "done", job.error
    assert executor.rejoin == []  # the Stop did reach the training, and she asked again after it
    run = store.get(job.id)
    assert run.complete and run.record["epochs_completed"] == 4 and job.epochs_done == 4


def test_a_run_stored_before_a_stricter_limit_still_comes_back_through_the_queue(monkeypatch):
    """#29 item 8: a stored run is never refused, also when the network limits became stricter since it trained."""
    from cnnlab.networks import limits

    store = runs.RunStore()
    own = [{"kind": "conv", "size": 8}, {"kind": "flatten"}, {"kind": "dense", "size": 16}]
    config = TrainConfig(**dict(TINY, architecture=own))
    stored, _ = store.get_or_train(config)
    monkeypatch.setattr(limits, "MAX_ACTIVATIONS", 1_000)  # today's server allows far less than it had
    with pytest.raises(Exception, match="1,000"):
        jobs.TrainingQueue(store).submit(TrainConfig(**dict(TINY, architecture=own, seed=3)))  # a new one: refused
    queue = jobs.TrainingQueue(store)
    job = queue.submit(config)
    assert queue.wait(job, timeout=60) and job.status == "done", job.error
    assert job.cached and job.id == stored.id
