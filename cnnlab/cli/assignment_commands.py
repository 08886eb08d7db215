"""`python -m cnnlab assignment create|list CLASS`: assignments for a class, made where the server's owner types.

The command line is the server's owner (cnnlab.classroom.permissions.OWNER), who may make an assignment for any class.
"""

import datetime

from cnnlab.classroom import classes, database, permissions
from cnnlab.cli.output import emit
from cnnlab.course import assignments, experiments
from cnnlab.errors import ConfigError
from cnnlab.i18n import t


def _due(typed):
    """--due as an aware time (ISO 8601; a time without a zone is this machine's local time), or None."""
    if typed is None:
        return None
    try:
        return datetime.datetime.fromisoformat(typed.strip()).astimezone()
    except ValueError:
        raise ConfigError("cli.bad_due", due=typed[:60]) from None


def _line(assignment):
    due = assignment.due_at.isoformat(" ", "minutes") + " UTC" if assignment.due_at else t("cli.assignment_no_due")
    return t("cli.assignment_row", code=assignment.code, title=assignment.title, due=due)


def cmd_assignment(args):
    with database.transaction() as session:
        found = classes.named(session, args.name)
    if args.action == "list":
        made = assignments.of_class(permissions.OWNER, found.id)
        lines = [t("cli.assignment_count", name=found.name, count=len(made))] + [_line(a) for a in made]
        return emit(args, lines, {"class": found.name,
                                  "assignments": [assignments.as_dict(a, found.name) for a in made]})
    if not args.from_report:
        raise ConfigError("cli.assignment_needs_report")
    report = assignments.report_key(args.from_report)
    rules, questions = assignments.from_report(report)
    title = args.title if args.title is not None else t(experiments.REPORTS[report])
    made = assignments.create(permissions.OWNER, found.id, title, rules, questions, _due(args.due), report=report,
                              private=not args.no_private)
    return emit(args, [t("cli.assignment_created", title=made.title, name=found.name, link=assignments.link(made.code),
                         code=made.code)], assignments.as_dict(made, found.name))
