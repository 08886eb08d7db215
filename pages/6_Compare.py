"""Compare: every stored run in one table; overlay curves to answer which model or optimizer is better."""

import pandas as pd
import streamlit as st

import ui
from cnnlab import charts, inspection

TEXT = {
    "title": "⚖️ Compare",
    "intro": "Put runs side by side. Same data, different network: which model is better? Same network, "
             "different optimizer: which optimizer? The curves also show which runs overfit.",
    "empty": "No runs stored yet: train at least two on the **Train** page (e.g. the same network with "
             "Adam and with Adadelta).",
    "table": "All stored runs", "pick": "Runs to compare", "metric": "Curve",
    "best": "Best test accuracy among these: **{label}** with **{acc:.2%}** ({delta:+.2%} over the next best).",
    "verdicts": "Is each one overfitting?",
    "datasets": "These runs use different datasets, so their accuracies are not comparable.",
}
COLUMNS = {"run_id": "run", "dataset": "dataset", "data": "data", "architecture": "network", "params": "params",
           "optimizer": "optimizer", "learning_rate": "learning rate", "batch_size": "batch", "epochs": "epochs",
           "dropout": "dropout", "test_accuracy": "test accuracy", "test_loss": "test loss",
           "train_seconds": "train time (s)", "status": "status"}

st.set_page_config(page_title="cnnlab · Compare", page_icon="⚖️", layout="wide")
st.title(TEXT["title"])
st.write(TEXT["intro"])
stored = ui.store().list()
for notice in ui.store().notices:
    st.warning(notice)
if not stored:
    st.info(TEXT["empty"])
    st.stop()

st.subheader(TEXT["table"])
table = pd.DataFrame([run.summary_row() for run in stored])[list(COLUMNS)].rename(columns=COLUMNS)
st.dataframe(table, hide_index=True, width="stretch",
             column_config={"test accuracy": st.column_config.NumberColumn(format="percent")})

by_id = {run.id: run for run in stored}
default = [r.id for r in stored[:2]]
chosen = st.multiselect(TEXT["pick"], list(by_id), default=default, format_func=lambda i: ui.describe(by_id[i]))
if chosen:
    runs = [by_id[i] for i in chosen]
    labels = [f"{r.config.architecture_name} · {r.config.optimizer} · lr {r.config.learning_rate:g} [{r.id[:4]}]"
              for r in runs]
    metric = st.radio(TEXT["metric"], ["accuracy", "loss"], horizontal=True)
    st.altair_chart(charts.comparison_curves(list(zip(labels, [r.history for r in runs])), metric), width="stretch")
    if len({r.config.dataset for r in runs}) > 1:
        st.warning(TEXT["datasets"])
    elif len(runs) > 1:
        ranked = sorted(zip(runs, labels), key=lambda pair: -pair[0].test_accuracy)
        st.markdown(TEXT["best"].format(label=ranked[0][1], acc=ranked[0][0].test_accuracy,
                                        delta=ranked[0][0].test_accuracy - ranked[1][0].test_accuracy))
    st.subheader(TEXT["verdicts"])
    for run, label in zip(runs, labels):
        st.markdown(f"- **{label}**: {inspection.overfitting_verdict(run.history).message}")
