"""Worker processes that draw and save figures side by side, one per CPU.

A figure set is a dozen figures, each drawn once and saved as PNG, SVG and PDF, one after another a few
seconds of one core. The workers fork from a server process that imported ``zoneindex.figures`` (the
plotting stack) once, so a new worker starts in milliseconds and nothing of the calling process (a notebook
kernel, its threads and sockets) is copied into it. ``start`` starts that server ahead of time, so that it
imports while other work goes on; ``zoneindex run`` calls it before the first notebook. This module imports
nothing heavy, so that the call costs nothing.

As with any start method but fork, a script that draws in the workers needs the
``if __name__ == "__main__":`` guard (the workers import the calling script's main module).
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver
from pathlib import Path

PRELOAD = ["zoneindex.figures", "zoneindex.study"]  # what the server imports once for every worker (a task's
# arguments hold the study: each worker would import its module when it first unpickles one)
WORKERS_ENV = "ZONEINDEX_FIGURE_WORKERS"  # how many workers; 0 or 1: draw in the calling process
_POOL: dict = {}  # this process's executors, once started: "pool" (one worker per CPU) and "ahead" (one)
_AHEAD: dict = {}  # key -> (digests of the input files, future): the tasks started ahead (start_ahead)
_OWNER: dict = {}  # the two ends of the pipe this process's workers watch (_owner_end)


def workers() -> int:
    """One worker per CPU this process may use, unless $ZONEINDEX_FIGURE_WORKERS says otherwise."""
    return int(os.environ.get(WORKERS_ENV) or len(os.sched_getaffinity(0)))


def start() -> None:
    """Start the server the workers fork from, without waiting for its imports; nothing with one CPU."""
    if workers() > 1:
        _context()
        forkserver.ensure_running()


def stop() -> None:
    """Shut the workers down, if they were started (a notebook kernel does this before it is shut down)."""
    for name in ("ahead", "pool"):
        if name in _POOL:
            _POOL.pop(name).shutdown(wait=True, cancel_futures=True)


def submit(task) -> Future | None:
    """Start ``task`` in the workers and return its future at once; None with one CPU."""
    pool = _pool()
    return None if pool is None else pool.submit(task)


def submit_ahead(task) -> Future | None:
    """Start ``task`` in the background lane, one worker beside the pool, for work done ahead of need while the
    calling process computes something else; its future, or None with one CPU (then nothing runs ahead)."""
    if workers() < 2:
        return None
    if "ahead" not in _POOL:
        _POOL["ahead"] = _executor(1)
    return _POOL["ahead"].submit(task)


def start_ahead(key: str, inputs: list[Path], task, background: bool = True) -> bool:
    """Start ``task`` ahead of need under ``key``, made from the files ``inputs``: in the background lane (one
    CPU, while the caller computes on the other), or with ``background=False`` in every worker, where a task of
    that key still waiting in the lane moves too (one being run stays). False with one CPU: nothing runs ahead."""
    if key in _AHEAD and not _AHEAD[key][1].cancel():
        return True
    future = (submit_ahead if background else submit)(task)
    if future is not None:
        _AHEAD[key] = _digests(inputs), future
    return future is not None


def take_ahead(key: str, inputs) -> Future | None:
    """The future of the task started ahead under ``key`` if its input files (``inputs()``, asked for only if
    there is such a task) are still the same, else None: the caller does it now (a task not begun is
    cancelled; one begun or done is waited for first, as it may write the same files)."""
    digests, future = _AHEAD.pop(key, (None, None))
    if future is None or future.cancel():
        return None
    if digests != _digests(inputs()):
        future.exception()  # done, failed or not; its work is done again from the files of now
        return None
    return future


def _digests(paths: list[Path]) -> list[tuple[str, str]]:
    from zoneindex.provenance import sha256_file  # here: this module imports nothing heavy

    return [(str(path), sha256_file(path)) for path in paths]


def run_all(tasks: list) -> list:
    """Call each task (a picklable function without arguments) and return the results in task order: in
    the workers when there are several tasks and CPUs, else one after another in this process."""
    pool = _pool() if len(tasks) > 1 else None
    if pool is None:
        return [task() for task in tasks]
    try:
        return [future.result() for future in [pool.submit(task) for task in tasks]]
    except BrokenProcessPool:
        _POOL.pop("pool")  # a worker died (killed, out of memory): the next call starts new ones
        raise


def _context():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def _pool() -> ProcessPoolExecutor | None:
    count = workers()
    if count < 2:
        return None
    if "pool" not in _POOL:
        _POOL["pool"] = _executor(count)
    return _POOL["pool"]


def _executor(count: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(count, mp_context=_context(), initializer=_worker_start, initargs=(_owner_end(),))


def _owner_end():
    """The reading end of a pipe whose writing end only this process holds: nothing is ever written, so a worker
    reading it gets EOF once this process is gone, however it went."""
    if not _OWNER:
        _OWNER["reader"], _OWNER["writer"] = multiprocessing.Pipe(duplex=False)
    return _OWNER["reader"]


def _worker_start(owner) -> None:
    """Draw off-screen; leave interrupts to the caller (a kernel being shut down is sent SIGINT with its
    whole process group, and a worker would print a KeyboardInterrupt for each task it waits for). The
    plotting stack imported by the server stays for the worker's life: frozen out of the garbage collector's
    full passes, which a figure's many short-lived objects set off (a tenth of the drawing time).

    The worker ends with the process that started it (``owner``: ``_owner_end``). A killed kernel shuts no pool
    down, and its workers, waiting for tasks that never come, would live on, holding the output pipes of the
    ``zoneindex run`` above it: a caller reading them to the end would wait forever."""
    import matplotlib  # imported by the server already

    matplotlib.use("Agg")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_leave_with, args=(owner,), daemon=True).start()
    gc.freeze()


def _leave_with(owner) -> None:
    try:
        owner.recv_bytes()
    except (EOFError, OSError):
        pass
    os._exit(1)
