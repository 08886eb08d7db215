"""Taking a run home: its model as a .keras file, its weights, the code that trains it again, and links.

The code is what a teacher would write on the board: Keras and NumPy only, the network layer by layer,
the same data, settings and seed, one step at a time with a comment in the reader's language. The
same steps make a Python script and a Jupyter notebook (one cell per step), so both hold the same code.
The script prints `params=N` and, last, `test_accuracy=0.XXXX`.

Runs are found by their id or a unique prefix of it (`find_run`); a settings link (`settings_query`,
`config_from_query`) carries every Train setting in the page's address, so a teacher can share an
exercise by link.
"""

import json
import pathlib
import tempfile

from cnnlab import storage, training
from cnnlab.classroom import permissions
from cnnlab.data import catalogue, holdout, ownership, sources
from cnnlab.errors import CnnlabError, ConfigError, NotAllowed
from cnnlab.i18n import t
from cnnlab.networks import architectures, counting

FORMATS = ("keras", "weights", "script", "notebook", "report", "markdown")
SUFFIXES = {"keras": ".keras", "weights": ".weights.h5", "script": ".py", "notebook": ".ipynb",
            "report": ".html", "markdown": ".zip"}
MIN_PREFIX = 4  # characters of a run id a user may type


class ExportError(CnnlabError):
    """A run or a format that cannot be exported, said in one sentence."""


def find_run(store, text, who=permissions.OWNER):
    """The stored run whose id is text or starts with it (at least MIN_PREFIX characters); ExportError if none or many.
    A run on another student's private pictures is none, for who (cnnlab.data.ownership)."""
    text = str(text or "").strip().lower()
    if len(text) < MIN_PREFIX:
        raise ExportError("error.export.short_id", id=text, count=MIN_PREFIX)
    exact = store.get(text) if len(text) == 16 else None
    if exact is not None and ownership.may_use(who, exact.config.dataset):
        return exact
    found = [run for run in store.list(who=who) if run.id.startswith(text)]
    if not found:
        raise ExportError("error.export.no_run", id=text)
    if len(found) > 1:
        raise ExportError("error.export.ambiguous", id=text, count=len(found),
                          ids=", ".join(run.id for run in found[:5]))
    return found[0]


def default_name(run, fmt):
    """cnnlab-<network>-<dataset>-<id>.<suffix>: what a download or `export --out` folder is called."""
    if fmt not in SUFFIXES:
        raise ExportError("error.export.format", format=str(fmt), choices=", ".join(FORMATS))
    return f"cnnlab-{run.config.architecture_name}-{run.config.dataset}-{run.id[:8]}{SUFFIXES[fmt]}"


# ---------------------------------------------------------------- the model

def keras_bytes(run):
    """The run's network with its weights as a .keras file (loadable with keras.saving.load_model, safe mode)."""
    model = run.build_model()
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "model.keras"
        model.save(path)
        return path.read_bytes()


def weights_bytes(run):
    """The run's .weights.h5 file, checked against its checksum first."""
    return run._checked("model.weights.h5").read_bytes()


# ---------------------------------------------------------------- the code

def _layer_code(layer):
    """One spec layer as the Keras call a student would type (defaults left out)."""
    if layer.kind == "conv":
        extra = "".join([f", strides={layer.stride}" if layer.stride != 1 else "",
                         f', padding="{layer.padding}"' if layer.padding != "valid" else ""])
        return f'layers.Conv2D({layer.size}, {layer.kernel}{extra}, activation="{layer.activation}")'
    if layer.kind in ("maxpool", "avgpool"):
        name = "MaxPooling2D" if layer.kind == "maxpool" else "AveragePooling2D"
        extra = "".join([f", strides={layer.stride}" if layer.stride else "",
                         f', padding="{layer.padding}"' if layer.padding != "valid" else ""])
        return f"layers.{name}({layer.kernel}{extra})"
    if layer.kind == "dropout":
        return f"layers.Dropout({layer.rate:g})"
    if layer.kind == "dense":
        return f'layers.Dense({layer.size}, activation="{layer.activation}")'
    return f"layers.{architectures.NAMES[layer.kind]}()"


OPTIMIZER_CODE = {
    "sgd": "keras.optimizers.SGD(learning_rate={rate})",
    "sgd+momentum": "keras.optimizers.SGD(learning_rate={rate}, momentum=0.9)",
    "adam": "keras.optimizers.Adam(learning_rate={rate})", "adamw": "keras.optimizers.AdamW(learning_rate={rate})",
    "rmsprop": "keras.optimizers.RMSprop(learning_rate={rate})",
    "adagrad": "keras.optimizers.Adagrad(learning_rate={rate})",
    "adadelta": "keras.optimizers.Adadelta(learning_rate={rate})", "nadam": "keras.optimizers.Nadam(learning_rate={rate})",
}
KERAS_LOADERS = {"mnist": "mnist", "fashion_mnist": "fashion_mnist", "cifar10": "cifar10"}


def steps(run):
    """[(explanation, code)]: the run's training, one step at a time, in the current language."""
    config, info = run.config, run.info
    epochs = run.record["epochs_completed"]
    imports = "import keras\nimport numpy as np\nfrom keras import layers"
    own_file = run.variant == "own"
    result = [(t("export.step.imports"), f"import sys\n\n{imports}" if run.variant == "sample" or own_file
               else imports)]
    result.append(_settings_step(config, epochs))
    result.append(_data_step(run, info))
    network = network_code(config, info)
    result.append((t("export.step.network", params=run.record["params"]), network))
    result.append(_training_step(config))
    result.append((t("export.step.test", accuracy=run.test_accuracy),
                   "test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)\n"
                   'print(f"test_accuracy={test_accuracy:.4f}")'))
    return result


def _settings_step(config, epochs):
    """(explanation, code) of the settings: the seed, epochs, batch size, learning rate and the data's split."""
    settings = [f"SEED = {config.seed}", f"EPOCHS = {epochs}", f"BATCH_SIZE = {config.batch_size}",
                f"LEARNING_RATE = {config.learning_rate:g}", f"VALIDATION_SPLIT = {config.validation_split:g}"]
    if config.train_size is not None:
        settings.append(f"TRAIN_SIZE = {config.train_size}")
    settings.append("keras.utils.set_random_seed(SEED)  # " + t("export.comment.seed"))
    explanation = t("export.step.settings")
    if epochs < config.epochs:
        explanation += " " + t("export.step.stopped", done=epochs, asked=config.epochs)
    return explanation, "\n".join(settings)


def _data_step(run, info):
    """(explanation, code) of the data: loaded, scaled to 0–1, cut to TRAIN_SIZE and split for validation."""
    config = run.config
    grey = info.image_shape[-1] == 1
    load, explanation = _data_loading(run, info)
    lines = [load, "", f"# {t('export.comment.scale')}",
             "x_train = x_train.astype(\"float32\") / 255.0", "x_test = x_test.astype(\"float32\") / 255.0"]
    if grey:
        lines += [f"# {t('export.comment.channel')}",
                  "x_train, x_test = x_train[..., np.newaxis], x_test[..., np.newaxis]"]
    if config.train_size is not None:
        lines += [f"# {t('export.comment.train_size')}",
                  "x_train, y_train = x_train[:TRAIN_SIZE], y_train[:TRAIN_SIZE]"]
    validation = config.validation_split > 0
    if validation:
        lines += [f"# {t('export.comment.validation')}",
                  "n_val = round(len(x_train) * VALIDATION_SPLIT)",
                  "x_val, y_val = x_train[-n_val:], y_train[-n_val:]",
                  "x_train, y_train = x_train[:-n_val], y_train[:-n_val]"]
    lines.append('print("train", x_train.shape, "test", x_test.shape)')
    return explanation, "\n".join(lines)


def _data_loading(run, info):
    """(code, explanation): the lines that load the run's data (the bundled sample, imported pictures or Keras's
    own download) and what they load."""
    config = run.config
    if run.variant == "sample":
        load = (f"SAMPLE = {str(sources.BUNDLED_MNIST)!r}  # {t('export.comment.sample')}\n"
                "if len(sys.argv) > 1 and sys.argv[1].endswith(\".npz\"):\n"
                f"    SAMPLE = sys.argv[1]  # {t('export.comment.other_sample')}\n"
                "with np.load(SAMPLE) as data:\n"
                "    x_train, y_train = data[\"x_train\"], data[\"y_train\"]\n"
                "    x_test, y_test = data[\"x_test\"], data[\"y_test\"]")
        data = run.record["data"]
        explanation = t("export.step.data_sample", train=data["train"] + data["validation"], test=data["test"])
    elif run.variant == "own":
        file = data_file(run)
        load = (f"DATA = {str(file or 'images.npz')!r}  # {t('export.comment.own', title=info.title)}\n"
                "if len(sys.argv) > 1 and sys.argv[1].endswith(\".npz\"):\n"
                f"    DATA = sys.argv[1]  # {t('export.comment.other_own')}\n"
                "with np.load(DATA) as data:\n"
                "    x_train, y_train = data[\"x_train\"], data[\"y_train\"]\n"
                "    x_test, y_test = data[\"x_test\"], data[\"y_test\"]\n"
                f"CLASSES = {list(info.class_names)!r}")
        data = run.record["data"]
        explanation = t("export.step.data_own", title=info.title, train=data["train"] + data["validation"],
                        test=data["test"], classes=info.num_classes)
    else:
        load = (f"(x_train, y_train), (x_test, y_test) = keras.datasets.{KERAS_LOADERS[config.dataset]}.load_data()"
                + ("\ny_train, y_test = y_train.ravel(), y_test.ravel()  # "
                   + t("export.comment.cifar_labels") if config.dataset == "cifar10" else ""))
        explanation = t("export.step.data_keras", title=info.title)
    return load, explanation


def _training_step(config):
    """(explanation, code) of compiling the network with the run's optimizer and training it."""
    validation = config.validation_split > 0
    optimizer = OPTIMIZER_CODE[config.optimizer].format(rate="LEARNING_RATE")
    fit = ("history = model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=EPOCHS,"
           + ("\n                    validation_data=(x_val, y_val), verbose=2)" if validation else " verbose=2)"))
    return (t("export.step.train", optimizer=config.optimizer),
            f"model.compile(optimizer={optimizer},\n              loss=\"sparse_categorical_crossentropy\", "
            f"metrics=[\"accuracy\"])\n{fit}")


def network_code(config, info=None):
    """The Keras code of config's network, layer by layer, ending with its parameter count printed as params=N."""
    info = info or catalogue.get_info(config.dataset)
    network = ["model = keras.Sequential([", f"    keras.Input(shape={tuple(info.image_shape)}),"]
    if config.augment:
        network += [f"    # {t('export.comment.augment')}",
                    '    layers.RandomTranslation(0.12, 0.12, fill_mode="constant"),',
                    '    layers.RandomRotation(12 / 360, fill_mode="constant"),',
                    '    layers.RandomZoom((-0.2, 0.15), fill_mode="constant"),']
    network += [f"    {_layer_code(layer)}," for layer in config.layers]
    network += [f'    layers.Dense({info.num_classes}, activation="softmax"),  # {t("export.comment.output")}',
                f'], name="{config.architecture_name}")', "model.summary()", 'print(f"params={model.count_params()}")']
    return "\n".join(network)


def _title(run):
    return t("export.title", name=run.config.architecture_name, dataset=run.info.title, id=run.id[:8])


def script(run):
    """A standalone Python script that trains the run's network again and prints params= and test_accuracy=."""
    header = [f'"""{_title(run)}', "", t("export.script_intro", accuracy=run.test_accuracy,
                                             epochs=run.record["epochs_completed"]), "",
              t("export.script_run", name=default_name(run, "script")) if run.variant not in ("sample", "own")
              else t("export.script_run_sample", name=default_name(run, "script"), file=data_file_name(run)),
              '"""', ""]
    body = []
    for explanation, code in steps(run):
        body += ["", *[f"# {line}" for line in _wrap(explanation)], code]
    return "\n".join(header + body).rstrip() + "\n"


def notebook(run):
    """The same steps as a Jupyter notebook (nbformat 4): a note and a code cell for each."""
    import nbformat
    from nbformat import v4

    cells = [v4.new_markdown_cell(f"# {_title(run)}\n\n" + t("export.script_intro", accuracy=run.test_accuracy,
                                                               epochs=run.record["epochs_completed"]))]
    for explanation, code in steps(run):
        cells += [v4.new_markdown_cell(explanation), v4.new_code_cell(code)]
    book = v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    nbformat.validate(book)
    return nbformat.writes(book)


def _wrap(text, width=100):
    lines, line = [], ""
    for word in str(text).split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + ([line] if line else [])


# ---------------------------------------------------------------- links

LINK_SETTINGS = ("dataset", "network", "epochs", "batch", "optimizer", "lr", "dropout", "validation", "train_size",
                 "seed", "augment")


def settings_query(config):
    """Every Train setting of config as query parameters ({name: text}): ?dataset=…&network=…&epochs=…"""
    network = (config.architecture if isinstance(config.architecture, str)
               else json.dumps([layer.to_dict() for layer in config.architecture], separators=(",", ":")))
    query = {"dataset": config.dataset, "network": network, "epochs": str(config.epochs),
             "batch": str(config.batch_size), "optimizer": config.optimizer, "lr": f"{config.learning_rate:g}",
             "validation": f"{config.validation_split:g}", "seed": str(config.seed)}
    if config.dropout is not None:
        query["dropout"] = f"{config.dropout:g}"
    if config.train_size is not None:
        query["train_size"] = str(config.train_size)
    if config.augment:
        query["augment"] = "1"
    return query


def config_from_query(query, who=permissions.OWNER):
    """The TrainConfig a settings link names (ConfigError or SpecError when a value is wrong, DatasetUnavailable for
    a dataset who may not use); None without one."""
    query = {key: str(query[key]) for key in LINK_SETTINGS if query.get(key) not in (None, "")}
    if "network" not in query and "dataset" not in query:
        return None
    ownership.require_use(who, query.get("dataset", "mnist"))  # first: another student's key says nothing more
    augment = query.get("augment", "0").lower()
    if augment not in ("0", "1", "true", "false"):
        raise ConfigError("error.config.augment")
    config = training.TrainConfig(
        dataset=query.get("dataset", "mnist"), architecture=query.get("network", architectures.DEFAULT_PRESET),
        epochs=query.get("epochs", 5), batch_size=query.get("batch", 64), optimizer=query.get("optimizer", "adam"),
        learning_rate=query.get("lr"), dropout=query.get("dropout"),
        validation_split=query.get("validation", 0.1), train_size=query.get("train_size"),
        seed=query.get("seed", 0), augment=augment in ("1", "true"))
    info = catalogue.get_info(config.dataset)
    counting.summarize(config.layers, info.image_shape, info.num_classes)  # every layer valid, every shape
    return config  # (a network over the size limits still fills the form: the form says why it will not train)


def link(base, **query):
    """base?key=value&… with the values quoted for an address bar."""
    from urllib.parse import urlencode

    return f"{base.split('?')[0]}?{urlencode(query)}"


# ---------------------------------------------------------------- one call for the command line and the pages

HELD_BACK = ("keras", "weights", "script", "notebook")  # what would score a held-out copy's run on the whole test set
UPLOAD_REFUSAL = {"take.held_back": "inside.upload_held_back", "take.held_elsewhere": "inside.upload_held_elsewhere"}


def held_back(who, run):
    """Why who may not take home a run's network, code or data (a catalogue key; None: they may): holdout.refusal."""
    return holdout.refusal(who, run.config.dataset)


def require_pictures_sent(who, run):
    """NotAllowed unless who may show the run uploaded pictures (Inside, Draw; drawings are open to all): the test
    images uploaded one by one would read what its network would (held_back)."""
    reason = held_back(who, run)
    if reason is not None:
        raise NotAllowed(UPLOAD_REFUSAL[reason])


def render(run, fmt, lang=None, who=permissions.OWNER):
    """The bytes of run exported as fmt ('keras', 'weights', 'script', 'notebook', 'report', 'markdown'), as who
    may take it home (held_back)."""
    from cnnlab import i18n

    if fmt not in FORMATS:
        raise ExportError("error.export.format", format=str(fmt), choices=", ".join(FORMATS))
    reason = held_back(who, run) if fmt in HELD_BACK else None
    if reason is not None:
        raise NotAllowed(reason)
    with i18n.speaking(lang or i18n.get_language()):
        if fmt == "keras":
            return keras_bytes(run)
        if fmt == "weights":
            return weights_bytes(run)
        if fmt == "script":
            return script(run).encode("utf-8")
        if fmt == "notebook":
            return notebook(run).encode("utf-8")
        from cnnlab.course import reports

        if fmt == "report":
            return reports.report_html([run]).encode("utf-8")
        return reports.report_zip([run])


def destination(out, name):
    """out itself, or out/name when out is a folder; ExportError when the folder to write in does not exist."""
    out = pathlib.Path(out)
    path = out / name if out.is_dir() else out
    if not path.parent.is_dir():
        raise ExportError("error.export.no_folder", folder=str(path.parent))
    return path


def export(run, fmt, out, lang=None):
    """Write run as fmt to out (a file, or a folder to put it in under its default name), atomically; the path."""
    path = destination(out, default_name(run, fmt))
    storage.write_bytes(path, render(run, fmt, lang))
    return path


def sample_file():
    """The bundled MNIST sample (what an exported script of a run on the sample reads), or None."""
    return sources.BUNDLED_MNIST if sources.BUNDLED_MNIST.is_file() else None


def data_file(run, who=permissions.OWNER):
    """The .npz an exported script of this run reads: the bundled sample, or the imported pictures it was trained
    on (their version's images.npz); None for a dataset Keras downloads itself, pictures no longer here, or a run
    who may not take home (held_back: the whole sample holds an assignment's private images)."""
    if held_back(who, run) is not None:
        return None
    if run.variant == "sample":
        return sample_file()
    if run.variant == "own":
        path = pathlib.Path(run.record["data"]["path"]) / "images.npz"
        return path if path.is_file() else None
    return None


def data_file_name(run):
    """The name the data file is offered under: mnist_sample.npz, or <dataset>.npz for imported pictures."""
    return sources.BUNDLED_MNIST.name if run.variant == "sample" else f"{run.config.dataset}.npz"

