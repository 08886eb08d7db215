"""What the class learned together (cnnlab.insight.class_views), on hand-made runs in a real store and a real people's
database (SQLite and PostgreSQL): the sums, the wording, the incremental count, and who sees what."""

import json

import numpy as np
import pytest
import sqlalchemy as sa

from bench.class_views import make_run, weights_of
from cnnlab import i18n, runs
from cnnlab.classroom import accounts, classes, database, requests, schema, sessions
from cnnlab.course import assignments
from cnnlab.data import datasets, ownership
from cnnlab.errors import DatasetUnavailable, NotAllowed
from cnnlab.insight import class_aggregate, class_views
from cnnlab.training import TrainConfig

SETTINGS = dict(dataset="mnist", architecture="fast", epochs=2, batch_size=32)


def swapped(y_test, share, first=3, second=5, rng=None):
    """Predictions right except for `share` of the images of `first` and `second`, taken for each other."""
    rng = rng or np.random.default_rng(0)
    predicted = np.array(y_test, copy=True)
    pair = np.flatnonzero((y_test == first) | (y_test == second))
    chosen = pair[rng.random(len(pair)) < share]
    predicted[chosen] = np.where(y_test[chosen] == first, second, first)
    return predicted


def confusion(y_test, predicted):
    matrix = np.zeros((10, 10), np.int64)
    np.add.at(matrix, (y_test, predicted), 1)  # the oracle: every image counted in its cell
    return matrix


class Class:
    """A teacher, a class of three students (Ana, Luis, Mar), one assignment (report A's, with no private part), a
    store, MNIST's bundled sample."""

    def __init__(self):
        teacher = accounts.add_teacher("Teacher", "a-long-password")
        self.teacher = sessions.person(teacher.id)
        classroom = classes.create(teacher.id, "CNN 2027")
        self.class_id = classroom.id
        self.students = {name: sessions.person(classes.join(classroom.join_code, name, "127.0.0.1")[0].id)
                         for name in ("Ana", "Luis", "Mar")}
        rules, questions = assignments.from_report("A")
        self.assignment = assignments.create(self.teacher, classroom.id, "Optimizers", rules, questions).id
        with database.transaction() as session:  # on the whole of MNIST: no private part held back (the leaderboard's)
            session.execute(sa.update(schema.Assignment).values(private_share=0.0))
        self.store, self.data = runs.RunStore(), datasets.load("mnist")

    def attempt(self, name, predicted, **settings):
        config = TrainConfig(**{**SETTINGS, **settings})
        run = make_run(self.store, config, predicted, self.data)
        made = requests.record(self.students[name], run.id, config.dataset, json.dumps(config.to_dict()))
        with database.transaction() as session:
            session.execute(sa.update(schema.Request).where(schema.Request.id == made)
                            .values(assignment_id=self.assignment))
        return run

    def hand_in(self, name, handed=True):
        with database.transaction() as session:
            session.add(schema.HandIn(assignment_id=self.assignment, person_id=self.students[name].person_id,
                                      handed_at=schema.now() if handed else None, times=int(handed)))


@pytest.fixture
def lab(people_db):
    class_aggregate.forget()
    made = Class()
    yield made
    class_aggregate.forget()


def test_the_mistakes_add_up_each_students_best_run_and_name_the_pairs_most_networks_confuse(lab):
    y = lab.data.y_test
    ana_worse = swapped(y, 0.6)
    ana_best = swapped(y, 0.2, rng=np.random.default_rng(1))
    luis = swapped(y, 0.3, 4, 9)  # Luis's network mixes up 4 and 9 instead
    mar = swapped(y, 0.4, rng=np.random.default_rng(2))
    lab.attempt("Ana", ana_worse, seed=1)
    lab.attempt("Ana", ana_best, seed=2)
    lab.attempt("Luis", luis)
    lab.attempt("Mar", mar, learning_rate=0.01)
    found = class_views.mistakes(lab.teacher, lab.class_id, lab.assignment)
    assert found.networks == 3 and found.dataset == "mnist"
    np.testing.assert_array_equal(found.matrix, confusion(y, ana_best) + confusion(y, luis) + confusion(y, mar))
    first = found.pairs[0]
    assert (first.first, first.second, first.networks, first.of) == (3, 5, 2, 3)
    assert first.count == int(np.sum((ana_best != y) & np.isin(y, (3, 5))) + np.sum((mar != y) & np.isin(y, (3, 5))))
    assert str(first.message) == "2 of 3 networks confuse 3 and 5"
    assert str(found.pairs[1].message) == "1 of 3 networks confuses 4 and 9"
    i18n.set_language("es")
    assert str(first.message) == "2 de 3 redes confunden 3 y 5"
    assert str(found.pairs[1].message) == "1 de 3 redes confunde 4 y 9"
    names = class_views.mistakes(lab.teacher, lab.class_id, lab.assignment).class_names
    assert names == tuple(i18n.t("dataset.mnist.classes"))  # the reader's language, as the Mistakes page has them
    both = (ana_best != y) & (mar != y) & np.isin(y, (3, 5))  # the images both networks get wrong come first
    assert [example.networks for example in first.examples][:1] == [2] and both.sum() > 0
    assert all(both[example.index] for example in first.examples if example.networks == 2)
    assert all(np.array_equal(example.image, lab.data.x_test[example.index]) for example in first.examples)


def test_the_sweep_has_a_row_per_attempt_and_the_luck_of_a_single_run(lab):
    y = lab.data.y_test
    lab.attempt("Ana", swapped(y, 0.2), seed=1)
    lab.attempt("Luis", swapped(y, 0.6), seed=2)  # the same settings, another seed
    lab.attempt("Mar", swapped(y, 0.1), optimizer="sgd", learning_rate=0.1, dropout=0.25)
    found = class_views.sweep(lab.teacher, lab.class_id, lab.assignment)
    assert len(found.rows) == 3 and "nickname" not in found.rows[0]  # names only when asked
    assert [(row["optimizer"], row["learning_rate"], row["dropout"], row["seed"]) for row in found.rows] == [
        ("adam", 0.001, None, 1), ("adam", 0.001, None, 2), ("sgd", 0.1, 0.25, 0)]
    accuracies = [float(np.mean(swapped(y, share) == y)) for share in (0.2, 0.6, 0.1)]
    assert [row["test_accuracy"] for row in found.rows] == pytest.approx(accuracies)
    spread = accuracies[0] - accuracies[1]
    assert found.luck == i18n.Message("classview.luck", groups=1, largest=pytest.approx(spread),
                                      median=pytest.approx(spread))
    named = class_views.sweep(lab.teacher, lab.class_id, lab.assignment, names=True)
    assert [row["nickname"] for row in named.rows] == ["Ana", "Luis", "Mar"]


def test_a_new_run_is_added_without_reading_the_others_again(lab):
    y = lab.data.y_test
    lab.attempt("Ana", swapped(y, 0.5), seed=1)
    lab.attempt("Luis", swapped(y, 0.3, 4, 9))
    before = class_views.mistakes(lab.teacher, lab.class_id, lab.assignment)
    aggregate = class_aggregate.current(lab.store, lab.class_id, lab.assignment, "mnist")
    assert aggregate.records_read == 2
    class_views.sweep(lab.teacher, lab.class_id, lab.assignment)  # a redraw with nothing new reads no record
    assert aggregate.records_read == 2
    better = swapped(y, 0.05, 7, 1)
    lab.attempt("Ana", better, seed=2)  # Ana's new best takes the place of her old one
    after = class_views.mistakes(lab.teacher, lab.class_id, lab.assignment)
    assert class_aggregate.current(lab.store, lab.class_id, lab.assignment, "mnist") is aggregate
    assert aggregate.records_read == 3  # the new run's record only
    np.testing.assert_array_equal(after.matrix, confusion(y, better) + confusion(y, swapped(y, 0.3, 4, 9)))
    assert not np.array_equal(before.matrix, after.matrix)
    assert len(class_views.sweep(lab.teacher, lab.class_id, lab.assignment).rows) == 3
    assert aggregate.records_read == 3


def test_a_run_written_again_under_its_id_counts_its_new_accuracy(lab):
    """A stopped run trained again is stored under the same id: the sweep and the sum count what is there now."""
    y = lab.data.y_test
    first, again = swapped(y, 0.5), swapped(y, 0.1, 4, 9)
    run = lab.attempt("Ana", first, seed=1)
    lab.attempt("Luis", swapped(y, 0.3, 7, 1))
    before = class_views.sweep(lab.teacher, lab.class_id, lab.assignment, names=True)
    assert {row["nickname"]: row["test_accuracy"] for row in before.rows}["Ana"] == pytest.approx(np.mean(first == y))
    assert make_run(lab.store, run.config, again, lab.data).id == run.id  # the same id, a new record
    after = class_views.sweep(lab.teacher, lab.class_id, lab.assignment, names=True)
    assert {row["nickname"]: row["test_accuracy"] for row in after.rows}["Ana"] == pytest.approx(np.mean(again == y))
    np.testing.assert_array_equal(class_views.mistakes(lab.teacher, lab.class_id, lab.assignment).matrix,
                                  confusion(y, again) + confusion(y, swapped(y, 0.3, 7, 1)))


def test_a_deleted_run_that_was_nobodys_best_leaves_the_sweep(lab):
    y = lab.data.y_test
    worse, best = swapped(y, 0.5), swapped(y, 0.1, 4, 9)
    gone = lab.attempt("Ana", worse, seed=1)
    lab.attempt("Ana", best, seed=2)
    assert [row["seed"] for row in class_views.sweep(lab.teacher, lab.class_id, lab.assignment).rows] == [1, 2]
    lab.store.delete(gone.id)
    assert [row["seed"] for row in class_views.sweep(lab.teacher, lab.class_id, lab.assignment).rows] == [2]
    np.testing.assert_array_equal(class_views.mistakes(lab.teacher, lab.class_id, lab.assignment).matrix,
                                  confusion(y, best))


def test_a_run_not_stored_yet_joins_the_views_once_it_is(lab):
    y = lab.data.y_test
    lab.attempt("Ana", swapped(y, 0.5))
    config = TrainConfig(**SETTINGS, seed=9)
    waiting = requests.record(lab.students["Luis"], runs.run_id_for(config, lab.data), "mnist", "{}")
    with database.transaction() as session:
        session.execute(sa.update(schema.Request).where(schema.Request.id == waiting)
                        .values(assignment_id=lab.assignment))
    found = class_views.sweep(lab.teacher, lab.class_id, lab.assignment)
    assert (len(found.rows), found.waiting) == (1, 1)
    make_run(lab.store, config, y, lab.data)  # its training ends
    found = class_views.sweep(lab.teacher, lab.class_id, lab.assignment)
    assert (len(found.rows), found.waiting) == (2, 0)


def test_a_student_sees_nothing_before_handing_in_and_no_names_after(lab):
    y = lab.data.y_test
    lab.attempt("Ana", swapped(y, 0.2))
    lab.attempt("Luis", swapped(y, 0.3))
    ana = lab.students["Ana"]
    with pytest.raises(NotAllowed) as refused:
        class_views.sweep(ana, lab.class_id, lab.assignment)
    assert str(refused.value) == ("You will see the class's sweep and mistakes for “Optimizers” once you have handed "
                                  "it in.")
    lab.hand_in("Ana", handed=False)  # a worksheet saved, not handed in
    with pytest.raises(NotAllowed):
        class_views.mistakes(ana, lab.class_id, lab.assignment)
    with database.transaction() as session:
        session.execute(sa.update(schema.HandIn).values(handed_at=schema.now(), times=1))
    found = class_views.sweep(ana, lab.class_id, lab.assignment, names=True)  # names asked: not given
    assert len(found.rows) == 2 and not {"nickname", "run_id"} & {key for row in found.rows for key in row}
    assert class_views.mistakes(ana, lab.class_id, lab.assignment).networks == 2
    with pytest.raises(NotAllowed, match="shown by the teacher"):
        class_views.filters(ana, lab.class_id, lab.assignment)
    with pytest.raises(NotAllowed, match="Choose one of your class's assignments"):
        class_views.sweep(ana, lab.class_id)


def test_another_class_its_teacher_and_guests_are_refused(lab):
    lab.attempt("Ana", swapped(lab.data.y_test, 0.2))
    other = sessions.person(accounts.add_teacher("Other", "a-long-password").id)
    elsewhere = classes.create(other.person_id, "Another class")
    stranger = sessions.person(classes.join(elsewhere.join_code, "Eva", "127.0.0.1")[0].id)
    for who in (other, stranger, sessions.GUEST):
        for view in (class_views.sweep, class_views.mistakes, class_views.filters):
            with pytest.raises(NotAllowed) as refused:
                view(who, lab.class_id, lab.assignment)
            assert str(refused.value) == ("Only the class's teacher and its students see what the class learned "
                                          "together.")


def test_a_teacher_asking_for_another_classs_assignment_is_refused(lab):
    """The teacher of two classes asks for the class of the lab with the other class's assignment: refused, its runs
    are not shown under this class (nor the other teacher's assignment's)."""
    lab.attempt("Ana", swapped(lab.data.y_test, 0.2))
    second = classes.create(lab.teacher.person_id, "CNN 2028")
    theirs = assignments.create(lab.teacher, second.id, "Kernels", *assignments.from_report("A")).id
    other = sessions.person(accounts.add_teacher("Other", "a-long-password").id)
    elsewhere = classes.create(other.person_id, "Another class")
    foreign = assignments.create(other, elsewhere.id, "Strides", *assignments.from_report("A")).id
    for assignment_id in (theirs, foreign, 10_000):
        for view in (class_views.sweep, class_views.mistakes, class_views.filters, class_views.datasets_of):
            with pytest.raises(NotAllowed) as refused:
                view(lab.teacher, lab.class_id, assignment_id)
            assert str(refused.value) == ("That assignment is not one of this class's: choose one of this class's own "
                                          "assignments.")
    assert class_views.access(lab.teacher, lab.class_id, lab.assignment) == class_views.ALL
    assert class_views.access(lab.teacher, second.id, theirs) == class_views.ALL
    assert len(class_views.sweep(lab.teacher, lab.class_id, lab.assignment).rows) == 1


def test_a_students_private_pictures_never_appear_to_who_may_not_use_them(lab):
    y = lab.data.y_test
    lab.attempt("Ana", swapped(y, 0.2))
    ana, luis = lab.students["Ana"], lab.students["Luis"]
    key = ownership.key_for("leaves", ana)
    ownership.mark_owner(key, ana)  # Ana's own pictures, private to her (and her teacher)
    for name, who in (("Ana", ana), ("Luis", luis)):
        made = requests.record(who, "0123456789abcdef", key, "{}")
        with database.transaction() as session:
            session.execute(sa.update(schema.Request).where(schema.Request.id == made)
                            .values(assignment_id=lab.assignment))
        lab.hand_in(name)
    assert class_views.datasets_of(lab.teacher, lab.class_id, lab.assignment) == [(key, 2), ("mnist", 1)]
    assert class_views.datasets_of(ana, lab.class_id, lab.assignment) == [(key, 2), ("mnist", 1)]
    assert class_views.datasets_of(luis, lab.class_id, lab.assignment) == [("mnist", 1)]
    assert class_views.sweep(luis, lab.class_id, lab.assignment).dataset == "mnist"  # the most tried he may see
    with pytest.raises(DatasetUnavailable):
        class_views.sweep(luis, lab.class_id, lab.assignment, dataset=key)


def test_the_filters_are_each_best_networks_first_layer_read_from_its_weights(lab):
    import keras

    from cnnlab.insight import inspection
    from cnnlab.networks import keras_build

    y = lab.data.y_test
    config = TrainConfig(**SETTINGS, seed=1)
    keras.utils.set_random_seed(7)
    other = keras_build.build(config.layers, lab.data.info.image_shape, 10, name="fast", within_limits=False)
    lab.attempt("Ana", swapped(y, 0.1), seed=1)  # weights_of: the same untrained network for both settings
    path = lab.store.root / "other.weights.h5"
    other.save_weights(path)
    luis = make_run(lab.store, TrainConfig(**SETTINGS, seed=2), swapped(y, 0.4), lab.data, weights=path.read_bytes())
    made = requests.record(lab.students["Luis"], luis.id, "mnist", "{}")
    with database.transaction() as session:
        session.execute(sa.update(schema.Request).where(schema.Request.id == made)
                        .values(assignment_id=lab.assignment))
    found = class_views.filters(lab.teacher, lab.class_id, lab.assignment)
    assert [str(f.label) for f in found] == ["Network 1", "Network 2"]  # best first, no names
    kernel = other.get_layer(inspection.conv_layer_names(other)[0]).get_weights()[0]  # (k, k, in, out)
    np.testing.assert_array_equal(found[1].grid, inspection.kernel_grid(kernel, scale=8)[0])
    assert (found[1].count, found[1].kernel, found[1].depth) == (kernel.shape[3], kernel.shape[0], kernel.shape[2])
    assert not np.array_equal(found[0].grid, found[1].grid)
    assert weights_of(config, lab.data.info)  # Ana's: the untrained network bench.class_views writes
    named = class_views.filters(lab.teacher, lab.class_id, lab.assignment, names=True)
    assert [f.label for f in named] == ["Ana", "Luis"]


def test_a_best_run_deleted_by_the_teacher_leaves_the_sum_and_its_student_keeps_their_next_best(lab):
    y = lab.data.y_test
    worse, best = swapped(y, 0.5), swapped(y, 0.1, 4, 9)
    lab.attempt("Ana", worse, seed=1)
    gone = lab.attempt("Ana", best, seed=2)
    np.testing.assert_array_equal(class_views.mistakes(lab.teacher, lab.class_id, lab.assignment).matrix,
                                  confusion(y, best))
    lab.store.delete(gone.id)
    found = class_views.mistakes(lab.teacher, lab.class_id, lab.assignment)
    np.testing.assert_array_equal(found.matrix, confusion(y, worse))  # counted again: the sum holds no deleted run
    assert [row["seed"] for row in class_views.sweep(lab.teacher, lab.class_id, lab.assignment).rows] == [1]


def test_the_projector_shows_only_what_the_class_may_see(lab):
    """The class's attempts on the whole of MNIST (made before an assignment held part of its test images back) are
    the teacher's to look at, but on the projector the class would see the held-back images: refused there, as to the
    class; Ana's own pictures (private to her) are left out of the projector too."""
    y = lab.data.y_test
    lab.attempt("Ana", swapped(y, 0.2))
    ana = lab.students["Ana"]
    key = ownership.key_for("leaves", ana)
    ownership.mark_owner(key, ana)
    requests.record(ana, "0123456789abcdef", key, "{}")
    rules = assignments.Rules("mnist", "fast", {"dataset": {"mode": "locked", "value": "mnist"}})
    assignments.create(lab.teacher, lab.class_id, "Digits, held out", rules, [])  # holds 30 % of MNIST's test back
    mine = [name for name, _ in class_views.datasets_of(lab.teacher, lab.class_id)]
    assert "mnist" in mine and key in mine
    assert class_views.datasets_of(lab.teacher, lab.class_id, projector=True) == []
    assert class_views.mistakes(lab.teacher, lab.class_id, dataset="mnist").networks == 1  # the teacher's own look
    for view in (class_views.mistakes, class_views.sweep, class_views.filters):
        with pytest.raises(DatasetUnavailable, match="not open to you now"):  # the sentence the class would read
            view(lab.teacher, lab.class_id, dataset="mnist", projector=True)
        with pytest.raises(DatasetUnavailable):
            view(lab.teacher, lab.class_id, dataset=key, projector=True)
