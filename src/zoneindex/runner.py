"""One Jupyter kernel for all the notebooks of a run, instead of one each.

papermill starts a kernel for every notebook it runs: six start-ups and the same imports six times, about
1.3 s a notebook. Its nbclient engine also runs a notebook on a kernel manager it is handed (``km=``), and
then neither starts nor stops that kernel. ``SharedKernel`` owns such a manager. It starts the kernel at
once and hands it start-up code (the imports every notebook needs) that runs while the caller does other
work (``zoneindex run`` checks the study meanwhile); before each notebook it makes the kernel look new (no
name left from the start-up or the notebook before, the execution count from 1; imported modules stay
imported, which is the point). Between notebooks and after them the caller may run code of its own there
(``run``, or ``submit`` to go on meanwhile: ``zoneindex run`` has figures drawn ahead and the workbook
written while it builds the write-up); at the end it asks the kernel to shut down (``release``) without
waiting for it to exit. Each notebook still runs on its own papermill client, closed after it, and stays a
notebook that runs on its own in any kernel.
"""
from __future__ import annotations

import gc
import importlib
import threading
import time
import warnings
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

from zoneindex import paths

# Run in the kernel before each notebook.
RESET = "from zoneindex.runner import fresh_namespace\nfresh_namespace()\n"
# What a new kernel's namespace has that IPython's reset drops (multiprocessing reads __spec__).
_FRESH = ("__doc__", "__loader__", "__package__", "__spec__", "_", "__", "___")


def fresh_namespace() -> None:
    """Make the kernel look new to the next notebook: only the names a new kernel has (the user's are
    dropped, as by ``%reset -f``), the execution count from 1, and every warning shown again once.

    What is still alive then (modules, the kernel's own objects) lives until the kernel ends, so it is frozen
    out of the garbage collector's full passes: the reset's own pass took 0.15 s a notebook over them.
    """
    shell = get_ipython()  # noqa: F821  (this runs in the kernel)
    kept = {name: shell.user_ns[name] for name in _FRESH if name in shell.user_ns}
    shell.reset(new_session=True)  # a new history session too, which sets the execution count back to 1
    shell.user_ns.update(kept)
    gc.freeze()
    with warnings.catch_warnings():  # entering and leaving it clears the "shown once already" registries
        pass


class _Manager(AsyncKernelManager):
    """A kernel manager that keeps the clients it hands out: papermill opens one per notebook and, as it
    does not own the kernel, leaves it open; ``SharedKernel.close_clients`` closes them."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.clients: list = []

    def client(self, **kwargs):
        client = super().client(**kwargs)
        self.clients.append(client)
        return client


class SharedKernel:
    """A started kernel for the notebooks of one run; use as a context manager, which shuts it down."""

    def __init__(self, cwd: Path, kernel_name: str = "python3", startup: str = "", timeout: float = 120,
                 shutdown: str = ""):
        self.manager = _Manager(kernel_name=kernel_name)
        # returns once the process runs, not when it is ready; the kernel app logs errors only (not its warning that
        # a kernel on local TCP ports is unencrypted, printed by every run)
        run_sync(self.manager.start_kernel)(cwd=str(cwd), extra_arguments=["--log-level=ERROR"])
        self.timeout, self.used, self.closed, self.released = timeout, False, False, False
        self.shutdown = shutdown  # run in the kernel by release(), before it is asked to shut down
        self.startup = None
        if startup:  # sent now (queued until the kernel listens), so that it runs while the caller works on
            client = self.manager.client()
            client.start_channels()
            self.startup = (client, client.execute(startup, store_history=False), startup)

    def __enter__(self) -> "SharedKernel":
        return self

    def __exit__(self, kind, error, trace) -> None:
        self.close(now=kind is not None)

    def release(self) -> None:
        """The notebooks are done: run the shutdown code and ask the kernel to shut down, without waiting for it
        (close() makes sure it is gone). It exits while the caller goes on: waiting for a kernel that has
        imported the whole stack to exit took 2.6 s."""
        if self.released or self.closed:
            return
        if self.shutdown:
            self.run(self.shutdown)
        run_sync(self.manager.request_shutdown)()
        self.released = True

    def close(self, now: bool = False) -> None:
        """Shut the kernel down (at once with ``now``: after a failure, or before it ever ran a notebook; a
        released kernel that has not exited yet is stopped now too, having had its chance)."""
        if not self.closed:
            self.closed = True
            self.close_clients()
            if self.released:
                if run_sync(self.manager.is_alive)():
                    run_sync(self.manager.shutdown_kernel)(now=True)
                else:
                    run_sync(self.manager.cleanup_resources)()
            else:
                run_sync(self.manager.shutdown_kernel)(now=now or not self.used)

    def prepare(self) -> None:
        """Before each notebook: the start-up code done (the first time), then a namespace as new."""
        if self.startup is not None:
            self._reply(*self.startup)
            self.startup = None
        self.used = True
        self.run(RESET)

    def run(self, code: str) -> None:
        """Run ``code`` in the kernel, between notebooks (the names it leaves are dropped by the next prepare)."""
        self.submit(code)()

    def submit(self, code: str):
        """Start ``code`` in the kernel and return at once a function that waits until it is done (and raises if
        it failed); the caller works on meanwhile, and calls it before the kernel runs anything else."""
        client = self.manager.client()
        client.start_channels()
        msg_id = client.execute(code, store_history=False)

        def wait() -> None:
            try:
                self._reply(client, msg_id, code)
            finally:
                self.close_clients()

        return wait

    def _reply(self, client, msg_id: str, code: str) -> None:
        """Wait for the reply to ``msg_id`` (the output of that code is dropped); raise if the code failed."""
        deadline = time.monotonic() + self.timeout
        while True:
            reply = run_sync(client.get_shell_msg)(timeout=max(deadline - time.monotonic(), 0.01))
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"the notebook kernel could not run {code!r}: {reply['content'].get('evalue')}")

    def close_clients(self) -> None:
        while self.manager.clients:
            self.manager.clients.pop().stop_channels()


# Run by the kernel as soon as it is up, while the study is checked: the figure workers' server starts
# (it imports the plotting stack meanwhile) and the modules the notebooks use are imported once: those of
# the first notebook before it runs, the others' in a thread of the kernel while the first notebooks run.
KERNEL_STARTUP = ("from zoneindex import workers\nworkers.start()\n"
                  "import pandas, IPython.display, zoneindex.pipeline, zoneindex.ingest, zoneindex.present\n"
                  "from zoneindex.runner import import_in_background\n"
                  "import_in_background('zoneindex.clean', 'zoneindex.score', 'zoneindex.validate', "
                  "'zoneindex.uncertainty', 'zoneindex.revisions', 'zoneindex.figures', 'zoneindex.report')\n")
KERNEL_SHUTDOWN = "from zoneindex import workers\nworkers.stop()\n"  # the figure workers end before their kernel


def import_in_background(*modules: str) -> None:
    """Import ``modules`` in a thread (a module asked for meanwhile waits for its import to finish)."""
    threading.Thread(target=lambda: [importlib.import_module(name) for name in modules], daemon=True).start()


def notebook_kernel() -> SharedKernel:
    """The kernel every notebook of a run executes on, starting up from now on (``zoneindex run`` starts it
    first thing, so that it boots while the study is loaded and checked)."""
    return SharedKernel(paths.NOTEBOOKS, startup=KERNEL_STARTUP, shutdown=KERNEL_SHUTDOWN)
