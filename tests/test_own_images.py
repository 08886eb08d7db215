"""Your own images: a folder or zip of class folders surveyed before import; hostile archives refused whole."""

import io
import os
import stat
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cnnlab import own_images
from cnnlab.own_images import ImportRefused


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
    survey = own_images.survey(shapes_folder(tmp_path / "shapes"))
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
    survey = own_images.survey(zip_of(folder, tmp_path / "shapes.zip"))
    assert survey.counts() == {"circle": 12, "square": 12, "triangle": 12}
    assert survey.shape == (32, 32, 3) and len(survey.skipped) == 4


def test_tiny_and_unbalanced_classes_are_warned_about_and_one_class_is_refused(tmp_path):
    root = tmp_path / "few"
    for shape, count in (("circle", 3), ("square", 12)):
        (root / shape).mkdir(parents=True)
        for n in range(count):
            (root / shape / f"{n}.png").write_bytes(picture(shape, n))
    keys = [m.key for m in own_images.survey(root).warnings]
    assert keys == ["own.warn.tiny", "own.warn.unbalanced"]
    with pytest.raises(ImportRefused, match="No readable picture in a class folder"):
        own_images.survey(root / "square")  # its pictures are not in class folders
    one = tmp_path / "one" / "circle"
    one.mkdir(parents=True)
    (one / "x.png").write_bytes(picture("circle", 5))
    with pytest.raises(ImportRefused, match="Only one class was found"):
        own_images.survey(one.parent)
    (root / "Circle").mkdir()
    (root / "Circle" / "x.png").write_bytes(picture("circle", 9))
    with pytest.raises(ImportRefused, match="differ only in capitals"):
        own_images.survey(root)


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
        own_images.survey(archive)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert not (tmp_path.parent / "evil.png").exists()


def test_links_in_a_folder_are_skipped_never_followed(tmp_path):
    root = shapes_folder(tmp_path / "shapes")
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "x.png").write_bytes(picture("circle", 50))
    (root / "elsewhere").symlink_to(outside, target_is_directory=True)
    (root / "circle" / "link.png").symlink_to(outside / "x.png")
    survey = own_images.survey(root)
    assert "elsewhere" not in survey.classes and survey.counts()["circle"] == 12
    assert {name for name, why in survey.skipped if why.key == "own.skip.link"} == {
        "elsewhere", os.path.join("circle", "link.png")}


def test_a_missing_path_or_a_file_that_is_not_a_zip_says_so(tmp_path):
    with pytest.raises(ImportRefused, match="no folder or zip"):
        own_images.survey(tmp_path / "nothing")
    (tmp_path / "photo.zip").write_bytes(b"not a zip at all")
    with pytest.raises(ImportRefused, match="not a zip archive"):
        own_images.survey(tmp_path / "photo.zip")


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
