"""Pictures sent through a browser are an Upload: written to disk in the store's tmp/ (keep_upload), never held in
the server's memory, named by the session that sent them and replaced by its next upload once that one is stored,
removed when imported or discarded, and swept once left for UPLOAD_MAX_AGE; one session holds one upload of at
most MAX_UPLOAD_BYTES, all sessions together at most MAX_UPLOADS_BYTES."""

import dataclasses
import hashlib
import os
import pathlib
import shutil
import time
import unicodedata
import uuid

import filelock

from cnnlab import storage
from cnnlab.classroom import permissions
from cnnlab.data import archives
from cnnlab.errors import CnnlabError

MB = 1024 * 1024
MAX_FILES = 5000
MAX_ARCHIVE_BYTES = archives.MAX_ARCHIVE_BYTES  # what the server takes in one upload (.streamlit/config.toml)
MAX_UPLOAD_BYTES = MAX_ARCHIVE_BYTES  # what one session may keep on the server: one upload (a zip or a folder)
MAX_UPLOADS_BYTES = 4 * MAX_UPLOAD_BYTES  # what every session together may keep: uploads not yet imported
UPLOAD_MAX_AGE = 6 * 3600  # seconds: an upload neither imported nor replaced for this long is removed


class ImportRefused(CnnlabError):
    """A folder or archive that cannot be imported at all (hostile, too big, no classes); nothing was written."""


def path_parts(name):
    """A member or file name as path parts; ImportRefused for one that leaves the source."""
    text = name.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise ImportRefused("error.own.absolute", member=name)
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ImportRefused("error.own.traversal", member=name)
    return parts


@dataclasses.dataclass(frozen=True, eq=False)
class Upload:
    """Pictures a browser sent, kept on disk in the store's tmp/ (never in the server's memory) until they are
    imported or given up: `path` is the zip, or the folder that holds the sent folder's files under their paths."""

    name: str
    path: pathlib.Path

    def remove(self):
        shutil.rmtree(self.path.parent, ignore_errors=True)


def _sent_parts(name):
    """The path parts of a file name a browser sent, which becomes a file on the server: as path_parts, with at least
    one part and no control character (a NUL cannot be in a file name; names in a zip or a folder on disk may keep
    theirs, such as macOS's 'Icon\\r', as no file is made from them)."""
    if not isinstance(name, str) or any(unicodedata.category(character) == "Cc" for character in name):
        raise ImportRefused("error.own.bad_file_name", member=_shown(name))
    parts = path_parts(name)
    if not parts:
        raise ImportRefused("error.own.bad_file_name", member=_shown(name))
    return parts


def _shown(name):
    """A name as a sentence may show it: control characters written as escapes, at most 200 characters."""
    text = "".join(c if unicodedata.category(c) != "Cc" else ascii(c)[1:-1] for c in str(name))
    return text if len(text) <= 200 else text[:199] + "…"


def _upload_folder(owner):
    """Where an owner's upload is kept: upload.<pid>.<owner's digest> in the store's tmp/ (RunStore.clean_tmp keeps
    it while this process lives). A session's id names one folder, so its next upload replaces it by name, even one
    written by a run the session never heard back from; no owner (the command line, a test): a fresh name."""
    tag = hashlib.sha256(owner.encode()).hexdigest()[:16] if owner else uuid.uuid4().hex[:16]
    return storage.temporary_area() / f"upload.{os.getpid()}.{tag}"


def _size_of(folder):
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def keep_upload(sent, folder=False, owner=None, who=permissions.OWNER):
    """The Upload, on disk, of what a browser sent: `sent` is [(name, binary file)], one zip, or a folder's files
    named by their paths (the folder's own name first, as browsers send them); `owner` is the browser session's id.

    A session holds one upload, of at most MAX_UPLOAD_BYTES, named by its owner: the earlier one is replaced only
    once the new one is stored, so a send that fails leaves the earlier one as it was. All sessions together hold
    at most MAX_UPLOADS_BYTES (uploads are written one at a time, under a lock, to keep that true); uploads left
    for UPLOAD_MAX_AGE are swept first. ImportRefused, with nothing new kept, for nothing sent, a name that cannot
    name a file, too much for one session or for the server, a path that leaves the folder, or a failed write.
    Guests of a class server may not send anything (cnnlab.classroom.permissions: import_own)."""
    permissions.require(who, "import_own")
    sent = list(sent)
    if not sent:
        raise ImportRefused("error.own.nothing_sent")
    if len(sent) > MAX_FILES:
        raise ImportRefused("error.own.too_many_files", count=len(sent), limit=MAX_FILES)
    named = [(_sent_parts(path), stream) for path, stream in sent]
    name = named[0][0][0] if folder else named[0][0][-1]
    final = _upload_folder(owner)
    tmp = final.with_name(final.name + ".part")
    inside = tmp / ("files" if folder else "archive.zip")
    locks = storage.home() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    try:
        with filelock.FileLock(str(locks / "uploads.lock")):  # one writer at a time: the total stays true
            sweep_uploads()
            shutil.rmtree(tmp, ignore_errors=True)  # what this session's cut-off sending left
            held = sum(_size_of(path) for path in final.parent.glob("upload.*") if path != final)
            room = MAX_UPLOADS_BYTES - (MAX_UPLOAD_BYTES if who.role == "student" else 0)  # one kept for a teacher
            written = 0
            for parts, stream in named:
                target = inside.joinpath(*parts) if folder else inside
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "wb") as out:
                    while chunk := stream.read(MB):
                        written += len(chunk)
                        if written > MAX_UPLOAD_BYTES:
                            raise ImportRefused("error.own.upload_too_big", name=name, limit=MAX_UPLOAD_BYTES / MB)
                        if held + written > room:
                            raise ImportRefused("error.own.uploads_full", name=name, held=held / MB,
                                                limit=room / MB)
                        out.write(chunk)
            _replace_folder(tmp, final)
    except OSError as error:  # a full disk: nothing half-kept, the earlier upload as it was
        raise ImportRefused("error.own.write_failed", name=name, reason=error.strerror or str(error)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Upload(name, final / inside.name)


def _replace_folder(new, final):
    """Put the folder `new` at `final`, in place of what was there."""
    if storage.exchange(new, final):  # swapped in one step: `new` now holds the earlier upload, removed after
        return
    old = final.with_name(f"{final.name}.old{uuid.uuid4().hex[:8]}")
    try:
        os.replace(final, old)
    except FileNotFoundError:
        pass
    os.replace(new, final)
    shutil.rmtree(old, ignore_errors=True)


def sweep_uploads(max_age=None, area=None):
    """Remove the uploads nobody imported or gave up for max_age seconds (UPLOAD_MAX_AGE): their sessions are gone.
    Done before each upload, by RunStore.clean_tmp (before each training) and when the server starts."""
    now = time.time()
    for path in (area or storage.temporary_area()).glob("upload.*"):
        try:
            stale = now - path.stat().st_mtime > (UPLOAD_MAX_AGE if max_age is None else max_age)
        except OSError:
            continue
        if stale:
            shutil.rmtree(path, ignore_errors=True)
