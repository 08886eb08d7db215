"""The Class page (AppTest): the teacher's sweep, mistakes and filters of a class, the projector view without names,
and a student's view of it once they have handed in."""

import json

import numpy as np
import pytest
import sqlalchemy as sa
from test_app import all_text, image_captions, page

from bench.class_views import make_run
from cnnlab import runs
from cnnlab.classroom import classes, database, permissions, requests, schema, sessions
from cnnlab.course import assignments, leaderboard
from cnnlab.data import datasets
from cnnlab.insight import class_aggregate
from cnnlab.training import TrainConfig

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


def swapped(y_test, share, seed):
    """Predictions right except for `share` of the 3s and 5s, taken for each other."""
    predicted = np.array(y_test, copy=True)
    pair = np.flatnonzero(np.isin(y_test, (3, 5)))
    chosen = pair[np.random.default_rng(seed).random(len(pair)) < share]
    predicted[chosen] = np.where(y_test[chosen] == 3, 5, 3)
    return predicted


@pytest.fixture
def class_work(sign_in):
    """kiwi (sign_in's student) and Mar in one class, each with a run for an assignment: (kiwi's Who, assignment)."""
    class_aggregate.forget()
    kiwi = sign_in("student")
    teacher = sign_in("teacher")
    with database.transaction() as session:
        code = session.get(schema.Classroom, kiwi.class_id).join_code
    mar = sessions.person(classes.join(code, "Mar", "127.0.0.1")[0].id)
    rules, questions = assignments.from_report("A")
    assignment = assignments.create(teacher, kiwi.class_id, "Optimizers", rules, questions)
    with database.transaction() as session:  # on the whole of MNIST: no private part held back
        session.execute(sa.update(schema.Assignment).values(private_share=0.0))
    store, data = runs.RunStore(), datasets.load("mnist")
    for seed, who in enumerate((kiwi, mar), start=1):
        config = TrainConfig(dataset="mnist", architecture="fast", epochs=2, seed=seed)
        run = make_run(store, config, swapped(data.y_test, 0.3 * seed, seed), data)
        made = requests.record(who, run.id, "mnist", json.dumps(config.to_dict()))
        with database.transaction() as session:
            session.execute(sa.update(schema.Request).where(schema.Request.id == made)
                            .values(assignment_id=assignment.id))
    yield kiwi, assignment
    class_aggregate.forget()


def charts(at):
    return at.get("vega_lite_chart")


def shown(at):
    """Everything the page's main area drew, as text (chart data included): a nickname anywhere there is found (the
    sidebar says who is signed in)."""
    found, stack = [], [at.main]
    while stack:
        node = stack.pop()
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            stack.extend(children.values())
        else:
            found.append(str(node.proto))
    return " ".join(found)


def test_the_teacher_sees_the_sweep_the_mistakes_and_the_filters(class_work):
    at = page("pages/13_Class.py").run()
    assert not at.exception, at.exception
    assert [h.value for h in at.header] == ["The class's sweep", "The class's mistakes", "The class's filters"]
    assert len(charts(at)) == 2  # the sweep and the summed confusion matrix
    sweep, matrix = (json.loads(chart.proto.spec) for chart in charts(at))
    assert "2 attempts of the class" in sweep["description"] and "Most confused: 2 of 2 networks" in matrix[
        "description"]
    assert "2 of 2 networks confuse 3 and 5" in [h.value for h in at.subheader]
    assert any("taken for" in caption for caption in image_captions(at))  # its example images
    assert "kiwi" not in shown(at)  # names only when asked
    at.toggle(key="class_view_filters").set_value(True).run()
    assert not at.exception, at.exception
    assert [c for c in image_captions(at) if c.startswith("Network")] == [
        c for c in image_captions(at) if "filters of" in c] and len([c for c in image_captions(at)
                                                                      if "filters of" in c]) == 2
    at.toggle(key="class_view_names").set_value(True).run()
    assert "kiwi" in shown(at) and any(c.startswith("kiwi:") for c in image_captions(at))


def test_the_projector_view_hides_names_unless_the_teacher_turns_them_on(class_work):
    at = page("pages/13_Class.py").run()
    at.toggle(key="class_view_names").set_value(True).run()
    at.toggle(key="class_view_filters").set_value(True).run()
    assert "kiwi" in shown(at) and "Mar" in shown(at)
    at.toggle(key="class_view_projector").set_value(True).run()  # names stay off on the projector
    assert not at.exception, at.exception
    assert "kiwi" not in shown(at) and "Mar" not in shown(at)
    assert at.toggle(key="class_view_projector_names").label == "Names on the projector"
    at.toggle(key="class_view_projector_names").set_value(True).run()
    assert "kiwi" in shown(at)


def test_a_student_sees_the_class_after_handing_in_without_names(class_work, sign_in):
    kiwi, assignment = class_work
    sign_in("student")
    at = page("pages/13_Class.py").run()
    assert not at.exception, at.exception
    assert "once you have handed it in" in all_text(at) and not charts(at)
    with database.transaction() as session:
        session.add(schema.HandIn(assignment_id=assignment.id, person_id=kiwi.person_id, handed_at=schema.now(),
                                  times=1))
    # the leaderboard shows the nicknames its teacher chose (tests/app/test_leaderboard_pages.py): off here, so that
    # what is left on the page is the sweep and the mistakes, which never name anyone to a student
    leaderboard.set_mode(permissions.OWNER, assignment, "off")
    at = page("pages/13_Class.py").run()
    assert not at.exception, at.exception
    assert len(charts(at)) == 2 and not at.get("toggle")[1:]  # the projector only: no names to turn on
    assert "kiwi" not in shown(at) and "Mar" not in shown(at)
    assert "not a competition" in all_text(at)
    assert "The class's filters are shown by the teacher" in all_text(at)


def test_a_guest_reads_why_not(sign_in):
    sign_in("guest")
    at = page("pages/13_Class.py").run()
    assert not at.exception, at.exception
    assert "Only the class's teacher and its students see what the class learned together." in all_text(at)
