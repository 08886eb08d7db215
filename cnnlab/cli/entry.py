"""The command line's parser and entry point: `python -m cnnlab <command>`, in the reader's language (--lang, else
the environment's); bad input is one line on stderr and exit code 2, never a traceback."""

import argparse
import contextlib
import gettext
import hashlib
import json
import os
import sys

from cnnlab import i18n, storage
from cnnlab.cli.commands import (
    cmd_architectures,
    cmd_export,
    cmd_predict,
    cmd_prepare,
    cmd_reproduce,
    cmd_runs,
    cmd_train,
)
from cnnlab.cli.assignment_commands import cmd_assignment
from cnnlab.cli.compare_commands import cmd_compare, cmd_repeat
from cnnlab.cli.data_commands import cmd_data
from cnnlab.cli.output import EXIT_BAD_INPUT
from cnnlab.cli.people_commands import cmd_class, cmd_db, cmd_teacher
from cnnlab.data import catalogue
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t
from cnnlab.networks import architectures

# argparse's own words (its gettext message ids) -> catalogue keys; the values keep argparse's %-placeholders.
# They are compiled into a gettext catalogue (see _argparse_speaks), the way argparse itself is translated.
ARGPARSE = {
    "usage: ": "argparse.usage", "positional arguments": "argparse.positional", "options": "argparse.options",
    "show this help message and exit": "argparse.help",
    "argument %(argument_name)s: %(message)s": "argparse.argument",
    "invalid choice: %(value)r (choose from %(choices)s)": "argparse.invalid_choice",
    "invalid %(type)s value: %(value)r": "argparse.invalid_value",
    "the following arguments are required: %s": "argparse.required",
    "unrecognized arguments: %s": "argparse.unrecognized", "expected one argument": "argparse.expected_one",
    "ambiguous option: %(option)s could match %(matches)s": "argparse.ambiguous",
    "one of the arguments %s is required": "argparse.one_of",
}


GETTEXT_DOMAIN = "cnnlab-argparse"


def _compiled_catalogues():
    """A folder of gettext catalogues (<lang>/LC_MESSAGES/cnnlab-argparse.mo) holding argparse's words from
    cnnlab's own catalogues, compiled with Babel once per catalogue version."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    words = {lang: {msgid: i18n.catalogue(lang)[key] for msgid, key in ARGPARSE.items()} for lang in i18n.LANGUAGES}
    version = hashlib.sha256(json.dumps(words, sort_keys=True).encode()).hexdigest()[:12]
    folder = storage.home() / "gettext" / version
    for lang, messages in words.items():
        path = folder / lang / "LC_MESSAGES" / f"{GETTEXT_DOMAIN}.mo"
        if not path.is_file():
            catalog = Catalog(locale=lang, domain=GETTEXT_DOMAIN)
            for msgid, text in messages.items():
                catalog.add(msgid, text)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(storage.temporary_sibling(path), "wb") as staged:  # written whole, then renamed
                write_mo(staged, catalog)
            os.replace(staged.name, path)
    return folder


@contextlib.contextmanager
def _argparse_speaks(lang):
    """argparse's own headings and errors in lang, through gettext, the translation mechanism argparse uses."""
    previous_domain, previous_language = gettext.textdomain(), os.environ.get("LANGUAGE")
    try:
        gettext.bindtextdomain(GETTEXT_DOMAIN, str(_compiled_catalogues()))
    except OSError:  # no writable home: argparse speaks English, everything else is still translated
        yield
        return
    gettext.textdomain(GETTEXT_DOMAIN)
    os.environ["LANGUAGE"] = lang  # gettext picks the language from here
    try:
        yield
    finally:
        gettext.textdomain(previous_domain)
        if previous_language is None:
            os.environ.pop("LANGUAGE", None)
        else:
            os.environ["LANGUAGE"] = previous_language


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"cnnlab: {t('cli.usage_error', message=message, prog=self.prog)}\n")


def _parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lang", choices=list(i18n.LANGUAGES), default=None, help=t("cli.help.lang"))
    parser = _Parser(prog="python -m cnnlab", description=t("cli.description"), parents=[common])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name, help):
        return sub.add_parser(name, help=help, parents=[common])  # --lang after the command too

    _architectures_arguments(command("architectures", help=t("cli.help.architectures")))
    _train_arguments(command("train", help=t("cli.help.train")))
    _predict_arguments(command("predict", help=t("cli.help.predict")))
    _reproduce_arguments(command("reproduce", help=t("cli.help.reproduce")))
    _prepare_arguments(command("prepare", help=t("cli.help.prepare")))
    _runs_arguments(command("runs", help=t("cli.help.runs")))
    _export_arguments(command("export", help=t("cli.help.export")))
    _data_arguments(command("data", help=t("cli.help.data")))
    _teacher_arguments(command("teacher", help=t("cli.help.teacher")))
    _class_arguments(command("class", help=t("cli.help.class")))
    _db_arguments(command("db", help=t("cli.help.db")))
    _assignment_arguments(command("assignment", help=t("cli.help.assignment")))
    _compare_arguments(command("compare", help=t("stats.cli.help")))
    _repeat_arguments(command("repeat", help=t("repeat.help")))
    return parser


# each command's own arguments (--lang comes to every one from `common`), in the order --help lists them

def _architectures_arguments(parser):
    parser.add_argument("--dataset", default=None, help=t("cli.help.dataset_shapes"))
    parser.add_argument("--json", action="store_true", help=t("cli.help.json"))


def _train_arguments(parser):
    parser.add_argument("--dataset", default="mnist",
                        help=t("cli.help.dataset_train", names=", ".join(catalogue.DATASETS)))
    parser.add_argument("--architecture", default=architectures.DEFAULT_PRESET,
                        help=t("cli.help.architecture"))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--learning-rate", type=float, default=None, help=t("cli.help.learning_rate"))
    parser.add_argument("--dropout", type=float, default=None, help=t("cli.help.dropout"))
    parser.add_argument("--validation-split", type=float, default=0.1)
    parser.add_argument("--train-size", type=int, default=None, help=t("cli.help.train_size"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--augment", action="store_true",
                        help=t("cli.help.augment"))
    parser.add_argument("--assignment", default=None, metavar="CODE", help=t("worksheet.help_assignment"))
    parser.add_argument("--offline", action="store_true", help=argparse.SUPPRESS)  # training never downloads now
    _ray_option(parser)
    parser.add_argument("--json", action="store_true", help=t("cli.help.json"))


def _predict_arguments(parser):
    parser.add_argument("images", nargs="+", metavar="IMAGE", help=t("cli.help.images"))
    parser.add_argument("--run", default=None, metavar="RUN_ID",
                        help=t("cli.help.run"))
    parser.add_argument("--json", action="store_true", help=t("cli.help.json"))


def _reproduce_arguments(parser):
    parser.add_argument("experiment", nargs="?", metavar="ID", help=t("cli.help.experiment"))
    parser.add_argument("--list", action="store_true", help=t("cli.help.list"))
    parser.add_argument("--epochs", type=int, default=None, help=t("cli.help.epochs"))
    parser.add_argument("--offline", action="store_true", help=argparse.SUPPRESS)  # training never downloads now
    _ray_option(parser)
    parser.add_argument("--json", action="store_true", help=t("cli.help.json"))


def _prepare_arguments(parser):
    parser.add_argument("file", help=t("cli.help.file"))
    parser.add_argument("--offline", action="store_true", help=argparse.SUPPRESS)  # training never downloads now
    _ray_option(parser)
    parser.add_argument("--json", action="store_true", help=t("cli.help.json"))


def _runs_arguments(parser):
    parser.add_argument("--json", action="store_true", help=t("cli.help.json"))


def _export_arguments(parser):
    parser.add_argument("runs", nargs="*", metavar="RUN_ID", help=t("cli.help.export_runs"))
    parser.add_argument("--format", required=True,
                        choices=["keras", "weights", "script", "notebook", "report", "markdown"],
                        help=t("cli.help.format"))
    parser.add_argument("--out", default=".", metavar="PATH", help=t("cli.help.out"))
    parser.add_argument("--course", default=None, metavar="REPORT", help=t("cli.help.course"))
    parser.add_argument("--json", action="store_true", help=t("cli.help.json"))


def _data_arguments(parser):
    parser.add_argument("--download", metavar="DATASET", default=None, help=t("cli.help.download"))
    parser.add_argument("--import", dest="import_archive", metavar="ARCHIVE", default=None, help=t("cli.help.import"))
    parser.add_argument("--survey", metavar="FOLDER_OR_ZIP", default=None, help=t("cli.help.survey"))
    parser.add_argument("--name", default=None, help=t("cli.help.own_name"))
    parser.add_argument("--shape", default=None, metavar="28x28x1", help=t("cli.help.own_shape"))
    parser.add_argument("--test-share", type=float, default=None, metavar="0.2", help=t("cli.help.own_test_share"))
    parser.add_argument("--seed", type=int, default=0, help=t("cli.help.own_seed"))
    parser.add_argument("--delete", metavar="NAME", default=None, help=t("cli.help.own_delete"))
    parser.add_argument("--json", action="store_true", help=t("cli.help.json"))


def _teacher_arguments(parser):
    parser.add_argument("action", choices=["add", "password"], help=t("cli.help.teacher_action"))
    parser.add_argument("name", metavar="NAME", help=t("cli.help.teacher_name"))
    parser.add_argument("--password-stdin", action="store_true", help=t("cli.help.password_stdin"))
    parser.add_argument("--json", action="store_true", help=t("cli.help.json"))


def _class_arguments(parser):
    parser.add_argument("action", choices=["create", "roster", "gradebook"], help=t("cli.help.class_action"))
    parser.add_argument("name", metavar="NAME", help=t("cli.help.class_name"))
    parser.add_argument("--term", default="", help=t("cli.help.term"))
    parser.add_argument("--teacher", default=None, metavar="NAME", help=t("cli.help.class_teacher"))
    parser.add_argument("--add", default=None, metavar="FILE.csv", help=t("cli.help.roster_add"))
    parser.add_argument("--out", default=None, metavar="FILE.csv", help=t("gradebook.help_out"))
    parser.add_argument("--json", action="store_true", help=t("cli.help.json"))


def _db_arguments(parser):
    parser.add_argument("action", choices=["upgrade"], help=t("cli.help.db_action"))
    parser.add_argument("--json", action="store_true", help=t("cli.help.json"))


def _assignment_arguments(parser):
    parser.add_argument("action", choices=["create", "list"], help=t("cli.help.assignment_action"))
    parser.add_argument("name", metavar="CLASS", help=t("cli.help.assignment_class"))
    parser.add_argument("--from-report", default=None, metavar="A", help=t("cli.help.from_report"))
    parser.add_argument("--title", default=None, help=t("cli.help.assignment_title"))
    parser.add_argument("--due", default=None, metavar="ISO-TIME", help=t("cli.help.due"))
    parser.add_argument("--no-private", action="store_true", help=t("cli.help.no_private"))
    parser.add_argument("--json", action="store_true", help=t("cli.help.json"))


def _compare_arguments(parser):
    parser.add_argument("run_a", metavar="RUN_A", help=t("stats.cli.help_run_a"))
    parser.add_argument("run_b", metavar="RUN_B", help=t("stats.cli.help_run_b"))
    parser.add_argument("--groups", action="store_true", help=t("stats.cli.help_groups"))
    parser.add_argument("--json", action="store_true", help=t("cli.help.json"))


def _repeat_arguments(parser):
    parser.add_argument("run_id", metavar="RUN_ID", help=t("repeat.help_run"))
    parser.add_argument("--seeds", type=int, required=True, metavar="N", help=t("repeat.help_seeds"))
    parser.add_argument("--json", action="store_true", help=t("cli.help.json"))


def _ray_option(parser):
    parser.add_argument("--ray", metavar="ADDRESS", default=None, help=t("cli.help.ray"))


def _language(argv):
    """--lang X (anywhere on the line) first, else LANGUAGE / LC_ALL / LC_MESSAGES / LANG, else English."""
    for i, word in enumerate(argv):
        if word == "--lang" and i + 1 < len(argv) and i18n.normalize(argv[i + 1]):
            return argv[i + 1]
        if word.startswith("--lang=") and i18n.normalize(word[7:]):
            return word[7:]
    return i18n.from_environment()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    lang = i18n.set_language(_language(argv))  # before the parser: its help is translated too
    with _argparse_speaks(lang):
        args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except CnnlabError as error:
        print(f"cnnlab: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"cnnlab: {t('cli.interrupted')}", file=sys.stderr)
        return 130


COMMANDS = {"architectures": cmd_architectures, "train": cmd_train, "predict": cmd_predict,
            "reproduce": cmd_reproduce, "prepare": cmd_prepare, "runs": cmd_runs, "data": cmd_data,
            "export": cmd_export, "teacher": cmd_teacher, "class": cmd_class, "db": cmd_db,
            "assignment": cmd_assignment, "compare": cmd_compare,
            "repeat": cmd_repeat}
