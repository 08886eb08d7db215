"""Signing in, in a real browser: join a class with its code, stay signed in across reloads and a reopened browser,
be someone else in another browser, sign out; a tampered cookie signs nobody in (Debian's Chromium, Playwright)."""

import re

import pytest
from test_browser import READY, browser_page, server  # noqa: F401 (fixtures: Chromium, `streamlit run app.py`)

from cnnlab.classroom import accounts, classes, sessions, web

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture
def a_class():
    """A class server with one teacher and one class: its join code."""
    teacher = accounts.add_teacher("Ms Rivera", "a-long-password")
    return classes.create(teacher.id, "CNN 2027", "spring").join_code


def settled(page):
    """The page drawn, and drawn again if its first run asked for a second."""
    page.wait_for_selector(READY, timeout=60_000)
    page.wait_for_timeout(500)
    page.wait_for_selector(READY, timeout=60_000)
    return page


def sidebar_text(page):
    return page.locator('[data-testid="stSidebar"]').inner_text()


def join(page, url, code, nickname):
    """Join the class from the home page's sidebar: the personal code shown, then signed in. Returns the code."""
    page.goto(url)
    settled(page)
    page.get_by_role("tab", name="Join a class").click()
    page.get_by_label("Class code (on the board)").fill(code.lower())  # typed as a student would
    page.get_by_label("Your nickname").fill(nickname)
    page.get_by_role("button", name="Join").click()
    page.get_by_text("This is your personal code").wait_for(timeout=30_000)
    personal = re.search(r"[a-z]+-[a-z]+-\d{4}", sidebar_text(page)).group(0)
    page.get_by_role("button", name="I wrote it down — continue").click()
    page.get_by_text(f"Signed in as {nickname}").wait_for(timeout=30_000)
    return personal


def test_a_student_joins_stays_signed_in_and_another_browser_is_someone_else(server, a_class, browser_page):
    page = browser_page
    personal = join(page, server, a_class, "kiwi")
    context = page.context
    cookie = next(c for c in context.cookies() if c["name"] == web.COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert web.COOKIE not in page.evaluate("document.cookie")  # no script on the page can read it
    assert "ticket" not in page.url and cookie["value"] not in page.url  # nothing in the address to copy

    page.reload()
    settled(page)
    assert "Signed in as kiwi, a student of CNN 2027" in sidebar_text(page)
    page.goto(f"{server}/Train")
    settled(page)
    assert "Signed in as kiwi" in sidebar_text(page) and "Only students and teachers" not in page.content()

    browser = context.browser
    reopened = browser.new_context(storage_state=context.storage_state())  # the browser closed and opened again
    again = reopened.new_page()
    again.goto(server)
    assert "Signed in as kiwi" in sidebar_text(settled(again))

    stranger = browser.new_context().new_page()  # another device: a guest until they sign in
    stranger.goto(f"{server}/Train?lang=en")
    settled(stranger)
    assert "Sign in to train" in sidebar_text(stranger)
    assert "Only students and teachers who have signed in may train" in stranger.content()
    stranger.get_by_role("tab", name="My code").click()
    stranger.get_by_label("Your personal code").fill(personal.upper().replace("-", " "))
    stranger.get_by_role("button", name="Sign in").click()
    stranger.get_by_text("Signed in as kiwi").wait_for(timeout=30_000)  # the same student on a second device
    assert stranger.url.endswith("/Train?lang=en")  # back where they signed in

    page.get_by_role("link", name="Sign out").click()
    settled(page)
    assert "Sign in to train" in sidebar_text(page)
    assert not [c for c in context.cookies() if c["name"] == web.COOKIE]
    again.reload()  # the reopened browser held the same session: it ended with the sign-out
    assert "Sign in to train" in sidebar_text(settled(again))
    assert "Signed in as kiwi" in sidebar_text(settled(stranger.reload() and stranger))  # its own session goes on


def test_a_tampered_cookie_and_a_spent_ticket_sign_nobody_in(server, a_class, browser_page):
    page = browser_page
    join(page, server, a_class, "luz")
    context = page.context
    cookie = next(c for c in context.cookies() if c["name"] == web.COOKIE)
    forged = cookie["value"][:-1] + ("A" if cookie["value"][-1] != "A" else "B")
    context.add_cookies([dict(cookie, value=forged)])
    page.reload()
    settled(page)
    assert "not valid here" in sidebar_text(page) and "Sign in to train" in sidebar_text(page)

    person = classes.join(a_class, "nube", "127.0.0.1")[0]
    ticket = sessions.open_ticket(person.id)
    page.goto(f"{server}{web.SESSION_PATH}?ticket={ticket}&next=/Train")
    assert "Signed in as nube" in sidebar_text(settled(page))
    other = context.browser.new_context().new_page()  # the same address, copied from the history: spent
    other.goto(f"{server}{web.SESSION_PATH}?ticket={ticket}&next=https://evil.example/")
    settled(other)
    assert other.url.startswith(server) and "already used or is too old" in sidebar_text(other)
    assert "Sign in to train" in sidebar_text(other)


def test_a_ticket_sent_from_another_site_signs_nobody_in(server, a_class):
    import urllib.error
    import urllib.request

    class Kept(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None  # the answer itself, not where it sends

    person = classes.join(a_class, "sol", "127.0.0.1")[0]
    opener = urllib.request.build_opener(Kept)
    answers = {}
    asked = {"cross-site": {"Sec-Fetch-Site": "cross-site"}, "same-origin": {"Sec-Fetch-Site": "same-origin"},
             "no word at all": {}, "a referrer-less page elsewhere": {"Referer": ""},
             "another site's page over http": {"Referer": "http://evil.example/page"},
             "behind a proxy": {"Referer": "https://lab.school.example/Train", "Host": "127.0.0.1:1",
                                "X-Forwarded-Host": "lab.school.example"}}
    for site, headers in asked.items():
        ticket = sessions.open_ticket(person.id)
        request = urllib.request.Request(f"{server}{web.SESSION_PATH}?ticket={ticket}&next=/Train",
                                         headers={key: value for key, value in headers.items() if value})
        try:
            opener.open(request)
        except urllib.error.HTTPError as answer:  # the 303 itself
            answers[site] = (answer.headers.get("Location"), answer.headers.get("Set-Cookie") or "")
    for site in ("cross-site", "no word at all", "a referrer-less page elsewhere", "another site's page over http"):
        assert answers[site] == ("/Train?signin=elsewhere", ""), site
    for site in ("same-origin", "behind a proxy"):
        location, cookie = answers[site]
        assert location == "/Train" and cookie.startswith(f"{web.COOKIE}=") and "HttpOnly" in cookie, site


def test_another_sites_link_signs_nobody_out(server, a_class):
    import urllib.error
    import urllib.request

    class Kept(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    person = classes.join(a_class, "luz", "127.0.0.1")[0]
    opener = urllib.request.build_opener(Kept)
    cookies = {}
    host = server.split("//", 1)[1]
    asked = {"cross-site": {"Sec-Fetch-Site": "cross-site"}, "same-site": {"Sec-Fetch-Site": "same-site"},
             "old Safari, another site": {"Referer": "https://evil.example/page"},  # no Sec-Fetch-Site at all
             "old Safari, here": {"Referer": f"{server}/Train"}, "same-origin": {"Sec-Fetch-Site": "same-origin"}}
    for site, headers in asked.items():
        token = sessions.open_session(person.id)
        request = urllib.request.Request(f"{server}{web.SIGNOUT_PATH}?next=/Train",
                                         headers={**headers, "Cookie": f"{web.COOKIE}={token}"})
        try:
            opener.open(request)
        except urllib.error.HTTPError as answer:
            cookies[site] = answer.headers.get("Set-Cookie") or ""
        cookies[site] = (cookies.get(site, ""), sessions.who(token)[1])
    for site in ("cross-site", "same-site", "old Safari, another site"):
        assert cookies[site] == ("", None), site  # still signed in
    for site in ("same-origin", "old Safari, here"):
        removed, reason = cookies[site]
        assert removed.startswith(f"{web.COOKIE}=") and reason == "ended" and host in server, site


def test_the_server_refuses_to_start_on_a_database_newer_than_itself(isolated):
    import os
    import subprocess
    import sys

    import sqlalchemy as sa
    from conftest import ROOT

    from cnnlab.classroom import database

    accounts.add_teacher("Ms Rivera", "a-long-password")
    with database.engine().begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    env = dict(os.environ, XDG_CONFIG_HOME=str(isolated / "xdg"), PYTHONPATH=ROOT)
    ended = subprocess.run([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", "0"], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=120)
    lines = [line for line in ended.stderr.splitlines() if line.startswith("cnnlab:")]
    assert ended.returncode == 2 and len(lines) == 1 and "newer cnnlab" in lines[0], ended.stderr[-2000:]
    assert "Traceback" not in ended.stderr
