"""How a network learned, epoch by epoch: the timeline a run keeps and the Train page replays."""

import numpy as np


class Timeline:
    """How a network learns, recorded before the first epoch (its random start) and after each completed one.

    Small by design (a few KB an epoch of net_1): the first conv layer's filters (float16), its feature maps of
    one fixed test image (at most MAPS of them, each scaled to 0–255), and for every layer with weights a
    histogram of its kernel (BINS bins), their spread (standard deviation) and how much they moved in the epoch
    (the change's norm over the weights' norm before it). A stopped training keeps the epochs it completed.
    """

    BINS, MAPS = 24, 16

    def __init__(self, keras, model, image):
        self.model, self.image = model, np.asarray(image, np.float32)[np.newaxis] / 255.0
        self.layers = [layer for layer in model.layers if layer.weights and layer.get_weights()[0].ndim > 1]
        convs = [layer for layer in self.layers if isinstance(layer, keras.layers.Conv2D)]
        self.first = convs[0] if convs else None
        self.probe = keras.Model(model.input, self.first.output) if self.first is not None else None
        self.entries, self.last = [], None

    def record(self):
        kernels = [np.asarray(layer.get_weights()[0], np.float32) for layer in self.layers]
        entry = {"spread": [float(k.std()) for k in kernels],
                 "update": [0.0 if self.last is None else
                            float(np.linalg.norm(k - old) / max(np.linalg.norm(old), 1e-12))
                            for k, old in zip(kernels, self.last or kernels)],
                 "histograms": [self._histogram(k) for k in kernels]}
        if self.first is not None:
            entry["filters"] = kernels[self.layers.index(self.first)].astype(np.float16)
            maps = np.nan_to_num(np.asarray(self.probe(self.image, training=False), np.float32)[0][..., :self.MAPS])
            low, high = maps.min(axis=(0, 1)), maps.max(axis=(0, 1))
            entry["maps"] = ((maps - low) / np.maximum(high - low, 1e-12) * 255).round().astype(np.uint8)
        self.entries.append(entry)
        self.last = kernels

    def _histogram(self, kernel):
        """(counts, edges) of a kernel's weights; a diverged training's NaN weights are left out, not a crash."""
        finite = kernel[np.isfinite(kernel)]
        if not finite.size:
            return np.zeros(self.BINS, np.int64), np.linspace(0.0, 1.0, self.BINS + 1)
        return np.histogram(finite, bins=self.BINS)

    def arrays(self):
        """{name: array} with one row per recorded epoch (row 0: before training), for np.savez."""
        out = {"layers": np.array([layer.name for layer in self.layers]),
               "spread": np.array([e["spread"] for e in self.entries], np.float32),
               "update": np.array([e["update"] for e in self.entries], np.float32),
               "counts": np.array([[h[0] for h in e["histograms"]] for e in self.entries], np.int32),
               "edges": np.array([[h[1] for h in e["histograms"]] for e in self.entries], np.float32)}
        if self.first is not None:
            out["filters"] = np.stack([e["filters"] for e in self.entries])
            out["maps"] = np.stack([e["maps"] for e in self.entries])
            out["image"] = (self.image[0] * 255).round().astype(np.uint8)
        return out

    def callback(self, keras):
        timeline = self

        class Record(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                timeline.record()

            def on_epoch_end(self, epoch, logs=None):
                timeline.record()

        return Record()
