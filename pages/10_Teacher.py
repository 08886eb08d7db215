"""Teacher: the class (its code, students, assignments with their links, the live class), the queue (stop a job, move
one to the front), the workers, the run store, and trainings prepared before class."""

import datetime

import pandas as pd
import streamlit as st

import ui
from cnnlab import i18n
from cnnlab.classroom import classes, codes, schema, slips, teaching
from cnnlab.course import assignments, experiments, leaderboard, live
from cnnlab.networks import architectures
from cnnlab.data import catalogue, holdout, own_images, ownership
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
    assignments_panel(classroom)
    live_class(classroom.id)
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
        left, right = st.columns(2)
        left.download_button(t("teacher.codes_download"), table.to_csv(index=False).encode(),
                             file_name=f"codes-{classroom.join_code}.csv", mime="text/csv")
        right.download_button(t("teacher.slips_download"),
                              slips.slips_html(classroom.name, new_codes, ui.app_url(), i18n.get_language()),
                              file_name=f"codes-{classroom.join_code}.html", mime="text/html")
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


def assignments_panel(classroom):
    """Make an assignment (from a course report in one click, or from scratch), and each one's link and QR code.
    What the form allows is no guard: the queue holds every training asked for it to its rules."""
    st.subheader(t("teacher.assignments"))
    st.caption(t("teacher.assignment_intro"))
    private = st.toggle(t("teacher.assignment_private"), value=True, key="assignment_private",
                        help=t("teacher.assignment_private_help", share=assignments.PRIVATE_SHARE))
    columns = st.columns(len(experiments.REPORTS))
    for column, (report, title_key) in zip(columns, experiments.REPORTS.items()):
        if column.button(t("teacher.assignment_make_report", report=report), key=f"assignment_report_{report}",
                         help=t(title_key)):
            made_or_said(lambda report=report, title_key=title_key: assignments.create(
                who, classroom.id, t(title_key), *assignments.from_report(report), report=report, private=private))
    with st.expander(t("teacher.assignment_scratch")):
        scratch_form(classroom, private)
    made = assignments.of_class(who, classroom.id)
    if not made:
        st.caption(t("teacher.assignment_none"))
    for assignment in made:
        assignment_card(assignment)


def made_or_said(make):
    """Make an assignment; a refusal or a mistake in the form is its sentence."""
    try:
        st.success(t("teacher.assignment_made", title=ui.plain(make().title)))
    except CnnlabError as error:
        st.error(str(error))


def scratch_form(classroom, private):
    with st.form("new_assignment"):
        title = st.text_input(t("teacher.assignment_title"), max_chars=assignments.MAX_TITLE)
        left, right = st.columns(2)
        names = [name for name in ownership.names(who) if holdout.parse(name) is None]  # not a held-out copy
        dataset = left.selectbox(t("teacher.assignment_dataset"), names, key="assignment_dataset",
                                 format_func=lambda name: ui.own_label(name, ui.dataset_title(name)))
        network = right.selectbox(t("teacher.assignment_network"), list(architectures.PRESETS),
                                  key="assignment_network")
        st.markdown(t("teacher.assignment_settings"))
        modes = {}
        for name in assignments.FIELDS:
            left, right = st.columns([1, 2])
            mode = left.selectbox(t(assignments.SETTING_NAMES[name]), assignments.MODES, key=f"mode_{name}",
                                  index=0 if name in ("dataset", "architecture") else 1, format_func=MODE_WORDS.get)
            modes[name] = (mode, right.text_input(t("teacher.assignment_value", setting=t(assignments.SETTING_NAMES[
                name])), key=f"value_{name}", placeholder=PLACEHOLDERS.get(name, "")))
        st.markdown(t("teacher.assignment_budget"))
        budget = dict(zip(assignments.BUDGET, (column.number_input(t(key), 0, 10 ** 9, 0, key=f"budget_{key}")
                                              for column, key in zip(st.columns(3), BUDGET_WORDS))))
        ticked = st.multiselect(t("teacher.assignment_questions_report"), list(experiments.QUESTION_TEXT),
                                format_func=lambda key: t(experiments.QUESTION_TEXT[key]), key="assignment_ticked")
        own = [(left.text_input(t("teacher.assignment_question_en", number=number), key=f"question_en_{number}"),
                right.text_input(t("teacher.assignment_question_es", number=number), key=f"question_es_{number}"))
               for number, (left, right) in ((n, st.columns(2)) for n in (1, 2, 3))]
        left, right = st.columns(2)
        day = left.date_input(t("teacher.assignment_due_date"), value=None, key="assignment_due_date")
        hour = right.time_input(t("teacher.assignment_due_time"), datetime.time(23, 59), key="assignment_due_time")
        if st.form_submit_button(t("teacher.assignment_create")):
            made_or_said(lambda: assignments.create(
                who, classroom.id, title, scratch_rules(dataset, network, modes, budget),
                [{"report": key} for key in ticked] + [{"text": {"en": en, "es": es}} for en, es in own if en or es],
                datetime.datetime.combine(day, hour, datetime.UTC) if day else None, private=private))


MODE_WORDS = {"locked": t("teacher.assignment_mode_locked"), "free": t("teacher.assignment_mode_free"),
              "range": t("teacher.assignment_mode_range"), "choice": t("teacher.assignment_mode_choice")}
BUDGET_WORDS = ("teacher.assignment_budget_epochs", "teacher.assignment_budget_params",
                "teacher.assignment_budget_minutes")
PLACEHOLDERS = {"learning_rate": "0.0001, 0.01", "batch_size": "32, 64, 128", "optimizer": "adam",
                "augment": "off", "epochs": "1, 20"}


def scratch_rules(dataset, network, modes, budget):
    """The form's Rules: the dataset and the network are where the worksheet starts (and what a lock with nothing
    typed locks them to); each setting's rule from what was typed (cnnlab.course.assignments says what is wrong)."""
    settings = {}
    for name, (mode, typed) in modes.items():
        if mode == "locked" and not typed.strip() and name in ("dataset", "architecture"):
            typed = dataset if name == "dataset" else network
        settings[name] = assignments.typed_rule(name, mode, typed)
    return assignments.Rules(dataset, network, settings, {name: int(value) or None for name, value in budget.items()})


def assignment_card(assignment):
    """An assignment's title and due time, its link large (for the projector) and its QR code."""
    link = f"{ui.app_url() or ''}{assignments.link(assignment.code)}"
    due = assignment.due_at.strftime("%Y-%m-%d %H:%M UTC") if assignment.due_at else t("teacher.assignment_no_due")
    with st.container(border=True):
        left, right = st.columns([3, 1])
        left.markdown(t("teacher.assignment_row", title=ui.plain(assignment.title), due=due))
        left.markdown(f"<p style='font-size:2rem;font-weight:700;margin:0;overflow-wrap:anywhere'>{link}</p>",
                      unsafe_allow_html=True)
        left.caption(t("teacher.assignment_questions", count=len(assignments.questions_of(assignment))))
        ui.image(right, codes.qr_png(link), caption=t("teacher.assignment_qr_caption"),
                 alt=t("teacher.assignment_qr_alt", title=assignment.title, link=link), width=180)
        leaderboard_panel(assignment)


def leaderboard_panel(assignment):
    """What the class's board shows (nicknames, anonymous, off), the private ranking revealed or not, and the board
    itself with every private score (drawn on demand: a private score rebuilds each network once).
    The widgets show the database as it is now and change it only when the teacher changes them (on_change): a rerun
    of an older tab shows another tab's reveal and never undoes it."""
    modes = {"nicknames": t("leaderboard.mode_nicknames"), "anonymous": t("leaderboard.mode_anonymous"),
             "off": t("leaderboard.mode_off")}  # leaderboard.MODES
    mode_key, reveal_key, said_key = (f"board_{name}_{assignment.id}" for name in ("mode", "reveal", "said"))
    st.session_state[mode_key] = assignment.leaderboard  # read after the callbacks ran: the row as it is now
    st.session_state[reveal_key] = assignment.revealed_at is not None
    left, middle, right = st.columns([2, 2, 1])
    left.radio(t("leaderboard.mode"), list(modes), format_func=modes.get, horizontal=True, key=mode_key,
               on_change=board_changed, args=(leaderboard.set_mode, assignment, mode_key, said_key))
    middle.toggle(t("leaderboard.reveal"), key=reveal_key, help=t("leaderboard.reveal_help"),
                  disabled=assignment.revealed_at is not None,  # for good (leaderboard.reveal refuses hiding it)
                  on_change=board_changed, args=(leaderboard.reveal, assignment, reveal_key, said_key))
    if said_key in st.session_state:
        st.error(st.session_state.pop(said_key))
    if right.toggle(t("leaderboard.show"), key=f"board_show_{assignment.id}"):
        with st.spinner(t("leaderboard.scoring")):
            ui.leaderboard_table(assignments.get(assignment.code, who))


def board_changed(change, assignment, key, said_key):
    """The teacher changed what the board shows or its reveal (an on_change callback): change it in the database; a
    refusal is kept as its sentence for the panel to show. Who is read again: the package asks them again."""
    try:
        change(ui.identify(), assignment, st.session_state[key])
    except CnnlabError as error:
        st.session_state[said_key] = str(error)


@st.fragment(run_every=5.0)
def live_class(class_id):
    """The live class, redrawn every five seconds while open; who is read again on every redraw, as the queue's is.
    The lab starts when this view is first opened in this browser for the class (kept in the session)."""
    now = ui.identify()
    st.subheader(t("live.title"))
    started = st.session_state.setdefault(f"lab_start_{class_id}", schema.now())
    try:
        made = {a.id: a for a in assignments.of_class(now, class_id)}
        chosen = st.selectbox(t("live.assignment_pick"), [None, *made], key=f"live_assignment_{class_id}",
                              format_func=lambda key: t("live.all_work") if key is None else made[key].title)
        found = live.rows(now, class_id, made.get(chosen), queue=queue, store=store, lab_start=started)
    except CnnlabError as error:
        st.warning(str(error))
        return
    st.caption(t("live.intro", time=started.strftime("%H:%M"), minutes=live.STUCK_MINUTES))
    if not found:
        st.caption(t("live.none"))
        return
    stuck = sum(row.stuck for row in found)
    if stuck:
        st.warning(t("live.stuck_count", count=stuck))
    st.dataframe(live_table(found).style.apply(lambda row: [STUCK_STYLE if row[t("live.col_stuck")] != "—" else ""]
                                               * len(row), axis=1),
                 hide_index=True, width="stretch", column_config={t("live.col_run"): st.column_config.LinkColumn(
                     display_text=t("live.open_run"))})


STUCK_STYLE = "background-color: #fde2e1; color: #5c0b0b; font-weight: 700"  # beside the Stuck column's words


def live_table(found):
    base = ui.app_url() or ""
    yes_no = {True: t("teacher.yes"), False: t("teacher.no"), None: "—"}
    return pd.DataFrame([{
        t("live.col_student"): row.nickname, t("live.col_state"): str(row.said),
        t("live.col_stuck"): "⚠ " + "; ".join(str(flag) for flag in row.flags_said()) if row.stuck else "—",
        t("live.col_best"): i18n.percent(row.best_accuracy) if row.best_accuracy is not None else "—",
        t("live.col_handed"): yes_no[row.handed_in],
        t("live.col_run"): f"{base}/Train?run={row.run_id}" if row.run_id else None} for row in found])


def work_panel(classroom):
    st.subheader(t("teacher.work"))
    rows = teaching.work(who, classroom.id, limit=500)
    if not rows:
        st.caption(t("teacher.work_none"))
        return
    st.dataframe(pd.DataFrame([{t("teacher.col_nickname"): nickname, t("teacher.col_run"): request.run_id,
                                t("teacher.col_dataset"): ui.dataset_title(request.dataset),
                                t("teacher.col_asked"): request.asked_at.strftime("%Y-%m-%d %H:%M"),
                                t("teacher.col_minutes"): round(request.seconds / 60, 1),
                                t("teacher.col_note"): request.note or "", t("teacher.col_tags"): request.tags or ""}
                               for nickname, request in rows]), hide_index=True, width="stretch")


if who.role == "teacher":
    classes_panel()


@st.fragment(run_every=2.0)
def waiting_line():
    """The queue, redrawn every two seconds while the teacher watches. Who is read again on every redraw: a teacher
    signed out elsewhere (or ended by the server) stops nothing from a tab left open."""
    now, taught = ui.identify(), {}
    st.header(t("teacher.queue"))
    line = queue.jobs()
    if not line:
        st.info(t("teacher.queue_empty"))
    for job in line:
        job_row(job, now, taught)


def queued_title(dataset, who, taught):
    """A waiting training's dataset, as who may read it: another class's student's pictures are not named."""
    try:
        return ui.dataset_title(dataset) if ownership.may_use(who, dataset, taught) else t("teacher.private_dataset")
    except CnnlabError:  # the database away for a moment: the row is drawn all the same
        return t("teacher.private_dataset")


def job_row(job, who, taught):
    with st.container(border=True):
        left, middle, right = st.columns([4, 1, 1])
        config = job.config
        left.markdown(t("teacher.job", number=job.number, name=config.architecture_name,
                        title=queued_title(config.dataset, who, taught), epochs=config.epochs, batch=config.batch_size,
                        optimizer=config.optimizer, students=len(job.waiters),
                        minutes=max(job.estimate_seconds / 60, 0.1)))
        if job.status == "running":
            left.progress(job.fraction, text=t("teacher.running", done=job.epochs_done, epochs=job.config.epochs))
        else:
            left.caption(t("teacher.waiting", position=queue.position(job) or 0))
            if middle.button(t("teacher.to_front"), key=f"front_{job.id}"):
                act(queue.move_to_front, job.id, who)
        if job.stop_requested:
            right.caption(t("train.stopping"))
        elif right.button(t("teacher.stop"), key=f"stop_{job.id}"):
            act(queue.stop, job.id, who)  # no student named: it ends for everyone, keeping the partial run


def act(action, job_id, who):
    """Move to the front or stop, as who the browser is now; a refusal (signed out elsewhere) is its sentence."""
    try:
        action(job_id, who=who)
    except CnnlabError as error:
        st.warning(str(error))
        return
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
    try:
        actors = queue.executor.actors()  # Ray's worker actors (none on this machine's own worker)
    except CnnlabError as error:
        st.error(str(error))
        actors = []
    if actors:
        st.subheader(t("teacher.actors"))
        st.caption(t("teacher.actors_help"))
        st.dataframe(pd.DataFrame([{
            t("teacher.col_host"): row["host"],
            t("teacher.col_worker"): t("teacher.worker_gpu", number=row["number"]) if row["gpu"]
            else t("teacher.worker_cpu", number=row["number"], cores=row["cpus"]),
            t("teacher.col_datasets"): ", ".join(row["datasets"]) or "—",
            t("teacher.col_networks"): ", ".join(row["networks"]) or "—",
            t("teacher.col_training"): row["training"] or "—"} for row in actors]), hide_index=True, width="stretch")
        slowed = [row for row in actors if row["here"] and row["below_server"]]
        if slowed:  # Ray's own priority: beside this busy server its trainings would get what the pages leave
            st.warning(t("teacher.actors_low_priority", host=slowed[0]["host"], niceness=slowed[0]["niceness"],
                         server=slowed[0]["server_niceness"]))

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
stored = store.list(who=who)
if stored:
    chosen = st.selectbox(t("teacher.delete_which"), [run.id for run in stored], index=None,
                          format_func=lambda run_id: ui.describe(store.get(run_id)), key="delete_run")
    if chosen and st.button(t("teacher.delete"), key="delete_button"):
        try:
            if store.delete(chosen, who=who):
                st.success(t("teacher.deleted", id=chosen[:6]))
        except CnnlabError as error:  # being trained: said at once, the page never waits for the training
            st.warning(str(error))

def info_of(name):
    """An imported dataset's facts; one whose description cannot be read is still listed (and may be deleted)."""
    try:
        return catalogue.get_info(name)
    except CnnlabError:
        return catalogue.OwnDatasetInfo(name=name, title=t("teacher.own_damaged", name=name), description_key="",
                                        image_shape=(0, 0, 0), classes_key="", download_host="", download_size="",
                                        full_sizes=(0, 0), origin="—", imported="—")


def whose(name):
    """The class's, or a student's (private, or shared with their class)."""
    owner = ownership.owner_of(name)
    if owner is None:
        return t("teacher.own_class_owned")
    return t("teacher.own_shared_by" if owner["shared"] else "teacher.own_private_of", name=owner["name"])


def share_control(private, infos):
    """Share a student's imported pictures with their class, or make them private again (ownership asks)."""
    if "own_shared" in st.session_state:
        title, shared = st.session_state.pop("own_shared")
        st.success(t("teacher.own_shared_done" if shared else "teacher.own_unshared_done", title=title))
    if not private:
        return
    chosen = st.selectbox(t("teacher.own_share_which"), private, index=None, key="share_own",
                          format_func=lambda name: f"{infos[name].title} · {whose(name)}")
    if chosen is None:
        return
    shared = ownership.owner_of(chosen)["shared"]
    if st.button(t("teacher.own_unshare" if shared else "teacher.own_share", title=infos[chosen].title),
                 key="share_own_button"):
        try:
            ownership.share(chosen, not shared, who=who)
        except CnnlabError as error:
            st.error(str(error))
            return
        st.session_state["own_shared"] = (infos[chosen].title, not shared)
        st.rerun()


st.header(t("teacher.own"))
if "own_deleted" in st.session_state:  # said after the rerun that took it off every menu
    title, deleted = st.session_state.pop("own_deleted")
    st.success(t("teacher.own_deleted", title=title, runs=deleted))
own = [name for name in catalogue.own_names() if ownership.may_use(who, name)]  # a student's: their teacher's
if not own:
    st.caption(t("teacher.own_none"))
else:
    by_dataset = {}
    for run in stored:
        by_dataset[run.config.dataset] = by_dataset.get(run.config.dataset, 0) + 1
    infos = {name: info_of(name) for name in own}
    st.dataframe(pd.DataFrame([{
        t("teacher.col_dataset"): info.title if info.title == name else f"{info.title} ({name})",
        t("teacher.col_classes"): ", ".join(info.classes),
        t("teacher.col_images"): t("home.images", train=info.full_sizes[0], test=info.full_sizes[1]),
        t("teacher.col_origin"): info.origin, t("teacher.col_imported"): info.imported[:16].replace("T", " "),
        t("teacher.col_whose"): whose(name), t("teacher.col_runs"): by_dataset.get(name, 0)}
        for name, info in infos.items()]), hide_index=True, width="stretch")
    share_control([name for name in own if ownership.owner_of(name) is not None], infos)
    labels = {name: t("teacher.own_option", title=infos[name].title, runs=by_dataset.get(name, 0)) for name in own}
    doomed = st.selectbox(t("teacher.own_delete_which"), own, index=None, format_func=labels.get, key="delete_own")
    if doomed and st.button(t("teacher.own_delete", title=infos[doomed].title, runs=by_dataset.get(doomed, 0)),
                            key="delete_own_button"):
        try:
            st.session_state["own_deleted"] = (infos[doomed].title, own_images.delete(
                doomed, store, who=who, queued=queue.datasets_in_use()))
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
