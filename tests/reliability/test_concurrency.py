"""A whole class on one server: many sessions at once, identical trainings merged, different ones queued."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from conftest import ROOT
from test_browser import server  # noqa: F401  (a streamlit server for this test module)

from cnnlab import runs
from cnnlab.compute import jobs
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)
# Every page of the app (its address: what each shows when it has drawn), opened by real browsers on a real server:
# AppTest is not thread-safe and has no Runtime for the Draw page's canvas, so it cannot stand for a class.
EVERY_PAGE = {"": "Datasets on this machine", "Data": "Images per class", "Model": "Shapes flowing through the network", "Train": "Is it overfitting?",
              "Inside": "Feature maps", "Learned": "How it learned", "Mistakes": "Confusion matrix",
              "Compare": "All stored runs", "Convolution": "Max pooling", "Draw": "Draw one digit large",
              "Course": "Report A: ", "Teacher": "Trainings in line"}


@pytest.fixture
def browser(isolated):
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                              args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def fresh_caches():
    import streamlit as st
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.mark.alone  # conftest: the other worker waits; thirty pages at once are this server's load, not another test's
def test_thirty_browser_sessions_open_every_page_at_once(server, browser):
    """30 students open the app's 12 pages at the same moment on one server, each page on a stored run: every
    page, the canvas of Draw, the map of Learned and the Teacher page included; not one exception or error."""
    from test_browser import READY

    run, _ = runs.RunStore().get_or_train(TrainConfig(**TINY))
    names = [list(EVERY_PAGE)[number % len(EVERY_PAGE)] for number in range(30)]
    pages = [browser.new_context(viewport={"width": 1200, "height": 1600}).new_page() for _ in names]
    started = time.perf_counter()
    for page, name in zip(pages, names):
        # all thirty requests in flight together; on a loaded 2-core machine the thirtieth Chromium page may wait more
        # than Playwright's 30 s for its first byte (seen once, with other processes training): what is asserted is
        # that every page ends without an exception or error, not how soon it starts
        page.goto(f"{server}/{name}?run={run.id}", wait_until="commit", timeout=180_000)
    for page, name in zip(pages, names):
        page.wait_for_selector(READY, timeout=300_000)
        page.wait_for_timeout(500)
        page.wait_for_selector(READY, timeout=300_000)
        assert page.locator('[data-testid="stException"]').count() == 0, name
        errors = page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
        assert not errors, (name, errors)
        assert EVERY_PAGE[name] in page.content(), name
    seconds = time.perf_counter() - started
    assert pages[names.index("Draw")].locator("canvas.upper-canvas").count() == 1
    print(f"30 browser sessions over {len(EVERY_PAGE)} pages in {seconds:.1f} s")


def test_identical_requests_from_many_sessions_train_once_and_different_ones_queue():
    store = runs.RunStore()
    queue = jobs.TrainingQueue(store)
    same = [queue.submit(TrainConfig(**TINY)) for _ in range(30)]  # 30 students, same settings
    assert len({id(job) for job in same}) == 1
    others = [queue.submit(TrainConfig(**{**TINY, "seed": seed})) for seed in (1, 2, 3)]
    positions = [queue.position(job) for job in [same[0], *others]]
    assert positions[1:] == sorted(positions[1:]) and positions[-1] == 4  # in line, one after another
    running_at_once = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            running_at_once.append(sum(j.status == "running" for j in [same[0], *others]))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    for job in [same[0], *others]:
        assert queue.wait(job, timeout=300) and job.status == "done", job.error
    done.set()
    watcher.join()
    assert max(running_at_once) == 1  # one training at a time on this device
    assert len(store.list()) == 4


def test_identical_trainings_from_five_processes_at_once_train_once(isolated):
    args = [sys.executable, "-m", "cnnlab", "train", "--epochs", "1", "--train-size", "640", "--batch-size", "32",
            "--architecture", "fast", "--json"]
    env = dict(os.environ, PYTHONPATH=ROOT)
    processes = [subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(5)]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert len({r["run_id"] for r in results}) == 1
    assert sum(not r["cached"] for r in results) == 1  # exactly one process trained; four reused its run
    assert len({r["test_accuracy"] for r in results}) == 1
    assert len(runs.RunStore().list()) == 1


def test_cached_models_are_bounded(fresh_caches):
    """The page cache keeps at most 4 rebuilt models however many runs students open."""
    import ui

    store = runs.RunStore()
    ids = [store.get_or_train(TrainConfig(**{**TINY, "seed": seed}))[0].id for seed in range(6)]
    models = [ui.model(run_id) for run_id in ids]
    assert len({id(m) for m in models}) == 6
    assert ui.model(ids[-1]) is models[-1]  # recent ones are shared, not rebuilt
    assert ui.model(ids[0]) is not models[0]  # the oldest was evicted: the cache did not grow past 4
