"""Train: settings in a form, a queue shared by the server, live curves, Stop, and the result."""

import streamlit as st

import ui
from cnnlab import i18n, training
from cnnlab.compute import jobs
from cnnlab.data import catalogue, datasets, ownership
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t
from cnnlab.insight import charts, inspection
from cnnlab.networks import architectures, counting

BATCH_SIZES = [16, 32, 64, 128, 256, 512, 1024]
LEARNING_RATES = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0]
TRAIN_SIZES = [500, 1000, 2000, 5000, 10_000, 20_000, 30_000, 50_000]

ui.page("train.title", "🏋️")
st.write(t("train.intro"))
if not ui.allowed("train"):  # a guest of a class server may look at the settings; the queue refuses them anyway
    st.info(t("permission.train"))

FORM = {"train_optimizer": "adam", "epochs": 5, "batch_size": 64, "train_lr": None, "train_own_dropout": True,
        "train_dropout": 0.25, "train_size": None, "train_validation": 0.1, "train_seed": 0, "train_augment": False}
for name, value in FORM.items():
    st.session_state.setdefault(name, value)


def follow_settings_link():
    """A shared link's settings (?dataset=…&network=…&epochs=…) fill in the form; the student presses Train."""
    linked = ui.settings_from_link()
    if linked is None:
        return
    spec = linked.architecture if isinstance(linked.architecture, str) else [l.to_dict() for l in linked.architecture]
    st.session_state.update({
        "dataset": linked.dataset, "architecture": spec, "train_optimizer": linked.optimizer, "epochs": linked.epochs,
        "batch_size": linked.batch_size, "train_own_dropout": linked.dropout is None,
        "train_lr": None if linked.learning_rate == training.OPTIMIZERS[linked.optimizer] else linked.learning_rate,
        "train_dropout": FORM["train_dropout"] if linked.dropout is None else linked.dropout,
        "train_size": linked.train_size, "train_validation": linked.validation_split, "train_seed": linked.seed,
        "train_augment": linked.augment})
    st.info(t("link.applied", name=linked.architecture_name, dataset=catalogue.get_info(linked.dataset).title,
              epochs=linked.epochs))


def with_value(options, key):
    """The menu's options, with the value a link asked for among them (in order)."""
    value = st.session_state.get(key)
    return options if value is None or value in options else sorted(set(options) | {value})


def describe_network(name):
    """A preset with its parameter count on the chosen dataset and the report it comes from."""
    if name not in architectures.PRESETS:
        return name
    info = catalogue.get_info(st.session_state.get("dataset", "mnist"))
    params = counting.preset_params(name, info.image_shape, info.num_classes)
    if params is None:
        return t("train.network_unfit", name=name, dataset=info.title)
    report = architectures.get_preset(name).report
    return t("train.network_own" if report == "cnnlab" else "train.network_option", name=name, params=params,
             report=report)


follow_settings_link()
architecture = st.session_state.get("architecture", architectures.DEFAULT_PRESET)
choices = list(architectures.PRESETS) + ([t("train.custom")] if not isinstance(architecture, str) else [])
with st.form("settings"):
    c1, c2, c3 = st.columns(3)
    dataset = ui.dataset_menu(c1, t("train.dataset"))
    labels = {name: describe_network(name) for name in choices}  # worded now: menus word their options later
    network = c2.selectbox(t("train.network"), choices, format_func=labels.get,
                           index=choices.index(architecture) if isinstance(architecture, str) else len(choices) - 1)
    optimizer = c3.selectbox(t("train.optimizer"), list(training.OPTIMIZERS), key="train_optimizer")
    epochs = c1.slider(t("train.epochs"), 1, max(50, st.session_state["epochs"]), key="epochs")
    batch_size = c2.select_slider(t("train.batch"), with_value(BATCH_SIZES, "batch_size"), key="batch_size")
    rates = [None] + with_value(LEARNING_RATES, "train_lr")
    rate_labels = {rate: t("train.lr_default") if rate is None else i18n.number(rate, "g") for rate in rates}
    learning_rate = c3.select_slider(t("train.lr"), rates, key="train_lr", format_func=rate_labels.get)
    own_dropout = c1.checkbox(t("train.dropout_own"), key="train_own_dropout")
    dropout = c1.slider(t("train.dropout"), 0.0, 0.9, step=0.05, key="train_dropout")
    sizes = [None] + with_value(TRAIN_SIZES, "train_size")
    size_labels = {size: t("train.all") if size is None else i18n.number(size, ",") for size in sizes}
    train_size = c2.select_slider(t("train.train_size"), sizes, key="train_size", format_func=size_labels.get)
    validation_split = c3.slider(t("train.val"), 0.0, 0.5, step=0.05, key="train_validation")
    seed = c3.number_input(t("train.seed"), 0, 2 ** 31 - 1, key="train_seed")
    augment = c2.checkbox(t("train.augment"), help=t("train.augment_help"), key="train_augment")
    submitted = st.form_submit_button(t("train.train"), type="primary")

if network in architectures.PRESETS:
    ui.fit_note(network, catalogue.get_info(dataset))
elif not submitted:  # a network of one's own (from the Model page or a link): over the limits is said before Train
    try:  # its size, and a batch of the form's size (layer outputs grow with the batch)
        training.check_layers(training.TrainConfig(dataset=dataset, architecture=architecture, batch_size=batch_size))
    except CnnlabError as error:
        st.warning(t("train.bad", error=error))


def likely_settings():
    """The settings the form shows now, for a network the server can get ready while the student chooses."""
    try:
        return training.TrainConfig(dataset=dataset, architecture=architecture if network == t("train.custom")
                                    else network, optimizer=optimizer, dropout=None if own_dropout else dropout,
                                    learning_rate=learning_rate, seed=int(seed),  # its start state is prepared too
                                    batch_size=batch_size)  # nothing is prepared for a batch that cannot train
    except CnnlabError:
        return None


def show_result(run, cached=False):
    """Metrics, curves and the overfitting answer of a finished (or stopped) run."""
    if cached:
        st.success(t("train.stored", when=run.record["created"][:16].replace("T", " ")))
    st.header(t("train.result"))
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(t("train.test_acc"), i18n.percent(run.test_accuracy))
    m2.metric(t("train.test_loss"), i18n.number(run.test_loss, ".4f"))
    m3.metric(t("train.seconds"), f"{i18n.number(run.train_seconds, '.1f')} s")
    m4.metric(t("train.epochs_done"), run.record["epochs_completed"])
    if not run.complete:
        st.warning(t("train.stopped_note", done=run.record["epochs_completed"], asked=run.config.epochs))
    for note in run.record["notes"]:
        st.info(i18n.text(note))
    data = run.record["data"]
    st.caption(t("train.data_note", n_train=data["train"], n_val=data["validation"], n_test=data["test"],
                 source=catalogue.Source(data["source"], data["path"]).label, variant=run.variant_label))
    st.altair_chart(charts.learning_curves(run.history), width="content")
    st.markdown(f"**{t('train.overfit')}** {inspection.overfitting_verdict(run.history).message}")
    ui.seed_group(run, key="train")  # its other seeds drawn with it, when there are
    ui.repeat_seeds(run, key="train")
    st.markdown(t("train.next"))
    ui.take_home(run)


def train_in_line(config, data, replace=False):
    """Queue config for this student (merged with the same settings from others)."""
    job = ui.queue_for_me(config, data, replace=replace)
    st.session_state["job_id"], st.session_state["shown_cached"] = job.id, False


if submitted:
    st.session_state["dataset"] = dataset
    spec = architecture if network == t("train.custom") else network
    try:
        config = training.TrainConfig(
            dataset=dataset, architecture=spec, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
            learning_rate=learning_rate,
            dropout=None if own_dropout else dropout, validation_split=validation_split,
            train_size=train_size, seed=int(seed),
            augment=augment)
        training.check_layers(config)  # a network that cannot build is said before any data is needed
        data = datasets.load(config.dataset)  # chosen once: the stored run looked up and the training use it
        training.preflight(config, data)
        stored = ui.store().find(config, data)
        if stored is not None and stored.complete:
            st.session_state["run_id"], st.session_state["job_id"] = stored.id, None
            st.session_state["shown_cached"] = True
        else:
            train_in_line(config, data)
    except jobs.AlreadyQueued:
        st.session_state["replace_with"] = config.to_dict()  # plain data: asked about below
    except CnnlabError as error:
        st.error(t("train.bad", error=error))
        st.stop()


likely = likely_settings()
if likely is not None:
    ui.queue().prepare(likely)  # compiled and traced in the worker: the first epoch comes as fast as the next


if st.session_state.get("replace_with"):  # a second training while the first is still queued or running
    wanted = training.TrainConfig.from_dict(st.session_state["replace_with"])
    mine = ui.queue().job_of(ui.student())
    if mine is None:
        st.session_state.pop("replace_with")
    else:
        st.warning(t("train.replace_question", name=mine.config.architecture_name, epochs=mine.config.epochs,
                     new_name=wanted.architecture_name, new_epochs=wanted.epochs))
        left, right = st.columns(2)
        if left.button(t("train.replace"), key="replace_yes", type="primary"):
            st.session_state.pop("replace_with")
            try:
                train_in_line(wanted, datasets.load(wanted.dataset), replace=True)
            except CnnlabError as error:
                st.error(t("train.bad", error=error))
        elif right.button(t("train.keep"), key="replace_no"):
            st.session_state.pop("replace_with")
            st.session_state["job_id"] = mine.id


def job_panel():
    ui.identify()  # on every redraw of the fragment: Stop is asked as who the browser is now, not a minute ago
    job = ui.queue().get(st.session_state.get("job_id"))
    if job is None:
        return
    if job.status == "queued":
        ahead, seconds = ui.queue().ahead(job)
        st.info(t("train.queued", position=ui.queue().position(job)))
        st.caption(t("train.estimate", minutes=max(job.estimate_seconds / 60, 0.1), ahead=ahead,
                     wait=max(seconds / 60, 0.1)))
    elif job.status == "running":
        st.progress(job.fraction, text=t("train.running", epoch=min(job.epochs_done + 1, job.config.epochs),
                                                              epochs=job.config.epochs, batch=job.batch,
                                                              steps=job.steps))
        if job.stop_requested:
            st.warning(t("train.stopping"))
        elif st.button(t("train.stop"), key=f"stop_{job.id}"):
            ui.queue().stop(job.id, student=ui.student(), who=ui.who())
            if job.stop_requested:
                st.warning(t("train.stopping"))
            else:  # others still wait for this same training: it goes on for them
                st.session_state["job_id"] = None
                st.info(t("train.left", others=len(job.waiters)))
                return
        if job.history.get("loss"):
            st.altair_chart(charts.learning_curves(job.history, title=""), width="content")
    elif job.status == "failed":
        st.error(t("train.failed", error=job.error))
        st.session_state["job_id"] = None
    else:  # done: show the stored run with a full rerun of the page
        st.session_state["run_id"], st.session_state["job_id"] = job.id, None
        st.session_state["shown_cached"] = job.cached
        st.rerun()


if not st.session_state.get("job_id"):  # a reload, or another tab or device of the same person: their place in line
    mine = ui.queue().job_of(ui.student())
    repeating = mine.groups.get(ui.student()) if mine is not None else None
    if repeating is not None:  # a repeat's seed: shown under the run it repeats (ui.repeat_seeds)
        st.session_state["run_id"] = repeating.origin
        st.session_state.setdefault("seed_groups", {})["train"] = repeating.jobs[0].id
    elif mine is not None:
        st.session_state["job_id"] = mine.id
job = ui.queue().get(st.session_state.get("job_id"))
if job is not None and job.status in ("queued", "running"):
    st.fragment(job_panel, run_every=1.0)()
elif job is not None:
    job_panel()
elif st.session_state.get("run_id"):
    run = ui.store().get(st.session_state["run_id"])
    if run is not None and ownership.may_use(ui.who(), run.config.dataset):  # not pictures made private since
        show_result(run, cached=st.session_state.get("shown_cached", False))
