"""The Compare page (#33): is the difference between two runs real, the settings that differ, and the images where the
two networks disagree, with both networks' answers and a text alternative for each image."""

import pytest
from test_app import all_text, page, real_digits_in_another_split
from test_i18n import assert_no_english, spanish_page

from cnnlab import runs
from cnnlab.course import comparisons
from cnnlab.insight import inspection
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=2, batch_size=32, train_size=320, validation_split=0.25)

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")  # conftest: each test's own server-wide caches


@pytest.fixture
def two_runs(stored):
    """The same settings with seeds 0 (trained once per worker, copied) and 1."""
    return stored(TrainConfig(**TINY)), runs.RunStore().get_or_train(TrainConfig(**TINY, seed=1))[0]


def images(at):
    return [image for element in at.get("image") for image in element.proto.imgs]


def test_the_verdict_the_settings_that_differ_and_the_images_where_they_disagree(two_runs):
    at = page("pages/6_Compare.py").run()
    assert not at.exception, at.exception
    by_id = {run.id: run for run in two_runs}
    run_a, run_b = (by_id[at.selectbox(key=key).value] for key in ("verdict_a", "verdict_b"))
    assert run_a.id != run_b.id
    compared = comparisons.paired(run_a, run_b)
    text = all_text(at)
    assert str(compared.verdict()) in text and str(compared.details()) in text, text
    differ = next(frame.value for frame in at.dataframe if "setting" in frame.value.columns)
    assert list(differ["setting"]) == ["Seed"]  # only what differs; the rest is folded away
    (probabilities_a, y_test), (probabilities_b, _) = run_a.predictions(), run_b.predictions()
    a_only, b_only = comparisons.disagreements(probabilities_a, probabilities_b, y_test)
    assert len(a_only) == compared.a_right_b_wrong and len(b_only) == compared.a_wrong_b_right
    assert f"A right, B wrong: {len(a_only)} images" in text and f"A wrong, B right: {len(b_only)} images" in text
    shown = [image for image in images(at) if image.caption.count(" · ") == 2]  # the gallery's
    assert len(shown) == min(16, len(a_only)) + min(16, len(b_only))
    side = [image for image in images(at) if image.caption.count(" · ") != 2]  # side by side: the first one's
    names = inspection.feature_extractor(run_a.build_model())[1]
    assert [image.caption.split(":")[0] for image in side] == [f"Grad-CAM at {names[-1]}", names[0]] * 2
    assert side[0].alt.startswith("Network A's Grad-CAM over the image") and "Network B's first layer" in side[3].alt
    first = comparisons.answers(a_only[0], probabilities_a, probabilities_b, y_test, run_a.info.class_names)
    assert shown[0].caption == f"{first['true']} · A: {first['a']} ({first['a_confidence']:.0%}) · B: {first['b']} " \
                               f"({first['b_confidence']:.0%})"
    assert first["a"] == first["true"] != first["b"]
    assert shown[0].alt.startswith(f"Test image {a_only[0]}, a {first['true']}: A answers {first['a']}")
    at.toggle(key="verdict_groups").set_value(True).run()  # seeds 0 and 1 of the same settings: one group
    assert not at.exception, at.exception
    assert any("are in the same group" in warning.value for warning in at.warning)
    assert "A: 2 seeds, mean" in all_text(at)
    at.toggle(key="verdict_groups").set_value(False)
    at.selectbox(key="verdict_b").set_value(run_a.id).run()  # a run against itself: nothing to tell apart
    assert "A and B are right on exactly the same test images" in all_text(at) and not images(at)
    at.multiselect[0].set_value([run_b.id]).run()
    assert not at.exception and "Choose two runs above" in all_text(at)
    at.multiselect[0].set_value([run_b.id, run_a.id]).run()
    assert at.selectbox(key="verdict_a").value == run_b.id


def test_runs_on_other_test_images_get_the_reason_and_no_gallery(stored, isolated):
    run_a = stored(TrainConfig(**TINY))
    real_digits_in_another_split(isolated / "keras_home" / "datasets" / "mnist.npz")  # another copy of MNIST
    run_b, _ = runs.RunStore().get_or_train(TrainConfig(**dict(TINY, epochs=1)))
    at = page("pages/6_Compare.py").run()
    assert not at.exception, at.exception
    warnings = " ".join(warning.value for warning in at.warning)
    assert "No test compares these runs" in warnings and "A paired test needs the very same test images" in warnings
    assert "The images where they disagree" not in [header.value for header in at.subheader] and not images(at)
    assert {run_a.id, run_b.id} == {at.selectbox(key=key).value for key in ("verdict_a", "verdict_b")}


def test_in_spanish_the_verdict_the_settings_and_the_images_show_no_english(two_runs):
    at = spanish_page("pages/6_Compare.py").run()
    text = assert_no_english(at, "Compare with two runs")
    assert "¿Es real la diferencia?" in text and "Las imágenes en que no coinciden" in text
    assert "2.000 imágenes de test: A acierta y B falla en" in text
    assert any(image.caption.count(" · ") == 2 for image in images(at))
    at = spanish_page("pages/6_Compare.py", verdict_groups=True).run()  # (AppTest reruns a worded radio badly)
    text = assert_no_english(at, "Compare, groups")
    assert "están en el mismo grupo" in text and "A: 2 semillas, media" in text


def chart_texts(at):
    import json

    return [json.loads(chart.proto.spec).get("description", "") for chart in at.get("vega_lite_chart")]


def test_a_group_is_drawn_as_a_group_and_a_repeat_queues_its_seeds_as_one_training(two_runs):
    import ui

    at = page("pages/6_Compare.py").run()
    assert not at.exception, at.exception
    run_a = next(run for run in two_runs if run.config.seed == 0)
    texts = chart_texts(at)
    assert any("2 seeds, mean" in text and "(± one standard deviation)" in text for text in texts), texts
    assert any("from the lowest seed to the highest (min–max)" in text for text in texts), texts
    at.selectbox(key="repeat_pick").set_value(run_a.id).run()
    at.button(key="repeat_compare_2").click().run()  # seeds 1 (stored: it trains nothing) and 2
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    first = ui.queue().get(at.session_state["seed_groups"]["compare"])
    group = first.groups[at.session_state["student"]]
    assert group.seeds == [1, 2] and group.wait(ui.queue(), timeout=240) and group.status == "done", group.why
    assert [job.cached for job in group.jobs] == [True, False]
    at.run()
    assert not at.exception, at.exception
    assert any("3 seeds, mean" in text for text in chart_texts(at)), chart_texts(at)
