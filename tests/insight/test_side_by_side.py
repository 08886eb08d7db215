"""Two networks on one image, side by side (#33): each one's answer, its Grad-CAM for that answer and its first layer's
feature maps, with text alternatives that say which network and what they show."""

import numpy as np
import pytest

from cnnlab.insight import explain, inspection, side_by_side
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)


@pytest.fixture
def run(stored):
    return stored(TrainConfig(**TINY))


def test_each_network_is_seen_through_its_own_answer_its_last_layers_evidence_and_its_first_layers_maps(run):
    model = run.build_model()
    extractor, names = inspection.feature_extractor(model)
    probabilities, y_test = run.predictions()
    image = run.data().x_test[3]
    looked = side_by_side.seen("B", probabilities[3], run.info.class_names, image, explain.GradCam(model), extractor,
                               names)
    answer = int(np.argmax(probabilities[3]))
    assert looked.answer == run.info.class_names[answer]
    assert looked.confidence == pytest.approx(probabilities[3, answer])
    assert looked.cam_layer == names[-1] and looked.maps_layer == names[0]
    assert np.allclose(looked.cam, explain.GradCam(model)(image, answer, names[-1]))
    maps = inspection.feature_maps(extractor, names, image)[names[0]]
    assert np.allclose(looked.maps, maps)
    strongest = np.argsort(-maps.mean(axis=(0, 1)))[:3] + 1  # the oracle: each channel's mean response
    text = str(looked.maps_alt())
    assert text.startswith(f"Network B's first layer {names[0]} on this image: {maps.shape[-1]} feature maps")
    assert f"numbers {strongest[0]}, {strongest[1]} and {strongest[2]}" in text, text
    assert str(looked.cam_alt()).startswith(f"Network B's Grad-CAM over the image: the evidence its layer {names[-1]}")
    assert looked.cam_picture(image).shape[:2] == (168, 168) and looked.maps_picture().dtype == np.uint8


def test_a_network_without_conv_layers_has_no_pictures_and_the_choices_are_the_gallerys():
    looked = side_by_side.seen("A", np.array([0.1, 0.7, 0.2]), ["a", "b", "c"], np.zeros((28, 28), np.uint8))
    assert (looked.answer, looked.cam, looked.maps) == ("b", None, None)
    assert side_by_side.choices(np.array([5, 2, 9]), np.array([4]), 2) == [(5, "a"), (2, "a"), (4, "b")]
