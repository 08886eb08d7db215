"""The worker process: trainings of a server run in one long-lived process of their own (ProcessExecutor), so the
web server never holds TensorFlow's training memory and a network stays warm between trainings."""

import os
import threading
import time

from cnnlab import training
from cnnlab.classroom import permissions
from cnnlab.compute.in_process import POLL_SECONDS, LocalExecutor
from cnnlab.data import catalogue
from cnnlab.errors import CnnlabError, TrainingLost


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

    def start(self, timeout=120.0):
        """Start the worker now and wait (up to timeout seconds) until it has imported TensorFlow, as it has on a
        server that trained before; 1 when it is ready, else 0."""
        import concurrent.futures.process

        if not self._lock.acquire(timeout=timeout):  # it trains now: ready, and busy
            return 0
        try:
            pool, _ = self._start()
            future = _submit(pool, _import_tensorflow)
        except concurrent.futures.process.BrokenProcessPool:
            self._pool = None
            return 0
        finally:
            self._lock.release()
        try:
            future.result(timeout=timeout)
            return 1
        except concurrent.futures.TimeoutError:
            return 0
        except concurrent.futures.process.BrokenProcessPool:  # it died starting: the next training starts another
            self._pool = None
            return 0
        finally:
            self._count_idle()  # idle from when it is ready

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

    def train(self, config, dataset, on_epoch_end=None, on_batch_end=None, should_stop=None, who=permissions.OWNER):
        import concurrent.futures.process
        import queue

        permissions.require(who, "train")

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


def _import_tensorflow():
    training.configure_devices()


def _warm_up_in_worker(config_dict):
    try:
        training.warm_up(training.TrainConfig.from_dict(config_dict), training.WARM)
    except Exception:  # noqa: BLE001 -- a warm-up is a favour: the training itself will say what is wrong
        pass


def _train_in_worker(config_dict, fingerprint, dataset):
    """In the worker process: train, report every epoch and throttled batches, then an end mark; the weights as
    bytes."""
    if dataset is not None:
        _worker["datasets"][fingerprint] = dataset
    catalogue.remember(_worker["datasets"][fingerprint].info)  # an imported dataset's classes and shape
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
