"""The course's experiments: every run the five reports describe, with their results and their questions.

An Experiment is a TrainConfig plus what the report said it got. Runs of an experiment live in the
normal run store, so the app and the command line see the same results. `answers()` answers each
report's questions from the stored runs, with the numbers behind each answer.
"""

import dataclasses

from cnnlab import inspection, training
from cnnlab.i18n import Message, t

CPU_EPOCHS = 30  # long experiments (hundreds of epochs) are offered at this length on a CPU, labelled as such


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One experiment of a report: its settings and what the report measured."""

    id: str
    report: str  # A–E
    title_key: str  # catalogue keys (cnnlab.i18n)
    dataset: str
    architecture: str  # a preset name
    optimizer: str
    learning_rate: float | None
    batch_size: int
    epochs: int
    validation_split: float
    reported_test_accuracy: float | None
    reported_test_loss: float | None = None
    note_key: str = ""
    assumed_keys: tuple = ()  # the settings the report leaves out, and what cnnlab picked
    dropout: float | None = None  # None: the preset's own rates

    @property
    def title(self):
        return t(self.title_key)

    @property
    def reported_note(self):
        return t(self.note_key) if self.note_key else ""

    @property
    def assumed(self):
        return [t(key) for key in self.assumed_keys]

    def config(self, epochs=None):
        """The TrainConfig of this experiment (optionally with fewer epochs)."""
        return training.TrainConfig(
            dataset=self.dataset, architecture=self.architecture, epochs=epochs or self.epochs,
            batch_size=self.batch_size, optimizer=self.optimizer, learning_rate=self.learning_rate,
            dropout=self.dropout, validation_split=self.validation_split)

    def suggested_epochs(self, gpu=False):
        """The full count on a GPU; at most CPU_EPOCHS on a CPU."""
        return self.epochs if gpu else min(self.epochs, CPU_EPOCHS)

    def matches(self, config):
        """True when a stored run's config is this experiment's, whatever its epoch count."""
        return dataclasses.replace(config, epochs=self.epochs) == self.config()

    def to_dict(self):
        data = dataclasses.asdict(self)
        for key in ("title_key", "note_key", "assumed_keys"):
            del data[key]
        data.update(title=self.title, reported_note=self.reported_note, assumed=self.assumed)
        data["learning_rate"] = self.config().learning_rate
        return data


REPORTS = {"A": "report.A", "B": "report.B", "C": "report.C", "D": "report.D", "E": "report.E"}  # catalogue keys

QUESTIONS = {
    "A": ("which_model", "which_optimizer", "overfitting", "improve"),
    "B": ("overfitting", "longer", "improve"),
    "C": ("which_model", "overfitting", "improve"),
    "D": ("longer", "overfitting", "improve"),
    "E": ("which_model", "overfitting", "improve"),
}

_A_OPT = ("assumed.a_optimizer",)
_C = ("assumed.c_settings",)
_D = ("assumed.d_validation", "assumed.d_batch")
_B = ("assumed.b_optimizer", "assumed.b_validation")
_E = ("assumed.e_validation",)

EXPERIMENTS = [
    Experiment("A1", "A", "experiment.A1.title", "mnist", "net_1", "adadelta", None, 128, 30, 0.1, 0.9178,
               assumed_keys=_A_OPT),
    Experiment("A2", "A", "experiment.A2.title", "mnist", "net_2", "adadelta", None, 128, 30, 0.1, 0.9117,
               assumed_keys=_A_OPT),
    Experiment("A3", "A", "experiment.A3.title", "mnist", "net_1", "adadelta", None, 128, 700, 0.1, 0.9829,
               reported_test_loss=0.0517, assumed_keys=_A_OPT),
    Experiment("A4", "A", "experiment.A4.title", "mnist", "net_2", "adadelta", None, 128, 700, 0.1, 0.9794,
               reported_test_loss=0.069, assumed_keys=_A_OPT),
    Experiment("A5", "A", "experiment.A5.title", "cifar10", "net_1", "adam", None, 128, 30, 0.2, 0.6469,
               reported_test_loss=3.006, note_key="experiment.A5.note"),
    Experiment("A6", "A", "experiment.A6.title", "cifar10", "net_1", "adadelta", None, 128, 30, 0.2, 0.3394,
               reported_test_loss=1.92, note_key="experiment.A6.note"),
    Experiment("B1", "B", "experiment.B1.title", "cifar10", "cool_cnn_3", "rmsprop", 0.0001, 32, 50, 0.1, 0.73,
               assumed_keys=_B),
    Experiment("B2", "B", "experiment.B2.title", "cifar10", "cool_cnn_3", "rmsprop", 0.0001, 32, 100, 0.1, 0.8,
               reported_test_loss=0.66, note_key="experiment.B2.note", assumed_keys=_B),
    Experiment("C1", "C", "experiment.C1.title", "cifar10", "model_2", "adam", None, 64, 20, 0.1, 0.715,
               assumed_keys=_C),
    Experiment("C2", "C", "experiment.C2.title", "cifar10", "proposed", "adam", None, 64, 20, 0.1, 0.8011,
               assumed_keys=_C),
    Experiment("C3", "C", "experiment.C3.title", "mnist", "model_2", "adam", None, 64, 10, 0.1, 0.9933,
               assumed_keys=_C),
    Experiment("C4", "C", "experiment.C4.title", "mnist", "proposed", "adam", None, 64, 10, 0.1, 0.9955,
               assumed_keys=_C),
    Experiment("D1", "D", "experiment.D1.title", "cifar10", "keras_tutorial", "adam", None, 32, 10, 0.1, 0.7113,
               reported_test_loss=0.8555, assumed_keys=_D),
    Experiment("D2", "D", "experiment.D2.title", "cifar10", "keras_tutorial", "adam", None, 32, 15, 0.1, 0.7018,
               reported_test_loss=1.43, note_key="experiment.D2.note", assumed_keys=_D),
    Experiment("D3", "D", "experiment.D3.title", "cifar10", "keras_tutorial_128", "adam", None, 32, 7, 0.1, 0.6944,
               assumed_keys=_D),
    Experiment("E1", "E", "experiment.E1.title", "fashion_mnist", "fashion_cnn", "adam", 0.001, 64, 5, 0.1, 0.83,
               note_key="experiment.E1.note", assumed_keys=_E),
    Experiment("E2", "E", "experiment.E2.title", "fashion_mnist", "fashion_cnn", "adam", 1e-05, 1000, 30, 0.1, 0.87,
               note_key="experiment.E2.note", assumed_keys=_E),
    Experiment("E3", "E", "experiment.E3.title", "fashion_mnist", "fashion_cnn", "adam", 1e-05, 1000, 100, 0.1, 0.9,
               note_key="experiment.E3.note", assumed_keys=_E),
    Experiment("E4", "E", "experiment.E4.title", "fashion_mnist", "mlp_2048", "adam", 0.001, 500, 100, 0.1, None,
               note_key="experiment.E4.note", assumed_keys=_E),
    Experiment("E5", "E", "experiment.E5.title", "fashion_mnist", "mlp_512", "adam", 0.001, 1000, 40, 0.1, None,
               note_key="experiment.E5.note", assumed_keys=_E),
]
BY_ID = {experiment.id: experiment for experiment in EXPERIMENTS}


def get(experiment_id):
    from cnnlab.errors import CnnlabError

    key = str(experiment_id).strip().upper()
    if key not in BY_ID:
        raise CnnlabError("error.experiment.unknown", id=str(experiment_id), choices=", ".join(BY_ID))
    return BY_ID[key]


def of_report(report):
    return [experiment for experiment in EXPERIMENTS if experiment.report == report]


def runs_of(experiment, stored_runs):
    """Stored runs of this experiment, the most epochs first (a full-length run before a shortened one)."""
    matching = [run for run in stored_runs if experiment.matches(run.config)]
    return sorted(matching, key=lambda run: (-run.record["epochs_completed"], run.record["created"]))


def best_run(experiment, stored_runs):
    found = runs_of(experiment, stored_runs)
    return found[0] if found else None


def epochs_label(experiment, run):
    """"30 epochs" or "30 of 700 epochs (shortened)", in the current language."""
    done = run.record["epochs_completed"]
    if done >= experiment.epochs:
        return t("experiment.epochs", done=done)
    return t("experiment.epochs_shortened", done=done, total=experiment.epochs)


# ---------------------------------------------------------------- the report's questions, answered from runs

@dataclasses.dataclass(frozen=True)
class Answer:
    question: str  # a key of QUESTION_TEXT
    parts: tuple  # i18n Messages, worded in the reader's language when shown
    answered: bool

    @property
    def text(self):
        """The answer, with its numbers; or what to run to get one."""
        return " ".join(str(part) for part in self.parts)


QUESTION_TEXT = {  # catalogue keys
    "which_model": "question.which_model",
    "which_optimizer": "question.which_optimizer",
    "overfitting": "question.overfitting",
    "longer": "question.longer",
    "improve": "question.improve",
}


def answers(report, stored_runs):
    """Every question of one report, answered from the stored runs of its experiments."""
    results = {e.id: best_run(e, stored_runs) for e in of_report(report)}
    done = {key: run for key, run in results.items() if run is not None}
    return [_answer(question, report, done) for question in QUESTIONS[report]]


def _missing(question, ids):
    key = "answer.run_one" if len(ids) == 1 else "answer.run_several"
    return Answer(question, (Message(key, ids=list(ids)),), False)


def _answer(question, report, done):
    first_id = of_report(report)[0].id
    if question == "which_model":
        # compare architectures trained on the same dataset
        pairs = {"A": [("A1", "A2"), ("A3", "A4")], "C": [("C1", "C2"), ("C3", "C4")],
                 "E": [("E1", "E4"), ("E1", "E5")]}[report]
        parts = []
        for first, second in pairs:
            if first in done and second in done:
                a, b = done[first], done[second]
                winner, loser = (a, b) if a.test_accuracy >= b.test_accuracy else (b, a)
                parts.append(Message("answer.which_model", dataset=a.info.title,
                                     winner=winner.config.architecture_name, winner_acc=winner.test_accuracy,
                                     winner_params=winner.record["params"], loser=loser.config.architecture_name,
                                     loser_acc=loser.test_accuracy, loser_params=loser.record["params"],
                                     points=(winner.test_accuracy - loser.test_accuracy) * 100))
        if not parts:
            return _missing(question, list(pairs[0]))
        return Answer(question, tuple(parts), True)
    if question == "which_optimizer":
        if "A5" in done and "A6" in done:
            adam, adadelta = done["A5"], done["A6"]
            winner = "Adam" if adam.test_accuracy >= adadelta.test_accuracy else "Adadelta"
            return Answer(question, (Message("answer.which_optimizer", winner=winner, adam=adam.test_accuracy,
                                             adadelta=adadelta.test_accuracy, adam_loss=adam.history["loss"][-1],
                                             adadelta_loss=adadelta.history["loss"][-1],
                                             rate=adadelta.config.learning_rate,
                                             epochs=adadelta.record["epochs_completed"]),), True)
        return _missing(question, ["A5", "A6"])
    if question == "longer":
        pairs = {"B": ("B1", "B2"), "D": ("D1", "D2")}[report]
        short, long_ = (done.get(key) for key in pairs)
        if short is None or long_ is None:
            return _missing(question, list(pairs))
        gain = long_.test_accuracy - short.test_accuracy
        verdict = "answer.yes" if gain > 0.005 else "answer.no" if gain < -0.005 else "answer.hardly"
        return Answer(question, (Message("answer.longer", verdict=Message(verdict),
                                         long_epochs=long_.record["epochs_completed"], long_acc=long_.test_accuracy,
                                         long_loss=long_.test_loss, short_acc=short.test_accuracy,
                                         short_loss=short.test_loss, short_epochs=short.record["epochs_completed"],
                                         points=gain * 100),), True)
    if question == "overfitting":
        if not done:
            return _missing(question, [first_id])
        parts = []
        for key, run in done.items():
            verdict = inspection.overfitting_verdict(run.history)
            parts.append(Message("answer.overfitting", id=key, name=run.config.architecture_name,
                                 epochs=run.record["epochs_completed"], verdict=verdict.note))
        return Answer(question, tuple(parts), True)
    if question == "improve":
        if not done:
            return _missing(question, [first_id])
        return Answer(question, tuple(Message("answer.improve", id=key, advice=_improvement(run))
                                      for key, run in done.items()), True)
    raise KeyError(question)


def _improvement(run):
    """One suggestion read off a run's curves."""
    history = run.history
    verdict = inspection.overfitting_verdict(history)
    if verdict.kind == "overfitting":
        return Message("advice.early_stopping", best=verdict.best_epoch + 1, gap=verdict.gap)
    val_acc = history.get("val_accuracy") or history.get("accuracy", [])
    if len(val_acc) >= 3 and val_acc[-1] - val_acc[-3] > 0.005:
        return Message("advice.still_rising", before=val_acc[-3], after=val_acc[-1])
    if verdict.kind == "underfitting":
        return Message("advice.underfitting")
    if not val_acc:
        return Message("advice.no_curve")
    return Message("advice.flat", accuracy=val_acc[-1])
