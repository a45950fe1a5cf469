"""Every path the project uses, built from one root (cookiecutter-data-science's config module).

Inputs (``seeds/``, ``data/raw/``, ``notebooks/``) always come from the project root. Outputs
(``data/processed``, ``figures``, ``reports``) go under an *out-root*, which is the project root unless
``--out-root`` or the environment variable ``ZONEINDEX_OUT_ROOT`` says otherwise; tests use a temporary
out-root so that they never touch the outputs of a real run.

Only ``zoneindex run`` writes an edition's folders, from inside its staging folder
(``<out-root>/.staging/<run>/``). A notebook run any other way writes to its scratch folder
``<out-root>/scratch/<study>/<year>/`` (``ScratchPaths``; see ``pipeline.open_run``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("ZONEINDEX_ROOT") or Path(__file__).resolve().parents[2])
SEEDS = PROJECT_ROOT / "seeds"
RAW = PROJECT_ROOT / "data" / "raw"
NOTEBOOKS = PROJECT_ROOT / "notebooks"
OUT_ROOT_ENV = "ZONEINDEX_OUT_ROOT"
STAGING = ".staging"  # <out-root>/.staging/<run>/: where zoneindex run executes the notebooks
SCRATCH = "scratch"  # <out-root>/scratch/<study>/<year>/: where a notebook run by hand writes


FONT_CACHE_ENV = "ZONEINDEX_FONT_CACHE"  # the folder of the PDF figures' font subsets (zoneindex.plots.pdf_fonts)


def font_cache() -> Path:
    """Where the font subsets of the PDF figures are kept between runs: $ZONEINDEX_FONT_CACHE, else
    ``zoneindex/font-subsets`` in the user's cache folder ($XDG_CACHE_HOME, else ~/.cache)."""
    if os.environ.get(FONT_CACHE_ENV):
        return Path(os.environ[FONT_CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "zoneindex" / "font-subsets"


def default_out_root() -> Path:
    return Path(os.environ.get(OUT_ROOT_ENV) or PROJECT_ROOT)


@dataclass(frozen=True)
class RunPaths:
    """Output folders of one edition (study, year) below an out-root."""

    out_root: Path
    study: str
    year: int

    @property
    def processed(self) -> Path:
        return self.out_root / "data" / "processed" / self.study / str(self.year)

    @property
    def figures(self) -> Path:
        return self.out_root / "figures" / self.study / str(self.year)

    @property
    def reports(self) -> Path:
        return self.out_root / "reports" / self.study / str(self.year)

    @property
    def notebooks(self) -> Path:
        return self.reports / "notebooks"

    def folders(self) -> tuple[Path, Path, Path]:
        return self.processed, self.figures, self.reports

    def make(self) -> "RunPaths":
        for folder in (self.processed, self.figures, self.notebooks):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def run_paths(study: str, year: int, out_root: Path | str | None = None) -> RunPaths:
    root = Path(out_root) if out_root else default_out_root()
    return RunPaths(root.resolve(), study, int(year))


@dataclass(frozen=True)
class ScratchPaths(RunPaths):
    """The scratch folder of a notebook run by hand: ``<out-root>/scratch/<study>/<year>/`` with ``data/``
    (its stage tables), ``figures/`` and ``reports/``; never an edition's folders."""

    @property
    def folder(self) -> Path:
        return self.out_root / SCRATCH / self.study / str(self.year)

    @property
    def processed(self) -> Path:
        return self.folder / "data"

    @property
    def figures(self) -> Path:
        return self.folder / "figures"

    @property
    def reports(self) -> Path:
        return self.folder / "reports"

    def make(self) -> "ScratchPaths":
        for folder in (self.processed, self.figures):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def scratch_paths(study: str, year: int, out_root: Path | str | None = None) -> ScratchPaths:
    root = Path(out_root) if out_root else default_out_root()
    return ScratchPaths(root.resolve(), study, int(year))


def is_staging(root: Path | str) -> bool:
    """Whether ``root`` is (or was) a staging folder of ``zoneindex run``: ``<out-root>/.staging/<run>``."""
    return Path(root).parent.name == STAGING
