"""The commands that train and read runs: architectures, train, reproduce, prepare, runs, predict, export."""

import sys
import time

from cnnlab import i18n
from cnnlab.cli.output import EXIT_BAD_INPUT, emit
from cnnlab.data import catalogue, datasets
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t
from cnnlab.networks import architectures, counting

# ---------------------------------------------------------------- commands

def cmd_architectures(args):
    shapes = [catalogue.get_info(args.dataset)] if args.dataset else list(catalogue.DATASETS.values())
    lines, data = [], []
    for preset in architectures.PRESETS.values():
        counts = {}
        for info in shapes:
            try:
                counts[info.name] = counting.count_params(preset.layers, info.image_shape, info.num_classes)
            except CnnlabError as error:
                counts[info.name] = None
                lines.append(f"  ({t('cli.cannot_run', name=preset.name, title=info.title, error=error)})")
        layers = " -> ".join(layer.describe() for layer in preset.layers)
        shown = ", ".join(f"{catalogue.get_info(k).title} {i18n.number(v, ',')}" for k, v in counts.items()
                          if v is not None)
        lines.append(f"{preset.name:<20} {t('cli.report'):<7}{preset.report:<6} {t('cli.params')}: {shown}")
        lines.append(f"{'':<20} {layers} -> Dense(10, softmax)")
        data.append({"name": preset.name, "title": preset.title, "report": preset.report,
                     "layers": [layer.to_dict() for layer in preset.layers], "params": counts,
                     "provenance": preset.provenance, "reported": preset.reported})
    return emit(args, lines, data)


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
    if args.assignment:  # as the queue holds a student's training for it: checked against its rules as asked, and
        config = _for_assignment(args.assignment, config)  # trained on its held-out copy; a refusal is one line
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
    return emit(args, [line], data)


def _for_assignment(code, config):
    """The settings to train for the assignment with that link code (the command line is the server's owner, who sees
    them all): held to its rules as asked, on its held-out copy of the data (cnnlab.data.holdout), as
    TrainingQueue.submit does for a student."""
    from cnnlab.classroom import permissions
    from cnnlab.course import assignments
    from cnnlab.data import holdout

    found = assignments.get(code, permissions.OWNER)
    checked, to_train = holdout.for_assignment(found, config)
    assignments.rules_of(found).check(checked)
    return to_train


def _train_quietly(store, config, requested_by=None, ray=None):
    """Train (or fetch) one config with a terminal progress bar on stderr; (run, cached, seconds).

    The data is chosen once, here: the local copy in use now (training never downloads). ray is --ray's
    address (None: CNNLAB_RAY_ADDRESS, else this process)."""
    from cnnlab import training
    from cnnlab.compute import executors

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
    from cnnlab import runs
    from cnnlab.course import experiments

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
        return emit(args, lines, data)
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
    return emit(args, lines, data)


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
    emit(args, lines + [t("cli.prepare_done", ready=len(items) - failed, total=len(items), root=str(store.root))],
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
                       variant=f"{catalogue.variant_label(r['data']):<8}",
                       architecture=f"{r['architecture']:<18}", optimizer=f"{r['optimizer']:<8}",
                       rate=f"{i18n.number(r['learning_rate'], 'g'):<8}", batch=f"{r['batch_size']:<5}",
                       epochs=f"{r['epochs']:<4}", accuracy=r["test_accuracy"],
                       seconds=f"{i18n.number(r['train_seconds'], '.1f'):>7}",
                       status=t("compare.complete") if r["status"] == "complete" else t("compare.stopped")))
    return emit(args, lines, rows)


def _predict_model(run_id):
    """(model, dataset name, where it comes from) for `predict`."""
    from cnnlab import runs
    from cnnlab.insight import drawing

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
    from cnnlab.data import pictures
    from cnnlab.insight import drawing

    model, dataset, origin = _predict_model(args.run)
    class_names = catalogue.get_info(dataset).class_names
    print(t("cli.model", origin=origin, title=catalogue.get_info(dataset).title), file=sys.stderr)
    lines, data, failed = [], [], 0
    for name in args.images:
        try:
            prepared = drawing.prepare(pictures.to_array(pictures.read_path(name)), box=drawing.box_for(dataset))
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
    emit(args, lines, data)
    return EXIT_BAD_INPUT if failed else 0


def cmd_export(args):
    from cnnlab import runs
    from cnnlab import storage as files
    from cnnlab.course import experiments, exports, reports

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
    return emit(args, [t("cli.exported", path=str(path), size=size / 1024)],
                {"path": str(path), "format": args.format, "runs": [run.id for run in chosen], "bytes": size})
