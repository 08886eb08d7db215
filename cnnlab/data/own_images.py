"""Your own images: what a folder or a zip of pictures holds, checked before anything is imported.

The layout is the one Keras's `image_dataset_from_directory` reads: one folder per class (`cats/…`,
`dogs/…`), perhaps inside one wrapping folder. `survey` reads it without writing anything: the classes and
their readable images, every file it skips with the reason, the image sizes, the size it proposes to
resize to (28×28 grey, or 32×32 colour when most pictures are in colour) and warnings about tiny or
unbalanced classes.

A zip is untrusted: before a byte is decompressed, it is refused whole when it is larger than
MAX_ARCHIVE_BYTES, holds more than MAX_FILES entries, would decompress to more than MAX_TOTAL_BYTES, has
a member compressed more than MAX_RATIO times (a zip bomb), or names a path outside itself (`../`, an
absolute path) or a link. Each picture is then read by the same safe reader as the Draw page
(drawing.read_image: size and pixel limits from the header). In a folder, links are skipped, never followed.
A member that is damaged (its CRC does not match, its stream is broken, it is encrypted) is a file skipped
with its reason, in the survey and in the import; one that unpacks to another size than it declares makes
the whole zip refused, since every limit above was checked on the declared sizes.

Pictures sent through a browser are an Upload: written to disk in the store's tmp/ (keep_upload), never held in
the server's memory, named by the session that sent them and replaced by its next upload once that one is stored,
removed when imported or discarded, and swept once left for UPLOAD_MAX_AGE; one session holds one upload of at
most MAX_UPLOAD_BYTES, all sessions together at most MAX_UPLOADS_BYTES.

`import_images` then makes a dataset like the built-in ones: every picture centre-cropped and resized to the
chosen shape, a stratified train/test split drawn with a seed, stored in the data area under the name and the
content's fingerprint (cnnlab.data.datasets: own/<name>/<fingerprint>/). The files are written in a temporary
folder and renamed into place, so a failed import leaves nothing half-written. `delete` removes a name, every
version of it and the runs trained on it (the Teacher page offers it to the teacher only).
"""

import collections
import concurrent.futures
import copy
import dataclasses
import datetime
import hashlib
import json
import lzma
import os
import pathlib
import shutil
import stat
import struct
import time
import unicodedata
import uuid
import zipfile
import zlib

import filelock
import numpy as np

from cnnlab.data import archives, datasets
from cnnlab.insight import drawing
from cnnlab import storage
from cnnlab.errors import CnnlabError
from cnnlab.i18n import Message

MB = 1024 * 1024
MAX_FILES = 5000
MAX_ARCHIVE_BYTES = archives.MAX_ARCHIVE_BYTES  # what the server takes in one upload (.streamlit/config.toml)
MAX_TOTAL_BYTES = 500 * MB
MAX_RATIO = 100  # a picture never compresses 100 times; a zip bomb does
MAX_ENTRY_BYTES = 46 + 1024 + 512  # one entry of a zip's directory: its fixed part, a name, extra fields, a comment
MAX_DIRECTORY_BYTES = MAX_FILES * MAX_ENTRY_BYTES  # 7.9 MB: what the directory of MAX_FILES entries can take
MAX_UPLOAD_BYTES = MAX_ARCHIVE_BYTES  # what one session may keep on the server: one upload (a zip or a folder)
MAX_UPLOADS_BYTES = 4 * MAX_UPLOAD_BYTES  # what every session together may keep: uploads not yet imported
UPLOAD_MAX_AGE = 6 * 3600  # seconds: an upload neither imported nor replaced for this long is removed
TINY_CLASS = 10  # fewer images than this in a class: a warning
UNBALANCED = 3.0  # the largest class this many times the smallest: a warning
GREY_SHAPE, COLOUR_SHAPE = (28, 28, 1), (32, 32, 3)
SYSTEM = ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini")
SIDES = (28, 32, 48, 64)  # the sizes a user may choose (square); larger ones would be slow to train on 2 cores
TEST_SHARE = 0.2
SURVEY_SIDE = 64  # the survey decodes a JPEG at 1/8 of a large size: every byte is read, few pixels are made
DECODE_BATCH = 64  # files read before they are decoded together on every core
MIN_PER_CLASS = 2  # one picture to train on and one to test with
LABEL_DTYPE = np.uint8  # labels are stored as the built-in datasets store theirs: one byte each
MAX_CLASSES = int(np.iinfo(LABEL_DTYPE).max) + 1  # 256: a 257th class would wrap round to label 0


class ImportRefused(CnnlabError):
    """A folder or archive that cannot be imported at all (hostile, too big, no classes); nothing was written."""


class Unreadable(CnnlabError):
    """One file that cannot be read (damaged inside its zip, unreadable on disk): skipped with this reason."""


# what reading one zip member raises when it is damaged: a bad CRC or header (BadZipFile), a broken deflate, bzip2
# or lzma stream, data cut short, an encrypted member (RuntimeError), a compression zipfile does not know
MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, RuntimeError, NotImplementedError)


@dataclasses.dataclass
class Survey:
    """What a folder or zip holds, before importing it."""

    source: str
    classes: dict  # class name -> [file names relative to the source, readable images only]
    skipped: list  # [(file name, Message why)]
    sizes: collections.Counter  # (width, height) -> images
    colour: int  # images in colour
    warnings: list  # [Message]
    origin: object = None  # what was surveyed (a path or an Upload): what an import reads again

    @property
    def images(self):
        return sum(len(names) for names in self.classes.values())

    @property
    def shape(self):
        """The size it proposes: 32×32 colour when most pictures are in colour, else 28×28 grey."""
        return COLOUR_SHAPE if self.colour * 2 > self.images else GREY_SHAPE

    def counts(self):
        return {name: len(files) for name, files in sorted(self.classes.items())}


def _parts(name):
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
    """The path parts of a file name a browser sent, which becomes a file on the server: as _parts, with at least
    one part and no control character (a NUL cannot be in a file name; names in a zip or a folder on disk may keep
    theirs, such as macOS's 'Icon\\r', as no file is made from them)."""
    if not isinstance(name, str) or any(unicodedata.category(character) == "Cc" for character in name):
        raise ImportRefused("error.own.bad_file_name", member=_shown(name))
    parts = _parts(name)
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


def keep_upload(sent, folder=False, owner=None):
    """The Upload, on disk, of what a browser sent: `sent` is [(name, binary file)], one zip, or a folder's files
    named by their paths (the folder's own name first, as browsers send them); `owner` is the browser session's id.

    A session holds one upload, of at most MAX_UPLOAD_BYTES, named by its owner: the earlier one is replaced only
    once the new one is stored, so a send that fails leaves the earlier one as it was. All sessions together hold
    at most MAX_UPLOADS_BYTES (uploads are written one at a time, under a lock, to keep that true); uploads left
    for UPLOAD_MAX_AGE are swept first. ImportRefused, with nothing new kept, for nothing sent, a name that cannot
    name a file, too much for one session or for the server, a path that leaves the folder, or a failed write."""
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
            written = 0
            for parts, stream in named:
                target = inside.joinpath(*parts) if folder else inside
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "wb") as out:
                    while chunk := stream.read(MB):
                        written += len(chunk)
                        if written > MAX_UPLOAD_BYTES:
                            raise ImportRefused("error.own.upload_too_big", name=name, limit=MAX_UPLOAD_BYTES / MB)
                        if held + written > MAX_UPLOADS_BYTES:
                            raise ImportRefused("error.own.uploads_full", name=name, held=held / MB,
                                                limit=MAX_UPLOADS_BYTES / MB)
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


def _upload_entries(upload, skipped):
    """(archive or None, [(name, read())]) of an upload on disk, after the same limits as a folder or a zip."""
    if upload.path.is_file():
        return _zip_entries(upload.path, name=upload.name)
    if upload.path.is_dir():
        return None, _folder_entries(upload.path, skipped)
    raise ImportRefused("error.own.upload_gone", name=upload.name)


def _zip_entries(path, name=None):
    """[(name, read())] of a zip's files, after every check that needs no decompression."""
    name = name or pathlib.Path(path).name
    size = os.path.getsize(path)
    if size > MAX_ARCHIVE_BYTES:
        raise ImportRefused("error.own.archive_too_big", size=size / MB, limit=MAX_ARCHIVE_BYTES / MB)
    _check_directory(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:  # cut short, damaged
        raise ImportRefused("error.own.bad_zip", name=name, reason=str(error) or type(error).__name__) from None
    members = archive.infolist()
    if len(members) > MAX_FILES:
        raise ImportRefused("error.own.too_many_files", count=len(members), limit=MAX_FILES)
    total = sum(member.file_size for member in members)
    if total > MAX_TOTAL_BYTES:
        raise ImportRefused("error.own.too_big_unpacked", size=total / MB, limit=MAX_TOTAL_BYTES / MB)
    for member in members:
        _parts(member.filename)
        if stat.S_ISLNK(member.external_attr >> 16):
            raise ImportRefused("error.own.link_in_zip", member=member.filename)
        if member.file_size > MAX_RATIO * max(member.compress_size, 1) and member.file_size > MB:
            raise ImportRefused("error.own.bomb", member=member.filename, ratio=member.file_size // max(
                member.compress_size, 1))
    return archive, [(m.filename, (lambda m=m: _read_member(archive, m, name))) for m in members if not m.is_dir()]


END, END64, LOCATOR64, ENTRY = b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07", b"PK\x01\x02"  # zip's signatures


def _check_directory(path):
    """Refuse a zip whose directory lists more than MAX_FILES entries, or takes more than MAX_DIRECTORY_BYTES, from
    its end records and that directory alone: zipfile.ZipFile() makes an object of every entry before anyone can
    count them (a 16 MB zip64 of 300,000 entries took 132 MB). The end record is found where zipfile looks for it
    (the file's last 22 bytes, else the last signature in its last 64 KB), the zip64 one just before it, and the
    directory is walked entry by entry as zipfile will walk it; a zip without them is left to zipfile to refuse."""
    with open(path, "rb") as file:
        size = file.seek(0, os.SEEK_END)
        start = max(size - (1 << 16) - 22, 0)
        file.seek(start)
        tail = file.read()
        at = len(tail) - 22 if tail[-22:-18] == END and tail[-2:] == b"\0\0" else tail.rfind(END)
        if at < 0 or at + 22 > len(tail):
            return
        end = start + at  # where the end record is: the directory ends where it (or the zip64 records) begins
        entries, directory_size = struct.unpack_from("<HI", tail, at + 10)
        if end >= 76:
            file.seek(end - 76)
            record, locator = file.read(56), file.read(20)
            if locator[:4] == LOCATOR64 and record[:4] == END64:
                entries, directory_size = struct.unpack_from("<QQ", record, 32)
                end -= 76
        if entries > MAX_FILES:
            raise ImportRefused("error.own.too_many_files", count=entries, limit=MAX_FILES)
        if directory_size > MAX_DIRECTORY_BYTES:
            raise ImportRefused("error.own.directory_too_big", size=directory_size / MB, limit=MAX_FILES,
                                most=MAX_DIRECTORY_BYTES / MB)
        if end - directory_size < 0:
            return
        file.seek(end - directory_size)
        directory = file.read(directory_size)
    count = position = 0
    while position + 46 <= len(directory) and directory[position:position + 4] == ENTRY:
        name, extra, comment = struct.unpack_from("<3H", directory, position + 28)
        position += 46 + name + extra + comment
        count += 1
    if count > MAX_FILES:  # the end record's count may lie; zipfile reads the directory, not the count
        raise ImportRefused("error.own.too_many_files", count=count, limit=MAX_FILES)


def _read_member(archive, member, name):
    """A zip member's bytes. Unreadable when it is too big for a picture (not unpacked at all) or damaged;
    ImportRefused when it unpacks to another size than it declares (the limits were checked on that size)."""
    if member.file_size > drawing.MAX_FILE_BYTES:  # the safe reader would refuse it: never unpacked
        raise Unreadable("error.image.too_big", size=member.file_size / 1e6, limit=drawing.MAX_FILE_BYTES / 1e6)
    try:
        data = archive.read(member)  # zipfile stops at the declared size and then checks the CRC
    except MEMBER_ERRORS as error:
        if _unpacks_past(archive, member):
            raise ImportRefused("error.own.size_lies", name=name, member=member.filename,
                                declared=member.file_size) from None
        raise Unreadable("own.skip.damaged", reason=str(error) or type(error).__name__) from None
    if len(data) != member.file_size:  # its stream ended before the size it declares
        raise ImportRefused("error.own.size_lies", name=name, member=member.filename, declared=member.file_size)
    return data


def _unpacks_past(archive, member):
    """Whether a member unpacks to more than its declared size: read again, a megabyte at a time and one byte past
    that size at most, without its CRC (which a member cut at a false size cannot match)."""
    probe = copy.copy(member)
    probe.file_size = member.file_size + 1
    del probe.CRC  # zipfile checks no CRC for a ZipInfo without one
    unpacked = 0
    try:
        with archive.open(probe) as stream:
            while chunk := stream.read(MB):
                unpacked += len(chunk)
    except MEMBER_ERRORS:
        pass
    return unpacked > member.file_size


def _read_file(path):
    """A file's bytes from a folder; Unreadable (skipped) when the disk says no."""
    try:
        return path.read_bytes()
    except OSError as error:
        raise Unreadable("own.skip.unreadable", reason=error.strerror or str(error)) from None


def _folder_entries(root, skipped):
    """[(name, read())] of a folder's files; links are skipped with a reason, never followed."""
    entries = []
    for folder, directories, files in os.walk(root, followlinks=False):
        for name in directories + files:
            path = pathlib.Path(folder) / name
            if path.is_symlink():
                skipped.append((str(path.relative_to(root)), Message("own.skip.link")))
        directories[:] = [d for d in directories if not (pathlib.Path(folder) / d).is_symlink()]
        for name in files:
            path = pathlib.Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            entries.append((str(path.relative_to(root)), lambda path=path: _read_file(path)))
            if len(entries) > MAX_FILES:
                raise ImportRefused("error.own.too_many_files", count=len(entries), limit=MAX_FILES)
    return entries


def survey(source):
    """A Survey of a folder, a .zip of class folders or an Upload; ImportRefused when it cannot be imported."""
    origin = source
    skipped = []
    archive, entries = _entries(source, skipped)
    source = pathlib.Path(source.name) if isinstance(source, Upload) else pathlib.Path(source)
    try:
        named = [(name, _parts(name), read) for name, read in entries]
        named = [(name, parts, read) for name, parts, read in named
                 if not any(p in SYSTEM or p.startswith(".") for p in parts)]  # macOS and Windows leave these
        wrapper = {parts[0] for _, parts, _ in named}
        # one wrapping folder (shapes/circle/1.png): the classes are the folders inside it
        depth = 1 if len(wrapper) == 1 and any(len(parts) > 2 for _, parts, _ in named) else 0
        classes, sizes, colour, cases, folders, inside = {}, collections.Counter(), 0, {}, {}, {}

        def look(batch):  # each picture read by the safe reader, on every core
            nonlocal colour
            for (name, parts, label, _), found in zip(batch, pool.map(_look, [raw for *_, raw in batch])):
                if isinstance(found, CnnlabError):
                    skipped.append((name, found.message))  # the safe reader's own reason: not an image, too big, …
                    continue
                classes.setdefault(label, []).append(name)
                inside["/".join(parts)] = name
                sizes[found[0]] += 1
                colour += found[1]

        def pictures():  # the files in a class folder with a picture's name, read; the others skipped with why
            for name, parts, read in named:
                parts = parts[depth:]
                if len(parts) < 2:
                    skipped.append((name, Message("own.skip.no_class")))
                    continue
                if parts[-1].rsplit(".", 1)[-1].lower() not in drawing.EXTENSIONS:
                    skipped.append((name, Message("own.skip.not_image_name",
                                                  extensions=", ".join(drawing.EXTENSIONS))))
                    continue
                label = parts[0]
                if cases.setdefault(label.casefold(), label) != label:
                    raise ImportRefused("error.own.duplicate_class", first=cases[label.casefold()], second=label)
                folders.setdefault(label, name.rsplit("/", 1)[0] if "/" in name else label)
                try:
                    raw = read()
                except Unreadable as error:  # damaged inside the zip, or unreadable on disk: skipped with why
                    skipped.append((name, error.message))
                    continue
                yield name, parts, label, raw

        with concurrent.futures.ThreadPoolExecutor(max_workers=decode_workers()) as pool:
            for batch in _batches(pictures()):
                look(batch)
    finally:
        if archive is not None:
            archive.close()
    skipped.sort(key=lambda row: row[0])  # in the order of their paths, whichever core read them
    for label, folder in sorted(folders.items()):
        if label not in classes:  # a class folder none of whose files could be read
            skipped.append((folder, Message("own.skip.empty_class", name=label)))
    if not classes:
        raise ImportRefused("error.own.no_images", path=source.name)
    if len(classes) < 2:
        raise ImportRefused("error.own.one_class", name=next(iter(classes)))
    _check_classes(len(classes))
    warnings = [Message("own.warn.tiny", name=name, count=len(files), least=TINY_CLASS)
                for name, files in sorted(classes.items()) if len(files) < TINY_CLASS]
    most, least = max(map(len, classes.values())), min(map(len, classes.values()))
    if most > UNBALANCED * least:
        warnings.append(Message("own.warn.unbalanced", most=most, least=least))
    order = {name: rank for rank, (_, name) in enumerate(sorted(inside.items()))}
    for files in classes.values():
        files.sort(key=order.get)  # by the path inside the class root: a zip and its folder give the same order
    return Survey(str(source), classes, skipped, sizes, colour, warnings, origin)


# ---------------------------------------------------------------- importing

def _check_classes(count):
    """ImportRefused for more classes than a label can name (MAX_CLASSES), rather than labels that wrap round."""
    if count > MAX_CLASSES:
        raise ImportRefused("error.own.too_many_classes", count=count, limit=MAX_CLASSES)


def check_name(name):
    """The dataset's key for a name typed by a user; ImportRefused for one that cannot be used."""
    key = str(name or "").strip().lower()
    if not datasets.OWN_NAME.fullmatch(key):
        raise ImportRefused("error.own.bad_name", name=str(name or ""))
    if not datasets.is_own(key):
        raise ImportRefused("error.own.builtin_name", name=key)
    return key


def check_settings(name, test_share):
    """The dataset's key; ImportRefused for a name or a test share that cannot be used (before any picture is read)."""
    key = check_name(name)
    if not 0.05 <= float(test_share) <= 0.5:
        raise ImportRefused("error.own.bad_test_share", share=float(test_share))
    return key


def suggest_name(source):
    """A dataset name from a folder's or an archive's name: 'Hand Signs 2024.zip' -> 'hand-signs-2024'."""
    stem = pathlib.Path(str(source)).name
    stem = stem[:-4] if stem.lower().endswith(".zip") else stem
    words = "".join(c if c.isascii() and c.isalnum() else "-" for c in stem.lower()).strip("-_")
    words = "-".join(part for part in words.split("-") if part)[:32].strip("-")
    return words or "my-pictures"


def parse_shape(text):
    """'28x28x1', '32x32x3', '64x64x3' or '48' (grey) -> (height, width, channels); ImportRefused otherwise."""
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) == 1:
        numbers = [numbers[0], numbers[0], 1]
    if len(numbers) != 3 or numbers[0] != numbers[1] or numbers[0] not in SIDES or numbers[2] not in (1, 3):
        raise ImportRefused("error.own.bad_shape", shape=str(text), sides=", ".join(map(str, SIDES)))
    return tuple(numbers)


def _look(raw):
    """(the size the file holds, whether it is in colour) of a picture's bytes, or the safe reader's CnnlabError."""
    try:
        image = drawing.read_image(raw, working_side=SURVEY_SIDE)
    except CnnlabError as error:
        return error
    return image.info["file_size"], image.mode not in ("1", "L", "LA", "I", "I;16", "F")


def _batches(items, size=None):
    """Lists of `size` (DECODE_BATCH) items in turn, the last one shorter."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == (size or DECODE_BATCH):
            yield batch
            batch = []
    if batch:
        yield batch


def decode_workers():
    return min(8, os.cpu_count() or 1)


def _pixels_of(raw, shape):
    """A file's bytes -> its uint8 pixels in shape, or None when it cannot be read now."""
    try:
        return to_pixels(drawing.read_image(raw, working_side=working_side(shape)), shape)
    except CnnlabError:
        return None


def working_side(shape):
    """How large a JPEG is decoded before resizing to shape: at least 4 × its side, so the resize still averages
    many pixels into each (measured: 1.8 × the speed of a decode at full size, on 640×480 webcam photos)."""
    return 4 * max(shape[:2])


def prepare_picture(pixels, shape, background=1.0):
    """(H, W, 4) RGBA pixels (float in [0, 1] as drawing.to_array gives, or uint8 as the canvas gives) ->
    drawing.Prepared for a network trained on imported pictures: laid on `background` (white, as the import lays
    transparency; the Draw page's canvas is black) and cropped and resized exactly as the import did, never inverted.
    """
    from PIL import Image

    rgba = np.asarray(pixels, np.float32)
    if np.asarray(pixels).dtype == np.uint8:
        rgba = rgba / 255.0
    alpha = rgba[..., 3:4]
    flat = rgba[..., :3] * alpha + background * (1.0 - alpha)  # (H, W, 3) in [0, 1]
    picture = Image.fromarray((flat * 255).round().clip(0, 255).astype(np.uint8), mode="RGB")
    network_input = to_pixels(picture, shape).astype(np.float32) / 255.0  # (h, w) grey or (h, w, 3) colour
    whole = np.asarray(picture.convert("L"), np.float32) / 255.0
    return drawing.Prepared(ink=whole, cropped=whole, fitted=network_input, network_input=network_input,
                            inverted=False, used_alpha=False, shift=(0, 0))


def to_pixels(image, shape):
    """A PIL image -> uint8 (height, width) grey or (height, width, 3) colour: transparency laid on white,
    centre-cropped to a square and resized (Keras's crop_to_aspect_ratio=True)."""
    from PIL import Image, ImageOps

    height, width, channels = shape
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        image = Image.fromarray((drawing.to_array(image)[..., 0] * 255).round().astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    image = image.convert("L" if channels == 1 else "RGB")
    image = ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


def _split(labels, test_share, seed):
    """(train indices, test indices): test_share of every class (at least one picture each), drawn with seed."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = min(max(1, round(len(members) * test_share)), len(members) - 1)
        test.extend(members[:count])
        train.extend(members[count:])
    return rng.permutation(np.asarray(train, int)), rng.permutation(np.asarray(test, int))


def import_images(source, name, shape=None, test_share=TEST_SHARE, seed=0, on_progress=None, survey_=None):
    """Import a folder, a zip of class folders or an Upload as the dataset `name`; returns its OwnDatasetInfo.

    shape: (height, width, channels), default the survey's proposal. on_progress(done, total) while decoding.
    survey_: the source's Survey when one was just made (the files are then not surveyed again).
    ImportRefused (nothing written) when it cannot be imported; pictures that cannot be read are skipped.
    """
    key = check_settings(name, test_share)
    found = survey_ or survey(source)
    shape = tuple(shape or found.shape)
    parse_shape("x".join(map(str, shape)))
    small = {label: len(files) for label, files in found.classes.items() if len(files) < MIN_PER_CLASS}
    if small:
        label, count = sorted(small.items())[0]
        raise ImportRefused("error.own.too_few", name=label, count=count, least=MIN_PER_CLASS)
    classes = sorted(found.classes)  # the order Keras's image_dataset_from_directory gives them
    _check_classes(len(classes))  # before a label is made: LABEL_DTYPE holds them all
    wanted = {file: index for index, label in enumerate(classes) for file in found.classes[label]}
    rank = {file: i for i, file in enumerate(wanted)}  # class by class, each in the survey's order
    pixels, labels, ranks = [], [], []
    total = len(wanted)
    archive, entries = _entries(found.origin if found.origin is not None else found.source, [])

    def finish(batch):
        for file, result in zip(batch, pool.map(lambda raw: _pixels_of(raw, shape), [raw for _, raw in batch])):
            if result is None:
                continue  # it was readable a moment ago; a file changed since the survey is left out
            pixels.append(result)
            labels.append(wanted[file[0]])
            ranks.append(rank[file[0]])
        if on_progress is not None:
            on_progress(len(pixels), total)

    # files are read one by one (a zip is one stream); decoding and resizing, which Pillow does without the GIL,
    # run on every core, a batch at a time so that memory holds one batch of compressed files
    with concurrent.futures.ThreadPoolExecutor(max_workers=decode_workers()) as pool:
        try:
            for batch in _batches(_readable(entries, wanted)):
                finish(batch)
        finally:
            if archive is not None:
                archive.close()
    if len(set(labels)) < 2:
        raise ImportRefused("error.own.no_images", path=pathlib.Path(found.source).name)
    order = np.argsort(ranks)  # the files' order on disk or in the archive does not change the dataset
    labels = np.asarray(labels, LABEL_DTYPE)[order]
    images = np.stack(pixels)[order]
    train, test = _split(labels, float(test_share), int(seed))
    info = datasets.OwnDatasetInfo(
        name=key, title=str(name).strip(), description_key="dataset.own.description", image_shape=shape,
        classes_key="", download_host="", download_size="", full_sizes=(len(train), len(test)),
        classes=tuple(classes), origin=pathlib.Path(found.source).name,
        imported=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    data = datasets.Dataset(info, datasets.Source("own", ""), images[train], labels[train], images[test],
                            labels[test])
    info = dataclasses.replace(info, fingerprint=data.fingerprint)
    _store(key, info, data, {"seed": int(seed), "test_share": float(test_share), "skipped": len(found.skipped)})
    return info


def _readable(entries, wanted):
    """(name, bytes) of the wanted entries, read one by one; one that cannot be read now is left out, as a picture
    that changed since the survey is."""
    for name, read in entries:
        if name in wanted:
            try:
                yield name, read()
            except Unreadable:
                continue


def _entries(source, skipped):
    """(archive or None, [(name, read())]) of a folder, a zip or an Upload, after the checks that read no picture."""
    if isinstance(source, Upload):
        return _upload_entries(source, skipped)
    source = pathlib.Path(source)
    if source.is_dir():
        return None, _folder_entries(source, skipped)
    if source.is_file():
        return _zip_entries(source)
    raise ImportRefused("error.own.not_found", path=str(source))


def _store(key, info, data, how):
    """Write the version folder in a temporary place, rename it into own/<key>/<fingerprint>, point current at it."""
    root = datasets.own_root()
    root.mkdir(parents=True, exist_ok=True)
    folder = root / key
    with filelock.FileLock(str(root / f".{key}.lock"), timeout=60):
        final = folder / info.fingerprint
        if not final.is_dir():
            tmp = root / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
            tmp.mkdir()
            try:
                _write_version(tmp, final, folder, info, data, how)
            except OSError as error:  # a full disk, a folder that is not writable: nothing half-written stays
                raise ImportRefused("error.own.write_failed", name=key, reason=error.strerror or str(error)) from None
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.utime(final)  # the same pictures again: the version already there becomes the newest
        storage.write_text(folder / "current", info.fingerprint)


def _write_version(tmp, final, folder, info, data, how):
    """The images and their description in tmp, then tmp renamed to final in one step."""
    with open(tmp / "images.npz", "wb") as f:
        np.savez_compressed(f, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test)
        f.flush()
        os.fsync(f.fileno())
    storage.write_text(tmp / "dataset.json", json.dumps({**info.to_dict(), "import": how}, indent=1))
    folder.mkdir(exist_ok=True)
    os.replace(tmp, final)


def delete(name, store):
    """Delete an imported dataset: every version of it and every run trained on it. Returns the runs deleted.

    While one of those runs is being trained (its lock held), nothing is deleted: runs.RunInUse says which, at once.
    Should a training start on one of them between that check and its turn, the deletion stops there and RunInUse
    says how many runs went and that the dataset and its other runs stay (deleting again finishes it)."""
    from cnnlab import runs  # it brings TensorFlow: only for a deletion

    key = str(name).lower()
    if not datasets.is_own(key) or not datasets.OWN_NAME.fullmatch(key):
        raise ImportRefused("error.own.not_own", name=str(name))
    root = datasets.own_root()
    folder = root / key
    if not folder.is_dir():
        raise ImportRefused("error.own.unknown", name=key)
    doomed = [run.id for run in store.list() if run.config.dataset == key]
    for run_id in doomed:  # all free, or nothing deleted
        lock = store.lock(run_id)
        try:
            lock.acquire(timeout=runs.IN_USE_SECONDS)
        except filelock.Timeout:
            raise runs.RunInUse("error.own.in_use", name=key, run_id=run_id) from None
        lock.release()
    deleted = 0
    for run_id in doomed:
        try:
            deleted += bool(store.delete(run_id))
        except runs.RunInUse:
            raise runs.RunInUse("error.own.in_use_part", name=key, run_id=run_id, deleted=deleted,
                                runs=len(doomed)) from None
    with filelock.FileLock(str(root / f".{key}.lock"), timeout=60):
        trash = root / f".deleted-{key}-{uuid.uuid4().hex[:8]}"
        os.replace(folder, trash)  # gone from every menu at once; the files go after
        shutil.rmtree(trash, ignore_errors=True)
    datasets.forget(key)
    datasets._load_cached.cache_clear()
    return deleted


def images_per_second(folder, shape=GREY_SHAPE, workers=None):
    """Decode + resize speed of a folder's pictures, on `workers` threads as the import runs them (all cores by
    default): the benchmark's import_images_per_s. The files are read into memory first."""
    survey(folder)
    raws = [read() for _, read in _entries(folder, [])[1]]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers or decode_workers()) as pool:
        count = sum(pixels is not None for pixels in pool.map(lambda raw: _pixels_of(raw, shape), raws))
    return count / (time.perf_counter() - started)
