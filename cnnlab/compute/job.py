"""One requested training as the queue (cnnlab.compute.jobs) keeps it and the pages read it, and the refusal of a
student's second training."""

import dataclasses

from cnnlab.classroom import permissions
from cnnlab.errors import CnnlabError


@dataclasses.dataclass
class Job:
    """One requested training; read by pages while the worker updates it."""

    id: str  # the run id the settings will have on this data
    config: object  # TrainConfig
    number: int
    dataset: object = dataclasses.field(default=None, repr=False)  # the Dataset chosen when it was asked for
    requested_by: set = dataclasses.field(default_factory=set)  # course experiments that asked for it
    waiters: set = dataclasses.field(default_factory=set)  # students waiting for it (empty: the CLI or a test)
    estimate_seconds: float = 0.0
    status: str = "queued"  # queued | running | done | failed
    history: dict = dataclasses.field(default_factory=dict)  # grows epoch by epoch
    batch: int = 0  # batches done in the current epoch
    steps: int = 1  # batches per epoch
    cached: bool = False
    error: str | None = None
    stop_requested: bool = False
    started: float | None = None
    finished: float | None = None
    trained_on: dict | None = None  # where it trained (cnnlab.compute.executors), once done
    requests: dict = dataclasses.field(default_factory=dict)  # waiter -> their request's id in the database
    prepared: bool = False  # a teacher's, ahead of class: students who join and leave never end it
    asked_by: object = permissions.OWNER  # who made it (a Who): where it trains asks again (a Ray task too)
    groups: dict = dataclasses.field(default_factory=dict, repr=False)  # waiter -> their repeat (seed_groups)
    overtaken: int = 0  # trainings behind it that went first, their network warm on a free worker (warm_order)

    @property
    def epochs_done(self):
        return len(self.history.get("loss", []))

    @property
    def fraction(self):
        """Progress in [0, 1] across all epochs."""
        if self.status == "done":
            return 1.0
        return min(1.0, (self.epochs_done + self.batch / max(self.steps, 1)) / self.config.epochs)


class AlreadyQueued(CnnlabError):
    """The student already has a training queued or running; `job` is that one."""

    def __init__(self, job):
        super().__init__("error.queue.one_each", name=job.config.architecture_name, epochs=job.config.epochs)
        self.job = job
