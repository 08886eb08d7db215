"""The run store: every finished training, kept on disk under its id (the hash of its settings and data).

entries: one stored run (Run) and how its files are checked; store: the store itself (RunStore), its locks, and the
one entry point that finds a run or trains it once (RunStore.get_or_train); estimates: how long a training will
take, learned from the runs this server stored.
"""

from cnnlab.errors import RunInUse
from cnnlab.runs.entries import DataGone, Run, RunDamaged, RunReplaced
from cnnlab.runs.store import IN_USE_SECONDS, RunStore, run_id_for

__all__ = ["DataGone", "Run", "RunDamaged", "RunReplaced", "IN_USE_SECONDS", "RunInUse", "RunStore", "run_id_for"]
