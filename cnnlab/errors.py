"""Errors a student can act on: each message says what went wrong and what to change."""


class CnnlabError(ValueError):
    """Base class: the message is meant to be shown as it is, in a page or on one CLI line."""


class DatasetUnavailable(CnnlabError):
    """No source of the dataset is available; the message says how to get one."""


class SpecError(CnnlabError):
    """A layer spec that cannot build; the message names the layer and the fix."""


class ConfigError(CnnlabError):
    """A training setting out of range, or a combination that cannot work."""


class TrainingDiverged(CnnlabError):
    """The loss became NaN or infinite; nothing is stored."""
