"""`python -m cnnlab assignment create|list CLASS`, run as the server's owner runs them: JSON with the assignment's
code and link, and bad input one line with exit code 2."""

import datetime

from conftest import run_cli
from test_people_cli import last_json, one_line_refusal

from cnnlab.classroom import accounts, classes, permissions
from cnnlab.course import assignments, experiments
from cnnlab.i18n import t


def test_an_assignment_from_report_a_and_the_classs_list(isolated):
    teacher = accounts.add_teacher("Ana", "a-long-password")
    classes.create(teacher.id, "5A")
    due = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=7)).replace(microsecond=0)
    out = run_cli("assignment", "create", "5A", "--from-report", "a", "--due", due.isoformat(), "--json")
    made = last_json(out)
    assert made["class"] == "5A" and made["title"] == t("report.A") and made["report"] == "A"
    assert len(made["code"]) == assignments.CODE_LENGTH and made["link"] == f"/?assignment={made['code']}"
    assert made["link"] in out.stdout.splitlines()[0]  # the line for the board says it too
    assert made["due"] == due.replace(tzinfo=None).isoformat() + "Z"
    assert made["questions"] == [{"report": question} for question in experiments.QUESTIONS["A"]]
    assert made["questions_shown"][0] == {"id": "which_model", "text": t("question.which_model")}
    assert made["rules"]["settings"]["optimizer"] == {"mode": "choice", "values": ["adadelta", "adam"]}
    assert made["rules"]["settings"]["batch_size"] == {"mode": "locked", "value": 128}
    kept = assignments.get(made["code"], permissions.OWNER)
    assert kept.id == made["id"] and assignments.rules_of(kept).to_dict() == made["rules"]

    assert made["private_share"] == assignments.PRIVATE_SHARE

    listed = run_cli("assignment", "list", "5A", "--json")
    assert [a["code"] for a in last_json(listed)["assignments"]] == [made["code"]]
    assert listed.stdout.splitlines()[0] == "Class “5A”: 1 assignment."
    plain = last_json(run_cli("assignment", "create", "5A", "--from-report", "B", "--no-private", "--json"))
    assert plain["private_share"] == 0.0  # no private part: the class keeps the whole dataset


def test_a_wrong_class_a_wrong_report_and_a_wrong_time_are_one_line_each(isolated):
    teacher = accounts.add_teacher("Ana", "a-long-password")
    classes.create(teacher.id, "5A")
    assert one_line_refusal(run_cli("assignment", "create", "6B", "--from-report", "A")) == \
        "cnnlab: There is no class called “6B” on this server."
    assert one_line_refusal(run_cli("assignment", "create", "5A", "--from-report", "Z")) == \
        "cnnlab: There is no course report “Z”: choose one of A, B, C, D, E."
    assert "is not a time" in one_line_refusal(run_cli("assignment", "create", "5A", "--from-report", "B",
                                                       "--due", "next tuesday"))
    assert "has passed" in one_line_refusal(run_cli("assignment", "create", "5A", "--from-report", "B",
                                                    "--due", "2001-01-01T09:00"))
    assert "--from-report A" in one_line_refusal(run_cli("assignment", "create", "5A"))
    assert one_line_refusal(run_cli("assignment", "list", "6B")) == \
        "cnnlab: There is no class called “6B” on this server."
    assert assignments.of_class(permissions.OWNER, classes.of_teacher(teacher.id)[0].id) == []


def test_rules_no_student_could_train_are_one_line_exit_2(isolated, monkeypatch, capsys):
    """The command line makes an assignment from a report; rules that could not be trained (the report's rules as
    they might one day be mistyped, put in by hand here) are refused by assignments.create in one line."""
    from cnnlab.cli import entry

    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    teacher = accounts.add_teacher("Ana", "a-long-password")
    classes.create(teacher.id, "5A")
    bad = assignments.Rules("mnist", "fast", {"optimizer": {"mode": "locked", "value": "adamx"}})
    monkeypatch.setattr(assignments, "from_report", lambda report: (bad, []))
    assert entry.main(["assignment", "create", "5A", "--from-report", "A"]) == 2
    said = capsys.readouterr()
    assert said.out == "" and said.err.splitlines() == [
        "cnnlab: No student could train with the optimizer set to adamx: Unknown optimizer 'adamx': choose one of sgd, "
        "sgd+momentum, adam, adamw, rmsprop, adagrad, adadelta, nadam."]
    assert assignments.of_class(permissions.OWNER, classes.of_teacher(teacher.id)[0].id) == []
