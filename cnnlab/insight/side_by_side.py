"""Two networks on one test image, side by side: each one's answer, where it looked (Grad-CAM) and what its first layer
saw (its feature maps), for an image of Compare's disagreement gallery.

Where two networks disagree, their numbers say only that they do; the pictures say how. Each network's Grad-CAM is
for its own top answer (where its last conv layer found evidence for what it answered), over the same image, and the
first conv layer's maps show what each network's filters picked out of the pixels before anything was decided. A
network without a conv layer has neither: `Seen.cam` and `Seen.maps` are None and the page says so.
"""

import dataclasses

import numpy as np

from cnnlab.i18n import Message
from cnnlab.insight import explain, inspection

SIZE = 168  # pixels of each picture on the page, about: a 28×28 image at 6×


@dataclasses.dataclass
class Seen:
    """What one network makes of one image."""

    label: str  # "A" or "B"
    answer: str  # its top class, by name
    confidence: float
    cam_layer: str | None = None
    cam: np.ndarray | None = dataclasses.field(default=None, repr=False)  # (h, w) in [0, 1] over the image
    maps_layer: str | None = None
    maps: np.ndarray | None = dataclasses.field(default=None, repr=False)  # (h', w', channels) of the first layer

    def cam_picture(self, image):
        """The Grad-CAM over the image in grey, upscaled: uint8 (SIZE, SIZE, 3)."""
        heat = inspection.overlay(explain.grey(image), self.cam)
        return inspection.upscale(heat, max(1, SIZE // image.shape[0]))

    def maps_picture(self):
        """The first layer's feature maps as one grid of viridis tiles (uint8)."""
        return inspection.feature_map_grid(self.maps, columns=8, size=48)

    def cam_alt(self):
        """The Grad-CAM's text alternative: which network, what it answered, where its evidence lies."""
        return Message("side.cam_alt", label=self.label, name=self.answer, layer=self.cam_layer,
                       where=explain.where(self.cam))

    def maps_alt(self):
        """The feature maps' text alternative: how many, of which layer, and which of them respond most."""
        strength = self.maps.reshape(-1, self.maps.shape[-1]).mean(axis=0)  # (channels,) mean response
        strongest = [int(c) + 1 for c in np.argsort(-strength, kind="stable")[:3]]
        return Message("side.maps_alt", label=self.label, count=self.maps.shape[-1], layer=self.maps_layer,
                       h=self.maps.shape[0], w=self.maps.shape[1], strongest=strongest)


def seen(label, probabilities, class_names, image, grad_cam=None, extractor=None, names=()):
    """Seen for one network: its answer from its probabilities for this image ((classes,)), its Grad-CAM for that
    answer at its last conv layer (grad_cam: an explain.GradCam of the network) and its first conv layer's maps
    (extractor, names: inspection.feature_extractor of the network); no pictures for a network without conv layers."""
    answer = int(np.argmax(probabilities))
    found = Seen(label, class_names[answer], float(probabilities[answer]))
    names = list(names or [])
    if names and grad_cam is not None and extractor is not None:
        found.cam_layer, found.maps_layer = names[-1], names[0]
        found.cam = grad_cam(image, answer, names[-1])
        found.maps = inspection.feature_maps(extractor, names, image)[names[0]]
    return found


def choices(indices_a, indices_b, shown):
    """[(index, which list)] of the gallery's images a student may put side by side: the first `shown` of each."""
    return [(int(index), "a") for index in indices_a[:shown]] + [(int(index), "b") for index in indices_b[:shown]]
