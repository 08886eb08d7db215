"""Mistakes: the confusion matrix, per-class accuracy, and the test images the network gets wrong."""

import numpy as np
import streamlit as st

import ui
from cnnlab import charts, datasets, inspection

TEXT = {
    "title": "❌ Mistakes",
    "intro": "Accuracy is one number; the mistakes tell the story. Which classes get confused, and do "
             "the wrong answers make sense?",
    "run": "Trained run", "empty": "No trained run yet: train one on the **Train** page first.",
    "matrix": "Confusion matrix", "matrix_text": "Rows are the true class, columns what the network said. "
                                                 "Click a cell to see those test images.",
    "confused": "Most confused: {pairs}.", "pair": "{true} taken for {pred} ({count}×)",
    "cell": "True **{true}**, predicted **{pred}**: {count} image(s)", "cell_hint": "Click a cell to see its images.",
    "per_class": "Accuracy per class", "accuracy": "accuracy",
    "gallery": "Misclassified examples, most confident first",
    "caption": "true {true} → said {pred} ({conf:.0%})", "none": "No mistakes on the test set.",
    "grid": "Predictions on the first test images", "grid_caption": "{mark} true {true} / predicted {pred}",
}

st.set_page_config(page_title="cnnlab · Mistakes", page_icon="❌", layout="wide")
st.title(TEXT["title"])
st.write(TEXT["intro"])
run = ui.pick_run(TEXT["run"], TEXT["empty"])
if run is None:
    st.stop()
info = run.info
probabilities, y_test = ui.predictions(run.id)
try:
    data = datasets.load(run.config.dataset, allow_download=False)
except datasets.DatasetUnavailable as error:
    st.error(str(error))
    st.stop()
matrix = np.asarray(run.metrics["confusion_matrix"])


def show_images(indices, captions, columns=8):
    cols = st.columns(columns)
    for n, (index, caption) in enumerate(zip(indices, captions)):
        cols[n % columns].image(inspection.upscale(data.x_test[index], 3), caption=caption)


left, right = st.columns([3, 2])
with left:
    st.subheader(TEXT["matrix"])
    st.caption(TEXT["matrix_text"])
    event = st.altair_chart(charts.confusion_heatmap(matrix, info.class_names), on_select="rerun", key="matrix")
    pairs = inspection.most_confused(matrix, info.class_names)
    if pairs:
        st.write(TEXT["confused"].format(pairs="; ".join(TEXT["pair"].format(true=t, pred=p, count=c)
                                                         for t, p, c in pairs)))
with right:
    st.subheader(TEXT["per_class"])
    accuracy = run.metrics["per_class_accuracy"]
    st.altair_chart(charts.bars(accuracy, info.class_names, TEXT["per_class"], TEXT["accuracy"], ".1%", [0, 1]),
                    width="stretch")

selected = (event or {}).get("selection", {}).get("cell") if event else None
if selected:
    true_class, predicted_class = int(selected[0]["true_index"]), int(selected[0]["predicted_index"])
    indices = inspection.cell_indices(probabilities, y_test, true_class, predicted_class)
    st.markdown(TEXT["cell"].format(true=info.class_names[true_class], pred=info.class_names[predicted_class],
                                    count=len(indices)))
    show_images(indices[:32], [f"#{i}" for i in indices[:32]])
else:
    st.caption(TEXT["cell_hint"])

st.subheader(TEXT["gallery"])
wrong = inspection.mistakes(probabilities, y_test)[:24]
if not wrong:
    st.success(TEXT["none"])
show_images([m.index for m in wrong], [TEXT["caption"].format(true=info.class_names[m.true],
                                                               pred=info.class_names[m.predicted],
                                                               conf=m.confidence) for m in wrong])

st.subheader(TEXT["grid"])
predicted = np.argmax(probabilities[:24], axis=1)
show_images(range(24), [TEXT["grid_caption"].format(mark="✓" if p == t else "✗", true=info.class_names[t],
                                                    pred=info.class_names[p]) for p, t in zip(predicted, y_test[:24])])
