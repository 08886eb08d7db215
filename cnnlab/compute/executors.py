"""Where a training runs: in this process (the default), or as a task on a Ray cluster.

CNNLAB_RAY_ADDRESS (or `--ray ADDRESS` on the command line) chooses:
    unset       train in this process, one training at a time (TensorFlow already uses every core)
    local       a private Ray instance on this machine; every port it opens is on 127.0.0.1
    HOST:PORT   a cluster: `ray start --head` on the GPU box, `ray start --address=HOST:PORT` on each lab PC

On Ray a training is a task. The dataset goes into Ray's object store once per dataset, so a lab PC
needs no data of its own; the task sends back the run's files (weights, probabilities, history) and
the app writes them into its own store, atomically, like a training of its own: no shared disk.
Progress and Stop travel through one small actor of the cluster (the hub), which knows every training
by its run's id, so app servers attached to one cluster that ask for the same settings share one training. A GPU node takes a
training on its GPU (one per GPU; the task's process ends with it, which frees TensorFlow's GPU
memory); CPU nodes take the rest, CPUS_PER_TRAINING cores each. A node that dies mid-training fails
that training with a clear message and nothing partial is stored.
"""

import functools
import os
import re
import socket
import threading
import time
import uuid

from cnnlab.data import datasets
from cnnlab import training
from cnnlab.errors import CnnlabError, ConfigError

ADDRESS_VARIABLE = "CNNLAB_RAY_ADDRESS"
CPUS_VARIABLE = "CNNLAB_RAY_CPUS_PER_TRAINING"
CPUS_PER_TRAINING = 2  # a CPU training's share of a node; TensorFlow gets little from more on small networks
NAMESPACE = "cnnlab"
CONNECT_SECONDS = 5.0  # how long a cluster's head may take to answer at all
POLL_SECONDS = 0.2  # how often the app reads a Ray training's progress, and a task reads its Stop
KEEP_FINISHED_SECONDS = 60  # a finished training's actor lingers, so other servers can still pick up its result
ADDRESS = re.compile(r"^(local|\[?[A-Za-z0-9_.:-]+\]?:\d{1,5})$")


class RayUnavailable(CnnlabError):
    """The Ray cluster named by CNNLAB_RAY_ADDRESS or --ray cannot be reached (or Ray is not installed)."""


class TrainingLost(CnnlabError):
    """The node or process that ran a training died; nothing of it was stored."""


class LocalExecutor:
    """Trains in this process: one training at a time, as a single server always did."""

    kind = "local"
    address = None

    def capacity(self):
        return 1

    def workers(self):
        """This server as the one worker: [{"node", "host", "cpus", "gpus", "alive"}]."""
        return [{"node": socket.gethostname(), "host": socket.gethostname(), "address": "127.0.0.1",
                 "cpus": os.cpu_count(), "gpus": 1 if training.gpu_name() else 0, "alive": True}]

    def train(self, config, dataset, on_epoch_end=None, on_batch_end=None, should_stop=None):
        return training.train(config, on_epoch_end=on_epoch_end, on_batch_end=on_batch_end,
                              should_stop=should_stop, dataset=dataset)

    def prepare(self, config):
        """Get config's network ready before it is asked for; here (one training per process) nothing to do."""
        return False


class ProcessExecutor(LocalExecutor):
    """Trains on this machine in one worker process, so that the web server's pages stay responsive meanwhile.

    In the server's own process a training holds Python's lock for much of every batch, and pages wait for
    it (bench/classroom.py measured p95 1.0 s against 0.27 s idle, however few threads TensorFlow had).
    The worker starts with the first training (TensorFlow is imported there once), keeps the datasets it
    was sent and the networks it compiled (training.WARM: training one again skips tracing), and ends after
    IDLE_SECONDS without a training, giving its memory back.
    """

    IDLE_SECONDS = 300.0

    def __init__(self):
        self._lock = threading.Lock()
        self._pool = self._channel = self._timer = None
        self._sent = set()  # fingerprints of the datasets the worker holds
        self._prepared = set()  # network_signature, seed and rate of the networks the worker was asked to warm up

    def _start(self):
        """The worker process and its (progress queue, stop event); started when there is none."""
        import concurrent.futures
        import multiprocessing

        if self._timer is not None:
            self._timer.cancel()
        if self._pool is None:
            context = multiprocessing.get_context("spawn")  # never fork a process that may hold TensorFlow
            self._channel = (context.Queue(), context.Event())
            self._pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=context, initializer=_worker_ready,
                                                                initargs=self._channel)
            self._sent, self._prepared = set(), set()
        return self._pool, self._channel

    def _count_idle(self):
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(self.IDLE_SECONDS, self._stop_when_idle)
        self._timer.daemon = True
        self._timer.start()

    def prepare(self, config):
        """Start the worker and have it compile and trace config's network while the student still chooses.

        Returns at once; True when the worker was asked. Nothing is asked while a training runs (the worker is
        busy, and whatever it trains stays warm there), for a network asked for before, or for one that cannot be
        built or is over the server's limits (counted here, in plain Python: no worker starts for it, and the form
        says why when the student presses Train).
        """
        import concurrent.futures.process

        try:
            training.check_layers(config)
        except CnnlabError:
            return False
        signature = training.network_signature(config) + (config.seed, config.learning_rate)  # and its start state
        if not self._lock.acquire(blocking=False):
            return False
        try:
            if signature in self._prepared and self._pool is not None:
                return False
            pool, _ = self._start()
            _submit(pool, _warm_up_in_worker, config.to_dict())
            self._prepared.add(signature)
            self._count_idle()
            return True
        except concurrent.futures.process.BrokenProcessPool:  # the worker died: the next training starts another
            self._pool = None
            return False
        finally:
            self._lock.release()

    def close(self):
        """End the worker now (a later training starts another)."""
        if self._timer is not None:
            self._timer.cancel()
        self._stop_when_idle()

    def _stop_when_idle(self):
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    def train(self, config, dataset, on_epoch_end=None, on_batch_end=None, should_stop=None):
        import concurrent.futures.process
        import queue

        with self._lock:  # one training at a time
            pool, (progress, stop) = self._start()
            stop.clear()
            while not progress.empty():  # nothing left over from a training whose reports were cut off
                progress.get_nowait()
            known = dataset.fingerprint in self._sent
            try:
                future = _submit(pool, _train_in_worker, config.to_dict(), dataset.fingerprint,
                                 None if known else dataset)
                self._sent.add(dataset.fingerprint)
                ended = False
                while not ended:
                    if should_stop is not None and should_stop():
                        stop.set()
                    elif stop.is_set():  # a Stop taken back (a student rejoined) before the worker saw it: forgotten
                        stop.clear()
                    try:
                        kind, index, logs = progress.get(timeout=POLL_SECONDS)
                    except queue.Empty:
                        if future.done() and future.exception() is not None:
                            break
                        continue
                    if kind == "epoch" and on_epoch_end is not None:
                        on_epoch_end(index, logs)
                    elif kind == "batch" and on_batch_end is not None:
                        on_batch_end(index, logs)
                    ended = kind == "end"
                return future.result()
            except concurrent.futures.process.BrokenProcessPool:  # the worker died (killed, out of memory)
                self._pool = None
                raise TrainingLost("error.worker.lost") from None
            finally:
                self._count_idle()


_MAIN_LOCK = threading.Lock()


def _submit(pool, function, *args):
    """pool.submit, starting the worker (if it must) without the parent's __main__.

    A spawned process runs the parent's __main__ module again before anything else, and in a Streamlit server
    that is the page being run: the worker would lay out the page (and open it again, and ask for another
    worker). What the worker runs lives in cnnlab, so it is started as if from a bare interpreter.
    """
    import sys
    import types

    with _MAIN_LOCK:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            return pool.submit(function, *args)
        finally:
            if main is not None:
                sys.modules["__main__"] = main


_worker = {"datasets": {}}  # in the worker process: the progress queue, the stop event, datasets by fingerprint


def _worker_ready(progress, stop):
    _worker.update(progress=progress, stop=stop)
    parent = os.getppid()

    def orphaned():  # the server was killed: stop training for nobody, at once
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=orphaned, name="cnnlab-parent-watch", daemon=True).start()


def _warm_up_in_worker(config_dict):
    try:
        training.warm_up(training.TrainConfig.from_dict(config_dict), training.WARM)
    except Exception:  # noqa: BLE001 -- a warm-up is a favour: the training itself will say what is wrong
        pass


def _train_in_worker(config_dict, fingerprint, dataset):
    """In the worker process: train, report every epoch and throttled batches, then an end mark; the weights as bytes."""
    if dataset is not None:
        _worker["datasets"][fingerprint] = dataset
    datasets.remember(_worker["datasets"][fingerprint].info)  # an imported dataset's classes and shape
    progress, stop = _worker["progress"], _worker["stop"]
    try:
        result = training.train(training.TrainConfig.from_dict(config_dict),
                                on_epoch_end=lambda epoch, logs: progress.put(("epoch", epoch, logs)),
                                on_batch_end=lambda batch, logs: progress.put(("batch", batch, logs)),
                                should_stop=stop.is_set, dataset=_worker["datasets"][fingerprint],
                                warm=training.WARM)
    finally:
        progress.put(("end", None, None))  # after every report: the app reads up to here, in order
    return result.detach_model(training.WARM)


def cpus_per_training():
    value = os.environ.get(CPUS_VARIABLE) or CPUS_PER_TRAINING
    try:
        cpus = float(value)
    except ValueError:
        cpus = 0
    if not 0 < cpus <= 1024:
        raise ConfigError("error.ray.bad_cpus", value=str(value), name=CPUS_VARIABLE)
    return cpus


class RayExecutor:
    """Trains on a Ray cluster: several trainings at once, one per GPU and per CPUS_PER_TRAINING cores."""

    kind = "ray"

    def __init__(self, address):
        self.address = address
        self._lock = threading.Lock()
        self._data = {}  # dataset fingerprint -> ObjectRef of the Dataset, put in the object store once
        self._server = uuid.uuid4().hex[:12]  # this app server, among those attached to the cluster
        self._where = {}  # run id -> the node training it (for the Teacher page)
        self._connected = False

    def prepare(self, config):
        """Nothing asked ahead on a cluster: its workers keep the networks they trained (training.WARM)."""
        return False

    # ------------------------------------------------------------ the cluster

    def connect(self):
        """Start or join Ray once per process; RayUnavailable with the reason when it cannot."""
        with self._lock:
            if self._connected:
                return
            if not ADDRESS.match(str(self.address)):
                raise RayUnavailable("error.ray.bad_address", address=str(self.address))
            if self.address == "local":
                # read by Ray when it is imported: the private instance's node and every port it opens stay on
                # 127.0.0.1, never on the school's network (stack notes); checked below
                os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
            ray = _ray()
            if not ray.is_initialized():
                options = dict(namespace=NAMESPACE, log_to_driver=False, configure_logging=False,
                               runtime_env={"py_modules": [_package_folder()]})
                try:
                    if self.address == "local":
                        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, **options)
                    else:
                        _answers(self.address)  # Ray itself would wait minutes for a head that is not there
                        ray.init(address=self.address, **options)
                except Exception as error:  # ConnectionError, an authentication error, a timeout: say which
                    raise RayUnavailable("error.ray.unreachable", address=self.address,
                                         reason=_first_line(error)) from None
            if self.address == "local":
                addresses = {node.get("NodeManagerAddress") for node in ray.nodes()}
                if addresses != {"127.0.0.1"}:
                    ray.shutdown()
                    raise RayUnavailable("error.ray.not_private", addresses=", ".join(sorted(map(str, addresses))))
            self._connected = True

    def _nodes(self):
        self.connect()
        return [node for node in _ray().nodes() if node.get("Alive")]

    def capacity(self):
        """How many trainings the cluster runs at once: one per GPU, one per CPUS_PER_TRAINING other cores."""
        per = cpus_per_training()
        slots = 0
        for node in self._nodes():
            resources = node.get("Resources", {})
            gpus = int(resources.get("GPU", 0))
            slots += gpus + int(max(0.0, resources.get("CPU", 0) - gpus) // per)
        return max(1, slots)

    def workers(self):
        """Every node: [{"node", "host", "address", "cpus", "gpus", "alive", "training"}]."""
        training_on = {}
        for run_id, node in list(self._where.items()):
            training_on.setdefault(node, []).append(run_id)
        self.connect()  # a teacher sees the cluster before its first training, or why it cannot be reached
        rows = []
        for node in _ray().nodes():
            resources = node.get("Resources", {})
            rows.append({"node": node["NodeID"], "host": node.get("NodeManagerHostname", ""),
                         "address": node.get("NodeManagerAddress", ""), "cpus": int(resources.get("CPU", 0)),
                         "gpus": int(resources.get("GPU", 0)), "alive": bool(node.get("Alive")),
                         "training": training_on.get(node["NodeID"], [])})
        return rows

    def _resources(self):
        """A GPU when one is free; else a CPU training's share, no more than the largest node has."""
        ray = _ray()
        if ray.available_resources().get("GPU", 0) >= 1:
            return {"num_gpus": 1, "num_cpus": 1}
        largest = max((node.get("Resources", {}).get("CPU", 0) for node in self._nodes()), default=1)
        return {"num_cpus": max(1.0, min(cpus_per_training(), largest))}

    def _hub(self, ray):
        """The cluster's hub actor, found by its name (started by the first app server that needs it)."""
        with self._lock:
            hub = getattr(self, "_hub_handle", None)
            if hub is None:
                hub = self._hub_handle = _hub_class().options(
                    name="hub", namespace=NAMESPACE, get_if_exists=True, lifetime="detached", num_cpus=0,
                    scheduling_strategy=_here(ray)).remote()
            return hub

    def _put(self, dataset):
        """The dataset's ObjectRef: put once per dataset (a few stay, the oldest is dropped)."""
        with self._lock:
            ref = self._data.get(dataset.fingerprint)
            if ref is None:
                ref = self._data[dataset.fingerprint] = _ray().put(dataset)
                while len(self._data) > 3:
                    self._data.pop(next(iter(self._data)))
            return ref

    # ------------------------------------------------------------ one training

    def train(self, config, dataset, on_epoch_end=None, on_batch_end=None, should_stop=None):
        """A TrainResult trained on the cluster (or by another server's identical request already there)."""
        training.check_layers(config, dataset.info)  # a network over the limits is refused here: no task is sent
        self.connect()
        ray = _ray()
        run_id = config.run_id(dataset.variant, dataset.fingerprint)
        try:
            progress = _Training(self._hub(ray), run_id)
            owner = ray.get(progress.claim.remote(self._server))
            if owner:
                task = _task_function().options(max_retries=0, name=f"cnnlab {config.architecture_name} {run_id}",
                                                **self._resources())
                result = task.remote(config.to_dict(), self._put(dataset), progress)
                progress.set_result.remote([result])
            return self._follow(ray, run_id, progress, owner, on_epoch_end, on_batch_end, should_stop)
        except ray.exceptions.RayTaskError as error:
            cause = getattr(error, "cause", None)
            if isinstance(cause, CnnlabError):
                raise cause from None
            raise CnnlabError("error.training.failed", kind=type(cause or error).__name__,
                              error=_first_line(cause or error)) from None
        except ray.exceptions.RayError as error:  # a node, a worker or the owner of the result died
            if isinstance(error, ray.exceptions.RayActorError):
                self._hub_handle = None  # the hub died with its node: the next training starts a new one
            raise TrainingLost("error.ray.lost", reason=_first_line(error)) from None
        finally:
            self._where.pop(run_id, None)

    def _follow(self, ray, run_id, progress, owner, on_epoch_end, on_batch_end, should_stop):
        """Pass the training's progress on to the callbacks until its result is in; Stop leaves it."""
        seen = {"epochs": 0, "batch": (-1, -1)}
        left, result, trained = False, None, None

        def passed_on(state):
            if state["where"]:
                self._where[run_id] = state["where"]["node"]
            for epoch, logs in state["epochs"]:
                seen["epochs"] += 1
                if on_epoch_end is not None:
                    on_epoch_end(epoch, logs)
            batch = state["batch"]
            if (batch is not None and on_batch_end is not None and batch[0] == seen["epochs"]
                    and (batch[0], batch[1]) > seen["batch"]):
                seen["batch"] = (batch[0], batch[1])
                on_batch_end(batch[1], batch[2])
            return state

        def read():
            """The actor's state, or None once the actor is gone (its node died): the training itself goes on."""
            if seen.get("lost"):
                return None
            try:
                state = ray.get(progress.state.remote(seen["epochs"]), timeout=30)
            except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
                state = None
            if state is None:  # the hub went with its node, or forgot a training that failed elsewhere
                seen["lost"] = True
                return None
            return passed_on(state)

        try:
            while True:
                stopping = should_stop is not None and not seen.get("lost") and should_stop()
                if stopping and not left:
                    progress.leave.remote(self._server)  # it ends when no server waits for it any more
                    left = True
                elif left and not stopping and not seen.get("lost"):  # asked for again (a student rejoined): this
                    progress.claim.remote(self._server)  # server waits for it again, and a stop it got alone is off
                    left = False
                state = read()
                if result is None and state is not None and state["result"] is not None:
                    result = state["result"][0]
                if result is None and state is None:
                    raise TrainingLost("error.ray.lost", reason="the cluster's hub actor is gone")
                if result is None:
                    time.sleep(POLL_SECONDS)
                elif ray.wait([result], timeout=POLL_SECONDS)[0]:
                    break
            trained = ray.get(result)  # raises what the task raised, or why its node or process died
            deadline = time.monotonic() + 5
            while state is not None and not state["finished"] and time.monotonic() < deadline:
                state = read()  # the last reports, in order
            return trained
        finally:
            # a finished training lingers a little for servers that asked for it too; a stopped, failed or lost
            # one is forgotten at once, so that the same settings asked again train afresh
            shared = trained is not None and not trained.stopped
            if not shared:  # forgotten before this thread can ask for the same settings again (in the order sent)
                _forget_quietly(progress)
            elif owner:
                timer = threading.Timer(KEEP_FINISHED_SECONDS, _forget_quietly, args=(progress,))
                timer.daemon = True
                timer.start()


def _forget_quietly(progress):
    try:
        progress.forget.remote()
    except Exception:  # the hub went with its node
        pass


@functools.cache
def executor(address=None, server=False):
    """The executor for an address (None: CNNLAB_RAY_ADDRESS); one per address and process.

    Unset, a training runs in this process (the command line, tests), or for a web server (server=True) in
    a worker process of this machine, so that its pages stay responsive while it trains.
    """
    address = address if address is not None else os.environ.get(ADDRESS_VARIABLE, "")
    address = address.strip()
    if address:
        return RayExecutor(address)
    return ProcessExecutor() if server else LocalExecutor()


# ---------------------------------------------------------------- Ray's side (imported only when used)

def _ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable("error.ray.not_installed") from None
    return ray


def _package_folder():
    """cnnlab itself travels to the workers (runtime_env py_modules): every node runs the app's own code."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _answers(address, timeout=CONNECT_SECONDS):
    """Raise OSError (within timeout seconds) unless something listens at HOST:PORT."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
        pass


def _first_line(error):
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]


def _here(ray):
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


class _Training:
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
def _hub_class():
    return _ray().remote(Hub)


@functools.cache
def _task_function():
    return _ray().remote(train_task)


def train_task(config_dict, dataset, progress):
    """A Ray task: train on this node, report to the hub, send the run's files back."""
    import ray

    datasets.remember(dataset.info)  # an imported dataset that this node's disk does not hold
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
