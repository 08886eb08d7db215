"""The translation layer: complete catalogues, every key used, numbers and words in the reader's language,
and pages rendered in Spanish with no English sentence left."""

import ast
import glob
import os
import re
import time

import pytest
from conftest import ROOT, run_cli
from streamlit.testing.v1 import AppTest

from cnnlab import i18n
from cnnlab.course import experiments
from cnnlab.data import catalogue
from cnnlab.errors import ConfigError, SpecError
from cnnlab.i18n import t
from cnnlab.insight import inspection
from cnnlab.training import TrainConfig

EN, ES = i18n.catalogue("en"), i18n.catalogue("es")
CODE = sorted(glob.glob(f"{ROOT}/cnnlab/**/*.py", recursive=True) + glob.glob(f"{ROOT}/pages/*.py")
              + [f"{ROOT}/app.py", f"{ROOT}/ui.py"])
PLACEHOLDER = re.compile(r"\{(\w+)[^}]*\}")
NAMESPACES = {key.split(".")[0] for key in EN}
KEY_LIKE = re.compile(r"^[a-z_]+(\.[A-Za-z0-9_]+)+$")
FILE_NAME = re.compile(r"\.(h5|json|npz|gz|py|png|txt|md|zip|html|ipynb|keras)$")  # "run.json" looks like a key but is a file


def string_literals():
    """Every string constant in the app's code, with the file it is in."""
    found = {}
    for path in CODE:
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.setdefault(node.value, os.path.relpath(path, ROOT))
    return found


def test_both_catalogues_have_the_same_keys():
    assert set(EN) - set(ES) == set(), "missing in Spanish"
    assert set(ES) - set(EN) == set(), "missing in English"


def test_every_entry_keeps_its_placeholders_and_shape():
    for key, english in EN.items():
        spanish = ES[key]
        assert type(english) is type(spanish), key
        if isinstance(english, list):
            assert len(english) == len(spanish), key
            continue
        if isinstance(english, dict):  # plural forms: the same count, "one" and "other", the same placeholders
            assert english["plural"] == spanish["plural"] and {"one", "other"} <= set(english) & set(spanish), key
            forms = [text for form, text in {**english, **spanish}.items() if form != "plural"]
            names = {frozenset(PLACEHOLDER.findall(text)) for text in forms}
            assert len(names) == 1, key
            continue
        assert english.strip() and spanish.strip(), key
        assert set(PLACEHOLDER.findall(english)) == set(PLACEHOLDER.findall(spanish)), key


def test_every_key_the_code_names_is_in_the_catalogue():
    literals = string_literals()
    named = {text: path for text, path in literals.items()
             if KEY_LIKE.match(text) and text.split(".")[0] in NAMESPACES and not FILE_NAME.search(text)}
    missing = {text: path for text, path in named.items() if text not in EN}
    assert not missing, missing


def test_the_catalogue_has_no_key_that_no_code_uses():
    literals = string_literals()
    unused = sorted(key for key in EN if key not in literals)
    assert not unused, unused


def test_numbers_and_plurals_come_from_babel():
    from babel import numbers as babel

    for lang in ("en", "es"):
        assert i18n.number(1234.5, ",.1f", lang) == babel.format_decimal(1234.5, "#,##0.0", locale=lang)
        assert i18n.number(1_199_882, ",", lang) == babel.format_decimal(1_199_882, locale=lang)
    assert i18n.percent(0.9625, 2, "en") == "96.25%" and i18n.percent(0.9625, 2, "es") == "96,25\u00a0%"
    assert i18n.number(1e-05, "g", "es") == "0,00001" and i18n.number(0.001, "g", "en") == "0.001"
    assert i18n.number(-0.5, "+.2f", "es") == "-0,50" and i18n.number(3.2, "+.2f", "en") == "+3.20"
    assert i18n.number(12.3456, ".3f", "es") == "12,346"
    i18n.set_language("en")
    assert t("experiment.epochs", done=1) == "1 epoch" and t("experiment.epochs", done=2) == "2 epochs"
    assert t("experiment.epochs", done=1000) == "1,000 epochs"
    i18n.set_language("es")
    assert t("mistakes.cell", true="3", pred="5", count=1) == "Real **3**, predicha **5**: 1 imagen"
    assert t("mistakes.cell", true="3", pred="5", count=2) == "Real **3**, predicha **5**: 2 imágenes"
    assert t("mistakes.cell", true="3", pred="5", count=0) == "Real **3**, predicha **5**: 0 imágenes"
    assert t("experiment.epochs", done=1_000_000) == "1.000.000 épocas"  # CLDR's "many" falls back to "other"
    assert i18n.plural_form(1_000_000, "es") == "many"


def test_numbers_follow_the_language():
    assert i18n.number(1234.5, ",.1f", "en") == "1,234.5"
    assert i18n.number(1234.5, ",.1f", "es") == "1.234,5"
    assert i18n.percent(0.9825, 2, "es") == "98,25\u00a0%"
    assert i18n.percent(0.9825, 2, "en") == "98.25%"
    i18n.set_language("es")
    assert t("model.total", total=1_199_882, mb=4.577) == "Parámetros en total: **1.199.882** (4,58 MB en float32)"
    i18n.set_language("en")
    assert t("model.total", total=1_199_882, mb=4.577) == "Total params: **1,199,882** (4.58 MB as float32)"


@pytest.mark.parametrize("tag, expected", [("es", "es"), ("es-CL", "es"), ("es_AR.UTF-8", "es"), ("EN-us", "en"),
                                           ("fr", None), ("", None), (None, None)])
def test_language_tags_are_understood(tag, expected):
    assert i18n.normalize(tag) == expected


def test_the_command_lines_language_comes_from_the_environment():
    assert i18n.from_environment({"LANG": "es_MX.UTF-8"}) == "es"
    assert i18n.from_environment({"LANGUAGE": "fr:es", "LANG": "en_US.UTF-8"}) == "es"
    assert i18n.from_environment({"LANG": "C.UTF-8"}) == "en"
    assert i18n.from_environment({}) == "en"


def test_class_names_are_translated():
    i18n.set_language("es")
    assert catalogue.get_info("fashion_mnist").class_names[0] == "Camiseta/top"
    assert catalogue.get_info("cifar10").class_names[0] == "avión"
    i18n.set_language("en")
    assert catalogue.get_info("fashion_mnist").class_names[0] == "T-shirt/top"
    assert catalogue.get_info("cifar10").class_names[0] == "airplane"


def test_an_error_is_worded_in_the_language_of_whoever_reads_it():
    with pytest.raises(ConfigError) as caught:
        TrainConfig(epochs=0)
    error = caught.value
    assert str(error) == "Epochs is 0: it must be from 1 to 1,000."
    i18n.set_language("es")  # e.g. raised in the training thread, shown on a Spanish student's page
    assert str(error) == "Épocas es 0: debe estar entre 1 y 1.000."


def test_nested_parts_of_a_message_are_translated_too():
    from cnnlab import training

    spec = [{"kind": "conv", "size": 8}, {"kind": "maxpool", "kernel": 8}, {"kind": "maxpool", "kernel": 8},
            {"kind": "flatten"}]
    with pytest.raises(SpecError) as caught:
        training.check_layers(TrainConfig(dataset="cifar10", architecture=spec))
    i18n.set_language("es")
    text = str(caught.value)
    assert "La capa 3 (MaxPooling2D)" in text and "ventana de 8×8" in text, text


def test_answers_and_verdicts_come_in_spanish():
    history = {"accuracy": [0.8, 0.9, 0.97, 0.99], "val_accuracy": [0.8, 0.85, 0.86, 0.85],
               "loss": [0.6, 0.3, 0.1, 0.05], "val_loss": [0.5, 0.4, 0.45, 0.6]}
    i18n.set_language("es")
    verdict = inspection.overfitting_verdict(history)
    assert verdict.message.startswith("Sí, hay sobreajuste: la pérdida de validación fue mínima en la época 2 (0,400)")
    i18n.set_language("en")
    assert verdict.message.startswith("Yes, it is overfitting")  # the same verdict, read again in English
    answer = experiments.answers("A", [])[1]
    i18n.set_language("es")
    assert answer.text == "Ejecuta los experimentos A5 y A6 para responder esto."
    assert experiments.get("E1").title == "CNN de Fashion, lr 1e-3, lote 64, 5 épocas"


def test_the_command_line_speaks_spanish_with_lang_or_LANG(tmp_path):
    out = run_cli("train", "--epochs", "0", "--lang", "es")
    assert out.returncode == 2
    assert [line for line in out.stderr.splitlines() if line.startswith("cnnlab:")] == [
        "cnnlab: Épocas es 0: debe estar entre 1 y 1.000."]
    out = run_cli("reproduce", "--list", env={"LANG": "es_CL.UTF-8"})
    assert out.returncode == 0
    assert "CNN de Fashion, lr 1e-3, lote 64, 5 épocas" in out.stdout and "informe E" in out.stdout
    out = run_cli("--help", env={"LANG": "es_AR.UTF-8"})
    assert "entrena una red" in out.stdout and out.stdout.startswith("uso: ") and "opciones:" in out.stdout
    out = run_cli("train", "--epochs", "x", "--lang", "es")  # argparse's own error, worded by the catalogue
    assert out.returncode == 2 and "cnnlab: argumento --epochs: valor int no válido: 'x'" in out.stderr
    out = run_cli("data", "--lang", "en", env={"LANG": "es_ES.UTF-8"})  # --lang wins over LANG
    assert "not available" in out.stdout and "no disponible" not in out.stdout


# ---------------------------------------------------------------- pages in Spanish

def rendered_text(at):
    """Every string the page sent to the browser: element bodies, labels, options, help, chart specs, tables."""
    found = []

    def collect(message):
        for field, value in message.ListFields():
            repeated = getattr(field, "is_repeated", None)
            repeated = field.label == field.LABEL_REPEATED if repeated is None else repeated
            values = value if repeated else [value]
            for item in values:
                if field.type == field.TYPE_STRING:
                    found.append(item)
                elif field.type == field.TYPE_MESSAGE:
                    collect(item)

    def visit(node):
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "ListFields"):
            collect(proto)
        for child in getattr(node, "children", {}).values():
            visit(child)

    visit(at._tree)
    for frame in at.dataframe:
        found.append(frame.value.to_string())
    return "\n".join(found)


def english_sentences():
    """Fragments of three words or more between placeholders, from every entry English and Spanish word differently."""
    def flat(value):
        if isinstance(value, dict):  # plural forms: each form is a sentence of its own
            return [text for form, text in sorted(value.items()) if form != "plural"]
        return [text for item in value for text in flat(item)] if isinstance(value, list) else [value]

    fragments = set()
    for key, english in EN.items():
        for value, other in zip(flat(english), flat(ES[key])):
            if value == other:
                continue
            for fragment in PLACEHOLDER.split(value)[::2]:
                fragment = fragment.replace("**", "").strip(" .,:;()—-")
                if len(re.findall(r"[A-Za-z]{2,}", fragment)) >= 3:
                    fragments.add(fragment)
    return fragments


@pytest.fixture
def course_run(stored):
    """A stored run of an experiment (C3, one epoch), so the Course page can show its pictures and answers (trained
    once, copied into each test's own home: conftest's stored)."""
    return stored(experiments.get("C3").config(epochs=1), requested_by="C3")


def spanish_page(path, **state):
    at = AppTest.from_file(os.path.join(ROOT, path), default_timeout=180)
    at.query_params["lang"] = "es"
    for key, value in state.items():
        at.session_state[key] = value
    return at


def assert_no_english(at, path):
    assert not at.exception, at.exception
    text = rendered_text(at)
    left = sorted(fragment for fragment in english_sentences() if fragment in text)
    assert not left, f"{path} shows English: {left}"
    return text


PAGES = ["app.py"] + sorted(os.path.relpath(p, ROOT) for p in glob.glob(f"{ROOT}/pages/*.py"))


@pytest.mark.parametrize("path", PAGES)
def test_every_page_in_spanish_shows_no_english_sentence(path, course_run):
    at = spanish_page(path, run_id=course_run.id, course_view="C3").run()
    text = assert_no_english(at, path)
    assert "Idioma" in text  # the language selector, in Spanish
    assert at.session_state["language"] == "es"


def test_spanish_pages_after_training_and_with_their_answers(course_run):
    at = spanish_page("pages/3_Train.py")
    at.run()
    at.slider(key="epochs").set_value(1)
    at.select_slider(key="train_size").set_value(500)
    at.button[0].click().run()
    deadline = time.monotonic() + 240
    while not any("Exactitud de prueba" in m.label for m in at.metric) and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    text = assert_no_english(at, "Train after training")
    assert "¿Hay sobreajuste?" in text and "Exactitud de prueba" in text
    at = spanish_page("pages/9_Course.py", course_view="C3").run()
    text = assert_no_english(at, "Course")
    assert "¿Hay evidencia de sobreajuste?" in text and "C3 (model_2, 1 época)" in text
    assert "Figuras de C3: Modelo 2 en MNIST (acortado: 1 de 10 épocas)" in text
    assert "siete" not in text and "Camiseta" not in text  # MNIST's classes are digits in both languages


def test_the_scan_finds_english_on_an_english_page():
    at = AppTest.from_file(os.path.join(ROOT, "pages/1_Data.py"), default_timeout=120).run()
    text = rendered_text(at)
    found = [fragment for fragment in english_sentences() if fragment in text]
    assert len(found) >= 10, found  # the Spanish check above can fail


def test_the_language_follows_the_link_and_the_selector():
    at = AppTest.from_file(os.path.join(ROOT, "pages/1_Data.py"), default_timeout=120)
    at.run()
    assert at.title[0].value == "📊 Data" and at.query_params["lang"] == "en"
    at.selectbox(key="_language_widget").set_value("es").run()
    assert at.title[0].value == "📊 Datos"
    assert at.query_params["lang"] == "es"  # the address bar now shares the Spanish page
    at.query_params["lang"] = "en"  # a teacher's English link opened in the same session
    at.run()
    assert at.title[0].value == "📊 Data"


def test_decimal_comma_on_the_pages(course_run):
    at = spanish_page("pages/6_Compare.py").run()
    table = at.dataframe[0].value
    accuracy = table["exactitud de prueba"].iloc[0]
    assert re.fullmatch(r"\d{1,3},\d{2}\u00a0%", accuracy), accuracy
    at = spanish_page("pages/3_Train.py", run_id=course_run.id).run()
    assert "," in at.metric[0].value and "." not in at.metric[0].value


def test_argparse_speaks_spanish_through_gettext_without_being_patched(capsys, monkeypatch):
    import argparse
    import gettext

    from cnnlab import cli

    monkeypatch.setenv("LANGUAGE", "en")
    with pytest.raises(SystemExit) as stopped:
        cli.main(["train", "--epochs", "x", "--lang", "es"])
    assert stopped.value.code == 2
    assert "argumento --epochs: valor int no válido: 'x'" in capsys.readouterr().err
    assert argparse._ is gettext.gettext  # argparse's own gettext, untouched: a catalogue is bound instead
    assert gettext.textdomain() == "messages" and os.environ["LANGUAGE"] == "en"  # put back as they were
    with pytest.raises(SystemExit):
        cli.main(["--help", "--lang", "es"])
    out = capsys.readouterr().out
    assert out.startswith("uso: ") and "opciones:" in out and "show this help" not in out


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_float_up_to_huge_is_written_out_never_a_crash(lang):
    """Floats are written with up to 16 decimals: for 10**12 and up that was more digits than decimal's 28 and Babel
    raised InvalidOperation (a teacher's rule of 999999999999 took the Teacher page down with it)."""
    from cnnlab import i18n

    for value, digits in ((999999999999.0, "999999999999"), (123456789012345.5, "123456789012345"),
                          (1e12 + 0.25, "1000000000000")):
        written = i18n.number(value, "", lang)
        assert written.replace(",", "").replace(".", "").replace("\u00a0", "").startswith(digits), written
        assert i18n.number(value, ",", lang)
