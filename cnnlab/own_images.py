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
"""

import collections
import dataclasses
import os
import pathlib
import stat
import zipfile

from cnnlab import drawing
from cnnlab.errors import CnnlabError
from cnnlab.i18n import Message

MB = 1024 * 1024
MAX_FILES = 5000
MAX_ARCHIVE_BYTES = 200 * MB
MAX_TOTAL_BYTES = 500 * MB
MAX_RATIO = 100  # a picture never compresses 100 times; a zip bomb does
TINY_CLASS = 10  # fewer images than this in a class: a warning
UNBALANCED = 3.0  # the largest class this many times the smallest: a warning
GREY_SHAPE, COLOUR_SHAPE = (28, 28, 1), (32, 32, 3)
SYSTEM = ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini")


class ImportRefused(CnnlabError):
    """A folder or archive that cannot be imported at all (hostile, too big, no classes); nothing was written."""


@dataclasses.dataclass
class Survey:
    """What a folder or zip holds, before importing it."""

    source: str
    classes: dict  # class name -> [file names relative to the source, readable images only]
    skipped: list  # [(file name, Message why)]
    sizes: collections.Counter  # (width, height) -> images
    colour: int  # images in colour
    warnings: list  # [Message]

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


def _zip_entries(path):
    """[(name, read())] of a zip's files, after every check that needs no decompression."""
    size = os.path.getsize(path)
    if size > MAX_ARCHIVE_BYTES:
        raise ImportRefused("error.own.archive_too_big", size=size / MB, limit=MAX_ARCHIVE_BYTES / MB)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ImportRefused("error.own.bad_zip", name=pathlib.Path(path).name, reason=str(error)) from None
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
    return archive, [(m.filename, (lambda m=m: archive.read(m))) for m in members if not m.is_dir()]


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
            entries.append((str(path.relative_to(root)), path.read_bytes))
            if len(entries) > MAX_FILES:
                raise ImportRefused("error.own.too_many_files", count=len(entries), limit=MAX_FILES)
    return entries


def survey(source):
    """A Survey of a folder or a .zip of class folders; ImportRefused when it cannot be imported at all."""
    source = pathlib.Path(source)
    skipped = []
    archive = None
    if source.is_dir():
        entries = _folder_entries(source, skipped)
    elif source.is_file():
        archive, entries = _zip_entries(source)
    else:
        raise ImportRefused("error.own.not_found", path=str(source))
    try:
        named = [(name, _parts(name), read) for name, read in entries]
        named = [(name, parts, read) for name, parts, read in named
                 if not any(p in SYSTEM or p.startswith(".") for p in parts)]  # macOS and Windows leave these
        wrapper = {parts[0] for _, parts, _ in named}
        # one wrapping folder (shapes/circle/1.png): the classes are the folders inside it
        depth = 1 if len(wrapper) == 1 and any(len(parts) > 2 for _, parts, _ in named) else 0
        classes, sizes, colour, cases = {}, collections.Counter(), 0, {}
        for name, parts, read in named:
            parts = parts[depth:]
            if len(parts) < 2:
                skipped.append((name, Message("own.skip.no_class")))
                continue
            if parts[-1].rsplit(".", 1)[-1].lower() not in drawing.EXTENSIONS:
                skipped.append((name, Message("own.skip.not_image_name", extensions=", ".join(drawing.EXTENSIONS))))
                continue
            label = parts[0]
            if cases.setdefault(label.casefold(), label) != label:
                raise ImportRefused("error.own.duplicate_class", first=cases[label.casefold()], second=label)
            try:
                image = drawing.read_image(read())
            except CnnlabError as error:
                skipped.append((name, error.message))  # the safe reader's own reason: not an image, too big, …
                continue
            classes.setdefault(label, []).append(name)
            sizes[image.size] += 1
            colour += image.mode not in ("1", "L", "LA", "I", "I;16", "F")
    finally:
        if archive is not None:
            archive.close()
    if not classes:
        raise ImportRefused("error.own.no_images", path=source.name)
    if len(classes) < 2:
        raise ImportRefused("error.own.one_class", name=next(iter(classes)))
    warnings = [Message("own.warn.tiny", name=name, count=len(files), least=TINY_CLASS)
                for name, files in sorted(classes.items()) if len(files) < TINY_CLASS]
    most, least = max(map(len, classes.values())), min(map(len, classes.values()))
    if most > UNBALANCED * least:
        warnings.append(Message("own.warn.unbalanced", most=most, least=least))
    return Survey(str(source), classes, skipped, sizes, colour, warnings)
