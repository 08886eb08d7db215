"""What a warm training costs beyond its own fit: the server's worker process against a Ray worker actor.

    python bench/ray_overhead.py [--trainings 5] [--json]

The same small trainings (`fast`, 1,000 images of the MNIST sample, 1 epoch, a new seed each) one after the
other, first through the server's own worker (cnnlab.compute.worker.ProcessExecutor), then through a private
local Ray's worker actor (CNNLAB_RAY_ADDRESS=local: one actor on this machine's cores). Each training's wall time
from executor.train() to its result, minus the fit its worker timed (train_seconds), is the overhead: the way to
the worker and back, the test set's predictions, the files. The first training of each is left out (it starts the
worker process or waits for the actor's TensorFlow import); the median of the others is printed.
"""

import argparse
import json
import os
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("CNNLAB_OFFLINE", "1")


def overheads(executor, trainings):
    """[(wall seconds, fit seconds, network kept or new)] of each training, in order."""
    from cnnlab.data import datasets
    from cnnlab.training import TrainConfig

    data, found = datasets.load("mnist"), []
    for seed in range(trainings):
        config = TrainConfig(dataset="mnist", architecture="fast", epochs=1, batch_size=64, train_size=1000,
                             seed=100 + seed)
        started = time.perf_counter()
        result = executor.train(config, data)
        found.append((time.perf_counter() - started, result.train_seconds, result.trained_on.get("network")))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainings", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from cnnlab.compute import executors, worker

    local = worker.ProcessExecutor()
    try:
        here = overheads(local, args.trainings)
    finally:
        local.close()
    ray = executors.executor("local")
    ray.capacity()  # joins the private Ray and starts its worker actor, as a server does when it starts
    there = overheads(ray, args.trainings)
    figures = {}
    for name, rows in (("worker_process", here), ("ray_actor", there)):
        figures[f"overhead_s_{name}"] = round(statistics.median(wall - fit for wall, fit, _ in rows[1:]), 3)
        figures[f"wall_s_{name}"] = [round(wall, 2) for wall, _, _ in rows]
        figures[f"network_{name}"] = [network for _, _, network in rows]
    figures["ray_overhead_s_per_job_warm"] = round(figures["overhead_s_ray_actor"]
                                                   - figures["overhead_s_worker_process"], 3)
    for key, value in figures.items():
        print(f"{key}: {value}")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
