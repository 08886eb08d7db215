"""Data: what the images look like, how many per class, and how they are prepared for the network."""

import numpy as np
import streamlit as st

from cnnlab import charts, datasets, inspection

TEXT = {
    "title": "📊 Data",
    "intro": "Every network learns from examples. Look at them first: what each class looks like, "
             "how many there are, and what the network really receives.",
    "dataset": "Dataset",
    "source": "Source: {source}. {size}.",
    "grid": "Sample images, one row per class",
    "balance": "Images per class (training set)",
    "balance_x": "images",
    "facts": "Shape and pixel range",
    "raw_shape": "Raw images: **{shape}**, type **{dtype}**, pixel values **{low}–{high}**.",
    "net_shape": "What the network receives: **{shape}**, type **float32**, values **0–1**.",
    "prep": "Preprocessing on one example",
    "prep_text": "Pixels are divided by 255 to fall between 0 and 1, and grayscale images get a channel "
                 "axis, (28, 28) → (28, 28, 1), because convolution layers expect height × width × channels. "
                 "Here is the centre of one image before and after:",
    "before": "raw pixels (uint8)",
    "after": "after scaling (float32)",
    "example": "Example: class “{name}”",
}

st.set_page_config(page_title="cnnlab · Data", page_icon="📊", layout="wide")
st.title(TEXT["title"])
st.write(TEXT["intro"])

names = list(datasets.DATASETS)
name = st.selectbox(TEXT["dataset"], names, format_func=lambda n: datasets.DATASETS[n].title,
                    index=names.index(st.session_state.get("dataset", "mnist")))
st.session_state["dataset"] = name
info = datasets.get_info(name)
st.caption(info.description)
try:
    data = datasets.load(name, allow_download=False)
except datasets.DatasetUnavailable as error:
    st.error(str(error))
    st.stop()
st.info(TEXT["source"].format(source=data.source.describe(), size=data.summary().split(" from ")[0]))

st.subheader(TEXT["grid"])
rows = inspection.samples_per_class(data.x_train, data.y_train, info.num_classes, per_class=10)
for label, images in enumerate(rows):
    left, right = st.columns([1, 6])
    left.markdown(f"**{info.class_names[label]}**")
    right.image(inspection.to_uint8(inspection.tile(images / 255.0, columns=10, pad=2, scale=2)),
                caption=f"{len(images)} examples of {info.class_names[label]}")

left, right = st.columns(2)
with left:
    st.subheader(TEXT["balance"])
    counts = inspection.class_counts(data.y_train, info.num_classes)
    st.altair_chart(charts.bars(counts, info.class_names, TEXT["balance"], TEXT["balance_x"]), width="stretch")
with right:
    st.subheader(TEXT["facts"])
    st.markdown(TEXT["raw_shape"].format(shape=tuple(data.x_train.shape), dtype=data.x_train.dtype,
                                         low=int(data.x_train.min()), high=int(data.x_train.max())))
    st.markdown(TEXT["net_shape"].format(shape=(len(data.x_train), *info.image_shape)))

st.subheader(TEXT["prep"])
st.write(TEXT["prep_text"])
example = data.x_train[0]
processed = datasets.preprocess_images(example[np.newaxis])[0]
centre = slice(info.image_shape[0] // 2 - 3, info.image_shape[0] // 2 + 3)
a, b, c = st.columns([1, 2, 2])
a.image(inspection.upscale(example, 6), caption=TEXT["example"].format(name=info.class_names[data.y_train[0]]))
raw_patch = example[centre, centre] if example.ndim == 2 else example[centre, centre, 0]
b.caption(TEXT["before"])
b.dataframe(raw_patch, hide_index=True)
c.caption(TEXT["after"])
c.dataframe(np.round(processed[centre, centre, 0], 3), hide_index=True)
