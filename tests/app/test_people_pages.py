"""Who may do what, through the pages (AppTest): the same permission table the package asks, row by row; a student
who reloads keeps their place and sees their training again; "My runs" lists their own requests only."""

import time

import pytest
from test_app import TINY, all_text, cifar_uploads, page, stored_run  # noqa: F401 (stored_run: a fixture)

from cnnlab import i18n, runs
from cnnlab.classroom import sessions
from cnnlab.data import uploads
from cnnlab.errors import NotAllowed, SignInRefused


def test_a_guest_reads_why_they_cannot_train_and_the_queue_refuses_them(sign_in):
    import ui

    sign_in("guest")
    at = page("pages/3_Train.py").run()
    assert "Only students and teachers who have signed in may train" in " ".join(i.value for i in at.info)
    at.button[0].click().run()  # the form's Train button is there: the queue says no
    assert not at.exception, at.exception
    assert "Only students and teachers who have signed in may train" in " ".join(e.value for e in at.error)
    assert ui.queue().jobs() == [] and runs.RunStore().list() == []


def test_a_guest_sees_the_sign_in_and_a_student_who_they_are(sign_in):
    sign_in("guest")
    at = page("app.py").run()
    assert not at.exception and [t.label for t in at.tabs] == ["Join a class", "My code", "Teacher"]
    sign_in("student")
    at = page("app.py").run()
    assert not at.tabs and "Signed in as **kiwi**, a student of Class of the test." in all_text(at)


def test_a_guest_may_not_send_pictures_to_the_server(sign_in, isolated):
    for role, sees in (("guest", False), ("student", True), ("teacher", True)):  # a student's own: private
        who = sign_in(role)
        at = page("pages/1_Data.py", dataset="mnist").run()
        assert not at.exception, at.exception
        assert bool(at.get("file_uploader")) == sees, role
        assert ("Only students and teachers who have signed in may import pictures" in all_text(at)) != sees
    assert cifar_uploads(page("pages/1_Data.py", dataset="cifar10").run()) == 1 and who.role == "teacher"
    sign_in("student")
    assert cifar_uploads(page("pages/1_Data.py", dataset="cifar10").run()) == 0  # the class's dataset: a teacher's
    with pytest.raises(NotAllowed):  # and the package refuses whoever comes another way
        uploads.keep_upload([("a.zip", open(__file__, "rb"))], owner="x", who=sessions.GUEST)
    assert not list((isolated / "cnnlab_home" / "tmp").glob("upload.*"))


def test_a_student_who_reloads_mid_training_keeps_one_place_and_sees_it_again(sign_in):
    import ui

    student = sign_in("student")
    first = page("pages/3_Train.py", architecture="net_1").run()
    first.slider(key="epochs").set_value(30)
    first.select_slider(key="batch_size").set_value(16)
    first.button[0].click().run()
    job = ui.queue().get(first.session_state["job_id"])
    deadline = time.time() + 180
    while job.status != "running" and time.time() < deadline:
        time.sleep(0.05)
    reloaded = page("pages/3_Train.py").run()  # a new browser session: the same cookie, nothing else kept
    assert not reloaded.exception, reloaded.exception
    assert reloaded.session_state["job_id"] == job.id and job.waiters == {student.key}
    assert [j.id for j in ui.queue().jobs()] == [job.id]
    reloaded.button(key=f"stop_{job.id}").click().run()  # and stops it from there
    assert ui.queue().wait(job, timeout=120) and job.stop_requested


def test_my_runs_lists_ones_own_requests_and_no_classmates(sign_in, stored_run):
    import ui
    from cnnlab.classroom import classes, database, requests, schema
    from cnnlab.training import TrainConfig

    student = sign_in("student")
    with database.transaction() as session:
        code = session.get(schema.Classroom, student.class_id).join_code
    classmate = sessions.person(classes.join(code, "Mar", "127.0.0.1")[0].id)
    theirs = ui.queue().submit(TrainConfig(**dict(TINY, seed=5)), who=classmate)
    job = ui.queue().submit(TrainConfig(**TINY), who=student)  # stored already: back at once, and asked for
    assert ui.queue().wait(job, timeout=60) and job.cached and ui.queue().wait(theirs, timeout=180)
    at = page("pages/6_Compare.py").run()
    assert not at.exception, at.exception
    mine = next(d.value for d in at.dataframe if "asked (UTC)" in d.value.columns)
    assert list(mine["run"]) == [stored_run.id]  # not the classmate's, though it is in the store for everyone
    requests.set_note(student, job.requests[student.key], "the first one")
    at = page("pages/6_Compare.py").run()
    assert list(next(d.value for d in at.dataframe if "your note" in d.value.columns)["your note"]) == ["the first one"]
    assert theirs.id in {run.id for run in runs.RunStore().list()}


def test_a_persons_language_and_last_run_follow_them_to_another_browser(sign_in, stored_run):
    import ui
    from cnnlab.training import TrainConfig

    student = sign_in("student")
    job = ui.queue().submit(TrainConfig(**TINY), who=student)  # asked for on one device
    assert ui.queue().wait(job, timeout=60)
    at = page("pages/4_Inside.py").run()
    assert at.session_state["run_id"] == stored_run.id  # a new session shows their last run, not an empty page
    at.sidebar.selectbox(key="_language_widget").select("es").run()
    other = page("pages/4_Inside.py").run()  # another device: no ?lang= in its address, an English browser
    assert not other.exception and other.session_state["language"] == "es"
    assert other.title[0].value == i18n.catalogue("es")["inside.title"]


GUARDED = {"submit", "stop", "move_to_front", "import_cifar", "import_placed", "import_images", "delete",
           "keep_upload", "start", "empty_set_aside", "list", "find_run", "config_from_query",
           "describe_sources", "share"}  # what the package checks against who asks


def test_every_page_says_who_asks_when_it_calls_what_the_package_guards():
    """The package checks `who`; a page that left it out would act as the owner of a personal lab."""
    import ast
    import pathlib

    from conftest import ROOT

    missing = []
    for path in sorted(pathlib.Path(ROOT, "pages").glob("*.py")) + [pathlib.Path(ROOT, "ui.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in GUARDED
                    and ast.unparse(node.func.value) != "st"):  # st.stop() is Streamlit's
                if "who" not in {keyword.arg for keyword in node.keywords}:
                    missing.append(f"{path.name}:{node.lineno} {ast.unparse(node)[:80]}")
    assert missing == []


def test_a_teacher_makes_a_class_hands_out_codes_and_resets_one(sign_in):
    from cnnlab.classroom import classes

    sign_in("teacher")
    at = page("pages/10_Teacher.py").run()
    next(w for w in at.text_input if w.label == "New class's name").input("CNN 2027")
    next(b for b in at.button if b.label == "Create the class").click().run()
    assert not at.exception, at.exception
    join_code = classes.of_teacher(sign_in("teacher").person_id)[0].join_code
    assert join_code in all_text(at) and f"/?join={join_code}" in all_text(at)
    qr = at.get("image")[0].proto.imgs[0]
    assert join_code in qr.alt and "QR code" in qr.alt  # the projector's QR code says what it is

    next(w for w in at.text_area if w.label.startswith("Add students")).input("Ana\nLuis\n**x**")
    next(b for b in at.button if b.label == "Add them and make their codes").click().run()
    assert "3 students added" in all_text(at)
    assert [b.proto.label for b in at.get("download_button")] == [
        "Download the codes (CSV)", "Print the codes: a page of slips to cut out (HTML)"]
    table = next(d.value for d in at.dataframe if "personal code" in d.value.columns)
    assert list(table["nickname"]) == ["Ana", "Luis", "**x**"]
    ana_code = table["personal code"][0]
    assert classes.sign_in(ana_code, "10.0.0.1").name == "Ana"  # the codes handed out work

    at.run()  # the page again, as the teacher's next click draws it: the three are in the students' table
    ana = next(person_id for person_id, nickname, _ in classes.roster(classes.of_teacher(
        sign_in("teacher").person_id)[0].id) if nickname == "Ana")
    at.selectbox(key="student_pick").select(ana).run()
    at.button(key="reset_code").click().run()
    assert not at.exception, at.exception
    new = next(s.value for s in at.success if "new personal code" in s.value).split("**")[-2]
    assert classes.sign_in(new, "10.0.0.2").name == "Ana"
    with pytest.raises(SignInRefused):
        classes.sign_in(ana_code, "10.0.0.3")  # the old one no longer works


def test_a_students_pictures_are_theirs_on_every_page_until_the_teacher_shares_them(sign_in, monkeypatch, tmp_path):
    import ui
    from test_own_images import shapes_folder

    from cnnlab.classroom import classes, database, schema
    from cnnlab.data import own_images
    from cnnlab.training import TrainConfig

    teacher, student = sign_in("teacher"), sign_in("student")
    info = own_images.import_images(shapes_folder(tmp_path / "shapes", per_class=6), "shapes", who=student)
    run, _ = runs.RunStore().get_or_train(TrainConfig(dataset=info.name, architecture="fast", epochs=1,
                                                      batch_size=8))
    at = page("pages/1_Data.py", dataset=info.name).run()
    assert not at.exception, at.exception
    assert "shapes · yours, private" in at.selectbox[0].options
    assert "stay private to you and your teacher" in all_text(at)
    assert any(b.label.startswith("Delete my pictures shapes and the 1 run") for b in at.button)

    with database.transaction() as session:
        code = session.get(schema.Classroom, student.class_id).join_code
    token = sessions.open_session(classes.join(code, "Mar", "127.0.0.1")[0].id)
    monkeypatch.setattr(ui, "_cookie", lambda name: token)  # a classmate's browser
    at = page("pages/1_Data.py").run()
    assert not any("shapes" in option for option in at.selectbox[0].options)
    linked = page("pages/4_Inside.py")
    linked.query_params["run"] = run.id  # a link to the run, copied from a classmate's screen
    linked.run()
    assert not linked.exception and "No stored run" in all_text(linked)
    assert "run_id" not in linked.session_state or linked.session_state["run_id"] != run.id

    sign_in("teacher")
    at = page("pages/10_Teacher.py").run()
    whose = next(d.value for d in at.dataframe if "whose" in d.value.columns)
    assert list(whose["whose"]) == ["kiwi, private"]
    at.selectbox(key="share_own").select(info.name).run()
    at.button(key="share_own_button").click().run()
    assert not at.exception and "shapes is shared with the class now" in all_text(at)

    monkeypatch.setattr(ui, "_cookie", lambda name: token)
    at = page("pages/1_Data.py").run()
    assert "shapes · shared by kiwi" in at.selectbox[0].options and teacher.role == "teacher"


def test_the_teacher_reads_who_asked_for_what_with_notes_even_on_a_dataset_deleted_since(sign_in):
    from cnnlab.classroom import requests

    teacher, student = sign_in("teacher"), sign_in("student")
    kept = requests.record(student, "0123456789abcdef", "leaves.p2", '{"epochs": 1}')  # pictures deleted since
    requests.set_note(student, kept, "leaves: 3 epochs were enough")
    requests.record(student, "fedcba9876543210", "mnist", '{"epochs": 1}')
    sign_in("teacher")
    at = page("pages/10_Teacher.py").run()
    assert not at.exception, at.exception
    work = next(d.value for d in at.dataframe if "note" in d.value.columns)
    assert list(work["dataset"]) == ["MNIST", "leaves.p2"] and list(work["note"]) == ["", "leaves: 3 epochs were enough"]
    assert teacher.role == "teacher"


def test_a_dataset_whose_description_is_damaged_is_a_sentence_and_can_still_be_deleted(sign_in, tmp_path):
    from test_own_images import shapes_folder

    from cnnlab.data import catalogue, own_images

    sign_in("teacher")
    info = own_images.import_images(shapes_folder(tmp_path / "shapes", per_class=4), "shapes")
    for version in catalogue.own_versions(info.name):
        (version / "dataset.json").write_text("{damaged")
    at = page("pages/10_Teacher.py").run()
    assert not at.exception, at.exception
    table = next(d.value for d in at.dataframe if "whose" in d.value.columns)
    assert list(table["dataset"]) == ["shapes (its description cannot be read) (shapes)"]
    at.selectbox(key="delete_own").select("shapes").run()
    next(b for b in at.button if b.label.startswith("Delete shapes (its description")).click().run()
    assert not at.exception and catalogue.own_names() == []
    at = page("pages/1_Data.py", dataset="shapes").run()
    assert not at.exception, at.exception


def test_a_students_pictures_are_not_deleted_under_a_training_waiting_for_them(sign_in, tmp_path):
    import ui
    from test_jobs import blocked_queue
    from test_own_images import shapes_folder

    from cnnlab.data import catalogue, own_images
    from cnnlab.errors import RunInUse
    from cnnlab.training import TrainConfig

    student = sign_in("student")
    info = own_images.import_images(shapes_folder(tmp_path / "shapes", per_class=6), "shapes", who=student)
    queue, holder, lock = blocked_queue()
    try:
        queue.submit(TrainConfig(dataset=info.name, architecture="fast", epochs=1, batch_size=8), who=student)
        with pytest.raises(RunInUse, match="a training on it is waiting or running"):
            own_images.delete(info.name, runs.RunStore(), who=student, queued=queue.datasets_in_use())
        assert catalogue.own_names() == [info.name] and ui.queue() is not queue
    finally:
        job = queue.job_of(student.key)
        queue.stop(job.id, who=sessions.OWNER)
        lock.release()
    assert queue.wait(holder, timeout=180) and queue.wait(job, timeout=180)  # nothing left training afterwards
