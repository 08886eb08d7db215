import numpy as np

from cnnlab.insight import charts

HISTORY = {"loss": [1.0, 0.5], "accuracy": [0.6, 0.8], "val_loss": [0.9, 0.7], "val_accuracy": [0.65, 0.75]}


def test_history_frame_is_long_form():
    frame = charts.history_frame(HISTORY)
    assert len(frame) == 8
    row = frame[(frame.metric == "accuracy") & (frame.split == "validation") & (frame.epoch == 2)]
    assert row.value.item() == 0.75


def test_learning_curves_spec_has_both_panels():
    spec = charts.learning_curves(HISTORY).to_dict()
    assert len(spec["hconcat"]) == 2


def test_confusion_heatmap_has_a_cell_selection_and_every_count():
    matrix = np.array([[3, 1], [0, 5]])
    spec = charts.confusion_heatmap(matrix, ["a", "b"]).to_dict()
    assert "cell" in str(spec["params"] if "params" in spec else spec)
    values = next(iter(spec["datasets"].values()))
    assert sorted(v["count"] for v in values) == [0, 1, 3, 5]


def test_comparison_keeps_one_metric_for_every_run():
    spec = charts.comparison_curves([("a", HISTORY), ("b", HISTORY)], "loss").to_dict()
    values = next(iter(spec["datasets"].values()))
    assert {v["run"] for v in values} == {"a", "b"} and {v["metric"] for v in values} == {"loss"}


def test_every_chart_carries_a_text_alternative_in_the_readers_language():
    from cnnlab import i18n

    curves = charts.learning_curves(HISTORY).to_dict()
    assert curves["description"].startswith(f"After {len(HISTORY['accuracy'])} epochs: accuracy")
    matrix = charts.confusion_heatmap([[5, 1], [2, 7]], ["cat", "dog"]).to_dict()
    assert matrix["description"].startswith("12 of 15 test images on the diagonal")
    i18n.set_language("es")
    bars = charts.probabilities([0.25, 0.75], ["gato", "perro"]).to_dict()
    assert bars["description"] == "gato 25,0\u00a0%, perro 75,0\u00a0%"
    assert charts.learning_curves(HISTORY).to_dict()["description"].startswith("Tras ")


def test_axes_use_the_readers_number_symbols():
    """Vega renders the chart (vl-convert, Altair's own export) with Babel's symbols: 0,5 and 1.000 in Spanish."""
    import re

    import vl_convert

    from cnnlab import i18n

    i18n.set_language("es")
    spec = charts.bars([0.5, 0.25], ["a", "b"], "t", "x", ".1%", [0, 1]).to_dict()
    assert spec["config"]["locale"]["number"] == {"decimal": ",", "thousands": ".", "grouping": [3],
                                                  "currency": ["", ""], "percent": "\u00a0%"}
    svg = vl_convert.vegalite_to_svg(charts.comparison_curves(
        [("a", {"loss": [1.5, 0.75, 0.5], "val_loss": [1.25, 0.9, 0.8]})], "loss").to_json())
    labels = re.findall(r"<text[^>]*>([^<]*)<", svg)
    assert "0,5" in labels and "1,5" in labels and "0.5" not in labels, labels  # a decimal comma on the axis
    svg = vl_convert.vegalite_to_svg(charts.bars([0.5, 0.25], ["a", "b"], "t", "x", ".1%", [0, 1]).to_json())
    assert "50\u00a0%" in svg.replace("&#160;", "\u00a0"), svg[:300]
    i18n.set_language("en")
    assert charts.bars([0.5], ["a"], "t", "x").to_dict()["config"]["locale"]["number"]["decimal"] == "."


def test_learning_curves_say_which_line_is_training_and_which_validation():
    spec = charts.learning_curves(HISTORY, title="").to_dict()  # as the Train page draws it while training
    color = spec["hconcat"][0]["encoding"]["color"]
    assert color.get("legend", {}) is not None and color["title"] == "data"
    assert color["scale"]["domain"] == ["train", "validation"]
    assert spec["hconcat"][0]["encoding"]["x"]["axis"]["values"] == [1, 2]  # whole epochs only


def test_the_map_and_the_timeline_charts_carry_their_text_alternatives():
    import pandas as pd

    frame = pd.DataFrame({"x": [0.0, 1.0], "y": [1.0, 0.0], "true": ["0", "1"], "predicted": ["0", "7"],
                          "mistake": [False, True], "index": [0, 1], "image": ["data:,", "data:,"]})
    spec = charts.embedding_scatter(frame, [str(i) for i in range(10)]).to_dict()
    assert spec["description"].startswith("A map of 2 test images") and "mistakes (1)" in spec["description"]
    rows = [{"epoch": e, "layer": "conv_1", "spread": 0.1 + e / 10, "update": None if e == 0 else 0.2} for e in range(3)]
    assert "conv_1 0.300" in charts.weight_dynamics(rows).to_dict()["description"]
