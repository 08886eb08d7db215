"""Data: what the images look like, how many per class, and how they are prepared for the network."""

import numpy as np
import pandas as pd
import streamlit as st

import ui
from cnnlab import charts, datasets, i18n, inspection
from cnnlab.i18n import t

ui.page("data.title", "📊")
st.write(t("data.intro"))

names = list(datasets.DATASETS)
name = st.selectbox(t("data.dataset"), names, format_func=lambda n: datasets.DATASETS[n].title,
                    index=names.index(st.session_state.get("dataset", "mnist")))
st.session_state["dataset"] = name
info = datasets.get_info(name)
st.caption(info.description)
try:
    data = datasets.load(name)
except datasets.DatasetUnavailable as error:
    st.error(str(error))
    st.stop()
st.info(t("data.source", source=data.source.describe(),
          size=t("data.size", title=info.title, train=len(data.x_train), test=len(data.x_test))))

st.header(t("data.grid"))
rows = inspection.samples_per_class(data.x_train, data.y_train, info.num_classes, per_class=10)
for label, images in enumerate(rows):
    left, right = st.columns([1, 6])
    left.markdown(f"**{info.class_names[label]}**")
    ui.image(right, inspection.to_uint8(inspection.tile(images / 255.0, columns=10, pad=2, scale=2)),
                caption=t("data.examples", count=len(images), name=info.class_names[label]))

left, right = st.columns(2)
with left:
    st.header(t("data.balance"))
    counts = inspection.class_counts(data.y_train, info.num_classes)
    st.altair_chart(charts.bars(counts, info.class_names, t("data.balance"), t("data.balance_x")), width="stretch")
with right:
    st.header(t("data.facts"))
    st.markdown(t("data.raw_shape", shape=tuple(data.x_train.shape), dtype=data.x_train.dtype,
                                         low=int(data.x_train.min()), high=int(data.x_train.max())))
    st.markdown(t("data.net_shape", shape=(len(data.x_train), *info.image_shape)))

st.header(t("data.prep"))
st.write(t("data.prep_text"))
example = data.x_train[0]
processed = datasets.preprocess_images(example[np.newaxis])[0]
centre = slice(info.image_shape[0] // 2 - 3, info.image_shape[0] // 2 + 3)
a, b, c = st.columns([1, 2, 2])
ui.image(a, inspection.upscale(example, 6), caption=t("data.example", name=info.class_names[data.y_train[0]]))
raw_patch = example[centre, centre] if example.ndim == 2 else example[centre, centre, 0]
b.caption(t("data.before"))
b.dataframe(raw_patch, hide_index=True)
c.caption(t("data.after"))
c.dataframe(pd.DataFrame(processed[centre, centre, 0]).map(lambda v: i18n.number(float(v), ".3f")), hide_index=True)
