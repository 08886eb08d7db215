"""People on a class server: what signing in costs a page, the Teacher page of a full class, and signing in.

    python bench/people.py [--runs 40] [--postgres] [--browser] [--json]

1. Pages (AppTest, in this process): Home, Convolution and Compare rendered --runs times each, alternating a
   personal lab (no database file: nobody signs in) and a class server with a student signed in (every run reads who
   the browser is: a teacher exists? then the cookie's session, from the database). p50 and p95 of each, and the
   difference. The issue's goal: a signed-in page no slower than an anonymous one by more than 20 ms at p95.
2. The database's share: ui.identify()'s work alone (accounts.is_class_server + sessions.who), p50 and p95.
3. The Teacher page of a teacher whose class has 40 students and 2,000 requests (rendered 10 times).
4. --browser: sign-in to the first page drawn, in Debian's Chromium against `streamlit run app.py`: a personal code
   typed, Sign in pressed, until "Signed in as" shows (median of 5, each in a fresh browser context).
--postgres runs 1-3 on a PostgreSQL started on 127.0.0.1 (tests/classroom/postgres_server.py) instead of SQLite.
"""

import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "classroom"))
os.environ.setdefault("CNNLAB_OFFLINE", "1")
PAGES = {"Home": "app.py", "Convolution": "pages/7_Convolution.py", "Compare": "pages/6_Compare.py"}


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def render(path, **state):
    import apptest

    at = apptest.page(path)  # a new session, without AppTest's own component scan (bench/apptest.py)
    for key, value in state.items():
        at.session_state[key] = value
    started = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - started
    assert not at.exception, at.exception
    return seconds


def class_server(address):
    """A teacher, a class with 40 students and 2,000 requests (50 each), on the database at address."""
    from cnnlab.classroom import accounts, classes, database, requests, sessions

    os.environ["CNNLAB_DATABASE_URL"] = address
    database.forget()
    teacher = accounts.add_teacher("Ms Rivera", "a-long-password")
    classroom = classes.create(teacher.id, "CNN 2027")
    made = classes.add_students(classroom.id, [f"student{i:02d}" for i in range(40)])
    people = [sessions.person(classes.sign_in(code, "127.0.0.1").id) for _, code in made]
    for number in range(2000):
        requests.record(people[number % 40], f"{number:016x}", "mnist", "{}")
    return teacher, people[0]


def pages(runs, lab, server, student_token):
    """{page: {"lab": [s...], "signed_in": [s...]}}, alternating the two setups run by run."""
    import ui

    times = {name: {"lab": [], "signed_in": []} for name in PAGES}
    for name, path in PAGES.items():
        render(path)  # warm: imports, caches
        for _ in range(runs):
            for setup in ("lab", "signed_in"):
                os.environ["CNNLAB_DATABASE_URL"] = lab if setup == "lab" else server
                ui._cookie = (lambda cookie: None) if setup == "lab" else (lambda cookie: student_token)
                times[name][setup].append(render(path))
    return times


def identify_share(runs, token):
    from cnnlab.classroom import accounts, sessions

    seconds = []
    for _ in range(runs * 5):
        started = time.perf_counter()
        if accounts.is_class_server():
            sessions.who(token)
        seconds.append(time.perf_counter() - started)
    return seconds


def browser_sign_in(tries=5):
    """Seconds from pressing Sign in (a personal code) to "Signed in as" drawn, in Chromium."""
    import subprocess
    import urllib.request

    from playwright.sync_api import sync_playwright

    from cnnlab.classroom import accounts, classes

    home = tempfile.mkdtemp(prefix="cnnlab-bench-people-")
    env = dict(os.environ, CNNLAB_HOME=home, PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=f"{home}/xdg")
    env.pop("CNNLAB_DATABASE_URL", None)
    os.environ.update(CNNLAB_HOME=home)
    os.environ.pop("CNNLAB_DATABASE_URL", None)
    teacher = accounts.add_teacher("Ms Rivera", "a-long-password")
    code = classes.add_students(classes.create(teacher.id, "CNN 2027").id, ["kiwi"])[0][1]
    port = 8597
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    ready = '[data-testid="stApp"][data-test-script-state="notRunning"]'
    seconds = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"])
            for _ in range(tries):
                page = browser.new_context().new_page()
                page.goto(url)
                page.wait_for_selector(ready, timeout=60_000)
                page.wait_for_timeout(500)
                page.get_by_role("tab", name="My code").click()
                page.get_by_label("Your personal code").fill(code)
                started = time.perf_counter()
                page.get_by_role("button", name="Sign in").first.click()
                page.get_by_text("Signed in as kiwi").wait_for(timeout=60_000)
                page.wait_for_selector(ready, timeout=60_000)
                seconds.append(time.perf_counter() - started)
                page.context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--browser", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="cnnlab-bench-people-")
    os.environ["CNNLAB_HOME"] = home
    lab = f"sqlite:///{home}/no-database-here/people.sqlite"  # never made: a personal lab
    postgres = None
    if args.postgres:
        import postgres_server

        postgres = postgres_server.Server()
        address = postgres.url
    else:
        address = f"sqlite:///{home}/people.sqlite"
    from cnnlab.classroom import sessions

    teacher, student = class_server(address)
    token = sessions.open_session(student.person_id)
    results = {"database": "postgresql" if args.postgres else "sqlite", "runs": args.runs}
    try:
        times = pages(args.runs, lab, address, token)
        os.environ["CNNLAB_DATABASE_URL"] = address
        share = identify_share(args.runs, token)
        import ui

        ui._cookie = lambda cookie: sessions.open_session(teacher.id)
        teacher_page = [render("pages/10_Teacher.py") for _ in range(10)]
    finally:
        if postgres:
            postgres.stop()
    for name, both in times.items():
        lab_p95, signed_p95 = percentile(both["lab"], 0.95), percentile(both["signed_in"], 0.95)
        results[name] = {"lab_p50_ms": 1000 * statistics.median(both["lab"]), "lab_p95_ms": 1000 * lab_p95,
                         "signed_in_p50_ms": 1000 * statistics.median(both["signed_in"]),
                         "signed_in_p95_ms": 1000 * signed_p95, "p95_difference_ms": 1000 * (signed_p95 - lab_p95)}
        print(f"{name:<12} personal lab p50 {results[name]['lab_p50_ms']:6.1f} ms p95 {1000 * lab_p95:6.1f} ms | "
              f"signed in p50 {results[name]['signed_in_p50_ms']:6.1f} ms p95 {1000 * signed_p95:6.1f} ms | "
              f"p95 difference {results[name]['p95_difference_ms']:+6.1f} ms")
    results["identify_p50_ms"], results["identify_p95_ms"] = 1000 * statistics.median(share), \
        1000 * percentile(share, 0.95)
    results["teacher_page_40_students_2000_requests_p50_ms"] = 1000 * statistics.median(teacher_page)
    print(f"who the browser is (the database's share of a page): p50 {results['identify_p50_ms']:.2f} ms, "
          f"p95 {results['identify_p95_ms']:.2f} ms ({results['database']})")
    print(f"Teacher page, 40 students and 2,000 requests: p50 {results['teacher_page_40_students_2000_requests_p50_ms']:.0f}"
          f" ms, max {1000 * max(teacher_page):.0f} ms")
    if args.browser:
        signed = browser_sign_in()
        results["sign_in_to_page_median_s"] = statistics.median(signed)
        print(f"sign-in to the page drawn (Chromium, personal code): median {statistics.median(signed):.2f} s, "
              f"max {max(signed):.2f} s")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
