"""cnnlab's home page: what it is, the path through it, the device and the data. No TensorFlow here."""

import streamlit as st

from cnnlab import datasets, runs, training

# Every student-facing string of this page, in one place, ready for translation.
TEXT = {
    "title": "cnnlab — learn convolutional networks by training them",
    "intro": (
        "Pick a dataset and a network, train it here, then look inside: learning curves, "
        "filters, feature maps, mistakes and the confusion matrix. Every finished run is kept, "
        "so the same settings come back at once — for you and for everyone on this server."
    ),
    "path_header": "The path through cnnlab",
    "path": [
        ("Data", "look at the images and how they are prepared for the network"),
        ("Model", "pick a network from the course or edit its layers"),
        ("Train", "set epochs, batch size, optimizer and learning rate, and watch it learn"),
        ("Inside the network", "filters and feature maps of every convolution layer"),
        ("Mistakes", "the confusion matrix and the images the network gets wrong"),
        ("Compare", "put runs side by side: which model, which optimizer, is it overfitting?"),
        ("Convolution", "the operation itself, step by step"),
        ("Draw", "draw a digit and watch the network read it"),
        ("Course", "the five course reports' experiments: run them, compare with the reports, answer their questions"),
    ],
    "device_header": "Training runs on",
    "data_header": "Datasets on this machine",
    "col_dataset": "Dataset",
    "col_source": "Source",
    "col_images": "Images (train + test)",
    "col_about": "About",
    "not_available": "not available",
    "store_header": "Run store",
    "store_count": "{count} stored run(s) in `{root}`.",
    "store_empty": "No runs yet: open **Train** and train the default network on MNIST (a few seconds).",
    "offline_note": "cnnlab works without a network: MNIST falls back to a real 10,000-digit sample that ships with it.",
}

st.set_page_config(page_title="cnnlab", page_icon="🧠", layout="wide")
st.title(TEXT["title"])
st.write(TEXT["intro"])

st.subheader(TEXT["path_header"])
st.markdown("\n".join(f"{i}. **{name}** — {what}" for i, (name, what) in enumerate(TEXT["path"], start=1)))

left, right = st.columns(2)
with left:
    st.subheader(TEXT["device_header"])
    st.write(training.device_summary())
with right:
    st.subheader(TEXT["store_header"])
    store = runs.RunStore()
    stored = store.list()
    st.write(TEXT["store_count"].format(count=len(stored), root=store.root) if stored else TEXT["store_empty"])
    for notice in store.notices:
        st.warning(notice)

st.subheader(TEXT["data_header"])
rows = []
for row in datasets.describe_sources():
    info = datasets.get_info(row["dataset"])
    source = row["source"]
    rows.append({
        TEXT["col_dataset"]: row["title"],
        TEXT["col_source"]: source.describe() if source else f"{TEXT['not_available']} — {row['how_to_get']}",
        TEXT["col_images"]: f"{row['sizes'][0]:,} + {row['sizes'][1]:,}" if row["sizes"] else "—",
        TEXT["col_about"]: info.description,
    })
st.dataframe(rows, hide_index=True, width="stretch")
st.caption(TEXT["offline_note"])
