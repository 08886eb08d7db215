"""The GPU path, measured: net_1 on MNIST-sized data, float32 and mixed precision, XLA on and off, and a Ray GPU task.

    python bench/gpu.py [--json]      (on a machine with an NVIDIA GPU)

Each variant trains cnnlab's own net_1 (built by cnnlab.networks.keras_build) on 60,000 images of MNIST's
shape made here, batch 128, in a fresh process: the seconds from fit() to the end of the first epoch
(building and compiling included) and the steady images/s (the median of the later epochs). The
backend is TensorFlow when it is installed, as in the app; on a machine without it (the lent GPU
machine has none) the same Keras 3 network runs on Keras's JAX backend (XLA) and torch backend (no XLA).
Then a private Ray instance with the GPU: cnnlab's RayExecutor counts its training slots and picks a
GPU task, and two GPU tasks train net_1 one after the other; the GPU memory in use is read after each,
since a GPU task's process ends with it and takes its memory along.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
IMAGES, BATCH = int(os.environ.get("CNNLAB_BENCH_IMAGES", 60_000)), 128  # fewer only to try the script on a CPU


def gpu_memory_used_mib():
    out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.used", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True).stdout.strip().splitlines()
    name, used = out[0].rsplit(",", 1)
    return name.strip(), int(used)


def train_net_1(epochs, jit_compile, policy, images=IMAGES):
    """(seconds to the first epoch's end, steady images/s, peak device MiB) of net_1 on random MNIST-shaped data."""
    import keras
    import numpy as np

    from cnnlab.networks import architectures, keras_build

    keras.mixed_precision.set_global_policy(policy)
    rng = np.random.default_rng(0)
    x = rng.random((images, 28, 28, 1), dtype=np.float32)  # (n, 28, 28, 1) in [0, 1), like scaled MNIST
    y = rng.integers(0, 10, images).astype(np.int32)
    model = keras_build.build(architectures.get_preset("net_1").layers, (28, 28, 1), 10, name="net_1")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=jit_compile)
    ends = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            ends.append(time.perf_counter())

    started = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=[Clock()], shuffle=True)
    epoch_seconds = [b - a for a, b in zip([started] + ends[:-1], ends)]
    steady = statistics.median(epoch_seconds[1:]) if len(epoch_seconds) > 1 else epoch_seconds[0]
    return ends[0] - started, images / steady, _peak_mib(keras.backend.backend())


def _peak_mib(backend):
    try:
        if backend == "jax":
            import jax
            return jax.devices()[0].memory_stats()["peak_bytes_in_use"] / 2 ** 20
        if backend == "torch":
            import torch
            return torch.cuda.max_memory_allocated() / 2 ** 20
        if backend == "tensorflow":
            import tensorflow as tf
            return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2 ** 20
    except Exception:  # a CPU-only run: no device memory to read
        return None


def variant(spec):
    """One variant in this (fresh) process: backend:policy:xla."""
    backend, policy, xla = spec.split(":")
    epochs = 3 if xla == "on" or backend != "jax" else 2
    first, rate, peak = train_net_1(epochs, xla == "on", policy)
    import keras
    print(json.dumps({"backend": keras.backend.backend(), "policy": policy, "xla": xla, "epochs": epochs,
                      "first_epoch_s": round(first, 2), "images_per_s": round(rate), "peak_mib": peak}))


def variants():
    try:
        import tensorflow  # noqa: F401  (the app's own backend)
        return ["tensorflow:float32:off", "tensorflow:float32:on", "tensorflow:mixed_float16:off",
                "tensorflow:mixed_float16:on"]
    except ImportError:
        return ["torch:float32:off", "torch:mixed_float16:off", "jax:float32:on", "jax:mixed_bfloat16:on"]


def ray_gpu_check():
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # before Ray is imported: loopback only
    import ray

    from cnnlab.compute import ray_client, ray_hub, ray_workers

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    ray.init(num_cpus=os.cpu_count(), num_gpus=1, include_dashboard=False, log_to_driver=False,
             namespace=ray_hub.NAMESPACE,
             runtime_env={"py_modules": [ray_hub.package_folder()],
                          "env_vars": {"KERAS_BACKEND": backend, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}})
    executor = ray_client.RayExecutor("local")
    executor.connect()
    # the worker actors cnnlab would start (not started here: the GPU's would hold it from the tasks below)
    planned = ray_workers.plan([node for node in ray.nodes() if node["Alive"]], ray_client.cpus_per_training())
    found = {"capacity": len(planned),
             "actors": [(name.rsplit(" ", 1)[-1], resources) for name, _, resources in planned],
             "workers": [{k: w[k] for k in ("address", "cpus", "gpus")} for w in executor.workers()]}

    @ray.remote(num_gpus=1, num_cpus=1)
    def gpu_training():
        first, rate, peak = train_net_1(2, True, "float32", images=min(IMAGES, 20_000))
        return {"pid": os.getpid(), "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "gpu_ids": [str(g) for g in ray.get_runtime_context().get_accelerator_ids()["GPU"]],
                "first_epoch_s": round(first, 2), "images_per_s": round(rate),
                "device_used_during_mib": gpu_memory_used_mib()[1]}

    tasks = []
    for _ in range(2):
        result = ray.get(gpu_training.remote(), timeout=240)
        time.sleep(2)  # the task's process exits after it (max_calls=1 for GPU tasks)
        result["device_used_after_mib"] = gpu_memory_used_mib()[1]
        tasks.append(result)
    found["tasks"] = tasks
    ray.shutdown()
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.variant:
        return variant(args.variant)
    name, idle = gpu_memory_used_mib()
    figures = {"gpu": name, "device_used_idle_mib": idle, "images": IMAGES, "batch_size": BATCH, "variants": []}
    for spec in variants():
        env = dict(os.environ, KERAS_BACKEND=spec.split(":")[0], XLA_PYTHON_CLIENT_PREALLOCATE="false",
                   TF_FORCE_GPU_ALLOW_GROWTH="true")
        try:
            done = subprocess.run([sys.executable, __file__, "--variant", spec], capture_output=True, text=True,
                                  env=env, timeout=120)
        except subprocess.TimeoutExpired:
            figures["variants"].append({"variant": spec, "error": "over 120 s"})
            continue
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        row = json.loads(lines[-1]) if lines else {"variant": spec, "error": done.stderr.strip()[-400:]}
        figures["variants"].append(row)
        print(row, flush=True)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow" if variants()[0].startswith("tensorflow") else "jax")
    try:
        figures["ray"] = ray_gpu_check()
    except Exception as error:  # say what failed, keep the figures above
        figures["ray"] = {"error": f"{type(error).__name__}: {error}"[:400]}
    print(json.dumps(figures["ray"]))
    if args.json:
        print(json.dumps(figures))
    out = os.environ.get("OUT")
    if out:
        with open(os.path.join(out, "gpu.json"), "w") as f:
            json.dump(figures, f, indent=1)


if __name__ == "__main__":
    main()
