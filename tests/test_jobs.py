import time

from cnnlab import jobs, runs
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
