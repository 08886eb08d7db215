"""cnnlab's entry point: the language selector, the navigation in that language, and the home page.

No TensorFlow here: the home page opens at once. Every page is a file in pages/ (its text in the
catalogues of cnnlab/locales); this file draws the sidebar above all of them. `streamlit run app.py` finds the st.App
at the bottom and serves it: the pages, and the two addresses that set and remove the sign-in cookie
(cnnlab/classroom/web.py).
"""

import streamlit as st

import ui
from cnnlab import i18n, training
from cnnlab.course import handins, worksheet
from cnnlab.data import catalogue, sources
from cnnlab.errors import CnnlabError
from cnnlab.i18n import t


def home():
    code = st.query_params.get("assignment")
    if code:  # an assignment's link (/?assignment=CODE, its QR code): its worksheet, which says if it is unknown
        st.switch_page(ASSIGNMENT_PAGE, query_params={"assignment": str(code)[:40], "lang": i18n.get_language()})
    st.set_page_config(page_title="cnnlab", page_icon="🧠", layout="wide")
    st.title(t("home.title"))
    st.write(t("home.intro"))
    assignments_box()

    st.header(t("home.path_header"))
    st.markdown("\n".join(f"{i}. **{name}** — {what}" for i, (name, what) in enumerate(t("home.path"), start=1)))

    left, right = st.columns(2)
    with left:
        st.header(t("home.device_header"))
        st.write(training.device_summary())
    with right:
        st.header(t("home.store_header"))
        stored = ui.store().list(who=ui.who())
        st.write(t("home.store_count", count=len(stored)) if stored else t("home.store_empty"))

    st.header(t("home.data_header"))
    rows = []
    for row in sources.describe_sources(who=ui.who()):
        info = catalogue.get_info(row["dataset"])
        source = row["source"]
        rows.append({
            t("home.col_dataset"): row["title"],
            t("home.col_source"): source.describe() if source else f"{t('home.not_available')} — {row['how_to_get']}",
            t("home.col_images"): (t("home.images", train=row["sizes"][0], test=row["sizes"][1])
                                   if row["sizes"] else "—"),
            t("home.col_about"): info.description,
        })
    st.dataframe(rows, hide_index=True, width="stretch")
    st.caption(t("home.offline_note"))


ASSIGNMENT_PAGE = "pages/12_Assignment.py"


def assignments_box():
    """A signed-in student's class's open assignments: title, due time, handed in or not, each opening its
    worksheet."""
    who = ui.who()
    if who.role != "student":
        return
    try:
        found = worksheet.open_for(who)
    except CnnlabError as error:  # the database is away: the rest of the home page still opens
        st.warning(str(error))
        return
    if not found:
        return
    st.header(t("home.assignments"))
    for assignment, hand_in in found:
        due = t("worksheet.due", due=handins.when(assignment.due_at)) if assignment.due_at else t("worksheet.no_due")
        status = (t("home.assignment_handed", times=hand_in.times) if hand_in is not None and hand_in.handed_at
                  else t("home.assignment_not_handed"))
        st.page_link(ASSIGNMENT_PAGE, label=f"{assignment.title} · {due} · {status}", icon="📝",
                     query_params={"assignment": assignment.code, "lang": i18n.get_language()})


def main():
    st.session_state[ui.ROUTER] = True
    ui.language_selector()  # and who this browser is, with the sign-in on a class server
    navigation = st.navigation(
        [st.Page(home, title=t("nav.home"), icon="🧠", default=True)]
        + [st.Page(path, title=t(key), icon=icon, url_path=address) for path, key, icon, address in ui.PAGES])
    navigation.run()


if __name__ == "__main__":  # Streamlit runs this file as the script of every page view (and AppTest does)
    main()
else:  # `streamlit run app.py` imports it once to serve it: Streamlit's pages, and the routes that sign in and out
    from streamlit.runtime.pages_manager import PagesManager

    from cnnlab.classroom import web

    # What st.navigation sets in its first call, set before the first visitor: otherwise that visitor's first run
    # treats pages/ as Streamlit's old folder of pages (its own menu, in English), and their first click or form
    # after it is taken for a change of page, which empties what they typed (measured: the first Join was lost).
    PagesManager.uses_pages_directory = False
    web.refuse_a_newer_database()  # one line and no server, rather than a class that cannot sign in
    app = st.App(__file__, routes=web.ROUTES)
