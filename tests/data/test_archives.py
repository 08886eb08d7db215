"""CIFAR-10's official archive, checked before a byte is written: real format, hostile variants refused."""

import io
import os
import pickle
import re
import shutil
import tarfile
import threading

import numpy as np
import pytest
from conftest import run_cli
from test_datasets import cifar_batch

from cnnlab.data import archives, catalogue, datasets


def official_members(n=4):
    """The members of cifar-10-python.tar.gz, small: six pickled batches of n images, meta and readme."""
    members, images = {}, {}
    for i, name in enumerate(archives.BATCHES):
        x, y, raw = cifar_batch(n, 20 + i)
        members[name], images[name] = raw, (x, np.array(y))
    members["batches.meta"] = pickle.dumps({b"label_names": [b"airplane"] * 10}, protocol=2)
    members["readme.html"] = b"<a href='https://www.cs.toronto.edu/~kriz/cifar.html'>CIFAR-10</a>"
    return members, images


def write_archive(path, members, folder=archives.FOLDER, extra=()):
    """A .tar.gz laid out like the official one (a folder entry, then the files), plus extra TarInfos."""
    with tarfile.open(path, "w:gz") as archive:
        entry = tarfile.TarInfo(folder)
        entry.type, entry.mode = tarfile.DIRTYPE, 0o755
        archive.addfile(entry)
        for name, raw in members.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(raw)
            archive.addfile(info, io.BytesIO(raw))
        for info, raw in extra:
            archive.addfile(info, io.BytesIO(raw) if raw is not None else None)
    return path


def data_area(isolated):
    return isolated / "cnnlab_home" / "data"


def test_the_official_layout_is_imported_and_loads_as_cifar10(isolated):
    members, images = official_members()
    path = write_archive(isolated / "cifar-10-python.tar.gz", members)
    out = run_cli("data", "--import", str(path), "--json")
    assert out.returncode == 0, out.stderr
    assert "archive checked and unpacked" in out.stdout
    data = datasets.load("cifar10")
    assert data.source.kind == "data-area" and data.x_train.shape == (20, 32, 32, 3)
    np.testing.assert_array_equal(data.x_test, images["test_batch"][0])
    np.testing.assert_array_equal(data.y_train[:4], images["data_batch_1"][1])
    assert sorted(p.name for p in (data_area(isolated) / archives.FOLDER).iterdir()) == sorted(archives.BATCHES)
    assert sorted(p.name for p in data_area(isolated).iterdir()) == [archives.FOLDER]  # nothing else written


def hostile(case, isolated):
    members, _ = official_members()
    path = isolated / f"{case}.tar.gz"
    if case == "traversal":
        info = tarfile.TarInfo("cifar-10-batches-py/../../escaped")
        info.size = 4
        return write_archive(path, members, extra=[(info, b"evil")])
    if case == "absolute":
        info = tarfile.TarInfo("/tmp/cnnlab-absolute")
        info.size = 4
        return write_archive(path, members, extra=[(info, b"evil")])
    if case == "symlink":
        del members["test_batch"]
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        return write_archive(path, members, extra=[(info, None)])
    if case == "pickle_code":
        class Evil:
            def __reduce__(self):
                return (os.system, ("touch /tmp/cnnlab-owned",))
        members["test_batch"] = pickle.dumps({b"data": Evil(), b"labels": [0]}, protocol=2)
        return write_archive(path, members)
    if case == "huge_member":
        members["data_batch_3"] = bytes(archives.MAX_MEMBER_BYTES + 1)  # zeros: a tiny .gz, a huge member
        return write_archive(path, members)
    if case == "missing_batch":
        del members["data_batch_5"]
        return write_archive(path, members)
    if case == "not_a_batch":
        members["data_batch_2"] = pickle.dumps({b"data": np.zeros((3, 100), np.uint8), b"labels": [0, 1, 2]})
        return write_archive(path, members)
    if case == "many_files":
        extra = []
        for i in range(archives.MAX_MEMBERS):
            info = tarfile.TarInfo("cifar-10-batches-py/readme.html")
            info.size = 1
            extra.append((info, b"x"))
        return write_archive(path, members, extra=extra)
    if case == "not_gzip":
        path.write_bytes(b"MZ\x90\x00 an executable renamed to .tar.gz" * 100)
        return path
    raise KeyError(case)


@pytest.mark.parametrize("case, message", [
    ("traversal", "which CIFAR-10's official archive does not"),
    ("absolute", "which CIFAR-10's official archive does not"),
    ("symlink", "is a link or a device"),
    ("pickle_code", "refusing to load posix.system"),
    ("huge_member", "more than a CIFAR-10 batch can be"),
    ("missing_batch", "lacks data_batch_5"),
    ("not_a_batch", "rows of 3,072 bytes"),
    ("many_files", "more than 16 entries"),
    ("not_gzip", "not a readable .tar.gz archive"),
])
def test_a_hostile_or_wrong_archive_is_refused_and_nothing_is_written(case, message, isolated):
    path = hostile(case, isolated)
    with pytest.raises(archives.ArchiveRefused, match=message):
        archives.import_cifar(path)
    assert not data_area(isolated).exists() or list(data_area(isolated).iterdir()) == []
    assert not (isolated / "escaped").exists() and not os.path.exists("/tmp/cnnlab-owned")
    out = run_cli("data", "--import", str(path))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("cnnlab: ")


def test_an_archive_over_the_size_limit_is_refused_before_it_is_opened(isolated, monkeypatch):
    members, _ = official_members()
    path = write_archive(isolated / "cifar-10-python.tar.gz", members)
    monkeypatch.setattr(archives, "MAX_ARCHIVE_BYTES", path.stat().st_size - 1)
    with pytest.raises(archives.ArchiveRefused, match="CIFAR-10's official archive is 162.6 MB"):
        archives.import_cifar(path)


def test_an_upload_is_read_from_memory_and_a_fresh_copy_replaces_the_old(isolated):
    members, _ = official_members()
    raw = write_archive(isolated / "upload.tar.gz", members).read_bytes()
    archives.import_cifar(io.BytesIO(raw), archive_name="upload.tar.gz")
    first = datasets.load("cifar10").fingerprint
    members, _ = official_members(n=6)
    archives.import_cifar(io.BytesIO(write_archive(isolated / "new.tar.gz", members).read_bytes()), "new.tar.gz")
    second = datasets.load("cifar10")
    assert second.fingerprint != first and len(second.x_test) == 6
    assert sorted(p.name for p in data_area(isolated).iterdir()) == [archives.FOLDER]


def test_a_tar_gz_in_the_data_folder_is_checked_when_read(isolated, monkeypatch):
    path = hostile("symlink", isolated)
    (isolated / "data").mkdir()
    path.rename(isolated / "data" / "cifar-10-python.tar.gz")
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(isolated / "data"))
    with pytest.raises(datasets.DatasetUnavailable, match="is a link or a device"):
        datasets.load("cifar10")


def at_once(count, action):
    """Run action() on `count` threads released together; what each returned or raised."""
    barrier, results = threading.Barrier(count), [None] * count

    def one(index):
        barrier.wait()
        try:
            results[index] = action()
        except Exception as error:  # noqa: BLE001 - the test shows what each thread met
            results[index] = error

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_imports_at_once_run_one_after_the_other_and_leave_one_copy(isolated):
    """Two teachers importing at once renamed the same folders together (OSError: a traceback); now they take
    turns under one lock, and each finishes."""
    members, images = official_members()
    path = write_archive(isolated / "cifar-10-python.tar.gz", members)
    for _ in range(3):
        results = at_once(4, lambda: archives.import_cifar(path))
        assert all(isinstance(r, catalogue.Source) for r in results), results
    assert sorted(p.name for p in data_area(isolated).iterdir()) == [archives.FOLDER]
    assert (datasets.load("cifar10").x_test == images["test_batch"][0]).all()


def test_two_pressing_check_the_archive_in_the_data_folder_at_once_both_see_it_imported(isolated):
    """The Data page's button: one press imports the archive and removes it, the other, waiting meanwhile, finds it
    done (it used to unlink a file already gone: FileNotFoundError, a traceback)."""
    members, images = official_members()
    data_area(isolated).mkdir(parents=True)
    found = write_archive(data_area(isolated) / "cifar-10-python.tar.gz", members)
    results = at_once(2, lambda: archives.import_placed(found))
    assert all(isinstance(r, catalogue.Source) for r in results), results
    assert not found.exists() and sorted(p.name for p in data_area(isolated).iterdir()) == [archives.FOLDER]
    assert (datasets.load("cifar10").x_test == images["test_batch"][0]).all()
    shutil.rmtree(data_area(isolated) / archives.FOLDER)
    with pytest.raises(archives.ArchiveRefused, match=re.escape(
            f"cifar-10-python.tar.gz is no longer in {data_area(isolated)}, and CIFAR-10 was not unpacked there")):
        archives.import_placed(found)
