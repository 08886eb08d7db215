"""Ray's worker processes train at the server's own worker's CPU priority where the node allows it, not at Ray's
niceness 15, which starved them beside a busy app server (cnnlab.compute.priority)."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# a process started as Ray starts its workers (niceness 15), with a thread already running, as Ray's own are
AT_RAYS_PRIORITY = """
import os, pathlib, resource, sys, threading
from cnnlab.compute import priority
os.setpriority(os.PRIO_PROCESS, 0, 15)  # whatever the test runs at
started, stop = threading.Event(), threading.Event()
threading.Thread(target=lambda: (started.set(), stop.wait())).start()
started.wait()
if sys.argv[1:] == ["plain"]:
    resource.setrlimit(resource.RLIMIT_NICE, (0, 0))
    os.setgid(65534), os.setuid(65534)  # nobody: no right to lower a niceness
print(priority.as_a_server_worker(), sorted({os.getpriority(os.PRIO_PROCESS, int(task.name))
                                            for task in pathlib.Path("/proc/self/task").iterdir()}))
stop.set()
"""


def run(*words, **variables):
    done = subprocess.run([sys.executable, "-c", AT_RAYS_PRIORITY, *words], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **variables}, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def may_lower_niceness():
    """Whether this machine lets a process lower its niceness (root with CAP_SYS_NICE; not in every container)."""
    lower = "import os; os.setpriority(os.PRIO_PROCESS, 0, 15); os.setpriority(os.PRIO_PROCESS, 0, 0)"
    done = subprocess.run([sys.executable, "-c", lower], capture_output=True) if sys.platform == "linux" else None
    return done is not None and done.returncode == 0


LOWERING = pytest.mark.skipif(not may_lower_niceness(), reason="lowering a niceness needs CAP_SYS_NICE")


@LOWERING
def test_every_thread_takes_the_servers_priority_back_where_it_may(monkeypatch):
    monkeypatch.delenv("RAY_worker_niceness", raising=False)  # a node's Ray started without one of its own
    assert run() == ["0", "[0]"]  # Ray's threads started before it too


@pytest.mark.skipif(sys.platform != "linux", reason="niceness per thread, read from /proc")
def test_a_niceness_the_nodes_ray_was_started_with_is_kept():
    assert run(RAY_worker_niceness="15") == ["15", "[15]"]  # a school's choice for its lab PCs


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="to become a plain user needs root")
def test_a_plain_user_keeps_rays_priority_and_says_so(monkeypatch):
    monkeypatch.delenv("RAY_worker_niceness", raising=False)
    assert run("plain") == ["15", "[15]"]  # nobody: not allowed, no error, the niceness reported
