"""The course's experiments: every run the five reports describe, with their results and their questions.

An Experiment is a TrainConfig plus what the report said it got. Runs of an experiment live in the
normal run store, so the app and the command line see the same results. `answers()` answers each
report's questions from the stored runs, with the numbers behind each answer.
"""

import dataclasses

from cnnlab import inspection, training

CPU_EPOCHS = 30  # long experiments (hundreds of epochs) are offered at this length on a CPU, labelled as such


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One experiment of a report: its settings and what the report measured."""

    id: str
    report: str  # A–E
    title: str
    dataset: str
    architecture: str  # a preset name
    optimizer: str
    learning_rate: float | None
    batch_size: int
    epochs: int
    validation_split: float
    reported_test_accuracy: float | None
    reported_test_loss: float | None = None
    reported_note: str = ""
    assumed: tuple = ()  # the settings the report leaves out, and what cnnlab picked
    dropout: float | None = None  # None: the preset's own rates

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
        data["assumed"] = list(self.assumed)
        data["learning_rate"] = self.config().learning_rate
        return data


REPORTS = {
    "A": "net_1 and net_2 on MNIST and CIFAR-10",
    "B": "Cool CNN No. 3 on CIFAR-10",
    "C": "Model 2 and the Proposed model on CIFAR-10 and MNIST",
    "D": "The Keras tutorial CNN on CIFAR-10",
    "E": "A CNN against one-hidden-layer MLPs on Fashion-MNIST",
}

QUESTIONS = {
    "A": ("which_model", "which_optimizer", "overfitting", "improve"),
    "B": ("overfitting", "longer", "improve"),
    "C": ("which_model", "overfitting", "improve"),
    "D": ("longer", "overfitting", "improve"),
    "E": ("which_model", "overfitting", "improve"),
}

_A_OPT = ("optimizer: not named for MNIST; the low 30-epoch results fit Adadelta at Keras's default learning rate "
          "(0.001), the optimizer of Keras's classic MNIST example, so cnnlab uses it",)
_C = ("epochs, batch size and optimizer: not stated; cnnlab uses Adam, batch 64, 20 epochs on CIFAR-10 and "
      "10 on MNIST, validation split 0.1",)
_D = ("validation: the report validates on the test set; cnnlab holds out 10 % of the training images instead "
      "and keeps the test set for the final score", "batch size: not stated; Keras's default of 32")
_B = ("optimizer: not stated; the network is Keras's classic CIFAR-10 example, which uses RMSprop with "
      "learning rate 1e-4, so cnnlab does too", "validation: the report validates on the 10,000 test images; "
      "cnnlab holds out 10 % of the training images and keeps the test set for the final score")
_E = ("validation: the PyTorch report plots train against test; cnnlab holds out 10 % for validation",)

EXPERIMENTS = [
    Experiment("A1", "A", "net_1 on MNIST, 30 epochs", "mnist", "net_1", "adadelta", None, 128, 30, 0.1, 0.9178,
               assumed=_A_OPT),
    Experiment("A2", "A", "net_2 on MNIST, 30 epochs", "mnist", "net_2", "adadelta", None, 128, 30, 0.1, 0.9117,
               assumed=_A_OPT),
    Experiment("A3", "A", "net_1 on MNIST, 700 epochs", "mnist", "net_1", "adadelta", None, 128, 700, 0.1, 0.9829,
               0.0517, assumed=_A_OPT),
    Experiment("A4", "A", "net_2 on MNIST, 700 epochs", "mnist", "net_2", "adadelta", None, 128, 700, 0.1, 0.9794,
               0.0690, assumed=_A_OPT),
    Experiment("A5", "A", "net_1 on CIFAR-10 with Adam", "cifar10", "net_1", "adam", None, 128, 30, 0.2, 0.6469,
               3.006, "train accuracy 0.9889: strong overfitting"),
    Experiment("A6", "A", "net_1 on CIFAR-10 with Adadelta", "cifar10", "net_1", "adadelta", None, 128, 30, 0.2,
               0.3394, 1.920, "barely learns at Keras's default learning rate"),
    Experiment("B1", "B", "Cool CNN No. 3, 50 epochs", "cifar10", "cool_cnn_3", "rmsprop", 1e-4, 32, 50, 0.1, 0.73,
               assumed=_B),
    Experiment("B2", "B", "Cool CNN No. 3, 100 epochs", "cifar10", "cool_cnn_3", "rmsprop", 1e-4, 32, 100, 0.1, 0.80,
               0.66, "5 h 40 min of training; validation flattens after epoch ~40", assumed=_B),
    Experiment("C1", "C", "Model 2 on CIFAR-10", "cifar10", "model_2", "adam", None, 64, 20, 0.1, 0.715, assumed=_C),
    Experiment("C2", "C", "Proposed model on CIFAR-10", "cifar10", "proposed", "adam", None, 64, 20, 0.1, 0.8011,
               assumed=_C),
    Experiment("C3", "C", "Model 2 on MNIST", "mnist", "model_2", "adam", None, 64, 10, 0.1, 0.9933, assumed=_C),
    Experiment("C4", "C", "Proposed model on MNIST", "mnist", "proposed", "adam", None, 64, 10, 0.1, 0.9955,
               assumed=_C),
    Experiment("D1", "D", "Keras tutorial CNN, 10 epochs", "cifar10", "keras_tutorial", "adam", None, 32, 10, 0.1,
               0.7113, 0.8555, assumed=_D),
    Experiment("D2", "D", "Keras tutorial CNN, 15 epochs", "cifar10", "keras_tutorial", "adam", None, 32, 15, 0.1,
               0.7018, 1.43, "overfitting: test loss up from 0.86", assumed=_D),
    Experiment("D3", "D", "Keras tutorial CNN with Dense(128), 7 epochs", "cifar10", "keras_tutorial_128", "adam",
               None, 32, 7, 0.1, 0.6944, assumed=_D),
    Experiment("E1", "E", "Fashion CNN, lr 1e-3, batch 64, 5 epochs", "fashion_mnist", "fashion_cnn", "adam", 1e-3,
               64, 5, 0.1, 0.83, reported_note="about 83 %", assumed=_E),
    Experiment("E2", "E", "Fashion CNN, lr 1e-5, batch 1000, 30 epochs", "fashion_mnist", "fashion_cnn", "adam",
               1e-5, 1000, 30, 0.1, 0.87, reported_note="about 87 %", assumed=_E),
    Experiment("E3", "E", "Fashion CNN, lr 1e-5, batch 1000, 100 epochs", "fashion_mnist", "fashion_cnn", "adam",
               1e-5, 1000, 100, 0.1, 0.90, reported_note="over 90 %", assumed=_E),
    Experiment("E4", "E", "MLP n=2048, lr 1e-3, batch 500, 100 epochs", "fashion_mnist", "mlp_2048", "adam", 1e-3,
               500, 100, 0.1, None, reported_note="validation loss rises after ~10 epochs; the CNN beats it",
               assumed=_E),
    Experiment("E5", "E", "MLP n=512, lr 1e-3, batch 1000, 40 epochs", "fashion_mnist", "mlp_512", "adam", 1e-3,
               1000, 40, 0.1, None, reported_note="stops improving after ~30 epochs; the CNN beats it",
               assumed=_E),
]
BY_ID = {experiment.id: experiment for experiment in EXPERIMENTS}


def get(experiment_id):
    from cnnlab.errors import CnnlabError

    key = str(experiment_id).strip().upper()
    if key not in BY_ID:
        raise CnnlabError(f"Unknown experiment '{experiment_id}': choose one of {', '.join(BY_ID)} "
                          f"(`python -m cnnlab reproduce --list`).")
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
    """"30 epochs" or "30 of 700 epochs (shortened for a CPU)"."""
    done = run.record["epochs_completed"]
    if done >= experiment.epochs:
        return f"{done} epochs"
    return f"{done} of {experiment.epochs} epochs (shortened)"


# ---------------------------------------------------------------- the report's questions, answered from runs

@dataclasses.dataclass(frozen=True)
class Answer:
    question: str  # a key of QUESTION_TEXT
    text: str  # the answer, with its numbers; or what to run to get one
    answered: bool


QUESTION_TEXT = {
    "which_model": "Which model is better?",
    "which_optimizer": "Which optimizer is better?",
    "overfitting": "Is there evidence of overfitting?",
    "longer": "Does training longer help?",
    "improve": "How could the results improve?",
}


def _pct(value):
    return f"{value:.2%}"


def answers(report, stored_runs):
    """Every question of one report, answered from the stored runs of its experiments."""
    results = {e.id: best_run(e, stored_runs) for e in of_report(report)}
    done = {key: run for key, run in results.items() if run is not None}
    return [_answer(question, report, done) for question in QUESTIONS[report]]


def _missing(question, ids):
    return Answer(question, f"Run experiment{'s' if len(ids) > 1 else ''} {' and '.join(ids)} to answer this.",
                  False)


def _answer(question, report, done):
    first_id = of_report(report)[0].id
    if question == "which_model":
        # compare architectures trained on the same dataset
        pairs = {"A": [("A1", "A2"), ("A3", "A4")], "C": [("C1", "C2"), ("C3", "C4")],
                 "E": [("E1", "E4"), ("E1", "E5")]}[report]
        lines = []
        for first, second in pairs:
            if first in done and second in done:
                a, b = done[first], done[second]
                winner, loser = (a, b) if a.test_accuracy >= b.test_accuracy else (b, a)
                lines.append(f"On {a.info.title}, "
                             f"{winner.config.architecture_name} ({_pct(winner.test_accuracy)}, "
                             f"{winner.record['params']:,} parameters) beats {loser.config.architecture_name} "
                             f"({_pct(loser.test_accuracy)}, {loser.record['params']:,} parameters) by "
                             f"{(winner.test_accuracy - loser.test_accuracy) * 100:.2f} points.")
        if not lines:
            return _missing(question, list(pairs[0]))
        return Answer(question, " ".join(lines), True)
    if question == "which_optimizer":
        if "A5" in done and "A6" in done:
            adam, adadelta = done["A5"], done["A6"]
            winner = "Adam" if adam.test_accuracy >= adadelta.test_accuracy else "Adadelta"
            return Answer(question, f"{winner}: with the same network and epochs on CIFAR-10, Adam reaches "
                                    f"{_pct(adam.test_accuracy)} and Adadelta {_pct(adadelta.test_accuracy)} "
                                    f"(final training loss {adam.history['loss'][-1]:.3f} vs "
                                    f"{adadelta.history['loss'][-1]:.3f}). At Keras's default learning rate "
                                    f"({adadelta.config.learning_rate:g}) Adadelta's steps are too small to learn "
                                    f"in {adadelta.record['epochs_completed']} epochs.", True)
        return _missing(question, ["A5", "A6"])
    if question == "longer":
        pairs = {"B": ("B1", "B2"), "D": ("D1", "D2")}[report]
        short, long_ = (done.get(key) for key in pairs)
        if short is None or long_ is None:
            return _missing(question, list(pairs))
        gain = long_.test_accuracy - short.test_accuracy
        verdict = "Yes" if gain > 0.005 else "No" if gain < -0.005 else "Hardly"
        return Answer(question, f"{verdict}: {long_.record['epochs_completed']} epochs give "
                                f"{_pct(long_.test_accuracy)} (test loss {long_.test_loss:.3f}) against "
                                f"{_pct(short.test_accuracy)} (test loss {short.test_loss:.3f}) after "
                                f"{short.record['epochs_completed']}: {gain * 100:+.2f} points.", True)
    if question == "overfitting":
        if not done:
            return _missing(question, [first_id])
        lines = []
        for key, run in done.items():
            verdict = inspection.overfitting_verdict(run.history)
            lines.append(f"{key} ({run.config.architecture_name}, {run.record['epochs_completed']} epochs): "
                         f"{verdict.message}")
        return Answer(question, " ".join(lines), True)
    if question == "improve":
        if not done:
            return _missing(question, [first_id])
        return Answer(question, " ".join(f"{key}: {_improvement(run)}" for key, run in done.items()), True)
    raise KeyError(question)


def _improvement(run):
    """One suggestion read off a run's curves."""
    history = run.history
    verdict = inspection.overfitting_verdict(history)
    if verdict.kind == "overfitting":
        return (f"validation loss was best at epoch {verdict.best_epoch + 1}: stop there (early stopping), add "
                f"dropout or augmentation; the train–validation gap is {verdict.gap:.1%}.")
    val_acc = history.get("val_accuracy") or history.get("accuracy", [])
    if len(val_acc) >= 3 and val_acc[-1] - val_acc[-3] > 0.005:
        return (f"validation accuracy was still rising ({_pct(val_acc[-3])} → {_pct(val_acc[-1])} over the last "
                f"two epochs): train longer or raise the learning rate.")
    if verdict.kind == "underfitting":
        return "both accuracies are low: a bigger network, more epochs or a higher learning rate."
    return (f"the curves have flattened at {_pct(val_acc[-1]) if val_acc else '—'}: more data, augmentation "
            f"or a deeper network are the next steps.")
