"""Altair charts of what the class learned together (cnnlab.insight.class_views): the sweep as small multiples (each
setting against test accuracy) and the class's confusion matrix. Each chart carries its text alternative in its
description; `large` is the projector's type size."""

import collections

import altair as alt
import numpy as np
import pandas as pd

from cnnlab import i18n
from cnnlab.i18n import t
from cnnlab.insight import charts

SETTINGS = {  # a row's setting -> its name on the chart (catalogue key), in the order the small charts are drawn
    "learning_rate": "classview.col_learning_rate", "batch_size": "classview.col_batch_size",
    "dropout": "classview.col_dropout", "optimizer": "classview.col_optimizer",
    "architecture": "classview.col_network", "epochs": "classview.col_epochs",
}


def _configured(chart, large):
    """The reader's number locale, and the projector's large type when asked."""
    sizes = dict(axis=alt.AxisConfig(labelFontSize=18, titleFontSize=20), header=alt.HeaderConfig(labelFontSize=20),
                 legend=alt.LegendConfig(labelFontSize=18, titleFontSize=18),
                 title=alt.TitleConfig(fontSize=26)) if large else {}
    return chart.configure(locale=charts.vega_locale(), **sizes)


def shown(setting, value):
    """A setting's value as the chart and its text write it (numbers in the reader's language)."""
    if setting == "dropout" and value is None:
        return t("classview.dropout_preset")
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, float)):
        return i18n.number(value, "g" if isinstance(value, float) else "")
    return str(value)


def _order(values):
    """The distinct values of a setting in their natural order (numbers by size, the preset's own dropout first)."""
    distinct = set(values)
    numbers = sorted(v for v in distinct if isinstance(v, (int, float)) and not isinstance(v, bool))
    others = sorted((v for v in distinct if v not in numbers), key=lambda v: (v is not None, str(v)))
    return others + numbers if None in distinct else numbers + others


def sweep_frame(rows):
    """Long-form rows (setting, value, order, accuracy, shown[, nickname]) of the sweep: one per attempt and setting."""
    records = []
    for setting, key in SETTINGS.items():
        order = _order([row[setting] for row in rows])
        for row in rows:
            record = {"setting": t(key), "value": shown(setting, row[setting]), "order": order.index(row[setting]),
                      "accuracy": row["test_accuracy"], "shown": i18n.percent(row["test_accuracy"], 1)}
            if "nickname" in row:
                record["nickname"] = row["nickname"]
            records.append(record)
    return pd.DataFrame(records, columns=["setting", "value", "order", "accuracy", "shown", "nickname"])


def sweep_chart(rows, large=False):
    """Each setting against test accuracy, one small chart per setting: a dot per attempt (spread sideways so that
    equal ones stay visible), a bar at each value's mean."""
    frame = sweep_frame(rows)
    names = frame["nickname"].notna().any()
    tooltip = ([alt.Tooltip("nickname:N", title=t("classview.col_nickname"))] if names else []) + [
        alt.Tooltip("value:N", title=t("chart.value")), alt.Tooltip("shown:N", title=t("classview.accuracy"))]
    size = (360, 260) if large else (240, 180)
    small = []
    for key in SETTINGS.values():
        part = frame[frame["setting"] == t(key)]
        order = list(dict.fromkeys(part.sort_values("order")["value"]))
        x = alt.X("value:N", sort=order, title=t(key), axis=alt.Axis(labelAngle=0))
        y = alt.Y("accuracy:Q", title=t("classview.accuracy"), scale=alt.Scale(zero=False), axis=alt.Axis(format="%"))
        dots = alt.Chart(part).mark_circle(size=120 if large else 50, opacity=0.55, color="#3b528b").encode(
            x=x, y=y, xOffset="jitter:Q", tooltip=tooltip).transform_calculate(jitter="random()")
        means = alt.Chart(part).mark_tick(color="#fde725", thickness=4, size=36 if large else 24).encode(
            x=x, y=alt.Y("mean(accuracy):Q"))
        small.append((dots + means).properties(width=size[0], height=size[1]))
    chart = alt.concat(*small, columns=3).properties(title=t("classview.sweep"), description=sweep_text(rows))
    return _configured(chart, large)


def sweep_text(rows):
    """The sweep's text alternative: how many attempts, the best, and for each setting the value best on average."""
    if not rows:
        return t("classview.empty")
    best = []
    for setting, key in SETTINGS.items():
        groups = collections.defaultdict(list)
        for row in rows:
            groups[row[setting]].append(row["test_accuracy"])
        value, found = max(groups.items(), key=lambda item: (float(np.mean(item[1])), len(item[1])))
        best.append(t("classview.setting_best", setting=t(key), value=shown(setting, value),
                      accuracy=float(np.mean(found)), runs=len(found)))
    # the list is joined here, not given to t() as one parameter: i18n cuts a parameter longer than ECHO characters
    return f'{t("classview.sweep_alt", attempts=len(rows), best=max(row["test_accuracy"] for row in rows))} ' \
           f'{"; ".join(best)}.'


def class_confusion(matrix, class_names, networks, pairs, large=False):
    """The summed confusion matrix: true class in rows, predicted in columns, every count written in its cell.
    pairs: the sentences of the pairs most of the class confuses (its text alternative names them)."""
    matrix = np.asarray(matrix)
    frame = pd.DataFrame([{"true": class_names[a], "predicted": class_names[b], "count": int(matrix[a, b])}
                          for a in range(len(class_names)) for b in range(len(class_names))])
    order = list(class_names)
    base = alt.Chart(frame).encode(x=alt.X("predicted:N", sort=order, title=t("chart.predicted_class")),
                                   y=alt.Y("true:N", sort=order, title=t("chart.true_class")))
    cells = base.mark_rect().encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="viridis", type="symlog"), title=t("chart.images")),
        tooltip=[alt.Tooltip("true:N", title=t("chart.true_class")),
                 alt.Tooltip("predicted:N", title=t("chart.predicted_class")),
                 alt.Tooltip("count:Q", title=t("chart.images"))])
    labels = base.mark_text(fontSize=16 if large else 11).encode(
        text="count:Q",
        color=alt.condition(alt.datum.count > float(matrix.max()) / 2, alt.value("black"), alt.value("white")))
    side = 640 if large else 460
    description = (f'{t("classview.matrix_alt", correct=int(np.trace(matrix)), total=int(matrix.sum()))} '
                   f'{"; ".join(str(pair) for pair in pairs) or t("classview.no_pairs")}')
    chart = (cells + labels).properties(width=side, height=side * 0.9,
                                        title=t("classview.matrix_title", networks=networks), description=description)
    return _configured(chart, large)
