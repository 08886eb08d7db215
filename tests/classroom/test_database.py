"""The people's database: made by its migrations, on SQLite and on a real PostgreSQL, never newer than cnnlab."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import pytest

from cnnlab.classroom import accounts, database, schema
from cnnlab.errors import DatabaseUnavailable


def test_the_migrations_make_exactly_the_tables_of_the_schema(people_db):
    before, after = database.upgrade()
    assert before is None and after == database._versions()[1]
    with database.engine().connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), schema.Base.metadata) == []
        names = set(sa.inspect(connection).get_table_names())
    assert {"people", "classes", "memberships", "sessions", "requests", "sign_in_attempts"} <= names


def test_upgrade_twice_does_nothing_the_second_time_and_keeps_every_row(people_db):
    database.upgrade()
    person = accounts.add_teacher("Ana", "a-long-password")
    assert database.upgrade() == (database._versions()[1],) * 2
    with database.transaction() as session:
        assert session.get(schema.Person, person.id).name == "Ana"


def test_sqlite_runs_in_wal_mode_in_cnnlab_home(isolated):
    with database.ready().connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert (isolated / "cnnlab_home" / database.FILE_NAME).is_file()


def test_a_database_newer_than_this_cnnlab_is_refused_before_anything_changes(people_db):
    database.upgrade()
    accounts.add_teacher("Ana", "a-long-password")
    with database.engine().begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    database.forget()
    with pytest.raises(DatabaseUnavailable) as refused:
        database.ready()
    assert "newer cnnlab" in str(refused.value) and "9999" in str(refused.value)
    with database.engine().connect() as connection:  # still there, untouched
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "9999"
        assert connection.execute(sa.text("SELECT count(*) FROM people")).scalar() == 1


def test_an_unreachable_database_is_one_sentence_without_its_password(monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    monkeypatch.setenv("CNNLAB_DATABASE_URL", f"postgresql+psycopg://cnnlab:hunter22@127.0.0.1:{port}/x")
    with pytest.raises(DatabaseUnavailable) as refused:
        accounts.is_class_server()
    message = str(refused.value)
    assert "cannot be reached" in message and "hunter22" not in message and "***" in message
    assert "\n" not in message


def test_a_url_that_is_no_address_is_refused_in_a_sentence(monkeypatch):
    monkeypatch.setenv("CNNLAB_DATABASE_URL", "not a url at all")
    with pytest.raises(DatabaseUnavailable, match="not a database address"):
        database.ready()


def test_threads_that_use_a_new_sqlite_database_at_once_migrate_it_once(isolated):
    """A page and the queue's worker thread asking at once (one run of the live-class tests once said "table people
    already exists"): the lock beside the file lets one of them migrate, and the others find it done."""
    import threading

    database.forget()
    start, failures = threading.Barrier(6), []

    def first_use():
        start.wait()
        try:
            database.ready()
        except Exception as error:  # noqa: BLE001 - any failure is the finding
            failures.append(error)

    threads = [threading.Thread(target=first_use) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    with database.engine().connect() as connection:
        assert database.revision(connection) == database._versions()[1]
