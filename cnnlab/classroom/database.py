"""Where the people live: SQLite in $CNNLAB_HOME (WAL mode, nothing to install), or the PostgreSQL that
CNNLAB_DATABASE_URL names (several app servers behind a load balancer share it).

The tables are made and changed by Alembic migrations (migrations/versions/), never by create_all: `python -m cnnlab
db upgrade` runs them, and so does the first use of a database that is behind (ready()). A database newer than this
cnnlab (a newer version ran on it) is refused with one sentence, before anything is read or written.
"""

import contextlib
import os
import pathlib
import threading

import filelock
import sqlalchemy as sa
from sqlalchemy import orm

from cnnlab import storage
from cnnlab.errors import DatabaseUnavailable

MIGRATIONS = pathlib.Path(__file__).resolve().parent / "migrations"
FILE_NAME = "people.sqlite"
BUSY_SECONDS = 15  # how long a SQLite writer waits for another one before giving up


def url():
    """The database's address: CNNLAB_DATABASE_URL, else the SQLite file in $CNNLAB_HOME."""
    named = os.environ.get("CNNLAB_DATABASE_URL", "").strip()
    if named:
        return named
    return f"sqlite:///{storage.home() / FILE_NAME}"


def exists(address=None):
    """False for a SQLite file not made yet (a personal lab that never had a teacher needs no database); True for
    every other address (whether it answers is another question)."""
    try:
        parsed = sa.engine.make_url(address or url())
    except sa.exc.ArgumentError:
        return True  # engine() says what is wrong with it
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return pathlib.Path(parsed.database).exists()
    return True


def shown(address):
    """The address without its password, for messages."""
    try:
        return sa.engine.make_url(address).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "?"


def _sqlite_pragmas(connection, record):
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a power cut loses at most the last commit
    cursor.close()


_engines = {}  # address -> engine: one connection pool per database and process
_ready = set()  # addresses migrated by this process
_lock_engines = threading.Lock()


def engine(address=None):
    """One engine (connection pool) per address and process."""
    address = address or url()
    with _lock_engines:
        if address not in _engines:
            _engines[address] = _made(address)
        return _engines[address]


def _made(address):
    try:
        parsed = sa.engine.make_url(address)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database:
                pathlib.Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                # its owner's only (SQLite gives its -wal and -shm files the same permissions)
                os.close(os.open(parsed.database, os.O_WRONLY | os.O_CREAT, 0o600))
            made = sa.create_engine(parsed, connect_args={"timeout": BUSY_SECONDS})
            sa.event.listen(made, "connect", _sqlite_pragmas)
            return made
        return sa.create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10,
                                connect_args={"connect_timeout": 5} if parsed.get_backend_name() == "postgresql"
                                else {})
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError):  # no such dialect, or its driver
        raise DatabaseUnavailable("database.bad_url") from None
    except OSError as error:  # the SQLite file's folder cannot be made (a file is in the way, no permission)
        raise DatabaseUnavailable("database.unreachable", url=shown(address),
                                  reason=error.strerror or type(error).__name__) from None


def _alembic_config(connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _versions():
    """Every revision this cnnlab knows, and its newest one (head)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_alembic_config(None))
    return {revision.revision for revision in scripts.walk_revisions()}, scripts.get_current_head()


def revision(connection):
    """The revision the database is at (None: no cnnlab tables yet)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _lock(connection):
    """Hold PostgreSQL's advisory lock for the migration, so two servers starting together migrate once."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(7242019)"))


def _file_lock(address):
    """For a SQLite file, a lock beside it held for the migration: two threads or processes using a new database at
    once (a page and the queue's worker, the server and the command line) migrate it once, not both."""
    made = engine(address)
    if made.dialect.name != "sqlite" or not made.url.database or made.url.database == ":memory:":
        return contextlib.nullcontext()
    return filelock.FileLock(made.url.database + ".migrating")


def upgrade(address=None):
    """Bring the database to this cnnlab's newest revision (nothing to do when it is there); returns
    (revision before, revision after). A database newer than this cnnlab raises DatabaseUnavailable."""
    from alembic import command

    known, head = _versions()
    try:
        with _file_lock(address), engine(address).begin() as connection:
            _lock(connection)
            before = revision(connection)
            if before is not None and before not in known:
                raise DatabaseUnavailable("database.newer", url=shown(address or url()), revision=before)
            if before != head:
                command.upgrade(_alembic_config(connection), "head")
            return before, revision(connection)
    except sa.exc.OperationalError as error:
        raise DatabaseUnavailable("database.unreachable", url=shown(address or url()),
                                  reason=str(error.orig).strip().splitlines()[0][:200]) from None


def ready(address=None):
    """The engine for the database, migrated to this cnnlab's revision once per process (see upgrade)."""
    address = address or url()
    if address not in _ready:
        upgrade(address)  # two threads may both migrate: the second finds nothing to do
        _ready.add(address)
    return engine(address)


@contextlib.contextmanager
def transaction(address=None):
    """A session whose changes are committed when the block ends (rolled back on an error)."""
    with orm.Session(ready(address), expire_on_commit=False) as session:
        try:
            with session.begin():
                yield session
        except sa.exc.OperationalError as error:
            raise DatabaseUnavailable("database.unreachable", url=shown(address or url()),
                                      reason=str(error.orig).strip().splitlines()[0][:200]) from None


def forget():
    """Drop every engine and what was migrated (tests that switch databases, a server told to reconnect)."""
    with _lock_engines:
        for made in _engines.values():
            made.dispose()
        _engines.clear()
        _ready.clear()
