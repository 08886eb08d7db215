"""Which waiting training goes next (cnnlab.compute.warm_order): one whose network a free worker holds may go before
the first in line, which is overtaken at most twice; on one machine the line stays as it is."""

import threading
import time

from test_executors import wait_for

from cnnlab import runs, training
from cnnlab.compute import in_process, jobs, warm_order
from cnnlab.compute.job import Job
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)


def line(*optimizers):
    made = [Job(id=f"job{number}", config=TrainConfig(**dict(TINY, optimizer=optimizer, seed=number)), number=number)
            for number, optimizer in enumerate(optimizers)]
    return [job.id for job in made], {job.id: job for job in made}


class Holding:
    """A free worker holding the networks of these optimizers (as the hub says of a cluster's idle workers)."""

    def __init__(self, *optimizers):
        self.optimizers = optimizers

    def warm_first(self, configs):
        return next((index for index, config in enumerate(configs) if config.optimizer in self.optimizers), None)


def test_a_training_whose_network_a_free_worker_holds_goes_first_and_nobody_is_overtaken_more_than_twice():
    waiting, found = line("sgd", "rmsprop", "adam", "adam", "adam")
    window = warm_order.window([found[i] for i in waiting])
    assert [job.id for job in window] == waiting[:warm_order.LOOKAHEAD]  # only the next three are looked at
    chosen = warm_order.choose(Holding("adam"), window)
    assert chosen.id == "job2" and warm_order.take(waiting, found, chosen) is chosen
    assert waiting == ["job0", "job1", "job3", "job4"] and [found[i].overtaken for i in waiting] == [1, 1, 0, 0]
    assert warm_order.take(waiting, found, warm_order.choose(Holding("adam"), warm_order.window(
        [found[i] for i in waiting]))).id == "job3"  # overtaken twice now: job0 and job1 go next, whatever is held
    assert [found[i].overtaken for i in waiting] == [2, 2, 0]
    assert warm_order.window([found[i] for i in waiting]) == [found["job0"]]
    assert warm_order.take(waiting, found, found["job4"]).id == "job0"  # a choice made before the line changed


def test_the_first_goes_when_no_free_worker_holds_a_network_or_the_executor_cannot_say():
    waiting, found = line("sgd", "rmsprop", "adam")
    window = warm_order.window([found[i] for i in waiting])
    assert warm_order.choose(Holding("sgd", "adam"), window).id == "job0"  # the first's own network: no overtaking
    assert warm_order.choose(Holding("nadam"), window).id == "job0"
    assert warm_order.choose(in_process.LocalExecutor(), window).id == "job0"  # one machine: the line as it is
    assert warm_order.choose(Holding("adam"), window[:1]).id == "job0" and warm_order.choose(Holding(), []) is None
    assert warm_order.take(waiting, found, None).id == "job0" and found["job1"].overtaken == 0


class OneWarmWorker(in_process.LocalExecutor):
    """This process as one worker that keeps its compiled networks and says which it holds, as a cluster's hub
    says of its idle worker actors."""

    def __init__(self):
        self.warm, self.go = training.WarmNetworks(), threading.Event()

    def train(self, config, dataset, **options):
        options.pop("who", None)
        assert self.go.wait(120)  # the first training begins once the whole line is there
        return training.train(config, dataset=dataset, warm=self.warm, **options).detach_model(self.warm)

    def warm_first(self, configs):
        return next((index for index, config in enumerate(configs) if config in self.warm), None)


def test_the_queue_trains_next_the_one_its_free_worker_holds_the_network_of():
    worker = OneWarmWorker()
    queue = jobs.TrainingQueue(runs.RunStore(), worker)
    first = queue.submit(TrainConfig(**dict(TINY, optimizer="adam", seed=1)))
    second = queue.submit(TrainConfig(**dict(TINY, optimizer="sgd", seed=2)))  # needs a network of its own
    third = queue.submit(TrainConfig(**dict(TINY, optimizer="adam", seed=3)))  # the worker holds its network
    worker.go.set()
    for job in (first, second, third):
        assert queue.wait(job, timeout=180) and job.status == "done", job.error
    assert first.started < third.started < second.started and second.overtaken == 1
    assert third.trained_on["network"] == "kept" and second.trained_on["network"] == "new"


def test_a_job_a_teacher_moves_to_the_front_is_overtaken_no_more():
    queue = jobs.TrainingQueue(runs.RunStore(), OneWarmWorker())  # its worker waits: nothing begins
    made = [queue.submit(TrainConfig(**dict(TINY, seed=11)))]
    assert wait_for(lambda: made[0].status == "running", 30)
    made += [queue.submit(TrainConfig(**dict(TINY, seed=seed))) for seed in (12, 13)]
    queue.move_to_front(made[2].id)
    assert queue.jobs()[0] is made[0] and queue.jobs()[1] is made[2]  # the first is running already
    assert made[2].overtaken == warm_order.MAX_OVERTAKEN
    assert warm_order.window(queue.jobs()[1:]) == [made[2]]
    queue.stop(made[1].id), queue.stop(made[2].id), queue.stop(made[0].id)
    queue.executor.go.set()
    assert all(queue.wait(job, timeout=120) for job in made)  # nothing left training when the tests end


class Growing(in_process.LocalExecutor):
    """A cluster whose size is read slowly (a Ray that takes its time to answer) and grows."""

    def __init__(self):
        self.slots, self.answer = 1, threading.Event()

    def capacity(self):
        if self.slots > 1:
            assert self.answer.wait(60)
        return self.slots


def test_the_clusters_size_is_read_again_in_the_background_and_a_grown_one_takes_more_at_once(monkeypatch):
    cluster = Growing()
    queue = jobs.TrainingQueue(runs.RunStore(), cluster)
    assert queue.capacity() == 1  # the first time, read at once
    monkeypatch.setattr(jobs.TrainingQueue, "CAPACITY_SECONDS", 0.0)
    cluster.slots = 3
    started = time.perf_counter()
    assert queue.capacity() == 1 and time.perf_counter() - started < 1  # stale: the old size, without waiting
    with queue._changed:  # nor under the queue's lock (where a worker thread reads it)
        assert queue.capacity() == 1
    cluster.answer.set()
    assert wait_for(lambda: queue._capacity_read[1] == 3, 10)
