"""Ingest: read the raw files of a study into one tidy long table, checked and with provenance.

Each entry under ``data:`` in study.yaml names a raw file in ``data/raw/<study>/`` and its layout:
``long`` (one row per entity-year-indicator) or ``wide_by_year`` (one row per entity, columns named
``<variable>_<year>``, as in UNDP's HDR files). CSV and Excel (``sheet:``) are both read. The output is
``entity, year, indicator, value, unit, source, flag, source_file, source_row``; a raw file without a
valid source record, a non-numeric value, a duplicate, an unknown indicator code, a year outside the
study, or a framework indicator with no data at all stops the run with a message that names the place.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from zoneindex.errors import InputError
from zoneindex.framework import Study
from zoneindex.provenance import read_source_record

TIDY_COLUMNS = ["entity", "year", "indicator", "value", "unit", "source", "flag", "source_file", "source_row"]
HEADER_ROWS = 1  # spreadsheet row number of a data row = position + HEADER_ROWS + 1


def read_table(path: Path, spec: dict) -> pd.DataFrame:
    """Read a CSV or Excel sheet as text, so that every value can be checked and located."""
    if not path.exists():
        raise InputError("raw file not found", file=path, expected="a file in data/raw/<study>/")
    if path.suffix.lower() in (".xlsx", ".xls"):
        return pd.read_excel(path, sheet_name=spec.get("sheet", 0), dtype=str)
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                       encoding=spec.get("encoding", "utf-8"))


def parse_numbers(text: pd.Series, path: Path, columns: pd.Series, rows: pd.Series, sheet=None) -> pd.Series:
    """Convert text to float; blank stays NaN, anything else that is not a plain number is refused."""
    values = pd.to_numeric(text, errors="coerce")
    bad = values.isna() & text.notna() & text.astype(str).str.strip().ne("")
    if bad.any():
        i = bad.idxmax()
        raise InputError("value is not a number", file=path, sheet=sheet, row=int(rows[i]), column=str(columns[i]),
                         value=text[i], expected="a plain decimal number (no text, thousands separators or units)")
    return values.astype(float)


def require_columns(table: pd.DataFrame, wanted: list[str], path: Path, sheet=None) -> None:
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise InputError(f"columns missing: {missing}", file=path, sheet=sheet, row=1,
                         expected=f"a header with {wanted}; found {list(table.columns)}")


def read_long(path: Path, spec: dict) -> pd.DataFrame:
    table = read_table(path, spec)
    names = {key: key for key in ("entity", "year", "indicator", "value", "unit", "source", "status")}
    names.update(spec.get("columns", {}))
    require_columns(table, [names[k] for k in ("entity", "year", "indicator", "value")], path, spec.get("sheet"))
    rows = pd.Series(np.arange(len(table)) + HEADER_ROWS + 1, index=table.index)
    tidy = pd.DataFrame({
        "entity": table[names["entity"]].str.strip(),
        "year": parse_numbers(table[names["year"]], path, pd.Series(names["year"], index=table.index), rows),
        "indicator": table[names["indicator"]].str.strip(),
        "value": parse_numbers(table[names["value"]], path, pd.Series(names["value"], index=table.index), rows),
        "unit": table[names["unit"]] if names.get("unit") in table else "",
        "source": table[names["source"]] if names.get("source") in table else spec.get("source", path.name),
        "flag": table[names["status"]].map(lambda s: s if s in ("illustrative", "public") else "")
        if names.get("status") in table else "",
        "source_row": rows,
    })
    return tidy


def read_wide_by_year(path: Path, spec: dict) -> pd.DataFrame:
    table = read_table(path, spec)
    entity = spec["entity"]
    require_columns(table, [entity], path, spec.get("sheet"))
    if spec.get("exclude_entities"):
        table = table[~table[entity].str.match(spec["exclude_entities"])]
    rows = pd.Series(table.index + HEADER_ROWS + 1, index=table.index)
    parts = []
    for indicator, prefix in spec["variables"].items():
        pattern = re.compile(rf"^{re.escape(prefix)}_(\d{{4}})$")
        year_columns = {c: int(m.group(1)) for c in table.columns if (m := pattern.match(c))}
        if not year_columns:
            raise InputError(f"no columns named {prefix}_<year>", file=path, row=1, expected=f"{prefix}_1990 …")
        block = table[[entity, *year_columns]].melt(id_vars=entity, var_name="column", value_name="text",
                                                    ignore_index=False)
        block["row"] = rows.reindex(block.index).to_numpy()
        block = block.reset_index(drop=True)
        parts.append(pd.DataFrame({
            "entity": block[entity].str.strip(), "year": block["column"].map(year_columns).astype(float),
            "indicator": indicator,
            "value": parse_numbers(block["text"], path, block["column"], block["row"]),
            "unit": "", "source": spec.get("source", path.name), "flag": "", "source_row": block["row"]}))
    tidy = pd.concat(parts, ignore_index=True)
    return tidy[tidy["value"].notna()]


READERS = {"long": read_long, "wide_by_year": read_wide_by_year}


def read_data_file(study: Study, spec: dict) -> tuple[pd.DataFrame, dict]:
    """Read one raw file of the study; returns the tidy rows and the file's verified source record."""
    path = study.raw_folder / spec["file"]
    record = read_source_record(path)
    layout = spec.get("format", "long")
    if layout not in READERS:
        raise InputError("unknown raw-data format", file=study.folder / "study.yaml", column="data.format",
                         value=layout, expected=f"one of {sorted(READERS)}")
    tidy = READERS[layout](path, spec)
    tidy["source_file"] = path.name
    if record.get("illustrative"):
        tidy["flag"] = tidy["flag"].replace("", "illustrative")
    return tidy, {"file": path.name, "spec": spec, **record}


def check_tidy(tidy: pd.DataFrame, study: Study, edition: int) -> None:
    """Refuse the combined table on the first structural problem, naming the file and row."""
    def fail(problem, rows, column, expected):
        first = tidy.loc[rows].iloc[0]
        raise InputError(problem, file=first["source_file"], row=int(first["source_row"]), column=column,
                         value=first[column], expected=expected)

    unknown = ~tidy["indicator"].isin(study.framework.indicators + list(study.denominators))
    if unknown.any():
        fail("indicator code not in the framework (nor a declared denominator)", unknown, "indicator",
             f"one of the {len(study.framework.indicators)} framework codes")
    outside = ~tidy["year"].between(study.first_year, max(edition, study.last_year))
    if outside.any():
        fail("year outside the study range", outside, "year", f"{study.first_year}..{max(edition, study.last_year)}")
    whole = tidy["year"] == tidy["year"].round()
    if not whole.all():
        fail("year is not a whole number", ~whole, "year", "a year such as 2018")
    duplicated = tidy.duplicated(["entity", "year", "indicator"], keep=False)
    if duplicated.any():
        fail("the same entity, year and indicator appear more than once", duplicated, "indicator",
             "one value per entity-year-indicator")
    absent = sorted(set(study.framework.indicators) - set(tidy["indicator"]))
    if absent:
        raise InputError("framework indicators have no data in any raw file", file=study.framework.source,
                         value=absent, expected="at least one value for every indicator")


def ingest(study: Study, edition: int) -> tuple[pd.DataFrame, list[dict]]:
    """All raw files of a study as one checked tidy table, plus their source records.

    Edition ``edition`` uses the years up to and including ``edition``; later years stay out of it.
    """
    parts, records = [], []
    for spec in study.config["data"]:
        tidy, record = read_data_file(study, spec)
        parts.append(tidy)
        records.append(record)
    tidy = pd.concat(parts, ignore_index=True)
    check_tidy(tidy, study, edition)
    tidy["year"] = tidy["year"].astype(int)
    tidy = tidy[tidy["year"] <= edition]
    units = {**study.framework.table["unit"].to_dict(), **{c: d.get("unit", "") for c, d in study.denominators.items()}}
    tidy["unit"] = tidy["unit"].replace("", np.nan).fillna(tidy["indicator"].map(units))
    return tidy[TIDY_COLUMNS].sort_values(["entity", "year", "indicator"], ignore_index=True), records


def read_references(study: Study) -> pd.DataFrame:
    """Published values the study is compared with (``references:`` in study.yaml), long format.

    Columns: entity, year, code, value, source, rule. ``rule`` is ``exact:<decimals>`` when the study must
    reproduce the value, ``context`` when it is only shown beside the result.
    """
    frames = []
    for spec in study.config.get("references", []):
        path = study.raw_folder / spec["file"]
        read_source_record(path)
        if spec.get("format") == "wide_by_year":
            tidy = read_wide_by_year(path, spec).rename(columns={"indicator": "code"})
            frame = tidy[["entity", "year", "code", "value"]].assign(source=path.name)
            frame["year"] = frame["year"].astype(int)
        else:
            table = read_table(path, spec)
            if spec.get("only"):
                table = table[table[spec["index_column"]] == spec["only"]]
            mapped = table[spec["filter_column"]].map(spec["codes"]) if spec.get("filter_column") else None
            table = table[mapped.notna()] if mapped is not None else table
            frame = pd.DataFrame({"entity": spec.get("entity", ""), "year": table[spec["year_column"]],
                                  "code": mapped[mapped.notna()], "value": pd.to_numeric(table[spec["value_column"]],
                                                                                       errors="coerce"),
                                  "source": table.get(spec.get("source_column"), path.name),
                                  "note": table.get(spec.get("note_column"), "")})
        frame["rule"] = spec.get("rule", "context")
        frames.append(frame)
    columns = ["entity", "year", "code", "value", "source", "rule", "note"]
    return pd.concat(frames, ignore_index=True).reindex(columns=columns) if frames else pd.DataFrame(columns=columns)


def sources_table(records: list[dict]) -> pd.DataFrame:
    """One row per raw file: what it is, who published it, where from, licence and checksum."""
    columns = ["file", "title", "publisher", "url", "retrieved", "licence", "illustrative", "sha256"]
    table = pd.DataFrame(records).reindex(columns=columns)
    table["sha256"] = table["sha256"].str[:16] + "…"
    return table


def summary(tidy: pd.DataFrame) -> pd.DataFrame:
    """What each raw file contributed: rows, entities, indicators, years and how many values are illustrative."""
    def describe(group: pd.DataFrame) -> pd.Series:
        return pd.Series({"values": len(group), "entities": group["entity"].nunique(),
                          "indicators": group["indicator"].nunique(),
                          "years": f"{group['year'].min()}–{group['year'].max()}",
                          "illustrative": int(group["flag"].str.contains("illustrative").sum()),
                          "public": int(group["flag"].str.contains("public").sum())})
    return tidy.groupby("source_file").apply(describe, include_groups=False)
