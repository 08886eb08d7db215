"""Compare: every stored run in one table; overlay curves, the settings that differ, whether a difference is real, and
the images where two networks disagree."""

import pandas as pd
import streamlit as st

import ui
from cnnlab import i18n
from cnnlab.course import comparisons
from cnnlab.data import catalogue
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t
from cnnlab.insight import charts, group_charts, inspection, side_by_side

COLUMNS = {"run_id": "compare.col_run", "dataset": "compare.col_dataset", "data": "compare.col_data",
           "architecture": "compare.col_network", "params": "compare.col_params", "optimizer": "compare.col_optimizer",
           "learning_rate": "compare.col_learning_rate", "batch_size": "compare.col_batch",
           "epochs": "compare.col_epochs", "dropout": "compare.col_dropout",
           "test_accuracy": "compare.col_test_accuracy", "test_loss": "compare.col_test_loss",
           "train_seconds": "compare.col_train_seconds", "status": "compare.col_status"}
VALUES = {"data": catalogue.VARIANTS,
          "status": {"complete": "compare.complete", "stopped": "compare.stopped"}}

ui.page("compare.title", "⚖️")
st.write(t("compare.intro"))
stored = ui.store().list(who=ui.who())
by_id = {run.id: run for run in stored}


def my_runs():
    """What this signed-in person asked for, newest first: the runs stay shared, the requests are theirs."""
    from cnnlab.classroom import requests

    who = ui.who()
    if who.person_id is None:
        return []
    st.header(t("compare.mine"))
    asked = requests.of_person(who, who.person_id, limit=200)
    if not asked:
        st.caption(t("compare.mine_none"))
        return []
    note, tagged = t("compare.col_note"), t("compare.col_tags")
    table = pd.DataFrame([{
        t("compare.col_asked"): request.asked_at.strftime("%Y-%m-%d %H:%M"),
        t("compare.col_run"): request.run_id,
        t("compare.col_dataset"): ui.dataset_title(request.dataset),
        t("compare.col_network"): by_id[request.run_id].config.architecture_name if request.run_id in by_id else "—",
        t("compare.col_test_accuracy"): i18n.percent(by_id[request.run_id].test_accuracy)
        if request.run_id in by_id else t("compare.mine_not_stored"),
        note: request.note or "", tagged: request.tags or "",
    } for request in asked])
    st.caption(t("compare.mine_notes"))
    edited = st.data_editor(table, hide_index=True, width="stretch", key=f"my_notes_{asked[0].id}_{len(asked)}",
                            disabled=[column for column in table.columns if column not in (note, tagged)],
                            column_config={note: st.column_config.TextColumn(max_chars=requests.NOTE_CHARACTERS),
                                           tagged: st.column_config.TextColumn(help=t("compare.tags_help"))})
    for request, after_note, after_tags in zip(asked, edited[note], edited[tagged]):
        try:  # only what changed is written, on their own requests only (cnnlab.classroom.requests asks)
            if (after_note or "") != (request.note or ""):
                requests.set_note(who, request.id, after_note)
            if ", ".join(requests.tags(after_tags)) != (request.tags or ""):
                requests.set_tags(who, request.id, after_tags)
        except CnnlabError as error:
            st.error(str(error))
    return list(dict.fromkeys(request.run_id for request in asked if request.run_id in by_id))


mine = my_runs()
if not stored:
    st.info(t("compare.empty"))
    st.stop()

st.header(t("compare.table"))
table = pd.DataFrame([run.summary_row() for run in stored])[list(COLUMNS)]
for column, words in VALUES.items():
    table[column] = table[column].map(lambda value, words=words: t(words[value]) if value in words else value)
table["dataset"] = table["dataset"].map(lambda name: catalogue.get_info(name).title)
table["test_accuracy"] = table["test_accuracy"].map(i18n.percent)  # as text: the decimal comma follows the language
for column, spec in (("learning_rate", "g"), ("test_loss", ".4f"), ("train_seconds", ".1f"), ("dropout", "g")):
    table[column] = table[column].map(lambda value, spec=spec: "—" if pd.isna(value) else i18n.number(value, spec))
st.dataframe(table.rename(columns={k: t(v) for k, v in COLUMNS.items()}), hide_index=True, width="stretch")

default = mine[:2] or [r.id for r in stored[:2]]
chosen = st.multiselect(t("compare.pick"), list(by_id), default=default, format_func=lambda i: ui.describe(by_id[i]))


def label_of(run):
    config = run.config
    return (f"{config.architecture_name} · {config.optimizer} · lr {i18n.number(config.learning_rate, 'g')} "
            f"· {run.variant_label} [{run.id[:4]}]")


def settings_that_differ(runs, labels):
    """Only the settings that differ, the shared ones folded away."""
    st.header(t("compare.differ_title"))
    differ, shared = comparisons.settings(runs)
    if differ:
        st.dataframe(pd.DataFrame([{t("compare.differ_setting"): t(key), **dict(zip(labels, values))}
                                   for key, values in differ]), hide_index=True, width="stretch")
    else:
        st.caption(t("compare.differ_none"))
    with st.expander(t("compare.differ_shared")):
        st.dataframe(pd.DataFrame([{t("compare.differ_setting"): t(key), t("compare.differ_value"): value}
                                   for key, value in shared]), hide_index=True, width="stretch")


def is_it_real(runs):
    """Run A against run B: the verdict in words, the numbers behind it, and the images where they disagree."""
    st.header(t("compare.verdict_title"))
    if len(runs) < 2:
        st.caption(t("compare.verdict_pick_two"))
        return
    st.caption(t("compare.verdict_text"))
    ids = [run.id for run in runs]
    pick_a, pick_b = st.columns(2)
    for key, default in (("verdict_a", ids[0]), ("verdict_b", ids[1])):
        if st.session_state.get(key) not in ids:  # new runs chosen above: A and B are the first two of them
            st.session_state[key] = default
    run_a, run_b = (by_id[where.selectbox(t(label), ids, key=key, format_func=lambda i: label_of(by_id[i]))]
                    for where, label, key in ((pick_a, "compare.verdict_a", "verdict_a"),
                                              (pick_b, "compare.verdict_b", "verdict_b")))
    paired = comparisons.paired(run_a, run_b, predictions=lambda run: ui.predictions(run.id))
    compared = paired
    if st.toggle(t("compare.verdict_groups"), key="verdict_groups"):
        compared, group_a, group_b = comparisons.groups(run_a, run_b, stored)
        st.markdown(f"- {comparisons.group_summary('A', group_a)}\n- {comparisons.group_summary('B', group_b)}")
    if compared.test is None:
        st.warning(str(compared.verdict()))
    else:
        (st.success if compared.significant else st.info)(str(compared.verdict()))
        st.caption(str(compared.details()))
    for note in compared.notes():
        st.warning(str(note))
    if paired.test is not None:
        disagreements(run_a, run_b)


def disagreements(run_a, run_b, shown=16, columns=8):
    """The test images A gets right and B wrong, and the reverse, with both networks' top answers."""
    st.subheader(t("compare.disagree_title"))
    (probabilities_a, y_test), (probabilities_b, _) = ui.predictions(run_a.id), ui.predictions(run_b.id)
    data = ui.run_data(run_a)  # both were tested on these very images
    class_names = run_a.info.class_names
    found = comparisons.disagreements(probabilities_a, probabilities_b, y_test)
    for key, indices in zip(("compare.disagree_a", "compare.disagree_b"), found):
        st.markdown(f"**{t(key, count=len(indices))}**")
        if not len(indices):
            st.caption(t("compare.disagree_none"))
            continue
        if data is None:
            st.caption(t("compare.disagree_no_images"))
            continue
        if len(indices) > shown:
            st.caption(t("compare.disagree_first", shown=shown))
        cols = st.columns(columns)
        for n, index in enumerate(indices[:shown]):
            answers = comparisons.answers(index, probabilities_a, probabilities_b, y_test, class_names)
            ui.image(cols[n % columns], inspection.upscale(data.x_test[index], 3),
                     caption=t("compare.disagree_caption", **answers),
                     alt=t("compare.disagree_alt", index=int(index), **answers))
    if data is not None:
        next_to_each_other((run_a, run_b), (probabilities_a, probabilities_b), y_test, data,
                           side_by_side.choices(*found, shown))


def next_to_each_other(pair, probabilities, y_test, data, indices):
    """For any image of the gallery, both networks' Grad-CAM (for their own answer) and first-layer feature maps."""
    if not indices:
        return
    st.subheader(t("side.title"))
    st.caption(t("side.text"))
    class_names = pair[0].info.class_names

    def option(index):
        answers = comparisons.answers(index, *probabilities, y_test, class_names)
        return t("side.option", index=index, caption=t("compare.disagree_caption", **answers))

    index = st.selectbox(t("side.pick"), [index for index, _ in indices], key="side_pick", format_func=option)
    image = data.x_test[index]
    for column, label, run, chances in zip(st.columns(2), "AB", pair, probabilities):
        extractor, names = ui.extractor(run.id)
        looked = side_by_side.seen(label, chances[index], class_names, image,
                                   ui.grad_cam(run.id) if names else None, extractor, names)
        column.markdown(t("side.network", label=label, run=label_of(run), answer=looked.answer,
                          confidence=looked.confidence))
        if looked.cam is None:
            column.caption(t("side.no_conv"))
            continue
        ui.image(column, looked.cam_picture(image), caption=t("side.cam_caption", layer=looked.cam_layer,
                                                                 name=looked.answer), alt=looked.cam_alt())
        ui.image(column, looked.maps_picture(), caption=t("side.maps_caption", layer=looked.maps_layer,
                                                            count=looked.maps.shape[-1]), alt=looked.maps_alt())


def groups_drawn(runs, labels, metric):
    """The chosen runs that have a group, drawn as groups: each seed's accuracy with the mean ± one standard deviation,
    the curves as the mean with a min–max band; and a repeat with more seeds for any chosen run."""
    found = {}
    for run, label in zip(runs, labels):
        group = comparisons.group_of(run, stored)
        found.setdefault(tuple(member.id for member in group), (label, group))  # two runs of one group: drawn once
    drawn = [(label, group) for label, group in found.values() if len(group) > 1]
    st.header(t("compare.groups_title"))
    if drawn:
        st.altair_chart(group_charts.seed_accuracies([(label, [(member.config.seed, member.test_accuracy)
                                                                for member in group]) for label, group in drawn]),
                        width="stretch")
        st.altair_chart(group_charts.group_curves([(label, [member.history for member in group])
                                                   for label, group in drawn], metric), width="stretch")
    else:
        st.caption(t("compare.groups_none"))
    pick = st.selectbox(t("repeat.pick"), [run.id for run in runs], key="repeat_pick",
                        format_func=lambda i: label_of(by_id[i]))
    ui.repeat_seeds(by_id[pick], key="compare")


if chosen:
    runs = [by_id[i] for i in chosen]
    labels = [label_of(r) for r in runs]
    metric = st.radio(t("compare.metric"), ["accuracy", "loss"], horizontal=True,
                      format_func=lambda m: t(charts.METRICS[m]))
    st.altair_chart(charts.comparison_curves(list(zip(labels, [r.history for r in runs])), metric), width="stretch")
    caveats = comparisons.caveats(runs, labels) if len(runs) > 1 else []  # what makes the ranking not like for like
    if len(runs) > 1 and len({r.config.dataset for r in runs}) == 1:
        ranked = sorted(zip(runs, labels), key=lambda pair: -pair[0].test_accuracy)
        st.markdown(t("compare.best", label=ranked[0][1], acc=ranked[0][0].test_accuracy,
                                        delta=ranked[0][0].test_accuracy - ranked[1][0].test_accuracy))
    for caveat in caveats:
        st.warning(str(caveat))
    if len(runs) > 1:
        settings_that_differ(runs, labels)
    groups_drawn(runs, labels, metric)
    is_it_real(runs)
    st.header(t("compare.verdicts"))
    for run, label in zip(runs, labels):
        st.markdown(f"- **{label}**: {inspection.overfitting_verdict(run.history).message}")
    st.header(t("compare.report"))
    st.caption(t("compare.report_text"))
    ui.report_download(t("take.report"), runs, f"cnnlab-compare-{len(runs)}-runs", key="compare_report")
