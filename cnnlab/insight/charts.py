"""Altair charts for the pages: each function returns a chart object; the page only places it."""

import altair as alt
import numpy as np
import pandas as pd

from cnnlab import i18n
from cnnlab.i18n import t

SERIES = {"accuracy": "train", "val_accuracy": "validation", "loss": "train", "val_loss": "validation"}
SPLITS = {"train": "chart.train", "validation": "chart.validation"}  # what the legend shows
METRICS = {"accuracy": "chart.accuracy", "loss": "chart.loss"}


def _axis(spec, **kwargs):
    """An axis with a d3 number format; its separators come from the chart's locale (see _localized)."""
    return alt.Axis(format=spec, **kwargs)


def vega_locale(lang=None):
    """The reader's number symbols (Babel's CLDR data) as a Vega locale: axes and tooltips write 0,5 and 98 %."""
    where = i18n.locale(lang or i18n.get_language())
    symbols = where.number_symbols["latn"]
    percent_sign = where.percent_formats[None].pattern.rsplit("0", 1)[-1]  # "%" in English, "\u00a0%" in Spanish
    return {"number": {"decimal": symbols["decimal"], "thousands": symbols["group"], "grouping": [3],
                       "currency": ["", ""], "percent": percent_sign}}


def _localized(chart):
    """A finished chart with the reader's number locale (Vega applies config.locale to every format)."""
    return chart.configure(locale=vega_locale())


def _epoch_axis(frame):
    """Whole epochs only: a short training gets one tick per epoch (else Vega puts ticks at 1.5 and writes 2 twice)."""
    last = int(frame["epoch"].max()) if len(frame) else 1
    return _axis("d", tickMinStep=1, **({"values": list(range(1, last + 1))} if last <= 12 else {}))


def history_frame(history, label=None):
    """Long-form rows (epoch, metric, split, value[, run]) from a Keras history dict."""
    rows = []
    for key, values in history.items():
        if key not in SERIES:
            continue
        metric = "accuracy" if key.endswith("accuracy") else "loss"
        for epoch, value in enumerate(values, start=1):
            row = {"epoch": epoch, "metric": metric, "split": t(SPLITS[SERIES[key]]), "value": float(value),
                   "shown": i18n.number(float(value), ".4f")}
            if label is not None:
                row["run"] = label
            rows.append(row)
    return pd.DataFrame(rows, columns=["epoch", "metric", "split", "value", "shown"] + (["run"] if label else []))


def learning_curves(history, title=None):
    """Accuracy and loss per epoch, train vs validation, side by side."""
    frame = history_frame(history)
    splits = [t("chart.train"), t("chart.validation")]
    base = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("epoch:Q", title=t("chart.epoch"), axis=_epoch_axis(frame)),
        y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False), axis=_axis("~g")),
        color=alt.Color("split:N", title=t("chart.data"), scale=alt.Scale(domain=splits, range=["#1f77b4", "#ff7f0e"])),
        strokeDash=alt.StrokeDash("split:N", legend=None),
        tooltip=[alt.Tooltip("epoch:Q", title=t("chart.epoch")), alt.Tooltip("split:N", title=t("chart.data")),
                 alt.Tooltip("shown:N", title=t("chart.value"))],
    ).properties(width=300, height=220)
    accuracy = base.transform_filter(alt.datum.metric == "accuracy").properties(title=t("chart.accuracy"))
    loss = base.transform_filter(alt.datum.metric == "loss").properties(title=t("chart.loss"))
    return _localized(alt.hconcat(accuracy, loss).properties(
        title=t("chart.learning_curves") if title is None else title, description=_curves_text(history)))


def _curves_text(history):
    """The text alternative of learning curves: where each series ended."""
    last = {key: values[-1] for key, values in history.items() if key in SERIES and values}
    if "accuracy" not in last:
        return t("chart.curves_empty")
    return t("chart.curves_alt", epochs=len(history["accuracy"]), train=last["accuracy"],
             validation=last.get("val_accuracy", float("nan")), loss=last.get("loss", float("nan")),
             val_loss=last.get("val_loss", float("nan")))


def comparison_curves(labelled_histories, metric="accuracy"):
    """One metric for several runs: colour = run, dashed = train, solid = validation."""
    frame = pd.concat([history_frame(h, label) for label, h in labelled_histories], ignore_index=True)
    frame = frame[frame["metric"] == metric]
    name = t(METRICS[metric])
    return _localized(alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("epoch:Q", title=t("chart.epoch"), axis=_epoch_axis(frame)),
        y=alt.Y("value:Q", title=name, scale=alt.Scale(zero=False), axis=_axis("~g")),
        color=alt.Color("run:N", title=t("chart.run")),
        strokeDash=alt.StrokeDash("split:N", title=t("chart.data"), sort=[t("chart.validation"), t("chart.train")]),
        tooltip=[alt.Tooltip("run:N", title=t("chart.run")), alt.Tooltip("epoch:Q", title=t("chart.epoch")),
                 alt.Tooltip("split:N", title=t("chart.data")), alt.Tooltip("shown:N", title=t("chart.value"))],
    ).properties(height=320, title=t("chart.comparison_title", metric=name),
                 description="; ".join(f"{label}: {_curves_text(history)}" for label, history in labelled_histories)))


def confusion_heatmap(matrix, class_names, selection_name="cell", title=None):
    """Rows = true class, columns = predicted; clicking a cell selects it (a point selection)."""
    matrix = np.asarray(matrix)
    rows = [{"true": class_names[t], "predicted": class_names[p], "count": int(matrix[t, p]),
             "true_index": t, "predicted_index": p}
            for t in range(len(class_names)) for p in range(len(class_names))]
    frame = pd.DataFrame(rows)
    pick = alt.selection_point(name=selection_name, fields=["true_index", "predicted_index"])
    order = list(class_names)
    base = alt.Chart(frame).encode(
        x=alt.X("predicted:N", sort=order, title=t("chart.predicted_class")),
        y=alt.Y("true:N", sort=order, title=t("chart.true_class")),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="viridis", type="symlog"), title=t("chart.images")),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.45)),
        tooltip=[alt.Tooltip("true:N", title=t("chart.true_class")),
                 alt.Tooltip("predicted:N", title=t("chart.predicted_class")),
                 alt.Tooltip("count:Q", title=t("chart.images"))],
    ).add_params(pick)
    labels = base.mark_text(fontSize=11).encode(
        text="count:Q",
        color=alt.condition(alt.datum.count > float(matrix.max()) / 2, alt.value("black"), alt.value("white")),
    )
    correct = int(np.trace(matrix))
    return _localized((cells + labels).properties(
        width=460, height=420, title=t("chart.confusion_title") if title is None else title,
        description=t("chart.confusion_alt", correct=correct, total=int(matrix.sum()))))


def bars(values, labels, title, x_title, value_format=".0f", domain=None):
    """Horizontal bars with the value written at the end (readable without colour)."""
    frame = pd.DataFrame({"label": list(labels), "value": [float(v) for v in values],
                          "shown": [i18n.number(float(v), value_format) for v in values]})
    scale = alt.Scale(domain=domain) if domain else alt.Undefined
    base = alt.Chart(frame).encode(
        y=alt.Y("label:N", sort=list(labels), title=None),
        x=alt.X("value:Q", title=x_title, scale=scale, axis=_axis("~%" if value_format.endswith("%") else "~s")),
    )
    text = base.mark_text(align="left", dx=3).encode(text="shown:N")
    return _localized((base.mark_bar(color="#3b528b") + text).properties(
        title=title, height=alt.Step(22), description=(f"{title}: " if title else "") + ", ".join(
            f"{label} {shown}" for label, shown in zip(frame["label"], frame["shown"]))))


def probabilities(values, class_names, title=None):
    """Every class's probability as a bar with its percentage written next to it; the winner highlighted."""
    values = [float(v) for v in values]
    best = max(range(len(values)), key=values.__getitem__)
    frame = pd.DataFrame({"class": list(class_names), "probability": values,
                          "shown": [i18n.percent(v, 1) for v in values],
                          "top": ["top" if i == best else "other" for i in range(len(values))]})
    base = alt.Chart(frame).encode(
        y=alt.Y("class:N", sort=list(class_names), title=None),
        x=alt.X("probability:Q", title=t("chart.probability"), scale=alt.Scale(domain=[0, 1]), axis=_axis("%")),
    )
    bars_ = base.mark_bar().encode(
        color=alt.Color("top:N", scale=alt.Scale(domain=["top", "other"], range=["#fde725", "#3b528b"]),
                        legend=None),
        tooltip=[alt.Tooltip("class:N", title=t("chart.class")), alt.Tooltip("shown:N", title=t("chart.probability"))])
    text = base.mark_text(align="left", dx=3).encode(text="shown:N")
    return _localized((bars_ + text).properties(
        title=t("chart.probabilities_title") if title is None else title, height=alt.Step(24),
        description=", ".join(f"{name} {shown}" for name, shown in zip(frame["class"], frame["shown"]))))


def embedding_scatter(frame, class_names, selection_name="point"):
    """The test images as points (x, y), coloured by true class, mistakes as crosses; each point's image on hover.

    frame: columns x, y, true, predicted (class names), mistake (bool), index, image (a data: URL).
    """
    pick = alt.selection_point(name=selection_name, fields=["index"])
    mistakes = int(frame["mistake"].sum())
    return _localized(alt.Chart(frame).mark_point(filled=True, size=36).encode(
        x=alt.X("x:Q", title=None, axis=None), y=alt.Y("y:Q", title=None, axis=None),
        color=alt.Color("true:N", sort=list(class_names), title=t("chart.true_class"),
                        scale=alt.Scale(scheme="category10")),
        shape=alt.Shape("kind:N", title=t("chart.answer"),
                        scale=alt.Scale(domain=[t("chart.right"), t("chart.wrong")], range=["circle", "cross"])),
        opacity=alt.condition(pick, alt.value(0.9), alt.value(0.35)),
        tooltip=[alt.Tooltip("image:N", title="image"), alt.Tooltip("true:N", title=t("chart.true_class")),
                 alt.Tooltip("predicted:N", title=t("chart.predicted_class")),
                 alt.Tooltip("index:Q", title=t("chart.test_image"))],
    ).transform_calculate(kind=f"datum.mistake ? '{t('chart.wrong')}' : '{t('chart.right')}'").add_params(pick).properties(
        height=460, title=t("chart.embedding_title"),
        description=t("chart.embedding_alt", count=len(frame), mistakes=mistakes)))


def weight_dynamics(rows):
    """Each layer's weight spread and update size per epoch, side by side (epoch 0 = the random start)."""
    frame = pd.DataFrame(rows)
    base = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("epoch:Q", title=t("chart.epoch"), axis=_axis("d", tickMinStep=1)),
        color=alt.Color("layer:N", title=t("chart.layer")),
        tooltip=[alt.Tooltip("layer:N", title=t("chart.layer")), alt.Tooltip("epoch:Q", title=t("chart.epoch")),
                 alt.Tooltip("spread:Q", title=t("chart.spread"), format=".4f"),
                 alt.Tooltip("update:Q", title=t("chart.update"), format=".4f")],
    ).properties(width=300, height=220)
    spread = base.encode(y=alt.Y("spread:Q", title=t("chart.spread"), axis=_axis("~g"))).properties(
        title=t("chart.spread"))
    update = base.transform_filter("datum.update != null").encode(
        y=alt.Y("update:Q", title=t("chart.update"), axis=_axis("~%"))).properties(title=t("chart.update"))
    last = frame[frame["epoch"] == frame["epoch"].max()]
    return _localized(alt.hconcat(spread, update).properties(description=t("chart.dynamics_alt", epochs=int(
        frame["epoch"].max()), layers=", ".join(f"{r.layer} {i18n.number(r.spread, '.3f')}" for r in last.itertuples()))))


def weight_histograms(rows, epoch):
    """Each layer's weight histogram at one epoch, one small chart per layer."""
    frame = pd.DataFrame(rows)
    return _localized(alt.Chart(frame).mark_bar(color="#3b528b").encode(
        x=alt.X("low:Q", bin="binned", title=t("chart.weight"), axis=_axis("~g")), x2="high:Q",
        y=alt.Y("count:Q", title=t("chart.weights")),
        tooltip=[alt.Tooltip("layer:N", title=t("chart.layer")), alt.Tooltip("count:Q", title=t("chart.weights"))],
    ).properties(width=180, height=120).facet(facet=alt.Facet("layer:N", title=None), columns=4).resolve_scale(
        x="independent", y="independent").properties(
        title=t("chart.histograms_title", epoch=epoch),
        description=t("chart.histograms_alt", epoch=epoch, layers=", ".join(sorted(set(frame["layer"]))))))
