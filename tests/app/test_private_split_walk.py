"""The private split never reaches a student (#32): a student of a class whose assignment holds part of MNIST's test
set back walks every page (AppTest), with their own run and with a link to a run on the whole dataset, and no page
shows one of the held-back images, names the whole dataset's run, or its private score; the command line's links say
the same. Every picture a page draws goes through ui.image, which this test watches (and still calls)."""

import hashlib

import numpy as np
import pytest
from test_app import all_text, page

from cnnlab import i18n, runs
from cnnlab.classroom import permissions
from cnnlab.compute import jobs
from cnnlab.course import assignments, exports, handins, leaderboard
from cnnlab.data import datasets, ownership
from cnnlab.errors import CnnlabError, NotAllowed
from cnnlab.training import TrainConfig

TINY = dict(architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)


def every_text(at):
    """What a page says in words, numbers and tables: its text (all_text), metrics, tables, and its charts' specs."""
    parts = [all_text(at)] + [f"{metric.label} {metric.value}" for metric in at.metric]
    parts += [frame.value.to_csv() for frame in at.dataframe] + [table.value.to_csv() for table in at.table]
    parts += [str(element.proto) for name in ("arrow_vega_lite_chart", "vega_lite_chart", "json", "text")
              for element in at.get(name)]
    return " ".join(parts)


def digests(images):
    return {hashlib.sha256(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).hexdigest() for image in images}


def as_28(pixels):
    """A picture a page drew, as the 28 x 28 grey digit it shows (None: it is no such picture): scaled-up copies are
    sampled back down, floats in 0..1 turned back into bytes."""
    array = np.asarray(pixels)
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating) or array.size == 0 or array.max() > 1.0 or array.min() < 0:
            return None
        array = np.rint(array * 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] % 28:
        return None
    step = array.shape[0] // 28
    return array[::step, ::step]


@pytest.fixture
def walk(sign_in, monkeypatch):
    """The class's teacher, a student and an assignment holding 30 % of MNIST's test images back; the student's run
    for it, and a run of the teacher's on the whole dataset (its test set holds the held-back images)."""
    import ui

    teacher = sign_in("teacher")
    student = sign_in("student")
    rules = assignments.Rules("mnist", "fast", {"dataset": {"mode": "locked", "value": "mnist"}})
    made = assignments.create(teacher, student.class_id, "Digits", rules, [{"report": "overfitting"}])
    queue = jobs.TrainingQueue(runs.RunStore())
    mine = queue.submit(TrainConfig(dataset="mnist", seed=1, **TINY), who=student,
                        assignment=handins.training_for(made))
    whole = queue.submit(TrainConfig(dataset="mnist", seed=2, **TINY), who=permissions.OWNER)
    for job in (mine, whole):
        assert queue.wait(job, timeout=600) and job.status == "done", job.error
    mine, whole = queue.store.get(mine.id), queue.store.get(whole.id)
    public = datasets.load(mine.config.dataset)
    private = datasets.private_test(teacher, mine.config.dataset, public.test_fingerprint)
    drawn = []
    real_image = ui.image

    def watched(where, pixels, caption, alt=None, **kwargs):
        drawn.extend(pixels if isinstance(pixels, (list, tuple)) else [pixels])
        return real_image(where, pixels, caption, alt, **kwargs)

    monkeypatch.setattr(ui, "image", watched)
    score = leaderboard.private_score(teacher, mine)
    return student, made, mine, whole, public, private, drawn, score


@pytest.mark.slow  # every page, twice
def test_no_page_shows_a_student_the_held_back_images_or_the_whole_datasets_run(walk):
    import ui

    student, made, mine, whole, public, private, drawn, score = walk
    held_back, shown_publicly = digests(private[0]), digests(public.x_test)
    assert not held_back & shown_publicly
    handins.hand_in(student, made, [mine.id], ["Mine."])  # the worksheet, its leaderboard and the class views open
    secret = {i18n.percent(score), i18n.percent(score, 1), f"{score:.4f}"} - {
        i18n.percent(mine.test_accuracy), i18n.percent(mine.test_accuracy, 1), f"{mine.test_accuracy:.4f}"}
    seen_public = 0
    for path in ["app.py"] + [entry[0] for entry in ui.PAGES]:
        for state, link in (({"run_id": mine.id}, None), ({}, whole.id)):
            drawn.clear()
            at = page(path, **state)
            if link:
                at.query_params["run"] = link
            if path.endswith("12_Assignment.py"):
                at.query_params["assignment"] = made.code
            at.run()
            assert not at.exception, (path, at.exception)
            text = all_text(at)
            # the whole dataset's run is unknown to the student: nothing of it shows but the link they sent
            assert whole.id[:6] not in text.replace(f'"{whole.id}"', ""), path
            said = every_text(at)
            assert not {number for number in secret if number in said}, f"{path} showed the private score"
            pictures = [picture for picture in (as_28(pixels) for pixels in drawn) if picture is not None]
            found = digests(pictures)
            assert not found & held_back, f"{path} showed a held-back test image"
            seen_public += len(found & shown_publicly)
    assert seen_public > 0  # the watch works: the student's own test images were seen on the pages that show them


def test_a_students_run_goes_home_as_its_report_only_until_the_reveal(walk, sign_in):
    """Its network, code or the whole sample would score it on the whole test set: with its public score, its
    private one."""
    student, made, mine, whole, *_ = walk
    at = page("pages/3_Train.py", run_id=mine.id).run()
    labels = [button.proto.label for button in at.get("download_button")]
    assert "Lab report (.html)" in labels
    assert not {"Model (.keras)", "Weights (.weights.h5)", "The MNIST sample the script reads (.npz)"} & set(labels)
    assert "this assignment's runs go home as their lab report only" in all_text(at)
    for fmt in ("keras", "weights", "script", "notebook"):
        with pytest.raises(NotAllowed):
            exports.render(mine, fmt, who=student)
    assert exports.data_file(mine, student) is None and exports.render(mine, "report", who=student)
    teacher = sign_in("teacher")
    assert exports.render(mine, "keras", who=teacher) and exports.data_file(mine, teacher) is not None
    later = assignments.create(teacher, student.class_id, "Digits again", made_rules(made), [])  # the same images
    other_teacher, other_class = another_teacher()
    elsewhere = assignments.create(other_teacher, other_class, "Their digits", made_rules(made), [])
    leaderboard.reveal(teacher, made)
    # revealed, but a later assignment of the class holds the same private images back: its networks would score it
    assert exports.held_back(student, mine) == "take.held_elsewhere"
    with pytest.raises(NotAllowed, match="another assignment of your class"):
        exports.render(mine, "weights", who=student)
    with pytest.raises(NotAllowed, match="another assignment of your class"):
        exports.require_pictures_sent(student, mine)
    assert exports.data_file(mine, student) is None
    leaderboard.reveal(teacher, later)  # another class's assignment holds nothing back from this one
    assert exports.held_back(student, mine) is None and elsewhere.revealed_at is None
    assert exports.render(mine, "weights", who=student) and exports.data_file(mine, student) is not None


def made_rules(made):
    return assignments.Rules("mnist", "fast", {"dataset": {"mode": "locked", "value": "mnist"}})


def another_teacher():
    """A second teacher of the server and the id of a class of their own."""
    from cnnlab.classroom import accounts, classes, sessions

    person = accounts.add_teacher("Other teacher", "another-long-password")
    classroom = classes.create(person.id, "The other class")
    return sessions.who(sessions.open_session(person.id))[0], classroom.id


def test_links_and_lists_as_the_student_know_only_the_assignments_copy(walk):
    student, made, mine, whole, *_ = walk
    store = runs.RunStore()
    assert [run.id for run in store.list(who=student)] == [mine.id]
    with pytest.raises(CnnlabError):
        exports.find_run(store, whole.id, who=student)
    with pytest.raises(CnnlabError):
        exports.config_from_query({"dataset": "mnist", "architecture": "fast"}, who=student)
    assert "mnist" not in ownership.names(student) and mine.config.dataset in ownership.names(student)


def test_a_held_out_run_answers_drawings_but_no_uploaded_picture_until_the_reveal(walk, sign_in):
    """Uploading the test images one by one to Inside or Draw would read a run's score on the held-back ones."""
    student, made, mine, *_ = walk
    refusal = i18n.t("inside.upload_held_back")
    for reveal in (False, True):
        for path, prepare in (("pages/4_Inside.py", lambda at: at.radio[0].set_value(i18n.t("inside.upload"))),
                              ("pages/8_Draw.py", lambda at: at.radio(key="draw_source").set_value(
                                  i18n.t("draw.upload")))):
            at = page(path, run_id=mine.id, draw_model=mine.id).run()
            prepare(at).run()
            assert not at.exception, at.exception
            assert (refusal in all_text(at), bool(at.get("file_uploader"))) == (not reveal, reveal), (path, reveal)
        if not reveal:
            with pytest.raises(NotAllowed):
                exports.require_pictures_sent(student, mine)
            exports.require_pictures_sent(sign_in("teacher"), mine)  # the class's teacher may
            leaderboard.reveal(sign_in("teacher"), made)
            sign_in("student")
    exports.require_pictures_sent(student, mine)
