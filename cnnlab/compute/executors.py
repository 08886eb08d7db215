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

from cnnlab.compute.in_process import LocalExecutor
from cnnlab.compute.ray_client import ADDRESS_VARIABLE, RayExecutor
from cnnlab.compute.worker import ProcessExecutor


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
