"""Convolution: the operation itself, step by step, then classic kernels and the student's own filters."""

import numpy as np
import pandas as pd
import streamlit as st

import ui
from cnnlab import convolution, datasets, inspection

TEXT = {
    "title": "🧮 Convolution",
    "intro": "A convolution slides a small filter over the image. At each position it multiplies the "
             "pixels under the filter by the filter's weights and adds them up: that sum is one output cell.",
    "step": "Output cell (step)", "image": "Input (5×5)", "filter": "Filter (3×3)", "output": "Output (3×3)",
    "sum": "Cell ({row}, {col}): {arithmetic}",
    "window": "The highlighted 3×3 window of the input is where the filter sits now.",
    "size": "Stride and padding", "size_text": "The output size is floor((n − k) / s) + 1 with 'valid' padding "
                                               "and ceil(n / s) with 'same' padding (zeros added around the edge).",
    "n": "Input size n", "k": "Kernel size k", "s": "Stride s", "padding": "Padding",
    "size_result": "A {n}×{n} input with a {k}×{k} kernel, stride {s}, '{padding}' padding gives a **{out}×{out}** output.",
    "too_small": "The kernel is larger than the input: with 'valid' padding there is no output.",
    "pool": "Max pooling", "pool_text": "Max pooling keeps the largest value of each 2×2 block: the output is "
                                        "half as wide and high, and small shifts of the input matter less.",
    "pool_in": "Input (4×4)", "pool_out": "Output (2×2)", "pool_from": "The maxima come from cells {cells}.",
    "classic": "Classic filters on a real image", "kernel": "Filter", "original": "Original", "filtered": "Filtered",
    "own": "Your network's own first-layer filters on the same image",
    "own_empty": "Train a network on the **Train** page to see its own filters here.",
    "no_data": "No dataset is available to take an image from.",
}

st.set_page_config(page_title="cnnlab · Convolution", page_icon="🧮", layout="wide")
st.title(TEXT["title"])
st.write(TEXT["intro"])

output, steps = convolution.correlate(convolution.COURSE_IMAGE, convolution.COURSE_KERNEL)
step_number = st.slider(TEXT["step"], 1, len(steps), 1)
step = steps[step_number - 1]
window = pd.DataFrame(convolution.COURSE_IMAGE.astype(int))


def highlight(frame):
    styles = pd.DataFrame("", index=frame.index, columns=frame.columns)
    styles.iloc[step.row:step.row + 3, step.col:step.col + 3] = "background-color: #fde725; font-weight: bold"
    return styles


def highlight_output(frame):
    styles = pd.DataFrame("", index=frame.index, columns=frame.columns)
    styles.iloc[step.row, step.col] = "background-color: #fde725; font-weight: bold"
    return styles


c1, c2, c3 = st.columns(3)
c1.caption(TEXT["image"])
c1.dataframe(window.style.apply(highlight, axis=None), hide_index=True)
c2.caption(TEXT["filter"])
c2.dataframe(pd.DataFrame(convolution.COURSE_KERNEL.astype(int)), hide_index=True)
c3.caption(TEXT["output"])
shown = np.full(output.shape, np.nan)
for s in steps[:step_number]:
    shown[s.row, s.col] = s.value
c3.dataframe(pd.DataFrame(shown).style.apply(highlight_output, axis=None).format(na_rep="", precision=0),
             hide_index=True)
st.markdown(TEXT["sum"].format(row=step.row, col=step.col,
                               arithmetic=convolution.arithmetic(step, convolution.COURSE_KERNEL)))
st.caption(TEXT["window"])

st.subheader(TEXT["size"])
st.write(TEXT["size_text"])
a, b, c, d = st.columns(4)
n = a.slider(TEXT["n"], 3, 32, 28)
k = b.slider(TEXT["k"], 1, 7, 3)
s = c.slider(TEXT["s"], 1, 4, 1)
padding = d.radio(TEXT["padding"], ["valid", "same"], horizontal=True)
out = convolution.output_size(n, k, s, padding)
if out == 0:
    st.warning(TEXT["too_small"])
else:
    st.markdown(TEXT["size_result"].format(n=n, k=k, s=s, padding=padding, out=out))

st.subheader(TEXT["pool"])
st.write(TEXT["pool_text"])
pooled, where = convolution.max_pool(convolution.POOL_GRID)
p1, p2 = st.columns(2)
p1.caption(TEXT["pool_in"])
p1.dataframe(pd.DataFrame(convolution.POOL_GRID.astype(int)), hide_index=True)
p2.caption(TEXT["pool_out"])
p2.dataframe(pd.DataFrame(pooled.astype(int)), hide_index=True)
st.caption(TEXT["pool_from"].format(cells=", ".join(f"({r}, {c})" for r, c in where)))

st.subheader(TEXT["classic"])
dataset = st.session_state.get("dataset", "mnist")
try:
    data = datasets.load(dataset, allow_download=False)
except datasets.DatasetUnavailable:
    data = datasets.load("mnist", allow_download=False)
image = datasets.preprocess_images(data.x_test[:1])[0]
image = image[..., 0] if image.shape[-1] == 1 else image
name = st.selectbox(TEXT["kernel"], list(convolution.CLASSIC_KERNELS), index=1)
kernel = convolution.CLASSIC_KERNELS[name]
filtered = convolution.filter_image(image, kernel)
f1, f2, f3 = st.columns([1, 1, 1])
f1.image(inspection.upscale(inspection.to_uint8(image), 8), caption=TEXT["original"])
f2.dataframe(pd.DataFrame(np.round(kernel, 3)), hide_index=True)
f3.image(inspection.upscale(inspection.to_uint8(inspection.normalize(filtered)), 8), caption=TEXT["filtered"])

st.subheader(TEXT["own"])
stored = [r for r in ui.store().list() if r.config.dataset == data.info.name]
if not stored:
    st.info(TEXT["own_empty"])
else:
    model = ui.model(stored[0].id)
    names = inspection.conv_layer_names(model)
    if names:
        kernels = np.asarray(model.get_layer(names[0]).get_weights()[0])  # (k, k, in, out)
        gray = image if image.ndim == 2 else image.mean(axis=-1)
        responses = [inspection.normalize(convolution.filter_image(gray, kernels[:, :, :, i].mean(axis=-1)))
                     for i in range(min(16, kernels.shape[-1]))]
        coloured = [inspection.apply_colormap(r) / 255.0 for r in responses]
        st.image(inspection.to_uint8(inspection.tile(coloured, columns=8, pad=2, scale=3)),
                 caption=ui.describe(stored[0]))
