"""The leaderboard that cannot be gamed (cnnlab.course.leaderboard): public scores on the public part, private ones
computed for the teacher only and shown to the class once revealed; nicknames, anonymous or off; the handed-in run
counts (SQLite and PostgreSQL)."""

import csv
import io
import json

import numpy as np
import pytest

from cnnlab import runs
from cnnlab.classroom import accounts, classes, permissions
from cnnlab.compute import jobs
from cnnlab.course import assignments, handins, leaderboard
from cnnlab.data import datasets
from cnnlab.errors import ConfigError, NotAllowed
from cnnlab.training import TrainConfig

PASSWORD = "a-long-password"
TINY = dict(architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)


@pytest.fixture
def trained(people_db):
    """5A (Ana) with Luna and Mar, 5B (Bea) with Sol; a scratch assignment of 5A on MNIST; Luna trained two seeds
    for it and Mar one."""
    ana, bea = accounts.add_teacher("Ana", PASSWORD), accounts.add_teacher("Bea", PASSWORD)
    mine, theirs = classes.create(ana.id, "5A"), classes.create(bea.id, "5B")
    luna = classes.join(mine.join_code, "Luna", "127.0.0.1")[0]
    mar = classes.join(mine.join_code, "Mar", "127.0.0.1")[0]
    sol = classes.join(theirs.join_code, "Sol", "127.0.0.1")[0]
    who = {"ana": permissions.Who("teacher", ana.id, "Ana"), "bea": permissions.Who("teacher", bea.id, "Bea"),
           "luna": permissions.Who("student", luna.id, "Luna", mine.id),
           "mar": permissions.Who("student", mar.id, "Mar", mine.id),
           "sol": permissions.Who("student", sol.id, "Sol", theirs.id)}
    rules = assignments.Rules("mnist", "fast", {"dataset": {"mode": "locked", "value": "mnist"}})
    made = assignments.create(who["ana"], mine.id, "Digits", rules, [{"report": "overfitting"}])
    queue = jobs.TrainingQueue(runs.RunStore())
    done = {}
    for name, seed in (("luna", 1), ("luna", 2), ("mar", 3)):
        job = queue.submit(TrainConfig(dataset="mnist", seed=seed, **TINY), who=who[name],
                           assignment=handins.training_for(made))
        assert queue.wait(job, timeout=600) and job.status == "done", job.error
        done.setdefault(name, []).append(queue.store.get(job.id))
    return who, made, queue.store, done


def by_name(entries):
    return {entry.name: entry for entry in entries}


def test_the_teacher_sees_every_name_run_and_private_score_computed_once_outside_the_records(trained):
    who, made, store, done = trained
    rows = leaderboard.board(who["ana"], made, store)
    assert [row.rank for row in rows] == [1, 2] or [row.rank for row in rows] == [1, 1]
    luna_best = max(done["luna"], key=lambda run: run.test_accuracy)
    assert by_name(rows)["Luna"].run_id == luna_best.id and by_name(rows)["Mar"].run_id == done["mar"][0].id
    for row in rows:
        run = store.get(row.run_id)
        assert row.public == run.test_accuracy and run.config.dataset == f"mnist.a{made.id}"
        images, labels = datasets.private_test(who["ana"], run.config.dataset, run.record["data"]["test_fingerprint"])
        expected = np.mean(np.argmax(run.build_model().predict(datasets.preprocess_images(images), verbose=0), 1)
                           == labels)
        assert row.private == pytest.approx(expected) and len(labels) == 600  # 30 % of the sample's 2,000
    kept = json.loads(leaderboard._scores_file(made.id).read_text())
    assert set(kept) == {f"{row.run_id}:{store.get(row.run_id).version}" for row in rows}
    assert store.root / "runs" not in leaderboard._scores_file(made.id).parents  # beside the runs, never exported


def test_students_see_public_scores_and_the_private_ranking_only_once_revealed(trained):
    who, made, store, _ = trained
    seen = by_name(leaderboard.board(who["luna"], made, store))
    assert set(seen) == {"Luna", "Mar"} and all(row.private is None and row.private_rank is None
                                                for row in seen.values())
    assert seen["Luna"].mine and seen["Luna"].run_id and not seen["Mar"].mine and seen["Mar"].run_id is None
    with pytest.raises(NotAllowed):
        leaderboard.reveal(who["luna"], made)
    leaderboard.reveal(who["ana"], made)
    seen = by_name(leaderboard.board(who["mar"], made, store))
    assert all(row.private is not None and row.private_rank in (1, 2) for row in seen.values())
    assert seen["Luna"].run_id is None and seen["Mar"].run_id is not None


def test_anonymous_shows_only_the_readers_own_name_and_off_shows_students_nothing(trained):
    who, made, store, _ = trained
    leaderboard.set_mode(who["ana"], made, "anonymous")
    names = sorted(str(row.name) for row in leaderboard.board(who["luna"], made, store))
    assert names == ["Luna", "None"]
    assert {row.name for row in leaderboard.board(who["ana"], made, store)} == {"Luna", "Mar"}
    leaderboard.set_mode(who["ana"], made, "off")
    with pytest.raises(NotAllowed) as refused:
        leaderboard.board(who["mar"], made, store)
    assert "not a competition" in str(refused.value)
    assert len(leaderboard.board(who["ana"], made, store)) == 2
    with pytest.raises(ConfigError):
        leaderboard.set_mode(who["ana"], made, "everyone")
    with pytest.raises(NotAllowed):
        leaderboard.set_mode(who["mar"], made, "nicknames")


def test_another_class_and_its_teacher_learn_nothing(trained):
    who, made, store, done = trained
    for someone in ("sol", "bea"):
        with pytest.raises(NotAllowed):
            leaderboard.board(who[someone], made, store)
        with pytest.raises(NotAllowed):
            leaderboard.private_score(who[someone], done["mar"][0])
    with pytest.raises(NotAllowed):
        leaderboard.private_score(who["mar"], done["mar"][0])  # not even of their own run


def test_the_run_handed_in_is_the_one_ranked(trained):
    who, made, store, done = trained
    worse = min(done["luna"], key=lambda run: (run.test_accuracy, run.id))
    handins.hand_in(who["luna"], made, [worse.id], ["It overfits a little."])
    assert by_name(leaderboard.board(who["ana"], made, store))["Luna"].run_id == worse.id


def test_the_gradebook_holds_each_students_private_score(trained):
    from cnnlab.course import gradebook

    who, made, store, _ = trained
    rows = {row["student"]: row for row in gradebook.rows(who["ana"], made.class_id, store, made)}
    board = by_name(leaderboard.board(who["ana"], made, store))
    for name in ("Luna", "Mar"):  # the best run's (two of Luna's may tie on the public part: either is her best)
        run = store.get(rows[name]["run"])
        assert run.test_accuracy == board[name].public
        assert rows[name]["private"] == round(leaderboard.private_score(who["ana"], run), 4)
    table = list(csv.DictReader(io.StringIO(gradebook.csv_text(who["ana"], made.class_id, store, made))))
    mar = next(row for row in table if row["student"] == "Mar")
    assert float(mar["private score"]) == pytest.approx(board["Mar"].private, abs=1e-4)


def test_another_classs_student_may_not_train_for_the_assignment_nor_be_ranked(trained):
    from cnnlab.classroom import requests

    import sqlalchemy as sa

    from cnnlab.classroom import database, schema

    who, made, store, done = trained
    rules = assignments.Rules("mnist", "fast", {})
    open_ = assignments.create(who["ana"], made.class_id, "Nothing held back", rules, [])
    with database.transaction() as session:  # MNIST itself: anyone could train on it, so only admit() stands
        session.execute(sa.update(schema.Assignment).where(schema.Assignment.id == open_.id).values(private_share=0))
    queue = jobs.TrainingQueue(store)
    for outsider in (who["sol"], who["bea"], permissions.GUEST):
        for assignment in (open_, made):
            with pytest.raises(NotAllowed, match="There is no assignment with the code"):
                queue.submit(TrainConfig(dataset="mnist", seed=9, **TINY), who=outsider,
                             assignment=handins.training_for(assignment))
    assert queue.jobs() == []  # refused before anything was queued
    for allowed in (who["luna"], who["ana"], permissions.OWNER):  # its students, its teacher, the owner (a lab)
        handins.training_for(made).admit(allowed)
    copy = done["mar"][0].config.dataset
    requests.record(who["sol"], done["mar"][0].id, copy, "{}", assignment_id=made.id)  # tagged from another class
    assert set(leaderboard.best_runs(store, made)) == {who["luna"].person_id, who["mar"].person_id}
    assert sorted(row.name for row in leaderboard.board(who["ana"], made, store)) == ["Luna", "Mar"]
