"""One run of an edition at a time, and a swap that a kill cannot leave half done.

``zoneindex run`` holds ``edition_lock`` for the whole run: an exclusive ``flock`` on
``<out-root>/.staging/<study>-<year>.lock``. A second run of the same study and year on the same out-root is
refused at once, naming the run that holds it. The operating system drops the lock when its process ends,
however it ends, so a killed run leaves no stale lock; the next run takes it and first tidies what a killed
run left: its staging folder, and a swap it left half done (``recover``).

``swap_in`` replaces the edition's three folders (processed data, figures, reports) by the staged ones in
steps recorded in a journal (``<study>-<year>.swap``): the old folders are moved aside, the new ones moved in,
the journal marked committed, the old ones deleted. Killed before the commit, the next run moves the old
edition back, byte for byte; killed after it, the next run finishes the deletion. During a run, SIGTERM is
turned into an exception, so that the run's clean-up code runs (the staging folder is removed, the kernel
shut down) and the command ends with one line instead of a traceback.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

from zoneindex import paths
from zoneindex.errors import InputError


class RunInterrupted(KeyboardInterrupt):
    """SIGTERM during a run: raised in the run so that its clean-up runs."""


def lock_path(out: paths.RunPaths) -> Path:
    return out.out_root / paths.STAGING / f"{out.study}-{out.year}.lock"


def journal_path(out: paths.RunPaths) -> Path:
    return out.out_root / paths.STAGING / f"{out.study}-{out.year}.swap"


def _acquire(path: Path, out: paths.RunPaths) -> int:
    """An open descriptor holding the exclusive lock on ``path``, or an InputError naming the holder."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise InputError(f"another zoneindex run of {out.study} {out.year} is running on this out-root "
                             f"({holder})", file=path,
                             expected="one run of an edition at a time: wait for it to finish (or stop it); "
                                      "the edition it writes is swapped in only when it succeeds") from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a file a finishing run unlinked between our open and our lock
            return fd
        os.close(fd)


@contextlib.contextmanager
def edition_lock(out: paths.RunPaths):
    """Hold the edition's lock for the block; tidy what a killed run of the edition left first."""
    folder = out.out_root / paths.STAGING
    folder.mkdir(parents=True, exist_ok=True)
    path = lock_path(out)
    fd = _acquire(path, out)
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
    handler = None
    if threading.current_thread() is threading.main_thread():
        handler = signal.signal(signal.SIGTERM, _interrupted)
    try:
        recover(out)
        for stale in folder.glob(f"{out.study}-{out.year}-*"):  # staging folders of killed runs
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
        yield path
    finally:
        if handler is not None:
            signal.signal(signal.SIGTERM, handler)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty


def _interrupted(signum, frame):
    raise RunInterrupted("SIGTERM")


def _write_journal(path: Path, record: dict) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _aside(folder: Path) -> Path:
    return folder.with_name(folder.name + ".previous")


def swap_in(staged: paths.RunPaths, final: paths.RunPaths) -> None:
    """Replace the final output folders with the staged ones, so that a kill at any step is undone (or
    finished) by ``recover``; afterwards a failed run's record of the edition (``reports/<study>/failed/<year>``)
    is removed, as the edition it failed to replace is no longer the latest."""
    journal = journal_path(final)
    pairs = [(str(new), str(old)) for new, old in zip(staged.folders(), final.folders())]
    had = [Path(old).exists() for _, old in pairs]
    blocked = threading.current_thread() is threading.main_thread()
    if blocked:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        _swap(journal, pairs, had)
    except Exception:
        recover(final)  # a failed rename (a full disk, permissions): the old edition back in place
        raise
    finally:
        if blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    recover(final)
    shutil.rmtree(final.out_root / "reports" / final.study / "failed" / str(final.year), ignore_errors=True)


def _swap(journal: Path, pairs: list, had: list) -> None:
    """The steps of the swap, each recorded in the journal before it is taken."""
    _write_journal(journal, {"state": "aside", "folders": pairs, "had": had})
    for (_, old), present in zip(pairs, had):
        Path(old).parent.mkdir(parents=True, exist_ok=True)
        if _aside(Path(old)).exists():
            shutil.rmtree(_aside(Path(old)))
        if present:
            Path(old).rename(_aside(Path(old)))
    _write_journal(journal, {"state": "moving", "folders": pairs, "had": had})
    for new, old in pairs:
        Path(new).rename(old)
    _write_journal(journal, {"state": "committed", "folders": pairs, "had": had})


def recover(final: paths.RunPaths) -> None:
    """Finish or undo a swap that was interrupted: before its commit the old edition is moved back, after it
    the old folders are deleted. Without a journal (a run of an older version), a folder set aside is moved
    back if its edition folder is missing, and deleted if the edition folder is there."""
    journal = journal_path(final)
    if not journal.exists():
        for old in final.folders():
            if _aside(old).exists():
                if old.exists():
                    shutil.rmtree(_aside(old))
                else:
                    _aside(old).rename(old)
        return
    record = json.loads(journal.read_text(encoding="utf-8"))
    olds = [Path(old) for _, old in record["folders"]]
    if record["state"] == "committed":
        for old in olds:
            shutil.rmtree(_aside(old), ignore_errors=True)
    else:
        for old, present in zip(olds, record["had"]):
            if _aside(old).exists():
                if old.exists():
                    shutil.rmtree(old)  # a new folder moved in before the kill
                _aside(old).rename(old)
            elif not present and old.exists() and record["state"] == "moving":
                shutil.rmtree(old)  # a first edition, half moved in
    journal.unlink()
