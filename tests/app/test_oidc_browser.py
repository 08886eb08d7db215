"""A school's single sign-on in a real browser: an OpenID Connect provider run on 127.0.0.1 by the test
(oidc-provider-mock), `streamlit run app.py` with [auth] in its secrets, Chromium. The first school sign-in asks for the
class's join code once and shows a personal code; the next one, in another browser, is the same person at once; with
the provider gone, the personal code still signs in."""

import os
import re
import secrets
import threading

import pytest
from test_browser import CHROMIUM, free_port, serve
from test_signin_browser import ARGS, settled, sidebar_text

from cnnlab.classroom import accounts, classes, school, sessions, web

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]
SUBJECT = "ana.lopez@school.example"  # typed on the provider's page; its e-mail too, so its nickname is ana.lopez


@pytest.fixture
def provider():
    """oidc-provider-mock on a free port of 127.0.0.1, in a thread of the test: (its address, stop)."""
    import oidc_provider_mock
    import werkzeug.serving

    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_provider_mock.app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    stopped = []

    def stop():
        if not stopped:
            stopped.append(True)
            server.shutdown()
            server.server_close()

    yield f"http://127.0.0.1:{server.server_port}", stop
    stop()


@pytest.fixture
def school_server(isolated, provider):
    """`streamlit run app.py` on a free port, with [auth] for the provider in ~/.streamlit/secrets.toml (HOME is the
    test's own folder), as a school's teacher would configure it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    secrets_file = isolated / "home" / ".streamlit" / "secrets.toml"
    secrets_file.parent.mkdir(parents=True, exist_ok=True)
    secrets_file.write_text(f'[auth]\nredirect_uri = "{url}/oauth2callback"\n'
                            f'cookie_secret = "{secrets.token_hex(16)}"\n'
                            f'client_id = "cnnlab"\nclient_secret = "{secrets.token_hex(8)}"\n'
                            f'server_metadata_url = "{provider[0]}/.well-known/openid-configuration"\n')
    with serve(isolated, port):
        yield url


@pytest.fixture
def browser(isolated):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        launched.close()


def school_sign_in(page, url):
    """From cnnlab's sidebar to the school's page and back: the provider's form takes the subject."""
    page.goto(url)
    settled(page)
    page.get_by_role("button", name="Sign in with your school account").click()
    page.locator('input[name="sub"]').fill(SUBJECT)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{url}/**")
    settled(page)


def test_a_school_account_joins_once_then_signs_in_and_codes_work_without_the_provider(school_server, provider,
                                                                                        browser):
    teacher = accounts.add_teacher("Ms Rivera", "a-long-password")
    join_code = classes.create(teacher.id, "CNN 2027").join_code

    page = browser.new_context().new_page()
    school_sign_in(page, school_server)
    page.get_by_text("Signed in with your school account as ana.lopez").wait_for(timeout=30_000)
    page.get_by_label("Class code (on the board)").fill(join_code.lower())
    page.get_by_role("button", name="Join").click()
    page.get_by_text("This is your personal code").wait_for(timeout=30_000)
    personal = re.search(r"[a-z]+-[a-z]+-\d{4}", sidebar_text(page)).group(0)
    page.get_by_role("button", name="I wrote it down — continue").click()
    page.get_by_text("Signed in as ana.lopez, a student of CNN 2027").wait_for(timeout=30_000)
    person = school.person_for(f"{provider[0]} {SUBJECT}")
    assert person is not None and person.name == "ana.lopez"
    page.reload()
    assert "Signed in as ana.lopez" in sidebar_text(settled(page))
    sessions.end_all(person.id)  # the teacher signs Ana out everywhere: the school's own cookie does not undo it
    page.reload()
    assert "Sign in with your school account again" in sidebar_text(settled(page))
    assert "Signed in as" not in sidebar_text(page)

    other = browser.new_context().new_page()  # another computer: the school account alone, no join code
    school_sign_in(other, school_server)
    other.get_by_text("Signed in as ana.lopez, a student of CNN 2027").wait_for(timeout=30_000)
    assert "Class code" not in sidebar_text(other)
    assert school.person_for(f"{provider[0]} {SUBJECT}").id == person.id
    other.get_by_role("link", name="Sign out").click()  # cnnlab's session, then st.logout's, then the provider's
    other.get_by_role("button", name="End session").click()
    other.wait_for_url(f"{school_server}/**")
    assert "Sign in to train" in sidebar_text(settled(other))
    assert not {web.COOKIE, "_streamlit_user"} & {cookie["name"] for cookie in other.context.cookies()}

    provider[1]()  # the school's provider is gone (no internet): the personal code still signs in
    offline = browser.new_context().new_page()
    offline.goto(school_server)
    settled(offline)
    offline.get_by_role("button", name="Sign in with your school account").click()
    offline.get_by_text("cannot be reached now").wait_for(timeout=30_000)
    assert "Traceback" not in offline.content()
    offline.get_by_role("tab", name="My code").click()
    offline.get_by_label("Your personal code").fill(personal)
    offline.get_by_role("button", name="Sign in", exact=True).click()
    offline.get_by_text("Signed in as ana.lopez").wait_for(timeout=30_000)
