"""The app's process never starts a Ray of its own behind connect()'s back (cnnlab.compute.ray_hub.import_ray)."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# a server that joined a private Ray and left it; a training it let go is forgotten on the hub a minute later
LEFT = """
from cnnlab.compute import executors, ray_hub, ray_sending
executor = executors.executor("local")
executor.connect()
ray = ray_hub.import_ray()
hub = executor._hub(ray)
ray.shutdown()
ray_sending._forget_quietly(ray_hub.Training(hub, "a training let go"))
print("started again" if ray.is_initialized() else "not started")
"""


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_a_call_after_leaving_the_cluster_raises_instead_of_starting_a_ray_in_the_app():
    done = subprocess.run([sys.executable, "-c", LEFT], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "CNNLAB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "not started", done.stdout[-2000:]
