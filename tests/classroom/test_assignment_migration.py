"""Migrations 0002 (assignments), 0003 (hand-ins) and 0004 (the handed-in copy) on a database that already holds a
class: every row stays, the new tables and columns come, and a hand-in made before 0004 keeps what it handed in."""

import datetime

import sqlalchemy as sa
from alembic import command

from cnnlab.classroom import database

WHEN = datetime.datetime(2027, 3, 1, 9, 30)
ROWS = {
    "people": [{"id": 1, "role": "teacher", "name": "Ana", "teacher_name": "ana", "created_at": WHEN},
               {"id": 2, "role": "student", "name": "Luna", "code_digest": "d" * 64, "created_at": WHEN}],
    "classes": [{"id": 7, "name": "5A", "term": "2027", "join_code": "K7M2QX", "teacher_id": 1, "open": True,
                 "created_at": WHEN}],
    "memberships": [{"person_id": 2, "class_id": 7, "nickname": "Luna", "nickname_key": "luna", "joined_at": WHEN}],
    "requests": [{"id": 3, "person_id": 2, "class_id": 7, "run_id": "abc123", "dataset": "mnist", "settings": "{}",
                  "note": "mine", "asked_at": WHEN, "seconds": 12.5}],
}


def _at(revision, rows):
    """A database made by the migrations up to revision, holding rows."""
    with database.engine().begin() as connection:
        command.upgrade(database._alembic_config(connection), revision)
        assert database.revision(connection) == revision
        tables = sa.MetaData()
        tables.reflect(connection)
        for name, found in rows.items():
            for row in found:  # one at a time: the rows name different columns
                connection.execute(tables.tables[name].insert(), row)


def _at_0001():
    """A database made by migration 0001 only, holding ROWS."""
    _at("0001", ROWS)


def _contents(connection, name, key):
    return [dict(row._mapping) for row in connection.execute(sa.text(f"SELECT * FROM {name} ORDER BY {key}"))]


def test_upgrading_a_database_at_0001_keeps_every_row_and_adds_the_assignments(people_db):
    _at_0001()
    with database.engine().connect() as connection:
        before = {name: _contents(connection, name, next(iter(rows[0]))) for name, rows in ROWS.items()}
        assert "assignments" not in sa.inspect(connection).get_table_names()
    assert database.upgrade() == ("0001", "0005")
    with database.engine().connect() as connection:
        after = {name: _contents(connection, name, next(iter(rows[0]))) for name, rows in ROWS.items()}
        assert {"assignments", "hand_ins"} <= set(sa.inspect(connection).get_table_names())
        columns = {column["name"] for column in sa.inspect(connection).get_columns("assignments")}
    assert [row.pop("assignment_id") for row in after["requests"]] == [None]  # 0003: made for no assignment
    assert [row.pop("tags") for row in after["requests"]] == [""]  # 0005: no tags yet
    assert after == before and [row["name"] for row in after["people"]] == ["Ana", "Luna"]
    assert after["requests"][0]["seconds"] == 12.5 and after["memberships"][0]["nickname"] == "Luna"
    assert {"class_id", "code", "title", "report", "rules", "questions", "due_at", "leaderboard",
            "private_share"} <= columns


def test_a_hand_in_made_before_0004_keeps_what_it_handed_in_as_its_handed_in_copy(people_db):
    assignment = {"id": 4, "class_id": 7, "code": "OVERFIT1", "title": "Overfitting", "report": None,
                  "rules": "{}", "questions": "[]", "created_at": WHEN, "leaderboard": "nicknames",
                  "private_share": 0.3}
    hand_ins = [{"id": 1, "assignment_id": 4, "person_id": 2, "runs": '["abc123"]', "answers": '["Yes."]',
                 "saved_at": WHEN, "handed_at": WHEN, "times": 2},
                {"id": 2, "assignment_id": 4, "person_id": 1, "runs": '["draft"]', "answers": '["Maybe."]',
                 "saved_at": WHEN, "handed_at": None, "times": 0}]
    _at("0003", {**ROWS, "assignments": [assignment], "hand_ins": hand_ins})
    assert database.upgrade() == ("0003", "0005")
    with database.engine().connect() as connection:
        after = _contents(connection, "hand_ins", "id")
    assert [(row["handed_runs"], row["handed_answers"]) for row in after] == [('["abc123"]', '["Yes."]'), (None, None)]
    kept = ("id", "assignment_id", "person_id", "runs", "answers", "times")  # the drafts stay, and their stamps
    assert [{key: row[key] for key in kept} for row in after] == [{key: row[key] for key in kept} for row in hand_ins]
    assert [row["handed_at"] is None for row in after] == [False, True]
