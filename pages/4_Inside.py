"""Inside the network: the filters of every conv layer and the feature maps of one image."""

import streamlit as st

import ui
from cnnlab import datasets, inspection
from cnnlab.errors import CnnlabError

TEXT = {
    "title": "🔬 Inside the network",
    "intro": "A convolution layer is a set of small filters. Each one slides over its input and lights up "
             "where it finds its pattern: the result is a feature map.",
    "run": "Trained run", "empty": "No trained run yet: train one on the **Train** page first.",
    "filters": "Filters", "filters_text": "Every filter of each conv layer (weights scaled to light = high, dark = low; "
                                          "deeper layers show the mean over their input channels). The first "
                                          "layer's filters are shown in colour for colour images.",
    "layer_filters": "{name}: {count} filters of {k}×{k}×{depth}",
    "maps": "Feature maps", "image_from": "Image", "test_image": "a test image", "upload": "an uploaded image",
    "index": "Test image number", "upload_label": "Upload an image (PNG, JPEG, GIF, WebP, BMP)",
    "upload_hint": "Upload an image to see its feature maps.",
    "layer": "Layer", "input": "Input: {label}", "maps_caption": "{count} feature maps of {name} ({h}×{w}), "
                                                                "viridis colour map: yellow = strong response, purple = none",
    "no_conv": "This network has no convolution layer, so it has no filters or feature maps to show.",
    "bad_upload": "That upload cannot be used: {error}",
    "legend": "Colour legend: purple (weak) → teal → yellow (strong).",
}

st.set_page_config(page_title="cnnlab · Inside", page_icon="🔬", layout="wide")
st.title(TEXT["title"])
st.write(TEXT["intro"])
run = ui.pick_run(TEXT["run"], TEXT["empty"])
if run is None:
    st.stop()
model = ui.model(run.id)
extractor, names = ui.extractor(run.id)
if not names:
    st.info(TEXT["no_conv"])
    st.stop()
info = run.info

st.subheader(TEXT["filters"])
st.caption(TEXT["filters_text"])
for name in names:
    grid, (count, k, _, depth) = inspection.filter_grid(model, name)
    st.image(grid, caption=TEXT["layer_filters"].format(name=name, count=count, k=k, depth=depth))

st.subheader(TEXT["maps"])
source = st.radio(TEXT["image_from"], [TEXT["test_image"], TEXT["upload"]], horizontal=True)
if source == TEXT["test_image"]:
    try:
        data = datasets.load(run.config.dataset, allow_download=False)
    except datasets.DatasetUnavailable as error:
        st.error(str(error))
        st.stop()
    index = st.number_input(TEXT["index"], 0, len(data.x_test) - 1, 0)
    image, label = data.x_test[index], info.class_names[data.y_test[index]]
else:
    upload = st.file_uploader(TEXT["upload_label"], type=["png", "jpg", "jpeg", "gif", "webp", "bmp"])
    if upload is None:
        st.info(TEXT["upload_hint"])
        st.stop()
    try:
        image = inspection.image_from_upload(upload.getvalue(), info.image_shape)
    except CnnlabError as error:
        st.error(TEXT["bad_upload"].format(error=error))
        st.stop()
    label = upload.name

layer = st.selectbox(TEXT["layer"], names)
maps = inspection.feature_maps(extractor, names, image)[layer]  # (h, w, channels)
left, right = st.columns([1, 4])
left.image(inspection.upscale(image, 6), caption=TEXT["input"].format(label=label))
right.image(inspection.feature_map_grid(maps), caption=TEXT["maps_caption"].format(
    count=maps.shape[-1], name=layer, h=maps.shape[0], w=maps.shape[1]))
st.caption(TEXT["legend"])
