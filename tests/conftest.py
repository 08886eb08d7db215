"""Every test runs offline, with its own empty run store and empty dataset caches."""

import importlib
import os
import subprocess
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # pages import ui.py from the app's folder, as `streamlit run` allows
# tests/ mirrors the package (tests/data/, tests/compute/, …); a test uses another's helpers by module name, wherever
# that module lives (from test_archives import write_archive), so every folder of tests/ is on the path
for _folder in sorted(os.scandir(TESTS), key=lambda entry: entry.name):
    if _folder.is_dir() and not _folder.name.startswith((".", "_")) and _folder.path not in sys.path:
        sys.path.append(_folder.path)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Offline; CNNLAB_HOME, KERAS_HOME and HOME in tmp_path; no data dir; caches cleared."""
    from cnnlab import i18n
    from cnnlab.compute import worker
    from cnnlab.data import catalogue, datasets, sources

    i18n.set_language("en")  # a test that switches language does not leak it into the next one
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "cnnlab_home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CNNLAB_DATA_DIR", raising=False)
    monkeypatch.delenv("CNNLAB_DATABASE_URL", raising=False)  # the people's database: SQLite in CNNLAB_HOME
    monkeypatch.delenv("CNNLAB_SECRET_KEY", raising=False)
    monkeypatch.setattr(sources, "DEBIAN_FASHION_DIR", tmp_path / "no_debian")
    datasets._load_cached.cache_clear()
    datasets._probe.cache_clear()
    catalogue._shipped.clear()  # imported datasets another test's runs or workers made known
    # a page's training worker process ends soon after its test (each test has a fresh server-wide queue)
    monkeypatch.setattr(worker.ProcessExecutor, "IDLE_SECONDS", 3.0)
    _clear_streamlit_caches()  # a page's server-wide run store belongs to the CNNLAB_HOME of the test that made it
    yield tmp_path
    datasets._load_cached.cache_clear()
    i18n.set_language("en")
    if "cnnlab.classroom.database" in sys.modules:
        sys.modules["cnnlab.classroom.database"].forget()  # no connection outlives its test's database


@pytest.fixture
def sign_in(monkeypatch):
    """Make this server a class server (a teacher account exists) and sign the pages' browser in as someone:
    sign_in("teacher" | "student" | "guest") returns their Who. The session, its token and the database are real;
    only the browser is left out: AppTest cannot send cookies, so ui reads this token as the one it sent."""
    import ui
    from cnnlab.classroom import accounts, classes, sessions

    made = {}

    def as_(role):
        if "teacher" not in made:  # the first call makes the class server: before it, a personal lab
            made["teacher"] = accounts.add_teacher("Teacher", "a-long-password").id
        if role == "student" and "student" not in made:
            classroom = classes.create(made["teacher"], "Class of the test")
            made["student"] = classes.join(classroom.join_code, "kiwi", "127.0.0.1")[0].id
        person_id = made.get(role) if role != "guest" else None
        token = sessions.open_session(person_id) if person_id is not None else None
        monkeypatch.setattr(ui, "_cookie", lambda name: token)
        return sessions.who(token)[0]

    return as_


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL on 127.0.0.1 for the whole run (tests/classroom/postgres_server.py)."""
    import postgres_server

    server = postgres_server.Server()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def people_db(request, monkeypatch, isolated):
    """The people's database, empty: the SQLite file in the test's CNNLAB_HOME, then a real PostgreSQL."""
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres")
        server.empty()
        monkeypatch.setenv("CNNLAB_DATABASE_URL", server.url)
    return request.param


# A test that starts one of these (a Streamlit server, Chromium, a Ray instance or cluster) takes seconds to tens of
# seconds before it asserts anything: it is marked slow, so `python -m pytest -m "not slow"` is the quick run.
SLOW_FIXTURES = {"server", "browser", "browser_page", "local_ray", "cluster"}


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def _clear_streamlit_caches():
    """Empty the pages' server-wide caches, where a test has loaded Streamlit (a test that has not needs none)."""
    if "streamlit" in sys.modules:
        import streamlit as st

        st.cache_data.clear()
        st.cache_resource.clear()


@pytest.fixture
def fresh_streamlit_caches():
    """The pages' server-wide caches (the run store, models, predictions) belong to one test's CNNLAB_HOME."""
    importlib.import_module("streamlit")  # loaded, so that the clearing below has caches to clear

    _clear_streamlit_caches()
    yield
    _clear_streamlit_caches()


def run_cli(*args, env=None, timeout=300):
    """Run `python -m cnnlab ARGS` in a subprocess with the test's environment."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    full_env["LANG"] = "C.UTF-8"  # English output unless a test asks for another language
    full_env.update(env or {})
    full_env["PYTHONPATH"] = ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "cnnlab", *args], capture_output=True, text=True,
                          env=full_env, cwd=ROOT, timeout=timeout)
