"""Session fixtures: one ``zoneindex run`` per study and edition, shared by every test that reads it.

A run of the whole pipeline costs seconds, so the tests that look at a run's outputs share one:
``study_run("cdht")`` runs the study once per test session (with pytest-xdist, once for all the workers: the
first to ask runs it while the others wait) and returns it. Its out-root is read-only by agreement; a test
that changes an out-root (runs again into it, publishes it, fails a run there) works on a copy,
``study_run("cdht").copy(tmp_path / "out")``.

Every test that asks for ``study_run`` is marked ``slow``, as are the notebooks run by nbval and the tests whose
fixtures run the pipeline, a notebook or a server themselves: ``make test-fast`` runs the others.
"""
from __future__ import annotations

import fcntl
import gc
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import zoneindex
from zoneindex.study import load_study

# Fixtures (of other test modules) that run the pipeline, notebooks or JupyterLab: their tests are slow.
SLOW_FIXTURES = {"study_run", "published", "server", "synth"}


@dataclass(frozen=True)
class Run:
    """A finished ``zoneindex run``: its out-root and what the command returned and printed."""

    out: Path
    returncode: int
    stdout: str
    stderr: str

    def copy(self, target: Path) -> Path:
        """The run's out-root copied to ``target``, for a test that changes it; returns ``target``."""
        shutil.copytree(self.out, target, symlinks=True)
        return Path(target)


@pytest.fixture(scope="session")
def study_run(tmp_path_factory):
    """``study_run(study, year=None, lang="en")``: the one run of that study, edition (None: its latest) and
    write-up language of this session. A run in another language than English is made into a copy of the
    English run's out-root: it replaces an edition that is there (tests/test_pipeline.py compares the two)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the folder of every worker's own temporary folder
    shared = shared / "editions"
    shared.mkdir(exist_ok=True)

    def get(study: str, year: int | None = None, lang: str = "en") -> Run:
        latest = load_study(study).last_year
        folder = shared / f"{study}-{year or latest}" if lang == "en" else shared / f"{study}-{year or latest}-{lang}"
        with open(folder.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            record = folder / "run.json"
            if not record.exists():
                if lang != "en":  # a second run over the edition, as a researcher makes one for the other language
                    get(study, year).copy(folder / "out")
                year_args = ["--year", str(year)] if year not in (None, latest) else []  # the latest: as typed
                lang_args = ["--lang", lang] if lang != "en" else []
                done = zoneindex("run", "--no-progress", "--study", study, *year_args, *lang_args,
                                 "--out-root", str(folder / "out"))
                folder.mkdir(exist_ok=True)
                record.write_text(json.dumps({"returncode": done.returncode, "stdout": done.stdout,
                                              "stderr": done.stderr}), encoding="utf-8")
        return Run(folder / "out", **json.loads(record.read_text(encoding="utf-8")))

    return get


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)


def pytest_collection_finish(session):
    # What collecting imported (the whole scientific stack) lives for the session: frozen out of the garbage
    # collector's full passes, which the tests' many short-lived objects (figures above all) keep setting off.
    gc.freeze()
