"""Your own images: a folder or zip of class folders surveyed before import; hostile archives refused whole."""

import io
import os
import stat
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cnnlab.data import own_images, own_survey
from cnnlab.data.uploads import ImportRefused


def picture(shape, seed, size=(40, 40), colour=False, fmt="PNG"):
    """A noisy picture of a drawn circle, square or triangle, as file bytes."""
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 60, (*size[::-1], 3), dtype=np.uint8))
    draw = ImageDraw.Draw(image)
    x, y = rng.integers(4, 14, 2)
    box = [x, y, x + 20, y + 20]
    ink = (255, 80, 40) if colour else (230, 230, 230)
    {"circle": lambda: draw.ellipse(box, fill=ink), "square": lambda: draw.rectangle(box, fill=ink),
     "triangle": lambda: draw.polygon([(x, y + 20), (x + 10, y), (x + 20, y + 20)], fill=ink)}[shape]()
    image = image if colour else image.convert("L")
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def shapes_folder(root, per_class=12, colour=False):
    """root/<shape>/<n>.png|jpg with a few broken files mixed in, as a class would bring them."""
    for k, shape in enumerate(("circle", "square", "triangle")):
        (root / shape).mkdir(parents=True)
        for n in range(per_class):
            fmt = "JPEG" if n % 3 == 0 else "PNG"
            (root / shape / f"{n}.{fmt.lower().replace('jpeg', 'jpg')}").write_bytes(
                picture(shape, 100 * k + n, colour=colour, fmt=fmt))
    (root / "circle" / "broken.png").write_bytes(picture("circle", 1)[:60])  # cut short
    (root / "square" / "notes.txt").write_text("take photos in daylight")
    (root / "triangle" / "virus.png").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(200))  # a program renamed
    (root / "README.md").write_text("three shapes")
    return root


def zip_of(folder, path, wrap="shapes"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, f"{wrap}/{file.relative_to(folder)}" if wrap else str(file.relative_to(folder)))
    return path


def test_a_folder_of_class_folders_is_surveyed_with_a_reason_for_every_skipped_file(tmp_path):
    survey = own_survey.survey(shapes_folder(tmp_path / "shapes"))
    assert survey.counts() == {"circle": 12, "square": 12, "triangle": 12}
    assert survey.shape == (28, 28, 1) and survey.sizes == {(40, 40): 36}
    reasons = {name: str(why) for name, why in survey.skipped}
    assert set(reasons) == {os.path.join("circle", "broken.png"), os.path.join("square", "notes.txt"),
                            os.path.join("triangle", "virus.png"), "README.md"}
    assert "not a picture's name" in reasons[os.path.join("square", "notes.txt")]
    assert "not inside a class folder" in reasons["README.md"]
    keys = {name: why.key for name, why in survey.skipped}
    assert keys[os.path.join("triangle", "virus.png")] == "error.image.not_image"  # a program named .png
    assert keys[os.path.join("circle", "broken.png")] == "error.image.damaged"  # cut short
    assert survey.warnings == []


def test_the_same_pictures_zipped_in_a_wrapping_folder_give_the_same_survey_and_colour_is_noticed(tmp_path):
    folder = shapes_folder(tmp_path / "shapes", colour=True)
    survey = own_survey.survey(zip_of(folder, tmp_path / "shapes.zip"))
    assert survey.counts() == {"circle": 12, "square": 12, "triangle": 12}
    assert survey.shape == (32, 32, 3) and len(survey.skipped) == 4


def test_tiny_and_unbalanced_classes_are_warned_about_and_one_class_is_refused(tmp_path):
    root = tmp_path / "few"
    for shape, count in (("circle", 3), ("square", 12)):
        (root / shape).mkdir(parents=True)
        for n in range(count):
            (root / shape / f"{n}.png").write_bytes(picture(shape, n))
    keys = [m.key for m in own_survey.survey(root).warnings]
    assert keys == ["own.warn.tiny", "own.warn.unbalanced"]
    with pytest.raises(ImportRefused, match="No readable picture in a class folder"):
        own_survey.survey(root / "square")  # its pictures are not in class folders
    one = tmp_path / "one" / "circle"
    one.mkdir(parents=True)
    (one / "x.png").write_bytes(picture("circle", 5))
    with pytest.raises(ImportRefused, match="Only one class was found"):
        own_survey.survey(one.parent)
    (root / "Circle").mkdir()
    (root / "Circle" / "x.png").write_bytes(picture("circle", 9))
    with pytest.raises(ImportRefused, match="differ only in capitals"):
        own_survey.survey(root)


def hostile(path, members):
    """A zip whose members are (name, bytes, attributes) as an attacker writes them."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, attributes in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if attributes is not None:
                info.external_attr = attributes << 16
            archive.writestr(info, data)
    return path


@pytest.mark.parametrize("name, members, words", [
    ("bomb", [("a/x.png", b"\0" * (60 * 1024 * 1024), None), ("b/y.png", picture("square", 1), None)], "zip bomb"),
    ("traversal", [("a/x.png", picture("circle", 1), None), ("../../evil.png", picture("circle", 2), None)],
     "outside itself"),
    ("absolute", [("a/x.png", picture("circle", 1), None), ("/tmp/evil.png", picture("circle", 2), None)],
     "absolute path"),
    ("symlink", [("a/x.png", picture("circle", 1), None), ("b/link.png", b"/etc/passwd", stat.S_IFLNK | 0o777)],
     "a link"),
    ("many", [(f"a/{n}.png", b"", None) for n in range(10_000)], "10,000 files"),
])
def test_a_hostile_archive_is_refused_whole_and_nothing_is_written(tmp_path, name, members, words):
    archive = hostile(tmp_path / f"{name}.zip", members)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(ImportRefused, match=words):
        own_survey.survey(archive)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert not (tmp_path.parent / "evil.png").exists()


def test_links_in_a_folder_are_skipped_never_followed(tmp_path):
    root = shapes_folder(tmp_path / "shapes")
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "x.png").write_bytes(picture("circle", 50))
    (root / "elsewhere").symlink_to(outside, target_is_directory=True)
    (root / "circle" / "link.png").symlink_to(outside / "x.png")
    survey = own_survey.survey(root)
    assert "elsewhere" not in survey.classes and survey.counts()["circle"] == 12
    assert {name for name, why in survey.skipped if why.key == "own.skip.link"} == {
        "elsewhere", os.path.join("circle", "link.png")}


def test_a_missing_path_or_a_file_that_is_not_a_zip_says_so(tmp_path):
    with pytest.raises(ImportRefused, match="no folder or zip"):
        own_survey.survey(tmp_path / "nothing")
    (tmp_path / "photo.zip").write_bytes(b"not a zip at all")
    with pytest.raises(ImportRefused, match="not a zip archive"):
        own_survey.survey(tmp_path / "photo.zip")


def test_the_command_line_surveys_a_folder_and_refuses_a_bomb_in_one_line(tmp_path):
    import json

    from conftest import run_cli

    folder = shapes_folder(tmp_path / "shapes")
    out = run_cli("data", "--survey", str(folder), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["classes"] == {"circle": 12, "square": 12, "triangle": 12} and data["shape"] == [28, 28, 1]
    assert "36 readable pictures in 3 classes" in out.stdout and "skipped README.md: not inside a class folder" in out.stdout
    out = run_cli("data", "--survey", str(folder), "--lang", "es")
    assert "36 imágenes legibles en 3 clases" in out.stdout
    bomb = hostile(tmp_path / "bomb.zip", [("a/x.png", b"\0" * (60 * 1024 * 1024), None)])
    out = run_cli("data", "--survey", str(bomb))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "zip bomb" in out.stderr


# ---------------------------------------------------------------- importing

def cli_json(*args):
    import json

    from conftest import run_cli

    out = run_cli(*args, "--json")
    assert out.returncode == 0, out.stderr
    return out, json.loads(out.stdout.strip().splitlines()[-1])


def own_folders():
    """Everything under the data area's own/ folder (names relative to it), but the imports' lock files."""
    from cnnlab.data import catalogue

    root = catalogue.own_root()
    found = root.rglob("*") if root.exists() else []
    return sorted(str(p.relative_to(root)) for p in found if p.suffix != ".lock")


def test_the_command_line_imports_a_folder_as_a_stratified_seeded_split_that_a_zip_of_it_repeats(tmp_path):
    from cnnlab.data import catalogue, datasets

    folder = shapes_folder(tmp_path / "shapes", per_class=20)
    out, data = cli_json("data", "--import", str(folder), "--name", "Shapes")
    assert data["dataset"] == "shapes" and data["title"] == "Shapes"
    assert data["classes"] == ["circle", "square", "triangle"] and (data["train"], data["test"]) == (48, 12)
    assert "Imported Shapes as shapes: 3 classes, 48 training and 12 test images of 28×28×1" in out.stdout
    assert "train --dataset shapes" in out.stdout and "4 files skipped" in out.stderr
    assert catalogue.names()[-1] == "shapes" and catalogue.get_info("Shapes").class_names == ("circle", "square",
                                                                                              "triangle")
    shapes = datasets.load("shapes")
    assert shapes.x_train.shape == (48, 28, 28) and shapes.x_train.dtype == np.uint8
    assert np.bincount(shapes.y_test).tolist() == [4, 4, 4] and np.bincount(shapes.y_train).tolist() == [16] * 3
    assert shapes.fingerprint == data["fingerprint"] and shapes.source.kind == "own" and shapes.variant == "own"
    # each picture is in one half only: the split is a partition of the 60 readable pictures
    together = np.concatenate([shapes.x_train, shapes.x_test]).reshape(60, -1)
    assert len(np.unique(together, axis=0)) == 60

    zipped = zip_of(folder, tmp_path / "shapes.zip")  # the same pictures, zipped inside a wrapping folder
    _, again = cli_json("data", "--import", str(zipped), "--name", "shapes")
    assert again["fingerprint"] == data["fingerprint"]
    assert len(catalogue.own_versions("shapes")) == 1  # stored once
    _, reseeded = cli_json("data", "--import", str(zipped), "--name", "shapes", "--seed", "7", "--shape", "32x32x3")
    assert reseeded["fingerprint"] != data["fingerprint"] and reseeded["shape"] == [32, 32, 3]
    assert datasets.load("shapes").x_test.shape == (12, 32, 32, 3)
    assert [v.name for v in catalogue.own_versions("shapes")] == [reseeded["fingerprint"], data["fingerprint"]]


def test_wrong_names_sizes_shares_and_too_few_pictures_get_one_line_and_nothing_is_written(tmp_path):
    from conftest import run_cli

    folder = shapes_folder(tmp_path / "shapes", per_class=4)
    for args, words in ((("--name", "mnist"), "one of cnnlab's own datasets"),
                        (("--name", "my photos!"), "cannot name a dataset"),
                        (("--name", "ok", "--shape", "30x30x1"), "not a size cnnlab resizes to"),
                        (("--name", "ok", "--test-share", "0.9"), "between 0.05 and 0.5")):
        out = run_cli("data", "--import", str(folder), *args)
        assert out.returncode == 2, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and words in out.stderr, out.stderr
    lonely = tmp_path / "lonely"
    for shape, count in (("circle", 5), ("square", 1)):
        (lonely / shape).mkdir(parents=True)
        for n in range(count):
            (lonely / shape / f"{n}.png").write_bytes(picture(shape, n))
    out = run_cli("data", "--import", str(lonely), "--name", "lonely", "--lang", "es")
    assert out.returncode == 2 and "La clase square tiene 1 imagen" in out.stderr, out.stderr
    assert own_folders() == []


def test_a_hostile_archive_imported_writes_nothing_anywhere(tmp_path):
    from cnnlab.data import catalogue

    cases = {
        "bomb": [("a/x.png", b"\0" * (60 * 1024 * 1024), None), ("b/y.png", picture("square", 1), None)],
        "traversal": [("a/x.png", picture("circle", 1), None), ("../../evil.png", picture("circle", 2), None)],
        "symlink": [("a/x.png", picture("circle", 1), None), ("b/link.png", b"/etc/passwd", stat.S_IFLNK | 0o777)],
        "program": [("a/x.png", b"MZ\x90\x00" + bytes(500), None), ("b/y.exe.png", b"\x7fELF" + bytes(500), None)],
    }
    for name, members in cases.items():
        archive = hostile(tmp_path / f"{name}.zip", members)
        with pytest.raises(ImportRefused):
            own_images.import_images(archive, name)
    assert own_folders() == [] and not (tmp_path.parent / "evil.png").exists()
    assert not catalogue.own_names()


def test_a_failed_write_keeps_nothing_half_written_and_the_earlier_pictures_stay(tmp_path, monkeypatch):
    from cnnlab.data import catalogue

    first = own_images.import_images(shapes_folder(tmp_path / "a", per_class=6), "shapes")
    before = own_folders()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", full_disk)
    with pytest.raises(ImportRefused, match="could not be stored .No space left on device."):
        own_images.import_images(shapes_folder(tmp_path / "b", per_class=8), "shapes")
    assert own_folders() == before and catalogue.get_info("shapes").fingerprint == first.fingerprint


def test_pictures_imported_again_under_the_same_name_never_mix_with_the_runs_on_the_earlier_ones(tmp_path):
    from cnnlab import runs
    from cnnlab.training import TrainConfig

    store = runs.RunStore()
    own_images.import_images(shapes_folder(tmp_path / "a", per_class=10), "shapes")
    config = TrainConfig(dataset="shapes", architecture="fast", epochs=1, batch_size=16)
    old, _ = store.get_or_train(config)
    renamed = tmp_path / "b"
    shapes_folder(renamed, per_class=10, colour=True)
    (renamed / "circle").rename(renamed / "ring")  # other pictures, other class names
    newer = own_images.import_images(renamed, "shapes")
    assert newer.fingerprint != old.record["data"]["fingerprint"]
    assert store.find(config) is None  # the same settings on the new pictures are another run
    new, cached = store.get_or_train(config)
    assert not cached and new.id != old.id
    old = store.get(old.id)  # both kept, each with its own pictures and class names
    assert old.info.class_names == ("circle", "square", "triangle") and old.info.image_shape == (28, 28, 1)
    assert new.info.class_names == ("ring", "square", "triangle") and new.info.image_shape == (32, 32, 3)
    assert old.data().fingerprint == old.record["data"]["fingerprint"] and old.data().x_test.ndim == 3
    assert new.data().fingerprint == newer.fingerprint and new.build_model().input_shape == (None, 32, 32, 3)
    assert sorted(r.id for r in store.list()) == sorted([old.id, new.id])


def test_fast_learns_imported_shapes_and_the_exported_script_reads_the_same_pictures(tmp_path):
    import re
    import subprocess
    import sys

    from cnnlab import runs
    from cnnlab.course import exports
    from cnnlab.training import TrainConfig

    own_images.import_images(zip_of(shapes_folder(tmp_path / "shapes", per_class=40), tmp_path / "s.zip"), "shapes")
    run, _ = runs.RunStore().get_or_train(TrainConfig(dataset="shapes", architecture="fast", epochs=20,
                                                      batch_size=32))
    assert run.test_accuracy >= 0.9, run.test_accuracy  # 24 test pictures: circles, squares and triangles
    assert run.variant == "own" and run.variant_label == "own pictures"
    script = exports.render(run, "script")
    path = tmp_path / "shapes_script.py"
    path.write_bytes(script)
    assert str(exports.data_file(run)) in script.decode()
    out = subprocess.run([sys.executable, "-I", str(path)], capture_output=True, text=True, timeout=600,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"params={run.record['params']}" in out.stdout
    accuracy = float(re.search(r"test_accuracy=([0-9.]+)", out.stdout).group(1))
    assert accuracy >= 0.8, out.stdout[-500:]
    report = exports.render(run, "report").decode()  # the report names the imported classes and the dataset
    assert "triangle" in report and "shapes" in report and "MNIST" not in report
    notebook = exports.render(run, "notebook").decode()
    assert "images.npz" in notebook and "circle" in notebook
    for fmt in exports.FORMATS:
        assert exports.render(run, fmt), fmt


def test_a_teacher_deletes_an_imported_dataset_with_its_runs_and_builtin_ones_cannot_be(tmp_path):
    from conftest import run_cli

    from cnnlab import runs
    from cnnlab.data import catalogue
    from cnnlab.training import TrainConfig

    store = runs.RunStore()
    own_images.import_images(shapes_folder(tmp_path / "shapes", per_class=6), "shapes")
    kept, _ = store.get_or_train(TrainConfig(dataset="mnist", architecture="fast", epochs=1, train_size=200))
    store.get_or_train(TrainConfig(dataset="shapes", architecture="fast", epochs=1, batch_size=8))
    out = run_cli("data", "--delete", "mnist")
    assert out.returncode == 2 and "cannot be deleted" in out.stderr
    out, data = cli_json("data", "--delete", "shapes")
    assert data == {"deleted": "shapes", "runs": 1} and "Deleted shapes and 1 run trained on it." in out.stdout
    assert [r.id for r in store.list()] == [kept.id] and catalogue.own_names() == [] and own_folders() == []
    out = run_cli("train", "--dataset", "shapes")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "shapes" in out.stderr


def test_a_run_still_reads_when_its_pictures_are_gone_and_a_worker_elsewhere_learns_the_dataset(tmp_path,
                                                                                                 monkeypatch):
    import pickle
    import shutil

    from cnnlab import runs
    from cnnlab.data import catalogue, datasets
    from cnnlab.training import TrainConfig

    own_images.import_images(shapes_folder(tmp_path / "shapes", per_class=6), "shapes")
    data = datasets.load("shapes")
    run, _ = runs.RunStore().get_or_train(TrainConfig(dataset="shapes", architecture="fast", epochs=1,
                                                      batch_size=8), dataset=data)
    shipped = pickle.dumps(data)  # what Ray's object store carries to another machine
    shutil.rmtree(catalogue.own_root())
    catalogue._shipped.clear()
    datasets._load_cached.cache_clear()
    store = runs.RunStore()
    again = store.get(run.id)  # the run is kept and known by its record
    assert again is not None and again.info.class_names == ("circle", "square", "triangle")
    with pytest.raises(runs.DataGone, match="import them again on the Data page"):
        again.data()
    catalogue._shipped.clear()
    arrived = pickle.loads(shipped)
    catalogue.remember(arrived.info)  # what a worker does before it reads the settings
    assert TrainConfig(dataset="shapes").dataset == "shapes"
    assert catalogue.get_info("shapes").image_shape == (28, 28, 1)


def test_the_benchmark_decodes_and_resizes_a_folder(tmp_path):
    speed = own_images.images_per_second(shapes_folder(tmp_path / "shapes", per_class=10))
    assert speed > 0


def test_inside_and_draw_prepare_an_upload_as_the_imported_pictures_were_and_name_the_runs_own_classes(
        tmp_path, fresh_streamlit_caches):
    """#29 item 6: an imported run's upload is not inverted like MNIST's, and Draw names the run's classes."""
    from conftest import ROOT
    from streamlit.testing.v1 import AppTest

    from cnnlab import runs, training
    from cnnlab.i18n import percent
    from cnnlab.insight import inspection
    from cnnlab.training import TrainConfig

    store = runs.RunStore()
    own_images.import_images(shapes_folder(tmp_path / "a", per_class=10), "shapes")  # grey, 28×28
    run, _ = store.get_or_train(TrainConfig(dataset="shapes", architecture="fast", epochs=15, batch_size=8))
    renamed = shapes_folder(tmp_path / "b", per_class=10)
    (renamed / "circle").rename(renamed / "ring")
    own_images.import_images(renamed, "shapes")  # the name now points at other pictures with other classes
    image = Image.new("L", (60, 40), 235)  # a dark square on light paper: MNIST's recipe would invert it
    ImageDraw.Draw(image).rectangle([20, 8, 44, 32], fill=20)
    raw = io.BytesIO()
    image.save(raw, format="PNG")
    raw = raw.getvalue()
    expected = own_images._pixels_of(raw, (28, 28, 1))  # the import's own preparation of this very file
    assert np.array_equal(inspection.image_from_upload(raw, (28, 28, 1), as_imported=True), expected)
    model = run.build_model()
    right = training.predict(model, expected[np.newaxis])[0]
    wrong = training.predict(model, (255 - expected)[np.newaxis])[0]  # what an inverted upload would give
    best = int(np.argmax(right))
    assert abs(right[best] - wrong[best]) > 0.01  # the two inputs are told apart by the page's numbers

    inside = AppTest.from_file(os.path.join(ROOT, "pages/4_Inside.py"), default_timeout=120)
    inside.session_state["run_id"] = run.id
    inside.run()
    inside.radio[0].set_value("an uploaded image").run()
    inside.file_uploader[0].set_value(("square.png", raw, "image/png")).run()
    assert not inside.exception, inside.exception
    top = " ".join(m.value for m in inside.markdown)
    assert f"{run.info.class_names[best]} ({percent(float(right[best]), 1)})" in top, top

    draw = AppTest.from_file(os.path.join(ROOT, "pages/8_Draw.py"), default_timeout=120)
    draw.run()
    draw.selectbox(key="draw_model").set_value(run.id).run()
    draw.radio(key="draw_source").set_value("Upload a photo or scan").run()
    draw.file_uploader(key="draw_upload").set_value(("square.png", raw, "image/png")).run()
    assert not draw.exception, draw.exception
    bars = " ".join(c.value for c in draw.caption)
    assert "circle" in bars and "ring" not in bars  # the classes of the data this run learned
    assert f"square {percent(float(right[1]), 1)}" in bars, bars  # its input prepared as the import did


def test_deleting_a_dataset_while_one_of_its_runs_trains_deletes_nothing_and_says_which(tmp_path):
    """own_images.delete used to delete runs until it met the one being trained, then stop: some runs gone, the
    dataset kept. Now it checks every run first: nothing is deleted, and the sentence names the run."""
    import threading

    from cnnlab import runs
    from cnnlab.data import catalogue
    from cnnlab.training import TrainConfig

    store = runs.RunStore()
    own_images.import_images(shapes_folder(tmp_path / "shapes", per_class=6), "shapes")
    for seed in (0, 1):
        store.get_or_train(TrainConfig(dataset="shapes", architecture="fast", epochs=1, batch_size=8, seed=seed))
    ids = [run.id for run in store.list() if run.config.dataset == "shapes"]
    busy = ids[-1]  # the last one a deletion reaches: every other would have gone before it
    held, trained = threading.Event(), threading.Event()

    def train_it():  # a training holds its run's lock throughout, as RunStore.get_or_train does
        with store.lock(busy):
            held.set()
            trained.wait(30)

    threading.Thread(target=train_it, daemon=True).start()
    held.wait(10)
    try:
        with pytest.raises(runs.RunInUse, match=f"shapes cannot be deleted now: run {busy}, trained on it, is being "
                                                "trained again right now. Nothing was deleted"):
            own_images.delete("shapes", store)
        assert sorted(run.id for run in store.list()) == sorted(ids) and catalogue.own_names() == ["shapes"]
    finally:
        trained.set()
    assert own_images.delete("shapes", store) == 2 and store.list() == [] and catalogue.own_names() == []
