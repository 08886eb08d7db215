"""Inside the network: the filters of every conv layer and the feature maps of one image."""

import numpy as np
import pandas as pd
import streamlit as st

import ui
from cnnlab import i18n, training
from cnnlab.course import exports
from cnnlab.data import catalogue
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t
from cnnlab.insight import explain, inspection

ui.page("inside.title", "🔬")
st.session_state.setdefault("inside_index", 0)  # a point chosen on Learned sets it
st.write(t("inside.intro"))
run = ui.pick_run(t("inside.run"), t("inside.empty"))
if run is None:
    st.stop()
ui.take_home(run)
model = ui.model(run.id)
extractor, names = ui.extractor(run.id)
if not names:
    st.info(t("inside.no_conv"))
    st.stop()
info = run.info

st.header(t("inside.filters"))
st.caption(t("inside.filters_text"))
for name in names:
    grid, (count, k, _, depth) = inspection.filter_grid(model, name)
    ui.image(st, grid, caption=t("inside.layer_filters", name=name, count=count, k=k, depth=depth))

st.header(t("inside.maps"))
source = st.radio(t("inside.image_from"), [t("inside.test_image"), t("inside.upload")], horizontal=True)
if source == t("inside.test_image"):
    data = ui.run_data(run)  # the very test set this run was evaluated on
    if data is None:
        st.stop()
    st.session_state["inside_index"] = min(int(st.session_state["inside_index"]), len(data.x_test) - 1)
    index = st.number_input(t("inside.index"), 0, len(data.x_test) - 1, key="inside_index")
    image, label = data.x_test[index], info.class_names[data.y_test[index]]
else:
    try:
        exports.require_pictures_sent(ui.who(), run)  # a held-out copy's run: not until its ranking is revealed
    except CnnlabError as error:
        st.info(str(error))
        st.stop()
    upload = st.file_uploader(t("inside.upload_label"), type=["png", "jpg", "jpeg", "gif", "webp", "bmp"],
                              max_upload_size=ui.IMAGE_UPLOAD_MB)
    if upload is None:
        st.info(t("inside.upload_hint"))
        st.stop()
    try:
        image = inspection.image_from_upload(upload.getvalue(), info.image_shape,
                                             as_imported=catalogue.is_own(run.config.dataset))
    except CnnlabError as error:
        st.error(t("inside.bad_upload", error=error))
        st.stop()
    label = upload.name

layer = st.selectbox(t("inside.layer"), names)
maps = inspection.feature_maps(extractor, names, image)[layer]  # (h, w, channels)
left, right = st.columns([1, 4])
ui.image(left, inspection.upscale(image, 6), caption=t("inside.input", label=label))
ui.image(right, inspection.feature_map_grid(maps), caption=t("inside.maps_caption",
    count=maps.shape[-1], name=layer, h=maps.shape[0], w=maps.shape[1]))
st.caption(t("inside.legend"))

# ---------------------------------------------------------------- why it decided
st.header(t("inside.why"))
st.write(t("inside.why_text"))
probabilities = training.predict(model, image[np.newaxis])[0]
ranked = explain.top_classes(probabilities, info.class_names)
st.markdown(t("inside.top3", classes=[t("inside.class_probability", name=name, probability=p) for _, name, p in ranked]))
c1, c2 = st.columns(2)
class_labels = [f"{name} ({i18n.percent(float(p), 1)})" for name, p in zip(info.class_names, probabilities)]
explained = c1.selectbox(t("inside.explain_class"), range(info.num_classes), index=ranked[0][0],
                         format_func=class_labels.__getitem__, help=t("inside.explain_class_help"), key="why_class")
cam_layer = c2.selectbox(t("inside.cam_layer"), names, index=len(names) - 1, key="why_layer",
                         help=t("inside.cam_layer_help"))
name = info.class_names[explained]
heat_cam = ui.grad_cam(run.id)(image, explained, cam_layer)
heat_occlusion = inspection.occlusion(model, explain.grey(image) if info.image_shape[-1] == 1 else image / 255.0,
                                      explained)
scale = max(1, 224 // image.shape[0])
background = explain.grey(image)
g1, g2 = st.columns(2)
ui.image(g1, inspection.upscale(inspection.overlay(background, heat_cam), scale), width=224,
         caption=t("inside.cam_caption", name=name, layer=cam_layer),
         alt=t("inside.cam_alt", name=name, layer=cam_layer, where=explain.where(heat_cam)))
ui.image(g2, inspection.upscale(inspection.overlay(background, heat_occlusion), scale), width=224,
         caption=t("inside.occlusion_caption", name=name),
         alt=t("inside.occlusion_alt", name=name, where=explain.where(heat_occlusion)))
if not heat_cam.any():
    st.info(t("inside.cam_nothing", name=name, layer=cam_layer))
if explained != ranked[0][0]:
    st.caption(t("inside.what_if", name=name, winner=ranked[0][1]))
st.caption(t("inside.legend"))

# ---------------------------------------------------------------- what each filter looks for
st.header(t("inside.patterns"))
st.write(t("inside.patterns_text"))
pattern_layer = st.selectbox(t("inside.layer"), names, key="pattern_layer")
if st.button(t("inside.patterns_compute", layer=pattern_layer), key="patterns_go") or \
        st.session_state.get("patterns_shown") == (run.id, pattern_layer):
    st.session_state["patterns_shown"] = (run.id, pattern_layer)
    with st.spinner(t("inside.patterns_working")):
        patterns = explain.filter_patterns(ui.store(), run, model, pattern_layer)
    shown = patterns if patterns.shape[-1] == 3 else patterns[..., 0]
    ui.image(st, inspection.to_uint8(inspection.tile(shown, columns=16, pad=1, scale=3)),
             caption=t("inside.patterns_caption", count=len(patterns), layer=pattern_layer))

# ---------------------------------------------------------------- one neuron, step by step
st.header(t("inside.neuron"))
st.write(t("inside.neuron_text"))
n1, n2, n3, n4 = st.columns(4)
neuron_layer = n1.selectbox(t("inside.layer"), names, key="neuron_layer")
layer_maps = inspection.feature_maps(extractor, names, image)[neuron_layer]  # (h, w, channels)
channel = n2.number_input(t("inside.neuron_channel"), 0, layer_maps.shape[-1] - 1, 0, key="neuron_channel")
row = n3.number_input(t("inside.neuron_row"), 0, layer_maps.shape[0] - 1, layer_maps.shape[0] // 2, key="neuron_row")
col = n4.number_input(t("inside.neuron_col"), 0, layer_maps.shape[1] - 1, layer_maps.shape[1] // 2, key="neuron_col")
cell = explain.neuron(model, image, neuron_layer, int(row), int(col), int(channel))
top, left, bottom, right = cell.field
f1, f2 = st.columns([1, 2])
ui.image(f1, explain.field_picture(image, cell.field, scale=max(1, 196 // image.shape[0])), width=196,
         caption=t("inside.field_caption", h=bottom - top, w=right - left, top=top, left=left),
         alt=t("inside.field_alt", h=bottom - top, w=right - left, top=top, left=left, layer=neuron_layer, row=row,
               col=col))
depth = cell.window.shape[-1]
which = f2.number_input(t("inside.neuron_input_channel", count=depth), 0, depth - 1, 0, key="neuron_input_channel") \
    if depth > 1 else 0
tables = f2.columns(3)
for column, (title, values) in zip(tables, ((t("inside.neuron_window"), cell.window[..., which]),
                                            (t("inside.neuron_weights"), cell.kernel[..., which]),
                                            (t("inside.neuron_products"), cell.products[..., which]))):
    column.caption(title)
    column.dataframe(pd.DataFrame(values).map(lambda v: i18n.number(float(v), ".3f")), hide_index=True)
sums = cell.products.sum(axis=(0, 1))  # (in_channels,)
st.markdown(t("inside.neuron_sum", count=cell.window.size, channels=depth, products=float(sums.sum()),
              bias=cell.bias, total=cell.total, activation=cell.activation, value=cell.value,
              network=cell.network_value))
if depth > 1:
    listed = ", ".join(i18n.number(float(v), ".3f") for v in sums[:8])
    st.caption(t("inside.neuron_channels_more", sums=listed, more=depth - 8) if depth > 8
               else t("inside.neuron_channels", sums=listed))
