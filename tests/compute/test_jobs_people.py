"""The queue asks the permission table and keeps each person's requests (cnnlab.classroom), on a real database."""

import time

import pytest
from test_jobs import TINY, blocked_queue

from cnnlab import runs
from cnnlab.classroom import accounts, classes, requests, sessions, teaching
from cnnlab.compute import jobs
from cnnlab.errors import NotAllowed
from cnnlab.training import TrainConfig


@pytest.fixture
def people(isolated):
    """A teacher and two students of one class, as Who."""
    teacher = accounts.add_teacher("Ms Rivera", "a-long-password")
    classroom = classes.create(teacher.id, "CNN 2027")
    sol = classes.join(classroom.join_code, "Sol", "127.0.0.1")[0]
    mar = classes.join(classroom.join_code, "Mar", "127.0.0.1")[0]
    return {"teacher": sessions.person(teacher.id), "sol": sessions.person(sol.id), "mar": sessions.person(mar.id),
            "class_id": classroom.id}


def test_a_guest_may_not_train_and_nothing_is_queued(people):
    queue = jobs.TrainingQueue(runs.RunStore())
    with pytest.raises(NotAllowed, match="Only students and teachers who have signed in may train"):
        queue.submit(TrainConfig(**TINY), student="a-tab", who=sessions.GUEST)
    assert queue.jobs() == [] and queue.job_of("a-tab") is None


def test_a_person_keeps_one_place_in_line_from_any_browser_and_their_request_is_kept_once(people):
    queue, holder, lock = blocked_queue()
    try:
        sol = people["sol"]
        first = queue.submit(TrainConfig(**TINY), student="tab-1", who=sol)
        again = queue.submit(TrainConfig(**TINY), student="tab-2", who=sol)  # a reload: another browser session
        assert again is first and first.waiters == {sol.key} and queue.job_of(sol.key) is first
        with pytest.raises(jobs.AlreadyQueued):  # a second, different training from another tab: still one each
            queue.submit(TrainConfig(**dict(TINY, seed=5)), student="tab-3", who=sol)
        asked = requests.of_person(sol, sol.person_id)
        assert [request.run_id for request in asked] == [first.id] and asked[0].class_id == people["class_id"]
    finally:
        lock.release()
    assert queue.wait(first, timeout=180) and first.status == "done"


def test_stopping_is_ones_own_place_for_a_student_and_anyones_for_a_teacher(people):
    queue, holder, lock = blocked_queue()
    try:
        sol, mar, teacher = people["sol"], people["mar"], people["teacher"]
        job = queue.submit(TrainConfig(**TINY), who=sol)
        queue.submit(TrainConfig(**TINY), who=mar)
        assert job.waiters == {sol.key, mar.key}
        queue.stop(job.id, student=mar.key, who=sol)  # naming a classmate leaves only Sol's own place
        assert job.waiters == {mar.key}
        for forbidden in (lambda: queue.stop(job.id, who=mar), lambda: queue.move_to_front(job.id, who=mar),
                          lambda: queue.submit(TrainConfig(**dict(TINY, seed=3)), who=mar, ahead_of_class=True)):
            with pytest.raises(NotAllowed, match="Only a teacher may stop someone else's training"):
                forbidden()
        assert job.status == "queued" and not job.stop_requested
        queue.stop(job.id, who=teacher)  # for everyone
        assert job.status == "failed" and job.waiters == set()
    finally:
        lock.release()
    queue.wait(holder, timeout=180)


def test_a_teacher_prepares_ahead_of_class_without_waiting_in_line(people):
    queue, holder, lock = blocked_queue()
    try:
        prepared = queue.submit(TrainConfig(**TINY), who=people["teacher"], ahead_of_class=True)
        assert prepared.waiters == set() and queue.job_of(people["teacher"].key) is None
        mine = queue.submit(TrainConfig(**dict(TINY, seed=2)), who=people["teacher"])  # and still has their own
        assert mine.waiters == {people["teacher"].key}
    finally:
        lock.release()
    assert queue.wait(prepared, timeout=180) and queue.wait(mine, timeout=180)


def test_training_time_is_charged_to_who_waited_and_a_spent_budget_refuses_the_next(people):
    sol, teacher = people["sol"], people["teacher"]
    queue = jobs.TrainingQueue(runs.RunStore())
    job = queue.submit(TrainConfig(**TINY), who=sol)
    assert queue.wait(job, timeout=180) and job.status == "done" and not job.cached
    deadline = time.time() + 10
    while requests.seconds_today(sol.person_id) == 0 and time.time() < deadline:  # charged just after it ends
        time.sleep(0.05)
    spent = requests.seconds_today(sol.person_id)
    assert 0 < spent <= job.finished - job.started + 0.01
    teaching.set_limits(teacher, people["class_id"], minutes_per_day=1)
    requests.charge(requests.of_person(sol, sol.person_id)[0].id, 60)  # a minute used today
    with pytest.raises(NotAllowed, match="used today's training time"):
        queue.submit(TrainConfig(**dict(TINY, seed=9)), who=sol)
    again = queue.submit(TrainConfig(**TINY), who=teacher)  # teachers have no budget; the stored run costs nothing
    assert queue.wait(again, timeout=60) and again.cached


def test_a_student_who_joins_and_leaves_a_prepared_training_does_not_end_it(people):
    queue, holder, lock = blocked_queue()
    try:
        prepared = queue.submit(TrainConfig(**TINY), who=people["teacher"], ahead_of_class=True)
        joined = queue.submit(TrainConfig(**TINY), who=people["sol"])  # the same settings: the same job
        assert joined is prepared
        queue.stop(prepared.id, student=people["sol"].key, who=people["sol"])
        assert prepared.status == "queued" and not prepared.stop_requested  # the teacher's preparation goes on
    finally:
        lock.release()
    assert queue.wait(prepared, timeout=180) and prepared.status == "done"


def test_only_a_teacher_starts_or_stops_a_download_for_the_class(people):
    from cnnlab.data import downloads

    server = downloads.Downloads()
    for who in (sessions.GUEST, people["sol"]):
        with pytest.raises(NotAllowed, match="Only a teacher may import"):
            server.start("fashion_mnist", who=who)
        with pytest.raises(NotAllowed):
            server.stop("fashion_mnist", who=who)
    assert server.get("fashion_mnist") is None


def test_only_a_teacher_deletes_runs_or_erases_damaged_ones(people):
    store = runs.RunStore()
    for who in (sessions.GUEST, people["sol"]):
        with pytest.raises(NotAllowed, match="Only a teacher"):
            store.delete("0123456789abcdef", who=who)
        with pytest.raises(NotAllowed, match="Only a teacher"):
            store.empty_set_aside(who=who)


def test_where_a_training_runs_asks_again_who_it_is_for_a_ray_task_on_its_node_too(people):
    """The queue asks first; the store, the worker process, a Ray cluster and the Ray task itself ask again, so a
    training that reaches them another way is refused as the page would refuse it."""
    import dataclasses

    from cnnlab.compute import in_process, ray_client, ray_hub, worker
    from cnnlab.data import datasets

    config, data = TrainConfig(**TINY), datasets.load("mnist")
    for executor in (in_process.LocalExecutor(), worker.ProcessExecutor(), ray_client.RayExecutor("127.0.0.1:9")):
        with pytest.raises(NotAllowed, match="signed in may train"):
            executor.train(config, data, who=sessions.GUEST)
    with pytest.raises(NotAllowed, match="signed in may train"):  # the task, as a node runs it: nothing trains
        ray_hub.train_task(config.to_dict(), data, None, dataclasses.asdict(sessions.GUEST))
    store = runs.RunStore()
    with pytest.raises(NotAllowed, match="signed in may train"):
        store.get_or_train(config, dataset=data, who=sessions.GUEST)
    assert store.list() == []
    queue = jobs.TrainingQueue(store)
    job = queue.submit(config, who=people["sol"])
    assert job.asked_by == people["sol"] and queue.wait(job, timeout=180) and job.status == "done"
    assert store.get_or_train(config, dataset=data, who=sessions.GUEST)[1]  # a stored run: anyone may look


def test_a_training_longer_than_the_time_left_today_is_refused_with_both(people):
    from cnnlab.data import datasets
    from cnnlab.runs import estimates

    sol = people["sol"]
    queue = jobs.TrainingQueue(runs.RunStore())
    long_one = TrainConfig(dataset="mnist", architecture="net_1", epochs=30, batch_size=16)
    data = datasets.load("mnist")
    needs = estimates.check(long_one, data, queue.speeds, queue.limit()).seconds
    teaching.set_limits(people["teacher"], people["class_id"], minutes_per_day=max(1, int(needs // 60) - 1))
    with pytest.raises(NotAllowed, match=r"This training needs about \d+ min, and you have \d+ min"):
        queue.submit(long_one, who=sol)
    assert queue.jobs() == [] and requests.of_person(sol, sol.person_id) == []
    queue.submit(long_one, who=people["teacher"], ahead_of_class=True)  # a teacher has no budget
    with pytest.raises(NotAllowed, match="This training needs about"):  # nor does joining it fit
        queue.submit(long_one, who=sol)
    teaching.set_limits(people["teacher"], people["class_id"], minutes_per_day=int(needs // 60) + 2)
    assert queue.submit(long_one, who=sol).waiters == {sol.key}  # it fits now: Sol waits for the teacher's
    job = queue.job_of(sol.key)
    queue.stop(job.id, who=people["teacher"])
    assert queue.wait(job, timeout=180) and job.stop_requested  # nothing left training when the test ends
