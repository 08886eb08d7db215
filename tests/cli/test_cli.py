import json

import pytest

from conftest import run_cli


def last_json(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


def test_architectures_lists_every_preset_with_report_counts():
    out = run_cli("architectures", "--json")
    assert out.returncode == 0, out.stderr
    presets = {p["name"]: p for p in last_json(out.stdout)}
    assert presets["net_1"]["params"] == {"mnist": 1_199_882, "fashion_mnist": 1_199_882, "cifar10": 1_626_442}
    assert presets["cool_cnn_3"]["params"]["cifar10"] == 477_994
    assert "net_1" in out.stdout and "Conv2D(32, 3x3, valid, relu)" in out.stdout


def test_train_then_the_same_call_comes_from_the_store():
    args = ("train", "--epochs", "1", "--train-size", "320", "--batch-size", "32", "--json")
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    result = last_json(first.stdout)
    assert result["cached"] is False and 0 < result["test_accuracy"] <= 1 and result["train_seconds"] > 0
    assert result["data_source"] == "bundled-sample"
    assert "epoch 1/1" in first.stderr and "bundled" in first.stderr
    second = run_cli(*args)
    again = last_json(second.stdout)
    assert again["cached"] is True and again["run_id"] == result["run_id"]
    assert again["test_accuracy"] == result["test_accuracy"]
    assert "from the run store" in second.stdout
    listed = run_cli("runs", "--json")
    assert [r["run_id"] for r in last_json(listed.stdout)] == [result["run_id"]]
    assert last_json(listed.stdout)[0]["data"] == "sample"
    assert f"{result['run_id']}  mnist         sample   fast" in listed.stdout  # the variant, wherever a run is named
    assert result["data_variant"] == "sample" and len(result["data_fingerprint"]) == 16


def test_data_says_which_source_each_dataset_uses():
    out = run_cli("data", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["dataset"]: r for r in last_json(out.stdout)}
    assert rows["mnist"]["source"] == "bundled-sample" and rows["mnist"]["train"] == 8000
    assert rows["cifar10"]["available"] is False and "--download cifar10" in rows["cifar10"]["how_to_get"]


@pytest.mark.parametrize("args, expected", [
    (("train", "--epochs", "0"), "Epochs is 0"),
    (("train", "--learning-rate", "nan"), "Learning rate must be a finite number"),
    (("train", "--architecture", "vgg"), "Unknown architecture 'vgg'"),
    (("train", "--dataset", "cifar10", "--offline"), "CIFAR-10 is not available offline"),
    (("train", "--batch-size", "500", "--train-size", "400"), "Batch size 500 is larger than the 360 training"),
    (("train", "--architecture", '[{"kind": "conv"}]'), "add a Flatten"),
    (("train", "--epochs", "many"), "invalid int value"),
    (("train", "--optimizer", "lbfgs"), "Unknown optimizer"),
    (("frobnicate",), "invalid choice"),
    (("data", "--download", "cifar10"), "No network"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_code_2(args, expected):
    out = run_cli(*args)
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if line.startswith("cnnlab:")]
    assert len(lines) == 1 and expected in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_predict_reads_good_files_and_reports_bad_ones_without_stopping(tmp_path):
    from PIL import Image, ImageDraw

    seven = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(seven).line([(40, 40), (160, 40), (80, 170)], fill=0, width=14)  # dark ink on paper
    seven.save(tmp_path / "seven.jpg", quality=90)
    one = Image.new("RGBA", (120, 240), (0, 0, 0, 0))
    ImageDraw.Draw(one).line([(60, 20), (62, 220)], fill=(0, 0, 255, 255), width=16)  # on transparency
    one.save(tmp_path / "one.png")
    (tmp_path / "notes.png").write_text("not an image")
    Image.new("L", (100, 100), 255).save(tmp_path / "blank.png")
    files = [str(tmp_path / name) for name in ("seven.jpg", "notes.png", "one.png", "missing.gif", "blank.png")]
    out = run_cli("predict", *files, "--json")
    assert out.returncode == 2
    results = last_json(out.stdout)
    assert [r["file"] for r in results] == files
    assert results[0]["label"] == "7" and results[0]["probability"] > 0.5
    assert results[2]["label"] == "1"
    assert "not an image" in results[1]["error"] and "No such file" in results[3]["error"]
    assert "blank" in results[4]["error"]
    assert "seven.jpg: 7 (" in out.stdout
    errors = [line for line in out.stderr.splitlines() if line.startswith("cnnlab:")]
    assert len(errors) == 3 and "Traceback" not in out.stderr


def test_predict_all_good_exits_0_and_an_unknown_run_is_one_line(tmp_path):
    from PIL import Image, ImageDraw

    image = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(image).ellipse([80, 40, 200, 240], outline=255, width=18)  # a 0
    image.save(tmp_path / "zero.webp")
    out = run_cli("predict", str(tmp_path / "zero.webp"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith(f"{tmp_path / 'zero.webp'}: 0 (")
    missing = run_cli("predict", str(tmp_path / "zero.webp"), "--run", "0123456789abcdef")
    assert missing.returncode == 2 and "no stored run" in missing.stderr.strip().splitlines()[-1]
