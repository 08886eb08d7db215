"""Crafted links: what a student can put in an address bar (?run=, a settings link, ?lang=) gets a sentence, never a
traceback, and builds nothing it should not. Written here by the tests; nothing is committed as a blob."""

import json
import os

import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from cnnlab.course import exports
from cnnlab.errors import CnnlabError

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")

RUN_LINKS = ["../../etc/passwd", "%2e%2e%2f%2e%2e", "a" * 100_000, "\x00\x01", "0" * 16, "ab", "ü" * 20, "*", "-1",
             "0123456789abcdef/../x"]

# Streamlit itself ignores a query string over 524,288 characters: these stay under it
DEEP = "[" * 50_000 + "]" * 50_000  # a JSON nesting far deeper than Python's parser recurses
LAYERS = json.dumps([{"kind": "dense", "size": 8}] * 5_000)  # five thousand layers
SETTINGS_LINKS = {
    "nested": {"network": DEEP},
    "huge_text": {"network": "x" * 400_000},
    "many_layers": {"network": LAYERS},
    "object": {"network": json.dumps({"kind": "conv"})},
    "big_number": {"network": json.dumps([{"kind": "conv", "size": 10 ** 400}, {"kind": "flatten"}])},
    "float_size": {"network": json.dumps([{"kind": "dense", "size": 1e308}])},
    "bad_kernel": {"network": json.dumps([{"kind": "conv", "size": 4, "kernel": 0}, {"kind": "flatten"}])},
    "bad_stride": {"network": json.dumps([{"kind": "conv", "size": 4, "stride": -3}, {"kind": "flatten"}])},
    "bad_padding": {"network": json.dumps([{"kind": "conv", "size": 4, "padding": "x" * 500}])},
    "code_kind": {"network": json.dumps([{"kind": "__import__('os').system('id')"}])},
    "epochs_inf": {"network": "fast", "epochs": "1e309"},
    "epochs_nan": {"network": "fast", "epochs": "nan"},
    "epochs_huge": {"network": "fast", "epochs": "9" * 400},
    "batch_zero": {"network": "fast", "batch": "0"},
    "rate_nan": {"network": "fast", "lr": "nan"},
    "rate_inf": {"network": "fast", "lr": "inf"},
    "dropout_two": {"network": "fast", "dropout": "2"},
    "validation_negative": {"network": "fast", "validation": "-0.5"},
    "seed_huge": {"network": "fast", "seed": "9" * 400},
    "dataset_path": {"dataset": "../../etc"},
    "dataset_huge": {"dataset": "d" * 400_000},
    "optimizer_code": {"network": "fast", "optimizer": "__import__('os')"},
    "train_size_huge": {"network": "fast", "train_size": "1e100"},
    "augment_odd": {"network": "fast", "augment": "maybe"},
}


def page(path, **query):
    at = AppTest.from_file(os.path.join(ROOT, path), default_timeout=120)
    at.query_params.update(query)
    return at.run()


@pytest.mark.parametrize("name", sorted(SETTINGS_LINKS))
def test_a_crafted_settings_link_is_a_sentence_in_the_package_and_on_the_train_page(name):
    query = SETTINGS_LINKS[name]
    with pytest.raises(CnnlabError):
        exports.config_from_query(query)  # refused in words by the package, for every caller
    at = page("pages/3_Train.py", **query)
    assert not at.exception, (name, at.exception)
    warnings = " ".join(w.value for w in at.warning)
    assert "link's settings cannot be used" in warnings, (name, warnings)
    assert all(len(w.value) < 2_000 for w in at.warning)  # a sentence, not the link's text sent back


@pytest.mark.parametrize("path", ["pages/4_Inside.py", "pages/11_Learned.py", "pages/3_Train.py", "pages/5_Mistakes.py"])
def test_a_crafted_run_link_is_a_sentence_on_every_page_that_follows_it(path):
    for wanted in RUN_LINKS:
        at = page(path, run=wanted)
        assert not at.exception, (path, wanted[:40], at.exception)
        warnings = " ".join(w.value for w in at.warning)
        assert "link" in warnings.lower(), (path, wanted[:40], warnings)
        assert all(len(w.value) < 2_000 for w in at.warning)


@pytest.mark.parametrize("lang", ["xx", "../../etc/passwd", "e" * 10_000, "es\x00"])
def test_a_crafted_language_falls_back_to_a_language_the_app_has(lang):
    at = page("app.py", lang=lang)
    assert not at.exception, at.exception
    assert at.session_state["language"] in ("en", "es")
