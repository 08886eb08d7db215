"""Ray's side of a training: the hub actor that makes identical settings train once across the cluster, and the
task that trains on a node with cnnlab's own code (shipped as runtime_env py_modules)."""

import functools
import os
import socket
import threading

from cnnlab import training
from cnnlab.compute.in_process import POLL_SECONDS
from cnnlab.data import catalogue
from cnnlab.errors import RayUnavailable

NAMESPACE = "cnnlab"
CONNECT_SECONDS = 5.0  # how long a cluster's head may take to answer at all
KEEP_FINISHED_SECONDS = 60  # a finished training's actor lingers, so other servers can still pick up its result


def import_ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable("error.ray.not_installed") from None
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
    """Every training on the cluster: its progress, its result and the servers waiting for it (one Ray actor).

    One long-lived actor rather than one per training: starting an actor starts a process, about 0.9 s on
    two cores for every training.
    """

    def __init__(self):
        self.trainings = {}  # run id -> its state (see claim)

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
                "result": training["result"], "finished": training["finished"]}

    def forget(self, run_id):
        self.trainings.pop(run_id, None)


class Training:
    """One training's view of the hub: `training.report_epoch.remote(e, logs)` is `hub.report_epoch.remote(run_id, e, logs)`."""

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


@functools.cache
def hub_class():
    return import_ray().remote(Hub)


@functools.cache
def task_function():
    return import_ray().remote(train_task)


def train_task(config_dict, dataset, progress):
    """A Ray task: train on this node, report to the hub, send the run's files back."""
    import ray

    catalogue.remember(dataset.info)  # an imported dataset that this node's disk does not hold
    config = training.TrainConfig.from_dict(config_dict)
    context = ray.get_runtime_context()
    where = {"executor": "ray", "node": context.get_node_id(), "host": socket.gethostname(),
             "address": ray.util.get_node_ip_address(), "pid": os.getpid(),
             "gpus": [str(gpu) for gpu in context.get_accelerator_ids().get("GPU", [])]}
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
                                should_stop=stop.is_set, dataset=dataset, warm=training.WARM)
    finally:
        done.set()
        progress.end.remote()
    result.trained_on = dict(where, network=result.trained_on.get("network"))
    return result.detach_model(training.WARM)
