"""A class at once: 30 students press Train (some with identical settings) while others open pages.

    python bench/classroom.py [--quick] [--json]

The same class runs twice, each in a fresh process with its own run store: trained in the server's process (the
default), then on a local Ray of two nodes (one CPU each, on loopback inside a private network namespace, as
tests/ray_cluster.py sets up; root only, else that half is skipped). For each it prints the trainings requested and
actually run (identical settings train once), the makespan (first request to last result), each student's wait from
pressing Train to the stored run (median, max), and the p95 of the Home, Data and Compare pages rendered (AppTest, in
the server's process, a new session each time, without the harness's own component scan: bench/apptest.py) while the
class trains. With --json the last line is one JSON object with them all, including makespan_s_local, makespan_s_ray,
ray_overhead_s_per_job (the mean extra seconds a training took on Ray: dispatch to a worker actor, the data and the
files, two trainings sharing the two cores), ray_overhead_cpu_s_per_job (the mean extra CPU seconds it cost: every
process of the cluster, its hub, raylets and GCS included, against the server's worker process; not slowed by sharing
cores, but the actors run TensorFlow on one thread each, the worker process on two, and the server process's own Ray
calls are not counted), outside_fit_s_per_job_local and _ray (a job's seconds outside its own model.fit: the way to
the worker and back, the test set's predictions, the files), networks_compiled_local and _ray (trainings that built
and traced their network rather than finding it kept), failed_local and _ray, makespan_ray_over_local and
page_p95_s_while_training (page renders that raised are left out of it and listed in page_errors_local and _ray).
Both halves begin as a server that has been up since the lesson began: the server's own worker process and Ray's
worker actors have started and imported TensorFlow before the class presses Train (executor.start()); each compiles
the class's networks with its first trainings of them.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "compute"))  # ray_cluster.py
os.environ.setdefault("CNNLAB_OFFLINE", "1")
PAGES = ["app.py", "pages/1_Data.py", "pages/6_Compare.py"]


def class_of(students):
    """Each student's settings: two in three distinct, every third the same as an earlier student's."""
    from cnnlab.training import TrainConfig

    optimizers = ["adam", "sgd+momentum", "rmsprop", "nadam"]
    configs = []
    for student in range(students):
        twin = student % 3 == 2
        seed = student - 1 if twin else student
        configs.append(TrainConfig(dataset="mnist", architecture="fast", epochs=1 + seed % 2, batch_size=64,
                                   optimizer=optimizers[seed % len(optimizers)], train_size=1000, seed=seed))
    return configs


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def training_cpu(kind):
    """{pid: CPU seconds so far} of what trains besides this server process: its worker process, or on Ray every
    process of the cluster (worker actors, the hub, raylets, GCS; the bench's cluster shares only this process's
    private network namespace)."""
    found, here = {}, os.getpid()
    namespace = os.readlink("/proc/self/ns/net")
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == here:
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            mine = os.readlink(entry / "ns" / "net") == namespace if kind == "ray" else int(fields[1]) == here
        except (OSError, IndexError, ValueError):
            continue
        if mine:
            found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def simulate(students, address):
    """Run the class in this process against the executor for address ('' = this process); its figures."""
    import apptest
    from cnnlab import runs
    from cnnlab.compute import executors, jobs
    from cnnlab.data import datasets

    executor = executors.executor(address, server=True)  # as ui.queue() makes it
    store = runs.RunStore()
    queue = jobs.TrainingQueue(store, executor)
    dataset = datasets.load("mnist")
    capacity = queue.capacity()  # on Ray: joins the cluster before the clock starts
    ready = executor.start(timeout=300)  # the worker process, or every worker actor, with TensorFlow imported
    renders, page_errors, stop_pages = [], [], threading.Event()

    def open_pages():  # other students browsing while the class trains
        for path in PAGES:  # the first render of each page imports its modules: not what a student waits for
            apptest.page(path).run()
        while not stop_pages.is_set():
            for path in PAGES:
                started = time.perf_counter()
                at = apptest.page(path).run()  # a new session each time, without AppTest's own component scan
                if at.exception:  # a page that fails fast is not a fast page
                    page_errors.append(f"{path}: {at.exception[0].message}")
                else:
                    renders.append(time.perf_counter() - started)

    browsing = threading.Thread(target=open_pages, daemon=True)
    browsing.start()
    time.sleep(1.0)
    cpu_before = training_cpu(executor.kind)
    asked, submitted = time.perf_counter(), {}
    for student, config in enumerate(class_of(students)):
        submitted[student] = (time.time(), queue.submit(config, dataset, student=f"student-{student}"))
    waits = []
    for when, job in submitted.values():
        queue.wait(job)
        waits.append(job.finished - when)  # from pressing Train to the stored run (Job times are time.time())
    makespan = time.perf_counter() - asked
    cpu_after = training_cpu(executor.kind)
    stop_pages.set()
    browsing.join(timeout=120)
    trained = {job.id: job for _, job in submitted.values()}
    failed = [job.error for job in trained.values() if job.status != "done"]
    return {"students": students, "trainings_requested": len(submitted), "trainings_run": len(trained),
            "failed": [str(error) for error in failed], "capacity": capacity, "ready_at_start": ready,
            "makespan_s": round(makespan, 1),
            "wait_s_median": round(statistics.median(waits), 1), "wait_s_max": round(max(waits), 1),
            "job_seconds": round(sum(job.finished - job.started for job in trained.values()), 2),
            # each training's own fit (its epochs, as its node timed them): what is left of a job is the way there
            # and back (dispatch, data, the test set's predictions, the files)
            "fit_seconds": round(sum(store.get(job.id).train_seconds for job in trained.values()
                                     if job.status == "done"), 2),
            "networks_compiled": sum((job.trained_on or {}).get("network") == "new" for job in trained.values()),
            "training_cpu_s": round(sum(cpu_after.get(pid, 0.0) - cpu_before.get(pid, 0.0) for pid in cpu_after), 2),
            "page_renders": len(renders), "page_errors": page_errors[:3] + [f"{len(page_errors)} in all"] * bool(
                page_errors),
            "page_p95_s_while_training": round(percentile(renders, 0.95), 3) if renders else None,
            "executor": executor.kind}


def phase(students, address, env=None, command=None):
    """simulate() in a fresh process (its own store); its figures."""
    words = [sys.executable, str(pathlib.Path(__file__).resolve()), "--phase", address or "here",
             "--students", str(students)]
    done = subprocess.run((command or (lambda w: w))(words), capture_output=True, text=True, timeout=3600,
                          env={**(env or os.environ), "CNNLAB_HOME": tempfile.mkdtemp(prefix="cnnlab-class-"),
                               "CNNLAB_OFFLINE": "1"})
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"the {address or 'local'} class failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 students instead of 30")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--students", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    students = args.students or (12 if args.quick else 30)
    if args.phase:
        print(json.dumps(simulate(students, "" if args.phase == "here" else args.phase)))
        return
    figures = {}
    local = phase(students, "")
    print(f"in the server's process: {local}", flush=True)
    figures.update({"students": students, "trainings_requested": local["trainings_requested"],
                    "trainings_run": local["trainings_run"], "makespan_s_local": local["makespan_s"],
                    "wait_s_median_local": local["wait_s_median"], "wait_s_max_local": local["wait_s_max"],
                    "page_p95_s_while_training": local["page_p95_s_while_training"],
                    "networks_compiled_local": local["networks_compiled"],
                    "training_cpu_s_local": local["training_cpu_s"], "failed_local": len(local["failed"]),
                    "page_errors_local": local["page_errors"]})
    from ray_cluster import LoopbackCluster, can_make_namespaces

    if can_make_namespaces():
        cluster = LoopbackCluster(pathlib.Path(tempfile.mkdtemp(prefix="cnnlab-cluster-")), cpus=1)
        try:
            cluster.start()
            ray = phase(students, cluster.address, env=cluster.env, command=cluster.command)
        finally:
            cluster.stop()
        print(f"on a local Ray of two nodes: {ray}", flush=True)
        figures.update({"makespan_s_ray": ray["makespan_s"], "wait_s_median_ray": ray["wait_s_median"],
                        "wait_s_max_ray": ray["wait_s_max"], "page_p95_s_while_training_ray":
                            ray["page_p95_s_while_training"], "ray_trainings_at_once": ray["capacity"],
                        "ray_overhead_s_per_job": round((ray["job_seconds"] - local["job_seconds"])
                                                        / ray["trainings_run"], 2),
                        "outside_fit_s_per_job_local": round((local["job_seconds"] - local["fit_seconds"])
                                                             / local["trainings_run"], 2),
                        "outside_fit_s_per_job_ray": round((ray["job_seconds"] - ray["fit_seconds"])
                                                           / ray["trainings_run"], 2),
                        "networks_compiled_ray": ray["networks_compiled"], "training_cpu_s_ray": ray["training_cpu_s"],
                        "failed_ray": len(ray["failed"]), "page_errors_ray": ray["page_errors"],
                        "ray_overhead_cpu_s_per_job": round((ray["training_cpu_s"] - local["training_cpu_s"])
                                                            / ray["trainings_run"], 2),
                        "makespan_ray_over_local": round(ray["makespan_s"] / local["makespan_s"], 2)})
    else:
        print("a local Ray of two nodes needs unshare -n (root): skipped", flush=True)
        figures.update({"makespan_s_ray": None, "ray_overhead_s_per_job": None})
    for key, value in figures.items():
        print(f"{key}: {value}")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
