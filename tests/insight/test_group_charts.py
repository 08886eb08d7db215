"""A group of seeds drawn as a group (#33): the mean with a min–max band, each seed's test accuracy with the
mean ± one standard deviation, and a text alternative that says which band it is."""

import numpy as np

from cnnlab import i18n
from cnnlab.course import statistics
from cnnlab.insight import group_charts

RNG = np.random.default_rng(3)
HISTORIES = [{key: list(RNG.uniform(0.2, 0.9, size=4)) for key in ("accuracy", "val_accuracy", "loss", "val_loss")}
             for _ in range(3)]
HISTORIES[2] = {key: values[:2] for key, values in HISTORIES[2].items()}  # a seed stopped after two epochs


def test_the_band_is_the_seeds_range_and_the_line_their_mean_over_the_seeds_that_reached_each_epoch():
    frame = group_charts.group_frame(HISTORIES, "accuracy")
    validation = frame[frame["split"] == "validation"].set_index("epoch")
    for epoch in range(1, 5):
        values = [history["val_accuracy"][epoch - 1] for history in HISTORIES if len(history["val_accuracy"]) >= epoch]
        assert validation.loc[epoch, "seeds"] == len(values) == (3 if epoch <= 2 else 2)
        assert np.isclose(validation.loc[epoch, "mean"], np.mean(values))
        assert validation.loc[epoch, "low"] == min(values) and validation.loc[epoch, "high"] == max(values)
    assert set(frame["split"]) == {"train", "validation"}


def test_the_curves_chart_says_its_band_is_min_to_max_and_where_each_group_ended():
    chart = group_charts.group_curves([("A", HISTORIES), ("B", HISTORIES[:1])], "accuracy").to_dict()
    text = chart["description"]
    assert "from the lowest seed to the highest (min–max)" in text
    last = [history["val_accuracy"][3] for history in HISTORIES[:2]]
    assert f"A (3 seeds): validation accuracy at epoch 4: mean {np.mean(last):.4f}" in text
    assert f"from {min(last):.4f} to {max(last):.4f}" in text and "B (1 seed)" in text
    marks = {layer["mark"]["type"] for layer in chart["layer"]}
    assert marks == {"area", "line"}


def test_each_seeds_accuracy_is_drawn_and_the_bar_is_the_mean_plus_minus_one_standard_deviation():
    seeds = [(0, 0.981), (1, 0.975), (2, 0.978)]
    frame = group_charts.accuracy_frame([("A", seeds)])
    mean, deviation = statistics.spread([accuracy for _, accuracy in seeds])  # the verdicts' own spread: the oracle
    assert list(frame["accuracy"]) == [accuracy for _, accuracy in seeds] and list(frame["seed"]) == [0, 1, 2]
    assert np.allclose(frame["low"], mean - deviation) and np.allclose(frame["high"], mean + deviation)
    text = group_charts.seed_accuracies([("A", seeds), ("B", [(0, 0.97)])]).to_dict()["description"]
    assert f"A: 3 seeds, mean {mean:.2%} ± {deviation:.2%} (± one standard deviation)" in text
    assert "seed 0: 98.10%, seed 1: 97.50% and seed 2: 97.80%" in text and "B: 1 seed, 97.00% ± 0.00%" in text
    i18n.set_language("es")
    text = group_charts.seed_accuracies([("A", seeds)]).to_dict()["description"]
    assert "3 semillas, media 97,80\xa0% ± 0,30\xa0%" in text and "semilla 1: 97,50\xa0% y semilla 2" in text
