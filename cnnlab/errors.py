"""Errors a student can act on: each message says what went wrong and what to change.

An error holds a catalogue key and its params (cnnlab.i18n), and is worded when it is shown, in the
language of whoever reads it.
"""

from cnnlab.i18n import Message


class CnnlabError(ValueError):
    """Base class: the message is meant to be shown as it is, in a page or on one CLI line."""

    def __init__(self, key, /, **params):
        self.message = Message(key, **params)
        super().__init__(key)

    def __str__(self):
        return str(self.message)

    def __reduce__(self):  # whole across processes (a Ray task's error reaches the app with its params)
        return _rebuild, (type(self), self.message.key, self.message.params)


def _rebuild(cls, key, params):
    error = cls.__new__(cls)
    CnnlabError.__init__(error, key, **params)
    return error


class DatasetUnavailable(CnnlabError):
    """No source of the dataset is available; the message says how to get one."""


class SpecError(CnnlabError):
    """A layer spec that cannot build; the message names the layer and the fix."""


class ConfigError(CnnlabError):
    """A training setting out of range, or a combination that cannot work."""


class RayUnavailable(CnnlabError):
    """The Ray cluster named by CNNLAB_RAY_ADDRESS or --ray cannot be reached (or Ray is not installed)."""


class TrainingLost(CnnlabError):
    """The node or process that ran a training died; nothing of it was stored."""


class RunInUse(CnnlabError):
    """A run that is being trained (its lock is held) cannot be deleted now; the message says to try again later."""


class TrainingDiverged(CnnlabError):
    """The loss became NaN or infinite; nothing is stored."""


class TrainingStoppedEarly(CnnlabError):
    """Stopped before its first epoch finished: there is no whole epoch to keep, so nothing is stored."""


class DatabaseUnavailable(CnnlabError):
    """The people's database cannot be reached, or is newer than this cnnlab; the message says what to do."""


class NotAllowed(CnnlabError):
    """Someone asked for what their role may not do; the message says who may (cnnlab.classroom.permissions)."""


class SignInRefused(CnnlabError):
    """A wrong name, password or code, a nickname already taken, too many attempts, an ended session."""
