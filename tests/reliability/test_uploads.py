"""A student's pictures sent on the Data page live on disk, not in the server's memory, and not for long (#29 item 4).

What a browser sends is written to the store's tmp/ (own_images.keep_upload), Streamlit's copy is dropped, and the
session keeps only the survey (names and reasons) and the path. The upload is removed when it is imported,
discarded, replaced by the next one, refused, or left for hours; one session holds one, of bounded size.
"""

import dataclasses
import io
import os
import time

import pytest
from streamlit.testing.v1 import AppTest

from cnnlab import own_images
from conftest import ROOT

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


def page():
    return AppTest.from_file(os.path.join(ROOT, "pages/1_Data.py"), default_timeout=120).run()


def uploads(isolated):
    """The uploads kept on disk now (folders under the store's tmp/)."""
    area = isolated / "cnnlab_home" / "tmp"
    return sorted(p for p in area.glob("upload.*")) if area.exists() else []


def bytes_held(value, seen=None):
    """How many bytes of file content a value holds, looking inside containers, dataclasses and objects."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, io.BytesIO):
        return value.getbuffer().nbytes
    if isinstance(value, dict):
        return sum(bytes_held(v, seen) for v in value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return sum(bytes_held(v, seen) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(bytes_held(getattr(value, f.name), seen) for f in dataclasses.fields(value))
    return 0


def shapes(tmp_path, name="leaves", per_class=4, colour=False):
    from test_own_images import shapes_folder, zip_of

    folder = shapes_folder(tmp_path / name, per_class=per_class, colour=colour)
    return folder, zip_of(folder, tmp_path / f"{name}.zip")


def test_an_upload_is_kept_on_disk_not_in_the_session_and_removed_once_imported(isolated):
    _, archive = shapes(isolated, per_class=8)
    sent = archive.read_bytes()
    at = page()
    at.file_uploader(key="own_zip_0").set_value(("leaves.zip", sent, "application/zip")).run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    assert "leaves.zip: 24 pictures in 3 classes" in [s.value for s in at.subheader]
    state = at.session_state.to_dict()
    assert bytes_held(state) < 1024, {k: bytes_held(v) for k, v in state.items()}  # names and reasons only
    [kept] = uploads(isolated)
    assert (kept / "archive.zip").read_bytes() == sent
    assert [u.key for u in at.file_uploader] == ["own_zip_1"] and at.file_uploader[0].value is None  # sent again?
    assert any("is kept on the server until you press Import" in c.value for c in at.caption)
    at.button[0].click().run()  # Import
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Imported leaves: 18 training and 6 test pictures." in " ".join(s.value for s in at.success)
    assert uploads(isolated) == []


def test_a_new_upload_replaces_the_old_a_discarded_one_goes_and_a_refused_one_is_not_kept(isolated):
    folder, archive = shapes(isolated)
    at = page()
    at.file_uploader(key="own_zip_0").set_value(("leaves.zip", archive.read_bytes(), "application/zip")).run()
    [first] = uploads(isolated)
    at.radio(key="own_kind").set_value("folder").run()
    files = [(f"coins/{p.relative_to(folder)}", p.read_bytes(), "image/png") for p in sorted(folder.rglob("*.*"))
             if p.suffix in (".png", ".jpg")]
    at.file_uploader(key="own_folder_1").set_value(files).run()
    assert not at.exception and "coins: 12 pictures in 3 classes" in [s.value for s in at.subheader]
    [second] = uploads(isolated)
    assert second != first and (second / "files" / "coins" / "circle" / "1.png").is_file()
    at.button(key="own_discard").click().run()
    assert not at.exception and uploads(isolated) == [] and not at.subheader
    from test_hostile_archives import lying

    liar, _ = lying("says_less", isolated)
    at.radio(key="own_kind").set_value("zip").run()
    at.file_uploader(key="own_zip_2").set_value(("shapes.zip", liar.read_bytes(), "application/zip")).run()
    assert not at.exception and "the archive's sizes are false" in " ".join(e.value for e in at.error)
    assert uploads(isolated) == []


def test_streamlit_drops_its_copy_of_what_was_written_to_disk():
    def script():
        import streamlit as st
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        import ui

        sent = st.file_uploader("pictures", key="sent")
        if sent is not None:
            context = get_script_run_ctx()
            held = lambda: len(context.uploaded_file_mgr.get_files(context.session_id, [sent.file_id]))  # noqa: E731
            before = held()
            ui.release_uploads([sent])
            st.write(f"held {before}, then {held()}")

    at = AppTest.from_function(script).run()
    at.file_uploader(key="sent").set_value(("a.zip", b"PK" + bytes(1000), "application/zip")).run()
    assert not at.exception and [m.value for m in at.markdown] == ["held 1, then 0"]


def test_one_upload_is_bounded_and_uploads_left_for_hours_are_swept(isolated, monkeypatch):
    _, archive = shapes(isolated)
    old = own_images.keep_upload([("old.zip", io.BytesIO(archive.read_bytes()))])
    hours_ago = time.time() - own_images.UPLOAD_MAX_AGE - 60
    os.utime(old.path.parent, (hours_ago, hours_ago))
    kept = own_images.keep_upload([("new.zip", io.BytesIO(archive.read_bytes()))])  # another session's
    assert uploads(isolated) == [kept.path.parent] and own_images.survey(kept).images == 12
    monkeypatch.setattr(own_images, "MAX_UPLOAD_BYTES", 1024 * 1024)
    big = [(f"big/a/{n}.png", io.BytesIO(bytes(300_000))) for n in range(4)]
    with pytest.raises(own_images.ImportRefused, match="more than the 1 MB one upload may keep on the server"):
        own_images.keep_upload(big, folder=True)
    with pytest.raises(own_images.ImportRefused, match="outside itself"):
        own_images.keep_upload([("up/../../../evil.png", io.BytesIO(b"x"))], folder=True)
    assert uploads(isolated) == [kept.path.parent] and not (isolated / "evil.png").exists()
    kept.remove()
    with pytest.raises(own_images.ImportRefused, match="no longer on the server"):
        own_images.survey(kept)
