"""The CPU priority of Ray's worker processes: the same as the server's own worker, where the node allows it.

Ray starts every worker process at niceness 15 (its `worker_niceness`), so that its own daemons stay responsive.
On the node that also runs the app server, that starves the trainings whenever the server is busy, which is
exactly while a class trains: the server's pages (niceness 0) take a core whole and the worker actors share what is
left (measured with bench/classroom.py: two actors each got 0.35–0.6 of a core beside the pages, the server's own
worker process a whole one). A worker actor and the hub take niceness 0 back, the priority of the server's own
worker process, when the node allows it (root with CAP_SYS_NICE) and its Ray was not started with a niceness of
its own; otherwise they keep Ray's, and a school that runs the app on a node starts that node with
RAY_worker_niceness=0 (docs/teachers.md; the Teacher page warns until it does).
"""

import os
import pathlib

CHOSEN_VARIABLE = "RAY_worker_niceness"  # set when a node's Ray starts: its workers inherit it
SERVER_NICENESS = 0  # a process started the usual way: the app server and its own worker process


def current():
    """This thread's niceness (None where it cannot be read)."""
    try:
        return os.getpriority(os.PRIO_PROCESS, 0)
    except (OSError, AttributeError):
        return None


def as_a_server_worker():
    """Give every thread of this process the server worker's niceness, unless the node's Ray was started with a
    niceness of its own (RAY_worker_niceness: a school that wants its lab PCs' trainings behind what students run
    there); the niceness it has afterwards (Linux sets it per thread: Ray's own threads started before this call
    would keep theirs unless each is set)."""
    if os.environ.get(CHOSEN_VARIABLE, "").strip():
        return current()
    try:
        tasks = [int(entry.name) for entry in pathlib.Path("/proc/self/task").iterdir()]
    except OSError:  # not Linux: the process as a whole
        tasks = [0]
    for task in tasks:
        try:
            if os.getpriority(os.PRIO_PROCESS, task) > SERVER_NICENESS:
                os.setpriority(os.PRIO_PROCESS, task, SERVER_NICENESS)
        except (OSError, AttributeError):  # not allowed here (a plain user), the thread ended, or no such call
            pass
    return current()
