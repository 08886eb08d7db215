"""Convolution: the operation itself, step by step, then classic kernels and the student's own filters."""

import numpy as np
import pandas as pd
import streamlit as st

import ui
from cnnlab import i18n
from cnnlab.data import datasets, ownership
from cnnlab.i18n import t
from cnnlab.insight import convolution, inspection

ui.page("convolution.title", "🧮")
st.write(t("convolution.intro"))

output, steps = convolution.correlate(convolution.COURSE_IMAGE, convolution.COURSE_KERNEL)
step_number = st.slider(t("convolution.step"), 1, len(steps), 1)
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
c1.caption(t("convolution.image"))
c1.dataframe(window.style.apply(highlight, axis=None), hide_index=True)
c2.caption(t("convolution.filter"))
c2.dataframe(pd.DataFrame(convolution.COURSE_KERNEL.astype(int)), hide_index=True)
c3.caption(t("convolution.output"))
shown = convolution.computed_so_far(output.shape, steps[:step_number])  # cells not reached yet stay blank
c3.dataframe(pd.DataFrame(shown).style.apply(highlight_output, axis=None), hide_index=True)
st.markdown(t("convolution.sum", row=step.row, col=step.col,
                               arithmetic=convolution.arithmetic(step, convolution.COURSE_KERNEL)))
st.caption(t("convolution.window"))

st.header(t("convolution.size"))
st.write(t("convolution.size_text"))
a, b, c, d = st.columns(4)
n = a.slider(t("convolution.n"), 3, 32, 28)
k = b.slider(t("convolution.k"), 1, 7, 3)
s = c.slider(t("convolution.s"), 1, 4, 1)
padding = d.radio(t("convolution.padding"), ["valid", "same"], horizontal=True)
out = convolution.output_size(n, k, s, padding)
if out == 0:
    st.warning(t("convolution.too_small"))
else:
    st.markdown(t("convolution.size_result", n=n, k=k, s=s, padding=padding, out=out))

st.header(t("convolution.pool"))
st.write(t("convolution.pool_text"))
pooled, where = convolution.max_pool(convolution.POOL_GRID)
p1, p2 = st.columns(2)
p1.caption(t("convolution.pool_in"))
p1.dataframe(pd.DataFrame(convolution.POOL_GRID.astype(int)), hide_index=True)
p2.caption(t("convolution.pool_out"))
p2.dataframe(pd.DataFrame(pooled.astype(int)), hide_index=True)
st.caption(t("convolution.pool_from", cells=", ".join(f"({r}, {c})" for r, c in where)))

st.header(t("convolution.classic"))
# the session's dataset, or what stands in for it: not a private one it may no longer open, nor a whole dataset an
# assignment holds part of back from its class (cnnlab.data.ownership.stand_in)
dataset = ownership.stand_in(ui.who(), st.session_state.get("dataset", "mnist"))
try:
    data = datasets.load(dataset)
except datasets.DatasetUnavailable:
    data = datasets.load(ownership.stand_in(ui.who(), "mnist"))
image = datasets.preprocess_images(data.x_test[:1])[0]
image = image[..., 0] if image.shape[-1] == 1 else image
name = st.selectbox(t("convolution.kernel"), list(convolution.CLASSIC_KERNELS), index=1, format_func=t)
kernel = convolution.CLASSIC_KERNELS[name]
filtered = convolution.filter_image(image, kernel)
f1, f2, f3 = st.columns([1, 1, 1])
ui.image(f1, inspection.upscale(inspection.to_uint8(image), 8), caption=t("convolution.original"))
f2.dataframe(pd.DataFrame(kernel).map(lambda w: i18n.number(float(w), ".3g")), hide_index=True)
ui.image(f3, inspection.upscale(inspection.to_uint8(inspection.normalize(filtered)), 8), caption=t("convolution.filtered"))

st.header(t("convolution.own"))
stored = [r for r in ui.store().list(who=ui.who()) if r.config.dataset == data.info.name]
if not stored:
    st.info(t("convolution.own_empty"))
else:
    model = ui.model(stored[0].id)
    names = inspection.conv_layer_names(model)
    if names:
        kernels = np.asarray(model.get_layer(names[0]).get_weights()[0])  # (k, k, in, out)
        gray = image if image.ndim == 2 else image.mean(axis=-1)
        responses = [inspection.normalize(convolution.filter_image(gray, kernels[:, :, :, i].mean(axis=-1)))
                     for i in range(min(16, kernels.shape[-1]))]
        coloured = [inspection.apply_colormap(r) / 255.0 for r in responses]
        ui.image(st, inspection.to_uint8(inspection.tile(coloured, columns=8, pad=2, scale=3)),
                 caption=ui.describe(stored[0]), alt=t("convolution.own"))
