"""Streamlit helpers shared by the pages: server-wide resources and the run picker. Layout only."""

import streamlit as st

from cnnlab import jobs, runs


@st.cache_resource
def store():
    """One run store per server process."""
    return runs.RunStore()


@st.cache_resource
def queue():
    """The server's training queue: one training at a time, shared by every session."""
    return jobs.TrainingQueue(store())


BUNDLED = "bundled"


@st.cache_resource(max_entries=4)
def model(run_id):
    """A stored run's network (or the bundled model, run_id "bundled"), rebuilt and loaded once per server."""
    if run_id == BUNDLED:
        from cnnlab import drawing
        return drawing.bundled().build_model()
    return store().get(run_id).build_model()


@st.cache_resource(max_entries=4)
def extractor(run_id):
    """The feature-map model of a run (every conv layer's output), built once."""
    from cnnlab import inspection
    return inspection.feature_extractor(model(run_id))


@st.cache_data(max_entries=8)
def predictions(run_id):
    return store().get(run_id).predictions()


def pick_run(label, text_empty, dataset=None, key="run"):
    """A selectbox of stored runs (the session's last run first); None with a message when there is none."""
    available = [r for r in store().list() if dataset is None or r.config.dataset == dataset]
    for notice in store().notices:
        st.warning(notice)
    if not available:
        st.info(text_empty)
        return None
    ids = [r.id for r in available]
    last = st.session_state.get("run_id")
    index = ids.index(last) if last in ids else 0
    by_id = {r.id: r for r in available}
    chosen = st.selectbox(label, ids, index=index, key=key, format_func=lambda i: describe(by_id[i]))
    st.session_state["run_id"] = chosen
    return by_id[chosen]


def describe(run):
    c = run.config
    status = "" if run.complete else " (stopped)"
    return (f"{c.architecture_name} on {run.info.title} — {c.optimizer} lr {c.learning_rate:g}, batch {c.batch_size}, "
            f"{run.record['epochs_completed']} epochs — test acc {run.test_accuracy:.2%}{status} [{run.id[:6]}]")
