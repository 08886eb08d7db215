"""The lab report: one self-contained HTML page (and a zip of Markdown and figures) drafted from stored runs."""

import html
import io
import json
import os
import re
import zipfile

import pytest
from conftest import run_cli
from PIL import Image
from test_browser import CHROMIUM, browser_page  # noqa: F401 -- a pytest fixture
from test_i18n import english_sentences

from cnnlab import i18n, runs
from cnnlab.course import experiments, reports
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=3, batch_size=32, train_size=640, validation_split=0.25)


@pytest.fixture
def stored_run(stored):
    return stored(TrainConfig(**TINY))  # conftest: trained once, copied into each test's own home


def export(run_ids, fmt, folder, *extra):
    out = run_cli("export", *run_ids, "--format", fmt, "--out", str(folder), "--json", *extra)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])["path"]


def read_in_chromium(page, path):
    """(visible text with every image's alt, images: [(alt, natural width)], requests that left the file)."""
    outside = []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith(("file:", "data:")) else None)
    page.goto(f"file://{path}")
    page.wait_for_load_state("load")
    images = page.eval_on_selector_all("img", "all => all.map(i => [i.alt, i.complete ? i.naturalWidth : 0])")
    return page.inner_text("body") + "\n" + "\n".join(alt for alt, _ in images), images, outside


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
def test_the_report_opens_in_chromium_with_every_picture_and_the_runs_numbers(stored_run, browser_page, tmp_path):  # noqa: F811
    path = export([stored_run.id[:8]], "report", tmp_path)
    text, images, outside = read_in_chromium(browser_page, path)
    assert not outside  # self-contained: nothing fetched, so it opens offline and prints whole
    # curves, confusion matrix, per-class accuracy, mistakes, filters, the test image, two layers' feature maps
    assert len(images) == 8 and all(width > 0 for _, width in images), images
    assert all(len(alt) > 20 for alt, _ in images)
    assert i18n.percent(stored_run.test_accuracy) in text
    assert f"{stored_run.record['params']:,}" in text  # the parameter count, as the reader writes numbers
    assert "Is it overfitting?" in text and "Confusion matrix" in text
    assert stored_run.id in text


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
def test_the_report_in_spanish_has_no_english_sentence(stored_run, browser_page, tmp_path):  # noqa: F811
    path = export([stored_run.id], "report", tmp_path, "--lang", "es")
    text, images, _ = read_in_chromium(browser_page, path)
    assert all(width > 0 for _, width in images)
    left = sorted(fragment for fragment in english_sentences() if fragment in text)
    assert not left, left
    assert i18n.percent(stored_run.test_accuracy, lang="es") in text and "¿Hay sobreajuste?" in text
    assert '<html lang="es">' in open(path, encoding="utf-8").read()


def test_a_report_of_several_runs_compares_them_and_keeps_each_ones_figures_apart(stored_run):
    other, _ = runs.RunStore().get_or_train(TrainConfig(**dict(TINY, architecture="mlp_512", epochs=2)))
    blocks = reports.blocks([stored_run, other])
    figures = [b for b in blocks if isinstance(b, reports.Figure)]
    assert len({f.name for f in figures}) == len(figures)
    tables = [b for b in blocks if isinstance(b, reports.Table)]
    assert [row[0] for row in tables[0].rows] == [stored_run.id[:8], other.id[:8]]  # the comparison comes first
    text = " ".join(b.text for b in blocks if isinstance(b, reports.Paragraph))
    assert i18n.t("report.no_conv") in text  # the MLP has no filters to show, and says so
    best = max((stored_run, other), key=lambda r: r.test_accuracy)
    assert i18n.t("report.best", name=best.config.architecture_name, id=best.id[:8], accuracy=best.test_accuracy) in text
    # 3 epochs against 2: the report says the ranking is not like for like (#29 item 7)
    assert f"different lengths ({stored_run.id[:8]}: 3 epochs and {other.id[:8]}: 2 epochs)" in text, text


def test_the_markdown_zip_holds_every_figure_it_names_as_a_real_png(stored_run, tmp_path):
    path = export([stored_run.id], "markdown", tmp_path, "--lang", "es")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        text = archive.read("report.md").decode("utf-8")
        linked = re.findall(r"!\[[^\]]+\]\((figures/[^)]+\.png)\)", text)
        assert linked and set(linked) == names - {"report.md"}
        for name in linked:
            with Image.open(io.BytesIO(archive.read(name))) as image:
                assert image.format == "PNG" and min(image.size) >= 28
    assert text.startswith("# Informe de laboratorio") and i18n.percent(stored_run.test_accuracy, lang="es") in text
    assert "| Ajuste | Valor |" in text


def test_a_course_report_answers_its_questions_with_the_numbers_of_its_runs(tmp_path):
    run, _ = runs.RunStore().get_or_train(experiments.get("C3").config(epochs=1), requested_by="C3")
    path = export([], "report", tmp_path, "--course", "c")
    page = html.unescape(open(path, encoding="utf-8").read())
    assert i18n.t("report.course_title", report="C") in page
    for answer in experiments.answers("C", [run]):
        assert i18n.t(experiments.QUESTION_TEXT[answer.question]) in page
    assert i18n.percent(run.test_accuracy) in page
