"""Assignments: work a teacher hands out to a class, with the rules a student's trainings must keep.

An assignment's Rules say, for each setting of a TrainConfig, whether students may change it: locked to a value,
free, free within a range, or a choice of values; and its budget (epochs, parameters, training minutes). check()
holds a TrainConfig to them where training is requested (compute.jobs.TrainingQueue.submit(assignment=…), which
feeds every executor, Ray's too), so a locked setting is refused there, not only greyed out on a page.
from_report() makes the rules and questions of one of the course's five reports.

An assignment is a row of the people's database (cnnlab.classroom.schema.Assignment) with a random link code
(`/?assignment=CODE`): the class's teacher (or the owner) makes it; its teacher, the owner and the class's students
see it; to anyone else a code is unknown, whether it exists or not.
"""

import dataclasses
import datetime
import json
import math
import secrets
import unicodedata

import sqlalchemy as sa

from cnnlab import training
from cnnlab.classroom import codes, database, permissions, requests, schema
from cnnlab.course import experiments, trainable
from cnnlab.course.trainable import SETTING_NAMES, shown as _shown
from cnnlab.data import catalogue
from cnnlab.errors import ConfigError, NotAllowed, SpecError
from cnnlab.i18n import DEFAULT, LANGUAGES, Alternatives, Message, get_language, speaking, t
from cnnlab.networks import architectures, counting

FIELDS = tuple(field.name for field in dataclasses.fields(training.TrainConfig))  # the settings a rule may name
MODES = ("locked", "free", "range", "choice")
BUDGET = ("epochs", "params", "minutes")
RANGED = ("epochs", "batch_size", "learning_rate", "dropout", "validation_split", "train_size", "seed")
FREE = {"mode": "free"}
CODE_LENGTH = 10  # 31**10 ≈ 8·10**14 link codes: not guessed, not counted through
MAX_TITLE = 120
MAX_QUESTIONS = 20
MAX_QUESTION = 2000


@dataclasses.dataclass(frozen=True)
class Rules:
    """What an assignment lets a student change. dataset and architecture are where the worksheet starts (a preset's
    name, or a list of layer dicts); settings: {setting: {"mode": "locked", "value": v} | {"mode": "free"} |
    {"mode": "range", "min": a, "max": b} | {"mode": "choice", "values": [...]}} (a setting not named is free);
    budget: {"epochs": int | None, "params": int | None, "minutes": int | None} (None: no limit)."""

    dataset: str
    architecture: str | list
    settings: dict
    budget: dict = dataclasses.field(default_factory=lambda: dict.fromkeys(BUDGET))

    def __post_init__(self):
        for name, rule in self.settings.items():
            _valid_rule(name, rule)
        unknown = set(self.budget) - set(BUDGET)
        if unknown or any(value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1)
                          for value in self.budget.values()):
            raise ConfigError("assignment.bad_budget", names=", ".join(BUDGET))
        object.__setattr__(self, "budget", {name: self.budget.get(name) for name in BUDGET})

    def to_dict(self):
        return {"dataset": self.dataset, "architecture": self.architecture, "settings": self.settings,
                "budget": self.budget}

    def to_json(self):
        """The canonical JSON: the same rules are the same text."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text):
        data = json.loads(text)
        return cls(data["dataset"], data["architecture"], data["settings"], data.get("budget") or {})

    def rule(self, name):
        return self.settings.get(name, FREE)

    def check(self, config):
        """Nothing when config keeps these rules; else ConfigError (see check)."""
        check(self, config)


def _valid_rule(name, rule):
    """Nothing when rule is a rule for setting name; else ConfigError naming the setting."""
    if name not in FIELDS:
        raise ConfigError("assignment.bad_setting", name=str(name)[:80], names=", ".join(FIELDS))
    mode = rule.get("mode") if isinstance(rule, dict) else None
    fine = {"locked": lambda: "value" in rule, "free": lambda: True,
            "range": lambda: name in RANGED and _numbers(rule.get("min"), rule.get("max"))
            and rule["min"] <= rule["max"],
            "choice": lambda: isinstance(rule.get("values"), list) and len(rule["values"]) > 0}
    if mode == "range" and _numbers(rule.get("min"), rule.get("max")) and rule["min"] > rule["max"]:
        raise ConfigError("assignment.range_backwards", setting=Message(SETTING_NAMES[name]),
                          low=_shown(name, rule["min"]), high=_shown(name, rule["max"]))
    if mode not in fine or not fine[mode]():
        raise ConfigError("assignment.bad_rule", setting=Message(SETTING_NAMES[name]), modes=", ".join(MODES))


def _numbers(*values):
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)


INTEGERS = ("epochs", "batch_size", "train_size", "seed")
MAY_BE_NONE = ("learning_rate", "dropout", "train_size")  # None: Keras's default, the network's own, all images
WORDS = {"on": True, "true": True, "yes": True, "sí": True, "si": True, "off": False, "false": False, "no": False}


def typed_rule(name, mode, typed):
    """A setting's rule from what a teacher typed in a form: locked "value", choice "a, b, c", range "low, high"
    (free: nothing typed); else ConfigError saying what to type. The rule itself is checked by Rules."""
    if mode == "free":
        return FREE
    parts = [str(typed or "").strip()] if mode == "locked" else [p.strip() for p in str(typed or "").split(",")]
    values = [_typed(name, part) for part in parts]
    if mode == "locked":
        return {"mode": "locked", "value": values[0]}
    if mode == "choice" and values:
        return {"mode": "choice", "values": values}
    if mode == "range" and len(values) == 2:
        return {"mode": "range", "min": values[0], "max": values[1]}
    raise ConfigError("assignment.typed_rule", setting=Message(SETTING_NAMES.get(name, "assignment.setting.seed")),
                      typed=str(typed or "")[:80])


def _typed(name, text):
    """One value of a setting, typed: a number for numbers, on/off for augmentation, a name otherwise (a dataset's
    alias as its dataset: "Fashion-MNIST" is fashion_mnist); "none" (or nothing) for a setting whose default is none."""
    word = text.casefold()
    if name in MAY_BE_NONE and word in ("", "none", "ninguno"):
        return None
    try:
        if name == "augment":
            return WORDS[word]
        if name in INTEGERS:
            return int(text)
        if name in RANGED:
            value = float(text)
            if math.isfinite(value):
                return value
        elif text:
            return text if name == "architecture" else trainable.dataset_name(word) if name == "dataset" else word
    except (KeyError, ValueError):
        pass
    raise ConfigError("assignment.typed_value", setting=Message(SETTING_NAMES.get(name, "assignment.setting.seed")),
                      typed=text[:80])


# ---------------------------------------------------------------- the rules of one of the course's reports

def report_key(report):
    """A report's letter (A–E) from what was typed ("a", " B "); else ConfigError with the choices."""
    key = str(report or "").strip().upper()
    if key not in experiments.REPORTS:
        raise ConfigError("assignment.no_report", report=str(report)[:40], choices=", ".join(experiments.REPORTS))
    return key


def from_report(report):
    """(Rules, questions) of one of the course's reports: a setting with one value across the report's experiments
    is locked to it, one with several is a choice of them; epochs go from 1 to the report's longest (at most
    experiments.CPU_EPOCHS on a machine without a GPU), and so does the budget's."""
    found = experiments.of_report(report_key(report))
    gpu = training.gpu_name() is not None
    longest = max(experiment.suggested_epochs(gpu) for experiment in found)
    settings = {}
    for name in FIELDS:
        if name == "epochs":
            settings[name] = {"mode": "range", "min": 1, "max": longest}
            continue
        values = []
        for experiment in found:
            value = experiment.settings.to_dict()[name]
            if value not in values:
                values.append(value)
        settings[name] = {"mode": "locked", "value": values[0]} if len(values) == 1 else \
            {"mode": "choice", "values": values}
    rules = Rules(found[0].dataset, found[0].architecture, settings, {"epochs": longest, "params": None,
                                                                       "minutes": None})
    return rules, [{"report": question} for question in experiments.QUESTIONS[found[0].report]]


# ---------------------------------------------------------------- holding a training to the rules

def check(rules, config):
    """Nothing when the TrainConfig keeps the rules; else ConfigError naming the setting, the value asked and what
    is allowed ("The assignment locks the optimizer to adadelta: you asked for adam."). Every setting is held to its
    rule (a custom network to a locked or chosen preset's layers), then the budget (epochs, the network's
    parameters on the dataset's images, counted without building it)."""
    for name in FIELDS:
        _check_setting(name, rules.rule(name), config)
    most = rules.budget.get("epochs")
    if most is not None and config.epochs > most:
        raise ConfigError("assignment.budget_epochs", most=most, value=config.epochs)
    most = rules.budget.get("params")
    if most is not None:
        info = catalogue.get_info(config.dataset)
        params = counting.count_params(config.layers, info.image_shape, info.num_classes)
        if params > most:
            raise ConfigError("assignment.budget_params", most=most, value=params)


def _check_setting(name, rule, config):
    value = config.architecture if name == "architecture" else getattr(config, name)
    setting = Message(SETTING_NAMES[name])
    mode = rule["mode"]
    if mode == "locked" and not _same(name, value, rule["value"]):
        raise ConfigError("assignment.locked", setting=setting, allowed=_shown(name, rule["value"]),
                          value=_shown(name, value))
    if mode == "choice" and not any(_same(name, value, allowed) for allowed in rule["values"]):
        raise ConfigError("assignment.choice", setting=setting, value=_shown(name, value),
                          allowed=Alternatives(_shown(name, allowed) for allowed in rule["values"]))
    if mode == "range" and not (_numbers(value) and rule["min"] <= value <= rule["max"]):
        raise ConfigError("assignment.range", setting=setting, low=_shown(name, rule["min"]),
                          high=_shown(name, rule["max"]), value=_shown(name, value))


def _same(name, value, allowed):
    """True when a setting's value is the one a rule allows: a network by its layers (a preset's name or the same
    layers typed out), a dataset by its canonical name, a number within rounding."""
    if name == "architecture":
        try:
            return architectures.parse_spec(value) == architectures.parse_spec(allowed)
        except SpecError:  # a rule's network that does not parse allows nothing
            return False
    if name == "dataset" and isinstance(allowed, str):  # "fashion-mnist" kept before aliases were mapped when typed
        return trainable.dataset_name(value) == trainable.dataset_name(allowed)
    if _numbers(value, allowed):
        return math.isclose(value, allowed, rel_tol=1e-9, abs_tol=1e-12)
    return value == allowed and type(value) is type(allowed)


# ---------------------------------------------------------------- assignments in the database

PRIVATE_SHARE = 0.3  # of a built-in dataset's test images, held back from the class until the teacher reveals them


def link(code):
    """The assignment's address on this server, relative to its root."""
    return f"/?assignment={code}"


def create(who, class_id, title, rules, questions, due_at=None, report=None, private=True):
    """A new assignment of the class (only its teacher, or the owner, may make one); its row, with its link code.
    Rules a student could not train (trainable.require_trainable) are refused here, naming the setting and value.
    private: hold back PRIVATE_SHARE of each built-in dataset's test images for the leaderboard (cnnlab.data.holdout);
    False: none, and the class trains on the whole dataset as before."""
    permissions.require(who, "manage")
    title, questions, due_at = _title(title), _questions(questions), _due(due_at)
    with database.transaction() as session:
        classroom = session.get(schema.Classroom, class_id)
    if classroom is None or not requests.may_see_class(who, class_id):
        raise NotAllowed("permission.not_your_class")
    trainable.require_trainable(who, rules)
    with database.transaction() as session:
        taken = set(session.scalars(sa.select(schema.Assignment.code).where(schema.Assignment.class_id == class_id)))
        code = next(code for code in iter(_new_code, None) if code not in taken)
        made = schema.Assignment(class_id=class_id, code=code, title=title, report=report, rules=rules.to_json(),
                                 questions=json.dumps(questions, ensure_ascii=False), due_at=due_at,
                                 leaderboard="nicknames", private_share=PRIVATE_SHARE if private else 0.0)
        session.add(made)
    return made


def _new_code():
    return "".join(secrets.choice(codes.JOIN_ALPHABET) for _ in range(CODE_LENGTH))


def _title(typed):
    """A title as kept: printable, on one line, trimmed, at most MAX_TITLE characters; else ConfigError."""
    text = unicodedata.normalize("NFC", " ".join(str(typed or "").split()))
    if not text:
        raise ConfigError("assignment.title_missing")
    if len(text) > MAX_TITLE or not all(ch.isprintable() for ch in text):
        raise ConfigError("assignment.title_bad", most=MAX_TITLE)
    return text


def _questions(questions):
    """Questions as kept: a list of at most MAX_QUESTIONS items, each {"report": id} (a course report's question,
    experiments.QUESTION_TEXT, once at most) or {"text": {language: text}} (the teacher's, in at least one of
    i18n.LANGUAGES; each text on one line, printable, at most MAX_QUESTION characters); else ConfigError."""
    if questions is None:
        return []
    if not isinstance(questions, (list, tuple)) or len(questions) > MAX_QUESTIONS:
        raise ConfigError("assignment.bad_questions", most=MAX_QUESTIONS, longest=MAX_QUESTION)
    kept = [_question(item) for item in questions]
    named = [item["report"] for item in kept if "report" in item]
    if len(named) != len(set(named)):
        raise ConfigError("assignment.question_twice")
    return kept


def _question(item):
    """One question as kept, or ConfigError saying what a question is."""
    if isinstance(item, dict) and set(item) == {"report"} and item["report"] in experiments.QUESTION_TEXT:
        return {"report": item["report"]}
    texts = item.get("text") if isinstance(item, dict) and set(item) == {"text"} else None
    if not isinstance(texts, dict) or not set(texts) <= set(LANGUAGES):
        raise ConfigError("assignment.bad_question", questions=", ".join(experiments.QUESTION_TEXT),
                          languages=", ".join(LANGUAGES))
    kept = {}
    for language in LANGUAGES:  # in the catalogue's order, so the same question is the same JSON
        text = unicodedata.normalize("NFC", " ".join(str(texts.get(language) or "").split()))
        if len(text) > MAX_QUESTION or not all(ch.isprintable() for ch in text):
            raise ConfigError("assignment.bad_questions", most=MAX_QUESTIONS, longest=MAX_QUESTION)
        if text:
            kept[language] = text
    if not kept:
        raise ConfigError("assignment.question_empty")
    return {"text": kept}


def questions_of(assignment, language=None):
    """An assignment's questions as [(id, text)] in language (default: the current one): a report's question by its
    id ("overfitting") and the catalogue's wording; the teacher's as "q1", "q2"… in the order they were written,
    in that language or else the first language they were written in."""
    language = language or get_language()
    found, own = [], 0
    for item in json.loads(assignment.questions):
        if isinstance(item, str):  # kept before questions were items: a report question's id
            item = {"report": item} if item in experiments.QUESTION_TEXT else {"text": {DEFAULT: item}}
        if "report" in item:
            with speaking(language):
                found.append((item["report"], t(experiments.QUESTION_TEXT[item["report"]])))
            continue
        own += 1
        texts = item["text"]
        found.append((f"q{own}", texts.get(language) or next(iter(texts.values()))))
    return found


def _due(due_at):
    """The due time as kept (UTC without tzinfo, like schema.now(); a naive time is taken as UTC), in the future."""
    if due_at is None:
        return None
    if due_at.tzinfo is not None:
        due_at = due_at.astimezone(datetime.UTC).replace(tzinfo=None)
    if due_at <= schema.now():
        raise ConfigError("assignment.due_past", due=due_at.isoformat(" ", "minutes") + " UTC")
    return due_at


def _may_see(who, class_id):
    """The class's teacher, the owner and the class's students."""
    if who.role in ("owner", "teacher"):
        return requests.may_see_class(who, class_id)
    if who.role != "student" or who.person_id is None:
        return False
    with database.transaction() as session:
        return session.get(schema.Membership, (who.person_id, class_id)) is not None


def of_class(who, class_id):
    """The class's assignments, newest first, for its teacher, the owner and its students."""
    if not _may_see(who, class_id):
        raise NotAllowed("permission.assignments")
    with database.transaction() as session:
        return list(session.scalars(sa.select(schema.Assignment).where(schema.Assignment.class_id == class_id)
                                    .order_by(schema.Assignment.created_at.desc(), schema.Assignment.id.desc())))


def get(code, who):
    """The assignment with that link code, for those who may see its class; to anyone else, the same sentence as
    a code that does not exist."""
    typed = codes.tidy_join(code)
    with database.transaction() as session:
        found = session.scalar(sa.select(schema.Assignment).where(schema.Assignment.code == typed)) if typed else None
    if found is None or not _may_see(who, found.class_id):
        raise NotAllowed("assignment.unknown", code=str(code)[:40])
    return found


def rules_of(assignment):
    """An assignment's Rules (what TrainingQueue.submit(assignment=…) holds a training to)."""
    return Rules.from_json(assignment.rules)


def as_dict(assignment, class_name):
    """What the command line's --json says of an assignment."""
    due = assignment.due_at.isoformat(timespec="seconds") + "Z" if assignment.due_at else None
    return {"id": assignment.id, "code": assignment.code, "link": link(assignment.code), "class": class_name,
            "title": assignment.title, "report": assignment.report, "due": due,
            "rules": rules_of(assignment).to_dict(), "questions": json.loads(assignment.questions),
            "questions_shown": [{"id": id, "text": text} for id, text in questions_of(assignment)],
            "leaderboard": assignment.leaderboard, "private_share": float(assignment.private_share)}
