"""Inside the network: the filters of every conv layer and the feature maps of one image."""

import streamlit as st

import ui
from cnnlab import inspection
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t

ui.page("inside.title", "🔬")
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
    index = st.number_input(t("inside.index"), 0, len(data.x_test) - 1, 0)
    image, label = data.x_test[index], info.class_names[data.y_test[index]]
else:
    upload = st.file_uploader(t("inside.upload_label"), type=["png", "jpg", "jpeg", "gif", "webp", "bmp"],
                              max_upload_size=ui.IMAGE_UPLOAD_MB)
    if upload is None:
        st.info(t("inside.upload_hint"))
        st.stop()
    try:
        image = inspection.image_from_upload(upload.getvalue(), info.image_shape)
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
