"""Accessibility in a real browser: axe-core (from npm, see package.json) injected into every page, in
English and Spanish; the language taken from the browser; training started with the keyboard alone."""

import json
import os
import pathlib

import pytest

from cnnlab.training import TrainConfig
from conftest import ROOT
from test_browser import CHROMIUM, PAGES, READY, server  # noqa: F401  (server is a fixture)

AXE = pathlib.Path(ROOT) / "node_modules" / "axe-core" / "axe.min.js"
REPORT = pathlib.Path(ROOT) / "test-output" / "accessibility.json"
BLOCKING = {"serious", "critical"}
TINY = dict(dataset="mnist", architecture="fast", epochs=2, batch_size=32, train_size=320, validation_split=0.25)

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
    pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed: run `npm ci`"),
    pytest.mark.slow,  # a Streamlit server and Chromium on every page, in two languages
]


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"])
        yield chromium
        chromium.close()


def settle(page):
    page.wait_for_selector(READY, timeout=90_000)
    page.wait_for_timeout(500)
    page.wait_for_selector(READY, timeout=90_000)


def axe_violations(page):
    page.add_script_tag(path=str(AXE))
    return page.evaluate("""async () => {
        const results = await axe.run(document, {resultTypes: ['violations']});
        return results.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.length, targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")


@pytest.fixture
def stored_run(stored):
    return stored(TrainConfig(**TINY))  # conftest: trained once, copied into each test's own home


def test_every_page_has_no_serious_accessibility_violation(stored_run, server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    report, blocking = {}, []
    for lang in ("en", "es"):
        for name in ["", *PAGES]:
            page.goto(f"{server}/{name}?lang={lang}")
            settle(page)
            if name in ("Inside", "Mistakes", "Compare"):
                page.wait_for_selector("img, canvas", timeout=60_000)
            violations = axe_violations(page)
            report[f"{lang}/{name or 'Home'}"] = violations
            blocking += [(lang, name or "Home", v["id"], v["help"], v["targets"]) for v in violations
                         if v["impact"] in BLOCKING]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=1))
    summary = sorted({(v["impact"], v["id"], v["help"]) for found in report.values() for v in found})
    print("axe-core violations (impact, rule, help):", *summary, sep="\n  ")
    assert not blocking, blocking


def test_the_language_defaults_to_the_browsers(server, browser):  # noqa: F811
    context = browser.new_context(locale="es-CL")
    page = context.new_page()
    page.goto(server)
    settle(page)
    assert page.get_by_text("aprende redes convolucionales").count() >= 1
    assert page.get_by_role("link", name="Entrenar").count() >= 1  # the navigation is in Spanish too
    assert "lang=es" in page.url  # a link a teacher can share
    context.close()


def test_training_starts_from_the_keyboard_alone(server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(f"{server}/Train?lang=es")
    settle(page)
    for _ in range(80):  # Tab through the form until the Train button has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.innerText") == "Entrenar":
            break
    else:
        pytest.fail("the Train button cannot be reached with Tab")
    page.keyboard.press("Enter")
    page.get_by_text("Exactitud de prueba").wait_for(timeout=240_000)
    assert page.get_by_text("¿Hay sobreajuste?").count() == 1
