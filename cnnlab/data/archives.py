"""Checking and unpacking CIFAR-10's official archive (cifar-10-python.tar.gz) safely.

An archive from a teacher's USB stick, an upload or a download is untrusted until checked. Before
anything is written: it must be a gzip-compressed tar no bigger than the official one; every member
must be the archive's one folder or a regular file named as in the official archive (no `../`, no
absolute path, no link, no device); each member's declared size and the total are bounded before a
byte of it is read; batches are unpickled by an unpickler that only builds arrays of bytes, never calls code
and never builds more than a batch holds (cnnlab.data.cifar_pickle); shapes and labels are checked. Only then are the
batches written, into a temporary folder renamed into place, so an import that fails leaves nothing behind.

Python's tarfile reads an extended header (PAX, or a GNU long name) whole into memory before it hands
over the member it describes, and gzip lets 1 MB claim 1 GB. So the headers are checked too, before
tarfile reads them (_CheckedTarInfo: an extended header over MAX_HEADER_BYTES, more than MAX_HEADERS of
them, or a sparse file is refused from its 512-byte header block), and every decompressed byte passes
a counter that refuses the archive once it would go past MAX_STREAM_BYTES (_Bounded). The stream is
then read to its end, so a damaged or truncated archive is refused by gzip's own checksum and length.
"""

import contextlib
import gzip
import pathlib
import shutil
import tarfile
import uuid
import zlib

import filelock

from cnnlab import storage
from cnnlab.classroom import permissions
from cnnlab.data import catalogue, cifar_pickle
from cnnlab.errors import CnnlabError

FOLDER = "cifar-10-batches-py"
BATCHES = cifar_pickle.CIFAR_TRAIN_BATCHES + ("test_batch",)
EXTRAS = ("batches.meta", "readme.html")  # in the official archive; checked for size, not kept
MB = 1024 * 1024
MAX_ARCHIVE_BYTES = 163 * MB  # the official archive is 170,498,071 bytes (162.6 MB)
MAX_MEMBER_BYTES = 32 * MB  # an official batch is 31,035,xxx bytes
MAX_TOTAL_BYTES = 6 * MAX_MEMBER_BYTES + MB
MAX_MEMBERS = 16
MAX_HEADER_BYTES = 8 * 1024  # an extended header's data (PAX records, a GNU long name); the official archive has none
MAX_HEADERS = 3 * MAX_MEMBERS  # extended headers in one archive: a PAX header, a long name and a long link each
MAX_STREAM_BYTES = MAX_TOTAL_BYTES + MB  # decompressed: the members, their headers and the end-of-archive blocks
EXTENDED = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME,
            tarfile.GNUTYPE_LONGLINK)


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


class _Refused(Exception):
    """Raised inside tarfile (by _CheckedTarInfo or _Bounded); read_members words it with the archive's name."""

    def __init__(self, key, **params):
        super().__init__(key)
        self.key, self.params = key, params


class _CheckedTarInfo(tarfile.TarInfo):
    """A tar header that tarfile processes only after cnnlab has looked at its 512-byte block: an extended
    header larger than MAX_HEADER_BYTES, one more than MAX_HEADERS, or a sparse file (GNU's, or PAX's GNU.sparse
    records, whose maps tarfile reads without a bound) is refused before tarfile reads a byte of it."""

    def _proc_member(self, archive):  # tarfile's documented hook: called with only this header block read
        if self.type in EXTENDED:
            archive.cnnlab_headers = getattr(archive, "cnnlab_headers", 0) + 1
            if self.size > MAX_HEADER_BYTES:
                raise _Refused("error.archive.header_too_big", size=self.size, limit=MAX_HEADER_BYTES)
            if archive.cnnlab_headers > MAX_HEADERS:
                raise _Refused("error.archive.too_many_headers", limit=MAX_HEADERS)
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise _Refused("error.archive.bad_member", member=self.name)
        return super()._proc_member(archive)

    def _refuse_sparse(self, next_member, *args):
        raise _Refused("error.archive.bad_member", member=next_member.name)

    _proc_gnusparse_00 = _proc_gnusparse_01 = _proc_gnusparse_10 = _refuse_sparse


class _Bounded:
    """A decompressed stream that refuses to be read or sought past `limit` bytes (tarfile's file object)."""

    def __init__(self, stream, limit):
        self.stream, self.limit = stream, limit

    def _check(self, end):
        if end > self.limit:
            raise _Refused("error.archive.too_much", limit=_megabytes(self.limit))

    def read(self, size=-1):
        position = self.stream.tell()
        if size is None or size < 0:  # the rest: at most one byte past the limit, to know it went past
            data = self.stream.read(self.limit + 1 - position)
            self._check(position + len(data))
            return data
        self._check(position + size)  # refused before the bytes are asked for
        return self.stream.read(size)

    def seek(self, offset, whence=0):
        target = offset + (self.stream.tell() if whence == 1 else 0)
        if whence == 2:  # the end of a gzip stream is only known by decompressing all of it
            raise OSError("seek from the end of a compressed stream")
        self._check(target)
        return self.stream.seek(target)

    def tell(self):
        return self.stream.tell()

    def drain(self):
        """Read the rest of the stream (within the limit), so that gzip checks its length and checksum."""
        while self.stream.read(MB):
            self._check(self.stream.tell())


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
        with open(source, "rb") if fileobj is None else contextlib.nullcontext(fileobj) as raw, \
                gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            stream = _Bounded(unzipped, MAX_STREAM_BYTES)
            archive = tarfile.open(fileobj=stream, mode="r:", tarinfo=_CheckedTarInfo)  # never closes `stream`
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
            stream.drain()  # to gzip's end: a damaged or cut-short archive is caught by its checksum and length
    except _Refused as refused:
        raise ArchiveRefused(refused.key, name=archive_name, **refused.params) from None
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
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
    return cifar_pickle.cifar_arrays(raws, archive_name, ArchiveRefused)


def _importing():
    """The server's one lock on importing CIFAR-10 (locks/cifar-import.lock, across threads and processes): two
    teachers or students pressing at once import one after the other, never renaming the same folder together."""
    locks = storage.home() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(str(locks / "cifar-import.lock"))


def import_cifar(source, archive_name=None, root=None, who=permissions.OWNER):
    """Check an archive, then write its batches into cnnlab's data folder atomically; returns the Source. Only a
    teacher (or a personal lab's owner) may: the whole class trains on it."""
    permissions.require(who, "import_class")
    with _importing():
        return _import(source, archive_name, root)


def import_placed(path, who=permissions.OWNER):
    """Check and unpack the archive placed in the data folder (the Data page's button), then remove it. Pressed
    twice at once, one press imports it and the other, waiting meanwhile, finds it done."""
    permissions.require(who, "import_class")
    path = pathlib.Path(path)
    with _importing():
        final = path.parent / FOLDER
        if not path.is_file():
            if (final / BATCHES[-1]).is_file():  # taken in by a press a moment before this one
                return catalogue.Source("data-area", str(final))
            raise ArchiveRefused("error.archive.gone", name=path.name, folder=str(path.parent))
        source = _import(path, path.name, path.parent)
        path.unlink(missing_ok=True)  # checked and unpacked: the archive itself is no longer needed
        return source


def _import(source, archive_name=None, root=None):
    """import_cifar's work, done under the lock: checked whole, then written and renamed into place."""
    archive_name = archive_name or pathlib.Path(getattr(source, "name", str(source))).name
    raws = read_members(source, archive_name)
    cifar_pickle.cifar_arrays(raws, archive_name, ArchiveRefused)  # every batch readable before anything is written
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
    return catalogue.Source("data-area", str(final))
