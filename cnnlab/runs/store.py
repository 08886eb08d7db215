"""The run store: every finished training kept on disk, keyed by its settings, shared by everyone.

Layout under $CNNLAB_HOME (default ~/.cache/cnnlab):
    runs/<run_id>/run.json            config, data, history, metrics, checksums of the files below and of itself
    runs/<run_id>/predictions.npz     test-set probabilities (n_test, classes) and labels
    runs/<run_id>/model.weights.h5    weights only: the network is rebuilt from the config
    runs/<run_id>/timeline.npz        how it learned, epoch by epoch (filters, feature maps, weight statistics)
    locks/<run_id>.lock               cross-process lock: identical requests train once
    tmp/                              runs being written (renamed into runs/ when complete)
    corrupt/                          damaged entries set aside, never loaded
    data/                             datasets downloaded or imported through cnnlab (cnnlab.data)
    explain/<run_id>-<version>/       what was computed from a run's weights on demand (cnnlab.insight.explain)

A run's id is the hash of its settings and of the exact data it trained on (the dataset's fingerprint),
so other data never shares a run; the record says which data that was, and `Run.data()` finds that very
copy again for the pages that show its test images.

The checksums detect damage (a truncated copy, a disk error, a file edited or swapped by hand): such an
entry is set aside, never loaded. They are not a signature: whoever can write the store can also write
matching checksums, so the store's folder must be writable by cnnlab's server alone. Even then, weights
are only ever loaded into networks rebuilt from their settings, so a tampered file can make a run's
numbers wrong but cannot run code.
"""

import datetime
import json
import logging
import os
import pathlib
import shutil
import uuid

import filelock
import numpy as np

from cnnlab import i18n, storage, training
from cnnlab.classroom import permissions
from cnnlab.data import catalogue, datasets, ownership
from cnnlab.errors import CnnlabError, DatasetUnavailable, NotAllowed, RunInUse
from cnnlab.i18n import Message
from cnnlab.runs import entries, estimates
from cnnlab.runs.entries import FILES, READABLE_FORMATS, RUN_ID, TIMELINE, CorruptRun, Run

log = logging.getLogger("cnnlab")
IN_USE_SECONDS = 0.5  # how long a deletion waits for a run's lock (held briefly when tagged, for a whole training)
SET_ASIDE = "set_aside.json"  # written into a damaged run's folder under corrupt/: which run, and why


def default_root():
    return storage.home()


def _fsync_tree(folder):
    for path in pathlib.Path(folder).iterdir():
        with open(path, "rb") as f:
            os.fsync(f.fileno())


class RunStore:
    """Runs on disk; safe for many threads and processes at once."""

    def __init__(self, root=None):
        self.root = pathlib.Path(root) if root else default_root()
        self.notices = []  # one-line warnings for the user (corrupt entries set aside, ...)
        self._cache = {}  # run id -> (run.json's size and mtime, Run): listing re-reads only what changed
        for sub in ("runs", "locks", "tmp", "corrupt"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def __repr__(self):
        return f"RunStore({str(self.root)!r})"

    def run_path(self, run_id):
        """The folder of a run; ids from users never become paths outside the store."""
        if not isinstance(run_id, str) or not RUN_ID.match(run_id):
            raise CnnlabError("error.run.bad_id", run_id=str(run_id))
        return self.root / "runs" / run_id

    # ------------------------------------------------------------ reading

    def get(self, run_id):
        """The stored run, or None when there is none; a damaged entry is set aside with a notice."""
        path = self.run_path(run_id)
        signature = _signature(path)
        if signature is None and not path.exists():
            self._cache.pop(run_id, None)
            return None
        cached = self._cache.get(run_id)
        if cached is not None and signature is not None and cached[0] == signature and self._files_there(cached[1]):
            return cached[1]
        for _ in range(3):
            try:
                run = self._read(run_id, path)
                break
            except CorruptRun as error:
                now = _signature(path)
                if now is not None and now != signature:  # replaced while it was read (a stopped run trained
                    signature = now  # again): what is there now is read, nothing is set aside
                    continue
                self._cache.pop(run_id, None)
                self._set_aside(run_id, path, error.args[0])
                return None
        else:
            return None
        self._cache[run_id] = (signature, run)
        return run

    @staticmethod
    def _files_there(run):
        """Every file of a cached run still has the size it was written with (a cheap check on every read)."""
        sizes = run.record.get("sizes")
        if sizes is None:
            return True
        try:
            return all((run.path / name).stat().st_size == size for name, size in sizes.items())
        except OSError:
            return False

    def _read(self, run_id, path):
        try:
            record = json.loads((path / "run.json").read_text())
            if record.get("format") not in READABLE_FORMATS or record.get("id") != run_id:
                raise CorruptRun(Message("corrupt.format"))
            if record["format"] >= 2 and record.get("record_sha256") != entries._record_checksum(record):
                raise CorruptRun(Message("corrupt.record"))
            if "own" in record["data"]:  # an imported dataset: known by its record even if its pictures are gone
                catalogue.remember(record["data"]["own"])
            config = training.TrainConfig.from_dict(record["config"])
            if config.run_id(record["data"]["variant"], record["data"].get("fingerprint")) != run_id:
                raise CorruptRun(Message("corrupt.settings"))
            sizes = record.get("sizes")
            for name in FILES + ((TIMELINE,) if TIMELINE in record["checksums"] else ()):
                if sizes is None:  # runs written before sizes were recorded: their checksums, now
                    if entries._sha256(path / name) != record["checksums"][name]:
                        raise CorruptRun(Message("corrupt.checksum", name=name))
                elif (path / name).stat().st_size != sizes[name]:  # truncated or missing: no need to hash
                    raise CorruptRun(Message("corrupt.size", name=name))
        except CorruptRun:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise CorruptRun(f"{type(error).__name__}: {error}") from None
        return Run(run_id, path, config, record, store=self)

    def _set_aside(self, run_id, path, reason):
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        target = self.root / "corrupt" / f"{run_id}-{stamp}-{uuid.uuid4().hex[:6]}"
        self._cache.pop(run_id, None)
        try:
            os.replace(path, target)
        except OSError:
            return  # another process set it aside first
        why = reason if isinstance(reason, Message) else Message("corrupt.other", error=str(reason))
        storage.write_text(target / SET_ASIDE, json.dumps({"run_id": run_id, "key": why.key, "params": why.params}))
        notice = Message("notice.run_damaged", run_id=run_id, reason=reason, target=str(target))
        self.notices.append(notice)  # for the command line and the teacher; pages do not show it to students
        with i18n.speaking("en"):  # the server's log is in English
            log.warning("%s", notice)

    def list(self, who=permissions.OWNER):
        """Every readable run who may open (cnnlab.data.ownership: not another student's private pictures), newest
        first."""
        runs = []
        for path in sorted((self.root / "runs").iterdir()):
            if RUN_ID.match(path.name):
                run = self.get(path.name)
                if run is not None:
                    runs.append(run)
        runs = runs if who.role == "owner" else ownership.visible_runs(runs, who)
        return sorted(runs, key=lambda run: run.record["created"], reverse=True)

    def set_aside(self):
        """The damaged entries set aside, newest first: [{"name", "run_id", "reason": Message, "bytes"}]."""
        rows = []
        for path in (self.root / "corrupt").iterdir():
            try:
                note = json.loads((path / SET_ASIDE).read_text())
                reason = Message(note["key"], **note["params"])
            except (OSError, ValueError, KeyError, TypeError):
                note, reason = {"run_id": path.name[:16]}, Message("corrupt.unknown")
            rows.append({"name": path.name, "run_id": note.get("run_id"), "reason": reason, "bytes": _size(path),
                         "when": path.stat().st_mtime})
        return sorted(rows, key=lambda row: row["when"], reverse=True)

    def size(self):
        """(runs, bytes) of the store's runs/ folder."""
        folders = [path for path in (self.root / "runs").iterdir() if RUN_ID.match(path.name)]
        return len(folders), sum(_size(path) for path in folders)

    def in_use(self, run_id):
        """True when the run is being trained now: its lock stays held for IN_USE_SECONDS."""
        lock = self.lock(run_id)
        try:
            lock.acquire(timeout=IN_USE_SECONDS)
        except filelock.Timeout:
            return True
        lock.release()
        return False

    def delete(self, run_id, who=permissions.OWNER):
        """Remove a run (a teacher's action: `who` must be one): renamed out of runs/ under its lock, then erased. True
        when it was there.

        A run being trained holds its lock for the whole training: that raises RunInUse at once (within
        IN_USE_SECONDS), so that the teacher's page says so instead of waiting for the training to end.
        """
        permissions.require(who, "manage")
        path = self.run_path(run_id)
        found = self.get(run_id)
        if found is not None and not ownership.may_use(who, found.config.dataset):
            raise NotAllowed("permission.manage")  # another class's student's pictures: not this teacher's
        lock = self.lock(run_id)
        try:
            lock.acquire(timeout=IN_USE_SECONDS)
        except filelock.Timeout:
            raise RunInUse("error.run.in_use", run_id=run_id) from None
        try:
            if not path.exists():
                return False
            gone = self.root / "tmp" / f"{run_id}.deleted.{uuid.uuid4().hex[:8]}"
            os.replace(path, gone)
            self._cache.pop(run_id, None)
        finally:
            lock.release()
        shutil.rmtree(gone, ignore_errors=True)
        for derived in (self.root / "explain").glob(f"{run_id}-*"):  # computed from it (cnnlab.insight.explain)
            shutil.rmtree(derived, ignore_errors=True)
        return True

    def derived_folder(self, run):
        """Where things computed from a run's weights are kept (explain/<id>-<version>/): a new version, a new folder."""
        return self.root / "explain" / f"{run.id}-{run.version[:12]}"

    def empty_set_aside(self, who=permissions.OWNER):
        """Erase every damaged entry set aside (a teacher's action: `who` must be one); how many there were."""
        permissions.require(who, "manage")
        entries = list((self.root / "corrupt").iterdir())
        for path in entries:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return len(entries)

    def find(self, config, dataset=None):
        """The stored run for these settings on this dataset (by default the copy that would be used now), or None."""
        try:
            dataset = dataset or datasets.load(config.dataset)
        except DatasetUnavailable:
            return None
        return self.get(run_id_for(config, dataset))

    # ------------------------------------------------------------ writing

    def lock(self, run_id):
        self.run_path(run_id)
        return filelock.FileLock(str(self.root / "locks" / f"{run_id}.lock"))

    def save(self, run_id, result, experiments=()):
        """Write a TrainResult atomically (temporary folder, then one rename) and return the Run."""
        final = self.run_path(run_id)
        tmp = self.root / "tmp" / f"{run_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            np.savez(tmp / "predictions.npz", probabilities=result.probabilities.astype(np.float32),
                     y_test=result.y_test.astype(np.uint8))
            result.save_weights(tmp / "model.weights.h5")
            names = list(FILES)
            if result.timeline:
                np.savez_compressed(tmp / TIMELINE, **result.timeline)
                names.append(TIMELINE)
            record = entries.record_of(run_id, result, {name: entries._sha256(tmp / name) for name in names})
            record["sizes"] = {name: (tmp / name).stat().st_size for name in names}
            if experiments:
                record["experiments"] = sorted(set(experiments))
            record["record_sha256"] = entries._record_checksum(record)
            (tmp / "run.json").write_text(json.dumps(record, indent=1))
            _fsync_tree(tmp)
            # a stopped run replaced by a complete one: swapped in one step, so a reader finds the old run or the new
            if not (final.exists() and storage.exchange(tmp, final)):
                if final.exists():  # where the system cannot swap: two renames, and a moment with no run
                    old = self.root / "tmp" / f"{run_id}.replaced.{uuid.uuid4().hex[:8]}"
                    os.replace(final, old)
                    os.replace(tmp, final)
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # after a swap, the run it replaced
        return self._read(run_id, final)

    def tag(self, run_id, experiment_id):
        """Record that a course experiment asked for this run (run.json rewritten atomically, under its lock)."""
        with self.lock(run_id):
            run = self.get(run_id)
            if run is None or experiment_id in run.experiments:
                return run
            record = dict(run.record, experiments=sorted({*run.experiments, experiment_id}))
            if record["format"] >= 2:
                record["record_sha256"] = entries._record_checksum(record)
            storage.write_text(run.path / "run.json", json.dumps(record, indent=1))
            return self._read(run_id, run.path)

    def clean_tmp(self):
        """Remove leftovers of writers that died (their process is gone), and pictures sent through a browser that
        were left for hours (uploads.sweep_uploads): before each training, and when the server starts."""
        from cnnlab.data import uploads

        for path in (self.root / "tmp").iterdir():
            parts = path.name.split(".")
            pid = int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None
            if pid is None or not _alive(pid):
                shutil.rmtree(path, ignore_errors=True)
        uploads.sweep_uploads(area=self.root / "tmp")

    # ------------------------------------------------------------ the one entry point for pages and CLI

    def get_or_train(self, config, on_epoch_end=None, on_batch_end=None, should_stop=None, on_wait=None,
                     dataset=None, requested_by=None, executor=None, who=permissions.OWNER):
        """(run, cached): the stored run for config, or a new one trained once however many ask at once.

        The data is chosen once, here (or by the caller, who passes the Dataset): the run's id and the
        training both use that very copy. requested_by names a course experiment that asked for the run.
        executor (cnnlab.compute.executors) says where it trains: by default in this process. A stored run comes back
        to anyone; a training is for who may train (asked again where it trains: the worker, a Ray task).
        """
        dataset = dataset or datasets.load(config.dataset)
        run_id = run_id_for(config, dataset)
        run = self._complete(run_id, requested_by)
        if run is not None:
            return run, True  # stored: whatever today's limits, a run trained here once stays readable
        training.check_layers(config)
        permissions.require(who, "train")
        lock = self.lock(run_id)
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            if on_wait is not None:
                on_wait(run_id)  # someone is training the same settings: wait and reuse their run
            lock.acquire()
        try:
            run = self.get(run_id)
            if run is not None and run.complete:
                trained = None
            else:
                self.clean_tmp()
                progress = dict(on_epoch_end=on_epoch_end, on_batch_end=on_batch_end, should_stop=should_stop)
                if executor is None:  # in this process, as the command line and the tests train
                    result = training.train(config, dataset=dataset, **progress)
                else:  # cnnlab.compute's executors: the worker process, a Ray cluster
                    result = executor.train(config, dataset, who=who, **progress)
                trained = self.save(run_id, result, experiments=[requested_by] if requested_by else ())
                estimates.Speeds(self.root).record_run(trained)  # what this server's next estimates are made from
        finally:
            lock.release()
        if trained is not None:
            return trained, False
        return self._complete(run_id, requested_by) or run, True

    def _complete(self, run_id, requested_by):
        run = self.get(run_id)
        if run is None or not run.complete:
            return None
        if requested_by and requested_by not in run.experiments:
            run = self.tag(run_id, requested_by) or run
        return run


def run_id_for(config, dataset):
    """The id of config's run on this very dataset (its variant and content fingerprint)."""
    return config.run_id(dataset.variant, dataset.fingerprint)


def _signature(path):
    """(size, mtime, inode) of a run folder's run.json, or None: it changes whenever the run is written again."""
    try:
        stat = (path / "run.json").stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def _size(folder):
    total = 0
    for path in pathlib.Path(folder).rglob("*"):
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:
            pass
    return total


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
