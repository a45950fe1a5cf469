"""The figure workers end with the process that started them, however it ends."""
import os
import subprocess
import sys
import time
from pathlib import Path

from zoneindex import paths

KILLED_OWNER = """
import os, signal
from zoneindex import workers
if __name__ == "__main__":
    futures = [workers.submit(os.getpid) for _ in range(4)] + [workers.submit_ahead(os.getpid)]
    print(" ".join(str(pid) for pid in sorted({future.result() for future in futures})), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no shutdown reaches the workers
"""


def running(pid: int) -> bool:
    """The process exists and is not a zombie (one that exited and waits for its parent to collect it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def test_workers_of_a_killed_process_exit_and_let_go_of_its_output_pipe():
    # capture_output reads the pipe to its end: it returns only once no worker holds it any more
    done = subprocess.run([sys.executable, "-c", KILLED_OWNER], capture_output=True, text=True, timeout=30,
                          cwd=paths.PROJECT_ROOT, env={**os.environ, "ZONEINDEX_FIGURE_WORKERS": "2"})
    assert done.returncode == -9, done.stderr
    pids = [int(pid) for pid in done.stdout.split()]
    assert len(pids) >= 2  # the background lane's and at least one of the pool's
    deadline = time.monotonic() + 10
    while (alive := [pid for pid in pids if running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive, f"workers left behind: {alive}"
