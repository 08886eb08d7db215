"""Make the README's screenshots for real: the app in a browser, in English and in Spanish.

    python scripts/screenshots.py [--out docs/screenshots] [--lang en es]

What it does, in order, all on this machine (no network):
1. makes a fresh temporary home (CNNLAB_HOME, XDG_CONFIG_HOME, XDG_CACHE_HOME, KERAS_HOME under it), so your own
   runs are neither shown nor touched, and MNIST is the sample bundled with cnnlab;
2. trains a small network there with the documented command line
   (`python -m cnnlab train --dataset mnist --architecture fast --epochs 3`), so the pages have a run to show;
3. starts `streamlit run app.py` on 127.0.0.1 on a free port (headless, no file watcher, no usage statistics);
4. drives Debian's Chromium (/usr/bin/chromium, through Playwright) through Home, Train (the run's curves),
   Inside (feature maps and Grad-CAM), Learned (the map), Mistakes, Draw (a 7 drawn with the mouse) and Course,
   once per language (?lang= in the address);
5. keeps the part of each page that makes the point (at most 1,600 pixels of a 1,280-pixel-wide window), shrinks it
   to 1,000 pixels wide and saves it as a palette PNG: <out>/<lang>-<page>.png;
6. prints each file's size and the total, and fails if all of them together pass 3 MB.

The server (and anything it started) is stopped at the end, whatever happened. Without /usr/bin/chromium it says so
and exits with code 2. It uses only cnnlab's command line and the browser, never cnnlab's modules.
"""

import argparse
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'  # the page's script has finished
LANGUAGES = ["en", "es"]
TRAIN = ["--dataset", "mnist", "--architecture", "fast", "--epochs", "3"]  # about 10 s on two cores
WINDOW_WIDTH, MAX_HEIGHT = 1280, 1600  # the browser window, and the most of a page one picture keeps
PICTURE_WIDTH, COLOURS = 1000, 192  # the saved picture: shrunk to this width, with this many colours
BUDGET = 3 * 1024 * 1024  # all the pictures together
WAIT_MS = 180_000  # the longest one page may take (TensorFlow loads on the first page that needs it)

# name, address (with {run}), the page's header (st.header, counted from 0) the picture starts at (None: the top),
# the header it stops before (None: the end of the page), and what to do on the page first
PAGES = [
    ("home", "", None, None, None),
    ("train", "Train?run={run}", None, None, None),  # the form, the result and its learning curves
    ("inside", "Inside?run={run}", 1, 3, None),  # feature maps, then "why it decided": Grad-CAM and occlusion
    ("learned", "Learned?run={run}", None, 1, None),  # the map, up to the timeline
    ("mistakes", "Mistakes?run={run}", None, None, None),
    ("draw", "Draw", None, 1, "draw_seven"),  # the canvas, the answer and the steps from ink to the network
    ("course", "Course", None, None, None),
]


def fail(message, code=1):
    print(f"screenshots: {message}", file=sys.stderr)
    sys.exit(code)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def private_environment(home):
    """This process's environment with every cnnlab and cache folder in home, offline, training in process."""
    env = dict(os.environ, CNNLAB_HOME=str(home / "cnnlab"), XDG_CONFIG_HOME=str(home / "xdg_config"),
               XDG_CACHE_HOME=str(home / "xdg_cache"), KERAS_HOME=str(home / "keras"), CNNLAB_OFFLINE="1",
               PYTHONPATH=str(ROOT))
    for name in ("CNNLAB_DATA_DIR", "CNNLAB_RAY_ADDRESS", "CNNLAB_MODELS_DIR"):  # the bundled sample and model only
        env.pop(name, None)
    return env


def train(env):
    """The run the pages show: its id, from the command line's --json line."""
    command = [sys.executable, "-m", "cnnlab", "--lang", "en", "train", *TRAIN, "--json"]
    print("training:", " ".join(command[1:]), flush=True)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        fail(f"training failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"trained run {result['run_id'][:8]}: test accuracy {result['test_accuracy']:.1%}", flush=True)
    return result["run_id"]


def start_server(env, log):
    """streamlit run app.py in a session of its own (so its workers stop with it); its address once healthy."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                return process, url
        except OSError:
            time.sleep(0.5)
    return process, None


def stop_server(process):
    """SIGTERM to the server's process group (the server and whatever it started), SIGKILL to what is left."""
    if process is None:
        return
    for sent in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sent)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        if sent == signal.SIGTERM:
            time.sleep(1)  # its workers end on their own, or get the SIGKILL
    process.wait()


def settle(page, name):
    """Wait until the script has finished, no spinner is left, every image has loaded and every chart is drawn."""
    page.wait_for_selector(READY, timeout=WAIT_MS)
    page.wait_for_timeout(500)  # a rerun the first run asked for starts now
    page.wait_for_selector(READY, timeout=WAIT_MS)
    page.wait_for_function("""() => !document.querySelector('[data-testid="stSpinner"], [data-testid="stSkeleton"]')
        && [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')].every(c => c.querySelector('canvas, svg'))
        && [...document.images].every(img => img.complete)""", timeout=WAIT_MS)
    page.wait_for_timeout(1000)  # charts finish their layout
    if page.locator('[data-testid="stException"]').count():
        fail(f"{name} shows an error: {page.locator('[data-testid=stException]').first.inner_text()[:500]}")


def draw_seven(page):
    """A 7 drawn on the canvas with many small mouse moves, as a hand would; waits for the answer."""
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for(timeout=WAIT_MS)
    box = canvas.bounding_box()
    points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in [(0.25, 0.2), (0.75, 0.2),
                                                                                     (0.45, 0.85)]]
    page.mouse.move(*points[0])
    page.mouse.down()
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        for i in range(1, 13):
            page.mouse.move(x0 + (x1 - x0) * i / 12, y0 + (y1 - y0) * i / 12)
    page.mouse.up()
    page.wait_for_selector('[data-testid="stVegaLiteChart"]', timeout=WAIT_MS)  # the answer's probabilities


def clip(page, start, stop):
    """The window's rectangle from header start (or the top) to header stop (or the page's end), at most MAX_HEIGHT."""
    headers = 'document.querySelectorAll(\'[data-testid="stHeading"] h2\')'
    if start is not None:
        page.evaluate(f"""i => {{ const h = {headers}[i]; h.style.scrollMarginTop = '72px';
                                  h.scrollIntoView({{block: 'start'}}); }}""", start)
        page.wait_for_timeout(500)
    top, bottom = page.evaluate(f"""([start, stop]) => {{
        const headers = {headers};
        const top = start === null ? 0 : headers[start].getBoundingClientRect().top - 8;
        const block = document.querySelector('[data-testid="stMainBlockContainer"] > div');
        const bottom = stop === null || !headers[stop] ? block.getBoundingClientRect().bottom + 32
                                                       : headers[stop].getBoundingClientRect().top - 16;
        return [Math.max(0, top) + window.scrollY,
                Math.min(bottom, window.innerHeight) + window.scrollY]; }}""", [start, stop])
    return {"x": 0, "y": top, "width": WINDOW_WIDTH, "height": max(1, min(bottom - top, MAX_HEIGHT))}


def save_small(png, path):
    """A screenshot shrunk to PICTURE_WIDTH and saved with COLOURS colours."""
    import io

    from PIL import Image

    picture = Image.open(io.BytesIO(png)).convert("RGB")
    height = round(picture.height * PICTURE_WIDTH / picture.width)
    picture = picture.resize((PICTURE_WIDTH, height), Image.Resampling.LANCZOS)
    picture.quantize(COLOURS, dither=Image.Dither.NONE).save(path, optimize=True)


def capture(url, run_id, languages, out):
    from playwright.sync_api import sync_playwright

    made = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": WINDOW_WIDTH, "height": MAX_HEIGHT + 100})
            for lang in languages:
                for name, address, start, stop, action in PAGES:
                    started = time.perf_counter()
                    address = address.format(run=run_id)
                    page.goto(f"{url}/{address}{'&' if '?' in address else '?'}lang={lang}")
                    settle(page, f"{lang}-{name}")
                    if action == "draw_seven":
                        draw_seven(page)
                        settle(page, f"{lang}-{name}")
                    path = out / f"{lang}-{name}.png"
                    save_small(page.screenshot(clip=clip(page, start, stop)), path)
                    made.append(path)
                    print(f"{path.name:<16} {time.perf_counter() - started:5.1f} s", flush=True)
        finally:
            browser.close()
    return made


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "docs" / "screenshots",
                        help="the folder for the pictures (default: docs/screenshots)")
    parser.add_argument("--lang", nargs="+", choices=LANGUAGES, default=LANGUAGES, help="the languages (default: both)")
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        fail(f"{CHROMIUM} is missing (Debian: apt install chromium); no screenshots made", code=2)
    if shutil.which("fc-list") and "emoji" not in subprocess.run(["fc-list", ":", "family"], capture_output=True,
                                                                 text=True).stdout.lower():
        print("screenshots: no colour emoji font (Debian: fonts-noto-color-emoji): the titles' emoji will be boxes",
              file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cnnlab-screenshots-", ignore_cleanup_errors=True) as folder:
        home = pathlib.Path(folder)
        env = private_environment(home)
        run_id = train(env)
        server = None
        with open(home / "streamlit.log", "w+") as log:
            try:
                server, url = start_server(env, log)
                if url is None:
                    log.seek(0)
                    fail(f"streamlit did not start: {log.read()[-2000:]}")
                print(f"app at {url}", flush=True)
                made = capture(url, run_id, args.lang, args.out)
            finally:
                stop_server(server)
    total = 0
    for path in made:
        size = path.stat().st_size
        total += size
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {size / 1024:7.1f} KiB")
    print(f"{len(made)} pictures, {total / 1024 / 1024:.2f} MiB in all, in {time.perf_counter() - started:.0f} s")
    if total > BUDGET:
        fail(f"the pictures take {total / 1024 / 1024:.2f} MiB, over the 3 MiB budget: fewer colours or a smaller "
             f"PICTURE_WIDTH")


if __name__ == "__main__":
    main()
