"""Teacher: the queue (stop a job, move one to the front), the workers, the run store, and trainings prepared before class."""

import pandas as pd
import streamlit as st

import ui
from cnnlab.classroom import classes, codes, teaching
from cnnlab.course import experiments
from cnnlab.data import catalogue, own_images
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t

ui.page("teacher.title", "🎓")
ui.refuse_unless("manage")  # a teacher on a class server, the owner of a personal lab; the queue asks again
if ui.who().role == "owner":
    st.info(t("teacher.personal_lab"))
    st.code("python -m cnnlab teacher add NAME", language=None)  # plain: the highlighter's greys are below WCAG's

queue, store, who = ui.queue(), ui.store(), ui.who()


def classes_panel():
    """The teacher's classes: make one, its join code large with a QR code for the projector, its students (add a
    roster and hand out the codes, reset a code, sign a student out), its limits, and who asked for what."""
    st.header(t("teacher.classes"))
    with st.form("new_class"):
        left, right = st.columns([2, 1])
        name = left.text_input(t("teacher.class_name"), max_chars=80, placeholder="CNN 2027")
        term = right.text_input(t("teacher.class_term"), max_chars=40)
        if st.form_submit_button(t("teacher.class_create")):
            try:
                st.session_state["class_id"] = teaching.create_class(who, name, term).id
            except CnnlabError as error:
                st.error(str(error))
    mine = classes.of_teacher(who.person_id)
    if not mine:
        st.caption(t("teacher.no_classes"))
        return
    ids = [c.id for c in mine]
    chosen = st.selectbox(t("teacher.class_pick"), ids, format_func={c.id: f"{c.name} {c.term}".strip()
                                                                    for c in mine}.get, key="class_id")
    classroom = next(c for c in mine if c.id == chosen)
    join_code_panel(classroom)
    roster_panel(classroom)
    limits_panel(classroom)
    work_panel(classroom)


def join_code_panel(classroom):
    link = f"{ui.app_url() or ''}/?join={classroom.join_code}"
    left, right = st.columns([2, 1])
    left.markdown(t("teacher.join_code_intro", name=ui.plain(classroom.name)))
    left.markdown(f"<p style='font-size:4rem;font-weight:700;letter-spacing:0.2em;margin:0'>{classroom.join_code}</p>",
                  unsafe_allow_html=True)
    left.caption(t("teacher.join_link", link=link))
    ui.image(right, codes.qr_png(link), caption=t("teacher.qr_caption"),
             alt=t("teacher.qr_alt", code=classroom.join_code, link=link), width=220)


def roster_panel(classroom):
    st.subheader(t("teacher.students"))
    students = teaching.overview(who, classroom.id)
    if students:
        st.dataframe(pd.DataFrame([{t("teacher.col_nickname"): row["nickname"],
                                    t("teacher.col_joined"): row["joined_at"].strftime("%Y-%m-%d %H:%M"),
                                    t("teacher.col_requests"): row["requests"],
                                    t("teacher.col_minutes_today"): round(row["seconds_today"] / 60, 1)}
                                   for row in students]), hide_index=True, width="stretch")
    else:
        st.caption(t("teacher.no_students", code=classroom.join_code))
    with st.form("roster"):
        pasted = st.text_area(t("teacher.roster_paste"), placeholder="Ana\nLuis\nkiwi",
                              max_chars=classes.MAX_ROSTER_BYTES)  # bounded in the browser, and again in classes
        sent = st.file_uploader(t("teacher.roster_file"), type=["csv", "txt"], key="roster_file",
                                max_upload_size=1)
        if st.form_submit_button(t("teacher.roster_add")):
            try:
                st.session_state["new_codes"] = teaching.add_roster(who, classroom.id,
                                                                    sent.getvalue() if sent else pasted)
            except CnnlabError as error:
                st.error(str(error))
    new_codes = st.session_state.get("new_codes")
    if new_codes:
        st.success(t("teacher.codes_made", count=len(new_codes)))
        table = pd.DataFrame(new_codes, columns=[t("teacher.col_nickname"), t("teacher.col_code")])
        st.dataframe(table, hide_index=True)
        st.download_button(t("teacher.codes_download"), table.to_csv(index=False).encode(),
                           file_name=f"codes-{classroom.join_code}.csv", mime="text/csv")
    if students:
        student_actions(classroom, students)


def student_actions(classroom, students):
    names = {row["person_id"]: row["nickname"] for row in students}
    left, middle, right = st.columns([2, 1, 1])
    person = left.selectbox(t("teacher.student_pick"), list(names), format_func=names.get, key="student_pick")
    try:
        if middle.button(t("teacher.reset_code"), key="reset_code"):
            st.success(t("teacher.code_reset", nickname=ui.plain(names[person]),
                         code=teaching.reset_code(who, classroom.id, person)))
        if right.button(t("teacher.sign_out_student"), key="sign_out_student"):
            teaching.sign_out_student(who, classroom.id, person)
            st.success(t("teacher.signed_out", nickname=ui.plain(names[person])))
    except CnnlabError as error:
        st.error(str(error))


def limits_panel(classroom):
    with st.form("limits"):
        left, right = st.columns(2)
        minutes = left.number_input(t("teacher.minutes_per_day"), 0, teaching.MAX_MINUTES_PER_DAY,
                                    classroom.minutes_per_day or 0, help=t("teacher.minutes_help"))
        open_ = right.toggle(t("teacher.class_open"), classroom.open)
        if st.form_submit_button(t("teacher.limits_save")):
            try:
                teaching.set_limits(who, classroom.id, minutes or None, open_)
                st.rerun()
            except CnnlabError as error:
                st.error(str(error))


def work_panel(classroom):
    st.subheader(t("teacher.work"))
    rows = teaching.work(who, classroom.id, limit=500)
    if not rows:
        st.caption(t("teacher.work_none"))
        return
    st.dataframe(pd.DataFrame([{t("teacher.col_nickname"): nickname, t("teacher.col_run"): request.run_id,
                                t("teacher.col_dataset"): catalogue.get_info(request.dataset).title
                                if request.dataset in catalogue.DATASETS or catalogue.is_own(request.dataset)
                                else request.dataset,
                                t("teacher.col_asked"): request.asked_at.strftime("%Y-%m-%d %H:%M"),
                                t("teacher.col_minutes"): round(request.seconds / 60, 1)}
                               for nickname, request in rows]), hide_index=True, width="stretch")


if who.role == "teacher":
    classes_panel()


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
                queue.move_to_front(job.id, who=who)
                st.rerun()
        if job.stop_requested:
            right.caption(t("train.stopping"))
        elif right.button(t("teacher.stop"), key=f"stop_{job.id}"):
            queue.stop(job.id, who=who)  # no student named: it ends for everyone, keeping the partial run
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
        st.success(t("teacher.emptied", count=store.empty_set_aside(who=who)))
stored = store.list()
if stored:
    chosen = st.selectbox(t("teacher.delete_which"), [run.id for run in stored], index=None,
                          format_func=lambda run_id: ui.describe(store.get(run_id)), key="delete_run")
    if chosen and st.button(t("teacher.delete"), key="delete_button"):
        try:
            if store.delete(chosen, who=who):
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
            st.session_state["own_deleted"] = (infos[doomed].title, own_images.delete(doomed, store, who=who))
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
            job = queue.submit(config, requested_by=label if label in experiments.BY_ID else None, who=who,
                               ahead_of_class=True)
            st.write(t("teacher.prepared", number=number, label=label, position=queue.position(job) or 0))
        except CnnlabError as error:
            st.error(t("teacher.prepare_bad", number=number, label=label, error=error))
    st.caption(t("teacher.prepare_note", count=len(queue.jobs())))
