"""Altair charts for the pages: each function returns a chart object; the page only places it."""

import altair as alt
import numpy as np
import pandas as pd

SERIES = {"accuracy": "train", "val_accuracy": "validation", "loss": "train", "val_loss": "validation"}


def history_frame(history, label=None):
    """Long-form rows (epoch, metric, split, value[, run]) from a Keras history dict."""
    rows = []
    for key, values in history.items():
        if key not in SERIES:
            continue
        metric = "accuracy" if key.endswith("accuracy") else "loss"
        for epoch, value in enumerate(values, start=1):
            row = {"epoch": epoch, "metric": metric, "split": SERIES[key], "value": float(value)}
            if label is not None:
                row["run"] = label
            rows.append(row)
    return pd.DataFrame(rows, columns=["epoch", "metric", "split", "value"] + (["run"] if label else []))


def learning_curves(history, title="Learning curves"):
    """Accuracy and loss per epoch, train vs validation, side by side."""
    frame = history_frame(history)
    base = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
        color=alt.Color("split:N", title="data", scale=alt.Scale(domain=["train", "validation"],
                                                                 range=["#1f77b4", "#ff7f0e"])),
        strokeDash=alt.StrokeDash("split:N", legend=None),
        tooltip=["epoch", "split", alt.Tooltip("value:Q", format=".4f")],
    ).properties(width=300, height=220)
    accuracy = base.transform_filter(alt.datum.metric == "accuracy").properties(title="accuracy")
    loss = base.transform_filter(alt.datum.metric == "loss").properties(title="loss")
    return alt.hconcat(accuracy, loss).properties(title=title)


def comparison_curves(labelled_histories, metric="accuracy"):
    """One metric for several runs: colour = run, dashed = train, solid = validation."""
    frame = pd.concat([history_frame(h, label) for label, h in labelled_histories], ignore_index=True)
    frame = frame[frame["metric"] == metric]
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)),
        color=alt.Color("run:N", title="run"),
        strokeDash=alt.StrokeDash("split:N", title="data", sort=["validation", "train"]),
        tooltip=["run", "epoch", "split", alt.Tooltip("value:Q", format=".4f")],
    ).properties(height=320, title=f"{metric}: validation (solid) and train (dashed)")


def confusion_heatmap(matrix, class_names, selection_name="cell"):
    """Rows = true class, columns = predicted; clicking a cell selects it (a point selection)."""
    matrix = np.asarray(matrix)
    rows = [{"true": class_names[t], "predicted": class_names[p], "count": int(matrix[t, p]),
             "true_index": t, "predicted_index": p}
            for t in range(len(class_names)) for p in range(len(class_names))]
    frame = pd.DataFrame(rows)
    pick = alt.selection_point(name=selection_name, fields=["true_index", "predicted_index"])
    order = list(class_names)
    base = alt.Chart(frame).encode(
        x=alt.X("predicted:N", sort=order, title="predicted class"),
        y=alt.Y("true:N", sort=order, title="true class"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="viridis", type="symlog"), title="images"),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.45)),
        tooltip=["true", "predicted", "count"],
    ).add_params(pick)
    labels = base.mark_text(fontSize=11).encode(
        text="count:Q",
        color=alt.condition(alt.datum.count > float(matrix.max()) / 2, alt.value("black"), alt.value("white")),
    )
    return (cells + labels).properties(width=460, height=420, title="Confusion matrix (click a cell)")


def bars(values, labels, title, x_title, value_format=".0f", domain=None):
    """Horizontal bars with the value written at the end (readable without colour)."""
    frame = pd.DataFrame({"label": list(labels), "value": [float(v) for v in values]})
    scale = alt.Scale(domain=domain) if domain else alt.Undefined
    base = alt.Chart(frame).encode(
        y=alt.Y("label:N", sort=list(labels), title=None),
        x=alt.X("value:Q", title=x_title, scale=scale),
    )
    text = base.mark_text(align="left", dx=3).encode(text=alt.Text("value:Q", format=value_format))
    return (base.mark_bar(color="#3b528b") + text).properties(title=title, height=alt.Step(22))


def probabilities(values, class_names, title="What the network thinks"):
    """Every class's probability as a bar with its percentage written next to it; the winner highlighted."""
    values = [float(v) for v in values]
    best = max(range(len(values)), key=values.__getitem__)
    frame = pd.DataFrame({"class": list(class_names), "probability": values,
                          "top": ["most likely" if i == best else "other" for i in range(len(values))]})
    base = alt.Chart(frame).encode(
        y=alt.Y("class:N", sort=list(class_names), title=None),
        x=alt.X("probability:Q", title="probability", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
    )
    bars_ = base.mark_bar().encode(
        color=alt.Color("top:N", scale=alt.Scale(domain=["most likely", "other"], range=["#fde725", "#3b528b"]),
                        legend=None),
        tooltip=["class", alt.Tooltip("probability:Q", format=".1%")])
    text = base.mark_text(align="left", dx=3).encode(text=alt.Text("probability:Q", format=".1%"))
    return (bars_ + text).properties(title=title, height=alt.Step(24))
