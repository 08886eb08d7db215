"""The command line: `python -m cnnlab architectures | train | predict | reproduce | prepare | runs | data`.

Results go to stdout (with --json, the last line is one JSON value); progress and notices go
to stderr. Any bad input ends with one line on stderr and exit code 2, never a traceback.
"""

import argparse
import json
import sys
import time

from cnnlab import architectures, datasets
from cnnlab.errors import CnnlabError

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"cnnlab: {message} (see `{self.prog} --help`)\n")


def _parser():
    parser = _Parser(prog="python -m cnnlab", description="cnnlab: learn convolutional networks by training them.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("architectures", help="the preset networks with their layers and parameter counts")
    p.add_argument("--dataset", default=None, help="show shapes and counts for this dataset's images")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("train", help="train a network (or return the stored run for the same settings)")
    p.add_argument("--dataset", default="mnist", choices=sorted(datasets.DATASETS) + sorted(datasets.ALIASES))
    p.add_argument("--architecture", default=architectures.DEFAULT_PRESET,
                   help="a preset name (see `architectures`) or a JSON list of layers")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--learning-rate", type=float, default=None, help="default: Keras's default for the optimizer")
    p.add_argument("--dropout", type=float, default=None, help="rate of every Dropout layer (default: the preset's)")
    p.add_argument("--validation-split", type=float, default=0.1)
    p.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--augment", action="store_true",
                   help="random shifts, rotations, scaling and stroke thickness while training")
    p.add_argument("--offline", action="store_true", help="never try to download a dataset")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("predict", help="read handwritten digits (or clothes) from image files")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, GIF, WebP or BMP files")
    p.add_argument("--run", default=None, metavar="RUN_ID",
                   help="a stored MNIST or Fashion-MNIST run (default: the bundled MNIST model)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("reproduce", help="the course reports' experiments: list them or run one")
    p.add_argument("experiment", nargs="?", metavar="ID", help="an experiment id such as A1 or E1")
    p.add_argument("--list", action="store_true", help="list every experiment")
    p.add_argument("--epochs", type=int, default=None, help="fewer epochs than the report (labelled as shortened)")
    p.add_argument("--offline", action="store_true", help="never try to download a dataset")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("prepare", help="train a list of experiments or configs before class")
    p.add_argument("file", help="one experiment id (optionally `ID epochs=N`) or one JSON config per line")
    p.add_argument("--offline", action="store_true", help="never try to download a dataset")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("runs", help="the stored runs")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("data", help="which source each dataset would use")
    p.add_argument("--download", metavar="DATASET", default=None, help="download a dataset through Keras")
    p.add_argument("--json", action="store_true")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except CnnlabError as error:
        print(f"cnnlab: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("cnnlab: interrupted; nothing was stored for an unfinished training.", file=sys.stderr)
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
                lines.append(f"  ({preset.name} cannot run on {info.title}: {error})")
        layers = " -> ".join(layer.describe() for layer in preset.layers)
        shown = ", ".join(f"{datasets.get_info(k).title} {v:,}" for k, v in counts.items() if v is not None)
        lines.append(f"{preset.name:<20} report {preset.report:<6} params: {shown}")
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
            self.stream.write(f"\repoch {self.epoch + 1}/{self.epochs} [{'#' * done}{'.' * (30 - done)}] "
                              f"loss {logs.get('loss', float('nan')):.4f} acc {logs.get('accuracy', 0):.4f}")
            self.stream.flush()

    def epoch_end(self, epoch, logs):
        self.epoch = epoch + 1
        val = (f" val_loss {logs['val_loss']:.4f} val_acc {logs['val_accuracy']:.4f}"
               if "val_loss" in logs else "")
        self.stream.write(f"\repoch {epoch + 1}/{self.epochs} loss {logs['loss']:.4f} acc {logs['accuracy']:.4f}"
                          f"{val} ({time.perf_counter() - self.started:.1f} s)\n")
        self.stream.flush()


def cmd_train(args):
    from cnnlab import runs, training

    config = training.TrainConfig(
        dataset=args.dataset, architecture=args.architecture, epochs=args.epochs, batch_size=args.batch_size,
        optimizer=args.optimizer, learning_rate=args.learning_rate, dropout=args.dropout,
        validation_split=args.validation_split, train_size=args.train_size, seed=args.seed,
        augment=args.augment)
    for note in config.notes:
        print(f"note: {note}", file=sys.stderr)
    store = runs.RunStore()
    run, cached, seconds = _train_quietly(store, config, not args.offline)
    for notice in store.notices:
        print(f"warning: {notice}", file=sys.stderr)
    how = "from the run store" if cached else f"trained in {run.train_seconds:.1f} s"
    status = "" if run.complete else f" (stopped after {run.record['epochs_completed']} epochs)"
    line = (f"run {run.id}: test accuracy {run.test_accuracy:.4f}, test loss {run.test_loss:.4f}, "
            f"{how}{status}; {seconds:.1f} s in all")
    data = {"run_id": run.id, "test_accuracy": run.test_accuracy, "test_loss": run.test_loss,
            "cached": cached, "train_seconds": run.train_seconds, "seconds": seconds,
            "status": run.record["status"], "epochs_completed": run.record["epochs_completed"],
            "data_source": run.record["data"]["source"], "data_variant": run.record["data"]["variant"],
            "params": run.record["params"], "store": str(store.root)}
    return _emit(args, [line], data)


def _train_count(name, source):
    return datasets.SAMPLE_SIZES[0] if source.variant == "sample" else datasets.get_info(name).full_sizes[0]


def _train_quietly(store, config, allow_download):
    """Train (or fetch) one config with a terminal progress bar on stderr; (run, cached, seconds)."""
    source = datasets.resolve_source(config.dataset, allow_download=allow_download)
    print(f"data: {datasets.get_info(config.dataset).title} from the {source.describe()}", file=sys.stderr)
    n_train = (config.train_size or _train_count(config.dataset, source)) * (1 - config.validation_split)
    bar = _ProgressBar(config.epochs, max(1, -(-int(n_train) // config.batch_size)))
    started = time.perf_counter()
    run, cached = store.get_or_train(
        config, on_epoch_end=bar.epoch_end, on_batch_end=bar.batch if bar.live else None,
        on_wait=lambda run_id: print(f"waiting: run {run_id} with the same settings is being trained "
                                     f"by another process; its result will be reused", file=sys.stderr),
        allow_download=allow_download)
    return run, cached, time.perf_counter() - started


def cmd_reproduce(args):
    from cnnlab import experiments, runs

    if args.list or not args.experiment:
        lines, data = [], []
        for e in experiments.EXPERIMENTS:
            config = e.config()
            reported = f"{e.reported_test_accuracy:.4f}" if e.reported_test_accuracy is not None else e.reported_note
            lines.append(f"{e.id:<3} report {e.report}  {e.title:<46} {e.dataset:<13} {config.optimizer:<8} "
                         f"lr {config.learning_rate:<7g} batch {e.batch_size:<5} epochs {e.epochs:<4} "
                         f"reported {reported}")
            data.append({**e.to_dict(), "reported_test_accuracy": e.reported_test_accuracy})
        return _emit(args, lines, data)
    experiment = experiments.get(args.experiment)
    epochs = experiment.epochs if args.epochs is None else args.epochs
    if not 1 <= epochs <= experiment.epochs:
        raise CnnlabError(f"--epochs must be from 1 to the report's {experiment.epochs}.")
    for item in experiment.assumed:
        print(f"note: {item}", file=sys.stderr)
    store = runs.RunStore()
    run, cached, seconds = _train_quietly(store, experiment.config(epochs), not args.offline)
    reported = experiment.reported_test_accuracy
    shortened = run.record["epochs_completed"] < experiment.epochs
    label = experiments.epochs_label(experiment, run)
    lines = [f"{experiment.id} {experiment.title} ({run.info.title}, {run.record['data']['source']} data)",
             f"  reported: {f'{reported:.4f}' if reported is not None else experiment.reported_note} "
             f"after {experiment.epochs} epochs",
             f"  measured: {run.test_accuracy:.4f} (test loss {run.test_loss:.4f}) after {label}, "
             f"{'from the run store' if cached else f'trained in {run.train_seconds:.1f} s'}"]
    data = {"id": experiment.id, "report": experiment.report, "run_id": run.id, "test_accuracy": run.test_accuracy,
            "test_loss": run.test_loss, "reported_test_accuracy": reported,
            "reported_test_loss": experiment.reported_test_loss, "train_seconds": run.train_seconds,
            "epochs": run.record["epochs_completed"], "reported_epochs": experiment.epochs, "shortened": shortened,
            "cached": cached, "data_source": run.record["data"]["source"],
            "data_variant": run.record["data"]["variant"], "seconds": seconds}
    return _emit(args, lines, data)


def _prepare_items(path):
    """(line number, TrainConfig, label) for each line of a prepare file; CnnlabError for a line that is wrong."""
    from cnnlab import experiments, training

    try:
        text = open(path, encoding="utf-8").read()
    except OSError as error:
        raise CnnlabError(f"Cannot read {path}: {error.strerror or error}.") from None
    except UnicodeDecodeError:
        raise CnnlabError(f"Cannot read {path}: it is not a text file (one experiment id or JSON config "
                          f"per line).") from None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip() if not line.lstrip().startswith("{") else line.strip()
        if not line:
            continue
        try:
            if line.startswith("{"):
                try:
                    config = training.TrainConfig.from_dict(json.loads(line))
                except (ValueError, TypeError) as error:
                    raise CnnlabError(f"not a valid JSON config ({error})") from None
                yield number, config, config.architecture_name
                continue
            words = line.split()
            experiment = experiments.get(words[0])
            epochs = None
            for word in words[1:]:
                key, _, value = word.partition("=")
                if key != "epochs" or not value.isdigit() or not 1 <= int(value) <= experiment.epochs:
                    raise CnnlabError(f"'{word}' is not understood: write `{experiment.id} epochs=N` with N from 1 "
                                      f"to {experiment.epochs}")
                epochs = int(value)
            yield number, experiment.config(epochs), experiment.id
        except CnnlabError as error:
            yield number, error, line


def cmd_prepare(args):
    from cnnlab import runs, training

    store = runs.RunStore()
    lines, data, failed = [], [], 0
    items = list(_prepare_items(args.file))
    if not items:
        raise CnnlabError(f"{args.file} lists nothing to train: one experiment id or JSON config per line.")
    for number, config, label in items:
        try:
            if isinstance(config, CnnlabError):
                raise config
            training.preflight(config, allow_download=not args.offline)
            run, cached, seconds = _train_quietly(store, config, not args.offline)
        except CnnlabError as error:
            failed += 1
            print(f"cnnlab: {args.file}:{number} ({label}): {error}", file=sys.stderr)
            data.append({"line": number, "item": label, "error": str(error)})
            continue
        lines.append(f"line {number} {label}: run {run.id} test accuracy {run.test_accuracy:.4f} "
                     f"({'already stored' if cached else f'trained in {run.train_seconds:.1f} s'})")
        data.append({"line": number, "item": label, "run_id": run.id, "test_accuracy": run.test_accuracy,
                     "cached": cached, "seconds": seconds})
    _emit(args, lines + [f"{len(items) - failed} of {len(items)} ready in {store.root}"], data)
    return EXIT_BAD_INPUT if failed else 0


def cmd_runs(args):
    from cnnlab import runs

    store = runs.RunStore()
    rows = [run.summary_row() for run in store.list()]
    for notice in store.notices:
        print(f"warning: {notice}", file=sys.stderr)
    lines = [f"{len(rows)} stored run(s) in {store.root}"]
    for r in rows:
        lines.append(f"{r['run_id']}  {r['dataset']:<13} {r['architecture']:<18} {r['optimizer']:<8} "
                     f"lr {r['learning_rate']:<8g} batch {r['batch_size']:<5} epochs {r['epochs']:<4} "
                     f"test acc {r['test_accuracy']:.4f}  {r['train_seconds']:>7.1f} s  {r['status']}")
    return _emit(args, lines, rows)


def cmd_data(args):
    if args.download:
        source = datasets.download(args.download)
        print(f"{datasets.get_info(args.download).title}: downloaded to {source.path}")
    lines, data = [], []
    for row in datasets.describe_sources():
        source = row["source"]
        if source is None:
            lines.append(f"{row['title']:<14} not available — {row['how_to_get']}")
            data.append({"dataset": row["dataset"], "available": False, "how_to_get": row["how_to_get"]})
            continue
        dataset = datasets.load(row["dataset"], source=source)
        lines.append(f"{row['title']:<14} {len(dataset.x_train):>6,} train + {len(dataset.x_test):>6,} test "
                     f"from the {source.describe()}")
        data.append({"dataset": row["dataset"], "available": True, "source": source.kind, "path": source.path,
                     "train": len(dataset.x_train), "test": len(dataset.x_test)})
    return _emit(args, lines, data)


def _predict_model(run_id):
    """(model, dataset name, where it comes from) for `predict`."""
    from cnnlab import drawing, runs

    if run_id is None:
        bundled = drawing.bundled()
        return bundled.build_model(), bundled.config.dataset, f"the bundled model {bundled.name}"
    run = runs.RunStore().get(run_id)
    if run is None:
        raise CnnlabError(f"There is no stored run '{run_id}': `python -m cnnlab runs` lists them.")
    if run.info.image_shape != (28, 28, 1):
        raise CnnlabError(f"Run {run.id} was trained on {run.info.title}; `predict` reads 28×28 grey images: "
                          f"use an MNIST or Fashion-MNIST run.")
    return run.build_model(), run.config.dataset, f"run {run.id}"


def cmd_predict(args):
    from cnnlab import drawing

    model, dataset, origin = _predict_model(args.run)
    class_names = datasets.get_info(dataset).class_names
    print(f"model: {origin} ({datasets.get_info(dataset).title})", file=sys.stderr)
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
        lines.append(f"{name}: {label} ({probability:.1%})")
        data.append({"file": name, "label": label, "class_index": class_names.index(label),
                     "probability": probability, "top3": [{"label": l, "probability": p} for l, p in
                                                          [(label, probability), *others]]})
    _emit(args, lines, data)
    return EXIT_BAD_INPUT if failed else 0


COMMANDS = {"architectures": cmd_architectures, "train": cmd_train, "predict": cmd_predict,
            "reproduce": cmd_reproduce, "prepare": cmd_prepare, "runs": cmd_runs, "data": cmd_data}
