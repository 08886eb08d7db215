"""Networks made ready on a Ray cluster before their trainings: a free worker actor compiles the network a student is
choosing (prepare), and the queue learns which waiting training a free worker holds the network of (warm_first). A
mixin of cnnlab.compute.ray_client.RayExecutor, whose cluster it asks."""

import threading
import time

from cnnlab import training
from cnnlab.compute.ray_hub import import_ray
from cnnlab.compute.ray_workers import network_key, network_label
from cnnlab.data import catalogue
from cnnlab.errors import CnnlabError

PROMISE_SECONDS = 5.0  # a free worker counted on for a job the queue chose is not counted on again for this long
ASK_AGAIN_SECONDS = 10.0  # a hub that did not answer warm_first in time is not asked again before this


class Warming:
    """What RayExecutor does ahead of trainings (its connect(), _hub(), _worker_names() and _pool)."""

    def __init__(self):
        self._prepared = set()  # network keys, seeds and rates this server asked a worker to warm up
        self._next, self._preparing = None, False  # the latest network to warm up; whether a thread asks
        self._prepare_lock = threading.Lock()  # not the executor's lock, which connect() holds while Ray starts
        self._promised = {}  # worker name -> (when, its picks then): the queue was told a job could go to it
        self._warm_asked = -float("inf")  # the hub is not asked which networks are free before then

    def prepare(self, config):
        """Have an idle worker actor compile and trace config's network while the student still chooses.

        Returns at once (the cluster is asked in the background, and joined first when it was not yet); True when
        it is asked. Nothing is asked twice for the same network and start, unless no worker took it; nothing for a
        network that cannot be built or is over the server's limits; while one is asked, only the latest asked
        for after it waits (the hub gives it to an idle worker that warms nothing else, or to none when one holds
        the network already).
        """
        try:
            training.check_layers(config)
            signature = (network_key(config), config.seed, config.learning_rate)
        except CnnlabError:
            return False
        with self._prepare_lock:
            if signature in self._prepared:
                return False
            if len(self._prepared) >= 1000:  # bounded: an old one asked again only asks the hub again
                self._prepared.clear()
            self._prepared.add(signature)
            if self._next is not None:  # overtaken before it was asked: asked again when it comes back
                self._prepared.discard(self._next[0])
            self._next = (signature, config)  # the latest wins: a student changing the form fast asks for one
            if not self._preparing:
                self._preparing = True
                threading.Thread(target=self._prepare_next, name="cnnlab-prepare", daemon=True).start()
        return True

    def _prepare_next(self):
        """In the background (the page never waits for the cluster): the latest network asked for, until none is
        left; one that no worker took is forgotten, so that it is asked for again."""
        while True:
            with self._prepare_lock:
                asked, self._next = self._next, None
                if asked is None:
                    self._preparing = False  # under the lock: a prepare() now starts another thread
                    return
            if not self._warm_quietly(asked[1]):
                with self._prepare_lock:
                    self._prepared.discard(asked[0])

    def _warm_quietly(self, config):
        """Ask an idle worker to warm config's network up; False when none was asked (or the cluster is away)."""
        try:
            ray = import_ray()
            self.connect()
            name = ray.get(self._hub(ray).pick_to_warm.remote(self._worker_names(), network_key(config),
                                                               network_label(config)), timeout=30)
            if name is None or self._pool.handle(name) is None:
                return False
            self._pool.handle(name).warm_up.remote(config.to_dict(), catalogue.get_info(config.dataset))
            return True
        except Exception:  # noqa: BLE001 -- a warm-up is a favour: the training will say what is wrong
            return False

    def warm_first(self, configs):
        """The index of the first of configs whose compiled network an idle worker actor holds already, or None (none
        does, or the cluster does not answer within a second: the first in line goes): the queue trains that one next
        (cnnlab.compute.warm_order). The worker is promised to that job until the hub has picked it for a training
        (at most PROMISE_SECONDS), so that the next job chosen does not count on the same worker."""
        names, now = self._names[1], time.monotonic()  # as last read: never the nodes read again on this path
        if not names or now < self._warm_asked:
            return None
        hub = getattr(self, "_hub_handle", None)  # as found last: never the executor's lock, which a read of the
        if hub is None:  # nodes or a Ray starting holds for seconds
            return None
        try:
            keys = [network_key(config) for config in configs]
        except CnnlabError:
            return None
        try:
            held = import_ray().get(hub.idle_networks.remote(names), timeout=1.0)
        except Exception:  # noqa: BLE001 -- the order of the line is a favour: the first in line goes next
            self._warm_asked = now + ASK_AGAIN_SECONDS  # a hub that does not answer is not asked again for a while
            return None
        with self._prepare_lock:
            for name, (_, picks) in held.items():  # a promise ends once the worker was picked, or after a while
                when, promised_at = self._promised.get(name, (-PROMISE_SECONDS, -1))
                if picks > promised_at or now - when >= PROMISE_SECONDS:
                    self._promised.pop(name, None)
            for index, key in enumerate(keys):
                for name, (networks, picks) in held.items():
                    if key in networks and name not in self._promised:
                        self._promised[name] = (now, picks)
                        return index
        return None
