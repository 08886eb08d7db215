"""A repeat with more seeds (#33): one request in the queue, its seeds trained one after the other, each seed its own
request in the database and charged against the class's budget; identical settings still train once."""

import time

import pytest
from test_jobs import TINY, blocked_queue

from cnnlab import runs
from cnnlab.classroom import accounts, classes, requests, sessions, teaching
from cnnlab.compute import jobs, seed_groups
from cnnlab.data import datasets
from cnnlab.errors import NotAllowed
from cnnlab.training import TrainConfig


@pytest.fixture
def run(stored):
    """A stored run to repeat (stored before the database is made in the same home)."""
    return stored(TrainConfig(**TINY))


@pytest.fixture
def people(run):
    """A teacher and two students of one class, as Who (as in test_jobs_people)."""
    teacher = accounts.add_teacher("Ms Rivera", "a-long-password")
    classroom = classes.create(teacher.id, "CNN 2027")
    sol, mar = (classes.join(classroom.join_code, name, "127.0.0.1")[0] for name in ("Sol", "Mar"))
    return {"teacher": sessions.person(teacher.id), "sol": sessions.person(sol.id), "mar": sessions.person(mar.id),
            "class_id": classroom.id}


def charged(person_id, at_least, timeout=10):
    """The person's seconds today, once at least `at_least` of their requests were charged (just after each ends)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = [request for request in requests.of_person(sessions.OWNER, person_id) if request.seconds > 0]
        if len(found) >= at_least:
            return found
        time.sleep(0.05)
    return found


def test_a_repeat_is_one_place_in_line_its_seeds_train_one_after_the_other_and_each_is_counted(run, people):
    sol = people["sol"]
    queue = jobs.TrainingQueue(runs.RunStore())
    group = seed_groups.repeat(queue, run, [1, 2], who=sol)
    first = group.current
    assert group.seeds == [1, 2] and first.config.seed == 1 and len(group.jobs) == 1  # the next waits its turn
    assert queue.job_of(sol.key) is first and [job.config.seed for job in queue.jobs()] == [1]
    with pytest.raises(jobs.AlreadyQueued):  # the group is the student's one training
        queue.submit(TrainConfig(**dict(TINY, seed=7)), who=sol)
    assert group.wait(queue, timeout=300) and group.status == "done", group.why
    assert [job.config.seed for job in group.jobs] == [1, 2] and all(job.status == "done" for job in group.jobs)
    assert group.jobs[1].number > first.number  # queued only after the first ended
    stored_ids = {found.id for found in runs.RunStore().list()}
    assert set(group.run_ids) <= stored_ids
    asked = requests.of_person(sol, sol.person_id)
    assert sorted(request.run_id for request in asked) == sorted(group.run_ids)  # each seed is a request of theirs
    assert len(charged(sol.person_id, 2)) == 2  # and each seed's training time counts against the class's budget
    assert queue.job_of(sol.key) is None


def test_identical_settings_still_train_once_and_a_stored_seed_trains_nothing(run, people):
    sol, mar = people["sol"], people["mar"]
    queue, holder, lock = blocked_queue()
    try:
        hers = queue.submit(TrainConfig(**dict(TINY, seed=1)), who=mar)  # a classmate asked for seed 1 already
        group = seed_groups.repeat(queue, run, [1, 2], who=sol)
        assert group.current is hers and hers.waiters == {mar.key, sol.key}
    finally:
        lock.release()
    assert group.wait(queue, timeout=300) and group.status == "done", group.why
    assert queue.wait(holder, timeout=120)
    again = seed_groups.repeat(queue, run, [1, 2], who=sol)  # both stored now: nothing trains, nothing is charged
    assert again.wait(queue, timeout=60) and again.status == "done"
    assert all(job.cached for job in again.jobs) and again.run_ids == group.run_ids
    assert seed_groups.seconds_to_train(queue, again.configs, datasets.load("mnist")) == 0


def test_the_whole_group_must_fit_in_the_time_left_before_anything_is_queued(run, people):
    sol = people["sol"]
    queue = jobs.TrainingQueue(runs.RunStore())
    one = seed_groups.seconds_to_train(queue, [TrainConfig(**dict(TINY, seed=1))], datasets.load("mnist"))
    assert one > 0
    teaching.set_limits(people["teacher"], people["class_id"], minutes_per_day=1)
    request_id = requests.record(sol, run.id, "mnist", "{}")
    requests.charge(request_id, 60 - 1.5 * one)  # time left for one seed and a half
    with pytest.raises(NotAllowed, match="needs about"):
        seed_groups.repeat(queue, run, [1, 2], who=sol)
    assert queue.jobs() == [] and queue.job_of(sol.key) is None
    with pytest.raises(NotAllowed, match="Only students and teachers who have signed in may train"):
        seed_groups.repeat(queue, run, [1, 2], student="a-tab", who=sessions.GUEST)


def test_a_student_who_stops_a_seed_ends_the_group_and_nothing_more_is_queued(run, people):
    sol = people["sol"]
    queue, holder, lock = blocked_queue()
    try:
        group = seed_groups.repeat(queue, run, [1, 2, 3], who=sol)
        queue.stop(group.current.id, student=sol.key, who=sol)  # still in line: it leaves the line
        assert group.status == "failed" and "before it started" in str(group.why)
        other = queue.submit(TrainConfig(**dict(TINY, seed=7)), who=sol)  # their place is free for another training
        assert queue.job_of(sol.key) is other
        group = seed_groups.repeat(queue, run, [4, 5], who=sol, replace=True)  # a repeat may replace it when asked
        assert other.status == "failed" and queue.job_of(sol.key) is group.current
        queue.submit(TrainConfig(**dict(TINY, seed=8)), who=sol, replace=True)  # and be replaced
    finally:
        lock.release()
    assert group.wait(queue, timeout=120) and group.status == "failed" and len(group.jobs) == 1
    queue.stop(queue.job_of(sol.key).id, who=people["teacher"])
    queue.wait(holder, timeout=120)
