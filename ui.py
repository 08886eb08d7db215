"""Streamlit helpers shared by the pages: the language, server-wide resources and the run picker. Layout only."""

import os
import threading
import uuid

import pandas as pd
import streamlit as st

from cnnlab import i18n, runs
from cnnlab.compute import executors, jobs
from cnnlab.data import catalogue, datasets
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t
from cnnlab.networks import counting

LANGUAGE = "language"  # session-state key of the student's language
ROUTER = "_cnnlab_router"  # set by app.py, which draws the language selector above every page
LINKED_RUN = "_linked_run"  # the ?run= of the address, once followed
PAGES = [  # file, navigation key, icon, address (app.py's navigation)
    ("pages/1_Data.py", "nav.data", "📊", "Data"),
    ("pages/2_Model.py", "nav.model", "🧱", "Model"),
    ("pages/3_Train.py", "nav.train", "🏋️", "Train"),
    ("pages/4_Inside.py", "nav.inside", "🔬", "Inside"),
    ("pages/11_Learned.py", "nav.learned", "🧭", "Learned"),
    ("pages/5_Mistakes.py", "nav.mistakes", "❌", "Mistakes"),
    ("pages/6_Compare.py", "nav.compare", "⚖️", "Compare"),
    ("pages/7_Convolution.py", "nav.convolution", "🧮", "Convolution"),
    ("pages/8_Draw.py", "nav.draw", "✏️", "Draw"),
    ("pages/9_Course.py", "nav.course", "📚", "Course"),
    ("pages/10_Teacher.py", "nav.teacher", "🎓", "Teacher"),
    ("pages/12_Assignment.py", "nav.assignment", "📝", "Assignment"),
    ("pages/13_Class.py", "nav.class", "👥", "Class"),
]


def language():
    """The session's language: a ?lang= link first, then the student's choice (this session's, else the one a
    signed-in person chose last, on any device), the browser's, else English.

    Sets it for this script run (cnnlab.i18n) and keeps ?lang= in the address bar, so the URL can be shared.
    """
    from_url = i18n.normalize(st.query_params.get("lang"))
    if from_url and from_url != st.session_state.get(LANGUAGE):
        st.session_state[LANGUAGE] = from_url  # a shared link, or the address edited by hand
    if LANGUAGE not in st.session_state:
        st.session_state[LANGUAGE] = (i18n.normalize(who().language) or i18n.normalize(getattr(st.context, "locale", None))
                                      or i18n.DEFAULT)
    lang = i18n.set_language(st.session_state[LANGUAGE])
    if st.query_params.get("lang") != lang:
        st.query_params["lang"] = lang
    return lang


def _chosen():
    lang = st.session_state["_language_widget"]
    st.session_state[LANGUAGE] = lang
    st.query_params["lang"] = lang
    person = who()
    if person.person_id is not None:  # theirs on the next device they sign in on
        from cnnlab.classroom import accounts

        try:
            accounts.set_language(person.person_id, lang)
        except CnnlabError:
            pass  # the database is away: this session keeps the language all the same


# Streamlit greys captions to 60 % of the text colour: about 3.7:1 on white, below WCAG's 4.5:1 for small
# text (axe-core's color-contrast rule). 85 % of the theme's own colour keeps them quieter and readable.
STYLE = '<style>[data-testid="stCaptionContainer"] { color: inherit; opacity: 0.85; }</style>'


def language_selector():
    """The language menu at the top of the sidebar (and the page style); a change re-renders the page."""
    st.html(STYLE)
    identify()  # first: a signed-in person's language is theirs
    lang = language()
    codes = list(i18n.LANGUAGES)
    st.sidebar.selectbox(f"🌐 {t('common.language')}", codes, index=codes.index(lang),
                         format_func=i18n.LANGUAGES.get, key="_language_widget", on_change=_chosen)
    account_box()
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
    follow_run_link()


def follow_run_link():
    """A ?run=<id or unique start> link makes that run the session's run, on whichever page it opens."""
    from cnnlab.course import exports

    wanted = st.query_params.get("run")
    if not wanted or wanted == st.session_state.get(LINKED_RUN):
        return
    st.session_state[LINKED_RUN] = wanted
    try:
        run = exports.find_run(store(), wanted, who=who())
    except CnnlabError as error:
        st.warning(t("link.bad_run", error=error))
        return
    st.session_state["run_id"] = run.id


def app_url(address=None):
    """The app's address in the reader's browser (None in tests), or one page's, from st.context.url."""
    url = getattr(st.context, "url", None)
    if not url:
        return None
    base = url.rstrip("/")
    if base.rsplit("/", 1)[-1] in {page[3] for page in PAGES}:
        base = base.rsplit("/", 1)[0]
    return f"{base}/{address}" if address else base


@st.cache_resource
def store():
    """One run store per server process; made when the server's first page opens, which removes what writers that
    died left behind and uploads left for hours."""
    made = runs.RunStore()
    made.clean_tmp()
    return made


@st.cache_resource
def downloads():
    """The server's downloads (one per dataset at a time), shared by every session."""
    from cnnlab.data import downloads as downloading
    return downloading.Downloads()


def release_uploads(files):
    """Drop Streamlit's in-memory copy of uploaded files once cnnlab has written them to disk (st.chat_input does
    the same with its files): the bytes are then on disk only, not in the server's memory for the whole session."""
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    if context is None or not isinstance(context.uploaded_file_mgr, MemoryUploadedFileManager):
        return
    for file in files:
        context.uploaded_file_mgr.remove_file(session_id=context.session_id, file_id=file.file_id)


WHO = "_who"  # session-state key: who this browser is, read again at the start of every script run (identify)


def identify():
    """Who this browser is, read once per script run from its session cookie: the owner in a personal lab (no
    teacher account yet), else the person the cookie signs in, else a guest. A database that cannot be reached makes
    everyone a guest with a sentence saying why; nothing trained is touched."""
    from cnnlab.classroom import accounts, sessions, web

    reason = None
    try:
        if not accounts.is_class_server():
            found = sessions.OWNER
        else:
            found, reason = sessions.who(_cookie(web.COOKIE))
    except CnnlabError as error:
        found, reason = sessions.GUEST, error
    st.session_state[WHO] = found
    st.session_state["_who_reason"] = reason
    if found.person_id is not None and not st.session_state.get("_restored"):
        st.session_state["_restored"] = True
        _last_run(found)
    return found


def _last_run(person):
    """A signed-in person's last run follows them: on a new browser session it is the run the pages show."""
    from cnnlab.classroom import requests

    if "run_id" in st.session_state:
        return
    try:
        last = requests.last_run(person.person_id)
    except CnnlabError:
        return
    if last and store().get(last) is not None:
        st.session_state["run_id"] = last


def _cookie(name):
    """A cookie the browser sent when it opened this page (st.context.cookies; set by cnnlab.classroom.web)."""
    return st.context.cookies.get(name)


def who():
    """Who this browser is (cnnlab.classroom.sessions.Who), as identify() read it for this script run."""
    return st.session_state.get(WHO) or identify()


def student():
    """This browser's name in the queue and for its uploads: the signed-in person's, else this tab's own."""
    return who().key or st.session_state.setdefault("student", uuid.uuid4().hex)


def allowed(action):
    """True when who() may do action (cnnlab.classroom.permissions): pages ask it to draw a control or say why not;
    the package asks it again when the action is done."""
    from cnnlab.classroom import permissions

    return permissions.may(who(), action)


def refuse_unless(action, where=st):
    """Say in a sentence who may do action, and stop the page, unless who() may."""
    from cnnlab.classroom import permissions

    if not allowed(action):
        where.info(t(permissions.REFUSED[action]))
        st.stop()


SIGNED_IN_AS = {"student": "signin.as_student", "teacher": "signin.as_teacher"}
SIGNIN_NOTICE = {"expired": "signin.reason_expired", "ended": "signin.reason_ended",
                 "tampered": "signin.reason_tampered"}  # why a cookie signs nobody in (sessions.who)
BACK_NOTICE = {"expired": "signin.back_expired", "unavailable": "signin.back_unavailable",
               "elsewhere": "signin.back_elsewhere"}  # what /api/session said


def plain(text):
    """A name someone typed (a nickname, a class), shown as its letters inside Markdown: never bold, a link or an
    image (a nickname "![](/api/signout)" would otherwise sign its reader out)."""
    return "".join(f"\\{ch}" if ch in MARKDOWN else ch for ch in str(text))


MARKDOWN = set("\\`*_{}[]()<>#+-.!|~$&")


def account_box():
    """The sidebar's sign-in on a class server: who you are and Sign out, or the three ways in (join a class with its
    code, your personal code, a teacher's name and password). Nothing in a personal lab."""
    person = who()
    if person.role == "owner":
        return
    came_back = st.query_params.get("signin")  # /api/session sent this browser back without signing it in
    _signin_notice()
    box = st.sidebar.container(border=True)
    if person.role != "guest":
        box.markdown(t(SIGNED_IN_AS[person.role], name=plain(person.name), klass=plain(person.class_name)))
        box.html(f'<a href="{_signout_address()}">{t("signin.sign_out")}</a>')
        return
    if st.session_state.get("_joined"):
        _show_new_code(box)
        return
    if _school_account(box, automatic=came_back is None):
        return
    box.markdown(f"**{t('signin.title')}**")
    _school_button(box)
    join, code, teacher = box.tabs([t("signin.tab_join"), t("signin.tab_code"), t("signin.tab_teacher")])
    _join_form(join)
    _code_form(code)
    _teacher_form(teacher)


def _here():
    """This page's path in the browser (with ?lang=), to come back to after signing in or out."""
    from urllib.parse import urlsplit

    parts = urlsplit(getattr(st.context, "url", None) or "/")
    return (parts.path or "/") + f"?lang={i18n.get_language()}"


def _signout_address():
    from urllib.parse import quote

    from cnnlab.classroom import web

    after = SCHOOL_SIGNOUT if _school_configured() and st.user.get("is_logged_in") else _here()
    return f"{web.SIGNOUT_PATH}?next={quote(after, safe='')}"


SCHOOL_SIGNOUT = "/auth/logout"  # st.logout()'s address: Streamlit's school sign-in cookie goes too


def _school_configured():
    """True when the teacher configured the school's single sign-on ([auth] in .streamlit/secrets.toml)."""
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return False


def _school_button(where):
    """Sign in with the school's account (st.login), where it is configured. A provider that cannot be reached
    (no internet) is a sentence, and the codes below it still work."""
    from cnnlab.classroom import school

    if not _school_configured() or not where.button(t("signin.school_button"), key="school_sign_in"):
        return
    if not school.provider_reachable(st.secrets["auth"].get("server_metadata_url")):
        where.warning(t("signin.school_unreachable"))
        return
    try:
        st.login()
    except st.errors.StreamlitAPIException:  # [auth] lacks a setting, or authlib is missing
        where.error(t("signin.school_misconfigured"))


def _school_account(where, automatic=True):
    """A browser the school's sign-in (st.user) names and cnnlab's cookie does not sign in: its person gets cnnlab's
    own session (so the teacher's "sign out everywhere" and the 30 days apply), or, the first time, types the class's
    join code once. False when there is none of that (then the usual ways in are drawn)."""
    from cnnlab.classroom import school

    if not _school_configured() or not st.user.get("is_logged_in"):
        return False
    claims = st.user.to_dict()
    try:
        found = school.sign_in(claims)
    except CnnlabError as error:  # not recent, ended since, or the database is away
        where.info(str(error))
        return False
    if found is None:
        _school_join_form(where, claims)
    elif automatic:
        _go_signed_in(found.id)
    elif where.button(t("signin.school_continue", name=plain(found.name)), key="school_continue"):
        _go_signed_in(found.id)  # after a refused ticket: a click, never a loop of redirects
    return True


def _school_join_form(where, claims):
    from cnnlab.classroom import school

    where.markdown(t("signin.school_join", name=plain(school.nickname_of(claims))))
    with where.form("school_join_form", border=False):
        code = st.text_input(t("signin.join_code"), max_chars=16, placeholder="K7M2QX",
                             value=str(st.query_params.get("join", ""))[:16])
        if st.form_submit_button(t("signin.join"), type="primary"):
            try:
                person, personal = school.join_with_school_account(code, claims, _address())
            except CnnlabError as error:
                st.error(str(error))
                return
            st.session_state["_joined"] = (person.id, person.name, personal)
            st.rerun()
    if where.button(t("signin.school_other"), key="school_other"):
        st.logout()


def _signin_notice():
    """Why this browser is a guest now, once: its session expired, was ended, or its cookie is not one of ours."""
    reason = st.session_state.get("_who_reason")
    back = st.query_params.get("signin")
    if back in BACK_NOTICE:
        st.sidebar.warning(t(BACK_NOTICE[back]))
        del st.query_params["signin"]
    elif isinstance(reason, CnnlabError):
        st.sidebar.error(str(reason))
    elif reason in SIGNIN_NOTICE:
        st.sidebar.info(t(SIGNIN_NOTICE[reason]))


def _go_signed_in(person_id):
    """Send this browser to /api/session with a one-time ticket; it comes back here with its cookie (no click)."""
    import json
    from urllib.parse import quote

    from cnnlab.classroom import sessions, web

    address = f"{web.SESSION_PATH}?ticket={sessions.open_ticket(person_id)}&next={quote(_here(), safe='')}"
    st.html(f"<script>window.location.assign({json.dumps(address)})</script>", unsafe_allow_javascript=True)
    st.sidebar.markdown(f"[{t('signin.continue')}]({address})")


def _address():
    return getattr(st.context, "ip_address", None) or "unknown"


def _join_form(where):
    from cnnlab.classroom import classes

    with where.form("join_form", border=False):
        code = st.text_input(t("signin.join_code"), max_chars=16, placeholder="K7M2QX",
                             value=str(st.query_params.get("join", ""))[:16])  # the QR code's link brings it
        nickname = st.text_input(t("signin.nickname"), max_chars=40)
        if st.form_submit_button(t("signin.join"), type="primary"):
            try:
                person, personal = classes.join(code, nickname, _address())
            except CnnlabError as error:
                st.error(str(error))
                return
            st.session_state["_joined"] = (person.id, person.name, personal)
            st.rerun()


def _show_new_code(where):
    """The personal code a student just got, large, until they say they wrote it down."""
    person_id, name, personal = st.session_state["_joined"]
    where.success(t("signin.joined", name=plain(name)))
    where.markdown(f"# `{personal}`")
    where.caption(t("signin.write_it_down"))
    if where.button(t("signin.wrote_it"), type="primary", key="wrote_it"):
        del st.session_state["_joined"]
        _go_signed_in(person_id)


def _code_form(where):
    from cnnlab.classroom import classes

    with where.form("code_form", border=False):
        code = st.text_input(t("signin.personal_code"), max_chars=40, placeholder="kiwi-mango-4821", type="password")
        if st.form_submit_button(t("signin.sign_in"), type="primary"):
            try:
                person = classes.sign_in(code, _address())
            except CnnlabError as error:
                st.error(str(error))
                return
            _go_signed_in(person.id)


def _teacher_form(where):
    from cnnlab.classroom import accounts

    with where.form("teacher_form", border=False):
        name = st.text_input(t("signin.teacher_name"), max_chars=40)
        password = st.text_input(t("signin.password"), type="password", max_chars=1024)
        if st.form_submit_button(t("signin.sign_in"), type="primary"):
            try:
                person = accounts.sign_in_teacher(name, password, _address())
            except CnnlabError as error:
                st.error(str(error))
                return
            _go_signed_in(person.id)


def secret(name):
    """A server setting from the environment, else .streamlit/secrets.toml, else None."""
    if os.environ.get(name):
        return os.environ[name]
    try:
        return st.secrets.get(name)
    except (FileNotFoundError, KeyError, st.errors.StreamlitSecretNotFoundError):
        return None


def queue_for_me(config, dataset, replace=False, requested_by=None, assignment=None):
    """Queue config for this student under the server's limit (merged with the same settings from others); the queue
    checks that they may train, and holds a training for an assignment to its rules (cnnlab.course.handins)."""
    return queue().submit(config, dataset, requested_by=requested_by, student=student(), replace=replace, who=who(),
                          assignment=assignment)


@st.cache_resource
def queue():
    """The server's training queue, shared by every session: it trains in a worker process of this machine, or
    on the Ray cluster named by CNNLAB_RAY_ADDRESS (environment or secrets.toml)."""
    return jobs.TrainingQueue(store(), executors.executor(secret("CNNLAB_RAY_ADDRESS") or "", server=True),
                              limit=lambda: secret("CNNLAB_MAX_MINUTES"))  # the one place the limit is read


BUNDLED = "bundled"
IMAGE_UPLOAD_MB = 5  # a photo or scan of a digit; the server's own limit is CIFAR-10's archive (config.toml)


@st.cache_resource(max_entries=4)
def _model(run_id, version):
    """A stored run's network (or the bundled model, run_id "bundled"), rebuilt and loaded once per server and
    version (a run replaced under the same id is loaded again)."""
    if run_id == BUNDLED:
        from cnnlab.insight import drawing
        return drawing.bundled().build_model()
    return store().get(run_id).build_model()


@st.cache_resource(max_entries=4)
def _extractor(run_id, version):
    from cnnlab.insight import inspection
    return inspection.feature_extractor(_model(run_id, version))


@st.cache_resource(max_entries=4)
def _grad_cam(run_id, version):
    from cnnlab.insight import explain
    return explain.GradCam(_model(run_id, version))


@st.cache_resource
def _maps():
    """The maps of test images made on this server: (run id, version, method, count) -> (points, silhouette),
    and the lock that sessions take to change them."""
    return {}, threading.Lock()


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


def timeline(run):
    """How a run learned (Run.timeline), or None for a run without one; a damaged file gets a sentence (the run
    was set aside), never a traceback."""
    try:
        return run.timeline()
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


def embedding(run_id, method, count, on_progress=None):
    """((count, 2) points, silhouette of the true classes) of a run's first test images, made once per server.

    on_progress(fraction) is told how far a t-SNE has come (it is called in this script's thread)."""
    from cnnlab.insight import learned

    key = (run_id, _version(run_id), method, count)
    maps, lock = _maps()
    found = maps.get(key)
    if found is None:
        run = store().get(run_id)
        points = learned.embedding(model(run_id), run.data().x_test[:count], method, on_progress=on_progress)
        found = (points, learned.separation(points, predictions(run_id)[1][:count]))
        with lock:
            maps[key] = found
            while len(maps) > 16:
                maps.pop(next(iter(maps)))
    return found


def embedding_ready(run_id, method, count):
    return (run_id, _version(run_id), method, count) in _maps()[0]


def grad_cam(run_id):
    """A run's Grad-CAM (its gradient models built once per layer), shared by the server."""
    return _guarded(_grad_cam, run_id)


def dataset_menu(where, label, key=None):
    """The dataset menu of Data, Model and Train: the built-in datasets, then the pictures imported on this server
    that this person may use (the class's, their own, those shared with their class). It starts on the session's
    dataset, or MNIST when that one was deleted meanwhile."""
    from cnnlab.data import ownership

    names = ownership.names(who())
    titles = {}
    for name in names:
        try:
            titles[name] = catalogue.get_info(name).title
        except datasets.DatasetUnavailable:  # deleted while this page was drawn
            titles[name] = name
    current = st.session_state.get("dataset", "mnist")
    if current not in names:  # deleted meanwhile, or held back by an assignment: its copy, else the first
        current = st.session_state["dataset"] = ownership.stand_in(who(), current, names)
    labels = {name: own_label(name, titles[name]) for name in names}
    return where.selectbox(label, names, format_func=labels.get, index=names.index(current), key=key)


def dataset_title(name):
    """A dataset's title for a table, or its name when it is gone (an imported one deleted since)."""
    try:
        return catalogue.get_info(name).title
    except CnnlabError:
        return str(name)


def own_label(name, title):
    """How a menu names a dataset: its title, and for imported pictures whose they are."""
    from cnnlab.data import ownership

    if not catalogue.is_own(name):
        return title
    owner = ownership.owner_of(name)
    if owner is None:
        return t("data.own_option", title=title)
    if owner["person_id"] == who().person_id:
        return t("data.own_option_yours", title=title)
    if owner["shared"]:
        return t("data.own_option_shared", title=title, name=owner["name"])
    return t("data.own_option_student", title=title, name=owner["name"])


def fit_note(preset, info):
    """Under a preset made for other images: why it cannot be built on these (a warning), or how it grows (a note)."""
    note = counting.fit_note(preset, info)
    if note is not None:
        (st.warning if note.key == "preset.fit.unfit" else st.info)(str(note))


def pick_run(label, text_empty, dataset=None, key="run"):
    """A selectbox of stored runs (the session's last run first); None with a message when there is none."""
    available = [r for r in store().list(who=who()) if dataset is None or r.config.dataset == dataset]
    if not available:
        st.info(text_empty)
        return None
    ids = [r.id for r in available]
    last = st.session_state.get("run_id")
    if st.session_state.get(key) not in ids or (last in ids and st.session_state.get(f"_{key}_followed") != last):
        st.session_state[key] = last if last in ids else ids[0]  # the session's run (a link, another page)
    st.session_state[f"_{key}_followed"] = st.session_state[key]
    by_id = {r.id: r for r in available}
    chosen = st.selectbox(label, ids, key=key, format_func=lambda i: describe(by_id[i]))
    st.session_state["run_id"] = st.session_state[f"_{key}_followed"] = chosen
    st.query_params["run"] = st.session_state[LINKED_RUN] = chosen  # the address names the run shown: share it
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


def settings_from_link():
    """The TrainConfig a shared settings link names (?dataset=…&network=…), once per link; else None.

    A link whose settings cannot be used says why, and the form keeps its own settings.
    """
    from cnnlab.course import exports

    query = {name: st.query_params.get(name) for name in exports.LINK_SETTINGS if st.query_params.get(name)}
    if not query or st.session_state.get("_settings_link") == query:
        return None
    st.session_state["_settings_link"] = query
    try:
        return exports.config_from_query(query, who=who())
    except CnnlabError as error:
        st.warning(t("link.bad_settings", error=error))
        return None


EXPORTS = [  # format, label, help, MIME type
    ("keras", "take.keras", "take.keras_help", "application/octet-stream"),
    ("weights", "take.weights", "take.weights_help", "application/octet-stream"),
    ("script", "take.script", "take.script_help", "text/x-python"),
    ("notebook", "take.notebook", "take.notebook_help", "application/x-ipynb+json"),
    ("report", "take.report", "take.report_help", "text/html"),
    ("markdown", "take.markdown", "take.markdown_help", "application/zip")]


def _made_on_click(function, lang, *args):
    """A download's bytes, made when it is clicked (Streamlit runs it on a thread of its own: no st.* in it)."""
    def make():
        with i18n.speaking(lang):
            return function(*args)
    return make


def _run_now(runs_store, run_id):
    """The run stored under run_id at this moment (CnnlabError common.run_gone when it is not there any more)."""
    run = runs_store.get(run_id)
    if run is None:
        raise CnnlabError("common.run_gone")
    return run


def export_now(runs_store, run_id, fmt, asker):
    """A run's export, made from the run stored under its id when the file is made, not from the page's copy: a run
    replaced since the page was drawn (a stopped run trained again to the end) is exported as it is now, and its new
    files are never checked against the old checksums (which would set the good run aside for everyone); asker: who
    the page was drawn for (exports decide what they may take home)."""
    from cnnlab.course import exports

    return exports.render(_run_now(runs_store, run_id), fmt, who=asker)


def report_now(make, runs_store, run_ids, course=None, asker=None):
    """A lab report (make: reports.report_html or report_zip) of the runs stored under run_ids when it is made, with
    the notes and tags asker wrote on their requests for them (cnnlab.classroom.requests.notes_of_runs)."""
    from cnnlab.classroom import permissions, requests

    found = [run for run in (runs_store.get(run_id) for run_id in run_ids) if run is not None]
    notes = requests.notes_of_runs(asker, run_ids) if asker is not None else None
    # asker, never who(): this runs on the download's own thread, where no session state may be read
    return make(found, course, runs_store.list(who=asker or permissions.OWNER) if course else None, notes)


def take_home(run, key="take_home"):
    """A run's "Take it home" section: its model, weights, code, notebook and lab report, and links to it."""
    with st.expander(t("take.title"), icon="📦"):
        _take_home(run, key)


def _take_home(run, key):
    from cnnlab.course import exports

    st.caption(t("take.intro"))
    lang, asker = i18n.get_language(), who()
    reason = exports.held_back(asker, run)
    offered = [entry for entry in EXPORTS if entry[0] not in exports.HELD_BACK or reason is None]
    if reason is not None:
        st.info(t(reason))
    columns = st.columns(3)
    for i, (fmt, label, explained, mime) in enumerate(offered):
        columns[i % 3].download_button(t(label), _made_on_click(export_now, lang, store(), run.id, fmt, asker),
                                       file_name=exports.default_name(run, fmt), mime=mime, help=t(explained),
                                       key=f"{key}_{fmt}", on_click="ignore", width="stretch")
    data_file = exports.data_file(run, asker)
    if data_file is not None:  # the .npz the script reads: the bundled sample, or the class's own pictures
        own = run.variant == "own"
        st.download_button(t("take.own_data", title=run.info.title) if own else t("take.sample"),
                           _made_on_click(data_file.read_bytes, lang), file_name=exports.data_file_name(run),
                           mime="application/octet-stream",
                           help=t("take.sample_help", file=exports.data_file_name(run)), key=f"{key}_sample",
                           on_click="ignore")
    st.markdown(t("take.run_link"))
    st.code(exports.link(app_url() or "", run=run.id, lang=lang), language=None)
    st.markdown(t("take.settings_link"))
    st.code(exports.link(app_url("Train") or "Train", lang=lang, **exports.settings_query(run.config)), language=None)


def report_download(label, runs_, file_stem, key, course=None):
    """Download buttons for the lab report of several runs (or of a course report): HTML and Markdown + figures."""
    from cnnlab.course import reports

    lang, asker = i18n.get_language(), who()
    ids = [run.id for run in runs_]  # found again when the report is made (a run may be replaced meanwhile)
    left, right = st.columns(2)
    left.download_button(label,
                         _made_on_click(report_now, lang, reports.report_html, store(), ids, course, asker),
                         file_name=f"{file_stem}.html", mime="text/html", key=f"{key}_html", on_click="ignore",
                         help=t("take.report_help"))
    right.download_button(t("take.markdown"),
                          _made_on_click(report_now, lang, reports.report_zip, store(), ids, course, asker),
                          file_name=f"{file_stem}.zip", mime="application/zip", key=f"{key}_zip", on_click="ignore",
                          help=t("take.markdown_help"))


def leaderboard_table(assignment, where=st, projector=False, names=True):
    """The assignment's leaderboard as who may read it (cnnlab.course.leaderboard decides): rank, name (or
    "anonymous"; "you" marks the reader's own line), public score, and the private score and rank once revealed (the
    teacher always sees them). projector: large type, the board as the class may see it (private scores only once
    revealed), names only when `names` (and the board's mode) allow. A refusal is its sentence."""
    from cnnlab.course import leaderboard

    try:
        entries = leaderboard.board(who(), assignment, store(), as_class=projector)
    except CnnlabError as error:
        where.info(str(error))
        return
    if not entries:
        where.caption(t("leaderboard.empty"))
        return
    rows = []
    for entry in entries:
        shown = entry.name if entry.name is not None and (names or entry.mine) else t("leaderboard.anonymous")
        row = {t("leaderboard.col_rank"): entry.rank,
               t("leaderboard.col_student"): t("leaderboard.you", name=shown) if entry.mine else shown,
               t("leaderboard.col_public"): i18n.percent(entry.public)}
        if any(other.private is not None for other in entries):
            row[t("leaderboard.col_private")] = i18n.percent(entry.private) if entry.private is not None else "—"
            row[t("leaderboard.col_private_rank")] = entry.private_rank or "—"
        rows.append(row)
    table = pd.DataFrame(rows)
    if projector:
        where.markdown(table.to_html(index=False, escape=True).replace(
            "<table", "<table style='font-size:2rem;width:100%'"), unsafe_allow_html=True)
    else:
        where.dataframe(table, hide_index=True)
    where.caption(t("leaderboard.caption", count=len(entries)))


# ---------------------------------------------------------------- a run's group of seeds (#33)

def _seed_group(key):
    """The repeat this browser asked for under `key` (cnnlab.compute.seed_groups.SeedGroup), or None."""
    first = queue().get(st.session_state.setdefault("seed_groups", {}).get(key))  # key -> its first seed's job id
    return first.groups.get(student()) if first is not None else None


def repeat_seeds(run, key, assignment=None, requested_by=None):
    """"Repeat with 2 (or 4) more seeds" under a run, and how far its seeds are. The seeds queue as this person's one
    training (cnnlab.compute.seed_groups), asked as any training is (who may train, the time left, an assignment's
    rules): the page only places the buttons."""
    from cnnlab.compute import seed_groups
    from cnnlab.course import comparisons

    st.caption(t("repeat.why"))
    for where, count in zip(st.columns(len(seed_groups.CHOICES)), seed_groups.CHOICES):
        if where.button(t("repeat.button", count=count), key=f"repeat_{key}_{count}"):
            try:
                group = seed_groups.repeat(queue(), run, comparisons.more_seeds(run, count), who=who(),
                                           student=student(), assignment=assignment, requested_by=requested_by)
                st.session_state["seed_groups"][key] = group.jobs[0].id
            except CnnlabError as error:  # another training in line, the time left, a guest: in a sentence
                st.warning(t("repeat.refused", error=error))
    group = _seed_group(key)
    if group is not None and group.status == "running":
        st.fragment(_repeat_progress, run_every=1.0)(key)
    elif group is not None and group.status == "failed":
        st.warning(t("repeat.ended", error=i18n.text(group.why) if group.why else ""))


def _repeat_progress(key):
    """The seed training now (or its place in line), of how many; the whole page again once every seed trained."""
    group = _seed_group(key)
    if group is None or group.status != "running":
        st.rerun(scope="app")  # the group is stored: the page draws it
    job = group.current
    text = t("repeat.progress", seed=job.config.seed, number=len(group.jobs), count=len(group.configs))
    if job.status == "queued":
        st.info(f"{text} {t('train.queued', position=queue().position(job) or 1)}")
    else:
        st.progress(job.fraction, text=text)


def seed_group(run, key):
    """A run that has a group drawn as a group: each seed's test accuracy and the mean ± one standard deviation, and
    the curves as the mean with a min–max band. Nothing for a run alone (returns its group either way)."""
    from cnnlab.course import comparisons
    from cnnlab.insight import charts, group_charts

    group = comparisons.group_of(run, store().list(who=who()))
    if len(group) < 2:
        st.caption(t("repeat.alone"))
        return group
    st.subheader(t("repeat.group_title", count=len(group)))
    st.markdown(comparisons.group_summary(run.id[:8], group))
    label = f"{run.config.architecture_name} [{run.id[:4]}]"
    st.altair_chart(group_charts.seed_accuracies([(label, [(m.config.seed, m.test_accuracy) for m in group])]),
                    width="stretch")
    metric = st.radio(t("compare.metric"), ["accuracy", "loss"], horizontal=True, key=f"group_metric_{key}",
                      format_func=lambda m: t(charts.METRICS[m]))
    st.altair_chart(group_charts.group_curves([(label, [member.history for member in group])], metric),
                    width="stretch")
    return group

