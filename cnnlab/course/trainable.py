"""Whether an assignment's rules can be trained at all: every value a teacher typed (a locked optimizer, a choice of
networks, the ends of a range) is one a training takes, on a dataset the teacher may use, with a network that builds
on its images; and the settings a scratch worksheet starts from. Asked when an assignment is made
(cnnlab.course.assignments.create), so a mistake is one sentence to its teacher, never a worksheet that breaks for
every student. Also how a setting and its value are named in the assignments' sentences.
"""

import dataclasses

from cnnlab import training
from cnnlab.data import catalogue, ownership
from cnnlab.errors import CnnlabError, ConfigError
from cnnlab.i18n import Message

FIELDS = tuple(field.name for field in dataclasses.fields(training.TrainConfig))  # the settings a rule may name
SETTING_NAMES = {  # catalogue keys: the setting's name inside a sentence ("locks the optimizer to …")
    "dataset": "assignment.setting.dataset", "architecture": "assignment.setting.architecture",
    "epochs": "assignment.setting.epochs", "batch_size": "assignment.setting.batch_size",
    "optimizer": "assignment.setting.optimizer", "learning_rate": "assignment.setting.learning_rate",
    "dropout": "assignment.setting.dropout", "validation_split": "assignment.setting.validation_split",
    "train_size": "assignment.setting.train_size", "seed": "assignment.setting.seed",
    "augment": "assignment.setting.augment",
}
NONE_SHOWN = {"dropout": "report.dropout_own", "train_size": "assignment.value_all_images"}  # what None means


def shown(name, value):
    """A setting's value as a sentence shows it, worded when shown (numbers the reader's way)."""
    if value is None:
        return Message(NONE_SHOWN.get(name, "assignment.value_default"))
    if isinstance(value, bool):
        return Message("assignment.value_on" if value else "assignment.value_off")
    if isinstance(value, (list, tuple)):
        return Message("assignment.value_custom")
    return Message("assignment.value", value=value)


def dataset_name(name):
    """A dataset's name as a rule keeps it: lower case, an alias as its dataset ("Fashion-MNIST" is fashion_mnist)."""
    key = str(name).strip().lower()
    return catalogue.ALIASES.get(key, key)


def starting_config(rules):
    """The settings a scratch worksheet starts from: the rules' dataset and network, each locked value, the first
    of each choice, a range's lower end unless the default lies in it; epochs within the budget."""
    values = {}
    default = training.TrainConfig(dataset=rules.dataset, architecture=rules.architecture)
    for name in FIELDS:
        rule, current = rules.rule(name), getattr(default, name)
        if rule["mode"] == "locked":
            values[name] = rule["value"]
        elif rule["mode"] == "choice":
            values[name] = rule["values"][0]
        elif rule["mode"] == "range" and not (current is not None and rule["min"] <= current <= rule["max"]):
            values[name] = rule["min"]
    values.setdefault("dataset", rules.dataset)
    values.setdefault("architecture", rules.architecture)
    most = rules.budget.get("epochs")
    config = training.TrainConfig(**values)
    return dataclasses.replace(config, epochs=min(config.epochs, most)) if most else config


def require_trainable(who, rules):
    """Nothing when every student of the assignment could train what its rules allow; else ConfigError naming the
    setting and the value (assignment.unusable). Each value the rules name (the starting dataset and network, each
    locked value, each choice, each end of a range) must be a setting a training takes (training.TrainConfig), a
    dataset who (the teacher) may use, and, put into the starting settings, a network that builds on the dataset's
    images within the server's limits (training.check_layers)."""
    values = _values(rules)
    defaults = training.TrainConfig().to_dict()
    for name, value in values:  # each on its own first, so the sentence names the setting at fault
        _trainable(who, name, value, lambda: training.TrainConfig(**{**defaults, name: value}))
    start = starting_config(rules)
    for name, value in values:
        _trainable(who, name, value, lambda: training.check_layers(dataclasses.replace(start, **{name: value})))


def _values(rules):
    """(setting, value) of each value the rules name: the starting dataset and network, then each rule's."""
    found = [("dataset", rules.dataset), ("architecture", rules.architecture)]
    for name in FIELDS:
        rule = rules.rule(name)
        named = {"locked": [rule.get("value")], "choice": rule.get("values"),
                 "range": [rule.get("min"), rule.get("max")]}
        found += [(name, value) for value in named.get(rule["mode"]) or []]
    return found


def _trainable(who, name, value, make):
    """make() (and, for a dataset, whether who may use it); a refusal as the assignment's sentence."""
    try:
        if name == "dataset":
            ownership.require_use(who, value)
        make()
    except CnnlabError as error:
        raise ConfigError("assignment.unusable", setting=Message(SETTING_NAMES[name]), value=shown(name, value),
                          error=error.message) from None
