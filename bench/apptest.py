"""AppTest as the benches time it: a page rendered for a fresh session, without the test harness's own scan.

Streamlit 1.67's AppTest looks for components (v2) in the metadata of every installed package once per AppTest
object: 0.19-0.78 s on these 2 cores with 170 packages (2026-12-07), more than most pages take. A server does that
once, when it starts. Each page a bench times is a new AppTest (a new session); here they share one scan, so that
what is timed is the page.
"""

import functools
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


@functools.cache
def _components():
    from streamlit.components.v2.component_manager import BidiComponentManager

    manager = BidiComponentManager()
    manager.discover_and_register_components(start_file_watching=False)
    return manager


def page(path, timeout=120):
    """An AppTest of the page at path (from the project's root) that reuses the one component scan."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / path), default_timeout=timeout)
    at._bidi_component_manager = _components()  # private in Streamlit 1.67 (AppTest._run): see the docstring
    return at
