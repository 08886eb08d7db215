"""Teacher: the queue (stop a job, move one to the front), the workers, the run store, and trainings prepared before class."""

import pandas as pd
import streamlit as st

import ui
from cnnlab.course import experiments
from cnnlab.data import catalogue, own_images
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t

ui.page("teacher.title", "🎓")
if ui.teacher_token() is None:  # this page shows nothing to anyone until the server has a token
    st.info(t("teacher.no_token"))
    st.code('CNNLAB_TEACHER_TOKEN="…" streamlit run app.py\n# or, in .streamlit/secrets.toml:\nCNNLAB_TEACHER_TOKEN = "…"',
            language=None)  # plain: the highlighter's grey comments are below WCAG's contrast
    st.stop()
if not ui.teacher_allowed("teacher_page_token"):
    st.caption(t("teacher.type_token"))
    st.stop()

queue, store = ui.queue(), ui.store()


@st.fragment(run_every=2.0)
def waiting_line():
    """The queue, redrawn every two seconds while the teacher watches."""
    st.header(t("teacher.queue"))
    line = queue.jobs()
    if not line:
        st.info(t("teacher.queue_empty"))
    for job in line:
        job_row(job)


def job_row(job):
    with st.container(border=True):
        left, middle, right = st.columns([4, 1, 1])
        config = job.config
        left.markdown(t("teacher.job", number=job.number, name=config.architecture_name,
                        title=catalogue.get_info(config.dataset).title, epochs=config.epochs, batch=config.batch_size,
                        optimizer=config.optimizer, students=len(job.waiters), minutes=max(job.estimate_seconds / 60, 0.1)))
        if job.status == "running":
            left.progress(job.fraction, text=t("teacher.running", done=job.epochs_done, epochs=job.config.epochs))
        else:
            left.caption(t("teacher.waiting", position=queue.position(job) or 0))
            if middle.button(t("teacher.to_front"), key=f"front_{job.id}"):
                queue.move_to_front(job.id)
                st.rerun()
        if job.stop_requested:
            right.caption(t("train.stopping"))
        elif right.button(t("teacher.stop"), key=f"stop_{job.id}"):
            queue.stop(job.id)  # no student named: it ends for everyone, keeping the partial run
            st.rerun()


waiting_line()
st.header(t("teacher.workers"))
try:
    workers = queue.workers()
except CnnlabError as error:  # an unreachable Ray cluster: say so, the rest of the page still works
    st.error(str(error))
    workers = []
st.caption(t("teacher.where_ray", address=queue.executor.address) if queue.executor.kind == "ray"
           else t("teacher.where_here"))
if workers:
    st.dataframe(pd.DataFrame([{
        t("teacher.col_host"): node["host"], t("teacher.col_address"): node["address"],
        t("teacher.col_cpus"): node["cpus"], t("teacher.col_gpus"): node["gpus"],
        t("teacher.col_alive"): t("teacher.yes") if node["alive"] else t("teacher.no"),
        t("teacher.col_training"): ", ".join(node["training"]) or "—"} for node in workers]),
        hide_index=True, width="stretch")
    st.caption(t("teacher.capacity", count=queue.capacity()))

st.header(t("teacher.store"))
count, size = store.size()
st.write(t("teacher.store_size", count=count, megabytes=size / 2 ** 20))
damaged = store.set_aside()
if damaged:
    st.warning(t("teacher.damaged", count=len(damaged)))
    st.dataframe(pd.DataFrame([{t("teacher.col_run"): row["run_id"], t("teacher.col_reason"): str(row["reason"]),
                                t("teacher.col_megabytes"): round(row["bytes"] / 2 ** 20, 2)} for row in damaged]),
                 hide_index=True, width="stretch")
    if st.button(t("teacher.empty_damaged"), key="empty_damaged"):
        st.success(t("teacher.emptied", count=store.empty_set_aside()))
stored = store.list()
if stored:
    chosen = st.selectbox(t("teacher.delete_which"), [run.id for run in stored], index=None,
                          format_func=lambda run_id: ui.describe(store.get(run_id)), key="delete_run")
    if chosen and st.button(t("teacher.delete"), key="delete_button"):
        try:
            if store.delete(chosen):
                st.success(t("teacher.deleted", id=chosen[:6]))
        except CnnlabError as error:  # being trained: said at once, the page never waits for the training
            st.warning(str(error))

st.header(t("teacher.own"))
if "own_deleted" in st.session_state:  # said after the rerun that took it off every menu
    title, deleted = st.session_state.pop("own_deleted")
    st.success(t("teacher.own_deleted", title=title, runs=deleted))
own = catalogue.own_names()
if not own:
    st.caption(t("teacher.own_none"))
else:
    by_dataset = {}
    for run in stored:
        by_dataset[run.config.dataset] = by_dataset.get(run.config.dataset, 0) + 1
    infos = {name: catalogue.get_info(name) for name in own}
    st.dataframe(pd.DataFrame([{
        t("teacher.col_dataset"): info.title if info.title == name else f"{info.title} ({name})", t("teacher.col_classes"): ", ".join(info.classes),
        t("teacher.col_images"): t("home.images", train=info.full_sizes[0], test=info.full_sizes[1]),
        t("teacher.col_origin"): info.origin, t("teacher.col_imported"): info.imported[:16].replace("T", " "),
        t("teacher.col_runs"): by_dataset.get(name, 0)} for name, info in infos.items()]),
        hide_index=True, width="stretch")
    labels = {name: t("teacher.own_option", title=infos[name].title, runs=by_dataset.get(name, 0)) for name in own}
    doomed = st.selectbox(t("teacher.own_delete_which"), own, index=None, format_func=labels.get, key="delete_own")
    if doomed and st.button(t("teacher.own_delete", title=infos[doomed].title, runs=by_dataset.get(doomed, 0)),
                            key="delete_own_button"):
        try:
            st.session_state["own_deleted"] = (infos[doomed].title, own_images.delete(doomed, store))
            st.rerun()
        except CnnlabError as error:
            st.error(str(error))

st.header(t("teacher.prepare"))
st.write(t("teacher.prepare_intro"))
with st.form("prepare"):
    text = st.text_area(t("teacher.prepare_list"), placeholder="A1\nB2 epochs=5\nC3", key="prepare_text")
    queued = st.form_submit_button(t("teacher.prepare_button"))
if queued:
    for number, config, label in experiments.parse_list(text):
        try:
            if isinstance(config, CnnlabError):
                raise config
            job = queue.submit(config, requested_by=label if label in experiments.BY_ID else None)
            st.write(t("teacher.prepared", number=number, label=label, position=queue.position(job) or 0))
        except CnnlabError as error:
            st.error(t("teacher.prepare_bad", number=number, label=label, error=error))
    st.caption(t("teacher.prepare_note", count=len(queue.jobs())))
