"""Draw: a digit drawn on a canvas (or an uploaded photo) through MNIST's preprocessing into a network."""

import numpy as np
import streamlit as st

import ui
from cnnlab import charts, datasets, drawing, inspection
from cnnlab.errors import CnnlabError

TEXT = {
    "title": "✏️ Draw a digit",
    "intro": "Draw a digit with the mouse (or a finger on a tablet), or upload a photo of one written on paper. "
             "It goes through the same preparation MNIST's digits went through, then into the network.",
    "model": "Network that reads it",
    "bundled": "cnnlab's bundled MNIST model — {accuracy:.1%} on MNIST's test images, {drawn:.1%} on drawn digits",
    "bundled_missing": "The bundled model is not installed ({error}); pick a run you trained.",
    "no_model": "There is no network to read drawings: train an MNIST run on the **Train** page.",
    "source": "Input", "draw": "Draw on the canvas", "upload": "Upload a photo or scan",
    "stroke": "Pen width", "clear": "Clear the canvas",
    "canvas_help": "White ink on black, like MNIST. Draw one digit large, filling most of the square. "
                   "The canvas toolbar also has undo.",
    "upload_label": "A photo or scan of one handwritten digit (PNG, JPEG, GIF, WebP or BMP, up to 5 MB)",
    "upload_hint": "Upload an image to have it read. Dark ink on light paper works, so do transparent backgrounds.",
    "blank": "{error}",
    "bad_upload": "That file cannot be used: {error}",
    "steps": "What the network sees, step by step",
    "step_ink": "1. Your image as ink ({h}×{w}){inverted}",
    "inverted_note": ", colours inverted: dark ink on light paper",
    "alpha_note": ", ink from the transparency",
    "step_crop": "2. Cropped to the ink ({h}×{w})",
    "step_fit": "3. Scaled to fit {box}×{box} ({h}×{w}), shape kept",
    "step_input": "4. Placed in 28×28 by its centre of mass: the network's input",
    "prediction": "The network reads: **{label}**",
    "confidence": "{probability:.1%} sure. Next most likely: {others}.",
    "unsure": "The network is unsure (below 50 %): try drawing the digit larger and clearer.",
    "bars_alt": "Probabilities of every class: {all}.",
    "saliency": "Which pixels decided it",
    "saliency_caption": "Occlusion map: a small black square was slid over your drawing. Where it lowered "
                        "the probability of “{label}” the most, the pixels glow yellow; where hiding them "
                        "changed nothing they stay grey (viridis colour map).",
    "maps": "Feature maps of your drawing",
    "maps_caption": "{name}: the first {count} of {total} feature maps ({h}×{w}); yellow = strong response",
    "no_conv": "This network has no convolution layer, so it has no feature maps to show.",
    "fashion_note": "This run was trained on Fashion-MNIST: upload a photo of a piece of clothing on a plain "
                    "background (it is scaled to fill 28×28, like Fashion-MNIST's images).",
}
CANVAS_SIZE = 280

st.set_page_config(page_title="cnnlab · Draw", page_icon="✏️", layout="wide")
st.title(TEXT["title"])
st.write(TEXT["intro"])

# ---------------------------------------------------------------- which network
choices, labels = [], {}
try:
    bundle = drawing.bundled()
    choices.append(ui.BUNDLED)
    labels[ui.BUNDLED] = TEXT["bundled"].format(accuracy=bundle.manifest["test_accuracy"],
                                                drawn=bundle.manifest["stroke_drawings_accuracy"])
except CnnlabError as error:
    st.warning(TEXT["bundled_missing"].format(error=error))
for run in ui.store().list():
    if run.info.image_shape == (28, 28, 1):
        choices.append(run.id)
        labels[run.id] = ui.describe(run)
if not choices:
    st.info(TEXT["no_model"])
    st.stop()
chosen = st.selectbox(TEXT["model"], choices, format_func=labels.get, key="draw_model")
if chosen == ui.BUNDLED:
    dataset, class_names = bundle.config.dataset, bundle.class_names
else:
    dataset = ui.store().get(chosen).config.dataset
    class_names = datasets.get_info(dataset).class_names
if dataset != "mnist":
    st.info(TEXT["fashion_note"])

# ---------------------------------------------------------------- the input
source = st.radio(TEXT["source"], [TEXT["draw"], TEXT["upload"]], horizontal=True,
                  index=0 if dataset == "mnist" else 1, key="draw_source")
pixels = None
left, right = st.columns([1, 1])
if source == TEXT["draw"]:
    from streamlit_drawable_canvas import st_canvas  # needs a running app: imported here, not in cnnlab

    st.session_state.setdefault("canvas_round", 0)
    with left:
        width = st.slider(TEXT["stroke"], 8, 40, 20, key="stroke_width")
        canvas = st_canvas(stroke_width=width, stroke_color="#FFFFFF", background_color="#000000",
                           height=CANVAS_SIZE, width=CANVAS_SIZE, drawing_mode="freedraw",
                           return_image_data=True, update_streamlit=True,
                           key=f"canvas_{st.session_state['canvas_round']}")
        st.caption(TEXT["canvas_help"])
        if st.button(TEXT["clear"]):
            st.session_state["canvas_round"] += 1  # a new key is a new, empty canvas
            st.rerun()
    pixels = canvas.image_data  # (280, 280, 4) uint8, or None before the first stroke
else:
    with left:
        upload = st.file_uploader(TEXT["upload_label"], type=list(drawing.EXTENSIONS), key="draw_upload")
    if upload is None:
        right.info(TEXT["upload_hint"])
        st.stop()
    try:
        pixels = drawing.to_array(drawing.read_image(upload.getvalue()))
    except CnnlabError as error:
        right.error(TEXT["bad_upload"].format(error=error))
        st.stop()

if pixels is None:
    right.info(TEXT["canvas_help"])
    st.stop()
try:
    prepared = drawing.prepare(pixels, box=drawing.box_for(dataset))
except drawing.BlankImage as error:
    right.info(TEXT["blank"].format(error=error))
    st.stop()

# ---------------------------------------------------------------- the answer
model = ui.model(chosen)
probabilities = drawing.classify(model, prepared.network_input)
(label, probability), *others = drawing.ranked(probabilities, class_names, top=3)
with right:
    st.markdown(f"## {TEXT['prediction'].format(label=label)}")
    st.write(TEXT["confidence"].format(probability=probability,
                                       others=", ".join(f"{name} ({p:.1%})" for name, p in others)))
    if probability < 0.5:
        st.warning(TEXT["unsure"])
    st.altair_chart(charts.probabilities(probabilities, class_names), width="stretch")
    st.caption(TEXT["bars_alt"].format(all=", ".join(f"{n} {p:.1%}" for n, p in zip(class_names, probabilities))))

st.subheader(TEXT["steps"])
note = TEXT["inverted_note"] if prepared.inverted else TEXT["alpha_note"] if prepared.used_alpha else ""
ink = prepared.ink
shown_ink = inspection.upscale(ink, max(1, 140 // max(ink.shape))) if max(ink.shape) < 140 else ink
steps = [
    (shown_ink, TEXT["step_ink"].format(h=ink.shape[0], w=ink.shape[1], inverted=note)),
    (prepared.cropped, TEXT["step_crop"].format(h=prepared.cropped.shape[0], w=prepared.cropped.shape[1])),
    (inspection.upscale(prepared.fitted, 7), TEXT["step_fit"].format(
        box=drawing.box_for(dataset), h=prepared.fitted.shape[0], w=prepared.fitted.shape[1])),
    (inspection.upscale(prepared.network_input, 5), TEXT["step_input"]),
]
for column, (image, caption) in zip(st.columns(4), steps):
    column.image(inspection.to_uint8(image), caption=caption, width=140)

st.subheader(TEXT["saliency"])
heat = inspection.occlusion(model, prepared.network_input, class_names.index(label))
st.image(inspection.upscale(inspection.overlay(prepared.network_input, heat), 8), width=224,
         caption=TEXT["saliency_caption"].format(label=label))

st.subheader(TEXT["maps"])
extractor, names = ui.extractor(chosen)
if not names:
    st.info(TEXT["no_conv"])
    st.stop()
maps = inspection.feature_maps(extractor, names, prepared.network_input[..., np.newaxis])
for name in names:
    layer_maps = maps[name]  # (h, w, channels)
    shown = min(16, layer_maps.shape[-1])
    st.image(inspection.feature_map_grid(layer_maps, limit=shown, columns=16, size=56), caption=TEXT["maps_caption"].format(name=name, count=shown, total=layer_maps.shape[-1],
                                                 h=layer_maps.shape[0], w=layer_maps.shape[1]))
