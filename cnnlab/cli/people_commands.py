"""`python -m cnnlab teacher|class|db`: the people of a class server, made where only the server's owner types.

A teacher account is made here and nowhere else (no web page makes one), so no student can claim it first. The
password is read from the terminal without echo, or from standard input with --password-stdin (for scripts).
"""

import getpass
import pathlib
import sys

from cnnlab import storage
from cnnlab.classroom import accounts, classes, database, permissions
from cnnlab.cli.output import emit
from cnnlab.errors import ConfigError, SignInRefused
from cnnlab.i18n import t

MAX_PASSWORD = 1024


def _password(args):
    """The new password: one line of standard input (--password-stdin), else typed twice at the terminal."""
    if args.password_stdin:
        return sys.stdin.readline(MAX_PASSWORD + 2).rstrip("\r\n")
    first = getpass.getpass(t("cli.password_prompt"))
    if getpass.getpass(t("cli.password_again")) != first:
        raise SignInRefused("cli.password_mismatch")
    return first


def cmd_teacher(args):
    if args.action == "add":
        person = accounts.add_teacher(args.name, _password(args))
        return emit(args, [t("cli.teacher_added", name=person.name)], {"teacher": person.name, "id": person.id})
    accounts.set_password(args.name, _password(args))
    return emit(args, [t("cli.teacher_password", name=accounts.name_of(args.name))],
                {"teacher": accounts.name_of(args.name)})


def _teacher_id(name):
    """The class's teacher: the one named, or the only teacher of the server."""
    with database.transaction() as session:
        if name:
            return accounts.teacher_named(session, name).id
        found = accounts.teachers(session)
    if len(found) != 1:
        raise SignInRefused("cli.which_teacher" if found else "cli.no_teacher_yet")
    return found[0].id


def cmd_class(args):
    if args.action == "create":
        made = classes.create(_teacher_id(args.teacher), args.name, args.term)
        return emit(args, [t("cli.class_created", name=made.name, code=made.join_code)],
                    {"class": made.name, "term": made.term, "join_code": made.join_code, "id": made.id})
    with database.transaction() as session:
        found = classes.named(session, args.name)
    if args.action == "gradebook":
        return _gradebook(args, found)
    if not args.add:
        rows = classes.roster(found.id)
        lines = [t("cli.roster_count", name=found.name, code=found.join_code, count=len(rows))]
        lines += [t("cli.roster_row", nickname=nickname) for _, nickname, _ in rows]
        return emit(args, lines, {"class": found.name, "join_code": found.join_code,
                                  "students": [nickname for _, nickname, _ in rows]})
    added = classes.add_students(found.id, classes.parse_roster(_roster_bytes(args.add)))
    lines = [t("cli.roster_added", count=len(added), name=found.name)]
    lines += [t("cli.roster_code", nickname=f"{nickname:<24}", code=code) for nickname, code in added]
    return emit(args, lines, {"class": found.name,
                              "students": [{"nickname": nickname, "code": code} for nickname, code in added]})


def _gradebook(args, found):
    """The class's gradebook (every assignment, newest first, each with every student): printed, or written to
    --out atomically, into a folder that is there already."""
    from cnnlab import runs  # loaded only here: the other commands of the class start at once
    from cnnlab.course import gradebook

    out = pathlib.Path(args.out) if args.out else None
    if out is not None and not out.parent.is_dir():  # as an export's (course.exports.destination): not made here
        raise ConfigError("error.export.no_folder", folder=str(out.parent))
    text = gradebook.csv_text(permissions.OWNER, found.id, runs.RunStore())
    count = max(0, len(text.splitlines()) - 1)
    if out is None:
        print(text, end="")
        return 0
    try:
        storage.write_text(out, text)
    except OSError as error:
        raise ConfigError("gradebook.unwritable", path=args.out, reason=error.strerror or str(error)) from None
    return emit(args, [t("gradebook.written", name=found.name, count=count, path=args.out)],
                {"class": found.name, "out": str(args.out), "rows": count})


def _roster_bytes(path):
    """The roster file's bytes, read no further than the limit (a huge file is refused, not read whole)."""
    if path == "-":
        data = sys.stdin.buffer.read(classes.MAX_ROSTER_BYTES + 1)
    else:
        try:
            with open(pathlib.Path(path), "rb") as f:
                data = f.read(classes.MAX_ROSTER_BYTES + 1)
        except OSError as error:
            raise SignInRefused("cli.roster_unreadable", path=path, reason=error.strerror or str(error)) from None
    return data


def cmd_db(args):
    before, after = database.upgrade()
    address = database.shown(database.url())
    key = "database.current" if before == after else "database.upgraded"
    return emit(args, [t(key, url=address, before=before or t("database.none"), after=after)],
                {"url": address, "before": before, "after": after})
