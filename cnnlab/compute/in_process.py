"""Training in this process (LocalExecutor: the command line, tests), and how often every executor reads a
training's progress."""

import os
import socket

from cnnlab import training
from cnnlab.classroom import permissions

POLL_SECONDS = 0.2  # how often the app reads a Ray training's progress, and a task reads its Stop


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

    def actors(self):
        """Worker actors and what each holds (a Ray cluster's, for the Teacher page): none on this machine."""
        return []

    def train(self, config, dataset, on_epoch_end=None, on_batch_end=None, should_stop=None, who=permissions.OWNER):
        permissions.require(who, "train")
        return training.train(config, on_epoch_end=on_epoch_end, on_batch_end=on_batch_end,
                              should_stop=should_stop, dataset=dataset)

    def prepare(self, config):
        """Get config's network ready before it is asked for; here (one training per process) nothing to do."""
        return False

    def start(self, timeout=None):
        """Have what trains ready now (TensorFlow imported), as a server that has been up a while has it; how many
        trainings are then ready to begin at once."""
        training.configure_devices()
        return 1
