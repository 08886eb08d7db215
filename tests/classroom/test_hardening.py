"""What a hostile classroom tries: two joins at once under one nickname, reading the codes from a copy of the database,
a redirect after sign-in to another site, Markdown in a nickname."""

import os
import stat
import threading

import pytest
import sqlalchemy as sa

from cnnlab.classroom import accounts, classes, codes, database, schema, web
from cnnlab.errors import SignInRefused


@pytest.fixture
def join_code(people_db):
    teacher = accounts.add_teacher("Ms Rivera", "a-long-password")
    return classes.create(teacher.id, "5A").join_code


def test_the_same_nickname_joined_at_once_makes_one_student_and_sentences(join_code):
    start, outcomes = threading.Barrier(8), []

    def join(nickname, i):
        start.wait()
        try:
            classes.join(join_code, nickname, f"10.0.0.{i}")
            outcomes.append("joined")
        except SignInRefused as refused:
            outcomes.append(refused.message.key)
        except Exception as error:  # noqa: BLE001 - anything else is the bug
            outcomes.append(repr(error))

    threads = [threading.Thread(target=join, args=("Ana" if i % 2 else "ana", i)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["joined"] + ["signin.nickname_taken"] * 7, outcomes
    with database.transaction() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(schema.Membership)) == 1


def test_the_key_of_the_codes_is_not_in_the_database_and_only_its_owner_reads_either(isolated):
    teacher = accounts.add_teacher("Ms Rivera", "a-long-password")
    _, code = classes.join(classes.create(teacher.id, "5A").join_code, "Ana", "10.0.0.1")
    home = isolated / "cnnlab_home"
    for name in (accounts.KEY_FILE, database.FILE_NAME):
        assert stat.S_IMODE(os.stat(home / name).st_mode) == 0o600, name
    key = (home / accounts.KEY_FILE).read_text().strip()
    everything = b"".join(path.read_bytes() for path in home.glob(f"{database.FILE_NAME}*"))
    assert key.encode() not in everything and code.encode() not in everything
    assert codes.digest(key, code).encode() in everything  # what is there: the keyed hash


@pytest.mark.parametrize("wanted, back", [
    ("/Train?lang=es", "/Train?lang=es"), ("/", "/"), (None, "/"), ("", "/"),
    ("https://evil.example/", "/"), ("//evil.example/x", "/"), ("/\\evil.example", "/"), ("javascript:alert(1)", "/"),
    ("Train", "/"), ("http:/evil.example", "/"),
])
def test_signing_in_never_sends_the_browser_to_another_site(wanted, back):
    assert web.back_to(wanted) == back


def test_a_nickname_is_shown_as_its_letters_never_as_markdown():
    import ui

    shown = ui.plain("![](/api/signout) **Ana** <b>")
    assert "![" not in shown and "**" not in shown and "<b>" not in shown
    assert shown.replace("\\", "") == "![](/api/signout) **Ana** <b>"
