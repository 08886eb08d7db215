"""What the class learned together: its sweep (every attempt's settings against its test accuracy, and how much luck
is in a single run), its mistakes (the confusion matrices of every student's best run added up, the pairs most of
the class confuses, with example images) and its filters (the first layer of every student's best run).

Who sees what is decided here (access), for every page and command alike: the class's teacher and the owner see
everything, students' nicknames only when they ask (names=True); a student of the class sees the sweep and the
mistakes of an assignment, without names, once they have handed it in; everyone else is refused with a sentence.
Attempts on a student's private pictures appear only to those who may use them (cnnlab.data.ownership.may_use).

The attempts are counted incrementally (cnnlab.insight.class_aggregate): a redraw reads the records of new runs only.
Everything returns rows, arrays and Messages; cnnlab.insight.class_charts draws them and pages/13_Class.py places them.
"""

import collections
import dataclasses
import functools

import numpy as np
import sqlalchemy as sa

from cnnlab.classroom import database, permissions, requests, schema
from cnnlab.data import catalogue, ownership
from cnnlab.errors import CnnlabError, NotAllowed
from cnnlab.i18n import Message
from cnnlab.insight import class_aggregate, inspection

ALL, ANONYMOUS = "all", "anonymous"  # what access() grants: names when asked, or never
TOP_PAIRS = 3  # a network "confuses" two classes when they are among its three most mixed-up pairs


def access(who, class_id, assignment_id=None):
    """ALL for the class's teacher and the owner; ANONYMOUS for a student of the class who handed in the assignment;
    else NotAllowed with the sentence that says why. An assignment asked for must be one of this class's, for the
    teacher too: one of another class would show that class's runs under this one."""
    if who.role in ("owner", "teacher"):
        if not requests.may_see_class(who, class_id):
            raise NotAllowed("classview.not_yours")
        if assignment_id is not None:
            with database.transaction() as session:
                assignment = session.get(schema.Assignment, assignment_id)
            if assignment is None or assignment.class_id != class_id:
                raise NotAllowed("classview.other_class")
        return ALL
    if who.role != "student" or who.person_id is None:
        raise NotAllowed("classview.not_yours")
    with database.transaction() as session:
        member = session.get(schema.Membership, (who.person_id, class_id))
        assignment = session.get(schema.Assignment, assignment_id) if assignment_id is not None else None
        hand_in = session.scalar(sa.select(schema.HandIn).where(schema.HandIn.assignment_id == assignment_id,
                                                                schema.HandIn.person_id == who.person_id))
    if member is None:
        raise NotAllowed("classview.not_yours")
    if assignment is None or assignment.class_id != class_id:
        raise NotAllowed("classview.choose_assignment")
    if hand_in is None or hand_in.handed_at is None:
        raise NotAllowed("classview.hand_in_first", title=assignment.title)
    return ANONYMOUS


def require_filters(who, class_id, assignment_id=None):
    """The class's filters are its teacher's to show (the issue gives students the sweep and the mistakes)."""
    if access(who, class_id, assignment_id) != ALL:
        raise NotAllowed("classview.filters_teacher")


def datasets_of(who, class_id, assignment_id=None, projector=False):
    """[(dataset, attempts)] of the class that who may see, most attempted first; on the projector, only those the
    whole class may see too (audience)."""
    access(who, class_id, assignment_id)
    return _datasets(who, class_id, assignment_id, projector)


def audience(class_id):
    """Who the projector shows things to: the class, as a student of it who is nobody in particular (no student's
    private pictures, no dataset an assignment holds back from the class, no other class's copy)."""
    return permissions.Who("student", -1, "", class_id)


def _datasets(who, class_id, assignment_id, projector=False):
    taught, room = {}, audience(class_id)
    found = class_aggregate.datasets(class_id, assignment_id)
    return sorted(((name, count) for name, count in found.items() if ownership.may_use(who, name, taught)
                   and (not projector or ownership.may_use(room, name))), key=lambda item: (-item[1], item[0]))


def _aggregate(who, class_id, assignment_id, dataset, store, projector=False):
    """(access granted, the dataset, its Aggregate or None when the class has no attempt who may see); on the
    projector, a dataset the class may not see is refused as it would be to them (a teacher's whole MNIST, while an
    assignment holds part of its test images back from the class, shows those images)."""
    granted = access(who, class_id, assignment_id)
    if dataset is None:
        shown = _datasets(who, class_id, assignment_id, projector)
        if not shown:
            return granted, None, None
        dataset = shown[0][0]
    ownership.require_use(who, dataset)
    if projector:
        ownership.require_use(audience(class_id), dataset)
    return granted, dataset, class_aggregate.current(store, class_id, assignment_id, dataset)


def _store(store):
    if store is not None:
        return store
    from cnnlab import runs

    return runs.RunStore()


# ---------------------------------------------------------------- the class's sweep

@dataclasses.dataclass(frozen=True)
class Sweep:
    dataset: str | None
    rows: list  # one dict per attempt: its settings and test accuracy (and "nickname" when names are shown)
    luck: Message  # how much a single run's accuracy owes to its seed
    waiting: int  # attempts without a finished run in the store (in line, training, stopped, deleted)
    names: bool


SHOWN = ("architecture", "optimizer", "learning_rate", "batch_size", "dropout", "epochs", "seed", "augment",
         "train_size", "test_accuracy")


def sweep(who, class_id, assignment_id=None, dataset=None, names=False, store=None, projector=False):
    """Every attempt of the class on a dataset, one row each, and a sentence on the luck in a single run."""
    granted, dataset, aggregate = _aggregate(who, class_id, assignment_id, dataset, _store(store), projector)
    names = bool(names) and granted == ALL
    if aggregate is None:
        return Sweep(None, [], Message("classview.luck_none"), 0, names)
    with aggregate.lock:
        kept = [aggregate.rows[key] for key in sorted(aggregate.rows)]
        waiting, spreads = len(aggregate.waiting), list(aggregate.spreads.values())
    rows = []
    for row in kept:
        shown = {name: row[name] for name in SHOWN}
        if names:
            shown = {"nickname": row["nickname"], **shown, "run_id": row["run_id"]}
        rows.append(shown)
    return Sweep(dataset, rows, luck(spreads), waiting, names)


def luck(spreads):
    """A sentence on how much test accuracy moves between runs that differ only in their seed; spreads: for each set
    of settings trained with several seeds, its highest accuracy minus its lowest."""
    if not spreads:
        return Message("classview.luck_none")
    return Message("classview.luck", groups=len(spreads), largest=max(spreads), median=float(np.median(spreads)))


# ---------------------------------------------------------------- the class's mistakes

@dataclasses.dataclass(frozen=True)
class Example:
    index: int  # in the test set
    true: int
    predicted: int
    networks: int  # how many of the class's best networks make this very mistake
    image: np.ndarray  # uint8 (h, w) or (h, w, 3)


@dataclasses.dataclass(frozen=True)
class Pair:
    first: int
    second: int
    names: tuple  # the two class names, in the reader's language
    networks: int  # best networks that have this pair among their TOP_PAIRS most mixed-up pairs
    of: int  # best networks in all
    count: int  # test images mixed up between the two, both ways, all best networks together
    examples: list  # Example, most often mistaken first

    @property
    def message(self):
        if self.of == 1:
            return Message("classview.pair_one", first=self.names[0], second=self.names[1])
        return Message("classview.pair", count=self.networks, total=self.of, first=self.names[0],
                       second=self.names[1])


@dataclasses.dataclass(frozen=True)
class Mistakes:
    dataset: str | None
    matrix: np.ndarray | None  # (classes, classes): true rows, predicted columns, every best run added up
    class_names: tuple
    networks: int  # best runs added up (one per student)
    pairs: list  # Pair, most shared first
    images_missing: object = None  # a sentence when the test images are not on this server


def mistakes(who, class_id, assignment_id=None, dataset=None, store=None, top=3, examples=6, projector=False):
    """The confusion matrices of every student's best run added up, and the pairs most of the class confuses."""
    store = _store(store)
    _, dataset, aggregate = _aggregate(who, class_id, assignment_id, dataset, store, projector)
    if aggregate is None:
        return Mistakes(None, None, (), 0, [])
    with aggregate.lock:
        size, best = aggregate.networks()
        matrix = None if size is None else aggregate.totals[size].copy()
    if not best:
        return Mistakes(dataset, None, (), 0, [])
    names = _class_names(dataset, best[0], size)
    ranked = shared_pairs([row["matrix"] for row in best], top)
    pictures, missing = _pictures(store, best) if examples > 0 else (None, None)
    pairs = [Pair(a, b, (names[a], names[b]), networks, len(best), int(matrix[a, b] + matrix[b, a]),
                  _examples(pictures, a, b, examples))
             for (a, b), networks in ranked[:top]]
    return Mistakes(dataset, matrix, names, len(best), pairs, missing)


def shared_pairs(matrices, top=TOP_PAIRS):
    """[((a, b), networks)] with a < b: how many networks have a and b among their `top` most mixed-up pairs (both
    directions counted), most networks first, then most mixed-up images."""
    networks, images = collections.Counter(), collections.Counter()
    for matrix in matrices:
        both = np.triu(np.asarray(matrix) + np.asarray(matrix).T, k=1)  # (classes, classes): mix-ups each way
        for flat in np.argsort(-both, axis=None, kind="stable")[:top]:
            a, b = np.unravel_index(flat, both.shape)
            if both[a, b] > 0:
                networks[(int(a), int(b))] += 1
                images[(int(a), int(b))] += int(both[a, b])
    return sorted(networks.items(), key=lambda item: (-item[1], -images[item[0]], item[0]))


def _class_names(dataset, row, size):
    """The class names in the reader's language (an imported dataset's own, of the very copy the run used)."""
    try:
        names = catalogue.get_info(dataset, fingerprint=row["fingerprint"]).class_names
    except CnnlabError:
        names = ()
    return tuple(names) if len(names) == size else tuple(str(i) for i in range(size))


def _pictures(store, best):
    """((x_test, y_test, [predicted labels of each best run on that test set]) or None, a sentence or None)."""
    same = collections.Counter(row["test_fingerprint"] for row in best).most_common(1)[0][0]
    chosen = [row for row in best if row["test_fingerprint"] == same]
    predicted, y_test = [], None
    for row in chosen:
        found = _predicted(store, row["run_id"])
        if found is not None and (y_test is None or np.array_equal(found[1], y_test)):
            predicted.append(found[0])
            y_test = found[1]
    run = store.get(chosen[0]["run_id"])
    try:
        data = run.data() if run is not None else None
    except CnnlabError as error:
        return None, error.message
    if data is None or y_test is None or len(data.x_test) != len(y_test):
        return None, Message("mistakes.no_images")
    return (data.x_test, y_test, predicted), None


@functools.lru_cache(maxsize=256)
def _labels(store, run_id, version):
    run = store.get(run_id)
    probabilities, y_test = run.predictions()
    return np.argmax(probabilities, axis=1).astype(np.int16), np.asarray(y_test)


def _predicted(store, run_id):
    """(predicted labels, true labels) of a stored run's test set, read once per version; None when unreadable."""
    run = store.get(run_id)
    if run is None:
        return None
    try:
        return _labels(store, run_id, run.version)
    except CnnlabError:
        return None


def _examples(pictures, a, b, most):
    """The test images of classes a and b that most of the class's networks take for the other one."""
    if pictures is None or most <= 0:
        return []
    x_test, y_test, predicted = pictures
    other = np.where(y_test == a, b, a)  # for an image of a: b, and the other way round
    candidates = np.flatnonzero((y_test == a) | (y_test == b))
    counts = sum((labels[candidates] == other[candidates]).astype(np.int32) for labels in predicted)
    if np.isscalar(counts) or not len(candidates):
        return []
    order = np.argsort(-counts, kind="stable")[:most]
    return [Example(int(candidates[i]), int(y_test[candidates[i]]), int(other[candidates[i]]), int(counts[i]),
                    x_test[candidates[i]]) for i in order if counts[i] > 0]


# ---------------------------------------------------------------- the class's filters

@dataclasses.dataclass(frozen=True)
class Filters:
    label: object  # "Network 3" (a Message), or the student's nickname when names are shown
    test_accuracy: float
    grid: np.ndarray  # uint8: every first-layer filter, side by side
    count: int
    kernel: int
    depth: int


def filters(who, class_id, assignment_id=None, dataset=None, names=False, store=None, projector=False):
    """The first-layer filters of every student's best run, best accuracy first (networks without a conv layer are
    left out). Each network is rebuilt from its settings and its weights loaded (no model file is ever loaded)."""
    require_filters(who, class_id, assignment_id)
    store = _store(store)
    _, dataset, aggregate = _aggregate(who, class_id, assignment_id, dataset, store, projector)
    if aggregate is None:
        return []
    with aggregate.lock:
        best = aggregate.networks()[1]
    shown = []
    for number, row in enumerate(best, start=1):
        found = _first_layer(store, row["run_id"])
        if found is None:
            continue
        grid, (count, kernel, _, depth) = found
        label = row["nickname"] if names else Message("classview.network", number=number)
        shown.append(Filters(label, row["test_accuracy"], grid, count, kernel, depth))
    return shown


@functools.lru_cache(maxsize=128)
def _filter_grid(store, run_id, version):
    model = store.get(run_id).build_model()
    names = inspection.conv_layer_names(model)
    if not names:
        return None
    return inspection.kernel_grid(model.get_layer(names[0]).get_weights()[0], scale=8)


def _first_layer(store, run_id):
    run = store.get(run_id)
    if run is None:
        return None
    try:
        return _filter_grid(store, run_id, run.version)
    except CnnlabError:
        return None
