"""The live class: every state a student can be in (from the database, the run store and a real training queue), the
stuck flags, hand-ins, and who may read it, on SQLite and PostgreSQL."""

import datetime
import json
import threading
import time

import pytest
import sqlalchemy as sa

from cnnlab import runs
from cnnlab.classroom import accounts, classes, database, permissions, requests, schema, sessions
from cnnlab.compute import in_process, jobs
from cnnlab.course import assignments, handins, leaderboard, live
from cnnlab.errors import NotAllowed
from cnnlab.runs import entries
from cnnlab.training import TrainConfig

TINY = dict(dataset="mnist", architecture="fast", epochs=1, batch_size=32, train_size=320, validation_split=0.25)
MINUTE = datetime.timedelta(minutes=1)


def stored_record(store, seed, accuracy, losses, created, status="complete", dataset="mnist"):
    """A run in the store with the record a training writes (settings, history, metrics, files of the sizes it
    says), made without training: the live class reads records, never models. Returns its id."""
    config = TrainConfig(**dict(TINY, seed=seed, epochs=max(1, len(losses)), dataset=dataset))
    run_id = config.run_id("full", "f" * 16)
    folder = store.run_path(run_id)
    folder.mkdir(parents=True)
    for name in entries.FILES:
        (folder / name).write_bytes(b"x")
    record = {"format": entries.RECORD_FORMAT, "id": run_id, "status": status,
              "created": created.replace(tzinfo=datetime.UTC).isoformat(timespec="seconds"),
              "config": config.to_dict(), "canonical": config.canonical("full", "f" * 16), "params": 1000,
              "epochs_completed": len(losses), "history": {"loss": losses, "accuracy": [0.5] * len(losses)},
              "metrics": {"test_loss": 0.3, "test_accuracy": accuracy}, "train_seconds": 1.0,
              "data": {"variant": "full", "fingerprint": "f" * 16}, "checksums": dict.fromkeys(entries.FILES, "0"),
              "sizes": dict.fromkeys(entries.FILES, 1)}
    record["record_sha256"] = entries._record_checksum(record)
    (folder / "run.json").write_text(json.dumps(record))
    return run_id


def a_class(count):
    """A teacher, their class and `count` students (Who each), and another teacher."""
    ana = accounts.add_teacher("Ana", "a-long-password")
    bea = accounts.add_teacher("Bea", "a-long-password")
    classroom = classes.create(ana.id, "5A")
    made = classes.add_students(classroom.id, [f"s{number}" for number in range(count)])
    students = [sessions.person(classes.sign_in(code, "127.0.0.1").id) for _, code in made]
    return (permissions.Who("teacher", ana.id, "Ana"), permissions.Who("teacher", bea.id, "Bea"), classroom,
            students)


def asked(who, run_id, at, assignment=None):
    """A request of who for run_id, asked at `at` (UTC)."""
    made = requests.record(who, run_id, "mnist", "{}", assignment_id=assignment.id if assignment else None)
    with database.transaction() as session:
        session.get(schema.Request, made).asked_at = at


def test_each_state_the_best_accuracy_hand_ins_and_the_stuck_flags(people_db):
    teacher, _, classroom, students = a_class(6)
    made = assignments.create(teacher, classroom.id, "Overfitting", assignments.Rules("mnist", "fast", {}), [])
    store, now, copy = runs.RunStore(), made.created_at + 30 * MINUTE, f"mnist.a{made.id}"  # its held-out copy
    waiting, finished, idle, rising, lost, broken = students
    good = stored_record(store, 1, 0.91, [0.9, 0.5, 0.3], now - MINUTE, dataset=copy)
    worse = stored_record(store, 2, 0.55, [0.9, 0.8], now - 3 * MINUTE, dataset=copy)
    asked(finished, worse, now - 4 * MINUTE, made)
    asked(finished, good, now - 2 * MINUTE, made)
    asked(idle, stored_record(store, 6, 0.8, [0.7, 0.6], now - 24 * MINUTE, dataset=copy), now - 25 * MINUTE, made)
    asked(idle, stored_record(store, 3, 0.99, [0.1], now - 40 * MINUTE), now - 40 * MINUTE)  # not for the assignment
    asked(rising, stored_record(store, 4, 0.30, [0.5, 0.4, 0.6, 0.9], now - MINUTE, dataset=copy), now - 2 * MINUTE,
          made)
    asked(broken, stored_record(store, 5, 0.10, [0.5, float("nan")], now - MINUTE, dataset=copy), now - 2 * MINUTE,
          made)
    asked(lost, "0123456789abcdef", now - 2 * MINUTE, made)  # nothing stored, nothing in the queue
    with database.transaction() as session:
        session.add(schema.HandIn(assignment_id=made.id, person_id=finished.person_id, handed_at=now, times=1,
                                  handed_runs=json.dumps([good])))  # what the board ranks once handed in
        session.add(schema.HandIn(assignment_id=made.id, person_id=idle.person_id))  # saved, not handed in

    found = {row.nickname: row for row in live.rows(teacher, classroom.id, made, store=store, now=now,
                                                    lab_start=now - 11 * MINUTE)}
    assert list(found) == ["s0", "s1", "s2", "s3", "s4", "s5"]
    said = {name: (row.state, str(row.said), row.flags) for name, row in found.items()}
    assert said == {
        "s0": ("not_started", "not started", ("no_training",)),
        "s1": ("finished", "finished", ()),
        "s2": ("idle", "idle for 24 minutes", ("no_training",)),  # asked before the lab began
        "s3": ("finished", "finished", ("diverging",)),
        "s4": ("failed", "failed: it ended without a result (the server restarted, or it was stopped before it "
                         "began)", ("failed",)),
        "s5": ("finished", "finished", ("diverging",)),
    }
    assert (found["s1"].best_accuracy, found["s1"].best_run, found["s1"].run_id) == (0.91, good, good)
    assert (found["s2"].best_accuracy, found["s0"].best_accuracy) == (0.8, None)  # 0.99 was for no assignment
    assert [row.handed_in for row in found.values()] == [False, True, False, False, False, False]
    assert [str(flag) for flag in found["s0"].flags_said()] == ["no training 10 minutes into the lab"]
    assert not found["s1"].stuck and found["s4"].stuck

    nine = live.rows(teacher, classroom.id, made, store=store, now=now, lab_start=now - 9 * MINUTE)
    assert [row.flags for row in nine][0] == ()  # nine minutes in: not yet
    anything = {row.nickname: row for row in live.rows(teacher, classroom.id, store=store, now=now)}
    assert anything["s2"].best_accuracy == 0.99 and anything["s2"].handed_in is None  # every request counts
    assert anything["s0"].flags == ()  # no assignment, no lab start: nobody is late


class HeldAfterTheFirstEpoch(in_process.LocalExecutor):
    """Trains in this process and holds after its first epoch until released: a training seen mid-way."""

    def __init__(self):
        self.release = threading.Event()

    def train(self, config, dataset, on_epoch_end=None, **callbacks):
        def held(epoch, logs):
            on_epoch_end(epoch, logs)
            self.release.wait(120)

        return super().train(config, dataset, on_epoch_end=held, **callbacks)


def wait_for(condition, seconds=120):
    deadline = time.time() + seconds
    while not condition() and time.time() < deadline:
        time.sleep(0.05)
    assert condition()


def test_a_failure_with_its_reason_a_training_and_a_place_in_line_come_from_the_queue(people_db):
    teacher, _, classroom, (training, waiting, failing) = a_class(3)
    store, executor = runs.RunStore(), HeldAfterTheFirstEpoch()
    queue = jobs.TrainingQueue(store, executor)
    bad = queue.submit(TrainConfig(**dict(TINY, batch_size=4000)), who=failing)
    queue.wait(bad, timeout=120)
    first = queue.submit(TrainConfig(**dict(TINY, epochs=3)), who=training)
    try:
        wait_for(lambda: first.epochs_done == 1)
        second = queue.submit(TrainConfig(**dict(TINY, seed=7)), who=waiting)
        found = {row.nickname: row for row in live.rows(teacher, classroom.id, queue=queue, store=store)}
        assert (found["s0"].state, str(found["s0"].said), found["s0"].run_id) == \
            ("training", "training (epoch 1 of 3)", first.id)
        assert (found["s1"].state, str(found["s1"].said)) == ("in_line", "in line (number 2)")
        assert found["s2"].state == "failed" and "Batch size 4000" in str(found["s2"].said)
        assert found["s2"].flags == ("failed",)
        queue.stop(second.id, student=waiting.key, who=waiting)  # they leave their place before it starts
        left = live.rows(teacher, classroom.id, queue=queue, store=store)[1]
        assert (left.state, str(left.said), left.flags) == ("stopped", "stopped before the end", ())
    finally:
        queue.stop(first.id)
        executor.release.set()
    queue.wait(first, timeout=120)
    row = live.rows(teacher, classroom.id, queue=queue, store=store)[0]  # stopped after its first epoch: not failed
    assert (row.state, str(row.said), row.flags) == ("stopped", "stopped before the end", ())
    assert row.best_accuracy == store.get(first.id).test_accuracy  # every stored run counts with no assignment


def test_only_the_classs_teacher_or_the_owner_reads_it(people_db):
    teacher, other_teacher, classroom, students = a_class(2)
    assert [row.nickname for row in live.rows(permissions.OWNER, classroom.id)] == ["s0", "s1"]
    for refused in (other_teacher, students[0], permissions.GUEST):
        with pytest.raises(NotAllowed, match="Only the class's teacher"):
            live.rows(refused, classroom.id)
    theirs = classes.create(other_teacher.person_id, "5B")
    elsewhere = assignments.create(other_teacher, theirs.id, "Theirs", assignments.Rules("mnist", "fast", {}), [])
    with pytest.raises(NotAllowed):  # another class's assignment, read through this class
        live.rows(teacher, classroom.id, elsewhere)


def test_the_rows_ask_the_database_a_fixed_number_of_times_whatever_the_class(people_db):
    teacher, _, classroom, students = a_class(12)
    for number, student in enumerate(students * 3):
        asked(student, f"{number:016x}", schema.now())
    statements = []
    engine = database.engine()
    listen = lambda *args: statements.append(args[2])  # noqa: E731 (conn, cursor, statement, …)
    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        assert len(live.rows(teacher, classroom.id)) == 12
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)
    assert len(statements) <= 4, statements  # who may see the class, its students, their requests (hand-ins)


def test_for_an_assignment_the_best_accuracy_is_the_boards_and_a_stopped_run_is_no_failure(people_db):
    """With an assignment, the best accuracy is the run its leaderboard ranks: complete, on the assignment's copy of
    its data, among what was handed in once something was; a run stopped while it trained is "stopped", not stuck."""
    teacher, _, classroom, (luna, rio) = a_class(2)
    made = assignments.create(teacher, classroom.id, "Overfitting", assignments.Rules("mnist", "fast", {}), [])
    store, now, copy = runs.RunStore(), made.created_at + 30 * MINUTE, f"mnist.a{made.id}"
    ranked = stored_record(store, 1, 0.70, [0.9, 0.5], now - 5 * MINUTE, dataset=copy)
    whole = stored_record(store, 2, 0.95, [0.9, 0.4], now - 4 * MINUTE)  # the whole MNIST: off the board
    stopped = stored_record(store, 3, 0.90, [0.9, 0.6], now - 2 * MINUTE, status="stopped", dataset=copy)
    for run_id, minutes in ((ranked, 6), (whole, 5), (stopped, 3)):
        asked(luna, run_id, now - minutes * MINUTE, made)
    handed = stored_record(store, 4, 0.60, [0.9, 0.7], now - 9 * MINUTE, dataset=copy)
    better = stored_record(store, 5, 0.80, [0.9, 0.3], now - 3 * MINUTE, dataset=copy)  # trained, not handed in
    asked(rio, handed, now - 10 * MINUTE, made)
    asked(rio, better, now - 4 * MINUTE, made)
    handins.hand_in(rio, made, [handed], [])
    found = live.rows(teacher, classroom.id, made, store=store, now=now, lab_start=now - 11 * MINUTE)
    board = leaderboard.best_runs(store, made)
    assert [(row.nickname, row.best_accuracy, row.best_run) for row in found] == \
        [("s0", 0.70, ranked), ("s1", 0.60, handed)]
    assert {person_id: run.id for person_id, run in board.items()} == {luna.person_id: ranked, rio.person_id: handed}
    assert (found[0].state, str(found[0].said), found[0].flags, found[0].run_id) == \
        ("stopped", "stopped before the end", (), stopped)
