"""Compare: every stored run in one table; overlay curves to answer which model or optimizer is better."""

import pandas as pd
import streamlit as st

import ui
from cnnlab import i18n
from cnnlab.course import comparisons
from cnnlab.data import catalogue
from cnnlab.i18n import t
from cnnlab.insight import charts, inspection

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
stored = ui.store().list()
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
    st.dataframe(pd.DataFrame([{
        t("compare.col_asked"): request.asked_at.strftime("%Y-%m-%d %H:%M"),
        t("compare.col_run"): request.run_id,
        t("compare.col_dataset"): catalogue.get_info(request.dataset).title if request.dataset in catalogue.DATASETS
        else request.dataset,
        t("compare.col_network"): by_id[request.run_id].config.architecture_name if request.run_id in by_id else "—",
        t("compare.col_test_accuracy"): i18n.percent(by_id[request.run_id].test_accuracy)
        if request.run_id in by_id else t("compare.mine_not_stored"),
    } for request in asked]), hide_index=True, width="stretch")
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
if chosen:
    runs = [by_id[i] for i in chosen]
    labels = [f"{r.config.architecture_name} · {r.config.optimizer} · lr {i18n.number(r.config.learning_rate, 'g')} "
              f"· {r.variant_label} [{r.id[:4]}]" for r in runs]
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
    st.header(t("compare.verdicts"))
    for run, label in zip(runs, labels):
        st.markdown(f"- **{label}**: {inspection.overfitting_verdict(run.history).message}")
    st.header(t("compare.report"))
    st.caption(t("compare.report_text"))
    ui.report_download(t("take.report"), runs, f"cnnlab-compare-{len(runs)}-runs", key="compare_report")
