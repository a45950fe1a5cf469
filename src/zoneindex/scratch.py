"""Scratch runs: what a notebook run by hand reads, so that it never needs to write an edition.

Only ``zoneindex run`` writes an edition, from its staging folder. A notebook run any other way (in
JupyterLab, by nbclient or nbval, an executed copy from ``reports/`` run again) writes to its scratch folder
``<out-root>/scratch/<study>/<year>/`` (``paths.ScratchPaths``; ``pipeline.open_run`` decides), and reads a
stage table from, in this order:

1. the scratch folder, if the table there is newer than the study definition, the raw files and the latest
   good edition (what the earlier notebooks of this scratch run wrote);
2. the latest good edition of the same year under the out-root, read only: its table is copied into the
   scratch folder, so that everything the run used lies together;
3. computed as the ingest, clean and score notebooks compute it (ingested, entities, references, clean,
   treatment_log, scores, weights, contributions), and written into the scratch folder.

A table of a later stage (checks, uncertainty …) that neither holds is missing, as in a run: run its
notebook first.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from zoneindex import clean, ingest, paths, score
from zoneindex.editions import latest_edition
from zoneindex.study import Study

# the first cell of every notebook, in one line
NOTE = ("*Run by hand (in JupyterLab, by nbclient, or an executed copy from `reports/`), this notebook reads the "
        "latest good edition read-only and writes only to `scratch/<study>/<year>/`; only `zoneindex run` writes "
        "editions, and never over a published one.*")


def _ingested(ctx) -> dict:
    tidy, _ = ingest.ingest(ctx.study, ctx.year)
    return {"ingested": tidy}


def _entities(ctx) -> dict:
    return {"entities": ingest.read_entities(ctx.study)}


def _references(ctx) -> dict:
    return {"references": ingest.read_references(ctx.study)}


def _cleaned(ctx) -> dict:
    entities = ctx.read("entities") if ctx.has("entities") else None
    cleaned, treatment_log = clean.clean_study(ctx.study, ctx.read("ingested"), ctx.years, entities)
    return {"clean": cleaned, "treatment_log": treatment_log}


def _scored(ctx) -> dict:
    fw = ctx.study.framework
    result = score.score(ctx.study, ctx.read("clean"))
    contributions = None if result.contributions is None else score.sorted_for_output(result.contributions, fw)
    return {"scores": score.sorted_for_output(result.scores, fw), "weights": result.weights,
            "contributions": contributions}


# table -> the computation that produces it (and its sibling tables), as notebooks 01-03 do
PRODUCERS = {"ingested": _ingested, "entities": _entities, "references": _references, "clean": _cleaned,
             "treatment_log": _cleaned, "scores": _scored, "weights": _scored, "contributions": _scored}


class ScratchReads:
    """Where a scratch run finds the stage tables its folder lacks (see the module's docstring)."""

    def __init__(self, study: Study, year: int, home: Path):
        self.edition = latest_edition(study.name, year, home)
        inputs = [p for folder in (study.folder, study.raw_folder) if folder.exists()
                  for p in folder.rglob("*") if p.is_file()]
        if self.edition is not None:
            inputs.append(self.edition.processed / "manifest.json")
        self.since = max((p.stat().st_mtime for p in inputs), default=0.0)
        self._absent: set[str] = set()

    def describe(self) -> str:
        source = (f"edition {self.edition.year} ({self.edition.processed}, read-only)" if self.edition is not None
                  else "no edition: computed from the raw files")
        return f"scratch run: reads {source}"

    def fresh(self, path: Path) -> bool:
        return path.exists() and path.stat().st_mtime >= self.since

    def provide(self, name: str, ctx) -> bool:
        """Whether table ``name`` can be read from ``ctx``'s scratch folder, putting it there if need be."""
        target = ctx.table_path(name)
        if self.fresh(target):
            return True
        if self.edition is not None and (source := self.edition.processed / f"{name}.csv").exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            return True
        if name not in PRODUCERS or name in self._absent:
            return False
        produced: dict[str, pd.DataFrame | None] = PRODUCERS[name](ctx)
        for table, frame in produced.items():
            if frame is None:
                self._absent.add(table)
            elif not self.fresh(ctx.table_path(table)):
                ctx.write(table, frame)
        return self.fresh(target)


def scratch_home(out_root: str | Path | None, previous_root: str | Path | None) -> Path:
    """The out-root a scratch run belongs to: ``out_root`` (default: ZONEINDEX_OUT_ROOT or the project root),
    or, for the staging folder of a finished ``zoneindex run`` (an executed copy run again), the out-root
    that run wrote to."""
    root = Path(out_root) if out_root else paths.default_out_root()
    if paths.is_staging(root):
        return Path(previous_root) if previous_root else root.parent.parent
    return root
