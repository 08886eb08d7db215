"""Assignment: a student's worksheet (its steps and their trainings, the evidence of their own runs beside each
question, their answers, the hand-in and its report); to the class's teacher, its rules and the hand-ins."""

import zlib

import numpy as np
import pandas as pd
import streamlit as st

import ui
from cnnlab import i18n, training
from cnnlab.training.config import LIMITS
from cnnlab.course import assignments, class_reports, gradebook, handins, worksheet
from cnnlab.data import holdout
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t
from cnnlab.insight import charts, explain, inspection
from cnnlab.networks import architectures

EVIDENCE = {"run": "worksheet.col_run", "network": "worksheet.col_network", "optimizer": "worksheet.col_optimizer",
            "learning_rate": "worksheet.col_learning_rate", "batch_size": "worksheet.col_batch_size",
            "dropout": "worksheet.col_dropout", "epochs": "worksheet.col_epochs", "train": "worksheet.col_train",
            "validation": "worksheet.col_validation", "test": "worksheet.col_test", "loss": "worksheet.col_loss"}

ui.page("worksheet.title", "📝")
who, store = ui.who(), ui.store()
code = st.query_params.get("assignment") or st.session_state.get("worksheet_code")
if not code:
    st.info(t("worksheet.no_code"))
    st.stop()
try:
    assignment = assignments.get(code, who)
except CnnlabError as error:
    st.warning(str(error))
    st.stop()
st.session_state["worksheet_code"] = st.query_params["assignment"] = assignment.code
rules = assignments.rules_of(assignment)
st.header(assignment.title)
st.write(t("worksheet.due", due=handins.when(assignment.due_at)) if assignment.due_at else t("worksheet.no_due"))


def rule_text(name):
    rule = rules.rule(name)
    shown = {"locked": lambda: t("worksheet.rule_locked", value=_value(rule["value"])),
             "choice": lambda: t("worksheet.rule_choice", values=", ".join(_value(v) for v in rule["values"])),
             "range": lambda: t("worksheet.rule_range", low=rule["min"], high=rule["max"])}
    return shown.get(rule["mode"], lambda: t("worksheet.rule_free"))()


def _value(value):
    return t("worksheet.value_custom") if isinstance(value, list) else "—" if value is None else str(value)


def report_button(hand_in, key):
    lang = i18n.get_language()

    def make():
        with i18n.speaking(lang):
            return handins.report(who, hand_in, store)
    st.download_button(t("worksheet.report_download"), make, file_name=f"cnnlab-{assignment.code}.html",
                       mime="text/html", key=key, on_click="ignore")


def teacher_view():
    st.subheader(t("worksheet.rules"))
    st.dataframe(pd.DataFrame([{t("worksheet.col_setting"): t(assignments.SETTING_NAMES[name]),
                                t("worksheet.col_rule"): rule_text(name)} for name in assignments.FIELDS]),
                 hide_index=True)
    budget = rules.budget
    st.caption(t("worksheet.budget", epochs=budget["epochs"] or "—", params=budget["params"] or "—",
                 minutes=budget["minutes"] or "—"))
    st.subheader(t("worksheet.hand_ins"))
    rows = handins.of_assignment(who, assignment)
    if not rows:
        st.info(t("worksheet.no_hand_ins"))
    for nickname, hand_in in rows:
        left, right = st.columns([3, 1])
        left.write(t("handin.report_by", name=nickname, when=handins.when(hand_in.handed_at), times=hand_in.times)
                   if hand_in.handed_at else
                   t("handin.report_draft", name=nickname, when=handins.when(hand_in.saved_at)))
        with right:
            report_button(hand_in, f"report_{hand_in.id}")
    lang = i18n.get_language()

    def book():  # made when asked for: its private scores rebuild each student's best network once
        with i18n.speaking(lang):
            return gradebook.csv_text(who, assignment.class_id, store, assignment)

    def reports():
        with i18n.speaking(lang):
            return class_reports.reports_zip(who, assignment, store)
    left, right = st.columns(2)
    left.download_button(t("worksheet.gradebook"), book, file_name=f"cnnlab-gradebook-{assignment.code}.csv",
                         mime="text/csv", on_click="ignore")
    right.download_button(t("worksheet.reports_zip"), reports, file_name=f"cnnlab-reports-{assignment.code}.zip",
                          mime="application/zip", on_click="ignore")
    st.subheader(t("leaderboard.title"))
    if st.toggle(t("leaderboard.show"), key="worksheet_board"):
        with st.spinner(t("leaderboard.scoring")):
            ui.leaderboard_table(assignment)


if handins.may_read_all(who, assignment):
    teacher_view()
    st.stop()
try:
    mine = handins.mine(who, assignment)
except CnnlabError as error:
    st.info(str(error))
    st.stop()
SINCE, STALE = f"worksheet_since_{assignment.id}", f"worksheet_stale_{assignment.id}"
if SINCE not in st.session_state:  # the draft this tab shows: saving checks nobody saved another since (handins)
    st.session_state[SINCE] = mine.saved_at if mine is not None else None

# ---------------------------------------------------------------- the steps and their trainings
jobs = st.session_state.setdefault("worksheet_jobs", {})  # step number -> job id (plain strings only)


def train(number, config):
    try:
        jobs[number] = ui.queue_for_me(config, None, assignment=handins.training_for(assignment)).id
    except CnnlabError as error:
        st.error(t("worksheet.refused", error=error))


def settings_line(config):
    return t("worksheet.settings", network=config.architecture_name, dataset=ui.dataset_title(config.dataset),
             optimizer=config.optimizer, rate=config.learning_rate, batch=config.batch_size, epochs=config.epochs)


WHOLE = ("epochs", "batch_size", "train_size", "seed")  # the numbers typed as whole numbers


def setting_widget(name, current):
    """The widget for one setting the rules let change, within its range (None: kept as it is)."""
    rule, label = rules.rule(name), t(assignments.SETTING_NAMES[name])
    choices = {"choice": rule.get("values"), "free": {"optimizer": list(training.OPTIMIZERS),
                                                      "architecture": list(architectures.PRESETS)}.get(name)}
    options = choices.get(rule["mode"])
    if options:
        return st.selectbox(label, options, index=options.index(current) if current in options else 0,
                            format_func=_value)
    if name == "augment":
        return st.checkbox(label, value=bool(current))
    if name in LIMITS:
        low, high = rule.get("min", LIMITS[name][0]), rule.get("max", LIMITS[name][1])
        kind = int if name in WHOLE else float
        return st.number_input(label, value=None if current is None else kind(current), min_value=kind(low),
                               max_value=kind(high), format="%d" if kind is int else "%g")
    return current


def change_form(number):
    """The settings the rules let change, from the starting ones (or a settings link's, once held to the rules)."""
    kept = st.session_state.get("worksheet_change")
    start = training.TrainConfig.from_dict(kept) if kept else worksheet.starting_config(rules)
    with st.form(f"change_{number}"):
        values = {name: setting_widget(name, getattr(start, name)) for name in worksheet.changeable(rules)}
        asked = st.form_submit_button(t("worksheet.train"), type="primary")
    if asked:
        try:
            train(number, training.TrainConfig.from_dict({**start.to_dict(), **values}))
        except CnnlabError as error:
            st.error(t("worksheet.refused", error=error))


linked = ui.settings_from_link()  # a settings link held to the assignment's rules before it is offered
if linked is not None:
    try:
        rules.check(holdout.for_assignment(assignment, linked)[0])  # a student's link names the class's copy
        st.session_state["worksheet_change"] = linked.to_dict()
        st.info(t("worksheet.link_taken"))
    except CnnlabError as error:
        st.error(t("worksheet.refused", error=error))

st.subheader(t("worksheet.steps"))
try:  # rules no student can train (made before the assignment was checked when made) are a sentence
    steps = worksheet.steps(assignment, gpu=training.gpu_name() is not None)
except CnnlabError as error:
    st.error(t("worksheet.broken", error=error))
    steps = []
for number, step in enumerate(steps, start=1):
    st.markdown(f"**{number}.** {step.text}")
    if step.kind == "train":
        st.caption(settings_line(step.config))
        if st.button(t("worksheet.train"), key=f"train_{number}"):
            train(number, step.config)
    elif step.kind == "change":
        change_form(number)


@st.fragment(run_every=2.0)
def progress():
    queue = ui.queue()
    for number, job_id in list(jobs.items()):
        job = queue.get(job_id)
        if job is None or job.status == "done":
            jobs.pop(number)
            st.rerun(scope="app")  # its run is evidence now
        elif job.status == "failed":
            st.error(t("worksheet.failed", number=number, error=job.error))
            jobs.pop(number)
        else:
            st.progress(job.fraction, text=t("worksheet.training", number=number))


if jobs:
    progress()

# ---------------------------------------------------------------- the evidence of their runs, and their answers
theirs = worksheet.runs_for(who, assignment, store)
by_id = {run.id: run for run in theirs}
st.subheader(t("worksheet.runs"))
if not theirs:
    st.info(t("worksheet.no_runs"))
chosen_before = [run_id for run_id in handins.runs_of(mine) if run_id in by_id]
chosen_ids = st.multiselect(t("worksheet.choose_runs"), list(by_id), default=chosen_before or list(by_id)[:3],
                            format_func=lambda run_id: ui.describe(by_id[run_id]),
                            key=f"worksheet_runs_{zlib.crc32(' '.join(by_id).encode())}",  # a new run: chosen anew
                            max_selections=handins.MAX_RUNS)
chosen = [by_id[run_id] for run_id in chosen_ids] or theirs
if chosen:
    st.dataframe(pd.DataFrame(worksheet.evidence(chosen)).rename(columns={k: t(v) for k, v in EVIDENCE.items()}),
                 hide_index=True)
    repeated = st.selectbox(t("repeat.pick"), [run.id for run in chosen], format_func=lambda i: ui.describe(by_id[i]))
    ui.repeat_seeds(by_id[repeated], key="worksheet", assignment=handins.training_for(assignment))  # its rules hold


def curves(runs):
    if len(runs) > 1:
        labelled = [(f"{run.config.architecture_name} · {run.id[:6]}", run.history) for run in runs]
        st.altair_chart(charts.comparison_curves(labelled, "accuracy"), width="stretch")
    else:
        st.altair_chart(charts.learning_curves(runs[0].history, title=""), width="stretch")


def mistakes(run):
    matrix = np.asarray(run.metrics["confusion_matrix"])
    st.altair_chart(charts.confusion_heatmap(matrix, run.info.class_names), width="content")
    pairs = inspection.most_confused(matrix, run.info.class_names)
    if pairs:
        st.caption(t("course.confused", pairs="; ".join(t("course.pair", true=a, pred=p, count=c)
                                                        for a, p, c in pairs)))
    data, (_, names) = ui.run_data(run), ui.extractor(run.id)
    if data is None or not names:
        return
    image = data.x_test[0]
    predicted = int(np.argmax(ui.predictions(run.id)[0][0]))
    heat = ui.grad_cam(run.id)(image, predicted, names[-1])
    name = run.info.class_names[predicted]
    ui.image(st, inspection.upscale(inspection.overlay(explain.grey(image), heat), max(1, 224 // image.shape[0])),
             width=224, caption=t("inside.cam_caption", name=name, layer=names[-1]),
             alt=t("inside.cam_alt", name=name, layer=names[-1], where=explain.where(heat)))


questions = assignments.questions_of(assignment)
answers = handins.answers_of(mine)
st.subheader(t("worksheet.questions"))
typed = []
for number, (question_id, text) in enumerate(questions):
    st.markdown(f"**{number + 1}. {text}**")
    if chosen:
        with st.expander(t("worksheet.evidence"), expanded=False):
            if question_id == "improve":  # where their best network errs, and where it looks
                mistakes(max(chosen, key=lambda run: run.test_accuracy))
            else:
                curves(chosen[:4])
    typed.append(st.text_area(t("worksheet.answer"), value=answers[number] if number < len(answers) else "",
                              max_chars=handins.MAX_ANSWER, key=f"answer_{question_id}"))



def other_tab_saved():
    """Another tab or device saved since this one opened: show theirs (this tab's answers are dropped), or keep this
    tab's (the next save replaces theirs)."""
    st.error(st.session_state[STALE])
    load, keep = st.columns(2)
    if load.button(t("worksheet.stale_load"), key="stale_load"):
        typed_here = [name for name in st.session_state if name.startswith(("answer_", "worksheet_runs_"))]
        for name in typed_here + [SINCE, STALE]:  # its answers and its choice of runs
            del st.session_state[name]
        st.rerun()
    if keep.button(t("worksheet.stale_keep"), key="stale_keep"):
        st.session_state[SINCE] = handins.ANY
        del st.session_state[STALE]
        st.rerun()


save, hand = st.columns(2)
for clicked, action, done in ((save.button(t("worksheet.save"), key="save_draft"), handins.save, "worksheet.saved"),
                              (hand.button(t("worksheet.hand_in"), type="primary", key="hand_in"), handins.hand_in,
                               "worksheet.handed")):
    if clicked:
        try:
            mine = action(who, assignment, chosen_ids, typed, since=st.session_state[SINCE])
            st.session_state[SINCE] = mine.saved_at
            st.success(t(done, times=mine.times))
        except CnnlabError as error:
            if error.message.key == "handin.stale":
                st.session_state[STALE] = str(error)
            else:
                st.error(str(error))
if STALE in st.session_state:
    other_tab_saved()
if mine is not None and mine.handed_at is not None:
    st.caption(t("handin.report_by", name=who.name, when=handins.when(mine.handed_at), times=mine.times))
    if handins.draft_differs(mine):  # the report below is what they handed in, not this draft
        st.caption(t("handin.draft_differs"))
    report_button(mine, "my_report")
st.caption(t("worksheet.answers_yours"))
st.subheader(t("leaderboard.title"))
ui.leaderboard_table(assignment)  # their public score; the private ranking once the teacher reveals it
