"""Data: what the images look like, how many per class, and how they are prepared for the network."""

import io

import numpy as np
import pandas as pd
import streamlit as st

import ui
from cnnlab import archives, charts, datasets, downloads, i18n, inspection
from cnnlab.errors import CnnlabError
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
    data = None
    st.warning(str(error))
if data is not None:
    st.info(t("data.source", source=data.source.describe(), variant=data.variant_label,
              size=t("data.size", title=info.title, train=len(data.x_train), test=len(data.x_test))))


FOLDER_HINTS = {"mnist": "data.full_folder_mnist", "fashion_mnist": "data.full_folder_fashion"}


def download_progress(name):
    """The server's download of this dataset, redrawn every second while it runs (no st.* in its thread)."""
    download = ui.downloads().get(name)
    if download is None:
        return
    if download.status == "running":
        st.progress(download.progress.fraction, text=download.progress.describe())
        if st.button(t("data.download_stop"), key=f"stop_download_{name}"):
            download.stop_requested = True
    elif download.status == "failed":
        st.error(str(download.error))
    elif st.session_state.get("download_seen") != id(download):
        st.session_state["download_seen"] = id(download)
        st.rerun()  # just finished: the whole page again, with the downloaded copy
    else:
        st.success(t("data.download_done", title=info.title, path=download.source.path))


def get_the_data(name, data):
    """How to bring the whole dataset to this server: a download (where the network allows), a folder, an upload."""
    download = ui.downloads().get(name)
    running = download is not None and download.status == "running"
    if data is not None and data.variant == "full" and not running:
        return
    if data is not None and not running:  # the sample or another copy is here: the whole one is optional
        with st.expander(t("data.get_header", title=info.title)):
            get_the_whole(name, running)
        return
    st.header(t("data.get_header", title=info.title))
    get_the_whole(name, running)


def get_the_whole(name, running):
    """The download (or its progress), and the ways in without a network."""
    if running:
        st.fragment(download_progress, run_every=1.0)(name)
        return
    download_progress(name)  # a finished one: its result
    if downloads.available(name):
        if st.button(t("data.download", title=info.title, size=info.download_size), type="primary",
                     key=f"download_{name}"):
            ui.downloads().start(name)
            st.rerun()
    else:
        st.caption(t("data.no_network", title=info.title))
    if name != "cifar10":
        st.markdown(t(FOLDER_HINTS[name], folder=str(datasets.data_area())))
        return
    st.markdown(t("data.cifar_folder", folder=str(datasets.data_area())))
    found = datasets.data_area() / "cifar-10-python.tar.gz"
    if found.is_file() and st.button(t("data.cifar_check_folder"), key="cifar_folder"):
        with st.spinner(t("data.cifar_checking")):
            try:
                archives.import_cifar(found)
                found.unlink()  # checked and unpacked: the archive itself is no longer needed
                st.rerun()
            except CnnlabError as error:
                st.error(str(error))
    st.markdown(t("data.cifar_upload_intro"))
    if not ui.teacher_allowed("cifar_token"):
        st.caption(t("data.teacher_only"))
        return
    upload = st.file_uploader(t("data.cifar_upload"), type=["gz"], key="cifar_upload",
                              max_upload_size=archives.MAX_ARCHIVE_BYTES // archives.MB)
    if upload is not None and st.button(t("data.cifar_import"), key="cifar_import", type="primary"):
        with st.spinner(t("data.cifar_checking")):
            try:
                archives.import_cifar(io.BytesIO(upload.getvalue()), archive_name=upload.name)
                st.rerun()
            except CnnlabError as error:
                st.error(str(error))


get_the_data(name, data)
if data is None:
    st.stop()

st.header(t("data.grid"))
rows = inspection.samples_per_class(data.x_train, data.y_train, info.num_classes, per_class=10)
for label, images in enumerate(rows):
    left, right = st.columns([1, 6])
    left.markdown(f"**{info.class_names[label]}**")
    if not len(images):  # a small copy of the data can lack a class
        right.caption(t("data.no_examples", name=info.class_names[label]))
        continue
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
