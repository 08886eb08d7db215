"""One training on the cluster, between the app and its worker actor: the owner's hand on it (Sending: the hub picks
an idle worker, the training is sent, a worker that died before beginning it is replaced), what a server that follows
another's training makes of a worker that died, and letting the hub forget a training (cnnlab.compute.ray_client
follows its progress)."""

import dataclasses
import threading
import time

from cnnlab.compute.ray_hub import KEEP_FINISHED_SECONDS, first_line
from cnnlab.compute.ray_workers import network_key
from cnnlab.errors import TrainingLost, TrainingStoppedEarly

RESEND_SECONDS = 60.0  # a follower waits this long for a training sent again after its worker died, then gives up
START_SECONDS = 300.0  # a training waits this long for any worker actor of the cluster to start, then fails


class Sending:
    """The owner's side of a training: hands it to an idle worker actor once one is free (the hub picks it)."""

    TRIES = 3  # workers found dead before the training began on one: another is picked

    def __init__(self, executor, ray, config, dataset, progress, who):
        self.executor, self.ray, self.config, self.dataset, self.progress = executor, ray, config, dataset, progress
        self.who = dataclasses.asdict(who)
        self.name, self.tries = None, 0
        self.waiting_since = time.monotonic()

    def _none_started(self, names):
        """TrainingLost when, after START_SECONDS of waiting, no worker actor of the cluster has ever started (every
        one fails as it imports TensorFlow, or Ray cannot place any): a sentence instead of waiting for ever."""
        if time.monotonic() - self.waiting_since < START_SECONDS:
            return
        self.waiting_since = time.monotonic()  # asked again only after as long
        unheard = self.ray.get(self.progress.hub.unheard_of.remote(names), timeout=30)
        if len(unheard) == len(names):
            raise TrainingLost("error.ray.lost", reason=f"no worker of the cluster has started in {START_SECONDS:g} s")

    def send(self):
        """The training's result (an ObjectRef) from the worker it was handed to; None while every worker is busy;
        TrainingStoppedEarly when nobody waits for it any more by the time one is free."""
        executor, progress = self.executor, self.progress
        names = executor._worker_names()
        name = self.ray.get(progress.hub.pick.remote(progress.run_id, names, network_key(self.config),
                                                     self.dataset.fingerprint), timeout=30)
        if name is False:  # nobody waits for this training any more: it never begins
            raise TrainingStoppedEarly("error.training.stopped_in_first_epoch")
        handle = executor._pool.handle(name) if name is not None else None
        if handle is None:
            if name is not None:
                progress.release.remote(name)
            self._none_started(names)
            return None
        try:
            result = handle.train.remote(self.config.to_dict(), self.dataset.fingerprint,
                                         [executor._put(self.dataset)], progress, self.who, self.dataset.info)
        except BaseException:  # the data could not be put, or the actor not called: the worker is free at once
            progress.release.remote(name)
            raise
        progress.set_result.remote([result])  # other servers that asked for it follow it too
        self.name, self.tries = name, self.tries + 1
        return result

    def lost(self):
        """The worker it was handed to died: forgotten here, and on the hub unless another server has started a new
        one under its name already; the nodes are read again."""
        if self.executor._pool.lost(self.ray, self.name):
            self.progress.hub.drop_worker.remote(self.name)
        self.executor._names = (-float("inf"), [])


def result_of(sending, state, result, dead=None):
    """The training's result (an ObjectRef) once it was handed to a worker, else None; TrainingLost without a hub.
    dead: {hex: when} of another server's results whose worker died; it sends the training again when the worker
    died before beginning it, so a follower waits for the new one, unless the training had begun (it is lost for
    every server) or no new one comes within RESEND_SECONDS (its server is gone)."""
    if result is None and sending is not None and state is not None:
        result = sending.send()
    elif result is None and sending is None and state is not None and state["result"] is not None:
        latest = state["result"][0]  # another server's (the latest, if its first worker died)
        died = (dead or {}).get(latest.hex())
        if died is None:
            result = latest
        elif state["where"] is not None or time.monotonic() - died > RESEND_SECONDS:
            raise TrainingLost("error.ray.lost", reason="the worker training it died")
    if result is None and state is None:
        raise TrainingLost("error.ray.lost", reason="the cluster's hub actor is gone")
    return result


def received(ray, sending, state, result):
    """The TrainResult, or what its worker raised; None when the worker it was sent to died before it began it (it
    is sent to another); TrainingLost when it died training it (its node died, or its process was killed)."""
    try:
        return ray.get(result)
    except ray.exceptions.RayActorError as error:
        if sending is None:  # another server's training: the next state says whether it is sent again (result_of)
            return None
        began = state is None or state["where"] is not None
        sending.lost()
        if not began and sending.tries < sending.TRIES:
            return None
        raise TrainingLost("error.ray.lost", reason=first_line(error)) from None


def let_go(progress, trained, owner):
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
