"""Taking a run home: the .keras model, the weights, the script and notebook that train it again, the links."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import run_cli

from cnnlab import i18n, runs, training
from cnnlab.course import exports
from cnnlab.data import catalogue
from cnnlab.errors import ConfigError, SpecError
from cnnlab.networks import architectures, counting, keras_build
from cnnlab.training import TrainConfig

# two epochs of `fast` on the whole MNIST sample: about 95 %, so a rerun elsewhere lands within a point or two
SAMPLE_RUN = dict(dataset="mnist", architecture="fast", epochs=2, batch_size=64, seed=3)


@pytest.fixture
def sample_run(stored):
    return stored(TrainConfig(**SAMPLE_RUN))  # conftest: trained once, copied into each test's own home


def test_the_exported_script_trains_the_same_network_to_the_runs_accuracy_on_its_own(sample_run, tmp_path):
    out = run_cli("export", sample_run.id[:6], "--format", "script", "--out", str(tmp_path), "--json")
    assert out.returncode == 0, out.stderr
    path = json.loads(out.stdout.strip().splitlines()[-1])["path"]
    code = open(path, encoding="utf-8").read()
    assert "cnnlab" not in re.sub(r"#.*|\"\"\"[\s\S]*?\"\"\"", "", code).replace("cnnlab/data/mnist_sample.npz", "")
    assert "import cnnlab" not in code and "from cnnlab" not in code
    # a fresh process that cannot import cnnlab, in another folder: only Keras, NumPy and the sample file
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-I", path], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    params = [int(line.split("=")[1]) for line in lines if line.startswith("params=")]
    assert params == [sample_run.record["params"]] == [counting.count_params(
        sample_run.config.layers, (28, 28, 1), 10)]
    assert lines[-1].startswith("test_accuracy=")
    accuracy = float(lines[-1].split("=")[1])
    assert abs(accuracy - sample_run.test_accuracy) < 0.03, (accuracy, sample_run.test_accuracy)


SPECS = [
    *[TrainConfig(dataset="cifar10", architecture=name) for name in architectures.PRESETS
      if "32x32x3" in architectures.get_preset(name).params],
    TrainConfig(dataset="fashion_mnist", architecture=[
        {"kind": "conv", "size": 8, "kernel": 5, "stride": 2, "padding": "same", "activation": "tanh"},
        {"kind": "batchnorm"}, {"kind": "avgpool", "kernel": 2, "stride": 1, "padding": "same"},
        {"kind": "conv", "size": 4, "kernel": 3}, {"kind": "maxpool", "kernel": 3, "stride": 2},
        {"kind": "globalavgpool"}, {"kind": "dropout", "rate": 0.3}, {"kind": "dense", "size": 12, "activation": "gelu"}],
        augment=True),
    *[TrainConfig(architecture=name) for name in architectures.PRESETS
      if "28x28x1" in architectures.get_preset(name).params],
]


@pytest.mark.parametrize("config", SPECS, ids=lambda c: f"{c.dataset}-{c.architecture_name}")
def test_the_codes_network_has_the_runs_exact_parameter_count_for_every_kind_of_layer(config, capsys):
    import keras

    scope = {}
    exec("import keras\nfrom keras import layers\n" + exports.network_code(config), scope)  # noqa: S102
    info = catalogue.get_info(config.dataset)
    expected = counting.count_params(config.layers, info.image_shape, info.num_classes)
    assert scope["model"].count_params() == expected
    assert f"params={expected}" in capsys.readouterr().out
    built = keras_build.build(config.layers, info.image_shape, info.num_classes)
    assert [w.shape for w in scope["model"].weights if "seed" not in w.path] == [
        w.shape for w in built.weights if "seed" not in w.path]
    keras.backend.clear_session()


def test_the_notebook_validates_and_holds_the_scripts_code_with_notes_in_the_readers_language(sample_run):
    import nbformat

    with i18n.speaking("es"):
        book = nbformat.reads(exports.render(sample_run, "notebook").decode("utf-8"), as_version=4)
        script = exports.script(sample_run)
    nbformat.validate(book)
    code = [cell.source for cell in book.cells if cell.cell_type == "code"]
    notes = [cell.source for cell in book.cells if cell.cell_type == "markdown"]
    assert len(code) == 6 and all(block in script for block in code)
    assert "".join(code).count("\n") > 30
    with i18n.speaking("es"):
        assert notes[1] == i18n.t("export.step.imports") and "La red, capa a capa" in "".join(notes)


def test_the_keras_file_loads_in_safe_mode_and_predicts_what_cnnlab_predicts(sample_run, tmp_path):
    import keras

    path = exports.export(sample_run, "keras", tmp_path)
    assert path.name.endswith(".keras") and path.parent == tmp_path
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    images = sample_run.data().x_test[:200]
    ours = training.predict(sample_run.build_model(), images).argmax(axis=1)
    theirs = np.asarray(loaded(images[..., None].astype("float32") / 255.0)).argmax(axis=1)
    np.testing.assert_array_equal(theirs, ours)
    assert loaded.count_params() == sample_run.record["params"]


def test_the_weights_file_is_the_runs_own(sample_run, tmp_path):
    path = exports.export(sample_run, "weights", tmp_path / "mine.weights.h5")
    assert path.read_bytes() == (sample_run.path / "model.weights.h5").read_bytes()
    model = keras_build.build(sample_run.config.layers, (28, 28, 1), 10)
    model.load_weights(path)
    np.testing.assert_allclose(training.predict(model, sample_run.data().x_test[:50]),
                               sample_run.predictions()[0][:50], atol=1e-5)


def test_a_wrong_id_or_format_or_folder_gets_one_line_and_exit_code_2(sample_run, tmp_path):
    for args, words in ((("export", "ffffffffff", "--format", "script"), "No stored run"),
                        (("export", "ab", "--format", "script"), "at least 4 characters"),
                        (("export", sample_run.id, "--format", "pdf"), "invalid choice"),
                        (("export", sample_run.id, "--format", "keras", "--out", str(tmp_path / "no" / "x.keras")),
                         "does not exist"),
                        (("export", "--format", "script"), "Name a run"),
                        (("export", sample_run.id, "--format", "script", "--course", "Z"), "not a course report")):
        out = run_cli(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 and words in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
    assert not list(tmp_path.glob("**/*.keras"))


def test_a_unique_start_of_an_id_finds_the_run_and_a_shared_one_says_how_many(sample_run):
    store = runs.RunStore()
    assert exports.find_run(store, sample_run.id[:4].upper()).id == sample_run.id
    other, _ = store.get_or_train(TrainConfig(**dict(SAMPLE_RUN, epochs=1, train_size=500)))
    shared = os.path.commonprefix([sample_run.id, other.id])
    if len(shared) >= exports.MIN_PREFIX:  # ids are hashes: they rarely share four characters
        with pytest.raises(exports.ExportError, match="2 runs"):
            exports.find_run(store, shared)
    with pytest.raises(exports.ExportError) as error:
        exports.find_run(store, "0000000000")
    assert "0000000000" in str(error.value)


LINKED = [
    TrainConfig(),
    TrainConfig(dataset="fashion_mnist", architecture="fashion_cnn", epochs=12, batch_size=256, optimizer="sgd+momentum",
                learning_rate=0.003, dropout=0.4, validation_split=0.2, train_size=5000, seed=42, augment=True),
    TrainConfig(dataset="cifar10", architecture=[{"kind": "conv", "size": 16}, {"kind": "flatten"},
                                                 {"kind": "dense", "size": 32, "activation": "tanh"}],
                epochs=3, batch_size=100, optimizer="rmsprop", learning_rate=0.0007, validation_split=0.0, seed=9),
]


@pytest.mark.parametrize("config", LINKED, ids=["defaults", "every-setting", "custom-network"])
def test_a_settings_link_round_trips_every_train_setting(config):
    query = exports.settings_query(config)
    link = exports.link("http://class:8501/Train", lang="es", **query)
    from urllib.parse import parse_qsl, urlsplit

    back = exports.config_from_query(dict(parse_qsl(urlsplit(link).query)))
    assert back == config and back.run_id() == config.run_id()


def test_a_link_with_a_wrong_setting_says_which():
    with pytest.raises(ConfigError, match="quantum"):
        exports.config_from_query({"network": "fast", "optimizer": "quantum"})
    with pytest.raises(SpecError, match="nope"):
        exports.config_from_query({"network": "nope"})
    assert exports.config_from_query({"lang": "es"}) is None
