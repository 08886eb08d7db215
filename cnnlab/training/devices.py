"""The device a training runs on: the GPU's name, memory growth and mixed precision, and this process."""

import functools
import os
import shutil
import socket
import subprocess

from cnnlab.i18n import t

# ---------------------------------------------------------------- the device

@functools.lru_cache(maxsize=1)
def gpu_name():
    """The NVIDIA GPU's name without importing TensorFlow (for the home page), or None; asked once per process."""
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out.splitlines()[0] if out else None


def device_summary():
    name = gpu_name()
    return f"GPU ({name})" if name else t("device.cpu", cores=os.cpu_count())


@functools.lru_cache(maxsize=1)
def configure_devices():
    """Memory growth on every GPU (so several models share one); returns what TensorFlow trains on."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised: growth can only be set before first use
            pass
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        name = f"GPU ({details.get('device_name', gpus[0].name)})"
        # float16 maths with float32 weights on tensor cores (compute capability 7.0+); the output layer
        # stays float32 (keras_build.build), so probabilities and losses keep their precision
        if details.get("compute_capability", (0, 0)) >= (7, 0) and os.environ.get("CNNLAB_MIXED_PRECISION") != "0":
            import keras
            keras.mixed_precision.set_global_policy("mixed_float16")
            name += ", mixed precision"
        return name
    return f"CPU ({os.cpu_count()} cores)"


def here():
    """Where this process trains: {"executor": "local", "node": host name, "pid": process id}."""
    return {"executor": "local", "node": socket.gethostname(), "pid": os.getpid()}
