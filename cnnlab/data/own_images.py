"""Your own images, imported: `import_images` makes a dataset like the built-in ones from a folder or a zip that
cnnlab.data.own_survey has read.

Every picture is centre-cropped and resized to the chosen shape, a stratified train/test split is drawn with a seed,
and the dataset is stored in the data area under the name and the content's fingerprint (cnnlab.data.catalogue:
own/<name>/<fingerprint>/). The files are written in a temporary folder and renamed into place, so a failed import
leaves nothing half-written. `delete` removes a name, every version of it and the runs trained on it (a teacher's
on the Teacher page; a student's own on the Data page). Whose a dataset is: cnnlab.data.ownership.
"""

import concurrent.futures
import dataclasses
import datetime
import json
import os
import pathlib
import shutil
import time
import uuid

import filelock
import numpy as np

from cnnlab import storage
from cnnlab.classroom import permissions
from cnnlab.data import catalogue, datasets, ownership, pictures
from cnnlab.data.own_survey import (
    GREY_SHAPE,
    LABEL_DTYPE,
    check_classes,
    decode_workers,
    in_batches,
    open_entries,
    read_wanted,
    survey,
)
from cnnlab.data.uploads import ImportRefused
from cnnlab.errors import CnnlabError, RunInUse

SIDES = (28, 32, 48, 64)  # the sizes a user may choose (square); larger ones would be slow to train on 2 cores
TEST_SHARE = 0.2
MIN_PER_CLASS = 2  # one picture to train on and one to test with


def check_name(name):
    """The dataset's key for a name typed by a user; ImportRefused for one that cannot be used."""
    key = str(name or "").strip().lower()
    if not catalogue.OWN_NAME.fullmatch(key):
        raise ImportRefused("error.own.bad_name", name=str(name or ""))
    if not catalogue.is_own(key):
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


def _pixels_of(raw, shape):
    """A file's bytes -> its uint8 pixels in shape, or None when it cannot be read now."""
    try:
        return to_pixels(pictures.read_image(raw, working_side=working_side(shape)), shape)
    except CnnlabError:
        return None


def working_side(shape):
    """How large a JPEG is decoded before resizing to shape: at least 4 × its side, so the resize still averages
    many pixels into each (measured: 1.8 × the speed of a decode at full size, on 640×480 webcam photos)."""
    return 4 * max(shape[:2])


def to_pixels(image, shape):
    """A PIL image -> uint8 (height, width) grey or (height, width, 3) colour: transparency laid on white,
    centre-cropped to a square and resized (Keras's crop_to_aspect_ratio=True)."""
    from PIL import Image, ImageOps

    height, width, channels = shape
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        image = Image.fromarray((pictures.to_array(image)[..., 0] * 255).round().astype(np.uint8), mode="L")
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


def import_images(source, name, shape=None, test_share=TEST_SHARE, seed=0, on_progress=None, survey_=None,
                  who=permissions.OWNER):
    """Import a folder, a zip of class folders or an Upload as the dataset `name`; returns its OwnDatasetInfo.

    shape: (height, width, channels), default the survey's proposal. on_progress(done, total) while decoding.
    survey_: the source's Survey when one was just made (the files are then not surveyed again).
    ImportRefused (nothing written) when it cannot be imported; pictures that cannot be read are skipped.
    A teacher's (or a personal lab owner's) import is the whole class's; a student's is theirs, within their quota,
    until the teacher shares it (cnnlab.data.ownership); a guest may not import.
    """
    permissions.require(who, "import_own")
    if not ownership.is_private_import(who):
        permissions.require(who, "import_class")
    key = ownership.key_for(check_settings(name, test_share), who)
    found = survey_ or survey(source)
    shape = tuple(shape or found.shape)
    parse_shape("x".join(map(str, shape)))
    ownership.check_quota(who, key, found.images, shape)  # before a picture is decoded
    small = {label: len(files) for label, files in found.classes.items() if len(files) < MIN_PER_CLASS}
    if small:
        label, count = sorted(small.items())[0]
        raise ImportRefused("error.own.too_few", name=label, count=count, least=MIN_PER_CLASS)
    classes = sorted(found.classes)  # the order Keras's image_dataset_from_directory gives them
    check_classes(len(classes))  # before a label is made: LABEL_DTYPE holds them all
    wanted = {file: index for index, label in enumerate(classes) for file in found.classes[label]}
    rank = {file: i for i, file in enumerate(wanted)}  # class by class, each in the survey's order
    pixels, labels, ranks = _decode_pictures(found, shape, wanted, rank, on_progress)
    if len(set(labels)) < 2:
        raise ImportRefused("error.own.no_images", path=pathlib.Path(found.source).name)
    order = np.argsort(ranks)  # the files' order on disk or in the archive does not change the dataset
    labels = np.asarray(labels, LABEL_DTYPE)[order]
    images = np.stack(pixels)[order]
    train, test = _split(labels, float(test_share), int(seed))
    info = catalogue.OwnDatasetInfo(
        name=key, title=str(name).strip(), description_key="dataset.own.description", image_shape=shape,
        classes_key="", download_host="", download_size="", full_sizes=(len(train), len(test)),
        classes=tuple(classes), origin=pathlib.Path(found.source).name,
        imported=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    data = datasets.Dataset(info, catalogue.Source("own", ""), images[train], labels[train], images[test],
                            labels[test])
    info = dataclasses.replace(info, fingerprint=data.fingerprint)
    with ownership.quota_lock(who):  # checked again with what was decoded, one import of theirs at a time
        ownership.check_quota(who, key, len(labels), shape)
        if ownership.is_private_import(who):
            ownership.mark_owner(key, who, new_pictures=not (catalogue.own_root() / key / info.fingerprint).is_dir())
        _store(key, info, data, {"seed": int(seed), "test_share": float(test_share), "skipped": len(found.skipped)})
    return info


def _decode_pictures(found, shape, wanted, rank, on_progress):
    """([uint8 pixels in shape], [class index], [rank]) of the wanted files that can be read now; a file that changed
    since the survey is left out. on_progress(done, total) after each batch."""
    pixels, labels, ranks = [], [], []
    total = len(wanted)
    archive, entries = open_entries(found.origin if found.origin is not None else found.source, [])

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
            for batch in in_batches(read_wanted(entries, wanted)):
                finish(batch)
        finally:
            if archive is not None:
                archive.close()
    return pixels, labels, ranks


def _store(key, info, data, how):
    """Write the version folder in a temporary place, rename it into own/<key>/<fingerprint>, point current at it."""
    root = catalogue.own_root()
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


def delete(name, store, who=permissions.OWNER, queued=()):
    """Delete an imported dataset: every version of it and every run trained on it. Returns the runs deleted.

    While one of those runs is being trained (its lock held), nothing is deleted: RunInUse says which, at once.
    Should a training start on one of them between that check and its turn, the deletion stops there and RunInUse
    says how many runs went and that the dataset and its other runs stay (deleting again finishes it). queued: the
    datasets of the trainings waiting or running (TrainingQueue.datasets_in_use): one of them is not deleted under
    a training that would then store a run on pictures nobody can open."""
    key = str(name).lower()
    if not catalogue.is_own(key) or not catalogue.OWN_KEY.fullmatch(key):
        raise ImportRefused("error.own.not_own", name=str(name))
    ownership.require_delete(who, key)  # a student their own; a teacher any they may see
    if key in set(queued):
        raise RunInUse("error.own.queued", name=key)
    root = catalogue.own_root()
    folder = root / key
    if not folder.is_dir():
        raise ImportRefused("error.own.unknown", name=key)
    doomed = [run.id for run in store.list() if run.config.dataset == key]
    for run_id in doomed:  # all free, or nothing deleted
        if store.in_use(run_id):
            raise RunInUse("error.own.in_use", name=key, run_id=run_id)
    deleted = 0
    for run_id in doomed:
        try:
            deleted += bool(store.delete(run_id))
        except RunInUse:
            raise RunInUse("error.own.in_use_part", name=key, run_id=run_id, deleted=deleted,
                           runs=len(doomed)) from None
    with filelock.FileLock(str(root / f".{key}.lock"), timeout=60):
        trash = root / f".deleted-{key}-{uuid.uuid4().hex[:8]}"
        os.replace(folder, trash)  # gone from every menu at once; the files go after
        shutil.rmtree(trash, ignore_errors=True)
    catalogue.forget(key)
    datasets._load_cached.cache_clear()
    return deleted


def images_per_second(folder, shape=GREY_SHAPE, workers=None):
    """Decode + resize speed of a folder's pictures, on `workers` threads as the import runs them (all cores by
    default): the benchmark's import_images_per_s. The files are read into memory first."""
    survey(folder)
    raws = [read() for _, read in open_entries(folder, [])[1]]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers or decode_workers()) as pool:
        count = sum(pixels is not None for pixels in pool.map(lambda raw: _pixels_of(raw, shape), raws))
    return count / (time.perf_counter() - started)
