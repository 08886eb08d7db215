"""Course: the five reports' experiments, reported against measured, their pictures, and their questions answered."""

import numpy as np
import pandas as pd
import streamlit as st

import ui
from cnnlab import charts, datasets, experiments, inspection, training
from cnnlab.errors import CnnlabError

TEXT = {
    "title": "📚 The course",
    "intro": "cnnlab grew out of five course reports. Every experiment they describe is here: run it, see the "
             "report's number beside yours, look at the same pictures the report drew, and read the answers to "
             "its questions, computed from the runs on this server.",
    "report": "Report {report}: {title}",
    "columns": {"id": "experiment", "title": "what", "dataset": "dataset", "optimizer": "optimizer",
                "learning_rate": "learning rate", "batch_size": "batch", "epochs": "epochs",
                "reported": "reported test acc.", "measured": "measured test acc.", "run_epochs": "measured after",
                "difference": "difference"},
    "not_run": "not run yet", "not_stated": "not stated",
    "assumed": "Settings the report leaves out: {items}.",
    "experiment": "Experiment", "epochs": "Epochs to run",
    "epochs_help": "The report's count is the default; on a CPU, experiments of hundreds of epochs start at {cap} "
                   "(the result is then labelled as shortened).",
    "run": "Run", "view": "View", "queued": "{id}: queued, place {position} in line.",
    "running": "{id}: training, epoch {epoch} of {epochs}", "done": "{id}: finished — test accuracy {acc:.2%}.",
    "failed": "{id} did not finish: {error}", "stored": "{id} with these settings is already stored.",
    "bad": "{id} cannot run here: {error}",
    "questions": "The report's questions, answered from the runs",
    "pictures": "Pictures of {id}: {title} ({epochs})",
    "no_run_to_view": "{id} has not been run yet: press Run first.",
    "curves": "Accuracy and loss, training against validation",
    "matrix": "Confusion matrix on the test set", "confused": "Most confused: {pairs}.",
    "pair": "{true} taken for {pred} ({count}×)",
    "filters": "Filters of {name} ({count})", "maps": "Feature maps of {name} for test image 0 ({label})",
    "grid": "Predictions on the first test images", "grid_caption": "{mark} true {true} / predicted {pred}",
    "data_gone": "The pictures need the test images: {error}",
    "no_conv": "This network has no convolution layer (no filters or feature maps).",
}

st.set_page_config(page_title="cnnlab · Course", page_icon="📚", layout="wide")
st.title(TEXT["title"])
st.write(TEXT["intro"])

store, queue = ui.store(), ui.queue()
stored = store.list()
for notice in store.notices:
    st.warning(notice)
gpu = training.gpu_name() is not None
jobs = st.session_state.setdefault("course_jobs", {})  # experiment id -> job id (plain strings only)


def table(report):
    rows = []
    for experiment in experiments.of_report(report):
        run = experiments.best_run(experiment, stored)
        config = experiment.config()
        reported = experiment.reported_test_accuracy
        rows.append({
            "id": experiment.id, "title": experiment.title, "dataset": datasets.get_info(experiment.dataset).title,
            "optimizer": config.optimizer, "learning_rate": f"{config.learning_rate:g}",
            "batch_size": config.batch_size, "epochs": experiment.epochs,
            "reported": f"{reported:.2%}" if reported is not None else experiment.reported_note or TEXT["not_stated"],
            "measured": f"{run.test_accuracy:.2%}" if run else TEXT["not_run"],
            "run_epochs": experiments.epochs_label(experiment, run) if run else "—",
            "difference": f"{(run.test_accuracy - reported) * 100:+.2f} pts" if run and reported is not None else "—",
        })
    return pd.DataFrame(rows).rename(columns=TEXT["columns"])


def job_status(experiment_id):
    job = queue.get(jobs.get(experiment_id))
    if job is None:
        return
    if job.status == "queued":
        st.info(TEXT["queued"].format(id=experiment_id, position=queue.position(job)))
    elif job.status == "running":
        st.progress(job.fraction, text=TEXT["running"].format(id=experiment_id, epoch=min(job.epochs_done + 1,
                                                              job.config.epochs), epochs=job.config.epochs))
    elif job.status == "failed":
        st.error(TEXT["failed"].format(id=experiment_id, error=job.error))
    else:
        run = store.get(job.id)
        if run is not None:
            st.success(TEXT["done"].format(id=experiment_id, acc=run.test_accuracy))


@st.fragment(run_every=2.0)
def live_jobs(report):
    for experiment in experiments.of_report(report):
        job_status(experiment.id)


def controls(report):
    options = [e.id for e in experiments.of_report(report)]
    left, middle, right = st.columns([3, 2, 2])
    chosen = experiments.get(left.selectbox(TEXT["experiment"], options, key=f"pick_{report}",
                                            format_func=lambda i: f"{i}: {experiments.BY_ID[i].title}"))
    epochs = middle.number_input(TEXT["epochs"], 1, chosen.epochs, chosen.suggested_epochs(gpu),
                                 key=f"epochs_{report}_{chosen.id}",
                                 help=TEXT["epochs_help"].format(cap=experiments.CPU_EPOCHS))
    run_clicked = right.button(TEXT["run"], key=f"run_{report}", type="primary")
    view_clicked = right.button(TEXT["view"], key=f"view_{report}")
    if run_clicked:
        config = chosen.config(epochs=int(epochs))
        try:
            training.preflight(config)
            existing = store.find(config)
            if existing is not None and existing.complete:
                st.info(TEXT["stored"].format(id=chosen.id))
            else:
                jobs[chosen.id] = queue.submit(config, allow_download=False).id
        except CnnlabError as error:
            st.error(TEXT["bad"].format(id=chosen.id, error=error))
    if view_clicked:
        st.session_state["course_view"] = chosen.id


for report, title in experiments.REPORTS.items():
    with st.container(border=True):
        st.subheader(TEXT["report"].format(report=report, title=title))
        st.dataframe(table(report), hide_index=True, width="stretch")
        assumed = sorted({item for e in experiments.of_report(report) for item in e.assumed})
        if assumed:
            st.caption(TEXT["assumed"].format(items="; ".join(assumed)))
        controls(report)
        if any(e.id in jobs for e in experiments.of_report(report)):
            live_jobs(report)
        with st.expander(TEXT["questions"], expanded=True):
            for answer in experiments.answers(report, stored):
                st.markdown(f"**{experiments.QUESTION_TEXT[answer.question]}** {answer.text}")


# ---------------------------------------------------------------- the pictures of one experiment's run
viewed = st.session_state.get("course_view")
if viewed:
    experiment = experiments.get(viewed)
    run = experiments.best_run(experiment, stored)
    if run is None:
        st.info(TEXT["no_run_to_view"].format(id=viewed))
        st.stop()
    st.header(TEXT["pictures"].format(id=viewed, title=experiment.title,
                                      epochs=experiments.epochs_label(experiment, run)))
    info = run.info
    left, right = st.columns(2)
    with left:
        st.subheader(TEXT["curves"])
        st.altair_chart(charts.learning_curves(run.history, title=""), width="stretch")
        st.caption(inspection.overfitting_verdict(run.history).message)
    with right:
        st.subheader(TEXT["matrix"])
        matrix = np.asarray(run.metrics["confusion_matrix"])
        st.altair_chart(charts.confusion_heatmap(matrix, info.class_names), width="content")
        pairs = inspection.most_confused(matrix, info.class_names)
        if pairs:
            st.caption(TEXT["confused"].format(pairs="; ".join(
                TEXT["pair"].format(true=t, pred=p, count=c) for t, p, c in pairs)))
    try:
        data = datasets.load(run.config.dataset, allow_download=False)
    except CnnlabError as error:
        st.error(TEXT["data_gone"].format(error=error))
        st.stop()
    model = ui.model(run.id)
    extractor, names = ui.extractor(run.id)
    if names:
        for name in names:
            grid, shape = inspection.filter_grid(model, name, scale=12)
            st.image(grid, caption=TEXT["filters"].format(name=name, count=shape[0]))
        first = inspection.feature_maps(extractor, names, data.x_test[0])[names[0]]
        st.image(inspection.feature_map_grid(first, columns=16, size=64), caption=TEXT["maps"].format(name=names[0], label=info.class_names[data.y_test[0]]))
    else:
        st.info(TEXT["no_conv"])
    st.subheader(TEXT["grid"])
    probabilities, y_test = ui.predictions(run.id)
    predicted = np.argmax(probabilities, axis=1)
    columns = st.columns(8)
    for i in range(16):
        mark = "✓" if predicted[i] == y_test[i] else "✗"
        columns[i % 8].image(inspection.upscale(data.x_test[i], 3), caption=TEXT["grid_caption"].format(
            mark=mark, true=info.class_names[y_test[i]], pred=info.class_names[predicted[i]]))
