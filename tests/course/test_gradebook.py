"""The gradebook (SQLite and PostgreSQL): one row per student of the class and assignment, handed in or not, with
their public score from the run the leaderboard ranks (their handed-in runs, else their trainings for the assignment,
on its data), the settings of that run and the length of each answer handed in; for the class's teacher and the owner
only; a cell a spreadsheet would run stays text."""

import csv
import io
import json

import pytest
import sqlalchemy as sa

from cnnlab import runs
from cnnlab.classroom import accounts, classes, database, permissions, requests, schema
from cnnlab.course import assignments, gradebook, handins, leaderboard
from cnnlab.errors import NotAllowed
from cnnlab.training import TrainConfig

GONE = "no score: none of the runs handed in is stored, complete, on this assignment's data"
TINY = dict(dataset="mnist", architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)


def a_class_with_work(store_run, private_share=0):
    ana, bea = accounts.add_teacher("Ana", "a-long-password"), accounts.add_teacher("Bea", "a-long-password")
    mine = classes.create(ana.id, "5A")
    people = {name: classes.join(mine.join_code, name, "127.0.0.1")[0] for name in ("Luna", "Rio", "Zoe")}
    teacher = permissions.Who("teacher", ana.id, "Ana")
    rules = assignments.Rules("mnist", "fast", {})
    older = assignments.create(teacher, mine.id, "First steps", rules, [{"text": {"en": "Why?"}}])
    made = assignments.create(teacher, mine.id, "=1+1 Overfitting", rules,
                              [{"report": "overfitting"}, {"text": {"en": "What next?"}}])
    with database.transaction() as session:  # 0: nothing held back, the board ranks runs on MNIST itself
        session.execute(sa.update(schema.Assignment).where(schema.Assignment.id == made.id)
                        .values(private_share=private_share))
    made = assignments.get(made.code, teacher)
    luna, rio = (permissions.Who("student", people[name].id, name, mine.id) for name in ("Luna", "Rio"))
    requests.record(luna, store_run.id, "mnist", "{}", assignment_id=made.id)
    handins.hand_in(luna, made, [store_run.id], ["It overfits.", "Dropout"])
    handins.hand_in(luna, made, [store_run.id], ["It overfits a bit.", "Dropout"])
    requests.record(rio, store_run.id, "mnist", "{}", assignment_id=made.id)  # trained for it, handed nothing in
    return teacher, permissions.Who("teacher", bea.id, "Bea"), mine, made, older, luna


def test_one_row_per_student_and_assignment_with_scores_settings_and_answer_lengths(people_db, stored):
    run = stored(TrainConfig(**TINY))
    teacher, _, classroom, made, older, _ = a_class_with_work(run)
    found = gradebook.rows(teacher, classroom.id, runs.RunStore())
    assert [(row["assignment"], row["student"]) for row in found] == \
        [(made.title, "Luna"), (made.title, "Rio"), (made.title, "Zoe"),
         (older.title, "Luna"), (older.title, "Rio"), (older.title, "Zoe")]
    luna, rio, zoe = found[:3]
    assert (luna["handed_in"], luna["times"], luna["answers"]) == (True, 2, [len("It overfits a bit."), 7])
    assert luna["when"].endswith(" UTC") and luna["public"] == round(run.test_accuracy, 4) and luna["private"] is None
    assert json.loads(luna["settings"]) == run.config.to_dict() and luna["run"] == run.id
    assert (rio["handed_in"], rio["times"], rio["public"], rio["answers"]) == (False, 0, luna["public"], [0, 0])
    assert (zoe["public"], zoe["run"], zoe["settings"]) == (None, "", "")  # nothing trained for it
    assert found[3]["public"] is None  # Luna's run was not for the older assignment, nor chosen for it

    table = list(csv.reader(io.StringIO(gradebook.csv_text(teacher, classroom.id, runs.RunStore(), made))))
    assert table[0][:4] == ["student", "assignment", "code", "handed in"]
    assert table[0][-2:] == ["answer 1 (characters)", "answer 2 (characters)"] and len(table) == 4
    assert table[1][:4] == ["Luna", "'=1+1 Overfitting", made.code, "yes"]  # a formula stays text
    assert table[1][6:8] == [f"{run.test_accuracy:.4f}", ""] and table[1][-2:] == ["18", "7"]
    assert table[2][3:7] == ["no", "", "0", f"{run.test_accuracy:.4f}"]
    assert gradebook.rows(permissions.OWNER, classroom.id, runs.RunStore()) == found


def test_only_the_classs_teacher_and_the_owner_read_the_gradebook(people_db, stored):
    run = stored(TrainConfig(**TINY))
    _, other_teacher, classroom, _, _, luna = a_class_with_work(run)
    for nobody in (other_teacher, luna, permissions.GUEST):
        with pytest.raises(NotAllowed, match="Only the class's own teacher"):
            gradebook.csv_text(nobody, classroom.id, runs.RunStore())


def test_the_gradebook_scores_what_the_leaderboard_ranks_never_a_draft_or_a_run_off_the_board(people_db, stored):
    run = stored(TrainConfig(**TINY))
    teacher, _, classroom, made, _, luna = a_class_with_work(run)
    handins.save(luna, made, [], ["A much longer draft written after handing in.", ""])  # not what was handed in
    found = gradebook.rows(teacher, classroom.id, runs.RunStore(), made)[0]
    assert (found["run"], found["answers"], found["times"]) == (run.id, [len("It overfits a bit."), 7], 2)
    assert found["run"] == leaderboard.best_runs(runs.RunStore(), made)[luna.person_id].id


def test_a_run_on_the_whole_dataset_is_off_a_board_that_holds_images_back_and_off_its_gradebook(people_db, stored):
    run = stored(TrainConfig(**TINY))  # on the whole MNIST: the board of an assignment with a private share ranks
    teacher, _, classroom, made, _, _ = a_class_with_work(run, private_share=0.3)  # runs on its held-out copy only
    assert leaderboard.best_runs(runs.RunStore(), made) == {}
    assert [(row["public"], row["run"]) for row in gradebook.rows(teacher, classroom.id, runs.RunStore(), made)] == \
        [(None, GONE), (None, ""), (None, "")]  # Luna handed that run in: her row says why it has no score


def test_a_handed_in_run_deleted_since_leaves_no_score_never_another_runs(people_db, stored):
    """Luna handed in one run and trained another for the assignment; her handed-in run is deleted: the board and
    the gradebook score neither (the other was not handed in), and her row says why."""
    from cnnlab import i18n

    run = stored(TrainConfig(**TINY))
    teacher, _, classroom, made, _, luna = a_class_with_work(run)
    other, _ = runs.RunStore().get_or_train(TrainConfig(**{**TINY, "seed": 7}))
    requests.record(luna, other.id, "mnist", "{}", assignment_id=made.id)  # trained for it, never handed in
    assert leaderboard.best_runs(runs.RunStore(), made)[luna.person_id].id == run.id
    assert runs.RunStore().delete(run.id, teacher)
    assert luna.person_id not in leaderboard.best_runs(runs.RunStore(), made)
    found = gradebook.rows(teacher, classroom.id, runs.RunStore(), made)[0]
    assert (found["student"], found["handed_in"], found["public"], found["private"], found["settings"]) == \
        ("Luna", True, None, None, "")
    assert found["run"] == GONE
    assert gradebook.rows(teacher, classroom.id, runs.RunStore(), made)[2]["run"] == ""  # Zoe handed nothing in
    with i18n.speaking("es"):
        table = list(csv.reader(io.StringIO(gradebook.csv_text(teacher, classroom.id, runs.RunStore(), made))))
    assert table[1][3] == "sí" and table[1][6:9] == ["", "", "sin nota: ninguna de las ejecuciones entregadas está "
                                                     "guardada y completa con los datos de esta tarea"]


def test_a_hand_in_without_a_run_says_so_in_the_run_column(people_db, stored):
    run = stored(TrainConfig(**TINY))
    teacher, _, classroom, made, _, _ = a_class_with_work(run)
    zoe = next(permissions.Who("student", person_id, name, classroom.id)
               for person_id, name, _ in classes.roster(classroom.id) if name == "Zoe")
    handins.hand_in(zoe, made, [], ["Nothing trained.", ""])
    found = gradebook.rows(teacher, classroom.id, runs.RunStore(), made)[2]
    assert (found["student"], found["handed_in"], found["public"]) == ("Zoe", True, None)
    assert found["run"] == "no score: handed in without a run"
