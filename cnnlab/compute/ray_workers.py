"""Ray's worker actors: long-lived processes on the cluster's nodes that train as warm as the server's own worker.

A fresh Ray task per training imported TensorFlow, received the data and built and traced its network every time:
3.0–3.6 s more per training than the server's own worker process (bench/classroom.py). A worker actor keeps all
of that between trainings: TensorFlow imported when it starts, the datasets it was sent (by fingerprint, fetched
from the object store once), and up to four compiled networks (training.WARM, the same warm start as the local
worker: a kept network gets the weights a fresh build with the run's seed has). Each node gets one actor per GPU
(memory growth on; one training at a time, so two trainings never share a GPU's memory) and one per
cpus_per_training() other cores (TensorFlow on that many threads); the hub (cnnlab.compute.ray_hub) hands a
training to an idle actor, preferring a GPU, then one that holds its network, then one that holds its data.

The actors are named and detached in the cluster's namespace, one pool for the whole cluster, not one per app
server: an actor holds its cores for as long as it lives, so a second server's own pool would find every core of
the cluster taken and its trainings would wait for ever, and two pools would hold TensorFlow and the data twice on
every lab PC. Shared, every server's trainings go to the same actors (the hub keeps who is busy), and a restarted
server finds them still warm. Their names carry a digest of the code they run and the cores each gets: a server of
another version (or share of cores) ends them once they are idle (never mid-training) and starts its own, so a node
soon trains with the app's own code. An actor that died is noticed when the nodes are read again (every few seconds)
and started again. `ray stop` on a node ends its actors.
"""

import collections
import functools
import hashlib
import os
import pathlib
import time

from cnnlab import training
from cnnlab.classroom import permissions
from cnnlab.compute import priority
from cnnlab.compute.ray_hub import NAMESPACE, import_ray, node_where, package_folder, train_task
from cnnlab.data import catalogue

KEEP_DATASETS = 3  # datasets an actor keeps (each a few to a few hundred MB); the least recently used goes first
ASK_AGAIN_SECONDS = 60.0  # an actor the hub has not heard from is asked to report in at most this often
PREFIX = "worker"


@functools.cache
def code_version():
    """A digest of the code a worker actor runs (all of cnnlab, its messages included): the actors of another version
    are ended once idle."""
    digest, package = hashlib.sha256(), pathlib.Path(package_folder())  # the cnnlab folder itself
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package.parent).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()[:10]


def version(cpus_per_training):
    """What an actor's name carries besides its node and slot: the code's digest and the cores of a CPU actor (two
    servers that share cores differently would otherwise take one another's actors for their own)."""
    return f"{code_version()}c{cpus_per_training:g}"


def network_key(config):
    """What a compiled network kept in training.WARM is known by, on the hub (its layers, input, classes, optimizer)."""
    return hashlib.sha256(repr(training.network_signature(config)).encode()).hexdigest()[:16]


def network_label(config):
    """A kept network as the Teacher page names it: its architecture and optimizer."""
    return f"{config.architecture_name} ({config.optimizer})"


class TrainingWorker:
    """One Ray actor: trains one network at a time on its node, keeping TensorFlow, data and compiled networks."""

    def __init__(self, name):
        import ray

        self.name = name
        priority.as_a_server_worker()  # Ray's niceness 15 starves trainings beside a busy app server
        _devices_of(ray)
        self.device = training.configure_devices()  # TensorFlow imported now; memory growth on this actor's GPU
        self.where = dict(node_where(ray), worker=name)
        self._datasets = collections.OrderedDict()  # fingerprint -> Dataset, least recently used first
        self._networks = {}  # network key -> (its label, TrainConfig) of what it compiled
        self._now = None  # (run id, architecture name) of the training running
        self._hub = None
        self._report()

    def ready(self):
        """Where it runs, once it has started (TensorFlow imported)."""
        return self.where

    def report_in(self):
        """Tell the hub again what this actor holds, finding the hub by its name (a hub started again since knows
        nothing of it, and picks no actor it has not heard from)."""
        self._hub = None
        self._report()

    def holds(self):
        """{"where", "datasets": {fingerprint: title}, "networks": {key: label}, "training", "now", "niceness"}."""
        networks = {key: name for key, (name, config) in self._networks.items() if config in training.WARM}
        return {"where": self.where, "datasets": {fp: data.info.title for fp, data in self._datasets.items()},
                "networks": networks, "training": self._now and self._now[0], "now": self._now and self._now[1],
                "niceness": priority.current()}

    def _report(self):
        """Tell the hub what this actor holds (found by its name: it may have been started again since)."""
        import ray

        for _ in range(2):
            try:
                if self._hub is None:
                    self._hub = ray.get_actor("hub", namespace=NAMESPACE)
                self._hub.worker_report.remote(self.name, self.holds())
                return
            except Exception:  # noqa: BLE001 -- no hub (yet, or any more): the next report tries again
                self._hub = None

    def _remember(self, config):
        self._networks = {key: kept for key, kept in self._networks.items() if kept[1] in training.WARM}
        self._networks[network_key(config)] = (network_label(config), config)

    def warm_up(self, config_dict, info):
        """Compile and trace config's network ahead of its training (training.warm_up); False when it could not."""
        catalogue.remember(info)  # an imported dataset that this node's disk does not hold
        config = training.TrainConfig.from_dict(config_dict)
        try:
            training.warm_up(config, training.WARM)
            self._remember(config)
            return True
        except Exception:  # noqa: BLE001 -- a warm-up is a favour: the training itself will say what is wrong
            return False
        finally:
            self._report()

    def train(self, config_dict, fingerprint, data, progress, who, info):
        """Train (ray_hub.train_task) on the dataset of fingerprint, fetched from data ([ObjectRef]) when this actor
        does not hold it yet; the run's files come back as the training's result."""
        import ray

        permissions.require(permissions.Who(**who), "train")  # asked again on the node, before anything is fetched
        catalogue.remember(info)
        config = training.TrainConfig.from_dict(config_dict)
        self._now, self._hub = (progress.run_id, config.architecture_name), progress.hub  # the hub as it is now
        self._report()
        try:
            dataset = self._datasets.pop(fingerprint, None)
            if dataset is None:
                dataset = ray.get(data[0])  # from the object store, once per actor and dataset
            self._datasets[fingerprint] = dataset
            while len(self._datasets) > KEEP_DATASETS:
                self._datasets.popitem(last=False)
            result = train_task(config_dict, dataset, progress, who, where=self.where, warm=training.WARM)
            self._remember(config)
            return result
        finally:
            self._now = None
            self._report()


def _devices_of(ray):
    """A CPU actor sees no GPU (Ray 2.60 leaves CUDA_VISIBLE_DEVICES as it is for an actor that asked for none: every
    CPU actor of the GPU box would train on its GPU beside the GPU actor) and runs TensorFlow on as many threads as
    the cores Ray gave it (by default each would use every core of its node, crowding the others out)."""
    resources = ray.get_runtime_context().get_assigned_resources()
    if resources.get("GPU"):
        return
    os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before TensorFlow first looks for GPUs
    import tensorflow as tf

    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # the devices were initialised already: too late to hide them (not reached: cnnlab's
        pass  # modules import TensorFlow only when first used, after the variable above is set)
    if resources.get("CPU"):
        threads = max(1, int(resources["CPU"]))
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # TensorFlow's runtime started already: it keeps its threads (slower, not wrong)
            pass


@functools.cache
def worker_class():
    return import_ray().remote(TrainingWorker)


def plan(nodes, cpus_per_training):
    """The actors the live nodes get: [(name, node id, resources)], one per GPU and one per cpus_per_training other
    cores; a cluster with no node that large gets one actor on its largest node, with all of that node's cores."""
    slots = []
    for node in nodes:
        resources = node.get("Resources", {})
        gpus, cpus = int(resources.get("GPU", 0)), resources.get("CPU", 0)
        for index in range(gpus):
            slots.append((f"gpu{index}", node, {"num_gpus": 1, "num_cpus": 1 if cpus >= gpus else 0}))
        for index in range(int(max(0.0, cpus - gpus) // cpus_per_training)):
            slots.append((f"cpu{index}", node, {"num_cpus": cpus_per_training}))
    if not slots and nodes:
        largest = max(nodes, key=lambda node: node.get("Resources", {}).get("CPU", 0))
        slots.append(("cpu0", largest, {"num_cpus": max(0.0, largest.get("Resources", {}).get("CPU", 0))}))
    return [(f"{PREFIX} {version(cpus_per_training)} {node['NodeID']} {slot}", node["NodeID"], resources)
            for slot, node, resources in slots]


class Pool:
    """The app server's handles on the cluster's worker actors (started by whichever server needs one first)."""

    def __init__(self):
        self._handles = {}  # name -> actor handle
        self.resources = {}  # name -> the resources it holds
        self._asked = {}  # name -> when it was last asked to report in
        self._hub = None  # the hub they were asked for

    def ensure(self, ray, nodes, cpus_per_training, hub):
        """Start the actors the live nodes lack (named, detached; one that died, here or seen by another server, is
        started again and forgotten by the hub); end those of another version once the hub says they are idle.
        Returns their names, in the plan's order."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        wanted = plan(nodes, cpus_per_training)
        names = {name for name, _, _ in wanted}
        alive = set(ray.util.list_named_actors())  # a dead actor's name is free again
        mine = version(cpus_per_training)
        old = [name for name in alive if name.startswith(PREFIX + " ") and name.split(" ")[1] != mine]
        if old:
            for name in ray.get(hub.idle_of.remote(old), timeout=30):  # never one that trains
                self._end(ray, name)
        dead = [name for name in names if name in self._handles and name not in alive]
        for name in dead:
            self._handles.pop(name)
        if dead:
            hub.drop_workers.remote(dead)  # what they held went with them; not "busy" for ever
        if hub is not self._hub:  # a hub started again: every actor is asked at once
            self._hub, self._asked = hub, {}
        unheard = ray.get(hub.unheard_of.remote(sorted(names & set(self._handles))), timeout=30)
        for name in unheard:  # a hub started again (its node died) has not heard from them: they tell it
            if time.monotonic() - self._asked.get(name, -float("inf")) > ASK_AGAIN_SECONDS:
                self._asked[name] = time.monotonic()  # (one Ray cannot place never answers: asked now and then)
                self._handles[name].report_in.remote()
        for name, node_id, resources in wanted:
            if name not in self._handles:
                self._handles[name] = worker_class().options(
                    name=name, namespace=NAMESPACE, get_if_exists=True, lifetime="detached", max_restarts=0,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node_id, soft=False),
                    **resources).remote(name)
            self.resources[name] = resources
        for name in set(self._handles) - names:  # their node died (or was resized): not waited for
            self._handles.pop(name, None)
        return [name for name, _, _ in wanted]

    def _end(self, ray, name):
        try:
            ray.kill(ray.get_actor(name, namespace=NAMESPACE), no_restart=True)
        except ValueError:  # gone already
            pass

    def handle(self, name):
        return self._handles.get(name)

    def lost(self, ray, name):
        """A worker that died: the next ensure() starts another under its name. True unless the actor now under its
        name is another one (started again by another server): the hub must not forget what that one holds."""
        handle = self._handles.pop(name, None)
        try:
            now = ray.get_actor(name, namespace=NAMESPACE)
        except ValueError:  # no actor under that name: the dead one's is free
            return True
        return handle is None or now._actor_id == handle._actor_id
