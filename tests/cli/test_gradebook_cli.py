"""`python -m cnnlab class gradebook CLASS [--out FILE.csv]` and `train --assignment CODE`, as the server's owner runs
them: the CSV printed or written whole, one row per student; a wrong class or a locked setting one line, exit 2; a
training for an assignment on its held-out copy of the data, as a student's is."""

import csv
import io

from conftest import run_cli
from test_people_cli import last_json, one_line_refusal

from cnnlab import runs
from cnnlab.classroom import accounts, classes, permissions
from cnnlab.course import assignments, handins


def a_class():
    teacher = accounts.add_teacher("Ana", "a-long-password")
    classroom = classes.create(teacher.id, "5A")
    luna = classes.join(classroom.join_code, "Luna", "127.0.0.1")[0]
    classes.join(classroom.join_code, "Rio", "127.0.0.1")
    rules = assignments.Rules("mnist", "fast", {"optimizer": {"mode": "locked", "value": "adam"}})
    made = assignments.create(permissions.Who("teacher", teacher.id, "Ana"), classroom.id, "Overfitting", rules,
                              [{"text": {"en": "Why?"}}])
    handins.hand_in(permissions.Who("student", luna.id, "Luna", classroom.id), made, [], ["Because."])
    return made


def test_the_gradebook_is_printed_or_written_with_a_row_per_student(isolated):
    made = a_class()
    printed = run_cli("class", "gradebook", "5A")
    assert printed.returncode == 0, printed.stderr
    table = list(csv.reader(io.StringIO(printed.stdout)))
    assert [row[:4] for row in table[1:]] == [["Luna", "Overfitting", made.code, "yes"],
                                              ["Rio", "Overfitting", made.code, "no"]]
    assert table[1][-1] == "8" and table[2][-1] == "0"  # the length of each one's answer
    out = isolated / "marks" / "5A.csv"
    out.parent.mkdir()  # a folder that is there: --out makes none (see below)
    written = run_cli("class", "gradebook", "5A", "--out", str(out), "--json")
    assert last_json(written) == {"class": "5A", "out": str(out), "rows": 2}
    assert written.stdout.splitlines()[0] == f"Gradebook of class “5A”: 2 rows written to {out}."
    assert out.read_text(encoding="utf-8") == printed.stdout
    assert [path.name for path in out.parent.iterdir()] == ["5A.csv"]  # written whole: no part file left
    spanish = run_cli("class", "gradebook", "5A", "--lang", "es")
    assert spanish.stdout.splitlines()[0].startswith("alumno,tarea,código,entregada")


def test_a_wrong_class_and_a_locked_setting_are_one_line_each(isolated):
    made = a_class()
    assert one_line_refusal(run_cli("class", "gradebook", "6B")) == \
        "cnnlab: There is no class called “6B” on this server."
    assert one_line_refusal(run_cli("class", "gradebook", "5A", "--out", str(isolated))).startswith(
        f"cnnlab: Cannot write the gradebook to {isolated}")
    missing = isolated / "nonexistent" / "dir" / "x.csv"
    assert one_line_refusal(run_cli("class", "gradebook", "5A", "--out", str(missing))) == \
        f"cnnlab: The folder {missing.parent} does not exist: create it first or choose another path."
    assert not (isolated / "nonexistent").exists()  # no folder made on the way
    assert one_line_refusal(run_cli("train", "--assignment", made.code, "--optimizer", "sgd", "--epochs", "1")) == \
        "cnnlab: The assignment locks the optimizer to adam: you asked for sgd."
    assert one_line_refusal(run_cli("train", "--assignment", "NOSUCHCODE")) == \
        "cnnlab: There is no assignment with the code “NOSUCHCODE” for you: check the link with your teacher."


def test_a_training_for_an_assignment_trains_on_its_held_out_copy(isolated):
    made = a_class()
    trained = run_cli("train", "--assignment", made.code, "--architecture", "fast", "--epochs", "1", "--train-size",
                      "320", "--validation-split", "0.25", "--batch-size", "32", "--json")
    assert trained.returncode == 0, trained.stderr
    run = runs.RunStore().get(last_json(trained)["run_id"])
    assert run.config.dataset == f"mnist.a{made.id}"  # never the whole test set: its private part is held back
