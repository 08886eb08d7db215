"""Checking and unpacking CIFAR-10's official archive (cifar-10-python.tar.gz) safely.

An archive from a teacher's USB stick, an upload or a download is untrusted until checked. Before
anything is written: it must be a gzip-compressed tar no bigger than the official one; every member
must be the archive's one folder or a regular file named as in the official archive (no `../`, no
absolute path, no link, no device); each member's declared size and the total are bounded before a
byte is read; batches are unpickled by an unpickler that only builds arrays and never calls code
(datasets._CifarUnpickler); shapes and labels are checked. Only then are the batches written, into a
temporary folder renamed into place, so an import that fails leaves nothing behind.
"""

import pathlib
import shutil
import tarfile
import uuid

from cnnlab import datasets, storage
from cnnlab.errors import CnnlabError

FOLDER = "cifar-10-batches-py"
BATCHES = datasets.CIFAR_TRAIN_BATCHES + ("test_batch",)
EXTRAS = ("batches.meta", "readme.html")  # in the official archive; checked for size, not kept
MB = 1024 * 1024
MAX_ARCHIVE_BYTES = 163 * MB  # the official archive is 170,498,071 bytes (162.6 MB)
MAX_MEMBER_BYTES = 32 * MB  # an official batch is 31,035,xxx bytes
MAX_TOTAL_BYTES = 6 * MAX_MEMBER_BYTES + MB
MAX_MEMBERS = 16


class ArchiveRefused(CnnlabError):
    """An archive that is not CIFAR-10's official one, or is damaged or hostile; nothing was written."""


def _megabytes(size):
    return round(size / MB, 1)


def _member_name(member, archive_name):
    """The file name inside the archive's folder ('' for the folder itself); refuses anything else."""
    name = member.name[2:] if member.name.startswith("./") else member.name
    name = name.rstrip("/") if member.isdir() else name
    if name == FOLDER and member.isdir():
        return ""
    folder, _, base = name.partition("/")
    if folder != FOLDER or base not in BATCHES + EXTRAS:
        raise ArchiveRefused("error.archive.bad_member", name=archive_name, member=member.name)
    if not member.isreg():  # a symlink, hard link, device or fifo under an official name
        raise ArchiveRefused("error.archive.not_a_file", name=archive_name, member=member.name)
    if member.size > MAX_MEMBER_BYTES:
        raise ArchiveRefused("error.archive.member_too_big", name=archive_name, member=member.name,
                             size=_megabytes(member.size), limit=_megabytes(MAX_MEMBER_BYTES))
    return base


def read_members(source, archive_name=None):
    """{batch name: bytes} from a CIFAR-10 archive (a path or a binary file object), every check applied."""
    archive_name = archive_name or pathlib.Path(getattr(source, "name", str(source))).name
    fileobj = source if hasattr(source, "read") else None
    size = _size(source)
    if size > MAX_ARCHIVE_BYTES:
        raise ArchiveRefused("error.archive.too_big", name=archive_name, size=_megabytes(size),
                             limit=_megabytes(MAX_ARCHIVE_BYTES))
    raws, total, seen = {}, 0, 0
    try:
        with tarfile.open(name=None if fileobj else str(source), fileobj=fileobj, mode="r:gz") as archive:
            while (member := archive.next()) is not None:
                seen += 1
                if seen > MAX_MEMBERS:
                    raise ArchiveRefused("error.archive.too_many", name=archive_name, limit=MAX_MEMBERS)
                base = _member_name(member, archive_name)
                total += member.size
                if total > MAX_TOTAL_BYTES:
                    raise ArchiveRefused("error.archive.too_much", name=archive_name,
                                         limit=_megabytes(MAX_TOTAL_BYTES))
                if base in BATCHES:
                    raws[base] = archive.extractfile(member).read(MAX_MEMBER_BYTES + 1)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ArchiveRefused("error.archive.unreadable", name=archive_name, error=str(error) or type(error).__name__) \
            from None
    missing = [name for name in BATCHES if name not in raws]
    if missing:
        raise ArchiveRefused("error.archive.missing", name=archive_name, members=", ".join(missing))
    return raws


def _size(source):
    if hasattr(source, "seek"):
        position = source.tell()
        source.seek(0, 2)
        size = source.tell() - position
        source.seek(position)
        return size
    return pathlib.Path(source).stat().st_size


def read_arrays(source, archive_name=None):
    """(x_train, y_train, x_test, y_test) from a checked archive; every batch checked as CIFAR-10's."""
    archive_name = archive_name or pathlib.Path(getattr(source, "name", str(source))).name
    raws = read_members(source, archive_name)
    return datasets.cifar_arrays(raws, archive_name, ArchiveRefused)


def import_cifar(source, archive_name=None, root=None):
    """Check an archive, then write its batches into cnnlab's data folder atomically; returns the Source."""
    archive_name = archive_name or pathlib.Path(getattr(source, "name", str(source))).name
    raws = read_members(source, archive_name)
    datasets.cifar_arrays(raws, archive_name, ArchiveRefused)  # every batch readable before anything is written
    root = pathlib.Path(root) if root else storage.data_area()
    root.mkdir(parents=True, exist_ok=True)
    final = root / FOLDER
    tmp = root / f".{FOLDER}.{uuid.uuid4().hex[:8]}.part"
    tmp.mkdir()
    try:
        for name, raw in raws.items():
            storage.write_bytes(tmp / name, raw)
        if final.exists():  # a fresh copy replaces an old one in one rename
            old = root / f".{FOLDER}.old.{uuid.uuid4().hex[:8]}"
            final.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return datasets.Source("data-area", str(final))
