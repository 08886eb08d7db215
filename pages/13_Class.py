"""The class: what it learned together (its sweep, its mistakes, its filters), with a projector view.

Who sees what is cnnlab.insight.class_views.access's to decide; this page only places what it is given.
"""

import pandas as pd
import streamlit as st

import ui
from cnnlab.classroom import classes
from cnnlab.course import assignments
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t
from cnnlab.insight import class_charts, class_views, inspection

ui.page("classview.title", "👥")
who, store = ui.who(), ui.store()
# the projector's large type, full width: the sidebar folds away, paragraphs and captions grow
PROJECTOR = ("<style>section[data-testid='stSidebar'] {display: none;} "
             "[data-testid='stMarkdownContainer'] p, [data-testid='stMarkdownContainer'] li {font-size: 1.7rem;} "
             "[data-testid='stCaptionContainer'] {font-size: 1.3rem;}</style>")
COLUMNS = {"nickname": "classview.col_nickname", "architecture": "classview.col_network",
           "optimizer": "classview.col_optimizer", "learning_rate": "classview.col_learning_rate",
           "batch_size": "classview.col_batch_size", "dropout": "classview.col_dropout",
           "epochs": "classview.col_epochs", "seed": "classview.col_seed", "test_accuracy": "classview.accuracy",
           "run_id": "classview.col_run"}


def pick_class():
    """The class shown: a teacher picks one of theirs; a student sees their own."""
    if who.role == "student":
        return who.class_id
    mine = classes.of_teacher(who.person_id) if who.role == "teacher" else []
    if not mine:
        return None
    names = {c.id: f"{c.name} {c.term}".strip() for c in mine}
    return st.selectbox(t("classview.class_pick"), list(names), format_func=names.get, key="class_view_class")


def pick_assignment(class_id):
    """An assignment of the class; a teacher may also look at all of the class's work (None)."""
    found = assignments.of_class(who, class_id)
    titles = {a.id: a.title for a in found}
    choices = list(titles) if who.role == "student" else [None] + list(titles)
    if not choices:
        st.info(t("classview.no_assignments"))
        st.stop()
    return st.selectbox(t("classview.assignment_pick"), choices, key="class_view_assignment",
                        format_func=lambda a: t("classview.assignment_all") if a is None else titles[a])


def show_sweep(found, projector):
    st.header(t("classview.sweep"))
    st.caption(t("classview.sweep_text"))
    count = t("classview.attempts", count=len(found.rows), dataset=ui.dataset_title(found.dataset))
    st.markdown(count + (" " + t("classview.waiting", count=found.waiting) if found.waiting else ""))
    if not found.rows:
        return
    st.altair_chart(class_charts.sweep_chart(found.rows, large=projector))
    st.markdown(f"**{found.luck}**")
    if not projector:
        with st.expander(t("classview.table")):
            table = pd.DataFrame(found.rows)[[name for name in COLUMNS if name in found.rows[0]]]
            st.dataframe(table.rename(columns={name: t(key) for name, key in COLUMNS.items()}), hide_index=True,
                         column_config={t("classview.accuracy"): st.column_config.NumberColumn(format="percent")})


def show_mistakes(found, projector):
    st.header(t("classview.mistakes"))
    st.caption(t("classview.mistakes_text"))
    if found.matrix is None:
        return
    messages = [str(pair.message) for pair in found.pairs]
    st.altair_chart(class_charts.class_confusion(found.matrix, found.class_names, found.networks, messages,
                                                 large=projector))
    if not found.pairs:
        st.markdown(t("classview.no_pairs"))
    if found.images_missing is not None:
        st.caption(str(found.images_missing) if projector else t("classview.no_images"))
    for pair, message in zip(found.pairs, messages):
        st.subheader(ui.plain(message))
        columns = st.columns(6)
        for column, example in zip(columns, pair.examples):
            true, predicted = found.class_names[example.true], found.class_names[example.predicted]
            ui.image(column, inspection.upscale(example.image, 5 if projector else 3),
                     caption=t("classview.example_caption", index=example.index, true=true, pred=predicted,
                               networks=example.networks),
                     alt=t("classview.example_alt", index=example.index, true=true, pred=predicted,
                           networks=example.networks))


def show_filters(class_id, assignment_id, dataset, names, projector):
    st.header(t("classview.filters"))
    st.caption(t("classview.filters_text"))
    if not st.toggle(t("classview.filters_show"), key="class_view_filters", help=t("classview.filters_help")):
        return
    shown = class_views.filters(who, class_id, assignment_id, dataset, names=names, store=store, projector=projector)
    if not shown:
        st.info(t("classview.no_filters"))
    columns = st.columns(4)
    for n, network in enumerate(shown):
        words = dict(label=str(network.label), accuracy=network.test_accuracy, count=network.count, k=network.kernel)
        ui.image(columns[n % 4], network.grid, caption=t("classview.filters_caption", **words),
                 alt=t("classview.filters_alt", **words))


def show_leaderboard(class_id, assignment_id, projector, names):
    """The assignment's leaderboard (cnnlab.course.leaderboard decides who reads what; the teacher's names toggle
    decides the projector's)."""
    st.header(t("leaderboard.title"))
    assignment = next(a for a in assignments.of_class(who, class_id) if a.id == assignment_id)
    if who.role in ("teacher", "owner") and not st.toggle(t("leaderboard.show"), key="class_view_board"):
        return  # a private score rebuilds each network once: drawn when asked for
    ui.leaderboard_table(assignment, projector=projector, names=names)


def main():
    st.write(t("classview.intro"))
    try:
        class_id = pick_class()
        if class_id is None:
            st.info(t("classview.no_class") if who.role in ("teacher", "owner") else t("classview.not_yours"))
            st.stop()
        assignment_id = pick_assignment(class_id)
        granted = class_views.access(who, class_id, assignment_id)
    except CnnlabError as error:  # refused (the sentence says why), or the database away
        st.info(str(error))
        st.stop()
    left, right = st.columns(2)
    projector = left.toggle(t("classview.projector"), key="class_view_projector", help=t("classview.projector_help"))
    names = False
    if granted == class_views.ALL:  # never offered to a student: access() would not give them names anyway
        names = right.toggle(t("classview.projector_names") if projector else t("classview.names"),
                             key="class_view_projector_names" if projector else "class_view_names")
    if projector:
        st.html(PROJECTOR)
    found = class_views.datasets_of(who, class_id, assignment_id, projector)  # on the projector: what the class may see
    if not found:
        st.info(t("classview.empty"))
        st.stop()
    dataset = st.selectbox(t("classview.dataset_pick"), [name for name, _ in found], format_func=ui.dataset_title,
                           key="class_view_dataset")
    try:
        show_sweep(class_views.sweep(who, class_id, assignment_id, dataset, names=names, store=store,
                                     projector=projector), projector)
        show_mistakes(class_views.mistakes(who, class_id, assignment_id, dataset, store=store, projector=projector),
                      projector)
        if granted == class_views.ALL:
            show_filters(class_id, assignment_id, dataset, names, projector)
        else:
            st.caption(t("classview.filters_teacher"))
        if assignment_id is not None:
            show_leaderboard(class_id, assignment_id, projector, names if granted == class_views.ALL else True)
    except CnnlabError as error:  # the database away, a dataset no longer theirs: a sentence
        st.warning(str(error))


main()
