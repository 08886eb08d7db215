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
(pictures.read_image: size and pixel limits from the header). In a folder, links are skipped, never followed.
A member that is damaged (its CRC does not match, its stream is broken, it is encrypted) is a file skipped
with its reason, in the survey and in the import; one that unpacks to another size than it declares makes
the whole zip refused, since every limit above was checked on the declared sizes."""

import collections
import concurrent.futures
import copy
import dataclasses
import lzma
import os
import pathlib
import stat
import struct
import zipfile
import zlib

import numpy as np

from cnnlab.data import pictures
from cnnlab.data.uploads import MAX_ARCHIVE_BYTES, MAX_FILES, MB, ImportRefused, Upload, path_parts
from cnnlab.errors import CnnlabError
from cnnlab.i18n import Message

MAX_TOTAL_BYTES = 500 * MB
MAX_RATIO = 100  # a picture never compresses 100 times; a zip bomb does
MAX_ENTRY_BYTES = 46 + 1024 + 512  # one entry of a zip's directory: its fixed part, a name, extra fields, a comment
MAX_DIRECTORY_BYTES = MAX_FILES * MAX_ENTRY_BYTES  # 7.9 MB: what the directory of MAX_FILES entries can take
TINY_CLASS = 10  # fewer images than this in a class: a warning
UNBALANCED = 3.0  # the largest class this many times the smallest: a warning


GREY_SHAPE, COLOUR_SHAPE = (28, 28, 1), (32, 32, 3)


SYSTEM = ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini")
SURVEY_SIDE = 64  # the survey decodes a JPEG at 1/8 of a large size: every byte is read, few pixels are made
DECODE_BATCH = 64  # files read before they are decoded together on every core
LABEL_DTYPE = np.uint8  # labels are stored as the built-in datasets store theirs: one byte each
MAX_CLASSES = int(np.iinfo(LABEL_DTYPE).max) + 1  # 256: a 257th class would wrap round to label 0


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
        path_parts(member.filename)
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
    if member.file_size > pictures.MAX_FILE_BYTES:  # the safe reader would refuse it: never unpacked
        raise Unreadable("error.image.too_big", size=member.file_size / 1e6, limit=pictures.MAX_FILE_BYTES / 1e6)
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
    archive, entries = open_entries(source, skipped)
    source = pathlib.Path(source.name) if isinstance(source, Upload) else pathlib.Path(source)
    try:
        classes, sizes, colour, folders, inside = _look_at_pictures(entries, skipped)
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
    check_classes(len(classes))
    warnings = [Message("own.warn.tiny", name=name, count=len(files), least=TINY_CLASS)
                for name, files in sorted(classes.items()) if len(files) < TINY_CLASS]
    most, least = max(map(len, classes.values())), min(map(len, classes.values()))
    if most > UNBALANCED * least:
        warnings.append(Message("own.warn.unbalanced", most=most, least=least))
    order = {name: rank for rank, (_, name) in enumerate(sorted(inside.items()))}
    for files in classes.values():
        files.sort(key=order.get)  # by the path inside the class root: a zip and its folder give the same order
    return Survey(str(source), classes, skipped, sizes, colour, warnings, origin)


def _look_at_pictures(entries, skipped):
    """(classes, sizes, colour, {class: its folder}, {path inside the class root: name}) of the pictures among
    entries, each read by the safe reader on every core; every file skipped is added to skipped with why."""
    named = [(name, path_parts(name), read) for name, read in entries]
    named = [(name, parts, read) for name, parts, read in named
             if not any(p in SYSTEM or p.startswith(".") for p in parts)]  # macOS and Windows leave these
    wrapper = {parts[0] for _, parts, _ in named}
    # one wrapping folder (shapes/circle/1.png): the classes are the folders inside it
    depth = 1 if len(wrapper) == 1 and any(len(parts) > 2 for _, parts, _ in named) else 0
    classes, sizes, colour, folders, inside = {}, collections.Counter(), 0, {}, {}

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

    with concurrent.futures.ThreadPoolExecutor(max_workers=decode_workers()) as pool:
        for batch in in_batches(_pictures(named, depth, skipped, folders)):
            look(batch)
    return classes, sizes, colour, folders, inside


def _pictures(named, depth, skipped, folders):
    """The files in a class folder with a picture's name, read: (name, parts, label, bytes); the others skipped with
    why. Each class's folder is noted in folders; ImportRefused for two classes named alike but for their case."""
    cases = {}
    for name, parts, read in named:
        parts = parts[depth:]
        if len(parts) < 2:
            skipped.append((name, Message("own.skip.no_class")))
            continue
        if parts[-1].rsplit(".", 1)[-1].lower() not in pictures.EXTENSIONS:
            skipped.append((name, Message("own.skip.not_image_name", extensions=", ".join(pictures.EXTENSIONS))))
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


# ---------------------------------------------------------------- importing

def check_classes(count):
    """ImportRefused for more classes than a label can name (MAX_CLASSES), rather than labels that wrap round."""
    if count > MAX_CLASSES:
        raise ImportRefused("error.own.too_many_classes", count=count, limit=MAX_CLASSES)


def _look(raw):
    """(the size the file holds, whether it is in colour) of a picture's bytes, or the safe reader's CnnlabError."""
    try:
        image = pictures.read_image(raw, working_side=SURVEY_SIDE)
    except CnnlabError as error:
        return error
    return image.info["file_size"], image.mode not in ("1", "L", "LA", "I", "I;16", "F")


def in_batches(items, size=None):
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


def read_wanted(entries, wanted):
    """(name, bytes) of the wanted entries, read one by one; one that cannot be read now is left out, as a picture
    that changed since the survey is."""
    for name, read in entries:
        if name in wanted:
            try:
                yield name, read()
            except Unreadable:
                continue


def open_entries(source, skipped):
    """(archive or None, [(name, read())]) of a folder, a zip or an Upload, after the checks that read no picture."""
    if isinstance(source, Upload):
        return _upload_entries(source, skipped)
    source = pathlib.Path(source)
    if source.is_dir():
        return None, _folder_entries(source, skipped)
    if source.is_file():
        return _zip_entries(source)
    raise ImportRefused("error.own.not_found", path=str(source))
