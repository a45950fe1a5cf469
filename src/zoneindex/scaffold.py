"""``zoneindex new-study NAME --from FILE.csv``: a first, valid study from a publisher's own file.

The file is copied unchanged into ``data/raw/NAME/`` with a source record to complete (publisher, URL,
licence: marked TO FILL IN), and ``seeds/NAME/`` gets a ``study.yaml`` and a ``framework.csv`` that pass the
schema: every numeric series of the file becomes an indicator (direction +1, weight 1) under one index,
with min-max normalisation, equal weights and the arithmetic mean. Columns of text (notes, colour codes)
are left out by name. The layout is recognised: ``long`` when the file has entity, year, indicator and
value columns, otherwise ``wide`` (one row per entity and year, one column per series; the entity column
is the first text column, the year column the one named year or time). Then: edit the framework (names,
directions, dimensions, weights), run ``zoneindex check --study NAME``, then ``zoneindex run``.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import yaml

from zoneindex import paths, schema
from zoneindex.errors import InputError
from zoneindex.provenance import write_source_record
from zoneindex.rawfiles import read_table

TO_FILL = "TO FILL IN"
LONG = ("entity", "year", "indicator", "value")


def _numeric(column: pd.Series) -> bool:
    cells = column[column.str.strip() != ""]
    return len(cells) > 0 and pd.to_numeric(cells, errors="coerce").notna().all()


def _code(name: str) -> str:
    code = re.sub(r"[^0-9A-Za-z_]+", "_", str(name)).strip("_") or "x"
    return code if not code[0].isdigit() else f"x{code}"


def new_study(name: str, source: Path, root: Path | None = None) -> dict[str, Path]:
    """Write seeds/<name>/ (study.yaml, framework.csv) and data/raw/<name>/<file> with its source record."""
    root = root or paths.PROJECT_ROOT
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise InputError("a study name is lower-case letters, digits and _", column="NAME", value=name,
                         expected="e.g. golden_panda")
    seeds, raw = root / "seeds" / name, root / "data" / "raw" / name
    if (seeds / "study.yaml").exists():
        raise InputError("the study exists already", file=seeds / "study.yaml", expected="a new name")
    table, _ = read_table(Path(source), {})
    columns = {c.lower(): c for c in table.columns}
    if all(c in columns for c in LONG):
        layout, data = "long", {"file": Path(source).name, "format": "long",
                                "columns": {k: columns[k] for k in LONG}}
        codes = sorted(set(table[columns["indicator"]].str.strip()) - {""})
        years = pd.to_numeric(table[columns["year"]], errors="coerce")
        if any(_code(c) != c for c in codes):
            data["indicators"] = {c: _code(c) for c in codes}
        indicators = [_code(c) for c in codes]
    else:
        year = next((columns[k] for k in ("year", "time") if k in columns), None)
        text = [c for c in table.columns if c != year and not _numeric(table[c])]
        if not text:
            raise InputError("no entity column found (a column of names or codes)", file=source,
                             expected="a long file (entity, year, indicator, value) or a wide one with an entity "
                                      "column")
        entity, series = text[0], [c for c in table.columns if c != year and c not in text]
        if not series:
            raise InputError("no numeric column found", file=source, expected="one column per series")
        layout = "wide"
        data = {"file": Path(source).name, "format": "wide", "entity": entity,
                **({"year": year} if year else {"fixed_year": 2000}),
                "indicators": {c: _code(c) for c in series}}
        years = pd.to_numeric(table[year], errors="coerce") if year else pd.Series([2000.0])
        indicators = [_code(c) for c in series]
    first, last = int(years.min()), int(years.max())
    framework = pd.DataFrame([{"code": "INDEX", "level": 2, "parent": "", "type": "Aggregate", "name_en": name,
                               "name_zh": "", "unit": "", "direction": "", "weight": 1}]
                             + [{"code": c, "level": 1, "parent": "INDEX", "type": "Indicator", "name_en": c,
                                 "name_zh": "", "unit": "", "direction": 1, "weight": 1} for c in indicators])
    config = {"study": name, "title": {"en": f"{name} (new study: {TO_FILL} the title)"},
              "years": {"first": first, "last": last}, "base_year": None, "framework": "framework.csv",
              "data": [data],
              "methods": {"imputation": {"method": "none"}, "outliers": {"method": "none"},
                          "normalisation": {"method": "minmax", "scale": [0, 100]}, "weights": {"method": "equal"},
                          "aggregation": {"method": "arithmetic", "min_availability": 0.5}, "rebase": False}}
    schema.validate(config, seeds / "study.yaml")
    seeds.mkdir(parents=True)
    raw.mkdir(parents=True, exist_ok=True)
    framework.to_csv(seeds / "framework.csv", index=False)
    header = ("# yaml-language-server: $schema=../../docs/study.schema.json\n"
              f"# Written by zoneindex new-study from {Path(source).name} ({layout} layout): every numeric series is "
              "an indicator\n# of one index. Next: names, directions, dimensions and weights in framework.csv; the "
              "source record\n# in data/raw; then zoneindex check --study " + name + "  (docs/study-reference.md)\n")
    (seeds / "study.yaml").write_text(header + yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
                                      encoding="utf-8")
    target = raw / Path(source).name
    shutil.copyfile(source, target)
    record = write_source_record(target, title=TO_FILL, publisher=TO_FILL, url=TO_FILL, retrieved=TO_FILL,
                                 licence=TO_FILL, illustrative=False)
    return {"study": seeds / "study.yaml", "framework": seeds / "framework.csv", "raw": target, "record": record}
