"""Whether two or more runs can be compared like for like, and if not, why: said with every comparison.

A difference in test accuracy means something only when the runs were tested on the same images, learned from
the same training images, and trained for as long. Each answer of the Course page and Compare's "best run"
lists what differs (`caveats`), so a student never reads a ranking of a run tested on the 2,000-image sample
against one tested on 10,000 images, or of a 3-epoch run against a stopped 1-epoch one, without a word.
"""

from cnnlab.i18n import Message


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
