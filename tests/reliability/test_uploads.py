"""A student's pictures sent on the Data page live on disk, not in the server's memory, and not for long (#29 item 4).

What a browser sends is written to the store's tmp/ (uploads.keep_upload), Streamlit's copy is dropped, and the
session keeps only the survey (names and reasons) and the path. The upload is removed when it is imported,
discarded, replaced by the next one, refused, or left for hours; one session holds one, of bounded size.
"""

import dataclasses
import io
import os
import re
import time

import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest

from cnnlab.data import own_survey, uploads

pytestmark = pytest.mark.usefixtures("fresh_streamlit_caches")


def page():
    return AppTest.from_file(os.path.join(ROOT, "pages/1_Data.py"), default_timeout=120).run()


def kept_folders(isolated):
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
    [kept] = kept_folders(isolated)
    assert (kept / "archive.zip").read_bytes() == sent
    assert [u.key for u in at.file_uploader] == ["own_zip_1"] and at.file_uploader[0].value is None  # sent again?
    assert any("is kept on the server until you press Import" in c.value for c in at.caption)
    at.button[0].click().run()  # Import
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Imported leaves: 18 training and 6 test pictures." in " ".join(s.value for s in at.success)
    assert kept_folders(isolated) == []


def test_a_new_upload_replaces_the_old_a_discarded_one_goes_and_a_refused_one_is_not_kept(isolated):
    folder, archive = shapes(isolated)
    at = page()
    at.file_uploader(key="own_zip_0").set_value(("leaves.zip", archive.read_bytes(), "application/zip")).run()
    [first] = kept_folders(isolated)
    at.radio(key="own_kind").set_value("folder").run()
    files = [(f"coins/{p.relative_to(folder)}", p.read_bytes(), "image/png") for p in sorted(folder.rglob("*.*"))
             if p.suffix in (".png", ".jpg")]
    at.file_uploader(key="own_folder_1").set_value(files).run()
    assert not at.exception and "coins: 12 pictures in 3 classes" in [s.value for s in at.subheader]
    [second] = kept_folders(isolated)  # the session's folder, in place of the zip it held
    assert (second / "files" / "coins" / "circle" / "1.png").is_file() and not (second / "archive.zip").exists()
    at.button(key="own_discard").click().run()
    assert not at.exception and kept_folders(isolated) == [] and not at.subheader
    from test_hostile_archives import lying

    liar, _ = lying("says_less", isolated)
    at.radio(key="own_kind").set_value("zip").run()
    at.file_uploader(key="own_zip_2").set_value(("shapes.zip", liar.read_bytes(), "application/zip")).run()
    assert not at.exception and "the archive's sizes are false" in " ".join(e.value for e in at.error)
    assert kept_folders(isolated) == []


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

    at = AppTest.from_function(script, default_timeout=120).run()  # importing ui on a loaded machine: seconds
    at.file_uploader(key="sent").set_value(("a.zip", b"PK" + bytes(1000), "application/zip")).run()
    assert not at.exception and [m.value for m in at.markdown] == ["held 1, then 0"]


def test_one_upload_is_bounded_and_uploads_left_for_hours_are_swept(isolated, monkeypatch):
    _, archive = shapes(isolated)
    old = uploads.keep_upload([("old.zip", io.BytesIO(archive.read_bytes()))])
    hours_ago = time.time() - uploads.UPLOAD_MAX_AGE - 60
    os.utime(old.path.parent, (hours_ago, hours_ago))
    kept = uploads.keep_upload([("new.zip", io.BytesIO(archive.read_bytes()))])  # another session's
    assert kept_folders(isolated) == [kept.path.parent] and own_survey.survey(kept).images == 12
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 1024 * 1024)
    big = [(f"big/a/{n}.png", io.BytesIO(bytes(300_000))) for n in range(4)]
    with pytest.raises(uploads.ImportRefused, match="more than the 1 MB one upload may keep on the server"):
        uploads.keep_upload(big, folder=True)
    with pytest.raises(uploads.ImportRefused, match="outside itself"):
        uploads.keep_upload([("up/../../../evil.png", io.BytesIO(b"x"))], folder=True)
    assert kept_folders(isolated) == [kept.path.parent] and not (isolated / "evil.png").exists()
    kept.remove()
    with pytest.raises(uploads.ImportRefused, match="no longer on the server"):
        own_survey.survey(kept)


# ---------------------------------------------------------------- names, replacing, and the server's total (review)

def sent(*names, size=10):
    return [(name, io.BytesIO(bytes(size))) for name in names]


@pytest.mark.parametrize("names, folder, said", [
    ((), True, "Nothing was sent: choose a zip archive or a folder of pictures"),
    (("up/a\x00b.png",), True, "“up/a\\x00b.png” cannot name a file on the server"),
    (("up/a\nb.png",), True, "“up/a\\nb.png” cannot name a file on the server"),
    (("",), True, "“” cannot name a file on the server"),
    (("./",), True, "“./” cannot name a file on the server"),
    (("up/ok.png", "up/../.."), True, "The archive names a file outside itself (up/../..)"),
    (("",), False, "“” cannot name a file on the server"),
])
def test_a_sending_with_no_file_or_a_name_no_file_can_have_is_refused_in_a_sentence(names, folder, said, isolated):
    with pytest.raises(uploads.ImportRefused, match=re.escape(said)):
        uploads.keep_upload(sent(*names), folder=folder, owner="session")
    assert kept_folders(isolated) == []


def test_the_data_page_says_so_for_a_name_with_a_line_break(isolated):
    """Streamlit itself refuses a NUL in a sent file's name; a line break reaches the page, and gets a sentence."""
    at = page()
    at.radio(key="own_kind").set_value("folder").run()
    at.file_uploader(key="own_folder_0").set_value([("coins/a/1.png", b"x", "image/png"),
                                                    ("coins/b/2\n.png", b"x", "image/png")]).run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == ["“coins/b/2\\n.png” cannot name a file on the server (it is empty, or "
                                           "holds a control character such as NUL or a line break): rename it and "
                                           "send the pictures again. Nothing new was kept."]
    assert kept_folders(isolated) == []


def test_a_sending_that_cannot_be_stored_leaves_the_earlier_one_as_the_sentence_says(isolated):
    """error.own.write_failed says the pictures sent before are still there: they are, on disk and on the page."""
    _, archive = shapes(isolated)
    at = page()
    at.file_uploader(key="own_zip_0").set_value(("leaves.zip", archive.read_bytes(), "application/zip")).run()
    [first] = kept_folders(isolated)
    at.radio(key="own_kind").set_value("folder").run()
    clash = [("coins/a.png", b"x", "image/png"), ("coins/a.png/1.png", b"x", "image/png")]  # a file, then a folder
    at.file_uploader(key="own_folder_1").set_value(clash).run()
    assert not at.exception, at.exception
    [said] = [e.value for e in at.error]
    assert said.startswith("The pictures of coins could not be stored (") and \
        said.endswith("nothing was kept, and the pictures it had before are still there."), said
    assert kept_folders(isolated) == [first] and (first / "archive.zip").read_bytes() == archive.read_bytes()
    assert "leaves.zip: 12 pictures in 3 classes" in [s.value for s in at.subheader]  # still offered
    at.button[0].click().run()  # Import: the earlier pictures
    assert not at.exception and "Imported leaves: 9 training and 3 test pictures." in " ".join(
        s.value for s in at.success), [e.value for e in at.error]
    assert kept_folders(isolated) == []


def test_a_session_holds_one_upload_by_name_and_the_server_a_bounded_total(isolated, monkeypatch):
    _, archive = shapes(isolated)
    first = uploads.keep_upload([("a.zip", io.BytesIO(archive.read_bytes()))], owner="session-1")
    # the session's run was cut off before it noted `first`: its next sending replaces it all the same
    second = uploads.keep_upload([("b.zip", io.BytesIO(archive.read_bytes()))], owner="session-1")
    assert kept_folders(isolated) == [second.path.parent] and own_survey.survey(second).images == 12
    assert not first.path.exists() or first.path == second.path
    monkeypatch.setattr(uploads, "MAX_UPLOADS_BYTES", 3 * 1024 * 1024)
    uploads.keep_upload(sent("big/a/1.png", size=1024 * 1024), folder=True, owner="session-2")
    held = sum(f.stat().st_size for f in (isolated / "cnnlab_home" / "tmp").rglob("*") if f.is_file())
    with pytest.raises(uploads.ImportRefused, match=re.escape(
            f"The server already keeps {held / 2**20:,.0f} MB of pictures others sent and have not imported yet; "
            "with more it would keep more than 3 MB, its limit for everyone together")):
        uploads.keep_upload(sent("more/a/1.png", size=2 * 1024 * 1024), folder=True, owner="session-3")
    assert len(kept_folders(isolated)) == 2
    uploads.keep_upload(sent("big/a/1.png", size=2 * 1024 * 1024), folder=True, owner="session-2")  # its own
    assert len(kept_folders(isolated)) == 2  # replaced: a session's own upload does not count against it


def test_uploads_left_for_hours_go_when_a_training_starts_or_the_server_does(isolated):
    from cnnlab import runs

    _, archive = shapes(isolated)
    left = uploads.keep_upload([("left.zip", io.BytesIO(archive.read_bytes()))], owner="gone")
    fresh = uploads.keep_upload([("fresh.zip", io.BytesIO(archive.read_bytes()))], owner="here")
    hours_ago = time.time() - uploads.UPLOAD_MAX_AGE - 60
    os.utime(left.path.parent, (hours_ago, hours_ago))
    runs.RunStore().clean_tmp()  # what every training does first (this process, alive, wrote both)
    assert kept_folders(isolated) == [fresh.path.parent]
    os.utime(fresh.path.parent, (hours_ago, hours_ago))
    import ui

    ui.store.clear()
    ui.store()  # the server's first page
    assert kept_folders(isolated) == []


def test_the_teachers_cifar_upload_is_dropped_from_memory_whatever_the_outcome(isolated):
    from test_archives import official_members, write_archive
    from test_hostile_archives import damaged

    def script():  # the Data page, then how many files Streamlit holds for the session (the page ends in st.stop)
        import os
        import pathlib
        import runpy

        import streamlit as st
        from conftest import ROOT
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        st.session_state["dataset"] = "cifar10"
        try:
            runpy.run_path(f"{ROOT}/pages/1_Data.py")
        finally:
            context = get_script_run_ctx()
            held = len(context.uploaded_file_mgr.file_storage.get(context.session_id, {}))
            pathlib.Path(os.environ["CNNLAB_HOME"]).mkdir(parents=True, exist_ok=True)
            pathlib.Path(os.environ["CNNLAB_HOME"], "held").write_text(str(held))

    def held():
        return int((isolated / "cnnlab_home" / "held").read_text())

    whole = write_archive(isolated / "whole.tar.gz", official_members(n=4)[0]).read_bytes()
    for raw, imported in ((damaged(whole, 0.6), False), (whole, True)):
        at = AppTest.from_function(script, default_timeout=120).run()
        at.file_uploader(key="cifar_upload").set_value(("cifar-10-python.tar.gz", raw, "application/gzip")).run()
        assert not at.exception and held() == 1  # sent, and held until it is imported
        at.button(key="cifar_import").click().run()
        assert not at.exception, at.exception
        assert bool(at.error) is not imported, [e.value for e in at.error]
        assert held() == 0  # refused or imported: Streamlit's copy is gone


def test_students_uploads_leave_room_for_a_teachers(isolated, monkeypatch):
    from cnnlab.classroom import permissions

    student = permissions.Who("student", 7, "Sol", 1)
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 1024 * 1024 + 4096)
    monkeypatch.setattr(uploads, "MAX_UPLOADS_BYTES", 3 * (1024 * 1024 + 4096))
    for number in (1, 2):
        uploads.keep_upload(sent(f"s{number}/a/1.png", size=1024 * 1024), folder=True, owner=f"person:{number}",
                            who=student)
    with pytest.raises(uploads.ImportRefused, match="its limit for everyone together"):
        uploads.keep_upload(sent("s3/a/1.png", size=1024 * 1024), folder=True, owner="person:3", who=student)
    teacher = permissions.Who("teacher", 1, "Ms Rivera")
    uploads.keep_upload(sent("cifar/a/1.png", size=1024 * 1024), folder=True, owner="person:100", who=teacher)
    assert len(kept_folders(isolated)) == 3  # the teacher's CIFAR-10 archive still fits
