"""Downloading a dataset: an explicit action with progress (bytes and seconds left), never a side effect.

Files come from the hosts keras.datasets uses, or from a school's mirror: CNNLAB_MIRROR names a URL
whose folder holds the same file names (for a server that reaches no outside host). Each file is
streamed into a temporary file in cnnlab's data folder, checked (its published SHA-256 where there
is one, then read as the dataset it claims to be), and only then renamed into place: a stopped or
failed download leaves nothing half-written, and training never starts one.
"""

import dataclasses
import hashlib
import http.client
import os
import shutil
import threading
import time
import urllib.parse
import urllib.request
import uuid

from cnnlab import storage
from cnnlab.classroom import permissions
from cnnlab.data import archives, catalogue, datasets, readers, sources
from cnnlab.errors import CnnlabError, DatasetUnavailable
from cnnlab.i18n import t

GOOGLE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
TORONTO = "https://www.cs.toronto.edu/~kriz/"
SOCKET_TIMEOUT_S = 30.0  # a stalled transfer ends with a message instead of hanging
CHUNK = 256 * 1024
REPORT_SECONDS = 0.25


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset as its publisher serves it."""

    name: str
    base_url: str
    size: int  # bytes, for progress when the server sends no length
    sha256: str | None = None  # published by keras.datasets where it checks one

    def url(self):
        mirror = os.environ.get("CNNLAB_MIRROR")
        return (mirror.rstrip("/") + "/" if mirror else self.base_url) + self.name


FILES = {
    "mnist": (RemoteFile("mnist.npz", GOOGLE, 11_490_434,
                         "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"),),
    "fashion_mnist": (RemoteFile("train-labels-idx1-ubyte.gz", GOOGLE, 29_515),
                      RemoteFile("train-images-idx3-ubyte.gz", GOOGLE, 26_421_880),
                      RemoteFile("t10k-labels-idx1-ubyte.gz", GOOGLE, 5_148),
                      RemoteFile("t10k-images-idx3-ubyte.gz", GOOGLE, 4_422_102)),
    "cifar10": (RemoteFile("cifar-10-python.tar.gz", TORONTO, 170_498_071,
                           "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"),),
}


@dataclasses.dataclass
class Progress:
    """How far a download is: bytes of all its files together."""

    done_bytes: int = 0
    total_bytes: int = 1
    seconds_left: float | None = None
    file: str = ""

    @property
    def fraction(self):
        return min(1.0, self.done_bytes / max(self.total_bytes, 1))

    def describe(self):
        """'12.3 of 170.5 MB, about 40 s left' in the reader's language."""
        done, total = self.done_bytes / 1e6, self.total_bytes / 1e6
        if self.seconds_left is None:
            return t("download.progress_start", file=self.file, done=done, total=total)
        return t("download.progress", file=self.file, done=done, total=total, seconds=round(self.seconds_left))


class Stopped(CnnlabError):
    """The download was stopped on request; nothing was kept."""


def host_of(name):
    """(host, port) the first file of a dataset comes from (its mirror when one is set)."""
    url = urllib.parse.urlsplit(FILES[catalogue.get_info(name).name][0].url())
    return url.hostname, url.port or (443 if url.scheme == "https" else 80)


def available(name):
    """True when this server can reach the host a download of name would use (asked once per process)."""
    host, port = host_of(name)
    return datasets.network_allows(host, port)


def download(name, on_progress=None, should_stop=None):
    """Download a dataset into cnnlab's data folder with progress; returns its Source. Raises a clear error."""
    info = catalogue.get_info(name)
    files = FILES[info.name]
    host, port = host_of(info.name)
    if not datasets.network_allows(host, port):
        raise DatasetUnavailable("error.dataset.no_network", host=host, how=sources.how_to_get(info.name))
    area = storage.data_area()
    work = area / f".download-{info.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part"
    work.mkdir(parents=True)
    progress = Progress(total_bytes=sum(f.size for f in files))
    started = time.monotonic()
    try:
        sizes = {}
        for remote in files:
            sizes[remote.name] = _fetch(remote, work / remote.name, progress, started, sizes, on_progress,
                                        should_stop, info)
        return _install(info, work, area)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fetch(remote, target, progress, started, sizes, on_progress, should_stop, info):
    """Stream one file to target, hashing as it comes; returns its size."""
    digest, done, last_report = hashlib.sha256(), 0, 0.0
    before = sum(sizes.values())
    try:
        with urllib.request.urlopen(remote.url(), timeout=SOCKET_TIMEOUT_S) as response, open(target, "wb") as out:
            declared = response.headers.get("Content-Length")
            length = int(declared or remote.size)
            progress.total_bytes += length - remote.size  # the server's length is the true one
            progress.file = remote.name
            while chunk := response.read(CHUNK):
                if should_stop is not None and should_stop():
                    raise Stopped("error.download.stopped", title=info.title)
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                progress.done_bytes = before + done
                now = time.monotonic()
                if on_progress is not None and now - last_report >= REPORT_SECONDS:
                    elapsed = now - started
                    rate = progress.done_bytes / elapsed if elapsed > 0.5 else None
                    progress.seconds_left = (progress.total_bytes - progress.done_bytes) / rate if rate else None
                    on_progress(progress)
                    last_report = now
            out.flush()
            os.fsync(out.fileno())
        if declared and done != length:
            raise DatasetUnavailable("error.dataset.download_failed", title=info.title,
                                     error=t("download.cut_off", done=done, total=length),
                                     how=sources.how_to_get(info.name))
    except CnnlabError:
        raise
    except (OSError, ValueError, http.client.HTTPException) as error:  # urllib, http and socket errors all end the same way for a user
        raise DatasetUnavailable("error.dataset.download_failed", title=info.title,
                                 error=str(getattr(error, "reason", None) or error) or type(error).__name__,
                                 how=sources.how_to_get(info.name)) from None
    if remote.sha256 and digest.hexdigest() != remote.sha256:
        raise DatasetUnavailable("error.download.checksum", title=info.title, file=remote.name,
                                 url=remote.url())
    progress.seconds_left = 0.0
    if on_progress is not None:
        on_progress(progress)
    return done


def _install(info, work, area):
    """Check what was downloaded as the dataset it claims to be, then move it into place in one rename."""
    if info.name == "cifar10":
        return archives.import_cifar(work / "cifar-10-python.tar.gz", root=area)
    if info.name == "mnist":
        check, final = work / "mnist.npz", area / "mnist.npz"
    else:
        check, final = work, area / "fashion-mnist"
    try:
        readers.read_files(info.name, check)
    except (OSError, ValueError, KeyError, EOFError) as error:
        raise DatasetUnavailable("error.dataset.unreadable", title=info.title, path=FILES[info.name][0].url(),
                                 error=str(error)) from None  # what came from there, not the temporary file
    if final.exists() and final.is_dir():
        old = area / f".old-{final.name}.{uuid.uuid4().hex[:8]}"
        final.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(check, final)
    return catalogue.Source("data-area", str(final))


class Download:
    """One download running in a background thread; pages read it, never the thread the page."""

    def __init__(self, name):
        self.name = name
        self.progress = Progress(total_bytes=sum(f.size for f in FILES[name]))
        self.status = "running"  # running | done | failed
        self.error = None
        self.source = None
        self.stop_requested = False
        self._thread = threading.Thread(target=self._run, name=f"cnnlab-download-{name}", daemon=True)
        self._thread.start()

    def _run(self):
        try:
            self.source = download(self.name, on_progress=self._update, should_stop=lambda: self.stop_requested)
            self.status = "done"
        except CnnlabError as error:
            self.error, self.status = error.message, "failed"

    def _update(self, progress):
        self.progress = dataclasses.replace(progress)

    def wait(self, timeout=None):
        self._thread.join(timeout)
        return self.status != "running"


class Downloads:
    """The server's downloads: at most one per dataset at a time, shared by every session."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_name = {}

    def start(self, name, who=permissions.OWNER):
        """A download of the dataset for the whole server (the one running, if there is one). Only a teacher (or a
        personal lab's owner) may: what it brings is the class's dataset."""
        permissions.require(who, "import_class")
        name = catalogue.get_info(name).name
        with self._lock:
            current = self._by_name.get(name)
            if current is None or current.status != "running":
                current = self._by_name[name] = Download(name)
            return current

    def get(self, name):
        with self._lock:
            return self._by_name.get(catalogue.get_info(name).name)

    def stop(self, name, who=permissions.OWNER):
        """Stop the dataset's download (a teacher's, like starting one)."""
        permissions.require(who, "import_class")
        found = self.get(name)
        if found is not None:
            found.stop_requested = True

