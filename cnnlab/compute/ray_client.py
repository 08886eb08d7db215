"""Trainings on a Ray cluster, as the app sees them (RayExecutor): connecting, handing a training to a worker actor
once for every server of the class, following its progress and Stop, and clear messages when the cluster is out of
reach.

On Ray a training runs in a worker actor (cnnlab.compute.ray_workers): a long-lived process per GPU and per
cpus_per_training() cores of every node, which keeps TensorFlow, the datasets it received and its compiled networks
between trainings, as the server's own worker process does. The dataset goes into Ray's object store once per
dataset and an actor fetches it once, so a lab PC needs no data of its own; the actor sends back the run's files
(weights, probabilities, history) and the app writes them into its own store, atomically, like a training of its
own: no shared disk. Progress and Stop travel through one small actor of the cluster (the hub), which knows every
training by its run's id and every worker actor by its name, so app servers attached to one cluster that ask for the
same settings share one training, and their trainings share the actors. A node (or an actor) that dies mid-training
fails that training with a clear message and nothing partial is stored; another actor takes the next one.
"""

import os
import re
import threading
import time
import uuid

from cnnlab import training
from cnnlab.classroom import permissions
from cnnlab.compute import priority
from cnnlab.compute.in_process import POLL_SECONDS
from cnnlab.compute.ray_hub import (
    NAMESPACE,
    Training,
    answers,
    first_line,
    hub_class,
    import_ray,
    node_here,
    package_folder,
)
from cnnlab.compute.ray_sending import Sending, let_go, received, result_of
from cnnlab.compute.ray_warming import Warming
from cnnlab.compute.ray_workers import Pool
from cnnlab.errors import CnnlabError, ConfigError, RayUnavailable, TrainingLost

ADDRESS_VARIABLE = "CNNLAB_RAY_ADDRESS"
CPUS_VARIABLE = "CNNLAB_RAY_CPUS_PER_TRAINING"
CPUS_PER_TRAINING = 2  # a CPU training's share of a node; TensorFlow gets little from more on small networks
MIN_CPUS_PER_TRAINING = 0.25  # at most four worker actors per core
NODES_SECONDS = 10.0  # how long the cluster's nodes (and so its worker actors) are trusted before they are read again
ADDRESS = re.compile(r"^(local|\[?[A-Za-z0-9_.:-]+\]?:\d{1,5})$")


def cpus_per_training():
    value = os.environ.get(CPUS_VARIABLE) or CPUS_PER_TRAINING
    try:
        cpus = float(value)
    except ValueError:
        cpus = 0
    if not MIN_CPUS_PER_TRAINING <= cpus <= 1024:  # a tiny share would start thousands of TensorFlow processes
        raise ConfigError("error.ray.bad_cpus", value=str(value), name=CPUS_VARIABLE)
    return cpus


class RayExecutor(Warming):
    """Trains on a Ray cluster, in its worker actors: several trainings at once, one per GPU and per
    CPUS_PER_TRAINING cores."""

    kind = "ray"

    def __init__(self, address):
        self.address = address
        self._lock = threading.Lock()
        self._data = {}  # dataset fingerprint -> ObjectRef of the Dataset, put in the object store once
        self._server = uuid.uuid4().hex[:12]  # this app server, among those attached to the cluster
        self._where = {}  # run id -> the node training it (for the Teacher page)
        self._connected = False
        self._pool = Pool()
        self._names = (-float("inf"), [])  # (when read, the worker actors' names)
        super().__init__()

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
                # its worker processes train at the priority of the server's own worker, not Ray's 15 (priority)
                os.environ.setdefault("RAY_worker_niceness", str(priority.SERVER_NICENESS))
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
        """How many trainings the cluster runs at once: its worker actors, one per GPU and per cpus_per_training()
        other cores of each live node."""
        return max(1, len(self._worker_names(fresh=True)))

    def start(self, timeout=120.0):
        """Start the worker actors of the live nodes now and wait (up to timeout seconds) until each has imported
        TensorFlow, as they have on a cluster joined a while ago (capacity() starts them without waiting); how many
        are ready."""
        ray = import_ray()
        names = self._worker_names(fresh=True)
        handles = [self._pool.handle(name) for name in names]
        waiting = [handle.ready.remote() for handle in handles if handle is not None]
        done, _ = ray.wait(waiting, num_returns=len(waiting), timeout=timeout) if waiting else ([], [])
        ready = []
        for ref, name in zip(waiting, [name for name, handle in zip(names, handles) if handle is not None]):
            if ref in done:  # an actor that failed to start is done too
                try:
                    ray.get(ref)
                    ready.append(name)
                except ray.exceptions.RayError:
                    pass
        deadline = time.monotonic() + timeout  # and the hub has heard from them (it picks no other)
        while ready and ray.get(self._hub(ray).unheard_of.remote(ready), timeout=30) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        return len(ready)

    def _worker_names(self, fresh=False):
        """The worker actors of the live nodes, started where missing (re-read every NODES_SECONDS)."""
        when, names = self._names
        if fresh or time.monotonic() - when > NODES_SECONDS:
            nodes, ray = self._nodes(), import_ray()
            for attempt in range(2):
                hub = self._hub(ray)  # before the actors, which report to it as soon as they have started
                try:
                    with self._lock:
                        names = self._pool.ensure(ray, nodes, cpus_per_training(), hub)
                        self._names = (time.monotonic(), names)
                    break
                except ray.exceptions.RayActorError as error:  # the hub died (with its node): a new one, once
                    self._hub_handle = None
                    if attempt:
                        raise RayUnavailable("error.ray.unreachable", address=self.address,
                                             reason=first_line(error)) from None
                except ray.exceptions.RayError as error:  # the cluster does not answer in time
                    raise RayUnavailable("error.ray.unreachable", address=self.address,
                                         reason=first_line(error)) from None
        return names

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

    def actors(self):
        """Every worker actor of the live nodes and what it holds, for the Teacher page: [{"node", "host", "slot",
        "number", "gpu", "cpus", "datasets": [titles], "networks": [labels], "training": architecture or None,
        "niceness": its CPU priority, None before it reported (cnnlab.compute.priority), "here": on this server's
        node, "server_niceness": this server's, "below_server": at a lower priority than this server}]
        (RayUnavailable when the cluster does not answer)."""
        ray = import_ray()
        try:
            names = self._worker_names(fresh=True)
            held = ray.get(self._hub(ray).held.remote(names), timeout=30)
            hosts = {node["NodeID"]: node.get("NodeManagerHostname", "") for node in self._nodes()}
            here = ray.get_runtime_context().get_node_id()  # this app server's node (it runs on one of the cluster)
            server = priority.current() or 0  # this server's niceness
        except CnnlabError:
            raise
        except Exception as error:  # noqa: BLE001 -- Ray's own errors, or a cluster gone mid-way: the page says so
            self._hub_handle = None
            raise RayUnavailable("error.ray.unreachable", address=self.address, reason=first_line(error)) from None
        rows = []
        for name in names:
            _, _, node, slot = name.split(" ")
            # (an older hub, still running since before an upgrade, says nothing of the niceness)
            holds = {"datasets": [], "networks": [], "now": None, "niceness": None, **held.get(name, {})}
            cpus = self._pool.resources[name].get("num_cpus", 0)
            rows.append({"node": node, "host": hosts.get(node, ""), "slot": slot, "number": int(slot[3:]) + 1,
                         "gpu": slot.startswith("gpu"), "cpus": int(cpus) if float(cpus).is_integer() else cpus,
                         "datasets": holds["datasets"], "networks": holds["networks"], "training": holds["now"],
                         "niceness": holds["niceness"], "here": node == here,
                         "server_niceness": server,
                         "below_server": holds["niceness"] is not None and holds["niceness"] > server})
        return rows

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

    def train(self, config, dataset, on_epoch_end=None, on_batch_end=None, should_stop=None, who=permissions.OWNER):
        """A TrainResult trained on the cluster (or by another server's identical request already there); who asked
        is checked here and again by the worker actor on its node (cnnlab.classroom.permissions)."""
        permissions.require(who, "train")
        training.check_layers(config, dataset.info)  # a network over the limits is refused here: nothing is sent
        self.connect()
        ray = import_ray()
        run_id = config.run_id(dataset.variant, dataset.fingerprint)
        try:
            progress = Training(self._hub(ray), run_id)
            owner = ray.get(progress.claim.remote(self._server))
            sending = Sending(self, ray, config, dataset, progress, who) if owner else None
            return self._follow(ray, run_id, progress, sending, on_epoch_end, on_batch_end, should_stop)
        except ray.exceptions.RayTaskError as error:
            cause = getattr(error, "cause", None)
            if isinstance(cause, CnnlabError):
                raise cause from None
            raise CnnlabError("error.training.failed", kind=type(cause or error).__name__,
                              error=first_line(cause or error)) from None
        except ray.exceptions.RayError as error:  # the hub, or the owner of the result, died (a worker: _follow)
            if isinstance(error, ray.exceptions.RayActorError):
                self._hub_handle = None  # the hub died with its node: the next training starts a new one
            raise TrainingLost("error.ray.lost", reason=first_line(error)) from None
        except TrainingLost:
            self._hub_handle = None  # the hub went (with its node) or forgot the training: found again next time
            raise
        finally:
            self._where.pop(run_id, None)

    def _follow(self, ray, run_id, progress, sending, on_epoch_end, on_batch_end, should_stop):
        """Pass the training's progress on to the callbacks until its result is in; Stop leaves it. sending: this
        server's hand on the training when it is the one to start it (None: another server's)."""
        seen = {"epochs": 0, "batch": (-1, -1)}
        left, result, trained, dead = False, None, None, {}

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
            while trained is None:
                stopping = should_stop is not None and not seen.get("lost") and should_stop()
                if stopping and not left:
                    progress.leave.remote(self._server)  # it ends when no server waits for it any more
                    left = True
                elif left and not stopping and not seen.get("lost"):  # asked for again (a student rejoined): this
                    progress.claim.remote(self._server)  # server waits for it again, and a stop it got alone is off
                    left = False
                state = read()
                result = result_of(sending, state, result, dead)
                if result is None:
                    time.sleep(POLL_SECONDS)
                elif ray.wait([result], timeout=POLL_SECONDS)[0]:
                    trained = received(ray, sending, state, result)  # None: its worker died before it began
                    if trained is None:
                        dead.setdefault(result.hex(), time.monotonic())  # its worker died (see result_of)
                        result = None
            deadline = time.monotonic() + 5
            while state is not None and not state["finished"] and time.monotonic() < deadline:
                state = read()  # the last reports, in order
            return trained
        finally:
            if sending is not None and sending.name is not None:  # a worker it never began on (refused, lost)
                progress.release.remote(sending.name)  # is free again at once (a no-op once it began)
            let_go(progress, trained, sending is not None)

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
