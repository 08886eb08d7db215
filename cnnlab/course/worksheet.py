"""A worksheet: an assignment's steps in order, each with the training it needs, and the numbers of a student's own
runs to set beside each question.

A course report's assignment asks for its experiments, one step each (at the length this machine offers); one made
from scratch asks for the starting settings, then one change the rules allow, then a comparison. The evidence is
what the runs measured (settings, accuracies, losses); no sentence here judges it: the student writes the answer.
"""

import dataclasses

from cnnlab import i18n, training
from cnnlab.classroom import requests, schema
from cnnlab.course import assignments, experiments, handins
from cnnlab.course.trainable import starting_config  # the pages ask the worksheet where it starts
from cnnlab.errors import CnnlabError
from cnnlab.i18n import Message


@dataclasses.dataclass(frozen=True)
class Step:
    """One step: "train" (the training it needs, config), "change" (one setting the student picks within the rules),
    or "compare" (their runs side by side)."""

    kind: str
    text: Message
    config: training.TrainConfig | None = None


def changeable(rules):
    """The settings a student may change (every one not locked), in the TrainConfig's order."""
    return [name for name in assignments.FIELDS if rules.rule(name)["mode"] != "locked"]


def steps(assignment, gpu=False):
    """The worksheet's steps in order (see Step)."""
    rules = assignments.rules_of(assignment)
    found = []
    if assignment.report in experiments.REPORTS:
        most = rules.rule("epochs").get("max") or rules.budget.get("epochs")
        for experiment in experiments.of_report(assignment.report):
            epochs = experiment.suggested_epochs(gpu)
            config = experiment.config(min(epochs, most) if most else epochs)
            try:
                rules.check(config)
            except CnnlabError:  # the teacher changed the report's rules: this experiment is not part of it
                continue
            found.append(Step("train", Message("worksheet.step_experiment", id=experiment.id,
                                               title=Message(experiment.title_key)), config))
    else:
        found.append(Step("train", Message("worksheet.step_start"), starting_config(rules)))
        names = changeable(rules)
        if names:
            found.append(Step("change", Message("worksheet.step_change", settings=[
                Message(assignments.SETTING_NAMES[name]) for name in names])))
    found.append(Step("compare", Message("worksheet.step_compare")))
    return found


def runs_for(who, assignment, store):
    """The student's runs for the assignment (those they asked for it) still stored, newest first."""
    if who.person_id is None:
        return []
    ids = requests.runs_asked(who.person_id, assignment.id)
    return [run for run in (store.get(run_id) for run_id in ids) if run is not None]


def _last(history, key):
    values = history.get(key) or []
    return i18n.percent(values[-1]) if values else "—"


def evidence(runs):
    """The numbers of each run, as rows of a table: settings, epochs trained, the last training and validation
    accuracies and the test accuracy and loss (no verdict)."""
    return [{"run": run.id[:8], "network": run.config.architecture_name, "optimizer": run.config.optimizer,
             "learning_rate": i18n.number(run.config.learning_rate, "g"), "batch_size": run.config.batch_size,
             "dropout": "—" if run.config.dropout is None else i18n.number(run.config.dropout, "g"),
             "epochs": run.record["epochs_completed"], "train": _last(run.history, "accuracy"),
             "validation": _last(run.history, "val_accuracy"), "test": i18n.percent(run.test_accuracy),
             "loss": i18n.number(run.test_loss, ".4f")} for run in runs]


def open_for(who):
    """A signed-in student's class's assignments still open (no due time, or not yet past it), newest first, each
    with their hand-in (None: nothing saved)."""
    if who.role != "student" or who.class_id is None:
        return []
    found = []
    for assignment in assignments.of_class(who, who.class_id):
        if assignment.due_at is None or assignment.due_at > schema.now():
            found.append((assignment, handins.mine(who, assignment)))
    return found
