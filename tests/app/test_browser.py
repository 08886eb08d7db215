"""A real browser (Debian's Chromium driven by Playwright) against `streamlit run app.py` on 127.0.0.1."""

import contextlib
import math
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
OUTPUT = pathlib.Path(ROOT) / "test-output" / "screenshots"
PAGES = ["Data", "Model", "Train", "Inside", "Learned", "Mistakes", "Compare", "Convolution", "Draw", "Course",
         "Teacher"]
READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(isolated):
    with serve(isolated, free_port()) as url:
        yield url


@contextlib.contextmanager
def serve(isolated, port):
    """`streamlit run app.py` on 127.0.0.1:port, with the test's own HOME and config folders: its address."""
    env = dict(os.environ, XDG_CONFIG_HOME=str(isolated / "xdg_config"), XDG_CACHE_HOME=str(isolated / "xdg_cache"),
               PYTHONPATH=ROOT)
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail(f"streamlit did not start: {process.stdout.read()}")
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def browser_page(isolated):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"])
        page = browser.new_page(viewport={"width": 1400, "height": 2400})
        yield page
        browser.close()


def open_page(page, url, name):
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(READY, timeout=90_000)
    page.wait_for_timeout(500)
    page.wait_for_selector(READY, timeout=90_000)
    for image in page.locator("img").all():
        image.evaluate("img => img.complete || new Promise(r => { img.onload = img.onerror = r; })")
    seconds = time.perf_counter() - started
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0, f"{name} shows an exception"
    return seconds


def test_walk_every_page_and_train_from_the_train_page(server, browser_page):
    page = browser_page
    timings = {"Home": open_page(page, server, "0_Home")}
    # the home page's data table, drawn by the run that follows the first (which sets ?lang=): under a second
    # worker's load it may come a moment after the page first looks idle
    page.wait_for_function("() => document.documentElement.outerHTML.includes('bundled')", timeout=30_000)
    assert "bundled" in page.content()
    timings["Train (empty)"] = open_page(page, f"{server}/Train", "3_Train_empty")
    started = time.perf_counter()
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Test accuracy").wait_for(timeout=240_000)
    timings["training shown"] = time.perf_counter() - started
    page.wait_for_selector(READY, timeout=60_000)
    page.screenshot(path=str(OUTPUT / "3_Train_result.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "overfitting" in page.content()
    expected = {"Data": "Images per class", "Model": "Total params", "Train": "Learning rate",
                "Inside": "Feature maps", "Learned": "How it learned", "Mistakes": "Confusion matrix", "Compare": "All stored runs",
                "Convolution": "Max pooling", "Draw": "Draw one digit large", "Course": "Report E",
                "Teacher": "Trainings in line"}
    for number, name in enumerate(PAGES, start=1):
        timings[name] = open_page(page, f"{server}/{name}", f"{number}_{name}")
        assert expected[name] in page.content(), name
    print("page timings (s):", {k: round(v, 2) for k, v in timings.items()})


def draw(page, strokes, steps=12):
    """Draw polylines (points in 0..1 of the canvas) with many small mouse moves, as a hand would."""
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for(timeout=60_000)
    box = canvas.bounding_box()
    for stroke in strokes:
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            for i in range(1, steps + 1):
                page.mouse.move(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps)
        page.mouse.up()


def read_prediction(page):
    heading = page.get_by_text("The network reads:")
    heading.wait_for(timeout=60_000)
    page.get_by_text("Placed in 28×28 by its centre of mass").wait_for(timeout=60_000)
    page.get_by_text("conv_1: the first").wait_for(timeout=60_000)
    page.wait_for_selector(READY, timeout=60_000)
    for image in page.locator("img").all():
        image.evaluate("img => img.complete || new Promise(r => { img.onload = img.onerror = r; })")
    return heading.inner_text().split(":")[-1].strip()


def test_draw_digits_with_the_mouse_and_read_the_prediction(server, browser_page):
    page = browser_page
    seconds = open_page(page, f"{server}/Draw", "8_Draw_empty")
    assert "bundled MNIST model" in page.content()
    started = time.perf_counter()
    draw(page, [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]])  # a 7
    assert read_prediction(page) == "7"
    shown = time.perf_counter() - started
    page.screenshot(path=str(OUTPUT / "8_Draw_seven.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    old_canvas = page.locator("canvas.upper-canvas").first.element_handle()
    page.get_by_role("button", name="Clear the canvas").click()
    page.wait_for_selector(READY, timeout=60_000)
    page.get_by_text("The network reads:").wait_for(state="detached", timeout=30_000)
    # the cleared canvas is a new component: draw only once the old one has left the page
    page.wait_for_function("canvas => !canvas.isConnected", arg=old_canvas, timeout=60_000)
    page.locator("canvas.upper-canvas").first.wait_for(state="visible", timeout=60_000)
    page.wait_for_timeout(500)
    draw(page, [[(0.5 + 0.22 * math.cos(t / 20 * math.tau), 0.5 + 0.32 * math.sin(t / 20 * math.tau))
                 for t in range(21)]])  # a 0
    assert read_prediction(page) == "0"
    page.screenshot(path=str(OUTPUT / "8_Draw_zero.png"), full_page=True)
    print(f"Draw page: opened in {seconds:.2f} s; mouse-up to prediction {shown:.2f} s")


def test_draw_a_digit_in_spanish_with_no_english_on_screen(server, browser_page):
    from test_i18n import english_sentences

    page = browser_page
    open_page(page, f"{server}/Draw?lang=es", "8_Draw_es_empty")
    draw(page, [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]])  # a 7
    heading = page.get_by_text("La red lee:")
    heading.wait_for(timeout=60_000)
    page.get_by_text("Colocada en 28×28 según su centro de masa").wait_for(timeout=60_000)
    page.get_by_text("conv_1: los primeros").wait_for(timeout=60_000)
    page.wait_for_selector(READY, timeout=60_000)
    assert heading.inner_text().split(":")[-1].strip() == "7"
    page.screenshot(path=str(OUTPUT / "8_Draw_es_seven.png"), full_page=True)
    text = page.inner_text("body")
    assert "%" in text and "," in text.split("Con ")[1][:8]  # "Con 99,2 % de seguridad": a decimal comma
    left = [fragment for fragment in english_sentences() if fragment in text]
    assert not left, left


def test_a_download_after_its_run_was_trained_again_gives_the_new_run_and_sets_nothing_aside(server, browser_page):
    """#29 item 9: the page was drawn on a stopped run; the run is replaced under its id by a full training; a click
    then makes the file from the run stored now (before, it checked the new files against the old checksums and
    moved the good run to corrupt/ for everyone)."""
    from cnnlab import runs
    from cnnlab.training import TrainConfig

    store = runs.RunStore()  # the server's store: the same CNNLAB_HOME
    config = TrainConfig(dataset="mnist", architecture="fast", epochs=2, batch_size=32, train_size=320,
                         validation_split=0.25)
    done = []
    stopped, _ = store.get_or_train(config, on_epoch_end=lambda epoch, logs: done.append(epoch),
                                    should_stop=lambda: len(done) >= 1)
    assert not stopped.complete
    page = browser_page
    open_page(page, f"{server}/Train?run={stopped.id}", "3_Train_stopped_run")
    page.get_by_text("Take it home").click()
    button = page.get_by_role("button", name="Weights (.weights.h5)")
    button.wait_for(timeout=60_000)
    # and the Compare page, drawn on the stopped run too, with its lab report
    compare = page.context.browser.new_page(viewport={"width": 1400, "height": 2400})
    open_page(compare, f"{server}/Compare", "6_Compare_stopped_run")
    report = compare.get_by_role("button", name="Lab report (.html)")
    report.wait_for(timeout=60_000)
    full, cached = store.get_or_train(config)  # the same settings trained again, to the end: a new version
    assert not cached and full.complete and full.id == stopped.id and full.version != stopped.version
    with page.expect_download(timeout=30_000) as download:
        button.click()
    got = pathlib.Path(download.value.path()).read_bytes()
    assert got == (full.path / "model.weights.h5").read_bytes()  # the run as it is now
    with compare.expect_download(timeout=30_000) as download:
        report.click()
    html = pathlib.Path(download.value.path()).read_text()
    assert "2 of 2 epochs" in html and "1 of 2 epochs" not in html  # the report of the run as it is now
    assert list((store.root / "corrupt").iterdir()) == []  # nothing set aside
    assert runs.RunStore(store.root).get(full.id).complete
