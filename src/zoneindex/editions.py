"""Editions: published (frozen) editions and the study definition each edition was computed with.

Each run of ``zoneindex run --study S --year Y`` writes edition Y of study S. Editions follow the Our World
in Data idea of versioned, immutable snapshots:

* the edition keeps a copy of the study definition it was computed with (``definition/``), so it can be
  recomputed and compared later even after the framework changed (``zoneindex.revisions`` does);
* ``zoneindex publish`` freezes an edition; a later run that would replace it is refused unless forced,
  and then the old one is kept aside, never deleted.
"""
from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

from zoneindex import paths
from zoneindex.errors import InputError
from zoneindex.provenance import sha256_file
from zoneindex.study import Study

PUBLISHED = "PUBLISHED.json"
DEFINITION = "definition"


# --- published editions ---------------------------------------------------------------------------

def published_record(out: paths.RunPaths) -> dict | None:
    marker = out.reports / PUBLISHED
    return json.loads(marker.read_text(encoding="utf-8")) if marker.exists() else None


def publish(out: paths.RunPaths, when: str | None = None) -> Path:
    """Freeze an edition: record the manifest's hash; later runs that would replace it are refused."""
    manifest = out.processed / "manifest.json"
    if not manifest.exists():
        raise InputError("no edition to publish: run it first", file=manifest)
    marker = out.reports / PUBLISHED
    if (record := published_record(out)) is not None:  # a published record is never rewritten
        raise InputError(f"edition {out.year} of {out.study} is already published (on {record['published']})",
                         file=marker)
    record = {"study": out.study, "edition": out.year, "published": when or datetime.now().date().isoformat(),
              "manifest_sha256": sha256_file(manifest)}
    marker.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return marker


def guard_published(out: paths.RunPaths, force: bool) -> None:
    """Refuse to replace a published edition; with ``force`` move it aside (never delete it)."""
    record = published_record(out)
    if record is None:
        return
    if not force:
        raise InputError(f"edition {out.year} of {out.study} was published on {record['published']} and is frozen; "
                         "run with --force to recompute it (the published one is then kept aside)",
                         file=out.reports / PUBLISHED)
    n = 1
    while out.processed.with_name(f"{out.year}.superseded-{n}").exists():
        n += 1
    for folder in out.folders():
        if folder.exists():
            folder.rename(folder.with_name(f"{out.year}.superseded-{n}"))


# --- the definition an edition was computed with -------------------------------------------------

def snapshot_definition(study: Study, out: paths.RunPaths) -> Path:
    """Copy the study definition into the edition, so the edition can be recomputed as it was."""
    target = out.processed / DEFINITION / study.name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(study.folder, target)
    return target


def latest_edition(study: str, year: int | str = "latest", out_root: str | Path | None = None) -> paths.RunPaths | None:
    """The latest good edition of ``study`` under ``out_root`` (a run that finished writes its manifest last),
    or the one of ``year``; None when there is none."""
    root = Path(out_root) if out_root else paths.default_out_root()
    folder = root / "data" / "processed" / study
    years = sorted(int(p.name) for p in folder.glob("*") if p.name.isdigit() and (p / "manifest.json").exists()) \
        if folder.exists() else []
    if year != "latest":
        years = [y for y in years if y == int(year)]
    return paths.run_paths(study, years[-1], root) if years else None


def previous_edition(out: paths.RunPaths) -> paths.RunPaths | None:
    """The latest edition before ``out.year`` of the same study under ``out``'s out-root (with its definition)."""
    root = out.processed.parent
    years = sorted(int(p.name) for p in root.iterdir() if p.name.isdigit() and int(p.name) < out.year
                   and (p / DEFINITION).exists()) if root.exists() else []
    return paths.run_paths(out.study, years[-1], out.out_root) if years else None


def edition_replaced(out: paths.RunPaths, root: str | Path | None) -> paths.RunPaths | None:
    """The edition of the same study and year under ``root`` that a run writing ``out`` would replace (its
    ingested table kept), or None."""
    there = paths.run_paths(out.study, out.year, root)
    if there.processed == out.processed or not (there.processed / "ingested.csv").exists():
        return None
    return there
