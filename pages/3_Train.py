"""Train: settings in a form, a queue shared by the server, live curves, Stop, and the result."""

import streamlit as st

import ui
from cnnlab import architectures, charts, datasets, inspection, training
from cnnlab.errors import CnnlabError

TEXT = {
    "title": "🏋️ Train",
    "intro": "Choose the settings and press Train. Moving a slider changes nothing until you press the "
             "button. Settings that anyone on this server already trained come back at once.",
    "dataset": "Dataset", "network": "Network", "custom": "custom (from the Model page)",
    "epochs": "Epochs", "batch": "Batch size", "optimizer": "Optimizer", "lr": "Learning rate",
    "lr_default": "Keras's default", "dropout_own": "Keep the network's own dropout rates",
    "dropout": "Dropout rate (every Dropout layer)", "train_size": "Training images",
    "all": "all", "val": "Validation split",
    "augment": "Augment the training images",
    "augment_help": "Each batch is moved, turned, scaled and its strokes thickened or thinned at random, so the "
                    "network learns digits as people draw them. Slower per epoch; needs more epochs.", "seed": "Random seed", "train": "Train",
    "bad": "These settings cannot train: {error}",
    "stored": "From the run store: these settings were already trained ({when}), so here is the result at once.",
    "queued": "Queued: place {position} in line. One training runs at a time on this server; yours starts "
              "when the ones ahead finish. You can leave this page and come back.",
    "running": "Training: epoch {epoch} of {epochs}, batch {batch} of {steps}",
    "stop": "Stop", "stopping": "Stopping at the next batch; the partial run is kept.",
    "failed": "Training did not finish: {error}",
    "result": "Result", "test_acc": "Test accuracy", "test_loss": "Test loss", "seconds": "Training time",
    "epochs_done": "Epochs", "stopped_note": "Stopped early by the user: this run is partial ({done} of {asked} epochs).",
    "overfit": "Is it overfitting?", "data_note": "Trained on {n_train:,} images, validated on {n_val:,}, "
               "tested on {n_test:,} from the {source}.",
    "next": "Next: look **Inside the network**, check the **Mistakes**, or **Compare** runs.",
}
BATCH_SIZES = [16, 32, 64, 128, 256, 512, 1024]
LEARNING_RATES = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0]
TRAIN_SIZES = [500, 1000, 2000, 5000, 10_000, 20_000, 30_000, 50_000]

st.set_page_config(page_title="cnnlab · Train", page_icon="🏋️", layout="wide")
st.title(TEXT["title"])
st.write(TEXT["intro"])

architecture = st.session_state.get("architecture", architectures.DEFAULT_PRESET)
choices = list(architectures.PRESETS) + ([TEXT["custom"]] if not isinstance(architecture, str) else [])
names = list(datasets.DATASETS)
with st.form("settings"):
    c1, c2, c3 = st.columns(3)
    dataset = c1.selectbox(TEXT["dataset"], names, format_func=lambda n: datasets.DATASETS[n].title,
                           index=names.index(st.session_state.get("dataset", "mnist")))
    network = c2.selectbox(TEXT["network"], choices,
                           index=choices.index(architecture) if isinstance(architecture, str) else len(choices) - 1)
    optimizer = c3.selectbox(TEXT["optimizer"], list(training.OPTIMIZERS), index=2)
    epochs = c1.slider(TEXT["epochs"], 1, 50, 5, key="epochs")
    batch_size = c2.select_slider(TEXT["batch"], BATCH_SIZES, value=64, key="batch_size")
    learning_rate = c3.select_slider(TEXT["lr"], [TEXT["lr_default"]] + LEARNING_RATES, value=TEXT["lr_default"])
    own_dropout = c1.checkbox(TEXT["dropout_own"], value=True)
    dropout = c1.slider(TEXT["dropout"], 0.0, 0.9, 0.25, 0.05)
    train_size = c2.select_slider(TEXT["train_size"], [TEXT["all"]] + TRAIN_SIZES, value=TEXT["all"],
                                key="train_size")
    validation_split = c3.slider(TEXT["val"], 0.0, 0.5, 0.1, 0.05)
    seed = c3.number_input(TEXT["seed"], 0, 2 ** 31 - 1, 0)
    augment = c2.checkbox(TEXT["augment"], value=False, help=TEXT["augment_help"])
    submitted = st.form_submit_button(TEXT["train"], type="primary")


def show_result(run, cached=False):
    """Metrics, curves and the overfitting answer of a finished (or stopped) run."""
    if cached:
        st.success(TEXT["stored"].format(when=run.record["created"][:16].replace("T", " ")))
    st.subheader(TEXT["result"])
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(TEXT["test_acc"], f"{run.test_accuracy:.2%}")
    m2.metric(TEXT["test_loss"], f"{run.test_loss:.4f}")
    m3.metric(TEXT["seconds"], f"{run.train_seconds:.1f} s")
    m4.metric(TEXT["epochs_done"], run.record["epochs_completed"])
    if not run.complete:
        st.warning(TEXT["stopped_note"].format(done=run.record["epochs_completed"], asked=run.config.epochs))
    for note in run.record["notes"]:
        st.info(note)
    data = run.record["data"]
    st.caption(TEXT["data_note"].format(n_train=data["train"], n_val=data["validation"], n_test=data["test"],
                                        source=datasets.Source(data["source"], data["path"]).label))
    st.altair_chart(charts.learning_curves(run.history), width="content")
    st.markdown(f"**{TEXT['overfit']}** {inspection.overfitting_verdict(run.history).message}")
    st.markdown(TEXT["next"])


if submitted:
    st.session_state["dataset"] = dataset
    spec = architecture if network == TEXT["custom"] else network
    try:
        config = training.TrainConfig(
            dataset=dataset, architecture=spec, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
            learning_rate=None if learning_rate == TEXT["lr_default"] else learning_rate,
            dropout=None if own_dropout else dropout, validation_split=validation_split,
            train_size=None if train_size == TEXT["all"] else train_size, seed=int(seed),
            augment=augment)
        training.preflight(config)
        stored = ui.store().find(config)
        if stored is not None and stored.complete:
            st.session_state["run_id"], st.session_state["job_id"] = stored.id, None
            st.session_state["shown_cached"] = True
        else:
            job = ui.queue().submit(config, allow_download=False)
            st.session_state["job_id"], st.session_state["shown_cached"] = job.id, False
    except CnnlabError as error:
        st.error(TEXT["bad"].format(error=error))
        st.stop()


def job_panel():
    job = ui.queue().get(st.session_state.get("job_id"))
    if job is None:
        return
    if job.status == "queued":
        st.info(TEXT["queued"].format(position=ui.queue().position(job)))
    elif job.status == "running":
        st.progress(job.fraction, text=TEXT["running"].format(epoch=min(job.epochs_done + 1, job.config.epochs),
                                                              epochs=job.config.epochs, batch=job.batch,
                                                              steps=job.steps))
        if job.stop_requested:
            st.warning(TEXT["stopping"])
        elif st.button(TEXT["stop"], key=f"stop_{job.id}"):
            ui.queue().stop(job.id)
            st.warning(TEXT["stopping"])
        if job.history.get("loss"):
            st.altair_chart(charts.learning_curves(job.history, title=""), width="content")
    elif job.status == "failed":
        st.error(TEXT["failed"].format(error=job.error))
        st.session_state["job_id"] = None
    else:  # done: show the stored run with a full rerun of the page
        st.session_state["run_id"], st.session_state["job_id"] = job.id, None
        st.session_state["shown_cached"] = job.cached
        st.rerun()


job = ui.queue().get(st.session_state.get("job_id"))
if job is not None and job.status in ("queued", "running"):
    st.fragment(job_panel, run_every=1.0)()
elif job is not None:
    job_panel()
elif st.session_state.get("run_id"):
    run = ui.store().get(st.session_state["run_id"])
    if run is not None:
        show_result(run, cached=st.session_state.get("shown_cached", False))
