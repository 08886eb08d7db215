"""cnnlab's one translation layer: a catalogue per language, a current language, localized numbers.

Every student-facing string lives in cnnlab/locales/<lang>.json under a dotted key ("train.title").
`t(key, **params)` looks it up in the current language and fills in {placeholders}; numbers given
as params follow the language (decimal comma in Spanish), whatever format spec the entry uses.
The current language is a context variable: each Streamlit session's script thread and the command
line set their own, so two students can read the same server in two languages.

`Message` is a translatable text that is rendered when it is shown, not when it is made: errors
raised in the training thread are read later by a page in its own student's language.
"""

import contextvars
import functools
import json
import math
import os
import pathlib
import string

LANGUAGES = {"en": "English", "es": "Español"}
DEFAULT = "en"
LOCALES = pathlib.Path(__file__).resolve().parent / "locales"

_current = contextvars.ContextVar("cnnlab_language", default=DEFAULT)


@functools.cache
def catalogue(lang):
    """The whole catalogue of one language: {key: str | list}."""
    with open(LOCALES / f"{lang}.json", encoding="utf-8") as f:
        return json.load(f)


def normalize(tag):
    """'es', 'es-CL', 'es_AR.UTF-8', 'ES' -> 'es'; None for a language cnnlab does not have."""
    if not tag:
        return None
    code = str(tag).strip().replace("_", "-").split("-")[0].split(".")[0].lower()
    return code if code in LANGUAGES else None


def from_environment(environ=None):
    """The CLI's language from LANGUAGE, LC_ALL, LC_MESSAGES or LANG (the first that names one), else English."""
    environ = os.environ if environ is None else environ
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        for part in environ.get(name, "").split(":"):
            if normalize(part):
                return normalize(part)
    return DEFAULT


def set_language(lang):
    """Make lang ('en', 'es' or a locale tag) the current language of this thread; returns the code used."""
    code = normalize(lang) or DEFAULT
    _current.set(code)
    return code


def get_language():
    return _current.get()


class _Formatter(string.Formatter):
    """str.format whose numbers follow the language: 0.9825 with '.2%' is '98.25%' or '98,25 %'."""

    def __init__(self, lang):
        self.lang = lang

    def format_field(self, value, format_spec):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return number(value, format_spec, self.lang)
        return super().format_field(value, format_spec)


def number(value, spec="", lang=None):
    """A number formatted by spec (',.2f', '.1%', 'g', …) in the language's style."""
    lang = lang or get_language()
    if isinstance(value, float) and not math.isfinite(value):
        return format(value, "")
    text = format(value, spec)
    if lang == "es":
        # swap the separators through a placeholder; Spanish puts a space before %
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
        if text.endswith("%"):
            text = text[:-1] + "\u00a0%"
    return text


def percent(value, decimals=2, lang=None):
    return number(value, f".{decimals}%", lang)


def t(key, /, **params):
    """The current language's text for key, with params filled in. A list entry comes back as a list."""
    lang = get_language()
    entries = catalogue(lang)
    if key not in entries:
        entries = catalogue(DEFAULT)  # a catalogue test keeps this from happening; never show a bare key
    value = entries[key]
    if isinstance(value, list):
        return list(value)
    if not params:
        return value
    return _Formatter(lang).format(value, **{k: _render(v) for k, v in params.items()})


def text(value):
    """A stored text that may be a catalogue key (run records keep keys): worded if it is one, else as it is."""
    return t(value) if isinstance(value, str) and value in catalogue(DEFAULT) else str(value)


def _render(value):
    """Messages are worded now; a list becomes 'a, b and c' in the current language."""
    if isinstance(value, Message):
        return str(value)
    if isinstance(value, list):
        return join(value)
    return value


class Message:
    """A catalogue key and its params, rendered in the language current when it is shown."""

    def __init__(self, key, /, **params):
        self.key, self.params = key, params

    def __str__(self):
        return t(self.key, **self.params)

    def __repr__(self):
        return f"Message({self.key!r}, {self.params!r})"

    def __eq__(self, other):
        return isinstance(other, Message) and (self.key, self.params) == (other.key, other.params)

    def __hash__(self):
        return hash(self.key)


def join(items):
    """'a, b and c' / 'a, b y c'."""
    items = [str(item) for item in items]
    if len(items) < 2:
        return "".join(items)
    word = t("common.and")
    return f"{', '.join(items[:-1])} {word} {items[-1]}"
