"""Where a training runs: which executor (executor()), one per address and process.

CNNLAB_RAY_ADDRESS (or `--ray ADDRESS` on the command line) chooses:
    unset       on this machine, one training at a time (TensorFlow already uses every core): in this process for
                the command line (cnnlab.compute.in_process), in a worker process for a web server
                (cnnlab.compute.worker), so that its pages stay responsive while it trains
    local       a private Ray instance on this machine; every port it opens is on 127.0.0.1 (cnnlab.compute.ray_client)
    HOST:PORT   a cluster: `ray start --head` on the GPU box, `ray start --address=HOST:PORT` on each lab PC
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
