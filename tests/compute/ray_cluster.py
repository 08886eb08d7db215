"""A Ray cluster of two nodes on this machine's loopback only, for tests and bench/classroom.py.

Ray puts a node on the machine's outward address unless told otherwise (stack notes), so the head and
the second node run inside a private network namespace that has only loopback; drivers run there too
(`nsenter`). It needs `unshare -n` (root, as CI runs). Stopped by killing every process in the namespace,
never `ray stop`, which would stop every Ray on the machine.
"""

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def can_make_namespaces():
    return shutil.which("unshare") and shutil.which("nsenter") and subprocess.run(
        ["unshare", "-n", "true"], capture_output=True).returncode == 0


class LoopbackCluster:
    """A Ray head and a second node (cpus each) in a private network namespace that has only loopback."""

    def __init__(self, folder, cpus=2, port=6391):
        self.cpus, self.port = cpus, port
        self.folder = folder
        self.home = folder / "home"
        self.home.mkdir()
        self.holder = subprocess.Popen(["unshare", "-n", "sh", "-c", "ip link set lo up && exec sleep 3600"])
        time.sleep(0.3)
        self.env = {**os.environ, "HOME": str(self.home), "RAY_AUTH_MODE": "token", "LANG": "C.UTF-8",
                    "PYTHONPATH": str(ROOT), "CNNLAB_RAY_CPUS_PER_TRAINING": str(cpus)}
        # the last two: set by a private local Ray (its workers at the server's priority); a school's nodes start
        # without them, their workers at Ray's niceness 15
        for name in ("CNNLAB_HOME", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "RAY_worker_niceness"):
            self.env.pop(name, None)
        self.temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes

    def start(self):
        self.inside(["ray", "get-auth-token", "--generate"], check=True)  # the cluster's token, in HOME/.ray
        self.inside(["ray", "start", "--head", "--node-ip-address=127.0.0.1", f"--port={self.port}",
                     f"--num-cpus={self.cpus}", "--include-dashboard=false", f"--temp-dir={self.temp}",
                     "--disable-usage-stats"], check=True)
        self.inside(["ray", "start", f"--address=127.0.0.1:{self.port}", "--node-ip-address=127.0.0.1",
                     f"--num-cpus={self.cpus}", "--disable-usage-stats"], check=True)

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def command(self, words):
        return ["nsenter", f"--net=/proc/{self.holder.pid}/ns/net", *words]

    def inside(self, words, check=False):
        done = subprocess.run(self.command(words), env=self.env, capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(words[:3])} failed: {done.stderr[-2000:]}")
        return done

    def train(self, home, *words):
        """A driver (`python -m cnnlab train --ray …`) in the namespace, with its own run store."""
        env = {**self.env, "CNNLAB_HOME": str(self.folder / home), "CNNLAB_OFFLINE": "1"}
        return subprocess.Popen(self.command([sys.executable, "-m", "cnnlab", "train", "--ray", self.address,
                                              "--json", *words]),
                                env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def raylets(self):
        """{pid: command line} of the raylets in the namespace (the head's socket is 'raylet', the node's 'raylet.1')."""
        found = {}
        for pid in self.processes():
            try:
                words = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
            except OSError:
                continue
            if words and words[0].endswith("/raylet"):
                found[pid] = " ".join(words)
        return found

    def niceness(self, pid):
        """{niceness} of every thread of a process (Linux keeps one per thread)."""
        return {os.getpriority(os.PRIO_PROCESS, int(task.name)) for task in pathlib.Path(f"/proc/{pid}/task").iterdir()}

    def named(self, title):
        """The pids in the namespace whose command line starts with title (a Ray actor's is `ray::ClassName`)."""
        found = []
        for pid in self.processes():
            try:
                if pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().startswith(title.encode()):
                    found.append(pid)
            except OSError:
                pass
        return found

    def processes(self):
        namespace = os.readlink(f"/proc/{self.holder.pid}/ns/net")
        pids = []
        for entry in pathlib.Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if os.readlink(entry / "ns" / "net") == namespace:
                        pids.append(int(entry.name))
                except OSError:
                    pass
        return pids

    def kill_node(self, pid):
        """SIGKILL a raylet and every worker it started: the node dies as a lab PC switched off would."""
        children = [int(p.name) for p in pathlib.Path("/proc").iterdir() if p.name.isdigit()
                    and _parent(p) == pid]
        for victim in [pid, *children]:
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self):
        """Kill everything in the namespace (never `ray stop`, which would stop every Ray on the machine)."""
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.holder.wait(timeout=30)
        shutil.rmtree(self.temp, ignore_errors=True)


def _parent(proc):
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None
