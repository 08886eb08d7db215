"""Model: pick a course network or edit its layers; see the summary and the shapes flowing through it."""

import pandas as pd
import streamlit as st

from cnnlab import architectures, datasets
from cnnlab.errors import CnnlabError

TEXT = {
    "title": "🧱 Model",
    "intro": "A network is a list of layers. Start from a network of the course, change it, and watch "
             "the shapes and the number of parameters change before you train anything.",
    "dataset": "Input images from",
    "preset": "Start from",
    "custom": "custom (your last edit)",
    "custom_text": "Your own network, as you last saved it.",
    "from": "**From:** {provenance}",
    "reported": "**The report got:** {reported}",
    "editor": "Layers (add, remove or edit rows; the output layer Dense(classes, softmax) is added for you)",
    "summary": "Summary",
    "total": "Total params: **{total:,}** ({mb:.2f} MB as float32)",
    "flow": "Shapes flowing through the network",
    "use": "Use this network on the Train page",
    "used": "Saved: the Train page will use this network.",
    "invalid": "This network cannot be built: {error}",
    "col_layer": "layer", "col_name": "name", "col_shape": "output shape", "col_params": "params",
}
COLUMNS = ["kind", "size", "kernel", "stride", "padding", "activation", "rate"]

st.set_page_config(page_title="cnnlab · Model", page_icon="🧱", layout="wide")
st.title(TEXT["title"])
st.write(TEXT["intro"])

names = list(datasets.DATASETS)
left, right = st.columns(2)
dataset = left.selectbox(TEXT["dataset"], names, format_func=lambda n: datasets.DATASETS[n].title,
                         index=names.index(st.session_state.get("dataset", "mnist")))
st.session_state["dataset"] = dataset
info = datasets.get_info(dataset)
presets = list(architectures.PRESETS)
current = st.session_state.get("architecture", architectures.DEFAULT_PRESET)
choices = presets + ([TEXT["custom"]] if not isinstance(current, str) else [])
preset_name = right.selectbox(
    TEXT["preset"], choices, index=choices.index(current) if isinstance(current, str) else len(choices) - 1,
    format_func=lambda n: n if n not in presets else
    f"{architectures.PRESETS[n].title} (report {architectures.PRESETS[n].report})")
if preset_name == TEXT["custom"]:
    start = [architectures.Layer.from_dict(d) if isinstance(d, dict) else d for d in current]
    st.markdown(TEXT["custom_text"])
else:
    preset = architectures.PRESETS[preset_name]
    start = preset.layers
    st.markdown(TEXT["from"].format(provenance=preset.provenance))
    st.markdown(TEXT["reported"].format(reported=preset.reported))

table = pd.DataFrame([{c: layer.to_dict().get(c) for c in COLUMNS} for layer in start], columns=COLUMNS)
edited = st.data_editor(
    table, num_rows="dynamic", key=f"layers_{preset_name}", width="stretch",
    column_config={
        "kind": st.column_config.SelectboxColumn("kind", options=list(architectures.KINDS), required=True),
        "size": st.column_config.NumberColumn("filters / units", min_value=1, max_value=4096, step=1),
        "kernel": st.column_config.NumberColumn("kernel / pool size", min_value=1, max_value=11, step=1),
        "stride": st.column_config.NumberColumn("stride", min_value=1, max_value=8, step=1),
        "padding": st.column_config.SelectboxColumn("padding", options=list(architectures.PADDINGS)),
        "activation": st.column_config.SelectboxColumn("activation", options=list(architectures.ACTIVATIONS)),
        "rate": st.column_config.NumberColumn("dropout rate", min_value=0.0, max_value=0.9, step=0.05),
    },
)
st.caption(TEXT["editor"])

try:
    layers = architectures.parse_spec([{k: v for k, v in row.items() if pd.notna(v)}
                                       for row in edited.to_dict("records") if pd.notna(row.get("kind"))])
    rows = architectures.summarize(layers, info.image_shape, info.num_classes)
except CnnlabError as error:
    st.error(TEXT["invalid"].format(error=error))
    st.stop()

left, right = st.columns([3, 2])
with left:
    st.subheader(TEXT["summary"])
    st.dataframe(pd.DataFrame([{TEXT["col_name"]: r.name, TEXT["col_layer"]: r.layer,
                                TEXT["col_shape"]: " × ".join(map(str, r.output_shape)), TEXT["col_params"]: r.params}
                               for r in rows]), hide_index=True, width="stretch")
    total = sum(r.params for r in rows)
    st.markdown(TEXT["total"].format(total=total, mb=total * 4 / 1024 ** 2))
with right:
    st.subheader(TEXT["flow"])
    shape = " × ".join(map(str, info.image_shape))
    nodes = [f'n0 [label="input\\n{shape}", shape=box, style=filled, fillcolor="#e8eef7"]']
    for i, r in enumerate(rows, start=1):
        nodes.append(f'n{i} [label="{r.layer}\\n{" × ".join(map(str, r.output_shape))}", shape=box]')
    edges = [f"n{i} -> n{i + 1}" for i in range(len(rows))]
    st.graphviz_chart("digraph { rankdir=TB; node [fontname=Helvetica, fontsize=10]; "
                      + "; ".join(nodes + edges) + " }")

if st.button(TEXT["use"], type="primary"):
    unchanged = preset_name in presets and layers == architectures.PRESETS[preset_name].layers
    st.session_state["architecture"] = preset_name if unchanged else [layer.to_dict() for layer in layers]
    st.success(TEXT["used"])
