"""Whether two or more runs can be compared like for like, and if not, why: said with every comparison.

A difference in test accuracy means something only when the runs were tested on the same images, learned from
the same training images, and trained for as long. Each answer of the Course page and Compare's "best run"
lists what differs (`caveats`), so a student never reads a ranking of a run tested on the 2,000-image sample
against one tested on 10,000 images, or of a 3-epoch run against a stopped 1-epoch one, without a word.

Whether a difference is real (cnnlab.course.statistics) is asked here of runs: two runs scored on the same test images
(`paired`), or their groups of seeds (`group_of`, `groups`); with the images they disagree on and the settings that
differ, for the Compare page and `python -m cnnlab compare`.
"""

import numpy as np

from cnnlab import i18n
from cnnlab.course import statistics
from cnnlab.i18n import Message, t


def _data(run):
    return run.record.get("data") or {}


def test_set(run):
    """What the run was tested on: its test images' fingerprint (or, for runs recorded before it, the data's
    fingerprint, copy and test size); runs with equal test sets were scored on the very same images."""
    data = _data(run)
    if data.get("test_fingerprint"):
        return ("images", data["test_fingerprint"])
    return ("data", data.get("fingerprint"), data.get("variant"), data.get("test"))


def training_set(run):
    """What the run learned from: the data's fingerprint and how many of its images it trained on."""
    data = _data(run)
    return (data.get("fingerprint"), data.get("variant"), data.get("train"))


def _test_size(run):
    data = _data(run)
    return data.get("test") or data.get("dataset_test")


def caveats(runs, labels, lengths=True):
    """[Message] why these runs' accuracies are not a like-for-like comparison ([] when they are), in this order:
    other datasets, other test images, other training images, other lengths of training (unless lengths is false:
    a question about training longer compares lengths on purpose)."""
    runs, labels = list(runs), list(labels)
    if len({run.config.dataset for run in runs}) > 1:
        return [Message("fair.datasets", runs=_each(labels, [run.info.title for run in runs]))]
    found = []
    if len({test_set(run) for run in runs}) > 1:
        found.append(Message("fair.test_sets", runs=_each(labels, [
            Message("fair.tested_on", images=_test_size(run) or 0, copy=run.variant_label) for run in runs])))
    if len({training_set(run) for run in runs}) > 1:
        found.append(Message("fair.training_sets", runs=_each(labels, [
            Message("fair.trained_on", images=_data(run).get("train") or 0, copy=run.variant_label) for run in runs])))
    epochs = [run.record.get("epochs_completed", run.config.epochs) for run in runs]
    if lengths and len(set(epochs)) > 1:
        found.append(Message("fair.epochs", runs=_each(labels, [Message("count.epochs", count=n) for n in epochs])))
    return found


def _each(labels, values):
    """['A5: 3 epochs', 'A6: 1 epoch'] as Messages, worded in the reader's language when shown."""
    return [Message("fair.item", label=label, value=value) for label, value in zip(labels, values)]


# ---------------------------------------------------------------- is the difference real? (cnnlab.course.statistics)

def refusal(run_a, run_b, labels=("A", "B")):
    """Why no paired test can be made of two runs (a Message), or None: they must be on the same dataset and scored on
    the very same test images."""
    a, b = labels
    if run_a.config.dataset != run_b.config.dataset:
        return Message("stats.reason.datasets", a=a, b=b, a_data=run_a.info.title, b_data=run_b.info.title)
    if test_set(run_a) != test_set(run_b):
        return Message("stats.reason.test_sets", a=a, b=b, **{
            f"{name}_test": Message("fair.tested_on", images=_test_size(run) or 0, copy=run.variant_label)
            for name, run in (("a", run_a), ("b", run_b))})
    return None


def paired(run_a, run_b, labels=("A", "B"), resamples=statistics.RESAMPLES, seed=0, predictions=None):
    """A statistics.Comparison of two runs image by image (test None, with the reason, when they cannot be).

    predictions(run) gives a run's (probabilities, y_test) (default Run.predictions; a page passes its cached ones)."""
    reason = refusal(run_a, run_b, labels)
    if reason is not None:
        return statistics.Comparison(None, reason=reason)
    predictions = predictions or (lambda run: run.predictions())
    (probabilities_a, y_test), (probabilities_b, y_b) = predictions(run_a), predictions(run_b)
    if not np.array_equal(y_test, y_b):  # a fingerprint names the images; this is the labels' own word on it
        return statistics.Comparison(None, reason=Message("stats.reason.labels", a=labels[0], b=labels[1]))
    return statistics.paired(probabilities_a.argmax(axis=1), probabilities_b.argmax(axis=1), y_test, resamples, seed)


def _without_seed(run):
    key = run.record.get("canonical") or run.config.canonical(run.variant, _data(run).get("fingerprint"))
    return {name: value for name, value in key.items() if name != "seed"}


def group_of(run, stored):
    """The run's group: the complete stored runs whose settings and data differ from its only in the seed (the run
    itself always among them), ordered by seed. A stopped run is alone: it is a draw of another length."""
    if not run.complete:
        return [run]
    key = _without_seed(run)
    found = {other.id: other for other in stored if other.complete and _without_seed(other) == key}
    found[run.id] = run
    return sorted(found.values(), key=lambda member: (member.config.seed, member.id))


def more_seeds(run, count):
    """The count lowest seeds other than the run's own: the seeds that `repeat` adds to its group (the same ones each
    time it is asked, so asking again trains nothing)."""
    return [seed for seed in range(count + 1) if seed != run.config.seed][:count]


def groups(run_a, run_b, stored, labels=("A", "B")):
    """(Comparison, group of A, group of B): the two runs' groups of seeds compared by their test accuracies. Groups
    on different test images are not (the reason says why); a run in both groups is the same settings twice."""
    group_a, group_b = group_of(run_a, stored), group_of(run_b, stored)
    reason = refusal(run_a, run_b, labels)
    if reason is None and {run.id for run in group_a} == {run.id for run in group_b}:
        reason = Message("stats.reason.same_group", a=labels[0], b=labels[1])
    if reason is not None:
        return statistics.Comparison(None, reason=reason), group_a, group_b
    return statistics.groups([r.test_accuracy for r in group_a], [r.test_accuracy for r in group_b]), group_a, group_b


def disagreements(probabilities_a, probabilities_b, y_test):
    """(indices A gets right and B wrong, indices A gets wrong and B right) of the test images, each most confident
    first (by the right network's probability of the true class)."""
    y_test = np.asarray(y_test)
    rows = np.arange(y_test.size)
    right_a, right_b = probabilities_a.argmax(axis=1) == y_test, probabilities_b.argmax(axis=1) == y_test
    found = []
    for only, probabilities in ((right_a & ~right_b, probabilities_a), (~right_a & right_b, probabilities_b)):
        indices = np.flatnonzero(only)
        found.append(indices[np.argsort(-probabilities[rows[indices], y_test[indices]], kind="stable")])
    return tuple(found)


def answers(index, probabilities_a, probabilities_b, y_test, class_names):
    """{true, a, a_confidence, b, b_confidence}: one test image's class and each network's top answer, by name."""
    a, b = int(probabilities_a[index].argmax()), int(probabilities_b[index].argmax())
    return {"true": class_names[int(y_test[index])],
            "a": class_names[a], "a_confidence": float(probabilities_a[index, a]),
            "b": class_names[b], "b_confidence": float(probabilities_b[index, b])}


def group_summary(label, group):
    """'A: 3 seeds, mean 97.93% ± 0.20% (± one standard deviation); each seed: seed 0: 98.00%, …' in words."""
    mean, deviation = statistics.spread([run.test_accuracy for run in group])
    values = i18n.join([t("stats.seed_value", seed=run.config.seed, accuracy=run.test_accuracy) for run in group])
    return t("stats.group", label=label, count=len(group), mean=mean, deviation=deviation, values=values)


SETTING_NAMES = {"dataset": "compare.differ.dataset", "data": "compare.differ.data",
                 "network": "compare.differ.network", "optimizer": "compare.differ.optimizer",
                 "learning_rate": "setting.learning_rate", "batch_size": "setting.batch_size",
                 "epochs": "setting.epochs", "dropout": "setting.dropout",
                 "validation_split": "setting.validation_split", "train_size": "setting.train_size",
                 "seed": "setting.seed", "augment": "compare.differ.augment"}


def _settings(run):
    """{setting: value as shown} of one run (values compared as they are shown)."""
    config = run.config
    network = config.architecture_name
    if not isinstance(config.architecture, str):
        network += ": " + " → ".join(layer.describe() for layer in config.layers)
    shown = {"dataset": run.info.title, "data": run.variant_label, "network": network}
    for name in ("optimizer", "learning_rate", "batch_size", "epochs", "dropout", "validation_split", "train_size",
                 "seed", "augment"):
        shown[name] = getattr(config, name)
    return shown


def _word(value):
    """A setting's value as the reader reads it: numbers their language's way, yes/no, a dash for none."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return t("common.yes" if value else "common.no")
    if isinstance(value, (int, float)):
        return i18n.number(value, "," if isinstance(value, int) else "g")
    return str(value)


def settings(runs):
    """([(name key, [each run's value])] of the settings that differ, [(name key, value)] of those all share), the
    values as the reader reads them."""
    each = [{name: _word(value) for name, value in _settings(run).items()} for run in runs]
    differ, shared = [], []
    for name, key in SETTING_NAMES.items():
        values = [values[name] for values in each]
        if len(set(values)) > 1:
            differ.append((key, values))
        else:
            shared.append((key, values[0]))
    return differ, shared
