"""A group of seeds drawn as a group: its curves as the mean with a min–max band, its test accuracy as each seed's dot
and the mean ± one standard deviation.

Runs that differ only in their seed (cnnlab.course.comparisons.group_of) are one experiment drawn several times; one of
them alone says little about the others. The band is the lowest to the highest seed at each epoch (with three seeds a
standard deviation is a guess; the range is what was seen), the accuracy's bar the mean ± one sample standard deviation
(what the verdicts of cnnlab.course.statistics weigh), and every seed's own value is drawn too. Each chart has its text
alternative (its description), as charts.py's do.
"""

import altair as alt
import numpy as np
import pandas as pd

from cnnlab import i18n
from cnnlab.i18n import t
from cnnlab.insight import charts

KEYS = {"accuracy": ("accuracy", "val_accuracy"), "loss": ("loss", "val_loss")}


def spread(values):
    """(mean, sample standard deviation) of the seeds' values (0 for one seed), as cnnlab.course.statistics.spread."""
    values = np.asarray(values, float)
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def group_frame(histories, metric="accuracy", label=None):
    """Rows (epoch, split, mean, low, high, seeds[, run]) of a group's histories: at each epoch the seeds' mean and
    their lowest and highest value, over the seeds that reached it (a stopped seed ends early)."""
    rows = []
    for key, split in zip(KEYS[metric], ("chart.train", "chart.validation")):
        series = [list(history.get(key) or []) for history in histories]
        for epoch in range(1, max((len(values) for values in series), default=0) + 1):
            values = [values[epoch - 1] for values in series if len(values) >= epoch]
            mean = float(np.mean(values))
            rows.append({"epoch": epoch, "split": t(split), "mean": mean, "low": float(min(values)),
                         "high": float(max(values)), "seeds": len(values), "run": label or "",
                         "shown": t("groupchart.value", mean=i18n.number(mean, ".4f"),
                                    low=i18n.number(min(values), ".4f"), high=i18n.number(max(values), ".4f"))})
    return pd.DataFrame(rows, columns=["epoch", "split", "mean", "low", "high", "seeds", "run", "shown"])


def _curves_text(label, histories, metric):
    """'A (3 seeds): validation accuracy at epoch 5, mean 0.97, from 0.96 to 0.98' (or the train series')."""
    frame = group_frame(histories, metric)
    if frame.empty:
        return t("chart.curves_empty")
    last = frame[frame["epoch"] == frame["epoch"].max()].iloc[-1]  # validation when there is one
    return t("groupchart.curves_alt", label=label, count=len(histories), split=last["split"],
             metric=t(charts.METRICS[metric]), epoch=int(last["epoch"]), mean=last["mean"], low=last["low"],
             high=last["high"])


def group_curves(labelled_groups, metric="accuracy"):
    """Each group's metric per epoch: its seeds' mean as a line and the band from the lowest to the highest seed.

    labelled_groups: [(label, [history of each seed])]; colour = group, dashed = train, solid = validation."""
    frame = pd.concat([group_frame(histories, metric, label) for label, histories in labelled_groups],
                      ignore_index=True)
    name = t(charts.METRICS[metric])
    base = alt.Chart(frame).encode(
        x=alt.X("epoch:Q", title=t("chart.epoch"), axis=charts._epoch_axis(frame)),
        color=alt.Color("run:N", title=t("chart.run")))
    band = base.mark_area(opacity=0.2).encode(y=alt.Y("low:Q", title=name, scale=alt.Scale(zero=False)), y2="high:Q",
                                              detail="split:N")
    line = base.mark_line(point=True).encode(
        y=alt.Y("mean:Q", title=name, scale=alt.Scale(zero=False), axis=charts._axis("~g")),
        strokeDash=alt.StrokeDash("split:N", title=t("chart.data"), sort=[t("chart.validation"), t("chart.train")]),
        tooltip=[alt.Tooltip("run:N", title=t("chart.run")), alt.Tooltip("epoch:Q", title=t("chart.epoch")),
                 alt.Tooltip("split:N", title=t("chart.data")), alt.Tooltip("seeds:Q", title=t("groupchart.seeds")),
                 alt.Tooltip("shown:N", title=t("chart.value"))])
    return charts._localized((band + line).properties(
        height=320, title=t("groupchart.curves_title", metric=name),
        description=t("groupchart.band") + " " + "; ".join(
            _curves_text(label, histories, metric) for label, histories in labelled_groups)))


def accuracy_frame(labelled_groups):
    """Rows (run, seed, accuracy, mean, low, high): each seed's test accuracy, and its group's mean ± one standard
    deviation. labelled_groups: [(label, [(seed, test accuracy)])]."""
    rows = []
    for label, seeds in labelled_groups:
        mean, deviation = spread([accuracy for _, accuracy in seeds])
        for seed, accuracy in seeds:
            rows.append({"run": label, "seed": int(seed), "accuracy": float(accuracy), "mean": mean,
                         "low": mean - deviation, "high": mean + deviation,
                         "shown": t("stats.seed_value", seed=int(seed), accuracy=float(accuracy))})
    return pd.DataFrame(rows, columns=["run", "seed", "accuracy", "mean", "low", "high", "shown"])


def seed_accuracies(labelled_groups):
    """Each group's test accuracy: every seed's as a dot, the mean as a tick with a bar of ± one standard deviation.

    labelled_groups: [(label, [(seed, test accuracy)])]."""
    frame = accuracy_frame(labelled_groups)
    order = [label for label, _ in labelled_groups]
    base = alt.Chart(frame).encode(y=alt.Y("run:N", sort=order, title=None))
    x_title = t("groupchart.accuracy_axis")
    dots = base.mark_point(filled=True, size=60, opacity=0.8).encode(
        x=alt.X("accuracy:Q", title=x_title, scale=alt.Scale(zero=False), axis=charts._axis("~%")),
        color=alt.Color("run:N", legend=None),
        tooltip=[alt.Tooltip("run:N", title=t("chart.run")), alt.Tooltip("shown:N", title=t("chart.value"))])
    bars = base.mark_rule(strokeWidth=2, color="#444").encode(x="low:Q", x2="high:Q")
    means = base.mark_tick(thickness=3, size=22, color="#444").encode(x="mean:Q")
    return charts._localized((bars + means + dots).properties(
        height=alt.Step(36), title=t("groupchart.accuracy_title"),
        description=" ".join(_accuracy_text(label, seeds) for label, seeds in labelled_groups)))


def _accuracy_text(label, seeds):
    mean, deviation = spread([accuracy for _, accuracy in seeds])
    values = i18n.join([t("stats.seed_value", seed=int(seed), accuracy=float(accuracy)) for seed, accuracy in seeds])
    return t("groupchart.accuracy_alt", label=label, count=len(seeds), mean=mean, deviation=deviation, values=values)
