"""The Streamlit pages, run headless with AppTest, on an empty store and with a stored run."""

import glob
import os
import re
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest
from test_downloads import mirror  # noqa: F401 (a fixture: a school mirror on 127.0.0.1)

from cnnlab import i18n, runs
from cnnlab.course import exports
from cnnlab.data import own_images
from cnnlab.errors import NotAllowed
from cnnlab.training import TrainConfig

PAGES = ["app.py"] + sorted(os.path.relpath(p, ROOT) for p in glob.glob(f"{ROOT}/pages/*.py"))
TINY = dict(dataset="mnist", architecture="fast", epochs=2, batch_size=32, train_size=320, validation_split=0.25)


pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")  # conftest: each test's own server-wide caches


def page(path, **state):
    at = AppTest.from_file(os.path.join(ROOT, path), default_timeout=120)
    for key, value in state.items():
        at.session_state[key] = value
    return at


def wait_for_result(at, seconds=180):
    """Rerun the page, as its polling does, until a training's result shows (its metrics)."""
    deadline = time.time() + seconds
    while time.time() < deadline and not at.metric:
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception


def image_captions(at):
    return [image.caption for element in at.get("image") for image in element.proto.imgs]


def all_text(at):
    parts = [m.value for m in at.markdown] + [m.value for m in at.info] + [m.value for m in at.success]
    parts += [m.value for m in at.warning] + [m.value for m in at.error] + [c.value for c in at.caption]
    return " ".join(parts)


def test_every_page_is_in_the_navigation():
    names = sorted((os.path.basename(p) for p in PAGES[1:]), key=lambda name: int(name.split("_")[0]))
    assert names == ["1_Data.py", "2_Model.py", "3_Train.py", "4_Inside.py", "5_Mistakes.py", "6_Compare.py",
                     "7_Convolution.py", "8_Draw.py", "9_Course.py", "10_Teacher.py", "11_Learned.py",
                     "12_Assignment.py", "13_Class.py"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_runs_on_an_empty_store(path):
    at = page(path).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


@pytest.fixture
def stored_run(stored):
    return stored(TrainConfig(**TINY))  # conftest: trained once, copied into each test's own home


@pytest.mark.parametrize("path", PAGES)
def test_every_page_runs_with_a_stored_run(path, stored_run):
    at = page(path, run_id=stored_run.id).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def test_pages_that_need_a_run_say_what_to_do_first():
    for path in ("pages/4_Inside.py", "pages/5_Mistakes.py", "pages/6_Compare.py"):
        at = page(path).run()
        assert "Train" in " ".join(i.value for i in at.info), path


def test_home_page_says_which_source_each_dataset_uses():
    at = page("app.py").run()
    assert "No runs yet" in all_text(at)
    table = at.dataframe[0].value
    sources = dict(zip(table["Dataset"], table["Source"]))
    assert "bundled" in sources["MNIST"]
    assert sources["CIFAR-10"].startswith("not available") and "--download cifar10" in sources["CIFAR-10"]


def test_home_page_does_not_import_tensorflow():
    code = "import sys, runpy; runpy.run_path('app.py'); print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr


def test_data_page_shows_the_preprocessing():
    at = page("pages/1_Data.py").run()
    text = all_text(at)
    assert "(8000, 28, 28)" in text and "0–255" in text and "(8000, 28, 28, 1)" in text


def test_model_page_shows_the_report_summary_and_counts():
    at = page("pages/2_Model.py", dataset="mnist", architecture="net_1").run()
    assert not at.exception
    assert "Total params: **1,199,882**" in all_text(at)


def test_a_preset_made_for_other_images_says_so_with_its_size_on_these_on_the_model_and_train_pages():
    from cnnlab.data import catalogue
    from cnnlab.networks import architectures, counting

    cifar = catalogue.get_info("cifar10")
    params = counting.count_params(architectures.PRESETS["net_2"].layers, cifar.image_shape, cifar.num_classes)
    for path in ("pages/2_Model.py", "pages/3_Train.py"):
        at = page(path, dataset="cifar10", architecture="net_2").run()
        assert not at.exception, at.exception
        notes = [m.value for m in at.info if "was designed for" in m.value]
        assert notes == [f"net_2 was designed for 28×28×1 images; on CIFAR-10's 32×32×3 images it has {params:,} "
                         "parameters."], (path, [m.value for m in at.info])
        assert not at.warning
        at = page(path, dataset="mnist", architecture="net_2").run()  # made for MNIST's images: nothing to say
        assert not [m.value for m in at.info if "was designed for" in m.value], path


def test_model_page_reports_an_invalid_edit_in_words():
    # three 8x8 pools shrink 32x32 to nothing: the third cannot fit
    spec = [{"kind": "conv", "size": 8}, {"kind": "maxpool", "kernel": 8}, {"kind": "maxpool", "kernel": 8},
            {"kind": "flatten"}]
    at = page("pages/2_Model.py", dataset="cifar10", architecture=spec).run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "cannot be built" in errors and "Layer 3 (MaxPooling2D)" in errors and "smaller than" in errors
    at = page("pages/3_Train.py", dataset="cifar10", architecture=spec).run()
    at.button[0].click().run()
    assert "Layer 3 (MaxPooling2D)" in " ".join(e.value for e in at.error)


def test_train_page_trains_through_its_form_and_shows_the_result():
    at = page("pages/3_Train.py").run()
    at.slider(key="epochs").set_value(2)
    at.select_slider(key="batch_size").set_value(32)
    at.select_slider(key="train_size").set_value(500)
    at.button[0].click().run()
    assert not at.exception, at.exception
    wait_for_result(at)
    assert at.metric, all_text(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Epochs"] == "2" and metrics["Test accuracy"].endswith("%")
    assert "overfitting" in all_text(at).lower()
    stored = runs.RunStore().list()
    assert len(stored) == 1 and stored[0].config.train_size == 500
    # the same settings again come back from the store at once
    at.button[0].click().run()
    assert "From the run store" in all_text(at)


def test_train_page_refuses_a_batch_larger_than_the_data():
    at = page("pages/3_Train.py").run()
    at.select_slider(key="batch_size").set_value(1024)
    at.select_slider(key="train_size").set_value(500)
    at.button[0].click().run()
    assert not at.exception
    assert "Batch size 1024 is larger than the 450 training images" in " ".join(e.value for e in at.error)


def test_pages_of_a_run_whose_data_is_gone_say_so(stored_run, isolated, monkeypatch):
    from cnnlab.data import datasets, sources
    monkeypatch.setattr(sources, "BUNDLED_MNIST", isolated / "gone.npz")
    datasets._load_cached.cache_clear()
    for path in ("pages/4_Inside.py", "pages/5_Mistakes.py"):
        at = page(path, run_id=stored_run.id).run()
        assert not at.exception, path
        warning = " ".join(w.value for w in at.warning)
        assert "tested on MNIST (sample: 2,000 test images" in warning and "not on this server any more" in warning
        assert "no copy of it now" in warning and "--download mnist" in warning, warning
    at = page("pages/5_Mistakes.py", run_id=stored_run.id).run()
    assert len(at.get("vega_lite_chart")) == 2  # the confusion matrix and per-class accuracy need no images
    assert "Its test images are not on this server now" in all_text(at)


def real_digits_in_another_split(path, n_train=6000):
    """An mnist.npz of real digits (the bundled sample's 10,000), shuffled into another split and size."""
    from cnnlab.data import datasets

    sample = datasets.load("mnist")
    x, y = np.concatenate([sample.x_train, sample.x_test]), np.concatenate([sample.y_train, sample.y_test])
    order = np.random.default_rng(7).permutation(len(x))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x_train=x[order[:n_train]], y_train=y[order[:n_train]], x_test=x[order[n_train:]],
             y_test=y[order[n_train:]])


def test_a_new_copy_of_mnist_never_mixes_with_a_run_on_the_old_one(stored_run, isolated):
    """A teacher puts another mnist.npz in Keras's cache after a run on the sample exists."""
    real_digits_in_another_split(isolated / "keras_home" / "datasets" / "mnist.npz")
    for path in PAGES:
        at = page(path, run_id=stored_run.id).run()
        assert not at.exception, (path, at.exception)
        assert not at.error, (path, [e.value for e in at.error])
        assert not any("any more" in w.value for w in at.warning), (path, [w.value for w in at.warning])
    at = page("pages/4_Inside.py", run_id=stored_run.id).run()
    assert at.number_input[0].proto.max == 1999  # its own 2,000 test images, not the new copy's 4,000
    old = runs.RunStore().get(stored_run.id)
    assert old.data().source.kind == "bundled-sample"
    assert old.data().test_fingerprint == old.record["data"]["test_fingerprint"]
    # the same settings trained again: the new copy is used, and it is a separate run
    at = page("pages/3_Train.py").run()
    at.slider(key="epochs").set_value(TINY["epochs"])
    at.select_slider(key="batch_size").set_value(TINY["batch_size"])
    at.select_slider(key="train_size").set_value(500)
    at.button[0].click().run()
    wait_for_result(at)
    stored = runs.RunStore().list()
    assert len(stored) == 2 and stored_run.id in {r.id for r in stored}
    new = next(r for r in stored if r.id != stored_run.id)
    assert new.variant == "other" and new.record["data"]["source"] == "keras-cache"
    assert new.record["data"]["test"] == 4000 and new.data().source.kind == "keras-cache"
    assert "other copy (6,000 + 4,000 images)" in all_text(at)
    picker = page("pages/5_Mistakes.py", run_id=stored_run.id).run().selectbox(key="run")
    labels = picker.options  # as the student reads them
    assert any("(sample)" in label for label in labels) and any("(other copy" in label for label in labels)


def test_draw_page_offers_the_bundled_model_and_waits_for_a_drawing():
    at = page("pages/8_Draw.py").run()
    assert not at.exception
    chooser = at.selectbox(key="draw_model")
    assert chooser.value == "bundled" and "bundled MNIST model" in chooser.format_func(chooser.value)
    # its scores say what they were measured on
    assert "98.2% on the sample's 2,000 held-out digits, 99.5% on 200 synthetic strokes" in \
        chooser.format_func(chooser.value)
    assert "Draw one digit large" in all_text(at)  # the canvas is empty: no prediction yet
    at.radio(key="draw_source").set_value("Upload a photo or scan").run()
    assert not at.exception and "Upload an image to have it read" in all_text(at)


def test_course_page_runs_an_experiment_and_shows_reported_against_measured():
    from cnnlab.course import experiments

    at = page("pages/9_Course.py").run()
    assert not at.exception
    assert "Report E" in " ".join(h.value for h in at.header)
    at.selectbox(key="pick_A").set_value("A2").run()
    at.number_input(key="epochs_A_A2").set_value(1).run()
    at.button(key="run_A").click().run()
    assert not at.exception and not at.error
    import ui
    job = ui.queue().get(at.session_state["course_jobs"]["A2"])
    assert ui.queue().wait(job, timeout=240) and job.status == "done", job.error
    at.button(key="view_A").click().run()
    assert not at.exception, at.exception
    run = ui.store().get(job.id)
    table = at.dataframe[0].value  # report A's table
    row = table[table["experiment"] == "A2"].iloc[0]
    assert row["measured test acc."] == f"{run.test_accuracy:.2%}" and row["reported test acc."] == "91.17%"
    assert row["measured after"] == "shortened: 1 of 30 epochs"
    assert "Pictures of A2" in " ".join(h.value for h in at.header)
    assert "**Which model is better?** Run experiments A1 and A2 to answer this." in all_text(at)  # A1 not run
    assert experiments.get("A2").matches(run) and row["data"] == "sample"


def test_course_page_says_when_an_experiments_data_is_missing():
    at = page("pages/9_Course.py").run()
    at.button(key="run_D").click().run()  # CIFAR-10 is not on this machine
    assert not at.exception and not at.error
    assert any("D1 needs CIFAR-10, which is not on this server yet" in w.value and "Data page" in w.value
               for w in at.warning)
    table = at.dataframe[3].value  # report D's table
    assert all("needs CIFAR-10" in status for status in table["can it run here?"])
    report_c = at.dataframe[2].value.set_index("experiment")["can it run here?"]
    assert report_c["C3"] == report_c["C4"] == "ready" and "needs CIFAR-10" in report_c["C1"]  # MNIST is here


def test_mistakes_page_opens_a_matrix_cell_without_a_mouse(stored_run):
    at = page("pages/5_Mistakes.py", run_id=stored_run.id).run()
    probabilities, y_test = runs.RunStore().get(stored_run.id).predictions()
    predicted = probabilities.argmax(axis=1)
    true, said = next((int(t), int(p)) for t, p in zip(y_test, predicted) if t != p)  # a cell with a mistake
    count = int(((y_test == true) & (predicted == said)).sum())
    at.selectbox(key="cell_true").set_value(true).run()
    at.selectbox(key="cell_predicted").set_value(said).run()
    assert not at.exception, at.exception
    assert f"True **{true}**, predicted **{said}**: {count} image{'' if count == 1 else 's'}" in all_text(at)


def cifar_uploads(at):
    return sum(1 for u in at.file_uploader if u.key == "cifar_upload")


def test_data_page_imports_cifar10_from_the_folder_it_names(isolated):
    from test_archives import official_members, write_archive

    at = page("pages/1_Data.py", dataset="cifar10").run()
    assert not at.exception and not at.error
    text = all_text(at)
    assert "Get the whole of CIFAR-10" in " ".join(h.value for h in at.header)
    folder = isolated / "cnnlab_home" / "data"
    assert f"`{folder}`" in text and "cifar-10-python.tar.gz" in text
    assert "cannot reach the download host" in text and cifar_uploads(at) == 1  # offline: no download
    members, _ = official_members(n=4)
    folder.mkdir(parents=True, exist_ok=True)
    write_archive(folder / "cifar-10-python.tar.gz", members)
    at.run()
    at.button(key="cifar_folder").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Source: cnnlab's data folder" in all_text(at) and "CIFAR-10: 20 training + 4 test images" in all_text(at)
    assert not (folder / "cifar-10-python.tar.gz").exists() and (folder / "cifar-10-batches-py").is_dir()
    course = page("pages/9_Course.py").run()
    assert not any("needs CIFAR-10" in w.value for w in course.warning)  # the Course page can run D1 now


def test_data_page_refuses_a_hostile_archive_in_words(isolated):
    from test_archives import hostile

    folder = isolated / "cnnlab_home" / "data"
    folder.mkdir(parents=True)
    hostile("traversal", isolated).rename(folder / "cifar-10-python.tar.gz")
    at = page("pages/1_Data.py", dataset="cifar10").run()
    at.button(key="cifar_folder").click().run()
    assert not at.exception
    assert "which CIFAR-10's official archive does not: refused" in " ".join(e.value for e in at.error)
    assert sorted(p.name for p in folder.iterdir()) == ["cifar-10-python.tar.gz"]  # nothing unpacked


def test_data_page_offers_the_cifar_upload_to_a_teacher_only(sign_in):
    assert cifar_uploads(page("pages/1_Data.py", dataset="cifar10").run()) == 1  # a personal lab: its owner
    for role in ("guest", "student"):
        sign_in(role)
        at = page("pages/1_Data.py", dataset="cifar10").run()
        assert not at.exception and not cifar_uploads(at) and "Only a teacher may import" in all_text(at)
    sign_in("teacher")
    assert cifar_uploads(page("pages/1_Data.py", dataset="cifar10").run()) == 1


def test_data_page_downloads_with_progress_from_a_mirror(mirror, isolated):
    from test_datasets import write_fashion

    write_fashion(mirror(), n_train=3000, n_test=500)
    at = page("pages/1_Data.py", dataset="fashion_mnist").run()
    assert "Source:" not in all_text(at) and "not available offline" in " ".join(w.value for w in at.warning)
    at.button(key="download_fashion_mnist").click().run()
    assert not at.exception, at.exception
    deadline = time.time() + 60
    while time.time() < deadline and "Source:" not in all_text(at):
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
    assert "Source: cnnlab's data folder" in all_text(at), all_text(at)
    assert "was downloaded, checked and stored" in all_text(at)
    assert "Fashion-MNIST: 3,000 training + 500 test images" in all_text(at)


def test_train_page_asks_before_replacing_a_students_training_and_refuses_what_is_too_long(monkeypatch):
    import ui
    from cnnlab.data import datasets

    first = TrainConfig(**dict(TINY, seed=99))
    lock = ui.store().lock(runs.run_id_for(first, datasets.load("mnist")))
    lock.acquire()  # the server is busy with someone else's training: everything else waits in line
    try:
        ui.queue().submit(first, student="someone else")
        at = page("pages/3_Train.py").run()
        at.select_slider(key="train_size").set_value(500)
        at.button[0].click().run()
        assert not at.exception, at.exception
        assert "1 training ahead of you" in all_text(at) and "min of training" in all_text(at)
        mine = at.session_state["job_id"]
        at.slider(key="epochs").set_value(3)
        at.button[0].click().run()  # a second, different training from the same student
        assert not at.exception, at.exception
        assert any("Replace it with fast (3 epochs)?" in w.value for w in at.warning)
        assert at.session_state["job_id"] == mine
        at.button(key="replace_yes").click().run()
        assert not at.exception, at.exception
        assert at.session_state["job_id"] != mine and ui.queue().get(mine).status == "failed"
        replaced = ui.queue().get(at.session_state["job_id"])
        assert replaced.config.epochs == 3 and replaced.status == "queued"
        monkeypatch.setenv("CNNLAB_MAX_MINUTES", "0.001")
        at.slider(key="epochs").set_value(50)
        at.button[0].click().run()
        assert not at.exception
        refusal = " ".join(e.value for e in at.error)
        assert "would take about" in refusal and "limit is 0 minutes" in refusal and "What fits:" in refusal
    finally:
        left = [job for job in (ui.queue().get(at.session_state["job_id"]), ui.queue().job_of("someone else"))
                if job is not None]
        for job in left:
            ui.queue().stop(job.id)  # nothing left to train after the test
        lock.release()
        for job in left:  # ended, so that the server's one worker is free for the next test
            ui.queue().wait(job, timeout=120)


def test_the_train_page_prepares_the_network_with_the_forms_seed_and_learning_rate(monkeypatch):
    """#29 item 10: the start state prepared while the student reads the form is the form's (seed and rate)."""
    import ui
    from cnnlab.compute import worker

    # the worker must not stop for idleness mid-test (the lock it takes then makes prepare answer False)
    monkeypatch.setattr(worker.ProcessExecutor, "IDLE_SECONDS", 300.0)
    queue = ui.queue()
    at = page("pages/3_Train.py", train_seed=7, train_lr=0.01)
    at.run()
    assert not at.exception, at.exception
    assert ui.queue() is queue
    shown = TrainConfig(dataset="mnist", architecture="fast", learning_rate=0.01, seed=7)
    assert not queue.prepare(shown)  # asked already, by the page: nothing to ask again
    # another start state is still asked for: the worker was free to take the page's request
    assert queue.prepare(TrainConfig(dataset="mnist", architecture="fast", learning_rate=0.01, seed=8))
    queue.executor.close()


def test_the_teacher_page_is_a_teachers_and_shows_a_guest_or_a_student_one_sentence(sign_in):
    sections = ["Trainings in line", "Workers", "Run store", "Imported datasets", "Prepare before class"]
    at = page("pages/10_Teacher.py").run()  # a personal lab: its owner sees it, and how to make a class server
    assert not at.exception and "python -m cnnlab teacher add NAME" in " ".join(c.value for c in at.code)
    assert [h.value for h in at.header] == sections
    for role in ("guest", "student"):
        sign_in(role)
        at = page("pages/10_Teacher.py").run()
        assert not at.exception and "Only a teacher may stop someone else's training" in all_text(at)
        assert [h.value for h in at.header] == [] and not [b for b in at.button if b.key and "stop" in b.key]
    sign_in("teacher")
    at = page("pages/10_Teacher.py").run()
    assert not at.exception, at.exception
    assert [h.value for h in at.header] == ["Classes"] + sections


def test_the_teacher_prepares_a_list_watches_the_queue_and_stops_a_job(sign_in, stored_run):
    import ui

    sign_in("teacher")  # a class server's teacher, signed in
    at = page("pages/10_Teacher.py").run()
    assert "1 run, " in all_text(at)  # the store's size
    long = '{"dataset": "mnist", "architecture": "fast", "epochs": 300, "train_size": 2000}'
    at.text_area(key="prepare_text").input(f"ZZ9\n{long}\nA1 epochs=1")
    at.button[-1].click().run()
    assert not at.exception, at.exception
    assert "Line 1 (ZZ9)" in " ".join(e.value for e in at.error)
    queue = ui.queue()
    assert [job.config.epochs for job in queue.jobs()][:2] == [300, 1]  # in the order of the list
    first, second = queue.jobs()[:2]
    deadline = time.time() + 60
    while first.status != "running" and time.time() < deadline:
        time.sleep(0.1)
    at.run()
    at.button(key=f"front_{second.id}").click().run()  # it is first in line already: the button keeps it there
    assert queue.position(second) == 2
    assert not at.exception, at.exception
    text = all_text(at)
    assert "fast on MNIST: 300 epochs" in text and "0 students wait" in text
    while first.epochs_done < 1 and time.time() < deadline + 60:  # a run keeps whole epochs: let one finish
        time.sleep(0.1)
    at.button(key=f"stop_{first.id}").click().run()
    assert queue.wait(first, timeout=120) and first.status == "done"
    assert runs.RunStore().get(first.id).record["status"] == "stopped"  # the partial run is kept
    assert queue.wait(second, timeout=120) and second.status == "done"


def test_prepare_before_class_obeys_the_limit_in_secrets_toml_and_never_refuses_a_stored_run(monkeypatch, stored_run):
    import json

    import ui

    monkeypatch.delenv("CNNLAB_MAX_MINUTES", raising=False)
    at = page("pages/10_Teacher.py")
    at.secrets["CNNLAB_MAX_MINUTES"] = "0.001"  # the server's limit, set in .streamlit/secrets.toml only
    at.run()
    long = '{"dataset": "mnist", "architecture": "fast", "epochs": 300, "train_size": 2000}'
    at.text_area(key="prepare_text").input(f"{json.dumps(TINY)}\n{long}")
    at.button[-1].click().run()
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error)
    assert "Line 2" in errors and "limit is 0 minutes" in errors  # secrets.toml's limit, not the default's
    assert "Line 1" not in errors  # stored already: comes back at once, whatever the limit
    assert [job.id for job in ui.queue().jobs()] in ([], [stored_run.id])


def test_the_teacher_sees_workers_damaged_runs_and_deletes_a_run(monkeypatch, stored_run):
    store = runs.RunStore()
    other, _ = store.get_or_train(TrainConfig(**dict(TINY, seed=4)))
    with open(other.path / "predictions.npz", "r+b") as f:  # damaged on disk: found when its files are read
        f.truncate(100)
    assert store.get(other.id) is None  # set aside, with its reason
    at = page("pages/10_Teacher.py").run()
    assert not at.exception, at.exception
    workers, damaged = at.dataframe[0].value, at.dataframe[1].value
    assert len(workers) == 1 and workers.iloc[0]["CPUs"] == os.cpu_count()
    assert damaged.iloc[0]["run"] == other.id and "another size" in damaged.iloc[0]["why"]
    at.button(key="empty_damaged").click().run()
    assert "1 damaged run erased." in all_text(at) and not store.set_aside()
    at.selectbox(key="delete_run").select(stored_run.id).run()
    at.button(key="delete_button").click().run()
    assert f"Run {stored_run.id[:6]} deleted." in all_text(at)
    assert store.get(stored_run.id) is None and store.size()[0] == 0


def test_deleting_a_run_that_is_being_trained_says_so_at_once(monkeypatch, stored_run):
    """#29 item 10: a training holds its run's lock from start to end; the Teacher page does not wait for it."""
    store = runs.RunStore()
    at = page("pages/10_Teacher.py").run()
    at.selectbox(key="delete_run").select(stored_run.id).run()
    held, trained = threading.Event(), threading.Event()

    def train_it():  # its settings are being trained again (a stopped run asked for once more, say), for 30 s at most
        with store.lock(stored_run.id):
            held.set()
            trained.wait(30)

    threading.Thread(target=train_it, daemon=True).start()
    held.wait(10)
    try:
        started = time.time()
        at.button(key="delete_button").click().run(timeout=60)
        assert time.time() - started < 10 and not at.exception, at.exception
        warning = " ".join(w.value for w in at.warning)
        assert f"Run {stored_run.id} is being trained right now" in warning and "cannot be deleted yet" in warning
        assert store.get(stored_run.id) is not None  # still there
    finally:
        trained.set()
    said = []

    def delete():
        try:
            said.append(store.delete(stored_run.id))
        except runs.RunInUse as error:
            said.append(error)

    with store.lock(stored_run.id):  # the store itself, as the command line meets it: an answer, not a wait
        deleting = threading.Thread(target=delete, daemon=True)
        deleting.start()
        deleting.join(10)
        assert len(said) == 1 and isinstance(said[0], runs.RunInUse), said
    assert store.delete(stored_run.id) and store.get(stored_run.id) is None  # once trained, it goes


LINKED = TrainConfig(dataset="mnist", architecture=[{"kind": "conv", "size": 8}, {"kind": "maxpool"},
                                                    {"kind": "flatten"}, {"kind": "dropout", "rate": 0.5},
                                                    {"kind": "dense", "size": 16}],
                     epochs=2, batch_size=48, optimizer="rmsprop", learning_rate=0.002, dropout=0.3,
                     validation_split=0.25, train_size=320, seed=7, augment=True)


def test_a_settings_link_fills_in_every_train_setting_and_trains_exactly_those():
    at = page("pages/3_Train.py")
    for name, value in exports.settings_query(LINKED).items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    assert "Settings from the link: custom on MNIST, 2 epochs" in all_text(at)
    shown = {"epochs": at.slider(key="epochs").value, "batch": at.select_slider(key="batch_size").value,
             "optimizer": at.selectbox(key="train_optimizer").value, "lr": at.select_slider(key="train_lr").value,
             "own": at.checkbox(key="train_own_dropout").value, "dropout": at.slider(key="train_dropout").value,
             "size": at.select_slider(key="train_size").value, "val": at.slider(key="train_validation").value,
             "seed": at.number_input(key="train_seed").value, "augment": at.checkbox(key="train_augment").value}
    assert shown == {"epochs": 2, "batch": 48, "optimizer": "rmsprop", "lr": 0.002, "own": False, "dropout": 0.3,
                     "size": 320, "val": 0.25, "seed": 7, "augment": True}
    at.button[0].click().run()  # the student presses Train: exactly the linked settings train
    wait_for_result(at)
    stored = runs.RunStore().list()
    assert len(stored) == 1 and stored[0].config == LINKED
    # the result offers the way home, and its settings link is the one that brought the student here
    codes = [c.value for c in at.code]
    assert any(code.endswith(f"?run={stored[0].id}&lang=en") for code in codes), codes
    assert any(code.startswith("Train?lang=en&dataset=mnist&network=") and "lr=0.002" in code for code in codes), codes


def test_a_wrong_settings_link_says_why_and_keeps_the_form():
    at = page("pages/3_Train.py")
    at.query_params.update({"network": "fast", "optimizer": "quantum", "epochs": "3"})
    at.run()
    assert not at.exception, at.exception
    assert any("quantum" in w.value for w in at.warning), [w.value for w in at.warning]
    assert at.slider(key="epochs").value == 5 and at.selectbox(key="train_optimizer").value == "adam"


@pytest.mark.parametrize("path", ["pages/4_Inside.py", "pages/5_Mistakes.py", "pages/3_Train.py"])
def test_a_run_link_opens_the_page_on_that_run_with_its_take_home_section(path, stored_run):
    newer, _ = runs.RunStore().get_or_train(TrainConfig(**dict(TINY, seed=1)))
    at = page(path)
    at.query_params["run"] = stored_run.id[:6]
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["run_id"] == stored_run.id != newer.id
    if path != "pages/3_Train.py":
        assert at.selectbox(key="run").value == stored_run.id
    else:
        assert {m.label: m.value for m in at.metric}["Test accuracy"] == i18n.percent(stored_run.test_accuracy)
    downloads = at.get("download_button")
    names = sorted(d.proto.label for d in downloads)
    assert names == sorted(["Model (.keras)", "Weights (.weights.h5)", "Python script (.py)",
                            "Jupyter notebook (.ipynb)", "Lab report (.html)",
                            "Report in Markdown with figures (.zip)", "The MNIST sample the script reads (.npz)"])
    assert any(c.value.endswith(f"?run={stored_run.id}&lang=en") for c in at.code)


def test_a_run_link_to_no_run_says_so():
    at = page("pages/4_Inside.py")
    at.query_params["run"] = "abcdef12"
    at.run()
    assert not at.exception, at.exception
    assert any("abcdef12" in w.value for w in at.warning)


def test_compare_offers_the_lab_report_of_the_chosen_runs(stored_run):
    at = page("pages/6_Compare.py").run()
    assert not at.exception, at.exception
    assert "Lab report (.html)" in [d.proto.label for d in at.get("download_button")]


def test_compare_says_when_its_best_run_is_not_a_like_for_like_comparison(stored_run, isolated):
    """#29 item 7: a run tested on the 2,000-image sample is not ranked against one tested on 4,000 without a word."""
    real_digits_in_another_split(isolated / "keras_home" / "datasets" / "mnist.npz")  # another copy of MNIST
    other, _ = runs.RunStore().get_or_train(TrainConfig(**dict(TINY, epochs=1)))
    at = page("pages/6_Compare.py").run()
    assert not at.exception, at.exception
    assert sorted(at.multiselect[0].value) == sorted([stored_run.id, other.id])
    warnings = " ".join(w.value for w in at.warning)
    assert "tested on different images" in warnings, warnings
    assert "2,000 test images" in warnings and "4,000 test images" in warnings
    assert "different training images" in warnings and "different lengths" in warnings
    assert "1 epoch" in warnings and "2 epochs" in warnings
    at.multiselect[0].set_value([stored_run.id]).run()  # one run: nothing to compare, nothing to warn of
    assert not at.warning


def test_inside_says_why_it_decided_what_filters_look_for_and_steps_into_one_neuron(stored_run):
    at = page("pages/4_Inside.py", run_id=stored_run.id).run()
    assert not at.exception, at.exception
    assert any(m.value.startswith("Its three most likely answers:") for m in at.markdown)
    chosen = at.selectbox(key="why_class")
    answer = chosen.value
    captions = image_captions(at)
    assert any(c.startswith("Grad-CAM: where conv_2 found evidence for") for c in captions), captions
    chosen.set_value((answer + 1) % 10).run()  # what if: another class
    assert "What if: the network answered" in all_text(at)
    at.button(key="patterns_go").click().run()
    assert not at.exception, at.exception
    captions = image_captions(at)
    assert "The inputs that excite each of the 16 filters of conv_1 most (light = high), in filter order." in captions
    assert (ui_store_folder := next(runs.RunStore().root.glob("explain/*"), None)) is not None  # kept with the run
    assert (ui_store_folder / "patterns-conv_1.npy").is_file()
    at.number_input(key="neuron_row").set_value(5).run()
    sentence = next(m.value for m in at.markdown if m.value.startswith("The 9 products over 1 input channel add up to"))
    worked, computed = re.search(r"the cell is \*\*(-?[\d.]+)\*\* \(the network computed (-?[\d.]+)\)", sentence).groups()
    assert abs(float(worked) - float(computed)) < 1e-3


@pytest.fixture
def own_run(tmp_path):
    """Three classes of drawn shapes imported as a class's own pictures, and a run of fast on them."""
    from test_own_images import shapes_folder

    from cnnlab.data import own_images

    own_images.import_images(shapes_folder(tmp_path / "shapes", per_class=10), "shapes")
    run, _ = runs.RunStore().get_or_train(TrainConfig(dataset="shapes", architecture="fast", epochs=2,
                                                      batch_size=8))
    return run


def test_data_page_surveys_a_zip_imports_it_and_every_dataset_menu_offers_it(tmp_path):
    from test_own_images import shapes_folder, zip_of

    archive = zip_of(shapes_folder(tmp_path / "shapes", per_class=8), tmp_path / "leaves.zip").read_bytes()
    at = page("pages/1_Data.py").run()
    at.file_uploader(key="own_zip_0").set_value(("leaves.zip", archive, "application/zip")).run()
    assert not at.exception, at.exception
    assert "leaves.zip: 24 pictures in 3 classes" in [s.value for s in at.subheader]
    found = at.dataframe[0].value
    assert dict(zip(found["class"], found["pictures"])) == {"circle": 8, "square": 8, "triangle": 8}
    assert "4 files left out, and why" in [e.label for e in at.expander]
    skipped = at.dataframe[1].value
    assert sorted(skipped["file"]) == [f"shapes/{f}" for f in ("README.md", "circle/broken.png", "square/notes.txt",
                                                                "triangle/virus.png")]
    assert all(len(why) > 10 for why in skipped["why it is left out"]), list(skipped["why it is left out"])
    assert at.text_input[0].value == "leaves" and at.selectbox[1].value == (28, 28, 1)  # what the pictures suggest
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Imported leaves: 18 training and 6 test pictures." in all_text(at), all_text(at)
    assert at.selectbox[0].value == "leaves" and "Your own pictures: 3 classes, from leaves.zip" in all_text(at)
    train = page("pages/3_Train.py").run()
    assert "leaves · your pictures" in train.selectbox[0].options, train.selectbox[0].options
    home = page("app.py").run()
    sources = dict(zip(home.dataframe[0].value["Dataset"], home.dataframe[0].value["Source"]))
    assert sources["leaves"].startswith("your own pictures"), sources


def test_data_page_imports_a_folder_sent_whole_and_refuses_a_bad_name_in_words(tmp_path):
    from test_own_images import shapes_folder

    folder = shapes_folder(tmp_path / "coins", per_class=6, colour=True)
    files = [(f"coins/{p.relative_to(folder)}", p.read_bytes(), "image/png") for p in sorted(folder.rglob("*.*"))
             if p.suffix in (".png", ".jpg")]  # the browser sends only the types the uploader accepts
    at = page("pages/1_Data.py").run()
    at.radio(key="own_kind").set_value("folder").run()
    at.file_uploader(key="own_folder_0").set_value(files).run()
    assert not at.exception, at.exception
    assert "coins: 18 pictures in 3 classes" in [s.value for s in at.subheader]
    assert at.selectbox[1].value == (32, 32, 3)  # colour pictures: 32×32 colour proposed
    at.text_input[0].input("Coins of Spain!")
    at.button[0].click().run()
    assert not at.exception and "lowercase" in " ".join(e.value for e in at.error).lower()
    assert runs.RunStore().list() == [] and not (tmp_path / "cnnlab_home" / "data" / "own" / "coins").exists()
    at.text_input[0].input("coins")
    at.button[0].click().run()
    assert not at.error, [e.value for e in at.error]
    from cnnlab.data import catalogue
    assert catalogue.get_info("coins").image_shape == (32, 32, 3)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_runs_on_a_run_on_imported_pictures(path, own_run):
    at = page(path, run_id=own_run.id, dataset="shapes").run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def test_inside_and_mistakes_name_the_imported_classes(own_run):
    for path in ("pages/4_Inside.py", "pages/5_Mistakes.py"):
        at = page(path, run_id=own_run.id).run()
        assert not at.exception, at.exception
        text = all_text(at) + " ".join(image_captions(at))
        assert "triangle" in text and "circle" in text, (path, text[:500])


def test_a_teacher_deletes_an_imported_dataset_with_its_runs_and_students_cannot(sign_in, own_run):
    from cnnlab.classroom import sessions
    from cnnlab.data import catalogue

    student = sign_in("student")
    at = page("pages/10_Teacher.py").run()
    assert not [s for s in at.selectbox if s.key == "delete_own"] and not at.dataframe  # a student: no table
    with pytest.raises(NotAllowed, match="Only a teacher may import, replace or delete"):
        own_images.delete("shapes", runs.RunStore(), who=student)  # nor through the package
    assert catalogue.own_names() == ["shapes"]
    assert sign_in("teacher").role == "teacher" and sessions.GUEST.role == "guest"
    at = page("pages/10_Teacher.py").run()
    table = next(d.value for d in at.dataframe if "classes" in d.value.columns)
    assert list(table["dataset"]) == ["shapes"] and list(table["runs"]) == [1], table
    assert list(table["classes"]) == ["circle, square, triangle"]
    at.selectbox(key="delete_own").select("shapes").run()
    at.button(key="delete_own_button").click().run()
    assert not at.exception, at.exception
    assert "Deleted shapes and 1 run trained on it." in all_text(at)
    assert catalogue.own_names() == [] and runs.RunStore().get(own_run.id) is None
    assert "teacher.own_none" not in all_text(at) and "No class has imported" in all_text(at)


def test_a_student_who_stops_inside_the_first_epoch_reads_that_no_epoch_finished():
    import ui

    at = page("pages/3_Train.py", architecture="net_1").run()  # net_1: an epoch of seconds on two cores
    at.slider(key="epochs").set_value(30)
    at.select_slider(key="batch_size").set_value(16)
    at.button[0].click().run()
    job = ui.queue().get(at.session_state["job_id"])
    deadline = time.time() + 180
    while (job.status != "running" or job.batch < 1) and time.time() < deadline:
        time.sleep(0.05)
    at.run()
    at.button(key=f"stop_{job.id}").click().run()
    assert not at.exception, at.exception
    assert ui.queue().wait(job, timeout=120) and job.status == "failed" and job.epochs_done == 0
    at.run()
    text = " ".join(e.value for e in at.error)
    assert "Stopped before the first epoch finished" in text and "nothing was stored" in text, all_text(at)
    assert runs.RunStore().list() == [] and not at.metric  # no run of zero epochs, nothing shown as one
