"""Streamlit helpers shared by the pages: the language, server-wide resources and the run picker. Layout only."""

import hmac
import os
import uuid

import streamlit as st

from cnnlab import executors, i18n, jobs, runs
from cnnlab.i18n import t

LANGUAGE = "language"  # session-state key of the student's language
ROUTER = "_cnnlab_router"  # set by app.py, which draws the language selector above every page


def language():
    """The session's language: a ?lang= link first, then the student's choice, the browser's, else English.

    Sets it for this script run (cnnlab.i18n) and keeps ?lang= in the address bar, so the URL can be shared.
    """
    from_url = i18n.normalize(st.query_params.get("lang"))
    if from_url and from_url != st.session_state.get(LANGUAGE):
        st.session_state[LANGUAGE] = from_url  # a shared link, or the address edited by hand
    if LANGUAGE not in st.session_state:
        st.session_state[LANGUAGE] = i18n.normalize(getattr(st.context, "locale", None)) or i18n.DEFAULT
    lang = i18n.set_language(st.session_state[LANGUAGE])
    if st.query_params.get("lang") != lang:
        st.query_params["lang"] = lang
    return lang


def _chosen():
    lang = st.session_state["_language_widget"]
    st.session_state[LANGUAGE] = lang
    st.query_params["lang"] = lang


# Streamlit greys captions to 60 % of the text colour: about 3.7:1 on white, below WCAG's 4.5:1 for small
# text (axe-core's color-contrast rule). 85 % of the theme's own colour keeps them quieter and readable.
STYLE = '<style>[data-testid="stCaptionContainer"] { color: inherit; opacity: 0.85; }</style>'


def language_selector():
    """The language menu at the top of the sidebar (and the page style); a change re-renders the page."""
    st.html(STYLE)
    lang = language()
    codes = list(i18n.LANGUAGES)
    st.sidebar.selectbox(f"🌐 {t('common.language')}", codes, index=codes.index(lang),
                         format_func=i18n.LANGUAGES.get, key="_language_widget", on_change=_chosen)
    return lang


def image(where, pixels, caption, alt=None, **kwargs):
    """st.image with a text alternative for screen readers: the caption, unless a fuller one is given."""
    where.image(pixels, caption=caption, alt=str(alt or caption), **kwargs)


def page(title_key, icon):
    """Every page's first call: its language (with the selector when no router drew it), config and title."""
    if not st.session_state.get(ROUTER):  # on its own (tests, `streamlit run pages/…`); else app.py set it
        language_selector()
    st.set_page_config(page_title=f"cnnlab · {t(title_key).split(' ', 1)[-1]}", page_icon=icon, layout="wide")
    st.title(t(title_key))


@st.cache_resource
def store():
    """One run store per server process."""
    return runs.RunStore()


@st.cache_resource
def downloads():
    """The server's downloads (one per dataset at a time), shared by every session."""
    from cnnlab import downloads as downloading
    return downloading.Downloads()


def student():
    """This browser session's id in the queue (a plain string in session state)."""
    return st.session_state.setdefault("student", uuid.uuid4().hex)


def secret(name):
    """A server setting from the environment, else .streamlit/secrets.toml, else None."""
    if os.environ.get(name):
        return os.environ[name]
    try:
        return st.secrets.get(name)
    except (FileNotFoundError, KeyError, st.errors.StreamlitSecretNotFoundError):
        return None


def teacher_token():
    """The token that guards a teacher's actions (CNNLAB_TEACHER_TOKEN or secrets.toml), or None when unset."""
    return secret("CNNLAB_TEACHER_TOKEN")


def teacher_allowed(key):
    """True when no teacher token is set (a home install), or when the one typed here matches it."""
    token = teacher_token()
    if token is None:
        return True
    typed = st.text_input(t("common.teacher_token"), type="password", key=key)
    return bool(typed) and hmac.compare_digest(typed.encode(), str(token).encode())


def queue_for_me(config, dataset, replace=False, requested_by=None):
    """Queue config for this student under the server's limit (merged with the same settings from others)."""
    return queue().submit(config, dataset, requested_by=requested_by, student=student(), replace=replace,
                          limit=secret("CNNLAB_MAX_MINUTES"))


@st.cache_resource
def queue():
    """The server's training queue, shared by every session: it trains in a worker process of this machine, or
    on the Ray cluster named by CNNLAB_RAY_ADDRESS (environment or secrets.toml)."""
    return jobs.TrainingQueue(store(), executors.executor(secret("CNNLAB_RAY_ADDRESS") or "", server=True))


BUNDLED = "bundled"
IMAGE_UPLOAD_MB = 5  # a photo or scan of a digit; the server's own limit is CIFAR-10's archive (config.toml)


@st.cache_resource(max_entries=4)
def _model(run_id, version):
    """A stored run's network (or the bundled model, run_id "bundled"), rebuilt and loaded once per server and
    version (a run replaced under the same id is loaded again)."""
    if run_id == BUNDLED:
        from cnnlab import drawing
        return drawing.bundled().build_model()
    return store().get(run_id).build_model()


@st.cache_resource(max_entries=4)
def _extractor(run_id, version):
    from cnnlab import inspection
    return inspection.feature_extractor(_model(run_id, version))


@st.cache_data(max_entries=8)
def _predictions(run_id, version):
    return store().get(run_id).predictions()


def _version(run_id):
    if run_id == BUNDLED:
        return None
    run = store().get(run_id)
    if run is None:
        st.warning(t("common.run_gone"))
        st.stop()
    return run.version


def _guarded(load, run_id):
    """Load from a run; a damaged run gets a sentence (it was set aside), never a traceback."""
    try:
        return load(run_id, _version(run_id))
    except runs.RunDamaged as error:
        st.warning(str(error))
        st.stop()


def model(run_id):
    """A run's network, shared by the server (rebuilt once per version of the run)."""
    return _guarded(_model, run_id)


def extractor(run_id):
    """The feature-map model of a run (every conv layer's output), built once."""
    return _guarded(_extractor, run_id)


def predictions(run_id):
    return _guarded(_predictions, run_id)


def pick_run(label, text_empty, dataset=None, key="run"):
    """A selectbox of stored runs (the session's last run first); None with a message when there is none."""
    available = [r for r in store().list() if dataset is None or r.config.dataset == dataset]
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
    return t("run.describe_stopped" if not run.complete else "run.describe", name=c.architecture_name,
             dataset=run.info.title, variant=run.variant_label, optimizer=c.optimizer, rate=c.learning_rate,
             batch=c.batch_size, epochs=run.record["epochs_completed"], accuracy=run.test_accuracy, id=run.id[:6])


def run_data(run):
    """The dataset a run was tested on; None, with the reason and the way back shown, when it is gone."""
    try:
        return run.data()
    except runs.DataGone as error:
        st.warning(str(error))
        return None
