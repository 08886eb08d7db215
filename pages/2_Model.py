"""Model: pick a course network or edit its layers; see the summary and the shapes flowing through it."""

import pandas as pd
import streamlit as st

import ui
from cnnlab.data import catalogue
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t
from cnnlab.networks import architectures, counting, limits

COLUMNS = ["kind", "size", "kernel", "stride", "padding", "activation", "rate"]

ui.page("model.title", "🧱")
st.write(t("model.intro"))

left, right = st.columns(2)
dataset = ui.dataset_menu(left, t("model.dataset"))
st.session_state["dataset"] = dataset
info = catalogue.get_info(dataset)
presets = list(architectures.PRESETS)
current = st.session_state.get("architecture", architectures.DEFAULT_PRESET)
choices = presets + ([t("model.custom")] if not isinstance(current, str) else [])
preset_name = right.selectbox(
    t("model.preset"), choices, index=choices.index(current) if isinstance(current, str) else len(choices) - 1,
    format_func=lambda n: n if n not in presets else
    t("model.preset_option", title=architectures.PRESETS[n].title, report=architectures.PRESETS[n].report))
if preset_name == t("model.custom"):
    start = [architectures.Layer.from_dict(d) if isinstance(d, dict) else d for d in current]
    st.markdown(t("model.custom_text"))
else:
    preset = architectures.PRESETS[preset_name]
    start = preset.layers
    st.markdown(t("model.from", provenance=preset.provenance))
    st.markdown(t("model.reported", reported=preset.reported))
    ui.fit_note(preset_name, info)

table = pd.DataFrame([{c: layer.to_dict().get(c) for c in COLUMNS} for layer in start], columns=COLUMNS)
edited = st.data_editor(
    table, num_rows="dynamic", key=f"layers_{preset_name}", width="stretch",
    column_config={
        "kind": st.column_config.SelectboxColumn(t("model.col_kind"), options=list(architectures.KINDS), required=True),
        "size": st.column_config.NumberColumn(t("model.col_size"), min_value=1, max_value=4096, step=1),
        "kernel": st.column_config.NumberColumn(t("model.col_kernel"), min_value=1, max_value=11, step=1),
        "stride": st.column_config.NumberColumn(t("model.col_stride"), min_value=1, max_value=8, step=1),
        "padding": st.column_config.SelectboxColumn(t("model.col_padding"), options=list(architectures.PADDINGS)),
        "activation": st.column_config.SelectboxColumn(t("model.col_activation"), options=list(architectures.ACTIVATIONS)),
        "rate": st.column_config.NumberColumn(t("model.col_rate"), min_value=0.0, max_value=0.9, step=0.05),
    },
)
st.caption(t("model.editor"))

try:
    layers = architectures.parse_spec([{k: v for k, v in row.items() if pd.notna(v)}
                                       for row in edited.to_dict("records") if pd.notna(row.get("kind"))])
    rows = counting.summarize(layers, info.image_shape, info.num_classes)
except CnnlabError as error:
    st.error(t("model.invalid", error=error))
    st.stop()
try:  # counted from the rows above, nothing built: a network over the server's limits is said, and cannot be used
    limits.check_size(layers, info.image_shape, info.num_classes)
    too_large = None
except CnnlabError as error:
    too_large = error

left, right = st.columns([3, 2])
with left:
    st.header(t("model.summary"))
    st.dataframe(pd.DataFrame([{t("model.col_name"): r.name, t("model.col_layer"): r.layer,
                                t("model.col_shape"): " × ".join(map(str, r.output_shape)), t("model.col_params"): r.params}
                               for r in rows]), hide_index=True, width="stretch")
    total = sum(r.params for r in rows)
    st.markdown(t("model.total", total=total, mb=total * 4 / 1024 ** 2))
    if too_large is not None:
        st.error(t("model.too_large", error=too_large))
with right:
    st.header(t("model.flow"))
    shape = " × ".join(map(str, info.image_shape))
    nodes = [f'n0 [label="{t("model.input")}\\n{shape}", shape=box, style=filled, fillcolor="#e8eef7"]']
    for i, r in enumerate(rows, start=1):
        nodes.append(f'n{i} [label="{r.layer}\\n{" × ".join(map(str, r.output_shape))}", shape=box]')
    edges = [f"n{i} -> n{i + 1}" for i in range(len(rows))]
    st.graphviz_chart("digraph { rankdir=TB; node [fontname=Helvetica, fontsize=10]; "
                      + "; ".join(nodes + edges) + " }")

if st.button(t("model.use"), type="primary", disabled=too_large is not None):
    unchanged = preset_name in presets and layers == architectures.PRESETS[preset_name].layers
    st.session_state["architecture"] = preset_name if unchanged else [layer.to_dict() for layer in layers]
    st.success(t("model.used"))
