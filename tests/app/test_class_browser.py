"""A class in a real browser (#32): a teacher makes an assignment on the Teacher page; three students (three browser
contexts) join with the class's code, train from the worksheet, answer and hand in, while the teacher's live table
follows each of them; then the leaderboard, the class's sweep and mistakes and the gradebook show the three, and a
locked setting asked through a settings link or the command line is refused in words (Debian's Chromium, Playwright,
`streamlit run app.py`)."""

import csv
import io
import pathlib
import re
import time

import pytest
from conftest import run_cli
from test_browser import CHROMIUM, server  # noqa: F401 (fixture: `streamlit run app.py` on 127.0.0.1)
from test_signin_browser import ARGS, join, settled

from cnnlab import runs
from cnnlab.classroom import accounts, classes, permissions, sessions, web
from cnnlab.course import assignments, gradebook
from cnnlab.data import holdout

STUDENTS = ("kiwi", "luz", "nube")
ANSWERS = {"kiwi": "Ones and sevens.", "luz": "It mixed up fours and nines after one epoch.",
           "nube": "Threes and fives look alike to a network this small."}
TITLE = "One epoch of fast"
QUESTION = "Which digits did your network mix up?"
# the live table as the teacher's browser draws it, read from the grid's own accessible table every 100 ms in the page,
# whatever the test is doing meanwhile: each change of a student's row is kept in window.seenLive as
# [student, now, handed in]
RECORD_LIVE = """() => {
  window.seenLive = [];
  const read = () => {
    for (const frame of document.querySelectorAll('[data-testid="stDataFrame"]')) {
      const heads = [...frame.querySelectorAll('th')].map(th => th.textContent);
      if (!heads.includes('now') || !heads.includes('handed in')) continue;
      for (const row of frame.querySelectorAll('tbody tr')) {
        const cells = [...row.querySelectorAll('td')].map(td => td.textContent);
        const seen = [cells[heads.indexOf('student')], cells[heads.indexOf('now')], cells[heads.indexOf('handed in')]];
        const last = window.seenLive.filter(s => s[0] === seen[0]).pop();
        if (!last || last[1] !== seen[1] || last[2] !== seen[2]) window.seenLive.push(seen);
      }
    }
  };
  read();
  window.setInterval(read, 100);
}"""

BOARD = """() => [...document.querySelectorAll('[data-testid="stDataFrame"]')].map(frame => frame.textContent)
                 .filter(words => words.includes('Public score')).join(' ')"""

EVIDENCE = """() => [...document.querySelectorAll('[data-testid="stDataFrame"]')]
                    .some(frame => frame.textContent.includes('Test loss'))"""


@pytest.fixture
def browser(isolated):
    if not pathlib.Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        launched.close()


def new_page(browser):
    return browser.new_context(viewport={"width": 1400, "height": 2400}).new_page()


def choose(page, key, option):
    """Pick an option of the selectbox with that key. A fragment's redraw (the queue's every 2 s, the live class's
    every 5 s) may close the list before the click: it is opened again."""
    from playwright.sync_api import Error

    widget = page.locator(f".st-key-{key} [role=combobox]").first
    for _ in range(5):
        page.locator(f".st-key-{key} button[aria-label=Open]").first.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
        except Error:
            continue
        if widget.input_value() == option:
            return
    raise AssertionError(f"{key}: {option} could not be chosen")


def text(page):
    return page.inner_text("body")


def make_assignments(page, class_id):
    """On the Teacher page: report A's assignment in one click, then a tiny one from scratch (report A trains net_1
    and net_2 on the whole training set for up to 30 epochs: minutes each on two cores). Returns the tiny one."""
    page.get_by_role("button", name="Assignment from report A").click()
    page.get_by_text("Assignment “net_1 and net_2 on MNIST and CIFAR-10” made").wait_for(timeout=60_000)
    settled(page)
    page.get_by_text("Make an assignment from scratch").click()
    page.get_by_label("Title", exact=True).fill(TITLE)
    for name, mode, value in (("epochs", "range", "1, 2"), ("batch_size", "locked", "32"),
                              ("train_size", "locked", "320")):
        choose(page, f"mode_{name}", mode)
        page.locator(f".st-key-value_{name} input").first.fill(value)
    page.locator(".st-key-question_en_1 input").first.fill(QUESTION)
    page.get_by_role("button", name="Make the assignment").click()
    page.get_by_text(f"Assignment “{TITLE}” made").wait_for(state="attached", timeout=60_000)  # in the form's expander
    settled(page)
    made = {a.title: a for a in assignments.of_class(permissions.OWNER, class_id)}
    assert made["net_1 and net_2 on MNIST and CIFAR-10"].report == "A"
    tiny = made[TITLE]
    rules = assignments.rules_of(tiny)
    assert (rules.dataset, rules.architecture) == ("mnist", "fast")
    assert rules.settings["batch_size"] == {"mode": "locked", "value": 32}
    assert rules.settings["epochs"] == {"mode": "range", "min": 1, "max": 2}
    for made_one in made.values():  # each with its link, large, for the projector
        page.get_by_text(assignments.link(made_one.code)).first.wait_for(timeout=30_000)
    return tiny


def seen_of(teacher):
    return teacher.evaluate("() => window.seenLive")


def wait_live(teacher, nickname, state, handed, timeout=180_000):
    teacher.wait_for_function(
        """([name, state, handed]) => window.seenLive.some(s => s[0] === name && s[1].startsWith(state)
                                                           && s[2] === handed)""",
        arg=[nickname, state, handed], timeout=timeout)


@pytest.mark.slow
@pytest.mark.alone  # conftest: the other worker waits; four browser contexts and three trainings are the server's load
def test_three_students_train_answer_and_hand_in_while_the_teacher_follows_them_live(server, browser):
    started = time.perf_counter()
    teacher_id = accounts.add_teacher("Ms Rivera", "a-long-password").id
    classroom = classes.create(teacher_id, "CNN 2027", "spring")

    teacher = new_page(browser)
    teacher.goto(f"{server}{web.SESSION_PATH}?ticket={sessions.open_ticket(teacher_id)}&next=/Teacher")
    settled(teacher)
    teacher.get_by_text("Signed in as Ms Rivera").wait_for(timeout=60_000)
    tiny = make_assignments(teacher, classroom.id)
    code = tiny.code

    students = {nickname: new_page(browser) for nickname in STUDENTS}
    for nickname, page in students.items():  # the home page's join form, with the code on the board
        join(page, server, classroom.join_code, nickname)

    choose(teacher, f"live_assignment_{classroom.id}", TITLE)  # follow the tiny assignment
    teacher.evaluate(RECORD_LIVE)
    for nickname in STUDENTS:
        wait_live(teacher, nickname, "not started", "no", timeout=60_000)

    for nickname, page in students.items():  # the assignment's link, as its QR code opens it
        page.goto(f"{server}{assignments.link(code)}")
        settled(page)
        page.get_by_text(TITLE).first.wait_for(timeout=60_000)
        assert "No runs yet" in text(page) and QUESTION in text(page)
        # a setting the rules lock is not in the form of the step that changes one thing
        assert page.locator('[data-testid="stForm"]').get_by_label("the batch size").count() == 0
    # kiwi trains the starting settings (step 1); luz and nube change the seed (step 2): three runs, one at a time
    students["kiwi"].locator(".st-key-train_1 button").first.click()
    for seed, nickname in enumerate(("luz", "nube"), start=1):
        page = students[nickname]
        form = page.locator('[data-testid="stForm"]')
        form.get_by_label("the seed").fill(str(seed))
        form.get_by_role("button", name="Train").click()
    for nickname, page in students.items():
        page.wait_for_function(EVIDENCE, timeout=240_000)  # their run's numbers, once its training has ended
        settled(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        page.locator(".st-key-answer_q1 textarea").first.fill(ANSWERS[nickname])
        page.get_by_role("button", name="Hand in").click()
        page.get_by_text("Handed in (1 time)").first.wait_for(timeout=60_000)
    for nickname in STUDENTS:
        wait_live(teacher, nickname, "finished", "yes")
    seen = seen_of(teacher)
    for nickname in STUDENTS:
        states = [state for name, state, _ in seen if name == nickname]
        assert states[0] == "not started", (nickname, seen)
        assert any(state.startswith(("in line", "training")) for state in states), (nickname, seen)
        assert states[-1] == "finished", (nickname, seen)
    print("live table:", seen)

    # the leaderboard on the Teacher page, with every private score
    teacher.locator(f".st-key-board_show_{tiny.id} label").first.click()
    teacher.get_by_text("3 students ranked by the test accuracy").wait_for(timeout=120_000)
    teacher.wait_for_function(f"names => names.every(name => ({BOARD})().includes(name))", arg=list(STUDENTS),
                              timeout=60_000)

    # the class's sweep and mistakes on the Class page
    view = teacher.context.new_page()
    view.goto(f"{server}/Class")
    settled(view)
    choose(view, "class_view_assignment", TITLE)
    settled(view)
    view.get_by_text(re.compile(r"3 attempts on ")).wait_for(timeout=120_000)
    page_text = text(view)
    assert re.search(r"\d of 3 networks confuse", page_text), page_text  # the three best networks, added up
    assert view.locator('[data-testid="stException"]').count() == 0

    # the gradebook the Assignment page offers its teacher: three hand-ins with their answers' lengths
    as_teacher = sessions.who(sessions.open_session(teacher_id))[0]
    rows = list(csv.DictReader(io.StringIO(gradebook.csv_text(as_teacher, classroom.id, runs.RunStore(), tiny))))
    assert sorted(row["student"] for row in rows) == sorted(STUDENTS)
    for row in rows:
        assert row["handed in"] == "yes" and row["times handed in"] == "1", row
        assert row["answer 1 (characters)"] == str(len(ANSWERS[row["student"]])), row
        assert row["public score"] and row["private score"] and row["best run"], row

    # a locked setting asked for through the address: a student's settings link names the class's copy of MNIST
    # (the whole dataset is not theirs to use); one that keeps the rules fills the form, one that changes the locked
    # batch size is refused in words
    kiwi, copy = students["kiwi"], holdout.key_for(tiny)
    linked = f"{server}/Assignment?assignment={code}&dataset={copy}&network=fast&epochs=1&train_size=320&batch="
    kiwi.goto(linked + "32&seed=5")
    kiwi.get_by_text("The settings of your link keep the assignment's rules").wait_for(timeout=60_000)
    kiwi.goto(linked + "64")
    kiwi.get_by_text("Not queued: The assignment locks the batch size to 32: you asked for 64.").wait_for(
        timeout=60_000)
    ended = run_cli("train", "--assignment", code, "--dataset", "mnist", "--architecture", "fast", "--epochs", "1",
                    "--train-size", "320", "--batch-size", "64")
    lines = ended.stderr.strip().splitlines()
    assert ended.returncode == 2 and len(lines) == 1, ended.stderr
    assert "The assignment locks the batch size to 32: you asked for 64." in lines[0], lines
    assert "Traceback" not in ended.stderr
    print(f"a class of three in the browser: {time.perf_counter() - started:.1f} s")
