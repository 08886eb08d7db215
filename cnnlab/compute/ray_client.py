"""Trainings on a Ray cluster, as the app sees them (RayExecutor): connecting, submitting a training once for every
server of the class, following its progress and Stop, and clear messages when the cluster is out of reach.

On Ray a training is a task. The dataset goes into Ray's object store once per dataset, so a lab PC
needs no data of its own; the task sends back the run's files (weights, probabilities, history) and
the app writes them into its own store, atomically, like a training of its own: no shared disk.
Progress and Stop travel through one small actor of the cluster (the hub), which knows every training
by its run's id, so app servers attached to one cluster that ask for the same settings share one training.
A GPU node takes a training on its GPU (one per GPU; the task's process ends with it, which frees TensorFlow's GPU
memory); CPU nodes take the rest, CPUS_PER_TRAINING cores each. A node that dies mid-training fails
that training with a clear message and nothing partial is stored.
"""

import os
import re
import threading
import time
import uuid

from cnnlab import training
from cnnlab.compute.in_process import POLL_SECONDS
from cnnlab.compute.ray_hub import (
    KEEP_FINISHED_SECONDS,
    NAMESPACE,
    Training,
    answers,
    first_line,
    hub_class,
    import_ray,
    node_here,
    package_folder,
    task_function,
)
from cnnlab.errors import CnnlabError, ConfigError, RayUnavailable, TrainingLost

ADDRESS_VARIABLE = "CNNLAB_RAY_ADDRESS"
CPUS_VARIABLE = "CNNLAB_RAY_CPUS_PER_TRAINING"
CPUS_PER_TRAINING = 2  # a CPU training's share of a node; TensorFlow gets little from more on small networks
ADDRESS = re.compile(r"^(local|\[?[A-Za-z0-9_.:-]+\]?:\d{1,5})$")


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
            ray = import_ray()
            if not ray.is_initialized():
                options = dict(namespace=NAMESPACE, log_to_driver=False, configure_logging=False,
                               runtime_env={"py_modules": [package_folder()]})
                try:
                    if self.address == "local":
                        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, **options)
                    else:
                        answers(self.address)  # Ray itself would wait minutes for a head that is not there
                        ray.init(address=self.address, **options)
                except Exception as error:  # ConnectionError, an authentication error, a timeout: say which
                    raise RayUnavailable("error.ray.unreachable", address=self.address,
                                         reason=first_line(error)) from None
            if self.address == "local":
                addresses = {node.get("NodeManagerAddress") for node in ray.nodes()}
                if addresses != {"127.0.0.1"}:
                    ray.shutdown()
                    raise RayUnavailable("error.ray.not_private", addresses=", ".join(sorted(map(str, addresses))))
            self._connected = True

    def _nodes(self):
        self.connect()
        return [node for node in import_ray().nodes() if node.get("Alive")]

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
        for node in import_ray().nodes():
            resources = node.get("Resources", {})
            rows.append({"node": node["NodeID"], "host": node.get("NodeManagerHostname", ""),
                         "address": node.get("NodeManagerAddress", ""), "cpus": int(resources.get("CPU", 0)),
                         "gpus": int(resources.get("GPU", 0)), "alive": bool(node.get("Alive")),
                         "training": training_on.get(node["NodeID"], [])})
        return rows

    def _resources(self):
        """A GPU when one is free; else a CPU training's share, no more than the largest node has."""
        ray = import_ray()
        if ray.available_resources().get("GPU", 0) >= 1:
            return {"num_gpus": 1, "num_cpus": 1}
        largest = max((node.get("Resources", {}).get("CPU", 0) for node in self._nodes()), default=1)
        return {"num_cpus": max(1.0, min(cpus_per_training(), largest))}

    def _hub(self, ray):
        """The cluster's hub actor, found by its name (started by the first app server that needs it)."""
        with self._lock:
            hub = getattr(self, "_hub_handle", None)
            if hub is None:
                hub = self._hub_handle = hub_class().options(
                    name="hub", namespace=NAMESPACE, get_if_exists=True, lifetime="detached", num_cpus=0,
                    scheduling_strategy=node_here(ray)).remote()
            return hub

    def _put(self, dataset):
        """The dataset's ObjectRef: put once per dataset (a few stay, the oldest is dropped)."""
        with self._lock:
            ref = self._data.get(dataset.fingerprint)
            if ref is None:
                ref = self._data[dataset.fingerprint] = import_ray().put(dataset)
                while len(self._data) > 3:
                    self._data.pop(next(iter(self._data)))
            return ref

    # ------------------------------------------------------------ one training

    def train(self, config, dataset, on_epoch_end=None, on_batch_end=None, should_stop=None):
        """A TrainResult trained on the cluster (or by another server's identical request already there)."""
        training.check_layers(config, dataset.info)  # a network over the limits is refused here: no task is sent
        self.connect()
        ray = import_ray()
        run_id = config.run_id(dataset.variant, dataset.fingerprint)
        try:
            progress = Training(self._hub(ray), run_id)
            owner = ray.get(progress.claim.remote(self._server))
            if owner:
                task = task_function().options(max_retries=0, name=f"cnnlab {config.architecture_name} {run_id}",
                                               **self._resources())
                result = task.remote(config.to_dict(), self._put(dataset), progress)
                progress.set_result.remote([result])
            return self._follow(ray, run_id, progress, owner, on_epoch_end, on_batch_end, should_stop)
        except ray.exceptions.RayTaskError as error:
            cause = getattr(error, "cause", None)
            if isinstance(cause, CnnlabError):
                raise cause from None
            raise CnnlabError("error.training.failed", kind=type(cause or error).__name__,
                              error=first_line(cause or error)) from None
        except ray.exceptions.RayError as error:  # a node, a worker or the owner of the result died
            if isinstance(error, ray.exceptions.RayActorError):
                self._hub_handle = None  # the hub died with its node: the next training starts a new one
            raise TrainingLost("error.ray.lost", reason=first_line(error)) from None
        finally:
            self._where.pop(run_id, None)

    def _follow(self, ray, run_id, progress, owner, on_epoch_end, on_batch_end, should_stop):
        """Pass the training's progress on to the callbacks until its result is in; Stop leaves it."""
        seen = {"epochs": 0, "batch": (-1, -1)}
        left, result, trained = False, None, None

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
            return self._passed_on(state, seen, run_id, on_epoch_end, on_batch_end)

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
            _let_go(progress, trained, owner)

    def _passed_on(self, state, seen, run_id, on_epoch_end, on_batch_end):
        """The hub's state, after its new epochs and latest batch were passed on to the callbacks (seen: how far)."""
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


def _let_go(progress, trained, owner):
    """This server is done with a training: a finished one lingers a little for servers that asked for it too;
    a stopped, failed or lost one is forgotten at once, so that the same settings asked again train afresh."""
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
