"""The command line: `python -m cnnlab architectures | train | predict | reproduce | prepare | runs | data`.

Results go to stdout (with --json, the last line is one JSON value); progress and notices go
to stderr. Any bad input ends with one line on stderr and exit code 2, never a traceback.
"""

import argparse
import contextlib
import gettext
import hashlib
import json
import os
import sys
import time

from cnnlab.networks import architectures
from cnnlab.data import datasets
from cnnlab import i18n, storage
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t

EXIT_BAD_INPUT = 2


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

    p = command("architectures", help=t("cli.help.architectures"))
    p.add_argument("--dataset", default=None, help=t("cli.help.dataset_shapes"))
    p.add_argument("--json", action="store_true", help=t("cli.help.json"))

    p = command("train", help=t("cli.help.train"))
    p.add_argument("--dataset", default="mnist", help=t("cli.help.dataset_train", names=", ".join(datasets.DATASETS)))
    p.add_argument("--architecture", default=architectures.DEFAULT_PRESET,
                   help=t("cli.help.architecture"))
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--learning-rate", type=float, default=None, help=t("cli.help.learning_rate"))
    p.add_argument("--dropout", type=float, default=None, help=t("cli.help.dropout"))
    p.add_argument("--validation-split", type=float, default=0.1)
    p.add_argument("--train-size", type=int, default=None, help=t("cli.help.train_size"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--augment", action="store_true",
                   help=t("cli.help.augment"))
    p.add_argument("--offline", action="store_true", help=argparse.SUPPRESS)  # training never downloads now
    _ray_option(p)
    p.add_argument("--json", action="store_true", help=t("cli.help.json"))

    p = command("predict", help=t("cli.help.predict"))
    p.add_argument("images", nargs="+", metavar="IMAGE", help=t("cli.help.images"))
    p.add_argument("--run", default=None, metavar="RUN_ID",
                   help=t("cli.help.run"))
    p.add_argument("--json", action="store_true", help=t("cli.help.json"))

    p = command("reproduce", help=t("cli.help.reproduce"))
    p.add_argument("experiment", nargs="?", metavar="ID", help=t("cli.help.experiment"))
    p.add_argument("--list", action="store_true", help=t("cli.help.list"))
    p.add_argument("--epochs", type=int, default=None, help=t("cli.help.epochs"))
    p.add_argument("--offline", action="store_true", help=argparse.SUPPRESS)  # training never downloads now
    _ray_option(p)
    p.add_argument("--json", action="store_true", help=t("cli.help.json"))

    p = command("prepare", help=t("cli.help.prepare"))
    p.add_argument("file", help=t("cli.help.file"))
    p.add_argument("--offline", action="store_true", help=argparse.SUPPRESS)  # training never downloads now
    _ray_option(p)
    p.add_argument("--json", action="store_true", help=t("cli.help.json"))

    p = command("runs", help=t("cli.help.runs"))
    p.add_argument("--json", action="store_true", help=t("cli.help.json"))

    p = command("export", help=t("cli.help.export"))
    p.add_argument("runs", nargs="*", metavar="RUN_ID", help=t("cli.help.export_runs"))
    p.add_argument("--format", required=True, choices=["keras", "weights", "script", "notebook", "report", "markdown"],
                   help=t("cli.help.format"))
    p.add_argument("--out", default=".", metavar="PATH", help=t("cli.help.out"))
    p.add_argument("--course", default=None, metavar="REPORT", help=t("cli.help.course"))
    p.add_argument("--json", action="store_true", help=t("cli.help.json"))

    p = command("data", help=t("cli.help.data"))
    p.add_argument("--download", metavar="DATASET", default=None, help=t("cli.help.download"))
    p.add_argument("--import", dest="import_archive", metavar="ARCHIVE", default=None, help=t("cli.help.import"))
    p.add_argument("--survey", metavar="FOLDER_OR_ZIP", default=None, help=t("cli.help.survey"))
    p.add_argument("--name", default=None, help=t("cli.help.own_name"))
    p.add_argument("--shape", default=None, metavar="28x28x1", help=t("cli.help.own_shape"))
    p.add_argument("--test-share", type=float, default=None, metavar="0.2", help=t("cli.help.own_test_share"))
    p.add_argument("--seed", type=int, default=0, help=t("cli.help.own_seed"))
    p.add_argument("--delete", metavar="NAME", default=None, help=t("cli.help.own_delete"))
    p.add_argument("--json", action="store_true", help=t("cli.help.json"))
    return parser


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


def _emit(args, lines, data):
    for line in lines:
        print(line)
    if args.json:
        print(json.dumps(data))
    return 0


# ---------------------------------------------------------------- commands

def cmd_architectures(args):
    shapes = [datasets.get_info(args.dataset)] if args.dataset else list(datasets.DATASETS.values())
    lines, data = [], []
    for preset in architectures.PRESETS.values():
        counts = {}
        for info in shapes:
            try:
                counts[info.name] = architectures.count_params(preset.layers, info.image_shape, info.num_classes)
            except CnnlabError as error:
                counts[info.name] = None
                lines.append(f"  ({t('cli.cannot_run', name=preset.name, title=info.title, error=error)})")
        layers = " -> ".join(layer.describe() for layer in preset.layers)
        shown = ", ".join(f"{datasets.get_info(k).title} {i18n.number(v, ',')}" for k, v in counts.items()
                          if v is not None)
        lines.append(f"{preset.name:<20} {t('cli.report'):<7}{preset.report:<6} {t('cli.params')}: {shown}")
        lines.append(f"{'':<20} {layers} -> Dense(10, softmax)")
        data.append({"name": preset.name, "title": preset.title, "report": preset.report,
                     "layers": [layer.to_dict() for layer in preset.layers], "params": counts,
                     "provenance": preset.provenance, "reported": preset.reported})
    return _emit(args, lines, data)


class _ProgressBar:
    """A terminal progress bar on stderr: redrawn in place on a terminal, a line per epoch otherwise."""

    def __init__(self, epochs, steps, stream=sys.stderr):
        self.epochs, self.steps, self.stream = epochs, steps, stream
        self.live = stream.isatty()
        self.epoch, self.started = 0, time.perf_counter()

    def batch(self, batch, logs):
        if self.live:
            done = int(30 * (batch + 1) / self.steps)
            self.stream.write("\r" + t("cli.bar", epoch=self.epoch + 1, epochs=self.epochs,
                                        bar="#" * done + "." * (30 - done), loss=logs.get("loss", float("nan")),
                                        accuracy=logs.get("accuracy", 0.0)))
            self.stream.flush()

    def epoch_end(self, epoch, logs):
        self.epoch = epoch + 1
        val = (t("cli.epoch_validation", loss=logs["val_loss"], accuracy=logs["val_accuracy"])
               if "val_loss" in logs else "")
        self.stream.write("\r" + t("cli.epoch", epoch=epoch + 1, epochs=self.epochs, loss=logs["loss"],
                                    accuracy=logs["accuracy"], validation=val,
                                    seconds=time.perf_counter() - self.started) + "\n")
        self.stream.flush()


def cmd_train(args):
    from cnnlab import runs, training

    config = training.TrainConfig(
        dataset=args.dataset, architecture=args.architecture, epochs=args.epochs, batch_size=args.batch_size,
        optimizer=args.optimizer, learning_rate=args.learning_rate, dropout=args.dropout,
        validation_split=args.validation_split, train_size=args.train_size, seed=args.seed,
        augment=args.augment)
    for note in config.notes:
        print(t("cli.note", text=i18n.text(note)), file=sys.stderr)
    store = runs.RunStore()
    run, cached, seconds = _train_quietly(store, config, ray=args.ray)
    for notice in store.notices:
        print(t("cli.warning", text=notice), file=sys.stderr)
    how = t("cli.from_store") if cached else t("cli.trained_in", seconds=run.train_seconds)
    status = "" if run.complete else t("cli.stopped_after", epochs=run.record["epochs_completed"])
    line = t("cli.train_result", id=run.id, accuracy=run.test_accuracy, loss=run.test_loss, how=how, status=status,
             seconds=seconds)
    data = {"run_id": run.id, "test_accuracy": run.test_accuracy, "test_loss": run.test_loss,
            "cached": cached, "train_seconds": run.train_seconds, "seconds": seconds,
            "status": run.record["status"], "epochs_completed": run.record["epochs_completed"],
            "data_source": run.record["data"]["source"], "data_variant": run.variant,
            "data_fingerprint": run.record["data"].get("fingerprint"),
            "params": run.record["params"], "store": str(store.root), "trained_on": run.record.get("trained_on")}
    return _emit(args, [line], data)


def _train_quietly(store, config, requested_by=None, ray=None):
    """Train (or fetch) one config with a terminal progress bar on stderr; (run, cached, seconds).

    The data is chosen once, here: the local copy in use now (training never downloads). ray is --ray's
    address (None: CNNLAB_RAY_ADDRESS, else this process)."""
    from cnnlab.compute import executors
    from cnnlab import training

    training.check_layers(config)  # a network that cannot build, or is over the limits: one line, nothing loaded
    dataset = datasets.load(config.dataset)
    training.preflight(config, dataset)
    print(t("cli.data_from", title=dataset.info.title, variant=dataset.variant_label,
            source=dataset.source.describe()), file=sys.stderr)
    bar = _ProgressBar(config.epochs, training.steps_per_epoch(config, len(dataset.x_train)))
    started = time.perf_counter()
    run, cached = store.get_or_train(
        config, on_epoch_end=bar.epoch_end, on_batch_end=bar.batch if bar.live else None,
        on_wait=lambda run_id: print(t("cli.waiting", id=run_id), file=sys.stderr),
        dataset=dataset, requested_by=requested_by, executor=executors.executor(ray))
    return run, cached, time.perf_counter() - started


def cmd_reproduce(args):
    from cnnlab.course import experiments
    from cnnlab import runs

    if args.list or not args.experiment:
        lines, data = [], []
        stored = runs.RunStore().list()
        for e in experiments.EXPERIMENTS:
            config = e.config()
            reported = (i18n.number(e.reported_test_accuracy, ".4f") if e.reported_test_accuracy is not None
                        else e.reported_note)
            lines.append(t("cli.experiment_row", id=f"{e.id:<3}", report=e.report, title=f"{e.title:<46}",
                           dataset=f"{e.dataset:<13}", optimizer=f"{config.optimizer:<8}",
                           rate=f"{i18n.number(config.learning_rate, 'g'):<7}", batch=f"{e.batch_size:<5}",
                           epochs=f"{e.epochs:<4}", reported=reported))
            run = experiments.best_run(e, stored)
            measured = None if run is None else {
                "run_id": run.id, "epochs_completed": run.record["epochs_completed"],
                "test_accuracy": run.test_accuracy, "data_variant": run.variant,
                "shortened": run.record["epochs_completed"] < e.epochs}
            if run is not None:
                lines.append("     " + t("cli.experiment_measured", accuracy=run.test_accuracy,
                                           epochs=experiments.epochs_label(e, run), variant=run.variant_label,
                                           id=run.id))
            data.append({**e.to_dict(), "reported_test_accuracy": e.reported_test_accuracy, "measured": measured})
        return _emit(args, lines, data)
    experiment = experiments.get(args.experiment)
    epochs = experiment.epochs if args.epochs is None else args.epochs
    if not 1 <= epochs <= experiment.epochs:
        raise CnnlabError("error.cli.epochs", epochs=experiment.epochs)
    for item in experiment.assumed:
        print(t("cli.note", text=item), file=sys.stderr)
    store = runs.RunStore()
    run, cached, seconds = _train_quietly(store, experiment.config(epochs), requested_by=experiment.id, ray=args.ray)
    reported = experiment.reported_test_accuracy
    shortened = run.record["epochs_completed"] < experiment.epochs
    label = experiments.epochs_label(experiment, run)
    lines = [t("cli.reproduce_title", id=experiment.id, title=experiment.title, dataset=run.info.title,
               source=run.record["data"]["source"]),
             t("cli.reproduce_reported", reported=i18n.number(reported, ".4f") if reported is not None
               else experiment.reported_note, epochs=experiment.epochs),
             t("cli.reproduce_measured", accuracy=run.test_accuracy, loss=run.test_loss, label=label,
               how=t("cli.from_store") if cached else t("cli.trained_in", seconds=run.train_seconds))]
    data = {"id": experiment.id, "report": experiment.report, "run_id": run.id, "test_accuracy": run.test_accuracy,
            "test_loss": run.test_loss, "reported_test_accuracy": reported,
            "reported_test_loss": experiment.reported_test_loss, "train_seconds": run.train_seconds,
            "epochs": run.record["epochs_completed"], "reported_epochs": experiment.epochs, "shortened": shortened,
            "cached": cached, "data_source": run.record["data"]["source"],
            "data_variant": run.variant, "seconds": seconds, "trained_on": run.record.get("trained_on")}
    return _emit(args, lines, data)


def _prepare_items(path):
    """(line number, TrainConfig or CnnlabError, label) for each line of a prepare file."""
    from cnnlab.course import experiments

    try:
        text = open(path, encoding="utf-8").read()
    except OSError as error:
        raise CnnlabError("error.cli.cannot_read", path=str(path), reason=str(error.strerror or error)) from None
    except UnicodeDecodeError:
        raise CnnlabError("error.cli.not_text", path=str(path)) from None
    return experiments.parse_list(text)


def _experiment_of(label):
    from cnnlab.course import experiments

    return label if label in experiments.BY_ID else None


def cmd_prepare(args):
    from cnnlab import runs

    store = runs.RunStore()
    lines, data, failed = [], [], 0
    items = list(_prepare_items(args.file))
    if not items:
        raise CnnlabError("error.cli.nothing", path=args.file)
    for number, config, label in items:
        try:
            if isinstance(config, CnnlabError):
                raise config
            run, cached, seconds = _train_quietly(store, config, requested_by=_experiment_of(label), ray=args.ray)
        except CnnlabError as error:
            failed += 1
            print(f"cnnlab: {args.file}:{number} ({label}): {error}", file=sys.stderr)
            data.append({"line": number, "item": label, "error": str(error)})
            continue
        lines.append(t("cli.prepare_line", number=number, label=label, id=run.id, accuracy=run.test_accuracy,
                       how=t("cli.already_stored") if cached else t("cli.trained_in", seconds=run.train_seconds)))
        data.append({"line": number, "item": label, "run_id": run.id, "test_accuracy": run.test_accuracy,
                     "cached": cached, "seconds": seconds})
    _emit(args, lines + [t("cli.prepare_done", ready=len(items) - failed, total=len(items), root=str(store.root))],
          data)
    return EXIT_BAD_INPUT if failed else 0


def cmd_runs(args):
    from cnnlab import runs

    store = runs.RunStore()
    rows = [run.summary_row() for run in store.list()]
    for notice in store.notices:
        print(t("cli.warning", text=notice), file=sys.stderr)
    lines = [t("cli.runs_count", count=len(rows), root=str(store.root))]
    for r in rows:
        lines.append(t("cli.runs_row", id=r["run_id"], dataset=f"{r['dataset']:<13}",
                       variant=f"{datasets.variant_label(r['data']):<8}",
                       architecture=f"{r['architecture']:<18}", optimizer=f"{r['optimizer']:<8}",
                       rate=f"{i18n.number(r['learning_rate'], 'g'):<8}", batch=f"{r['batch_size']:<5}",
                       epochs=f"{r['epochs']:<4}", accuracy=r["test_accuracy"],
                       seconds=f"{i18n.number(r['train_seconds'], '.1f'):>7}",
                       status=t("compare.complete") if r["status"] == "complete" else t("compare.stopped")))
    return _emit(args, lines, rows)


class _DownloadProgress:
    """Download progress on stderr: redrawn in place on a terminal, a line every 10 % otherwise."""

    def __init__(self, stream=sys.stderr):
        self.stream, self.live, self.shown = stream, stream.isatty(), -1

    def __call__(self, progress):
        tenth = int(progress.fraction * 10)
        if self.live:
            self.stream.write("\r" + progress.describe() + " " * 8)
        elif tenth > self.shown:
            self.stream.write(progress.describe() + "\n")
            self.shown = tenth
        self.stream.flush()


def _survey(args):
    """What a folder or zip of class folders holds, as `data --survey` prints it (nothing is written)."""
    from cnnlab.data import own_images

    survey = own_images.survey(args.survey)
    height, width, channels = survey.shape
    lines = [t("cli.survey_title", path=survey.source, images=survey.images, classes=len(survey.classes))]
    lines += [t("cli.survey_class", name=f"{name:<20}", count=count) for name, count in survey.counts().items()]
    lines += [t("cli.survey_sizes", sizes=", ".join(f"{w}×{h} ({n})" for (w, h), n in survey.sizes.most_common(5)),
                shape=f"{height}×{width}", colour=t("cli.survey_colour") if channels == 3 else t("cli.survey_grey"))]
    lines += [t("cli.survey_skipped", name=name, why=why) for name, why in survey.skipped]
    lines += [t("cli.warning", text=warning) for warning in survey.warnings]
    return _emit(args, lines, {"source": survey.source, "classes": survey.counts(), "images": survey.images,
                               "skipped": [{"file": name, "reason": str(why)} for name, why in survey.skipped],
                               "sizes": {f"{w}x{h}": n for (w, h), n in survey.sizes.items()},
                               "shape": list(survey.shape), "warnings": [str(w) for w in survey.warnings]})


def _import_own(args):
    """`data --import FOLDER_OR_ZIP --name NAME`: survey, import, and one line with what was stored."""
    from cnnlab.data import own_images

    test_share = own_images.TEST_SHARE if args.test_share is None else args.test_share
    own_images.check_settings(args.name, test_share)  # refused before a picture is read
    shape = own_images.parse_shape(args.shape) if args.shape else None
    found = own_images.survey(args.import_archive)
    info = own_images.import_images(args.import_archive, args.name, shape=shape, test_share=test_share,
                                    seed=args.seed, survey_=found)
    for warning in found.warnings:  # said once it is imported: a refusal stays one line
        print(t("cli.warning", text=warning), file=sys.stderr)
    if found.skipped:
        print(t("cli.own_skipped", count=len(found.skipped)), file=sys.stderr)
    height, width, channels = info.image_shape
    line = t("cli.own_imported", title=info.title, name=info.name, classes=len(info.classes),
             train=info.full_sizes[0], test=info.full_sizes[1], shape=f"{height}×{width}×{channels}",
             fingerprint=info.fingerprint)
    return _emit(args, [line], {"dataset": info.name, "title": info.title, "classes": list(info.classes),
                                "train": info.full_sizes[0], "test": info.full_sizes[1],
                                "shape": list(info.image_shape), "fingerprint": info.fingerprint,
                                "skipped": [{"file": name, "reason": str(why)} for name, why in found.skipped]})


def _delete_own(args):
    from cnnlab.data import own_images
    from cnnlab import runs

    deleted = own_images.delete(args.delete, runs.RunStore())
    return _emit(args, [t("cli.own_deleted", name=args.delete.lower(), runs=deleted)],
                 {"deleted": args.delete.lower(), "runs": deleted})


def cmd_data(args):
    if args.survey:
        return _survey(args)
    if args.delete:
        return _delete_own(args)
    if args.import_archive and args.name:
        return _import_own(args)
    if args.import_archive:
        from cnnlab.data import archives

        source = archives.import_cifar(args.import_archive)
        print(t("cli.imported", title="CIFAR-10", path=source.path))
    if args.download:
        from cnnlab.data import downloads

        info = datasets.get_info(args.download)
        source = downloads.download(info.name, on_progress=_DownloadProgress())
        print(("\n" if sys.stderr.isatty() else "") + t("cli.downloaded", title=info.title, path=source.path))
    lines, data = [], []
    for row in datasets.describe_sources():
        source = row["source"]
        if source is None:
            lines.append(f"{row['title']:<14} {t('home.not_available')} — {row['how_to_get']}")
            data.append({"dataset": row["dataset"], "available": False, "how_to_get": row["how_to_get"]})
            continue
        dataset = datasets.load(row["dataset"], source=source)
        lines.append(t("cli.data_row", title=f"{row['title']:<14}", train=f"{i18n.number(len(dataset.x_train), ','):>6}",
                       test=f"{i18n.number(len(dataset.x_test), ','):>6}", source=source.describe(),
                       variant=dataset.variant_label))
        data.append({"dataset": row["dataset"], "available": True, "source": source.kind, "path": source.path,
                     "variant": dataset.variant, "fingerprint": dataset.fingerprint,
                     "train": len(dataset.x_train), "test": len(dataset.x_test)})
    return _emit(args, lines, data)


def _predict_model(run_id):
    """(model, dataset name, where it comes from) for `predict`."""
    from cnnlab.insight import drawing
    from cnnlab import runs

    if run_id is None:
        bundled = drawing.bundled()
        return bundled.build_model(), bundled.config.dataset, t("cli.bundled_model", name=bundled.name)
    run = runs.RunStore().get(run_id)
    if run is None:
        raise CnnlabError("error.cli.no_run", id=run_id)
    if run.info.image_shape != (28, 28, 1):
        raise CnnlabError("error.cli.not_grey", id=run.id, title=run.info.title)
    return run.build_model(), run.config.dataset, t("cli.run_model", id=run.id)


def cmd_predict(args):
    from cnnlab.insight import drawing

    model, dataset, origin = _predict_model(args.run)
    class_names = datasets.get_info(dataset).class_names
    print(t("cli.model", origin=origin, title=datasets.get_info(dataset).title), file=sys.stderr)
    lines, data, failed = [], [], 0
    for name in args.images:
        try:
            prepared = drawing.prepare(drawing.to_array(drawing.read_path(name)), box=drawing.box_for(dataset))
        except CnnlabError as error:
            failed += 1
            print(f"cnnlab: {name}: {error}", file=sys.stderr)
            data.append({"file": name, "error": str(error)})
            continue
        probabilities = drawing.classify(model, prepared.network_input)
        (label, probability), *others = drawing.ranked(probabilities, class_names, top=3)
        lines.append(f"{name}: {label} ({i18n.percent(probability, 1)})")
        data.append({"file": name, "label": label, "class_index": class_names.index(label),
                     "probability": probability, "top3": [{"label": l, "probability": p} for l, p in
                                                          [(label, probability), *others]]})
    _emit(args, lines, data)
    return EXIT_BAD_INPUT if failed else 0


def cmd_export(args):
    from cnnlab.course import experiments, exports, reports
    from cnnlab import runs, storage as files

    store = runs.RunStore()
    chosen = [exports.find_run(store, text) for text in args.runs]
    if args.course:
        report = str(args.course).strip().upper()
        if report not in experiments.REPORTS:
            raise CnnlabError("error.cli.no_course", report=args.course, choices=", ".join(experiments.REPORTS))
        if args.format not in ("report", "markdown"):
            raise CnnlabError("error.cli.course_format")
        stored = store.list()
        for run in (experiments.best_run(e, stored) for e in experiments.of_report(report)):
            if run is not None and run.id not in {r.id for r in chosen}:
                chosen.append(run)
        if not chosen:
            raise CnnlabError("error.cli.course_empty", report=report)
        make = reports.report_html if args.format == "report" else reports.report_zip
        data = make(chosen, course=report, stored_runs=stored)
        path = exports.destination(args.out, f"cnnlab-course-{report}{exports.SUFFIXES[args.format]}")
        files.write_bytes(path, data.encode("utf-8") if isinstance(data, str) else data)
    elif not chosen:
        raise CnnlabError("error.cli.export_no_run")
    elif len(chosen) > 1:
        if args.format not in ("report", "markdown"):
            raise CnnlabError("error.cli.export_one", format=args.format)
        data = reports.report_html(chosen).encode("utf-8") if args.format == "report" else reports.report_zip(chosen)
        path = exports.destination(args.out, f"cnnlab-runs-{len(chosen)}{exports.SUFFIXES[args.format]}")
        files.write_bytes(path, data)
    else:
        path = exports.export(chosen[0], args.format, args.out)
    size = path.stat().st_size
    return _emit(args, [t("cli.exported", path=str(path), size=size / 1024)],
                 {"path": str(path), "format": args.format, "runs": [run.id for run in chosen], "bytes": size})


COMMANDS = {"architectures": cmd_architectures, "train": cmd_train, "predict": cmd_predict,
            "reproduce": cmd_reproduce, "prepare": cmd_prepare, "runs": cmd_runs, "data": cmd_data,
            "export": cmd_export}
