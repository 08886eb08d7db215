"""Training a network: its settings (config), the device (devices), networks kept warm between trainings (warm),
the training loop and its predictions (loop), what a training reports as it goes (callbacks) and the record of how
it learned (timeline).

The package's face: `from cnnlab import training; training.train(config, dataset=dataset)`.
"""

from cnnlab.training.config import OPTIMIZERS, TrainConfig, check_layers
from cnnlab.training.devices import configure_devices, device_summary, gpu_name
from cnnlab.training.loop import confusion_matrix, per_class_accuracy, predict, train
from cnnlab.training.pipeline import preflight, split_data, split_sizes, steps_per_epoch
from cnnlab.training.timeline import Timeline
from cnnlab.training.warm_networks import WARM, WarmNetworks, network_signature, seed_everything, warm_up

__all__ = ["OPTIMIZERS", "TrainConfig", "check_layers", "configure_devices", "device_summary", "gpu_name",
           "confusion_matrix", "per_class_accuracy", "predict", "train", "preflight", "split_data", "split_sizes",
           "steps_per_epoch", "Timeline", "WARM", "WarmNetworks", "network_signature", "seed_everything", "warm_up"]
