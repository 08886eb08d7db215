"""Where cnnlab keeps its files ($CNNLAB_HOME, default ~/.cache/cnnlab) and how it writes them: atomically.

A reader sees a file either as it was or as it is now, never half-written: every write goes to a
temporary file in the same folder, is flushed to disk, and then renamed over the old one. A folder that
replaces another (a run trained again) is swapped with it in one step (exchange), where the system allows.
"""

import ctypes
import functools
import os
import pathlib
import uuid


def home():
    """cnnlab's folder: runs/ (the run store) and data/ (datasets downloaded or imported here)."""
    if os.environ.get("CNNLAB_HOME"):
        return pathlib.Path(os.environ["CNNLAB_HOME"])
    cache = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(cache) / "cnnlab"


def data_area():
    """The folder where datasets downloaded or imported through cnnlab live (same layout as Keras's cache)."""
    return home() / "data"


def temporary_area():
    """Files held for a moment: runs being written, pictures a browser sent (the run store's tmp/). An entry named
    `<what>.<pid>.<…>` is removed once its process is gone (runs.RunStore.clean_tmp)."""
    return home() / "tmp"


def temporary_sibling(path):
    """A fresh name beside path, for writing before the rename (same folder, so the rename is atomic)."""
    path = pathlib.Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")


def write_bytes(path, data):
    """Write data to path atomically (temporary file, fsync, rename)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path, text):
    write_bytes(path, text.encode("utf-8"))


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2  # from Linux's <fcntl.h> and <linux/fs.h>


@functools.cache
def _renameat2():
    """libc's renameat2 (Linux 3.15+, glibc 2.28+), or None where there is none."""
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def exchange(first, second):
    """Swap two paths (folders or files) in one step, so that a reader of either path finds the one or the other,
    never nothing: Linux's renameat2(RENAME_EXCHANGE). False, with nothing changed, where the system or the file
    system cannot (the caller then renames in two steps)."""
    function = _renameat2()
    if function is None:
        return False
    return function(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0
