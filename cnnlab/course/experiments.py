"""The course's experiments: every run the five reports describe, with their results and their questions.

An Experiment is a TrainConfig plus what the report said it got. Runs of an experiment live in the
normal run store, so the app and the command line see the same results. `answers()` answers each
report's questions from the stored runs, with the numbers behind each answer.
"""

import dataclasses
import json

from cnnlab import training
from cnnlab.course import comparisons, seed_evidence
from cnnlab.errors import CnnlabError
from cnnlab.i18n import Message, t
from cnnlab.insight import inspection

CPU_EPOCHS = 30  # long experiments (hundreds of epochs) are offered at this length on a CPU, labelled as such
TIE_POINTS = 0.5  # test accuracies closer than this many points are reported as a tie, not a win


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One experiment of a report: its settings (a TrainConfig at the report's full length) and its results."""

    id: str
    report: str  # A–E
    title_key: str  # catalogue keys (cnnlab.i18n)
    settings: training.TrainConfig
    reported_test_accuracy: float | None
    reported_test_loss: float | None = None
    note_key: str = ""
    assumed_keys: tuple = ()  # the settings the report leaves out, and what cnnlab picked

    @property
    def dataset(self):
        return self.settings.dataset

    @property
    def architecture(self):
        return self.settings.architecture

    @property
    def optimizer(self):
        return self.settings.optimizer

    @property
    def batch_size(self):
        return self.settings.batch_size

    @property
    def epochs(self):
        """The report's full length."""
        return self.settings.epochs

    @property
    def validation_split(self):
        return self.settings.validation_split

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
        return dataclasses.replace(self.settings, epochs=epochs or self.settings.epochs)

    def suggested_epochs(self, gpu=False):
        """The full count on a GPU; at most CPU_EPOCHS on a CPU."""
        return self.epochs if gpu else min(self.epochs, CPU_EPOCHS)

    def matches(self, run):
        """True when a stored run is this experiment's: its settings at full length, or fewer epochs of them
        launched for this experiment (the run records which experiments asked for it)."""
        config = run.config
        if config == self.settings:
            return True
        return (self.id in run.experiments and config.epochs < self.epochs
                and dataclasses.replace(config, epochs=self.epochs) == self.settings)

    def to_dict(self):
        settings = self.settings.to_dict()
        return {"id": self.id, "report": self.report, **{k: settings[k] for k in _LISTED},
                "reported_test_accuracy": self.reported_test_accuracy,
                "reported_test_loss": self.reported_test_loss,
                "title": self.title, "reported_note": self.reported_note, "assumed": self.assumed}


_LISTED = ("dataset", "architecture", "optimizer", "learning_rate", "batch_size", "epochs", "validation_split",
           "dropout")


def _experiment(id, report, title_key, dataset, architecture, optimizer, learning_rate, batch_size, epochs,
                validation_split, reported_test_accuracy, **details):
    """An Experiment from a row of a report's table."""
    settings = training.TrainConfig(dataset=dataset, architecture=architecture, optimizer=optimizer,
                                    learning_rate=learning_rate, batch_size=batch_size, epochs=epochs,
                                    validation_split=validation_split)
    return Experiment(id, report, title_key, settings, reported_test_accuracy, **details)


REPORTS = {"A": "report.A", "B": "report.B", "C": "report.C", "D": "report.D", "E": "report.E"}  # catalogue keys

QUESTIONS = {
    "A": ("which_model", "which_optimizer", "overfitting", "improve"),
    "B": ("overfitting", "longer", "improve"),
    "C": ("which_model", "overfitting", "improve"),
    "D": ("longer", "overfitting", "improve"),
    "E": ("which_model", "overfitting", "improve"),
}

ASSUMED_A_OPTIMIZER = ("assumed.a_optimizer",)
ASSUMED_B = ("assumed.b_optimizer", "assumed.b_validation")
ASSUMED_C = ("assumed.c_settings",)
ASSUMED_D = ("assumed.d_validation", "assumed.d_batch")
ASSUMED_E = ("assumed.e_validation",)

EXPERIMENTS = [
    _experiment("A1", "A", "experiment.A1.title", "mnist", "net_1", "adadelta", None, 128, 30, 0.1, 0.9178,
                assumed_keys=ASSUMED_A_OPTIMIZER),
    _experiment("A2", "A", "experiment.A2.title", "mnist", "net_2", "adadelta", None, 128, 30, 0.1, 0.9117,
                assumed_keys=ASSUMED_A_OPTIMIZER),
    _experiment("A3", "A", "experiment.A3.title", "mnist", "net_1", "adadelta", None, 128, 700, 0.1, 0.9829,
                reported_test_loss=0.0517, assumed_keys=ASSUMED_A_OPTIMIZER),
    _experiment("A4", "A", "experiment.A4.title", "mnist", "net_2", "adadelta", None, 128, 700, 0.1, 0.9794,
                reported_test_loss=0.069, assumed_keys=ASSUMED_A_OPTIMIZER),
    _experiment("A5", "A", "experiment.A5.title", "cifar10", "net_1", "adam", None, 128, 30, 0.2, 0.6469,
                reported_test_loss=3.006, note_key="experiment.A5.note"),
    _experiment("A6", "A", "experiment.A6.title", "cifar10", "net_1", "adadelta", None, 128, 30, 0.2, 0.3394,
                reported_test_loss=1.92, note_key="experiment.A6.note"),
    _experiment("B1", "B", "experiment.B1.title", "cifar10", "cool_cnn_3", "rmsprop", 0.0001, 32, 50, 0.1, 0.73,
                assumed_keys=ASSUMED_B),
    _experiment("B2", "B", "experiment.B2.title", "cifar10", "cool_cnn_3", "rmsprop", 0.0001, 32, 100, 0.1, 0.8,
                reported_test_loss=0.66, note_key="experiment.B2.note", assumed_keys=ASSUMED_B),
    _experiment("C1", "C", "experiment.C1.title", "cifar10", "model_2", "adam", None, 64, 20, 0.1, 0.715,
                assumed_keys=ASSUMED_C),
    _experiment("C2", "C", "experiment.C2.title", "cifar10", "proposed", "adam", None, 64, 20, 0.1, 0.8011,
                assumed_keys=ASSUMED_C),
    _experiment("C3", "C", "experiment.C3.title", "mnist", "model_2", "adam", None, 64, 10, 0.1, 0.9933,
                assumed_keys=ASSUMED_C),
    _experiment("C4", "C", "experiment.C4.title", "mnist", "proposed", "adam", None, 64, 10, 0.1, 0.9955,
                assumed_keys=ASSUMED_C),
    _experiment("D1", "D", "experiment.D1.title", "cifar10", "keras_tutorial", "adam", None, 32, 10, 0.1, 0.7113,
                reported_test_loss=0.8555, assumed_keys=ASSUMED_D),
    _experiment("D2", "D", "experiment.D2.title", "cifar10", "keras_tutorial", "adam", None, 32, 15, 0.1, 0.7018,
                reported_test_loss=1.43, note_key="experiment.D2.note", assumed_keys=ASSUMED_D),
    _experiment("D3", "D", "experiment.D3.title", "cifar10", "keras_tutorial_128", "adam", None, 32, 7, 0.1, 0.6944,
                assumed_keys=ASSUMED_D),
    _experiment("E1", "E", "experiment.E1.title", "fashion_mnist", "fashion_cnn", "adam", 0.001, 64, 5, 0.1, 0.83,
                note_key="experiment.E1.note", assumed_keys=ASSUMED_E),
    _experiment("E2", "E", "experiment.E2.title", "fashion_mnist", "fashion_cnn", "adam", 1e-05, 1000, 30, 0.1, 0.87,
                note_key="experiment.E2.note", assumed_keys=ASSUMED_E),
    _experiment("E3", "E", "experiment.E3.title", "fashion_mnist", "fashion_cnn", "adam", 1e-05, 1000, 100, 0.1, 0.9,
                note_key="experiment.E3.note", assumed_keys=ASSUMED_E),
    _experiment("E4", "E", "experiment.E4.title", "fashion_mnist", "mlp_2048", "adam", 0.001, 500, 100, 0.1, None,
                note_key="experiment.E4.note", assumed_keys=ASSUMED_E),
    _experiment("E5", "E", "experiment.E5.title", "fashion_mnist", "mlp_512", "adam", 0.001, 1000, 40, 0.1, None,
                note_key="experiment.E5.note", assumed_keys=ASSUMED_E),
]
BY_ID = {experiment.id: experiment for experiment in EXPERIMENTS}


def get(experiment_id):
    key = str(experiment_id).strip().upper()
    if key not in BY_ID:
        raise CnnlabError("error.experiment.unknown", id=str(experiment_id), choices=", ".join(BY_ID))
    return BY_ID[key]


def of_report(report):
    return [experiment for experiment in EXPERIMENTS if experiment.report == report]


def parse_list(text):
    """A list of trainings to prepare before class, one a line: an experiment id (`C3`, `B2 epochs=5`) or a
    TrainConfig as JSON; `#` starts a comment. [(line number, TrainConfig or CnnlabError, label)]."""
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip() if not line.lstrip().startswith("{") else line.strip()
        if not line:
            continue
        try:
            if line.startswith("{"):
                try:
                    config = training.TrainConfig.from_dict(json.loads(line))
                except (ValueError, TypeError) as error:
                    raise CnnlabError("error.cli.bad_json", error=str(error)) from None
                items.append((number, config, config.architecture_name))
                continue
            words = line.split()
            experiment = get(words[0])
            epochs = None
            for word in words[1:]:
                key, _, value = word.partition("=")
                if key != "epochs" or not value.isdigit() or not 1 <= int(value) <= experiment.epochs:
                    raise CnnlabError("error.cli.bad_word", word=word, id=experiment.id, epochs=experiment.epochs)
                epochs = int(value)
            items.append((number, experiment.config(epochs), experiment.id))
        except CnnlabError as error:
            items.append((number, error, line))
    return items


def runs_of(experiment, stored_runs):
    """Stored runs of this experiment, best first: complete before stopped, the most epochs, the full dataset
    before the sample, the newest."""
    matching = [run for run in stored_runs if experiment.matches(run)]
    newest_first = sorted(matching, key=lambda run: run.record["created"], reverse=True)
    return sorted(newest_first, key=lambda run: (not run.complete, -run.record["epochs_completed"],
                                                 run.variant != "full"))


def best_run(experiment, stored_runs):
    found = runs_of(experiment, stored_runs)
    return found[0] if found else None


def epochs_label(experiment, run):
    """"30 epochs" or "shortened: 30 of 700 epochs", in the current language."""
    done = run.record["epochs_completed"]
    if done >= experiment.epochs:
        return t("experiment.epochs", done=done)
    return t("experiment.epochs_shortened", done=done, total=experiment.epochs)


def blocker(experiment):
    """Why an experiment cannot run on this server now (a Message), or None when it can."""
    from cnnlab.data import catalogue, sources

    if sources.local_source(experiment.dataset) is None:
        key = "course.needs_cifar" if experiment.dataset == "cifar10" else "course.needs_data"
        return Message(key, title=catalogue.get_info(experiment.dataset).title, id=experiment.id)
    return None


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
    """Every question of one report, answered from the stored runs of its experiments (an answer that compares two
    experiments says whether it rests on their groups of seeds or on one run)."""
    results = {e.id: best_run(e, stored_runs) for e in of_report(report)}
    done = {key: run for key, run in results.items() if run is not None}
    return [seed_evidence.weighed(_answer(question, report, done), report, done, stored_runs)  # one run, or groups
            for question in QUESTIONS[report]]


def _missing(question, ids):
    key = "answer.run_one" if len(ids) == 1 else "answer.run_several"
    return Answer(question, (Message(key, ids=list(ids)),), False)


def _same_run(question, first, second, run):
    """Two experiments resolved to one run: no comparison, and what to run to get one."""
    return Answer(question, (Message("answer.same_run", first=first, second=second, id=run.id[:6],
                                     epochs=run.record["epochs_completed"]),), False)


def _which_model(question, report, done):
    """Architectures trained on the same dataset, compared pair by pair."""
    pairs = seed_evidence.COMPARED[question][report]
    parts = []
    for first, second in pairs:
        if first not in done or second not in done:
            continue
        a, b = done[first], done[second]
        if a.id == b.id:
            return _same_run(question, first, second, a)
        winner, loser = (a, b) if a.test_accuracy >= b.test_accuracy else (b, a)
        points = (winner.test_accuracy - loser.test_accuracy) * 100
        key = "answer.which_model" if points >= TIE_POINTS else "answer.which_model_tie"
        parts.append(Message(key, dataset=a.info.title, winner=winner.config.architecture_name,
                             winner_acc=winner.test_accuracy, winner_params=winner.record["params"],
                             loser=loser.config.architecture_name, loser_acc=loser.test_accuracy,
                             loser_params=loser.record["params"], points=points))
        parts.extend(comparisons.caveats([a, b], [first, second]))  # what makes this pair not like for like
    if not parts:
        return _missing(question, list(pairs[0]))
    return Answer(question, tuple(parts), True)


def _which_optimizer(question, done):
    """A5 (Adam) against A6 (Adadelta): the same network, data and epochs; the wording follows the numbers."""
    if "A5" not in done or "A6" not in done:
        return _missing(question, ["A5", "A6"])
    adam, adadelta = done["A5"], done["A6"]
    if adam.id == adadelta.id:
        return _same_run(question, "A5", "A6", adam)
    points = (adam.test_accuracy - adadelta.test_accuracy) * 100
    numbers = dict(adam=adam.test_accuracy, adadelta=adadelta.test_accuracy, adam_loss=adam.history["loss"][-1],
                   adadelta_loss=adadelta.history["loss"][-1], rate=adadelta.config.learning_rate,
                   adam_epochs=adam.record["epochs_completed"], adadelta_epochs=adadelta.record["epochs_completed"],
                   points=abs(points), dataset=adam.info.title)
    if abs(points) < TIE_POINTS:
        key = "answer.which_optimizer_tie"
    elif points > 0:
        key = "answer.which_optimizer_adam"
    else:
        key = "answer.which_optimizer_adadelta"
    parts = [Message(key, **numbers), *comparisons.caveats([adam, adadelta], ["A5", "A6"])]
    return Answer(question, tuple(parts), True)


def _longer(question, report, done):
    """The same settings trained for more epochs: B1 → B2, D1 → D2."""
    first, second = {"B": ("B1", "B2"), "D": ("D1", "D2")}[report]
    short, long_ = done.get(first), done.get(second)
    if short is None or long_ is None:
        return _missing(question, [first, second])
    if short.id == long_.id:
        return _same_run(question, first, second, short)
    short_epochs, long_epochs = short.record["epochs_completed"], long_.record["epochs_completed"]
    if long_epochs <= short_epochs:
        return Answer(question, (Message("answer.not_longer", first=first, second=second,
                                         short_epochs=Message("count.epochs", count=short_epochs),
                                         long_epochs=Message("count.epochs", count=long_epochs)),), False)
    gain = long_.test_accuracy - short.test_accuracy
    verdict = "answer.yes" if gain * 100 >= TIE_POINTS else "answer.no" if gain * 100 <= -TIE_POINTS else \
        "answer.hardly"
    return Answer(question, (Message("answer.longer", verdict=Message(verdict), long_epochs=long_epochs,
                                     long_acc=long_.test_accuracy, long_loss=long_.test_loss,
                                     short_acc=short.test_accuracy, short_loss=short.test_loss,
                                     short_epochs=short_epochs, points=gain * 100),
                             *comparisons.caveats([short, long_], [first, second], lengths=False)), True)


def _answer(question, report, done):
    first_id = of_report(report)[0].id
    if question == "which_model":
        return _which_model(question, report, done)
    if question == "which_optimizer":
        return _which_optimizer(question, done)
    if question == "longer":
        return _longer(question, report, done)
    if not done:
        return _missing(question, [first_id])
    by_run = {}  # experiments that resolved to one run are answered once, together
    for key, run in done.items():
        by_run.setdefault(run.id, (run, []))[1].append(key)
    if question == "overfitting":
        return Answer(question, tuple(Message("answer.overfitting", id=ids, name=run.config.architecture_name,
                                              epochs=run.record["epochs_completed"],
                                              verdict=inspection.overfitting_verdict(run.history).note)
                                      for run, ids in by_run.values()), True)
    if question == "improve":
        return Answer(question, tuple(Message("answer.improve", id=ids, advice=_improvement(run))
                                      for run, ids in by_run.values()), True)
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
