"""Learned: the test images as a map of what the network learned, and the timeline of how it learned it."""

import numpy as np
import pandas as pd
import streamlit as st

import ui
from cnnlab.i18n import t
from cnnlab.insight import charts, learned

POINTS = [500, 1000, 2000]

ui.page("learned.title", "🧭")
st.write(t("learned.intro"))
run = ui.pick_run(t("learned.run"), t("learned.empty"))
if run is None:
    st.stop()
info = run.info

# ---------------------------------------------------------------- the map
st.header(t("learned.map"))
st.write(t("learned.map_text"))
data = ui.run_data(run)  # the very test set this run was evaluated on
if data is not None:
    left, right = st.columns(2)
    options = [n for n in POINTS if n <= len(data.x_test)] or [len(data.x_test)]
    if st.session_state.get("learned_points") not in options:
        st.session_state["learned_points"] = options[min(1, len(options) - 1)]  # 1,000 where there are as many
    count = left.select_slider(t("learned.points"), options, key="learned_points")
    method = right.radio(t("learned.method"), ["pca", "tsne"], horizontal=True, key="learned_method",
                         format_func={"pca": t("learned.pca"), "tsne": t("learned.tsne")}.get,
                         help=t("learned.method_help"))
    if method == "tsne" and not ui.embedding_ready(run.id, method, count):
        bar = st.progress(0.0, text=t("learned.tsne_working", count=count))
        points, score = ui.embedding(run.id, method, count, on_progress=lambda done: bar.progress(
            done, text=t("learned.tsne_working", count=count)))
        bar.empty()
    else:
        points, score = ui.embedding(run.id, method, count)
    probabilities, y_test = ui.predictions(run.id)
    predicted = probabilities[:count].argmax(axis=1)
    names = info.class_names
    frame = pd.DataFrame({"x": points[:, 0], "y": points[:, 1], "true": [names[i] for i in y_test[:count]],
                          "predicted": [names[i] for i in predicted], "mistake": predicted != y_test[:count],
                          "index": np.arange(count),
                          "image": [learned.thumbnail(image) for image in data.x_test[:count]]})
    event = st.altair_chart(charts.embedding_scatter(frame, names), on_select="rerun", key="learned_map",
                            width="stretch")
    st.caption(t("learned.separation", score=score, method=t(f"learned.{method}")))
    chosen = [p["index"] for p in event.selection.get("point", []) if "index" in p] if event else []
    if chosen:
        index = int(chosen[0])
        shown, button = st.columns([1, 3])
        ui.image(shown, data.x_test[index], width=112,
                 caption=t("learned.chosen", index=index, true=names[y_test[index]], predicted=names[predicted[index]]))
        if button.button(t("learned.open_inside"), key="learned_open"):
            st.session_state["inside_index"] = index
            st.switch_page("pages/4_Inside.py")

# ---------------------------------------------------------------- how it learned
st.header(t("learned.timeline"))
timeline = ui.timeline(run)
if timeline is None:
    st.info(t("learned.no_timeline"))
    st.stop()
st.write(t("learned.timeline_text"))
epochs = len(timeline["spread"]) - 1
epoch = st.slider(t("learned.epoch"), 0, epochs, epochs, key="learned_epoch", help=t("learned.epoch_help"))
if "filters" in timeline:
    left, right = st.columns(2)
    ui.image(left, learned.filters_at(timeline, epoch),
             caption=t("learned.filters_caption", epoch=epoch, count=timeline["filters"].shape[-1]))
    ui.image(right, learned.maps_at(timeline, epoch),
             caption=t("learned.maps_caption", epoch=epoch, count=timeline["maps"].shape[-1]))
else:
    st.info(t("learned.no_conv"))
st.altair_chart(charts.weight_dynamics(learned.weight_rows(timeline)), width="content")
st.caption(t("learned.dynamics_text"))
st.altair_chart(charts.weight_histograms(learned.histogram_rows(timeline, epoch), epoch), width="content")
