"""Course: the five reports' experiments, reported against measured, their pictures, and their questions answered."""

import numpy as np
import pandas as pd
import streamlit as st

import ui
from cnnlab import i18n, training
from cnnlab.course import experiments
from cnnlab.data import catalogue, datasets, ownership
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t
from cnnlab.insight import charts, inspection

COLUMNS = {"id": "course.col_id", "title": "course.col_title", "dataset": "course.col_dataset",
           "optimizer": "course.col_optimizer", "learning_rate": "course.col_learning_rate",
           "batch_size": "course.col_batch_size", "epochs": "course.col_epochs", "reported": "course.col_reported",
           "measured": "course.col_measured", "run_epochs": "course.col_run_epochs",
           "data": "course.col_data", "difference": "course.col_difference", "status": "course.col_status"}

ui.page("course.title", "📚")
st.write(t("course.intro"))

store, queue = ui.store(), ui.queue()
stored = store.list(who=ui.who())
if st.session_state.get("course_stored"):
    st.info(t("course.stored", id=st.session_state.pop("course_stored")))
gpu = training.gpu_name() is not None
jobs = st.session_state.setdefault("course_jobs", {})  # experiment id -> job id (plain strings only)


def table(report):
    rows = []
    for experiment in experiments.of_report(report):
        run = experiments.best_run(experiment, stored)
        config = experiment.config()
        reported = experiment.reported_test_accuracy
        blocked = experiments.blocker(experiment)
        rows.append({
            "id": experiment.id, "title": experiment.title, "dataset": catalogue.get_info(experiment.dataset).title,
            "optimizer": config.optimizer, "learning_rate": i18n.number(config.learning_rate, "g"),
            "batch_size": config.batch_size, "epochs": experiment.epochs,
            "reported": i18n.percent(reported) if reported is not None else experiment.reported_note or t("course.not_stated"),
            "measured": i18n.percent(run.test_accuracy) if run else t("course.not_run"),
            "run_epochs": experiments.epochs_label(experiment, run) if run else "—",
            "data": run.variant_label if run else "—",
            "difference": t("course.points", points=(run.test_accuracy - reported) * 100)
            if run and reported is not None else "—",
            "status": str(blocked) if blocked else t("course.ready"),
        })
    return pd.DataFrame(rows).rename(columns={key: t(label) for key, label in COLUMNS.items()})


def job_status(experiment_id):
    job = queue.get(jobs.get(experiment_id))
    if job is None:
        return
    if job.status == "queued":
        st.info(t("course.queued", id=experiment_id, position=queue.position(job)))
    elif job.status == "running":
        st.progress(job.fraction, text=t("course.running", id=experiment_id, epoch=min(job.epochs_done + 1,
                                                              job.config.epochs), epochs=job.config.epochs))
    elif job.status == "failed":
        st.error(t("course.failed", id=experiment_id, error=job.error))
    else:
        run = store.get(job.id)
        if run is not None:
            st.success(t("course.done", id=experiment_id, acc=run.test_accuracy))


@st.fragment(run_every=2.0)
def live_jobs(report):
    for experiment in experiments.of_report(report):
        job_status(experiment.id)


def controls(report):
    options = [e.id for e in experiments.of_report(report)]
    left, middle, right = st.columns([3, 2, 2])
    chosen = experiments.get(left.selectbox(t("course.experiment"), options, key=f"pick_{report}",
                                            format_func=lambda i: f"{i}: {experiments.BY_ID[i].title}"))
    epochs = middle.number_input(t("course.epochs"), 1, chosen.epochs, chosen.suggested_epochs(gpu),
                                 key=f"epochs_{report}_{chosen.id}",
                                 help=t("course.epochs_help", cap=experiments.CPU_EPOCHS))
    run_clicked = right.button(t("course.run"), key=f"run_{report}", type="primary")
    view_clicked = right.button(t("course.view"), key=f"view_{report}")
    blocked = experiments.blocker(chosen)
    if blocked:
        st.warning(str(blocked))
    if run_clicked and not blocked:
        config = chosen.config(epochs=int(epochs))
        try:
            training.check_layers(config)
            ownership.require_use(ui.who(), config.dataset)  # before a stored run is looked up or tagged
            data = datasets.load(config.dataset)  # chosen once, for the lookup and the training
            training.preflight(config, data)
            existing = store.find(config, data)
            if existing is not None and existing.complete:
                store.tag(existing.id, chosen.id)  # now it is this experiment's run too: show it in the table
                st.session_state["course_stored"] = chosen.id
                st.rerun()
            else:
                jobs[chosen.id] = ui.queue_for_me(config, data, requested_by=chosen.id).id
        except CnnlabError as error:
            st.error(t("course.bad", id=chosen.id, error=error))
    if view_clicked:
        st.session_state["course_view"] = chosen.id


for report, title in experiments.REPORTS.items():
    with st.container(border=True):
        st.header(t("course.report", report=report, title=t(title)))
        st.dataframe(table(report), hide_index=True, width="stretch")
        assumed = sorted({item for e in experiments.of_report(report) for item in e.assumed})
        if assumed:
            st.caption(t("course.assumed", items="; ".join(assumed)))
        controls(report)
        if any(e.id in jobs for e in experiments.of_report(report)):
            live_jobs(report)
        with st.expander(t("course.questions"), expanded=True):
            for answer in experiments.answers(report, stored):
                st.markdown(f"**{t(experiments.QUESTION_TEXT[answer.question])}** {answer.text}")
        measured = list({run.id: run for run in (experiments.best_run(e, stored) for e in experiments.of_report(report))
                         if run is not None}.values())
        if measured:
            ui.report_download(t("course.report_download", report=report), measured, f"cnnlab-course-{report}",
                               key=f"course_report_{report}", course=report)


# ---------------------------------------------------------------- the pictures of one experiment's run
viewed = st.session_state.get("course_view")
if viewed:
    experiment = experiments.get(viewed)
    run = experiments.best_run(experiment, stored)
    if run is None:
        st.info(t("course.no_run_to_view", id=viewed))
        st.stop()
    st.header(t("course.pictures", id=viewed, title=experiment.title,
                                      epochs=experiments.epochs_label(experiment, run)))
    ui.take_home(run, key="course_take_home")
    ui.seed_group(run, key="course")  # its other seeds, when there are: the answers above use them
    ui.repeat_seeds(run, key="course")  # untagged: the seeds are its group; a shortened experiment keeps this run
    info = run.info
    left, right = st.columns(2)
    with left:
        st.subheader(t("course.curves"))
        st.altair_chart(charts.learning_curves(run.history, title=""), width="stretch")
        st.caption(inspection.overfitting_verdict(run.history).message)
    with right:
        st.subheader(t("course.matrix"))
        matrix = np.asarray(run.metrics["confusion_matrix"])
        st.altair_chart(charts.confusion_heatmap(matrix, info.class_names), width="content")
        pairs = inspection.most_confused(matrix, info.class_names)
        if pairs:
            st.caption(t("course.confused", pairs="; ".join(
                t("course.pair", true=true, pred=p, count=c) for true, p, c in pairs)))
    data = ui.run_data(run)  # the very test set this run was evaluated on
    if data is None:
        st.stop()
    model = ui.model(run.id)
    extractor, names = ui.extractor(run.id)
    if names:
        for name in names:
            grid, shape = inspection.filter_grid(model, name, scale=12)
            ui.image(st, grid, caption=t("course.filters", name=name, count=shape[0]))
        first = inspection.feature_maps(extractor, names, data.x_test[0])[names[0]]
        ui.image(st, inspection.feature_map_grid(first, columns=16, size=64),
                 caption=t("course.maps", name=names[0], label=info.class_names[data.y_test[0]]))
    else:
        st.info(t("course.no_conv"))
    st.subheader(t("course.grid"))
    probabilities, y_test = ui.predictions(run.id)
    predicted = np.argmax(probabilities, axis=1)
    columns = st.columns(8)
    for i in range(16):
        mark = "✓" if predicted[i] == y_test[i] else "✗"
        ui.image(columns[i % 8], inspection.upscale(data.x_test[i], 3), caption=t("course.grid_caption",
            mark=mark, true=info.class_names[y_test[i]], pred=info.class_names[predicted[i]]))
