"""Notes and tags on a student's requests (#33) on the pages: theirs in Compare's "My runs", and in the teacher's view
of the class's work."""

import pytest
from test_app import page

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")  # conftest: each test's own server-wide caches


def test_a_students_tags_show_in_my_runs_and_in_their_teachers_view(sign_in):
    from cnnlab.classroom import requests

    sign_in("teacher")
    student = sign_in("student")
    asked = requests.record(student, "0123456789abcdef", "mnist", '{"epochs": 1}')
    requests.set_note(student, asked, "the dropout one")
    requests.set_tags(student, asked, "dropout,  seed study")
    at = page("pages/6_Compare.py").run()
    assert not at.exception, at.exception
    mine = next(frame.value for frame in at.dataframe if "your tags" in frame.value.columns)
    assert list(mine["your tags"]) == ["dropout, seed study"] and list(mine["your note"]) == ["the dropout one"]
    sign_in("teacher")
    at = page("pages/10_Teacher.py").run()
    assert not at.exception, at.exception
    work = next(frame.value for frame in at.dataframe if "tags" in frame.value.columns)
    assert list(work["tags"]) == ["dropout, seed study"] and list(work["note"]) == ["the dropout one"]
