"""Draw: a digit drawn on a canvas (or an uploaded photo) through MNIST's preprocessing into a network."""

import numpy as np
import streamlit as st

from cnnlab import i18n
from cnnlab.course import exports
from cnnlab.data import catalogue, pictures
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t
from cnnlab.insight import charts, drawing, inspection

import ui

CANVAS_SIZE = 280

ui.page("draw.title", "✏️")
st.write(t("draw.intro"))

# ---------------------------------------------------------------- which network
choices, labels = [], {}
try:
    bundle = drawing.bundled()
    choices.append(ui.BUNDLED)
    labels[ui.BUNDLED] = t("draw.bundled", accuracy=bundle.manifest["test_accuracy"],
                           test=bundle.manifest["test_images"], drawn=bundle.manifest["stroke_drawings_accuracy"],
                           strokes=bundle.manifest["stroke_drawings"])
except CnnlabError as error:
    st.warning(t("draw.bundled_missing", error=error))
for run in ui.store().list(who=ui.who()):
    if run.info.image_shape == (28, 28, 1):
        choices.append(run.id)
        labels[run.id] = ui.describe(run)
if not choices:
    st.info(t("draw.no_model"))
    st.stop()
chosen = st.selectbox(t("draw.model"), choices, format_func=labels.get, key="draw_model")
if chosen == ui.BUNDLED:
    dataset, class_names = bundle.config.dataset, bundle.class_names
else:
    run = ui.store().get(chosen)
    dataset, class_names = run.config.dataset, run.info.class_names  # the names of the very data it learned
imported = catalogue.is_own(dataset)  # pictures a class imported: prepared as the import did, not as MNIST
if imported:
    st.info(t("draw.imported_note", title=run.info.title))
elif catalogue.base_name(dataset) != "mnist":  # an assignment's copy of MNIST is MNIST's digits
    st.info(t("draw.fashion_note"))

# ---------------------------------------------------------------- the input
source = st.radio(t("draw.source"), [t("draw.draw"), t("draw.upload")], horizontal=True,
                  index=0 if catalogue.base_name(dataset) == "mnist" else 1, key="draw_source")
pixels = None
left, right = st.columns([1, 1])
if source == t("draw.draw"):
    from streamlit_drawable_canvas import st_canvas  # needs a running app: imported here, not in cnnlab

    st.session_state.setdefault("canvas_round", 0)
    with left:
        width = st.slider(t("draw.stroke"), 8, 40, 20, key="stroke_width")
        canvas = st_canvas(stroke_width=width, stroke_color="#FFFFFF", background_color="#000000",
                           height=CANVAS_SIZE, width=CANVAS_SIZE, drawing_mode="freedraw",
                           return_image_data=True, update_streamlit=True,
                           key=f"canvas_{st.session_state['canvas_round']}")
        st.caption(t("draw.canvas_help"))
        if st.button(t("draw.clear")):
            st.session_state["canvas_round"] += 1  # a new key is a new, empty canvas
            st.rerun()
    pixels = canvas.image_data  # (280, 280, 4) uint8, or None before the first stroke
else:
    try:
        if chosen != ui.BUNDLED:  # a held-out copy's run: not until its ranking is revealed
            exports.require_pictures_sent(ui.who(), run)
    except CnnlabError as error:
        right.info(str(error))
        st.stop()
    with left:
        upload = st.file_uploader(t("draw.upload_label"), type=list(pictures.EXTENSIONS), key="draw_upload",
                                  max_upload_size=ui.IMAGE_UPLOAD_MB)
    if upload is None:
        right.info(t("draw.upload_hint"))
        st.stop()
    try:
        pixels = pictures.to_array(pictures.read_image(upload.getvalue()))
    except CnnlabError as error:
        right.error(t("draw.bad_upload", error=error))
        st.stop()

if pixels is None:
    right.info(t("draw.canvas_help"))
    st.stop()
try:
    if imported:  # the canvas is white ink on black; an upload's transparency is laid on white, as the import did
        prepared = drawing.prepare_picture(pixels, run.info.image_shape,
                                           background=0.0 if source == t("draw.draw") else 1.0)
    else:
        prepared = drawing.prepare(pixels, box=drawing.box_for(dataset))
except drawing.BlankImage as error:
    right.info(t("draw.blank", error=error))
    st.stop()

# ---------------------------------------------------------------- the answer
model = ui.model(chosen)
probabilities = drawing.classify(model, prepared.network_input)
(label, probability), *others = drawing.ranked(probabilities, class_names, top=3)
with right:
    st.markdown(f"## {t('draw.prediction', label=label)}")
    st.write(t("draw.confidence", probability=probability,
                                       others=", ".join(f"{name} ({i18n.percent(p, 1)})" for name, p in others)))
    if probability < 0.5:
        st.warning(t("draw.unsure"))
    st.altair_chart(charts.probabilities(probabilities, class_names), width="stretch")
    st.caption(t("draw.bars_alt", all=", ".join(f"{n} {i18n.percent(p, 1)}" for n, p in zip(class_names, probabilities))))

st.header(t("draw.steps"))
note = t("draw.inverted_note") if prepared.inverted else t("draw.alpha_note") if prepared.used_alpha else ""
ink = prepared.ink
shown_ink = inspection.upscale(ink, max(1, 140 // max(ink.shape))) if max(ink.shape) < 140 else ink
steps = [
    (shown_ink, t("draw.step_ink", h=ink.shape[0], w=ink.shape[1], inverted=note)),
    (prepared.cropped, t("draw.step_crop", h=prepared.cropped.shape[0], w=prepared.cropped.shape[1])),
    (inspection.upscale(prepared.fitted, 7), t("draw.step_fit",
        box=drawing.box_for(dataset), h=prepared.fitted.shape[0], w=prepared.fitted.shape[1])),
    (inspection.upscale(prepared.network_input, 5), t("draw.step_input")),
] if not imported else [
    (shown_ink, t("draw.step_picture", h=ink.shape[0], w=ink.shape[1])),
    (inspection.upscale(prepared.network_input, 5), t("draw.step_imported", h=prepared.network_input.shape[0],
                                                       w=prepared.network_input.shape[1])),
]
for column, (image, caption) in zip(st.columns(4), steps):
    ui.image(column, inspection.to_uint8(image), caption=caption, width=140)

st.header(t("draw.saliency"))
heat = inspection.occlusion(model, prepared.network_input, class_names.index(label))
ui.image(st, inspection.upscale(inspection.overlay(prepared.network_input, heat), 8), width=224,
         caption=t("draw.saliency_caption", label=label))

st.header(t("draw.maps"))
extractor, names = ui.extractor(chosen)
if not names:
    st.info(t("draw.no_conv"))
    st.stop()
maps = inspection.feature_maps(extractor, names, prepared.network_input[..., np.newaxis])
for name in names:
    layer_maps = maps[name]  # (h, w, channels)
    shown = min(16, layer_maps.shape[-1])
    ui.image(st, inspection.feature_map_grid(layer_maps, limit=shown, columns=16, size=56),
             caption=t("draw.maps_caption", name=name, count=shown, total=layer_maps.shape[-1],
                       h=layer_maps.shape[0], w=layer_maps.shape[1]))
