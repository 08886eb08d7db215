"""The Streamlit pages, run headless with AppTest."""

import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT


@pytest.fixture(autouse=True)
def fresh_streamlit_caches():
    import streamlit as st
    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def test_home_page_on_an_empty_store_says_what_to_do_first():
    at = AppTest.from_file(f"{ROOT}/app.py", default_timeout=60).run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "No runs yet" in text and "Train" in text
    table = at.dataframe[0].value
    sources = dict(zip(table["Dataset"], table["Source"]))
    assert "bundled" in sources["MNIST"]
    assert sources["CIFAR-10"].startswith("not available") and "--download cifar10" in sources["CIFAR-10"]


def test_home_page_does_not_import_tensorflow():
    code = ("import sys, runpy; sys.argv=['app.py']; import streamlit; "
            "runpy.run_path('app.py'); print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr
