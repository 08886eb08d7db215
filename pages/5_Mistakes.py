"""Mistakes: the confusion matrix, per-class accuracy, and the test images the network gets wrong."""

import numpy as np
import streamlit as st

import ui
from cnnlab.i18n import t
from cnnlab.insight import charts, inspection

ui.page("mistakes.title", "❌")
st.write(t("mistakes.intro"))
run = ui.pick_run(t("mistakes.run"), t("mistakes.empty"))
if run is None:
    st.stop()
ui.take_home(run)
info = run.info
probabilities, y_test = ui.predictions(run.id)
data = ui.run_data(run)  # the very test set it was evaluated on; None when that copy is gone
matrix = np.asarray(run.metrics["confusion_matrix"])


def show_images(indices, captions, columns=8):
    if data is None:  # the run's test images are not on this server now (the warning above says why)
        st.caption(t("mistakes.no_images"))
        return
    cols = st.columns(columns)
    for n, (index, caption) in enumerate(zip(indices, captions)):
        alt = t("mistakes.alt", index=int(index), true=info.class_names[y_test[index]],
                pred=info.class_names[int(np.argmax(probabilities[index]))])
        ui.image(cols[n % columns], inspection.upscale(data.x_test[index], 3), caption=caption, alt=alt)


left, right = st.columns([3, 2])
with left:
    st.header(t("mistakes.matrix"))
    st.caption(t("mistakes.matrix_text"))
    event = st.altair_chart(charts.confusion_heatmap(matrix, info.class_names), on_select="rerun", key="matrix")
    pairs = inspection.most_confused(matrix, info.class_names)
    if pairs:
        st.write(t("mistakes.confused", pairs="; ".join(t("mistakes.pair", true=true, pred=p, count=c)
                                                         for true, p, c in pairs)))
with right:
    st.header(t("mistakes.per_class"))
    accuracy = run.metrics["per_class_accuracy"]
    st.altair_chart(charts.bars(accuracy, info.class_names, t("mistakes.per_class"), t("mistakes.accuracy"), ".1%", [0, 1]),
                    width="stretch")

classes = list(range(info.num_classes))
selected = (event or {}).get("selection", {}).get("cell") if event else None
clicked = (int(selected[0]["true_index"]), int(selected[0]["predicted_index"])) if selected else None
if clicked != st.session_state.get("cell_clicked"):  # a new click on the matrix sets the two menus below
    st.session_state["cell_clicked"] = clicked
    if clicked:
        st.session_state["cell_true"], st.session_state["cell_predicted"] = clicked
# the keyboard's way to the same images: pick a cell by its two classes
pick_true, pick_predicted = st.columns(2)
true_class = pick_true.selectbox(t("mistakes.pick_true"), [None] + classes, key="cell_true",
                                 format_func=lambda c: "—" if c is None else info.class_names[c])
predicted_class = pick_predicted.selectbox(t("mistakes.pick_predicted"), [None] + classes, key="cell_predicted",
                                           format_func=lambda c: "—" if c is None else info.class_names[c])
if true_class is not None and predicted_class is not None:
    indices = inspection.cell_indices(probabilities, y_test, true_class, predicted_class)
    st.markdown(t("mistakes.cell", true=info.class_names[true_class], pred=info.class_names[predicted_class],
                  count=len(indices)))
    show_images(indices[:32], [f"#{i}" for i in indices[:32]])
else:
    st.caption(t("mistakes.cell_hint"))

st.header(t("mistakes.gallery"))
wrong = inspection.mistakes(probabilities, y_test)[:24]
if not wrong:
    st.success(t("mistakes.none"))
show_images([m.index for m in wrong], [t("mistakes.caption", true=info.class_names[m.true],
                                                               pred=info.class_names[m.predicted],
                                                               conf=m.confidence) for m in wrong])

st.header(t("mistakes.grid"))
predicted = np.argmax(probabilities[:24], axis=1)
show_images(range(24), [t("mistakes.grid_caption", mark="✓" if p == true else "✗", true=info.class_names[true],
                           pred=info.class_names[p]) for p, true in zip(predicted, y_test[:24])])
