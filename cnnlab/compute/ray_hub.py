"""Ray's side of a training: the hub actor that makes identical settings train once across the cluster and hands
each training to an idle worker actor (cnnlab.compute.ray_workers), and what a node runs to train with cnnlab's own
code (shipped as runtime_env py_modules)."""

import functools
import os
import socket
import threading
import time

from cnnlab import training
from cnnlab.classroom import permissions
from cnnlab.compute import priority
from cnnlab.compute.in_process import POLL_SECONDS
from cnnlab.data import catalogue
from cnnlab.errors import RayUnavailable

NAMESPACE = "cnnlab"
CONNECT_SECONDS = 5.0  # how long a cluster's head may take to answer at all
KEEP_FINISHED_SECONDS = 60  # a finished training's actor lingers, so other servers can still pick up its result
RESERVE_SECONDS = 60.0  # a worker picked for a training that has not begun it by then is free again (its server died)
WARMING_SECONDS = 60.0  # a worker asked to warm a network up is asked for no other until it reports (or by then)
UNHEARD_SECONDS = 300.0  # another version's worker never heard from is ended after this (it was not just starting)


def import_ray():
    """Ray, with its automatic start turned off: a call made after this server left the cluster (a timer letting a
    training go, a background warm-up) raises, where Ray would start a Ray instance of its own in the app's process
    (ray.init() with its defaults, past every check of connect(); found stuck starting its GCS in a test run)."""
    os.environ.setdefault("RAY_ENABLE_AUTO_CONNECT", "0")  # read when Ray is first imported
    try:
        import ray
        from ray._private import auto_init_hook
    except ImportError:
        raise RayUnavailable("error.ray.not_installed") from None
    auto_init_hook.enable_auto_connect = False  # imported before this process set the variable (a test, a notebook)
    return ray


def package_folder():
    """cnnlab itself travels to the workers (runtime_env py_modules): every node runs the app's own code."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def answers(address, timeout=CONNECT_SECONDS):
    """Raise OSError (within timeout seconds) unless something listens at HOST:PORT."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
        pass


def first_line(error):
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]


def node_here(ray):
    """Keep the hub actor on the app's own node when it is one (it then survives a lab PC that dies)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=True)


class Hub:
    """Every training on the cluster: its progress, its result and the servers waiting for it (one Ray actor); and
    every worker actor: what it holds and whether it trains (each reports after every change).

    One long-lived actor rather than one per training: starting an actor starts a process, about 0.9 s on
    two cores for every training.
    """

    def __init__(self):
        self.trainings = {}  # run id -> its state (see claim)
        self.workers = {}  # worker actor's name -> {"where", "datasets", "networks", "training", "now", "reserved"}
        self.unheard = {}  # another version's worker never heard from -> when it was first asked about

    def claim(self, run_id, server):
        """Wait for this training; True for the first server, which starts it."""
        training = self.trainings.setdefault(run_id, {
            "owner": server, "servers": set(), "stop": False, "epochs": [], "batch": None, "where": None,
            "result": None, "finished": False})
        training["servers"].add(server)
        training["stop"] = False  # somebody waits again: a stop it got when left alone is off
        return training["owner"] == server and training["result"] is None

    def leave(self, run_id, server):
        training = self.trainings.get(run_id)
        if training is not None:
            training["servers"].discard(server)
            training["stop"] = training["stop"] or not training["servers"]

    def set_result(self, run_id, refs):
        self.trainings[run_id]["result"] = refs  # [ObjectRef] (in a list, so that it is passed on, not waited for)

    def started(self, run_id, where):
        self.trainings[run_id]["where"] = where

    def report_epoch(self, run_id, epoch, logs):
        self.trainings[run_id]["epochs"].append((epoch, logs))

    def report_batch(self, run_id, batch, logs):
        training = self.trainings[run_id]
        training["batch"] = (len(training["epochs"]), batch, logs)

    def end(self, run_id):
        self.trainings[run_id]["finished"] = True

    def should_stop(self, run_id):
        training = self.trainings.get(run_id)
        return training is None or training["stop"]

    def state(self, run_id, epochs_seen):
        training = self.trainings.get(run_id)
        if training is None:
            return None
        return {"epochs": training["epochs"][epochs_seen:], "batch": training["batch"], "where": training["where"],
                "result": training["result"], "finished": training["finished"], "stop": training["stop"]}

    def forget(self, run_id):
        self.trainings.pop(run_id, None)

    # ---------------------------------------------------------------- the worker actors

    def _worker(self, name):
        return self.workers.setdefault(name, {"where": None, "datasets": {}, "networks": {}, "training": None,
                                              "now": None, "reserved": None, "warming": None})

    def _busy(self, worker):
        """Training, picked for a training, or not started yet (an actor that never reported may be one Ray cannot
        place: a training sent to it would wait for ever)."""
        reserved = worker["reserved"]
        return worker["where"] is None or worker["training"] is not None or (
            reserved is not None and time.monotonic() - reserved[1] < RESERVE_SECONDS)

    def _warming(self, worker):
        return worker["warming"] is not None and time.monotonic() - worker["warming"] < WARMING_SECONDS

    def worker_report(self, name, holds):
        """A worker says what it holds and trains now: {"where", "datasets": {fingerprint: title}, "networks":
        {network key: architecture}, "training": run id or None, "now": architecture or None}."""
        worker = self._worker(name)
        worker.update(holds)
        worker["warming"] = None  # it reports after a warm-up (and, busy before, began none since it was asked)
        if holds["training"] is not None:
            worker["reserved"] = None  # the training it was picked for has begun

    def pick(self, run_id, names, network, fingerprint):
        """The idle worker among names for a training (reserved for it), or None when all are busy: a GPU first, then
        one holding the network, then one holding the data. False when a worker is free but nobody waits for the
        training any more (a Stop taken back before then is forgotten, as if it had never been pressed)."""
        idle = [name for name in names if not self._busy(self._worker(name))]
        if not idle:
            return None  # (stopped or not: a Stop taken back while it waits is forgotten, #29)
        if self.trainings.get(run_id, {}).get("stop"):
            return False
        chosen = max(idle, key=lambda name: (_is_gpu(name), network in self.workers[name]["networks"],
                                             fingerprint in self.workers[name]["datasets"]))
        self.workers[chosen]["reserved"] = (run_id, time.monotonic())
        self.workers[chosen]["picks"] = self.workers[chosen].get("picks", 0) + 1
        return chosen

    def idle_networks(self, names):
        """{name: ([networks], picks)} of the idle workers among names that pick() would give a training to first (an
        idle GPU before any CPU worker), with how many trainings each was picked for: a training of one of those
        networks goes to its holder at once, without compiling it again (the queue trains it next:
        cnnlab.compute.warm_order)."""
        idle = [name for name in names if not self._busy(self._worker(name))]
        if any(_is_gpu(name) for name in idle):
            idle = [name for name in idle if _is_gpu(name)]
        return {name: (sorted(self.workers[name]["networks"]), self.workers[name].get("picks", 0)) for name in idle}

    def pick_to_warm(self, names, network, label):
        """An idle worker among names that is to compile the network ahead of a training, or None when one holds it
        (or is warming it) already or none is idle."""
        if any(network in self._worker(name)["networks"] for name in names):
            return None
        idle = [name for name in names if not self._busy(self.workers[name]) and not self._warming(self.workers[name])]
        if not idle:  # one warm-up at a time per worker: a student changing the form fast queues nothing behind it
            return None
        chosen = max(idle, key=lambda name: (_is_gpu(name), -len(self.workers[name]["networks"])))
        self.workers[chosen]["networks"][network] = label  # a training of it now goes there, even before it is ready
        self.workers[chosen]["warming"] = time.monotonic()
        return chosen

    def release(self, run_id, name):
        """A training that never reached the worker picked for it: the worker is free again."""
        worker = self.workers.get(name)
        if worker is not None and worker["reserved"] is not None and worker["reserved"][0] == run_id:
            worker["reserved"] = None

    def drop_worker(self, name):
        """A worker that died: what it held went with it."""
        self.workers.pop(name, None)

    def drop_workers(self, names):
        for name in names:
            self.workers.pop(name, None)

    def unheard_of(self, names):
        """The workers among names that never reported to this hub (not started yet, or the hub is new)."""
        return [name for name in names if self.workers.get(name, {}).get("where") is None]

    def idle_of(self, names):
        """The workers among names that neither train nor were picked for a training (those of another version
        are ended only then); one never heard of counts as idle once UNHEARD_SECONDS have passed since it was first
        asked about (it may be starting, or be one that no server of its version uses any more)."""
        now, idle = time.monotonic(), []
        for name in names:
            worker = self.workers.get(name)
            if worker is None or worker["where"] is None:
                if now - self.unheard.setdefault(name, now) > UNHEARD_SECONDS:
                    idle.append(name)
            elif worker["training"] is None and worker["reserved"] is None:
                idle.append(name)
        for name in set(self.unheard) - set(names):  # bounded by the actors that exist
            self.unheard.pop(name)
        return idle

    def held(self, names):
        """{name: {"datasets": [titles], "networks": [labels], "now": architecture or None, "niceness": its CPU
        priority (0: the server's own worker's; Ray's 15 where the node does not allow more)}} for names."""
        return {name: {"datasets": sorted(self.workers[name]["datasets"].values()),
                       "networks": sorted(self.workers[name]["networks"].values()), "now": self.workers[name]["now"],
                       "niceness": self.workers[name].get("niceness")}
                for name in names if name in self.workers}


def _is_gpu(name):
    return name.rsplit(" ", 1)[-1].startswith("gpu")


class Training:
    """One training's view of the hub: `training.report_epoch.remote(e, logs)` is
    `hub.report_epoch.remote(run_id, e, logs)`."""

    def __init__(self, hub, run_id):
        self.hub, self.run_id = hub, run_id

    def __getattr__(self, name):
        if name.startswith("_") or "hub" not in self.__dict__:
            raise AttributeError(name)
        method, run_id = getattr(self.hub, name), self.run_id

        class Bound:
            @staticmethod
            def remote(*args):
                return method.remote(run_id, *args)

        return Bound


class HubActor(Hub):
    """The hub as Ray runs it: at the server's CPU priority, so progress and Stop are not starved (priority)."""

    def __init__(self):
        priority.as_a_server_worker()
        super().__init__()


@functools.cache
def hub_class():
    return import_ray().remote(HubActor)


@functools.cache
def task_function():
    """train_task as a one-off Ray task (a process of its own): what the worker actors run, without their warmth."""
    return import_ray().remote(train_task)


def node_where(ray):
    """Where this Ray worker process runs: {"executor": "ray", "node", "host", "address", "pid", "gpus"}."""
    context = ray.get_runtime_context()
    return {"executor": "ray", "node": context.get_node_id(), "host": socket.gethostname(),
            "address": ray.util.get_node_ip_address(), "pid": os.getpid(),
            "gpus": [str(gpu) for gpu in context.get_accelerator_ids().get("GPU", [])]}


def train_task(config_dict, dataset, progress, who, where=None, warm=training.WARM):
    """Train on this node, report to the hub, send the run's files back (a worker actor runs it, keeping the compiled
    network in warm). who (a Who as a dict) is asked again here, as every page and the command line are asked:
    a training sent for someone who may not train does not."""
    import ray

    permissions.require(permissions.Who(**who), "train")

    catalogue.remember(dataset.info)  # an imported dataset that this node's disk does not hold
    config = training.TrainConfig.from_dict(config_dict)
    where = where or node_where(ray)
    progress.started.remote(where)
    stop, done = threading.Event(), threading.Event()

    def watch():  # Stop, read off the actor a few times a second (not on every batch)
        while not done.wait(POLL_SECONDS):
            try:
                if ray.get(progress.should_stop.remote(), timeout=30):
                    stop.set()
            except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
                return  # the actor's node died: nobody can press Stop any more, the training goes on

    threading.Thread(target=watch, name="cnnlab-stop", daemon=True).start()
    try:
        result = training.train(config, on_epoch_end=lambda epoch, logs: progress.report_epoch.remote(epoch, logs),
                                on_batch_end=lambda batch, logs: progress.report_batch.remote(batch, logs),
                                should_stop=stop.is_set, dataset=dataset, warm=warm)
    finally:
        done.set()
        progress.end.remote()
    result.trained_on = dict(where, network=result.trained_on.get("network"))
    return result.detach_model(warm)
