"""One run of an edition at a time, and a swap that a kill at any step leaves undone or finished; the set-up that
fails fast with the wrong Python. In-process (the end-to-end kill and the second run at once: test_editions.py)."""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zoneindex import paths, runguard
from zoneindex.errors import InputError

ROOT = paths.PROJECT_ROOT


def edition(root: Path, staged: bool, text: str) -> paths.RunPaths:
    out = paths.run_paths("toy", 2024, root / ".staging/toy-2024-1" if staged else root)
    for i, folder in enumerate(out.folders()):
        (folder / "sub").mkdir(parents=True)
        (folder / "sub" / f"{i}.txt").write_text(f"{text} {i}", encoding="utf-8")
    return out


def digests(out: paths.RunPaths) -> dict:
    return {str(p.relative_to(out.out_root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in out.folders() if folder.exists() for p in sorted(folder.rglob("*")) if p.is_file()}


def holder(out: paths.RunPaths) -> subprocess.Popen:
    """Another process that holds the edition's lock until it is killed."""
    code = ("import sys, time; from zoneindex import paths, runguard\n"
            f"out = paths.run_paths('toy', 2024, {str(out.out_root)!r})\n"
            "with runguard.edition_lock(out):\n    print('held', flush=True)\n    time.sleep(600)\n")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_run_is_refused_while_the_first_holds_the_lock_and_a_killed_one_leaves_none(tmp_path):
    out = paths.run_paths("toy", 2024, tmp_path)
    first = holder(out)
    try:
        with pytest.raises(InputError) as caught:
            with runguard.edition_lock(out):
                pass
        assert str(caught.value).startswith(f"file toy-2024.lock: another zoneindex run of toy 2024 is running on "
                                            f"this out-root (pid {first.pid}, started ")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    (tmp_path / ".staging/toy-2024-999/data").mkdir(parents=True)  # a killed run's staging folder
    with runguard.edition_lock(out):  # the lock died with its process: no stale lock
        assert not (tmp_path / ".staging/toy-2024-999").exists()
    assert not (tmp_path / ".staging").exists()
    other = paths.run_paths("toy", 2025, tmp_path)
    with runguard.edition_lock(out), runguard.edition_lock(other):  # another edition is not held up
        pass


def test_sigterm_during_a_run_raises_so_that_the_clean_up_runs(tmp_path):
    out, before = paths.run_paths("toy", 2024, tmp_path), signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        with runguard.edition_lock(out):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    assert signal.getsignal(signal.SIGTERM) == before and not (tmp_path / ".staging").exists()


def crashing_rename(after: int):
    """Path.rename that raises (as a kill would stop it) after ``after`` successful renames."""
    real, count = Path.rename, [0]

    def rename(self, target):
        if count[0] >= after:
            raise SystemExit("killed")
        count[0] += 1
        return real(self, target)
    return rename


@pytest.mark.parametrize("after", range(6))
def test_a_swap_killed_at_any_rename_is_undone_by_the_next_run(tmp_path, monkeypatch, after):
    final, staged = edition(tmp_path, False, "old"), edition(tmp_path, True, "new")
    before = digests(final)
    with monkeypatch.context() as patch:
        patch.setattr(Path, "rename", crashing_rename(after))
        patch.setattr(runguard, "recover", lambda final: None)  # a kill: nothing runs after it
        with pytest.raises(SystemExit):
            runguard.swap_in(staged, final)
    with runguard.edition_lock(final):  # the next run
        pass
    assert digests(final) == before and not any(tmp_path.rglob("*.previous"))


def test_a_swap_killed_after_its_commit_is_finished_by_the_next_run(tmp_path, monkeypatch):
    final, staged = edition(tmp_path, False, "old"), edition(tmp_path, True, "new")
    new = {k.replace(".staging/toy-2024-1/", ""): v for k, v in digests(staged).items()}
    with monkeypatch.context() as patch:
        patch.setattr(runguard, "recover", lambda final: None)
        runguard.swap_in(staged, final)  # committed, then "killed" before the old folders were deleted
    assert any(tmp_path.rglob("*.previous")) and runguard.journal_path(final).exists()
    with runguard.edition_lock(final):
        pass
    assert digests(final) == new and not any(tmp_path.rglob("*.previous"))


def test_a_first_edition_half_moved_in_is_removed(tmp_path, monkeypatch):
    final, staged = paths.run_paths("toy", 2024, tmp_path), edition(tmp_path, True, "new")
    with monkeypatch.context() as patch:
        patch.setattr(Path, "rename", crashing_rename(1))
        patch.setattr(runguard, "recover", lambda final: None)
        with pytest.raises(SystemExit):
            runguard.swap_in(staged, final)
    runguard.recover(final)
    assert not any(folder.exists() for folder in final.folders())


def test_a_successful_swap_removes_the_failed_record_of_the_edition(tmp_path):
    final, staged = edition(tmp_path, False, "old"), edition(tmp_path, True, "new")
    (tmp_path / "reports/toy/failed/2024").mkdir(parents=True)
    runguard.swap_in(staged, final)
    assert not (tmp_path / "reports/toy/failed/2024").exists() and not runguard.journal_path(final).exists()
    assert (final.processed / "sub/0.txt").read_text(encoding="utf-8") == "new 0"


# --- make: the Python version first -------------------------------------------------------------------

def other_python() -> str | None:
    """A working Python that is not 3.11 (a researcher's python3.12, say), or None."""
    candidates = [shutil.which(name) for name in ("python3.12", "python3.13", "python3.10")]
    candidates += sorted(map(str, Path.home().glob(".pyenv/versions/3.1[02]*/bin/python3")))
    candidates += sorted(map(str, Path("/usr/bin").glob("python3.1[02]")))
    for path in filter(None, candidates):
        done = subprocess.run([path, "-c", "import sys; print(sys.version_info[:2] != (3, 11))"], capture_output=True,
                              text=True)
        if done.returncode == 0 and done.stdout.strip() == "True":
            return path
    return None


def test_make_refuses_another_python_before_installing_anything(tmp_path):
    python = other_python()
    if python is None:
        pytest.skip("no Python but 3.11 on this machine")
    for name in ("Makefile", "pyproject.toml", "requirements.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    done = subprocess.run(["make", "--no-print-directory", "setup", f"PYTHON={python}"], cwd=tmp_path,
                          capture_output=True, text=True, env=env)
    assert done.returncode != 0 and time.monotonic() - started < 20
    assert "but this project supports Python 3.11 only" in done.stderr and not (tmp_path / ".venv").exists()
    subprocess.run([python, "-m", "venv", "--without-pip", str(tmp_path / ".venv")], check=True)  # a broken try
    checked = subprocess.run(["sh", "scripts/check_python.sh", sys.executable, ".venv"], cwd=tmp_path,
                             capture_output=True, text=True)
    assert checked.returncode == 0 and "removing it to build it again" in checked.stderr
    assert not (tmp_path / ".venv").exists()


def test_make_clean_says_what_it_removes_and_distclean_removes_the_venv(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for folder in ("data/processed", "figures", ".venv", "data/entry", "data/raw"):
        (tmp_path / folder).mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}  # not make's child
    done = subprocess.run(["make", "--no-print-directory", "clean"], cwd=tmp_path, capture_output=True, text=True,
                          env=env)
    assert done.returncode == 0 and done.stdout.startswith("removing the generated outputs: data/processed")
    assert not (tmp_path / "figures").exists() and (tmp_path / ".venv").exists()
    done = subprocess.run(["make", "--no-print-directory", "distclean"], cwd=tmp_path, capture_output=True, text=True,
                          env=env)
    assert done.returncode == 0 and "removing the virtual environment .venv" in done.stdout
    assert not (tmp_path / ".venv").exists() and (tmp_path / "data/entry").exists() and (tmp_path / "data/raw").exists()
