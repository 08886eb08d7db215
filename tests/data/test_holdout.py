"""The private part of an assignment's test set (cnnlab.data.holdout): drawn by the assignment's secret, held out of
the copy its class trains on, drawn again only for the class's teacher, and the whole dataset kept from the class's
students until the private ranking is revealed (SQLite and PostgreSQL)."""

import numpy as np
import pytest
import sqlalchemy as sa

from cnnlab.classroom import accounts, classes, database, permissions, schema
from cnnlab.compute import jobs
from cnnlab.course import assignments
from cnnlab.data import catalogue, datasets, holdout, ownership
from cnnlab.errors import ConfigError, DatasetUnavailable, NotAllowed
from cnnlab.training import TrainConfig

PASSWORD = "a-long-password"


@pytest.fixture
def lab(people_db, monkeypatch):
    """Ana teaches 5A (Luna), Bea teaches 5B (Sol); 5A has assignment A (report A: MNIST or CIFAR-10)."""
    from cnnlab import training

    monkeypatch.setattr(training, "gpu_name", lambda: None)
    ana, bea = accounts.add_teacher("Ana", PASSWORD), accounts.add_teacher("Bea", PASSWORD)
    mine, theirs = classes.create(ana.id, "5A"), classes.create(bea.id, "5B")
    luna = classes.join(mine.join_code, "Luna", "127.0.0.1")[0]
    sol = classes.join(theirs.join_code, "Sol", "127.0.0.1")[0]
    who = {"ana": permissions.Who("teacher", ana.id, "Ana"), "bea": permissions.Who("teacher", bea.id, "Bea"),
           "luna": permissions.Who("student", luna.id, "Luna", mine.id),
           "sol": permissions.Who("student", sol.id, "Sol", theirs.id)}
    rules, questions = assignments.from_report("A")
    made = assignments.create(who["ana"], mine.id, "Optimizers", rules, questions)
    return who, made


def test_the_class_trains_on_a_copy_whose_test_set_lacks_the_private_part(lab):
    who, made = lab
    key = f"mnist.a{made.id}"
    assert holdout.key_for(made) == key and holdout.bases_of(made) == ["mnist", "cifar10"]
    whole, public = datasets.load("mnist"), datasets.load(key)
    held = round(0.3 * len(whole.x_test))
    assert len(public.x_test) == len(whole.x_test) - held and public.x_train is whole.x_train
    assert public.info.name == key and public.info.title == "MNIST · Optimizers"
    assert public.variant == whole.variant  # the bundled sample's copy is still "the sample"
    assert public.fingerprint != whole.fingerprint and public.test_fingerprint != whole.test_fingerprint

    private = datasets.private_test(who["ana"], key, public.test_fingerprint)
    assert private is not None and len(private[0]) == held
    chosen = holdout.private_indices(len(whole.x_test), holdout.split(key))
    assert np.array_equal(private[0], whole.x_test[chosen]) and np.array_equal(private[1], whole.y_test[chosen])
    rest = np.setdiff1d(np.arange(len(whole.x_test)), chosen)
    assert np.array_equal(public.x_test, whole.x_test[rest])  # the public part is all the rest, in order
    # a whole copy is the "full" variant of the copy too: its info's sizes are the whole dataset's less the part
    assert catalogue.get_info(key).full_sizes == (60_000, 7_000)


def test_every_assignment_of_the_server_holds_the_same_images_back(lab):
    """One assignment's private images are never another's public ones (two assignments of a class, or of two
    classes, on one dataset); the server's key draws them, so the same key draws the same images again."""
    who, made = lab
    rules, questions = assignments.from_report("A")
    again = assignments.create(who["ana"], made.class_id, "Again", rules, questions)
    theirs = assignments.create(who["bea"], who["sol"].class_id, "Theirs", rules, questions)
    drawn = [holdout.private_indices(2000, holdout.split(f"mnist.a{one.id}")) for one in (made, again, theirs)]
    assert len(drawn[0]) == 600 and all(np.array_equal(drawn[0], other) for other in drawn[1:])
    assert not np.array_equal(drawn[0], holdout.private_indices(2000, holdout.split(f"cifar10.a{made.id}")))
    assert not np.array_equal(drawn[0], np.arange(600))  # drawn at random, not the first ones


def test_a_copys_name_is_one_name_however_it_is_typed(lab):
    who, made = lab
    key = f"mnist.a{made.id}"
    for typed in (f"MNIST.A{made.id}", f"mnist.a0{made.id}"):
        assert catalogue.get_info(typed).name == key
        assert TrainConfig(dataset=typed).dataset == key
    assert ownership.may_use(who["luna"], f"mnist.a0{made.id}")


def test_a_guest_may_not_use_a_dataset_an_assignment_holds_part_of_back(lab):
    """A student who signs out is a guest: the whole dataset's runs would show the held-back images."""
    who, made = lab
    assert not ownership.may_use(permissions.GUEST, "mnist") and ownership.may_use(permissions.GUEST, "fashion_mnist")
    assert "mnist" not in ownership.names(permissions.GUEST)
    assert ownership.stand_in(permissions.GUEST, "mnist") == "fashion_mnist"
    with database.transaction() as session:
        session.execute(sa.update(schema.Assignment).values(revealed_at=schema.now()))
    assert ownership.may_use(permissions.GUEST, "mnist")


def test_the_class_students_use_the_copy_and_not_the_whole_dataset_until_the_reveal(lab):
    who, made = lab
    key, cifar_key = f"mnist.a{made.id}", f"cifar10.a{made.id}"
    luna, sol, ana, bea = who["luna"], who["sol"], who["ana"], who["bea"]
    assert ownership.names(luna) == ["fashion_mnist", key, cifar_key]
    assert not ownership.may_use(luna, "mnist") and not ownership.may_use(luna, "cifar10")
    with pytest.raises(DatasetUnavailable) as refused:
        ownership.require_use(luna, "MNIST")
    assert str(refused.value) == ("MNIST is not open to you now: an assignment holds part of its test set back until "
                                  "its teacher reveals the private ranking. Use MNIST · Optimizers instead.")
    # another class's student, a guest: the whole dataset as before, and no copy at all
    assert ownership.may_use(sol, "mnist") and not ownership.may_use(sol, key) and key not in ownership.names(sol)
    assert not ownership.may_use(permissions.GUEST, key)
    # the class's teacher and the owner: both; another teacher: the whole dataset only
    assert ownership.may_use(ana, "mnist") and ownership.may_use(ana, key) and key in ownership.names(ana)
    assert ownership.may_use(permissions.OWNER, key) and not ownership.may_use(bea, key)
    with database.transaction() as session:
        session.execute(sa.update(schema.Assignment).values(revealed_at=schema.now()))
    assert ownership.may_use(luna, "mnist") and ownership.may_use(luna, key)


def test_only_the_class_teacher_or_the_owner_draws_the_private_part(lab):
    who, made = lab
    key = f"mnist.a{made.id}"
    fingerprint = datasets.load(key).test_fingerprint
    for someone in ("luna", "sol", "bea"):
        with pytest.raises(NotAllowed):
            datasets.private_test(who[someone], key, fingerprint)
    assert datasets.private_test(permissions.OWNER, key, fingerprint) is not None
    assert datasets.private_test(who["ana"], key, "0" * 16) is None  # no copy here was tested so


def test_a_name_that_is_no_assignment_copy_is_an_unknown_dataset(lab):
    who, made = lab
    for name in ("mnist.a999999", f"fashion_mnist.a{made.id}"):  # no such assignment; a dataset it does not offer
        with pytest.raises(DatasetUnavailable) as refused:
            catalogue.get_info(name)
        assert "Unknown dataset" in str(refused.value) and ".a" not in str(refused.value).split(":", 1)[1]
    assert holdout.BUILT_IN == set(catalogue.DATASETS)


def test_an_assignment_that_holds_nothing_back_changes_nothing(lab):
    who, made = lab
    with database.transaction() as session:
        session.execute(sa.update(schema.Assignment).values(private_share=0.0))
    assert holdout.bases_of(made) == [] or holdout.names_for(who["luna"]) == []
    assert ownership.may_use(who["luna"], "mnist") and ownership.names(who["luna"])[0] == "mnist"


def test_a_teacher_who_wants_no_private_part_gets_none(lab):
    """assignments.create(private=False): the class keeps the whole dataset and trains on it for the assignment."""
    who, made = lab
    leaderboard_free = assignments.create(who["bea"], who["sol"].class_id, "Not a competition",
                                          *assignments.from_report("A"), private=False)
    assert leaderboard_free.private_share == 0 and holdout.bases_of(leaderboard_free) == []
    assert holdout.names_for(who["sol"]) == [] and ownership.may_use(who["sol"], "mnist")
    config = TrainConfig(dataset="mnist", architecture="net_1", optimizer="adam", batch_size=128)
    assert holdout.for_assignment(leaderboard_free, config) == (config, config)  # trained on MNIST itself
    assert not ownership.may_use(who["luna"], "mnist")  # 5A's assignment still holds MNIST's part back from 5A


def test_the_queue_trains_an_assignment_on_its_copy_and_checks_the_rules_as_asked(lab):
    from cnnlab import runs

    who, _ = lab
    rules = assignments.Rules("mnist", "fast", {"dataset": {"mode": "locked", "value": "mnist"},
                                                 "batch_size": {"mode": "locked", "value": 32}})
    made = assignments.create(who["ana"], who["luna"].class_id, "Scratch", rules, [{"report": "overfitting"}])
    queue = jobs.TrainingQueue(runs.RunStore())

    class ForAssignment:  # what a worksheet hands the queue: the assignment's id and its rules
        id = made.id

        @staticmethod
        def check(config):
            rules.check(config)

    config = TrainConfig(dataset="mnist", architecture="fast", epochs=1, batch_size=32, train_size=320,
                         validation_split=0.25)
    job = queue.submit(config, who=who["luna"], assignment=ForAssignment)
    assert job.config.dataset == f"mnist.a{made.id}"
    again = queue.submit(TrainConfig(**dict(config.to_dict(), dataset=f"mnist.a{made.id}")), who=who["luna"],
                         assignment=ForAssignment)
    assert again is job  # asked on the copy: the same training
    with pytest.raises(ConfigError):  # the rules are held as asked: a locked batch size stays locked on the copy
        queue.submit(TrainConfig(**dict(config.to_dict(), dataset=f"mnist.a{made.id}", batch_size=64)),
                     who=who["luna"], assignment=ForAssignment, replace=True)
    with pytest.raises(DatasetUnavailable):  # outside the assignment, the whole dataset stays out of reach
        queue.submit(config, who=who["luna"], replace=True)
    assert queue.wait(job, timeout=600) and job.status == "done", job.error
    run = queue.store.get(job.id)
    assert run.config.dataset == f"mnist.a{made.id}" and run.record["data"]["dataset_test"] == 1400
