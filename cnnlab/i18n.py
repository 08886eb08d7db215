"""cnnlab's one translation layer: a catalogue per language, a current language, localized numbers.

Every student-facing string lives in cnnlab/locales/<lang>.json under a dotted key ("train.title").
`t(key, **params)` looks it up in the current language and fills in {placeholders}; numbers given
as params are written by Babel in the language's own way (1.234,5 and 98,25 % in Spanish), whatever
Python format spec the entry uses. An entry that depends on a count is a dict of plural forms,
{"plural": "epochs", "one": "{epochs} epoch", "other": "{epochs} epochs"}, chosen by the language's
plural rules (CLDR, through Babel) from the param it names.
The current language is a context variable: each Streamlit session's script thread and the command
line set their own, so two students can read the same server in two languages.

`Message` is a translatable text that is rendered when it is shown, not when it is made: errors
raised in the training thread are read later by a page in its own student's language.
"""

import contextlib
import contextvars
import decimal
import functools
import json
import math
import os
import pathlib
import re
import string

from babel import Locale
from babel import numbers as babel_numbers

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


@contextlib.contextmanager
def speaking(lang):
    """Word messages in lang for a moment, then go back to the language before."""
    token = _current.set(normalize(lang) or DEFAULT)
    try:
        yield
    finally:
        _current.reset(token)


ECHO = 200  # characters of a text given to a message that are shown: a name typed into a link may be megabytes
HUGE = 10 ** 15  # numbers from here on are written 1.000e+15: Babel cannot group 10**400


class _Formatter(string.Formatter):
    """str.format whose numbers follow the language: 0.9825 with '.2%' is '98.25%' or '98,25 %'."""

    def __init__(self, lang):
        self.lang = lang

    def format_field(self, value, format_spec):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return number(value, format_spec, self.lang)
        return super().format_field(value, format_spec)


_SPEC = re.compile(r"^(?P<sign>\+)?(?P<group>,)?(?:\.(?P<precision>\d+))?(?P<kind>[fg%])?$")


@functools.cache
def locale(lang):
    """The Babel Locale of a language code."""
    return Locale.parse(lang)


def number(value, spec="", lang=None):
    """A number written the language's way (Babel), following a Python format spec: ',', '.2f', '.1%', 'g',
    '+.2f' (sign, grouping, decimals, kind). Another spec falls back to Python's own formatting."""
    lang = lang or get_language()
    if isinstance(value, float) and not math.isfinite(value):
        return format(value, "")
    if abs(value) >= HUGE:  # a number no setting takes (typed in a link, say): shown as such, never a crash
        return format(decimal.Decimal(value), ".3e")
    match = _SPEC.match(spec)
    if match is None:
        return format(value, spec)
    sign, group, precision, kind = match["sign"], match["group"], match["precision"], match["kind"]
    where = locale(lang)
    if kind == "%":
        pattern = babel_numbers.parse_pattern(where.percent_formats[None].pattern)
        decimals = 6 if precision is None else int(precision)
        pattern.frac_prec = (decimals, decimals)
        text = pattern.apply(value, where)
    else:
        if kind == "f" or (kind is None and precision is not None):
            decimals = 6 if precision is None else int(precision)
            fraction = "." + "0" * decimals if decimals else ""
            amount = value
        elif kind == "g" or isinstance(value, float):
            # Python's g: at most 6 significant digits (or the precision), written out in full (0,00001)
            amount = decimal.Decimal(format(value, f".{precision or 6}g") if kind == "g" else repr(float(value)))
            fraction = "." + "#" * 16
        else:  # an int with no spec
            amount, fraction = value, ""
        pattern = ("#,##0" if group else "0") + fraction
        with decimal.localcontext() as context:  # 16 decimals of a number up to HUGE: more than decimal's 28 digits
            context.prec = 60
            text = babel_numbers.format_decimal(amount, format=pattern, locale=where)
    if sign and not text.startswith(("-", "\u2212")):
        text = where.number_symbols["latn"]["plusSign"] + text
    return text


def percent(value, decimals=2, lang=None):
    return number(value, f".{decimals}%", lang)


def plural_form(count, lang=None):
    """'one', 'other', … : the CLDR plural category of count in the language."""
    return locale(lang or get_language()).plural_form(abs(count))


def t(key, /, **params):
    """The current language's text for key, with params filled in. A list entry comes back as a list."""
    lang = get_language()
    entries = catalogue(lang)
    if key not in entries:
        entries = catalogue(DEFAULT)  # a catalogue test keeps this from happening; never show a bare key
    value = entries[key]
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):  # plural forms, chosen by the count the entry names
        value = value.get(plural_form(params[value["plural"]], lang)) or value["other"]
    if not params:
        return value
    return _Formatter(lang).format(value, **{k: _render(v) for k, v in params.items()})


def text(value):
    """A stored text that may be a catalogue key (run records keep keys): worded if it is one, else as it is."""
    return t(value) if isinstance(value, str) and value in catalogue(DEFAULT) else str(value)


def _render(value):
    """Messages are worded now; a list becomes 'a, b and c' in the current language; a text longer than ECHO
    characters (what someone typed, sent back in a message) is cut, so a message stays a sentence."""
    if isinstance(value, (Message, Alternatives)):
        return str(value)
    if isinstance(value, list):
        return join(value)
    if isinstance(value, str) and len(value) > ECHO:
        return value[:ECHO - 1] + "…"
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


def join(items, word_key="common.and"):
    """'a, b and c' / 'a, b y c' (or, with word_key="common.or", 'a, b or c' / 'a, b o c')."""
    items = [str(item) for item in items]
    if len(items) < 2:
        return "".join(items)
    word = t(word_key)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


class Alternatives(list):
    """Choices worded when shown: 'a, b or c' in the reader's language."""

    def __str__(self):
        return join(self, "common.or")
