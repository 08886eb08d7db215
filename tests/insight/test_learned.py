"""What a network learned (the map of its test images) and how it learned it (the timeline of its run)."""

import numpy as np
import pytest

from cnnlab import runs, training
from cnnlab.data import datasets
from cnnlab.insight import learned
from cnnlab.networks import keras_build
from cnnlab.training import TrainConfig

CONFIG = TrainConfig(architecture="fast", epochs=3, batch_size=64, train_size=2000)


pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")  # conftest: each test's own server-wide caches


@pytest.fixture
def trained():
    return training.train(CONFIG)


def test_the_map_of_a_trained_network_separates_classes_better_than_an_untrained_ones(trained):
    import keras
    from sklearn.metrics import silhouette_score  # the oracle: scikit-learn's own silhouette

    data = datasets.load("mnist")
    images, labels = data.x_test[:1000], data.y_test[:1000]
    keras.utils.set_random_seed(0)
    untrained = keras_build.build(CONFIG.layers, (28, 28, 1), 10)
    before = silhouette_score(learned.embedding(untrained, images), labels)
    after = silhouette_score(learned.embedding(trained.model, images), labels)
    assert after > before + 0.1, (before, after)
    progress = []
    mapped = learned.embedding(trained.model, images, method="tsne", on_progress=progress.append)
    assert mapped.shape == (1000, 2) and silhouette_score(mapped, labels) > after  # t-SNE: clearer groups
    assert progress == [0.25, 0.5, 0.75, 1.0]  # what the page's progress bar shows
    assert learned.separation(mapped[:300], labels[:300]) == pytest.approx(silhouette_score(mapped[:300], labels[:300]),
                                                                          abs=1e-6)


def test_pca_keeps_the_directions_of_largest_variance():
    rng = np.random.default_rng(0)
    points = rng.standard_normal((500, 3)) * [10.0, 1.0, 0.1]  # spread mostly along the first axis, then the second
    mapped = learned.pca(points)
    assert abs(np.corrcoef(mapped[:, 0], points[:, 0])[0, 1]) > 0.99
    assert abs(np.corrcoef(mapped[:, 1], points[:, 1])[0, 1]) > 0.99


def test_the_timeline_holds_the_random_start_and_one_entry_per_epoch(trained):
    timeline = trained.timeline
    assert len(timeline["spread"]) == len(timeline["update"]) == trained.epochs_completed + 1 == 4
    assert list(timeline["layers"]) == ["conv_1", "conv_2", "dense_1", "output"]
    assert timeline["filters"].shape == (4, 3, 3, 1, 16) and timeline["maps"].shape == (4, 26, 26, 16)
    assert np.all(timeline["update"][0] == 0) and np.all(timeline["update"][1:] > 0)
    assert timeline["counts"].shape == (4, 4, 24) and np.all(timeline["counts"].sum(axis=2)[:, 0] == 3 * 3 * 16)
    final = np.asarray(trained.model.get_layer("conv_1").get_weights()[0])
    np.testing.assert_allclose(timeline["filters"][-1].astype(np.float32), final, atol=2e-3)  # float16 copies
    assert not np.allclose(timeline["filters"][0], timeline["filters"][-1], atol=1e-3)  # they formed from random
    assert learned.filters_at(timeline, 0).dtype == np.uint8 and learned.maps_at(timeline, 3).ndim == 3
    rows = learned.weight_rows(timeline)
    assert len(rows) == 4 * 4 and rows[0]["update"] is None


def test_a_stopped_run_keeps_the_timeline_of_the_epochs_it_completed():
    store = runs.RunStore()
    done = []
    run, _ = store.get_or_train(TrainConfig(architecture="fast", epochs=5, train_size=640, validation_split=0.25),
                                on_epoch_end=lambda epoch, logs: done.append(epoch), should_stop=lambda: len(done) >= 2)
    assert not run.complete
    timeline = run.timeline()
    assert run.record["epochs_completed"] == 2 and done == [0, 1]  # Stop came in the third epoch: it is not counted
    assert len(timeline["spread"]) == len(timeline["filters"]) == 3  # the random start and the two whole epochs
    final = run.build_model().get_layer("conv_1").get_weights()[0]
    np.testing.assert_allclose(timeline["filters"][-1].astype(np.float32), final, atol=2e-3)  # the stored weights
    assert "timeline.npz" in run.record["checksums"]


def test_a_run_from_before_timelines_has_none_and_the_page_says_so():
    from conftest import ROOT
    from streamlit.testing.v1 import AppTest

    config = TrainConfig(architecture="fast", epochs=1, train_size=320, validation_split=0.25)
    result = training.train(config)
    result.timeline = None  # as every run trained before this change
    store = runs.RunStore()
    data = datasets.load("mnist")
    run = store.save(config.run_id(data.variant, data.fingerprint), result)
    assert run.timeline() is None and store.get(run.id) is not None
    at = AppTest.from_file(f"{ROOT}/pages/11_Learned.py", default_timeout=120)
    at.session_state["run_id"] = run.id
    at.run()
    assert not at.exception, at.exception
    assert any("has no timeline" in info.value for info in at.info)
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")  # the map is still there


def test_the_learned_page_maps_the_test_images_and_replays_the_training():
    from conftest import ROOT
    from streamlit.testing.v1 import AppTest

    run, _ = runs.RunStore().get_or_train(TrainConfig(architecture="fast", epochs=2, train_size=640,
                                                      validation_split=0.25))
    at = AppTest.from_file(f"{ROOT}/pages/11_Learned.py", default_timeout=120)
    at.session_state["run_id"] = run.id
    at.run()
    assert not at.exception, at.exception
    assert any(c.value.startswith("How far apart the classes sit on the PCA map: silhouette") for c in at.caption)
    assert not at.info and not at.warning, ([i.value for i in at.info], [w.value for w in at.warning])
    slider = at.slider(key="learned_epoch")
    assert (slider.min, slider.max, slider.value) == (0, 2, 2)
    slider.set_value(0).run()
    captions = [image.caption for element in at.get("image") for image in element.proto.imgs]
    assert "The first layer's 16 filters at epoch 0 (light = high weight)" in captions
    at.radio(key="learned_method").set_value("tsne").run()
    assert not at.exception, at.exception
    assert any(c.value.startswith("How far apart the classes sit on the t-SNE map") for c in at.caption)


def test_a_damaged_timeline_is_a_sentence_on_the_learned_page_and_the_run_is_set_aside():
    """#29 item 10: like every other page, Learned says a damaged file in a sentence, never a traceback."""
    from conftest import ROOT
    from streamlit.testing.v1 import AppTest

    store = runs.RunStore()
    run, _ = store.get_or_train(TrainConfig(architecture="fast", epochs=1, train_size=320, validation_split=0.25))
    with open(run.path / "timeline.npz", "r+b") as f:  # same size, other bytes: only its checksum can tell
        f.seek(200)
        f.write(b"\x00" * 16)
    at = AppTest.from_file(f"{ROOT}/pages/11_Learned.py", default_timeout=120)
    at.session_state["run_id"] = run.id
    at.run()
    assert not at.exception, at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert run.id in warnings and "timeline.npz" in warnings, warnings
    assert store.get(run.id) is None and any(p.name.startswith(run.id) for p in (store.root / "corrupt").iterdir())
