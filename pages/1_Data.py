"""Data: what the images look like, how many per class, and how they are prepared for the network."""

import numpy as np
import pandas as pd
import streamlit as st

import ui
from cnnlab import i18n
from cnnlab.data import (archives, catalogue, datasets, downloads, own_images, own_survey, ownership, pictures, sources,
                         uploads)
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t
from cnnlab.insight import charts, inspection

ui.page("data.title", "📊")
st.write(t("data.intro"))

name = ui.dataset_menu(st, t("data.dataset"))
st.session_state["dataset"] = name
try:
    info = catalogue.get_info(name)
except CnnlabError as error:  # its description damaged, or deleted while the page was drawn
    st.error(str(error))
    st.stop()
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
    ui.identify()  # who may stop it is read again on every redraw
    download = ui.downloads().get(name)
    if download is None:
        return
    if download.status == "running":
        st.progress(download.progress.fraction, text=download.progress.describe())
        if ui.allowed("import_class") and st.button(t("data.download_stop"), key=f"stop_download_{name}"):
            ui.downloads().stop(name, who=ui.who())
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
    if downloads.available(name) and not ui.allowed("import_class"):
        st.caption(t("permission.import_class"))
    elif downloads.available(name):
        if st.button(t("data.download", title=info.title, size=info.download_size), type="primary",
                     key=f"download_{name}"):
            ui.downloads().start(name, who=ui.who())
            st.rerun()
    else:
        st.caption(t("data.no_network", title=info.title))
    if name != "cifar10":
        st.markdown(t(FOLDER_HINTS[name], folder=str(sources.data_area())))
        return
    st.markdown(t("data.cifar_folder", folder=str(sources.data_area())))
    found = sources.data_area() / "cifar-10-python.tar.gz"
    if found.is_file() and st.button(t("data.cifar_check_folder"), key="cifar_folder"):
        with st.spinner(t("data.cifar_checking")):
            try:
                archives.import_placed(found, who=ui.who())  # then removed; two pressing at once: one imports, one finds it done
                st.rerun()
            except CnnlabError as error:
                st.error(str(error))
    st.markdown(t("data.cifar_upload_intro"))
    if not ui.allowed("import_class"):
        st.caption(t("permission.import_class"))
        return
    upload = st.file_uploader(t("data.cifar_upload"), type=["gz"], key="cifar_upload",
                              max_upload_size=archives.MAX_ARCHIVE_BYTES // archives.MB)
    if upload is not None and st.button(t("data.cifar_import"), key="cifar_import", type="primary"):
        with st.spinner(t("data.cifar_checking")):
            try:
                upload.seek(0)
                # read where Streamlit holds it, no copy
                archives.import_cifar(upload, archive_name=upload.name, who=ui.who())
                st.rerun()
            except CnnlabError as error:
                st.error(str(error))
            finally:
                ui.release_uploads([upload])  # imported or refused, Streamlit's copy is not kept for the session


def bring_your_own():
    """Import a class's own pictures (a zip or a folder of class folders): what was found first, then the import.
    What was sent is kept on disk until it is imported or given up (uploads.keep_upload), not in memory. An imported
    dataset is the whole class's when a teacher imports it, private to a student (within their quota) when a student
    does (own_images and cnnlab.data.ownership ask again)."""
    st.markdown(t("data.own_intro"))
    if not ui.allowed("import_own"):
        st.caption(t("permission.import_own"))
        return
    if ownership.is_private_import(ui.who()):
        st.caption(t("data.own_private_note", used=ownership.used_bytes(ui.who().person_id) / ownership.MB,
                     quota=ownership.quota_bytes() / ownership.MB))
    kind = st.radio(t("data.own_kind"), ["zip", "folder"], horizontal=True, key="own_kind",
                    format_func={"zip": t("data.own_kind_zip"), "folder": t("data.own_kind_folder")}.get)
    sending = st.session_state.setdefault("own_round", 0)  # a fresh, empty uploader once a sending is on disk
    if kind == "zip":
        sent = st.file_uploader(t("data.own_upload_zip"), type=["zip"], key=f"own_zip_{sending}",
                                max_upload_size=uploads.MAX_UPLOAD_BYTES // uploads.MB)
        sent = [] if sent is None else [sent]
    else:
        sent = st.file_uploader(t("data.own_upload_folder"), accept_multiple_files="directory",
                                key=f"own_folder_{sending}", type=list(pictures.EXTENSIONS)) or []
    if sent:
        take_in(sent, folder=kind == "folder")
    if "own_refused" in st.session_state:  # a sending that could not be kept; the earlier one, if any, stays
        st.error(str(st.session_state["own_refused"]))
    found = st.session_state.get("own_survey")  # a Survey of the upload on disk, or why it was refused
    if found is None:
        return
    if isinstance(found, CnnlabError):
        st.error(str(found))
        return
    st.caption(t("data.own_held", name=found.source))
    show_survey(found)
    import_form(found)
    if st.button(t("data.own_discard"), key="own_discard"):
        give_up()
        st.rerun()


def take_in(sent, folder):
    """Write what the browser sent to disk (in place of this session's earlier upload, named by the session), drop
    Streamlit's copy of it, survey it (surveyed once, not on every rerun) and show an empty uploader again. When
    it cannot be kept, the session's earlier upload stays, with its survey, and the page says why."""
    st.session_state.pop("own_refused", None)
    with st.spinner(t("data.own_surveying")):
        try:
            upload = uploads.keep_upload([(f.name, f) for f in sent], folder=folder, owner=ui.student(),
                                         who=ui.who())
        except CnnlabError as error:
            upload, st.session_state["own_refused"] = None, error
            if not isinstance(st.session_state.get("own_survey"), own_survey.Survey):
                st.session_state.pop("own_survey", None)  # an earlier refusal: this one says it now
        if upload is not None:
            try:
                st.session_state["own_survey"] = own_survey.survey(upload)
            except CnnlabError as error:
                upload.remove()  # nothing can be imported from it: not kept (it replaced the earlier one)
                st.session_state["own_survey"] = error
    ui.release_uploads(sent)
    st.session_state["own_round"] += 1
    st.rerun()


def give_up():
    """Remove this session's upload from disk (discarded, or imported)."""
    st.session_state.pop("own_refused", None)
    found = st.session_state.pop("own_survey", None)
    if isinstance(found, own_survey.Survey):
        found.origin.remove()


def show_survey(found):
    st.subheader(t("data.own_found", images=found.images, classes=len(found.classes), name=found.source))
    st.dataframe(pd.DataFrame([{t("data.own_col_class"): label, t("data.own_col_images"): count}
                               for label, count in found.counts().items()]), hide_index=True)
    sizes = ", ".join(f"{w}×{h} ({i18n.number(n, ',')})" for (w, h), n in found.sizes.most_common(5))
    st.caption(t("data.own_sizes", sizes=sizes, colour=found.colour, images=found.images))
    for warning in found.warnings:
        st.warning(str(warning))
    if found.skipped:
        with st.expander(t("data.own_skipped", count=len(found.skipped))):
            st.dataframe(pd.DataFrame([{t("data.own_col_file"): file, t("data.own_col_reason"): str(why)}
                                       for file, why in found.skipped]), hide_index=True, width="stretch")


def shape_label(shape):
    height, width, channels = shape
    return t("data.own_shape_grey" if channels == 1 else "data.own_shape_colour", side=height)


def import_form(found):
    shapes = [(side, side, channels) for channels in (1, 3) for side in own_images.SIDES]
    labels = {shape: shape_label(shape) + (f" · {t('data.own_proposed')}" if shape == found.shape else "")
              for shape in shapes}
    stem = own_images.suggest_name(found.source)
    with st.form("own_import"):
        left, right = st.columns(2)
        typed = left.text_input(t("data.own_name"), value=stem, max_chars=32, help=t("data.own_name_help"))
        shape = right.selectbox(t("data.own_shape"), shapes, index=shapes.index(found.shape), format_func=labels.get)
        share = left.slider(t("data.own_test_share"), 0.1, 0.5, own_images.TEST_SHARE, step=0.05)
        seed = right.number_input(t("data.own_seed"), 0, 2 ** 31 - 1, 0)
        go = st.form_submit_button(t("data.own_import"), type="primary")
    if not go:
        return
    try:
        key = ownership.key_for(own_images.check_name(typed), ui.who())
        if key in catalogue.own_names():
            st.info(t("data.own_replaces", name=key))
        bar = st.progress(0.0, text=t("data.own_importing", done=0, total=found.images))
        info = own_images.import_images(
            found.origin, typed, shape=shape, test_share=share, seed=int(seed), survey_=found, who=ui.who(),
            on_progress=lambda done, total: bar.progress(done / total, text=t("data.own_importing", done=done,
                                                                               total=total)))
    except CnnlabError as error:
        st.error(str(error))
        return
    give_up()  # imported: the pictures sent are no longer needed
    st.session_state["dataset"] = info.name
    st.session_state["own_imported"] = info.name
    st.rerun()


def delete_mine(name, info):
    """A student's own imported pictures: deleted with the runs trained on them, by the student (ownership asks)."""
    owner = ownership.owner_of(name) if catalogue.is_own(name) else None
    if owner is None or owner["person_id"] != ui.who().person_id:
        return
    store = ui.store()
    runs_on_it = sum(run.config.dataset == name for run in store.list(who=ui.who()))
    if st.button(t("data.own_delete_mine", title=info.title, runs=runs_on_it), key="delete_mine"):
        try:
            deleted = own_images.delete(name, store, who=ui.who(), queued=ui.queue().datasets_in_use())
        except CnnlabError as error:
            st.error(str(error))
            return
        st.session_state["own_deleted_mine"] = (info.title, deleted)
        st.session_state.pop("dataset", None)
        st.rerun()


if st.session_state.pop("own_imported", None) == name:
    st.success(t("data.own_done", title=info.title, name=name, train=info.full_sizes[0], test=info.full_sizes[1]))
if "own_deleted_mine" in st.session_state:
    title, deleted = st.session_state.pop("own_deleted_mine")
    st.success(t("data.own_deleted_mine", title=title, runs=deleted))
delete_mine(name, info)
with st.expander(t("data.own_header"), icon="🖼️"):
    bring_your_own()

if data is None or data.variant != "own":
    get_the_data(catalogue.base_name(name), data)  # an assignment's copy comes from its whole dataset
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
