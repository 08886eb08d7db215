"""What a training reports while it runs: progress after batches and epochs, Stop, and divergence."""

import math
import threading
import time

BATCH_REPORT_SECONDS = 0.1  # a progress bar needs no more; each report reads the loss off the device


def _progress_callback(keras, on_epoch_end, on_batch_end, should_stop, state, every=BATCH_REPORT_SECONDS):
    """A Keras callback that reports progress, stops when asked and watches for a NaN loss.

    Only whole epochs count: the epoch that a Stop cuts short is neither reported nor timed, and the weights of
    the last whole epoch are kept in state["whole_weights"] for train() to go back to.

    Batch-end work runs on Keras's callback threads (async_safe), so reading a batch's loss never makes
    the training thread wait; batch progress is passed on at most every `every` seconds, in order, and
    each epoch's last batch is always passed on before its epoch end (Keras waits for the batch callbacks
    there), so the last progress a student sees is complete when train() returns.
    """
    lock = threading.Lock()
    last = {"batch": -1, "at": -math.inf, "latest": None}  # the last batch reported; the latest one seen

    def report(batch, logs):
        last["batch"], last["at"] = batch, time.perf_counter()
        on_batch_end(batch, logs)

    class Progress(keras.callbacks.Callback):
        async_safe = True

        def on_train_batch_end(self, batch, logs=None):
            if should_stop is not None and should_stop():
                state["stopped"] = True
                self.model.stop_training = True
            with lock:
                state["batches"] = max(state["batches"], batch + 1)  # batches of this epoch that ran
            if on_batch_end is None:
                return
            logs = {k: float(v) for k, v in (logs or {}).items()}
            with lock:
                if last["latest"] is None or batch > last["latest"][0]:
                    last["latest"] = (batch, logs)
                if batch <= last["batch"] or time.perf_counter() - last["at"] < every:
                    return  # an older batch finishing late, or too soon after the last report
                report(batch, logs)

        def on_epoch_begin(self, epoch, logs=None):
            state["epoch_started"] = time.perf_counter()
            with lock:
                last["batch"], last["latest"] = -1, None
                state["batches"] = 0

        def on_epoch_end(self, epoch, logs=None):
            if on_batch_end is not None:
                with lock:  # every batch callback of this epoch has run (Keras flushed them)
                    if last["latest"] is not None and last["latest"][0] > last["batch"]:
                        report(*last["latest"])
            _end_epoch(self, epoch, logs, state, should_stop, on_epoch_end)

    return Progress()


def _end_epoch(callback, epoch, logs, state, should_stop, on_epoch_end):
    """Time, check and report an epoch that ran to its end; one that Stop cut short is only marked in state."""
    steps = callback.params.get("steps")
    if state["stopped"] and steps is not None and state["batches"] < steps:
        # Keras ends an epoch that Stop cut short as if it were whole: it is not one, so it is not
        # reported, timed or kept (train() drops it from the history and the timeline)
        state["cut_short"] = True
        return
    state["epoch_seconds"].append(time.perf_counter() - state["epoch_started"])  # with its validation
    logs = {k: float(v) for k, v in (logs or {}).items()}
    if not math.isfinite(logs.get("loss", 0.0)):
        state["diverged_epoch"] = epoch + 1
        callback.model.stop_training = True
        return
    if should_stop is not None:  # what a stop in the next epoch goes back to
        state["whole_weights"] = callback.model.get_weights()
    if on_epoch_end is not None:
        on_epoch_end(epoch, logs)
