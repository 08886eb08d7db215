"""Strange files to `predict` and to the upload path: refused quickly with a reason, or classified."""

import io
import json
import pathlib
import time
import tomllib

import numpy as np
import pytest
from conftest import ROOT, run_cli
from PIL import Image, ImageDraw
from test_drawing import bomb_png, variants_of_a_seven

from cnnlab.data import pictures
from cnnlab.errors import CnnlabError
from cnnlab.insight import drawing


def hostile_files(folder):
    """name -> (path, expected words in the reason)."""
    folder.mkdir(exist_ok=True)
    whole = io.BytesIO()
    noise = np.random.default_rng(2).integers(0, 256, (128, 128), dtype=np.uint8)
    Image.fromarray(noise).save(whole, format="PNG")
    files = {
        "empty.png": (b"", "empty"),
        "text.jpg": (b"Dear teacher, here is my homework.\n" * 20, "not an image"),
        "random.png": (np.random.default_rng(1).bytes(20_000), "not an image"),
        "truncated.png": (whole.getvalue()[: len(whole.getvalue()) // 2], "damaged or truncated"),
        "bomb.png": (bomb_png(50_000, 50_000), "pixels"),
        "black.png": (None, "blank"),
        "white.png": (None, "blank"),
        "transparent.png": (None, "blank"),
    }
    for name, (raw, _) in files.items():
        if raw is not None:
            (folder / name).write_bytes(raw)
    Image.new("L", (200, 200), 0).save(folder / "black.png")
    Image.new("RGB", (200, 200), "white").save(folder / "white.png")
    Image.new("RGBA", (200, 200), (0, 0, 0, 0)).save(folder / "transparent.png")
    (folder / "a_folder.png").mkdir(exist_ok=True)
    paths = {name: (folder / name, words) for name, (_, words) in files.items()}
    paths["a_folder.png"] = (folder / "a_folder.png", "folder")
    paths["missing.webp"] = (folder / "missing.webp", "No such file")
    return paths


def test_every_hostile_file_is_refused_quickly_with_its_reason(tmp_path):
    for name, (path, words) in hostile_files(tmp_path).items():
        started = time.perf_counter()
        with pytest.raises(CnnlabError, match=words):
            drawing.prepare(pictures.to_array(pictures.read_path(path)))
        assert time.perf_counter() - started < 2.0, name  # no huge pixel buffer was decoded


def test_predict_reports_each_hostile_file_and_still_reads_the_good_ones(tmp_path):
    paths = hostile_files(tmp_path / "bad")
    good = tmp_path / "seven.png"
    image = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(image).line([(60, 50), (200, 50), (110, 230)], fill=255, width=20)
    image.save(good)
    names = [str(path) for path, _ in paths.values()] + [str(good)]
    out = run_cli("predict", *names, "--json")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    results = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(results) == len(names)
    for (name, (_, words)), result in zip(paths.items(), results):
        assert words.lower() in result["error"].lower(), (name, result)
    assert results[-1]["label"] == "7"
    assert len([line for line in out.stderr.splitlines() if line.startswith("cnnlab:")]) == len(paths)


def test_odd_but_valid_images_are_all_classified_through_predict(tmp_path):
    names = []
    for name, raw in variants_of_a_seven().items():
        suffix = {"png": ".png", "jpeg": ".jpg", "gif": ".gif", "webp": ".webp", "bmp": ".bmp"}[name.split("-")[0]]
        path = tmp_path / f"{name}{suffix}"
        path.write_bytes(raw)
        names.append(str(path))
    out = run_cli("predict", *names, "--json")
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout.strip().splitlines()[-1])
    assert [r["label"] for r in results] == ["7"] * len(names), results


def test_upload_limits_are_no_larger_than_what_each_upload_needs():
    """The server accepts CIFAR-10's official archive and no more; image uploads ask for 5 MB, and what arrives
    is checked again by the safe reader (10 MB) or the archive checker (175 MB) before it is used."""
    from streamlit.testing.v1 import AppTest

    from cnnlab.data import archives

    config = tomllib.loads(pathlib.Path(ROOT, ".streamlit", "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 1024 * 1024 == archives.MAX_ARCHIVE_BYTES
    assert 170_498_071 <= archives.MAX_ARCHIVE_BYTES < 1.1 * 170_498_071  # the official archive's size, plus 3 %
    at = AppTest.from_file(str(pathlib.Path(ROOT, "pages", "8_Draw.py")), default_timeout=60).run()
    at.radio(key="draw_source").set_value("Upload a photo or scan").run()
    uploader = at.get("file_uploader")[0]
    assert uploader.proto.max_upload_size_mb == 5 and 5 * 1024 * 1024 <= pictures.MAX_FILE_BYTES
    at = AppTest.from_file(str(pathlib.Path(ROOT, "pages", "1_Data.py")), default_timeout=60)
    at.session_state["dataset"] = "cifar10"
    at.run()
    cifar = next(u for u in at.get("file_uploader") if u.key == "cifar_upload")
    own = next(u for u in at.get("file_uploader") if u.key == "own_zip_0")  # a class's own pictures, zipped
    assert cifar.proto.max_upload_size_mb == own.proto.max_upload_size_mb == config["server"]["maxUploadSize"]
