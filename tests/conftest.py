"""Every test runs offline, with its own empty run store and empty dataset caches."""

import contextlib
import fcntl
import importlib
import os
import shutil
import subprocess
import sys
import time

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
def _alone_when_marked(request, tmp_path_factory):
    """Under pytest-xdist (two workers), a test marked `alone` runs while the other worker waits between its tests:
    the thirty-browser class measures one server under a class's load, not under another test's. Every other test
    holds a shared lock for its whole run; an `alone` one takes it exclusive. A gate taken first lets a waiting `alone`
    test in before the other worker's next test."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield
        return
    folder = tmp_path_factory.getbasetemp().parent  # this run's, shared by its workers
    alone = request.node.get_closest_marker("alone") is not None
    with open(folder / "alone.gate", "a") as gate, open(folder / "alone.lock", "a") as lock:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:
                fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            with contextlib.suppress(OSError):
                fcntl.flock(gate, fcntl.LOCK_UN)


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
    catalogue._held.clear()  # assignments' held-out copies of another test's database (whose ids this one reuses)
    datasets._public_part.cache_clear()
    # a page's training worker process ends soon after its test (each test has a fresh server-wide queue)
    monkeypatch.setattr(worker.ProcessExecutor, "IDLE_SECONDS", 3.0)
    _clear_streamlit_caches()  # a page's server-wide run store belongs to the CNNLAB_HOME of the test that made it
    yield tmp_path
    datasets._load_cached.cache_clear()
    i18n.set_language("en")
    if "cnnlab.classroom.database" in sys.modules:
        sys.modules["cnnlab.classroom.database"].forget()  # no connection outlives its test's database


@pytest.fixture(scope="session")
def _trained_homes():
    """{run id: a CNNLAB_HOME in which that run was trained}, made once per test process (each xdist worker)."""
    return {}


@pytest.fixture
def stored(isolated, tmp_path_factory, _trained_homes):
    """stored(config, requested_by=None): RunStore().get_or_train(config, requested_by=…)'s run, in this test's own
    CNNLAB_HOME. The first test that asks trains it, in a home of its own; the next ones get a copy of that home's
    files (the run, its lock, the speeds its training recorded), so that many tests that only read a stored run do
    not train the very same one again. Keyed by the run's id, which names the data as well as the settings: a test
    whose MNIST differs trains its own."""
    from cnnlab import runs
    from cnnlab.data import datasets

    def get(config, requested_by=None):
        dataset = datasets.load(config.dataset)
        key = (runs.run_id_for(config, dataset), requested_by)
        if key not in _trained_homes:
            home = tmp_path_factory.mktemp("trained")
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("CNNLAB_HOME", str(home))
                runs.RunStore().get_or_train(config, dataset=dataset, requested_by=requested_by)
            _trained_homes[key] = home
        here = runs.RunStore().root
        if any(path.is_file() for path in here.rglob("*")):
            raise RuntimeError(f"stored() copies a whole home: ask for it before {here} has files of its own")
        shutil.copytree(_trained_homes[key], here, dirs_exist_ok=True)
        run, cached = runs.RunStore().get_or_train(config, dataset=dataset, requested_by=requested_by)
        assert cached, "the copied run was not found where it was copied"
        return run

    return get


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


def settled_workers(seconds=30):
    """This process's multiprocessing children once those of earlier tests have ended: a page's training worker ends
    IDLE_SECONDS after its test (see isolated), and under two workers any test of the suite may have come just before.
    A test that checks it started no worker compares its children afterwards with these."""
    import multiprocessing

    deadline = time.monotonic() + seconds
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    return set(multiprocessing.active_children())


def run_cli(*args, env=None, timeout=300):
    """Run `python -m cnnlab ARGS` in a subprocess with the test's environment."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    full_env["LANG"] = "C.UTF-8"  # English output unless a test asks for another language
    full_env.update(env or {})
    full_env["PYTHONPATH"] = ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "cnnlab", *args], capture_output=True, text=True,
                          env=full_env, cwd=ROOT, timeout=timeout)
