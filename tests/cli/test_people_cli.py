"""`python -m cnnlab teacher|class|db`, run as the server's owner runs them: answers on stdout, bad input one line."""

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT, run_cli

from cnnlab import i18n
from cnnlab.classroom import accounts, classes, database, sessions
from cnnlab.i18n import t

PASSWORD = "a-long-password"
JOIN_CODE = re.compile(r"[A-Z2-9]{6}")
PERSONAL_CODE = re.compile(r"[a-z]+-[a-z]+-[0-9]{4}")


def run_with_input(text, *args, env=None):
    """run_cli, with text on the command's standard input (--password-stdin, --add -)."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    full_env["LANG"] = "C.UTF-8"
    full_env.update(env or {})
    full_env["PYTHONPATH"] = ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "cnnlab", *args], input=text, capture_output=True, text=True,
                          env=full_env, cwd=ROOT, timeout=300)


def last_json(out):
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def one_line_refusal(out):
    """The single `cnnlab: …` line of a refused command (exit code 2, no traceback, nothing on stdout)."""
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnnlab: "), out.stderr
    return lines[0]


def test_a_teacher_a_class_and_its_roster_from_the_command_line(isolated):
    added = last_json(run_with_input(PASSWORD + "\n", "teacher", "add", "Ana", "--password-stdin", "--json"))
    assert added["teacher"] == "Ana"
    assert accounts.sign_in_teacher("ana", PASSWORD, "127.0.0.1").id == added["id"]

    created = run_cli("class", "create", "5A", "--term", "2025 autumn", "--json")
    made = last_json(created)
    assert JOIN_CODE.fullmatch(made["join_code"]) and made["term"] == "2025 autumn"
    assert made["join_code"] in created.stdout.splitlines()[0]  # the line for the board says it too
    assert [c.join_code for c in classes.of_teacher(added["id"])] == [made["join_code"]]

    roster = isolated / "5A.csv"
    roster.write_bytes("\ufeffname,nickname,email\nAna Pérez,Luna,a@example.org\nBea Ruiz,Sol,b@example.org\n"
                       .encode())
    out = run_cli("class", "roster", "5A", "--add", str(roster), "--json")
    students = last_json(out)["students"]
    from_stdin = last_json(run_with_input("Río\nMar\n", "class", "roster", "5A", "--add", "-", "--json"))["students"]
    assert [s["nickname"] for s in students] == ["Luna", "Sol"]  # the nickname column, not the name
    assert [s["nickname"] for s in from_stdin] == ["Río", "Mar"]
    printed = out.stdout.splitlines()[:-1]
    for student in students:  # each code on the nickname's line, for the teacher to hand out
        assert PERSONAL_CODE.fullmatch(student["code"])
        assert any(student["nickname"] in line and student["code"] in line for line in printed)
    for student in students + from_stdin:
        assert classes.sign_in(student["code"], "127.0.0.1").name == student["nickname"]

    listed = run_cli("class", "roster", "5A", "--json")
    assert last_json(listed) == {"class": "5A", "join_code": made["join_code"],
                                 "students": ["Luna", "Mar", "Río", "Sol"]}
    assert not any(student["code"] in listed.stdout for student in students)  # codes are shown once only


def test_teacher_password_from_stdin_signs_their_browsers_out(isolated):
    teacher = accounts.add_teacher("Ana", PASSWORD)
    token = sessions.open_session(teacher.id)
    out = run_with_input("a-new-password\n", "teacher", "password", "ANA", "--password-stdin")
    assert out.returncode == 0, out.stderr
    assert sessions.who(token) == (sessions.GUEST, "ended")
    assert accounts.sign_in_teacher("Ana", "a-new-password", "127.0.0.1").id == teacher.id


def test_a_class_is_the_only_teachers_or_the_one_named(isolated):
    assert "teacher add" in one_line_refusal(run_cli("class", "create", "5A"))
    accounts.add_teacher("Ana", PASSWORD)
    bea = accounts.add_teacher("Bea", PASSWORD)
    assert "--teacher" in one_line_refusal(run_cli("class", "create", "5A"))
    made = last_json(run_cli("class", "create", "5A", "--teacher", "bea", "--json"))
    assert [c.id for c in classes.of_teacher(bea.id)] == [made["id"]]


def roster_file(folder, name, data):
    path = folder / name
    path.write_bytes(data)
    return str(path)


BAD_INPUT = {  # name: (arguments, standard input, what the one line says)
    "unknown class": (["class", "roster", "9Z"], None, "no class called “9Z”"),
    "unknown class to add to": (["class", "roster", "9Z", "--add", "{ok}"], None, "no class called"),
    "nickname taken in the class": (["class", "roster", "5A", "--add", "{taken}"], None, "already called “LUNA”"),
    "nickname twice in the roster": (["class", "roster", "5A", "--add", "{twice}"], None, "already called “sol”"),
    "missing roster": (["class", "roster", "5A", "--add", "{missing}"], None, "Cannot read the roster"),
    "roster over the limit": (["class", "roster", "5A", "--add", "{big}"], None,
                              f"at most {classes.MAX_ROSTER_BYTES // 1024} KB"),
    "class name taken": (["class", "create", "5A"], None, "already a class called “5A”"),
    "unknown teacher": (["class", "create", "6B", "--teacher", "Zoe"], None, "no teacher called “Zoe”"),
    "teacher name taken": (["teacher", "add", "ANA", "--password-stdin"], PASSWORD + "\n", "already a teacher"),
    "short password": (["teacher", "add", "Bea", "--password-stdin"], "short\n",
                       f"at least {accounts.MIN_PASSWORD} characters"),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_one_line_on_stderr_exit_code_2_and_changes_nothing(isolated, case):
    teacher = accounts.add_teacher("Ana", PASSWORD)
    made = classes.create(teacher.id, "5A")
    classes.join(made.join_code, "Luna", "127.0.0.1")
    files = {"ok": roster_file(isolated, "ok.csv", b"Mar\n"), "taken": roster_file(isolated, "t.csv", b"Mar\nLUNA\n"),
             "twice": roster_file(isolated, "d.csv", b"Sol\nMar\nsol\n"), "missing": str(isolated / "nowhere.csv"),
             "big": roster_file(isolated, "big.csv", b"Mar\n" * (classes.MAX_ROSTER_BYTES // 4 + 1))}
    args, stdin, expected = BAD_INPUT[case]
    out = run_with_input(stdin or "", *[arg.format(**files) for arg in args])
    line = one_line_refusal(out)
    assert expected in line, line
    assert [nickname for _, nickname, _ in classes.roster(made.id)] == ["Luna"]
    with database.transaction() as session:
        assert [p.name for p in accounts.teachers(session)] == ["Ana"]
    assert accounts.sign_in_teacher("Ana", PASSWORD, "127.0.0.1").id == teacher.id


def test_db_upgrade_twice_does_it_once(isolated):
    head = database._versions()[1]
    first = run_cli("db", "upgrade", "--json")
    assert last_json(first)["before"] is None and last_json(first)["after"] == head
    second = run_cli("db", "upgrade", "--json")
    assert last_json(second)["before"] == last_json(second)["after"] == head
    assert second.stdout.splitlines()[0] == t("database.current", url=database.shown(database.url()), after=head,
                                              before=head)
    assert first.stdout.splitlines()[0] != second.stdout.splitlines()[0]


def test_the_commands_speak_spanish_with_lang_es(isolated):
    head = database._versions()[1]
    upgraded = run_cli("db", "upgrade", "--lang", "es")
    refused = run_cli("class", "roster", "9Z", "--lang", "es")
    with i18n.speaking("es"):
        assert upgraded.stdout.strip() == t("database.upgraded", url=database.shown(database.url()), after=head,
                                            before=t("database.none"))
        assert one_line_refusal(refused) == "cnnlab: " + t("signin.no_class", name="9Z")
    assert one_line_refusal(refused) != "cnnlab: " + t("signin.no_class", name="9Z")  # not the English sentence


def _unreachable_postgres():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"postgresql+psycopg://cnnlab:hunter22@127.0.0.1:{s.getsockname()[1]}/x"  # nothing listens there



@pytest.mark.parametrize("address", [
    "not a url at all",
    "sqlite:////proc/cnnlab-people.sqlite",  # a folder nobody may write in
    "sqlite:///{file}/people.sqlite",  # its folder is a file
    "nosuchdb://somewhere/x",
    "{postgres}",
], ids=["no address", "folder not writable", "folder is a file", "unknown database", "postgres unreachable"])
def test_a_database_that_cannot_be_used_is_one_line_and_exit_2(isolated, address):
    afile = isolated / "a_file"
    afile.write_text("not a folder")
    address = address.format(file=afile, postgres=_unreachable_postgres())
    line = one_line_refusal(run_cli("db", "upgrade", env={"CNNLAB_DATABASE_URL": address}))
    assert "CNNLAB_DATABASE_URL" in line and "hunter22" not in line


def test_the_commands_work_on_postgresql(isolated, postgres, monkeypatch):
    postgres.empty()
    monkeypatch.setenv("CNNLAB_DATABASE_URL", postgres.url)
    env = {"CNNLAB_DATABASE_URL": postgres.url}
    assert run_with_input(PASSWORD + "\n", "teacher", "add", "Ana", "--password-stdin", env=env).returncode == 0
    made = last_json(run_cli("class", "create", "5A", "--json", env=env))
    with database.transaction() as session:
        assert classes.named(session, "5A").join_code == made["join_code"]
    assert not (isolated / "cnnlab_home" / database.FILE_NAME).exists()  # nothing went to SQLite
