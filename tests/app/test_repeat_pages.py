"""Repeat with more seeds on the pages (#33): Train's result queues a repeat as the student's one training and, once
its seeds trained, draws the run's group as a group; a guest's repeat is refused by the queue, in a sentence; the
Course page's answers say when they rest on one run."""

import json

import pytest
from test_app import TINY, all_text, page

from cnnlab.course import experiments
from cnnlab.training import TrainConfig

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")  # conftest: each test's own server-wide caches


@pytest.fixture
def stored_run(stored):
    return stored(TrainConfig(**TINY))  # conftest: trained once, copied into each test's own home


@pytest.fixture
def course_run(stored):
    return stored(experiments.get("C3").config(epochs=1), requested_by="C3")  # as test_i18n's


def chart_texts(at):
    return [json.loads(chart.proto.spec).get("description", "") for chart in at.get("vega_lite_chart")]


def test_train_repeats_a_run_with_two_more_seeds_and_draws_its_group(stored_run):
    import ui

    at = page("pages/3_Train.py", run_id=stored_run.id).run()
    assert not at.exception, at.exception
    assert "This run is alone" in all_text(at) and "Repeat with 4 more seeds" in [b.label for b in at.button]
    at.button(key="repeat_train_2").click().run()
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    first = ui.queue().get(at.session_state["seed_groups"]["train"])
    group = first.groups[at.session_state["student"]]
    assert group.origin == stored_run.id and group.seeds == [1, 2]
    assert ui.queue().job_of(at.session_state["student"]) is group.current  # the repeat is their one training
    assert group.wait(ui.queue(), timeout=300) and group.status == "done", group.why
    at.run()
    assert not at.exception, at.exception
    assert "Its group: 3 seeds" in [header.value for header in at.subheader]
    texts = chart_texts(at)
    assert any("3 seeds, mean" in text and "seed 0:" in text and "seed 2:" in text for text in texts), texts
    assert any("(min–max)" in text for text in texts), texts


def test_a_guests_repeat_is_refused_by_the_queue_in_a_sentence(stored_run, sign_in):
    import ui

    sign_in("guest")
    at = page("pages/3_Train.py", run_id=stored_run.id).run()
    assert not at.exception, at.exception
    at.button(key="repeat_train_4").click().run()
    assert any("Only students and teachers who have signed in may train" in w.value for w in at.warning)
    assert ui.queue().jobs() == []


def test_the_course_page_says_its_answer_rests_on_one_run_and_offers_a_repeat(course_run):
    at = page("pages/9_Course.py", course_view="C3").run()
    assert not at.exception, at.exception
    assert "This run is alone" in all_text(at) and "repeat_course_2" in [button.key for button in at.button]
