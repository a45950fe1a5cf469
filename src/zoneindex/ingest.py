"""Ingest: read the raw files of a study into one tidy long table, checked and with provenance.

Each entry under ``data:`` in study.yaml names a raw file in ``data/raw/<study>/`` and its layout:
``long`` (one row per entity-year-indicator) or ``wide_by_year`` (one row per entity, columns named
``<variable>_<year>``, as in UNDP's HDR files). CSV (UTF-8 unless ``encoding:`` says otherwise) and Excel
``.xlsx`` (``sheet:``) are both read. The output is ``entity, year, indicator, value, unit, source, flag,
source_file, source_row``.

Nothing in a raw file is repaired silently. Ingest stops with an ``InputError`` naming the file, sheet,
spreadsheet row (the header is row 1), column and value, and saying what was expected, when: a file has
no valid source record, is empty, is not in its declared encoding, or lacks the sheet named; the header
has blank, merged, duplicated or missing column names; a row has more cells than the header; an entity,
year or indicator cell is blank; a value is not a plain number (text, a thousands separator, full-width
digits, a unit in the cell); an indicator code is not in the framework; a year is outside the study or
not whole; an entity-year-indicator appears twice; a value is below the indicator's minimum (counts are
never negative); or a framework indicator has no data at all. The only tidying is harmless: spaces around
a cell and a UTF-8 byte-order mark are dropped, and fully blank rows are skipped.
Reading a file as a table of text, with the refusals that go with it, is ``rawfiles``; the new-year
data-entry workbook is ``entry``.

A raw file that holds more than the study uses (a yearbook table with many variables, a national total,
earlier years) declares which rows it reads, and every other row is left out on purpose and counted in
the file's row of ``sources_table`` (see ``select_rows``): ``indicators: {raw_code: framework_code}`` (or a
list of codes) keeps and renames the chosen series, ``exclude_entities`` (a regular expression matched at
the start of the name, or a list of exact names) leaves out totals and aggregates, and ``keep_years:
{first: …, last: …}`` leaves out years the study does not cover.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from zoneindex import entry
from zoneindex.errors import InputError
from zoneindex.framework import Framework
from zoneindex.provenance import read_source_record, record_path
from zoneindex.rawfiles import NOTE_COLUMNS, noting, parse_numbers, read_table, require_cells, require_columns
from zoneindex.schema import did_you_mean
from zoneindex.study import Study, read_entity_names
from zoneindex.typedcells import unit_kind

TIDY_COLUMNS = ["entity", "year", "indicator", "value", "unit", "source", "flag", "source_file", "source_row",
                "data_year"]


# --- layouts -----------------------------------------------------------------------------------------

def read_long(path: Path, spec: dict) -> pd.DataFrame:
    table, place = read_table(path, spec)
    names = {key: key for key in ("entity", "year", "indicator", "value", "unit", "source", "status")}
    names.update(spec.get("columns", {}))
    require_columns(table, [names[k] for k in ("entity", "year", "indicator", "value", "data_year") if names.get(k)],
                    place)
    require_cells(table, [names[k] for k in ("entity", "year", "indicator")], place)
    rows = pd.Series(table.index, index=table.index)
    return pd.DataFrame({
        "entity": table[names["entity"]],
        "year": parse_numbers(table[names["year"]], rows, names["year"], place),
        "indicator": table[names["indicator"]],
        "value": parse_numbers(table[names["value"]], rows, names["value"], place),
        "unit": table[names["unit"]] if names.get("unit") in table else "",
        "source": table[names["source"]] if names.get("source") in table else spec.get("source", path.name),
        "flag": table[names["status"]].map(lambda s: s if s in ("illustrative", "public") else "")
        if names.get("status") in table else "",
        "source_file": path.name, "source_sheet": place.sheet or "", "source_row": rows,
        **({"data_year": parse_numbers(table[names["data_year"]], rows, names["data_year"], place)}
           if names.get("data_year") else {}),
    })


def read_wide_by_year(path: Path, spec: dict) -> pd.DataFrame:
    table, place = read_table(path, spec)
    entity = spec["entity"]
    require_columns(table, [entity], place)
    require_cells(table, [entity], place)
    if spec.get("exclude_entities"):
        table = table[~table[entity].str.match(spec["exclude_entities"])]
    parts = []
    for indicator, prefix in spec["variables"].items():
        pattern = re.compile(rf"^{re.escape(prefix)}_(\d{{4}})$")
        year_columns = {c: int(m.group(1)) for c in table.columns if (m := pattern.match(c))}
        if not year_columns:
            raise place.error(f"no columns named {prefix}_<year>", row=1, expected=f"{prefix}_1990 …")
        block = table[[entity, *year_columns]].melt(id_vars=entity, var_name="column", value_name="text",
                                                    ignore_index=False)
        block["row"] = block.index  # the spreadsheet row the cell came from
        block = block.reset_index(drop=True)
        parts.append(pd.DataFrame({
            "entity": block[entity], "year": block["column"].map(year_columns).astype(float),
            "indicator": indicator,
            "value": parse_numbers(block["text"], block["row"], block["column"], place),
            "unit": "", "source": spec.get("source", path.name), "flag": "", "source_file": path.name,
            "source_sheet": place.sheet or "", "source_row": block["row"]}))
    tidy = pd.concat(parts, ignore_index=True)
    return tidy[tidy["value"].notna()]


def read_wide(path: Path, spec: dict) -> pd.DataFrame:
    """COINr's iData layout: one row per entity (and year), one column per indicator or denominator.

    Columns named in the spec (``entity``, ``entity_name``, ``year``, ``groups``) describe the entity;
    every other column is read as an indicator, so an unexpected column is refused by the later checks.
    """
    table, place = read_table(path, spec)
    entity, year = spec["entity"], spec.get("year")
    described = [entity, spec.get("entity_name"), year, *spec.get("groups", [])]
    require_columns(table, [c for c in described if c], place)
    require_cells(table, [c for c in (entity, year) if c], place)
    values = [c for c in table.columns if c not in described and not c.startswith("_")]
    if spec.get("indicators"):  # only the chosen columns are read: notes or colour codes beside them are left out
        values = [c for c in values if c in {str(k) for k in spec["indicators"]}]
    block = table[[entity, *([year] if year else []), *values]].melt(
        id_vars=[entity, *([year] if year else [])], var_name="indicator", value_name="text", ignore_index=False)
    block["row"] = block.index  # the spreadsheet row the cell came from
    block = block.reset_index(drop=True)
    years = parse_numbers(block[year], block["row"], year, place) if year else float(spec["fixed_year"])
    tidy = pd.DataFrame({
        "entity": block[entity], "year": years, "indicator": block["indicator"],
        "value": parse_numbers(block["text"], block["row"], block["indicator"], place),
        "unit": "", "source": spec.get("source", path.name), "flag": "", "source_file": path.name,
        "source_sheet": place.sheet or "", "source_row": block["row"]})
    return tidy[tidy["value"].notna()]


READERS = {"long": read_long, "wide_by_year": read_wide_by_year, "wide": read_wide}


def read_entities(study: Study) -> pd.DataFrame | None:
    """Entity attributes declared in the data specs (display name, group columns such as EurAsia_group).

    One row per entity; ``None`` when no raw file describes its entities. Used by imputation within groups.
    """
    frames = []
    for spec in study.config["data"]:
        columns = [c for c in [spec.get("entity_name"), *spec.get("groups", [])] if c]
        if not columns:
            continue
        table, place = read_table(study.raw_folder / spec["file"], spec)
        require_columns(table, [spec["entity"], *columns], place)
        frame = table[[spec["entity"], *columns]].rename(columns={spec["entity"]: "entity",
                                                                  spec.get("entity_name") or "": "name"})
        frames.append(frame.drop_duplicates("entity"))
    if not frames:
        return None
    return pd.concat(frames, ignore_index=True).drop_duplicates("entity").sort_values("entity", ignore_index=True)


SELECTION_KEYS = ("indicators", "exclude_entities", "keep_years")


def _spec_error(study_yaml: Path, spec: dict, key: str, value, expected: str) -> InputError:
    return InputError(f"malformed row selection for {spec['file']}", file=study_yaml, column=f"data.{key}",
                      value=value, expected=expected)


def select_rows(tidy: pd.DataFrame, spec: dict, study_yaml: Path, layout: str = "long") -> tuple[pd.DataFrame, dict]:
    """Keep the rows a data spec declares and rename their indicator codes; count every row left out.

    In order: ``indicators: {raw_code: code}`` keeps only the chosen series; ``exclude_entities`` leaves
    out entities whose name matches (a regular expression matched at the start of the name, or a list of
    exact names); ``keep_years: {first, last}`` leaves out years outside the bounds given; then the chosen
    codes are renamed (a raw code may feed several framework codes, given as a list, e.g. a numerator that
    is also an indicator of its own). Nothing else is dropped; the counts (rows read = rows kept + rows
    left out, for each reason; values kept after renaming) are shown in ``sources_table``. A declared raw code that the file does not hold is refused (a misspelt code
    would otherwise leave its indicator silently empty); codes after renaming are checked by ``check_tidy``.
    """
    counts = {"rows read": len(tidy)}
    mapping = spec.get("indicators")
    if mapping is not None:
        if not isinstance(mapping, dict) or not mapping or not all(
                isinstance(v, str) or (isinstance(v, list) and v and all(isinstance(c, str) for c in v))
                for v in mapping.values()):
            raise _spec_error(study_yaml, spec, "indicators", mapping,
                              "a mapping {raw_code: framework_code} (or raw_code: [code, code])")
        raw_codes = {str(k) for k in mapping}
        absent = sorted(raw_codes - set(tidy["indicator"].astype(str)))
        if absent:
            raise InputError("indicator codes declared under indicators: are not in the file",
                             file=spec["file"], column=(spec.get("columns") or {}).get("indicator", "indicator"),
                             value=absent,
                             expected=f"codes of the file, such as {sorted(set(tidy['indicator']))[:8]}")
        chosen = tidy["indicator"].astype(str).isin(raw_codes)
        counts["left out: indicator not chosen"] = int((~chosen).sum())
        tidy = tidy[chosen]
    excluded = spec.get("exclude_entities")
    if excluded is not None and layout != "wide_by_year":  # wide_by_year leaves them out while reading
        names = tidy["entity"].astype(str)
        if isinstance(excluded, str):
            try:
                out = names.str.match(excluded)
            except re.error as bad:
                raise _spec_error(study_yaml, spec, "exclude_entities", excluded,
                                  f"a regular expression ({bad})") from None
        elif isinstance(excluded, list) and all(isinstance(n, str) for n in excluded):
            out = names.isin(excluded)
        else:
            raise _spec_error(study_yaml, spec, "exclude_entities", excluded,
                              "a regular expression or a list of entity names")
        counts["left out: entity excluded"] = int(out.sum())
        counts["entities excluded"] = ", ".join(sorted(names[out].unique()))
        tidy = tidy[~out]
    years = spec.get("keep_years")
    if years is not None:
        if not isinstance(years, dict) or not set(years) <= {"first", "last"} or not all(
                isinstance(v, int) for v in years.values()):
            raise _spec_error(study_yaml, spec, "keep_years", years, "{first: year, last: year} (either may be left out)")
        inside = tidy["year"].between(years.get("first", -np.inf), years.get("last", np.inf))
        counts["left out: year outside keep_years"] = int((~inside).sum())
        tidy = tidy[inside]
    counts["rows kept"] = len(tidy)
    if mapping is not None:  # rename; a raw row that feeds several codes gives one value per code
        tidy = tidy.assign(indicator=tidy["indicator"].astype(str).map(
            {str(k): (v if isinstance(v, list) else [v]) for k, v in mapping.items()})).explode("indicator")
        counts["values kept"] = len(tidy)
    return tidy.reset_index(drop=True), counts


def raw_path(study: Study, spec: dict) -> Path:
    """The raw file a data or reference entry names, refused with the nearest file name when it is not there."""
    path = study.raw_folder / spec["file"]
    if not path.exists():
        present = sorted(p.name for p in study.raw_folder.glob("*") if not p.name.endswith(".source.yaml")) \
            if study.raw_folder.exists() else []
        near = did_you_mean(spec["file"], present)
        raise InputError("raw file not found" + (f" (did you mean {near!r}?)" if near else ""),
                         file=study.folder / "study.yaml", column="data.file", value=spec["file"],
                         expected=f"a file in data/raw/{study.name}/: {present[:10]}")
    return path


def read_data_file(study: Study, spec: dict) -> tuple[pd.DataFrame, dict]:
    """Read one raw file of the study; returns the tidy rows and the file's verified source record."""
    path = raw_path(study, spec)
    record = read_source_record(path)
    layout = spec.get("format", "long")
    if layout not in READERS:
        raise InputError("unknown raw-data format", file=study.folder / "study.yaml", column="data.format",
                         value=layout, expected=f"one of {sorted(READERS)}")
    tidy = READERS[layout](path, spec)
    if "data_year" not in tidy:  # the year each value refers to, beside the year it is used for
        tidy["data_year"] = tidy["year"] - int(spec.get("data_year_lag") or 0)
    selection = None
    if any(key in spec for key in SELECTION_KEYS):
        tidy, selection = select_rows(tidy, spec, study.folder / "study.yaml", layout)
    if record.get("illustrative"):
        tidy["flag"] = tidy["flag"].replace("", "illustrative")
    return tidy, {"file": path.name, "spec": spec, **record, **({"selection": selection} if selection else {})}


def value_bounds(study: Study) -> pd.DataFrame:
    """The range each raw series may take, and why: the framework's ``min_value`` and ``max_value``, else 0 for
    a count and 0..1 for a share (0-1) read as such; above, for a method that needs them, values that are not
    negative (the ratio to the base year and chained growth divide by them)."""
    framework, units = study.framework, study.raw_units()
    table = framework.table.loc[framework.indicators]
    column = lambda name: pd.to_numeric(table.get(name, pd.Series(np.nan, index=table.index)), errors="coerce")  # noqa: E731
    low, high = column("min_value"), column("max_value")
    raw = pd.Series({code: units.get(code, "") for code in table.index})
    count, share = (raw == "count") & low.isna(), raw.map(unit_kind).eq("share")
    reason_low = np.where(count, "unit 'count': a count cannot be negative",
                          np.where(share & low.isna(), "a share (0-1)", "min_value of the framework"))
    low = low.mask(count | (share & low.isna()), 0.0)
    reason_high = np.where(share & high.isna(), "a share (0-1)", "max_value of the framework")
    high = high.mask(share & high.isna(), 1.0)
    spec = study.methods["normalisation"]
    if spec["method"] == "chained_growth" or (spec["method"] == "ratio_to_base" and spec.get("zero_base", "error")
                                                                                 == "error"):
        method = f"methods.normalisation {spec['method']} divides by the values, so they cannot be negative"
        passed = table.get("normalisation", pd.Series("", index=table.index)).astype(str).str.strip().eq("none")
        negative_ok = low.isna() & ~passed
        low, reason_low = low.mask(negative_ok, 0.0), np.where(negative_ok, method, reason_low)
    return pd.DataFrame({"minimum": low, "reason": reason_low, "maximum": high, "reason_high": reason_high},
                        index=table.index)


def check_tidy(tidy: pd.DataFrame, study: Study, edition: int) -> None:
    """Refuse the combined table on the first problem across rows, naming the file, sheet and row."""
    def fail(problem, rows, column, expected):
        first = tidy.loc[rows].iloc[0]
        value = first[column].item() if isinstance(first[column], np.generic) else first[column]  # -3.0, not np.float64
        raise InputError(problem, file=first["source_file"], sheet=first["source_sheet"] or None,
                         row=int(first["source_row"]), column=column, value=value, expected=expected)

    unknown = ~tidy["indicator"].isin(study.framework.indicators + list(study.denominators))
    if unknown.any():
        fail("indicator code not in the framework (nor a declared denominator)", unknown, "indicator",
             f"one of the {len(study.framework.indicators)} framework codes")
    outside = ~tidy["year"].between(study.first_year, max(edition, study.last_year))
    if outside.any():
        fail("year outside the study range", outside, "year", f"{study.first_year}..{max(edition, study.last_year)}")
    whole = tidy["year"] == tidy["year"].round()  # 2018.0 is a whole year, 2018.5 is not
    if not whole.all():
        fail("year is not a whole number", ~whole, "year", "a year such as 2018")
    key = ["entity", "year", "indicator"]
    duplicated = tidy.duplicated(key, keep=False)
    if duplicated.any():
        first = tidy[duplicated].iloc[0]
        again = tidy[duplicated & (tidy[key] == first[key]).all(axis=1)].iloc[1]
        where = "" if again["source_file"] == first["source_file"] else f"{again['source_file']} "
        fail(f"the same entity, year and indicator appear more than once (again in {where}row "
             f"{again['source_row']})", duplicated, "indicator", "one value per entity-year-indicator")
    bounds = value_bounds(study).reindex(tidy["indicator"]).set_index(tidy.index)
    below = tidy["value"] < bounds["minimum"]
    if below.any():
        bound = bounds[below].iloc[0]
        fail("value below the indicator's minimum", below, "value",
             f"at least {bound['minimum']:g} ({bound['reason']})")
    above = tidy["value"] > bounds["maximum"]
    if above.any():
        bound = bounds[above].iloc[0]
        fail("value above the indicator's maximum", above, "value",
             f"at most {bound['maximum']:g} ({bound['reason_high']})")
    absent = sorted(set(study.framework.indicators) - set(tidy["indicator"]))
    if absent:
        raise InputError("framework indicators have no data in any raw file", file=study.framework.source,
                         value=absent, expected="at least one value for every indicator")


def entity_names(study: Study) -> dict[str, str]:
    """Every name an entity may be written with -> the entity: the entity-name table's spellings and the
    entities' display names (``entity_name`` of a wide file)."""
    names = {}
    entities = read_entities(study)
    if entities is not None and "name" in entities:
        names.update({str(n): str(e) for n, e in zip(entities["name"], entities["entity"]) if pd.notna(n)})
    table = read_entity_names(study)
    if table is not None:
        names.update(dict(zip(table["raw"].astype(str), table["entity"].astype(str))))
    return names


def read_entry_file(study: Study, workbook: dict) -> tuple[entry.EntryRead, dict]:
    """One data-entry workbook, read and checked on its own, with its source record (or, for a new workbook,
    the record its about sheet will give: it is written once the whole ingest has passed)."""
    path = study.raw_folder / workbook["file"]
    if record_path(path).exists():
        try:
            record = read_source_record(path)
        except InputError as error:
            if "changed since" not in error.problem:
                raise
            raise InputError(f"{error.problem.split(' (')[0]}: {entry.immutable_advice(path)}", file=path,
                             value=error.value, expected=error.expected) from None
    else:
        about = entry.read_entry_about(path)
        record = {**{name: about[name] for name in entry.ABOUT_FIELDS}, "illustrative": False, "new": True}
    year = workbook.get("year") or int(entry.read_entry_about(path).get("year") or 0)
    read = entry.read_entry(path, study, year, workbook.get("revision", 1))
    extra = {key: workbook[key] for key in ("superseded_by",) if workbook.get(key)}
    return read, {"file": path.name, "spec": workbook, **record, **extra}


def ingest(study: Study, edition: int) -> tuple[pd.DataFrame, list[dict]]:
    """All raw files of a study as one checked tidy table, plus their source records.

    Edition ``edition`` uses the years up to and including ``edition``; later years stay out of it. The
    data-entry workbooks (``zoneindex.entry``) are applied last, year by year; each record carries the
    reading notes of its file (``reading_notes``) and, for a workbook, the cells it revised
    (``data_revisions``).
    """
    parts, records, reads = [], [], {}
    listed = [spec for spec in study.config["data"] if spec.get("format") == "entry"]
    specs = [*({**spec, "supersedes": []} for spec in listed),
             *(spec for spec in entry.entry_specs(study, edition) if spec["file"] not in {s["file"] for s in listed})]
    with noting() as notes:
        for spec in study.config["data"]:
            if spec.get("format") != "entry":
                tidy, record = read_data_file(study, spec)
                parts.append(tidy)
                records.append(record)
        for workbook in specs:
            reads[workbook["file"]], record = read_entry_file(study, workbook)
            records.append(record)
        entries = [(reads[s["file"]], [reads[f] for f in s["supersedes"]]) for s in specs if "supersedes" in s
                   and reads[s["file"]].year <= edition]
        tidy = pd.concat(parts, ignore_index=True)
        tidy, revised = entry.apply_entries(tidy, entries, study, entity_names(study) if entries else {})
        check_tidy(tidy, study, edition)
    for record in records:
        record["notes"] = [note for note in notes if note["file"] == record["file"]]
        record["revisions"] = [cell for cell in revised if cell["file"] == record["file"]]
        if record.pop("new", False):  # a new workbook passed: from now on it is immutable
            entry.register_entry(study.raw_folder / record["file"])
            record.update(read_source_record(study.raw_folder / record["file"]))
    tidy["year"] = tidy["year"].astype(int)
    tidy = tidy[tidy["year"] <= edition]
    tidy["unit"] = tidy["unit"].replace("", np.nan).fillna(tidy["indicator"].map(study.raw_units()))
    return tidy[TIDY_COLUMNS].sort_values(["entity", "year", "indicator"], ignore_index=True), records


REVISION_COLUMNS = ["entity", "year", "indicator", "previous", "revised", "file", "sheet", "row", "column", "how"]


def reading_notes(records: list[dict]) -> pd.DataFrame:
    """How cells and files were read other than as they stand (a semicolon CSV, 12.5亿元 in an 亿元 row …)."""
    return pd.DataFrame([note for record in records for note in record.get("notes", [])], columns=NOTE_COLUMNS)


def data_revisions(records: list[dict]) -> pd.DataFrame:
    """The cells this ingest revised: by a correction workbook, or typed over in a history column."""
    return pd.DataFrame([cell for record in records for cell in record.get("revisions", [])],
                        columns=REVISION_COLUMNS)


FAR = 9999


def newest_year_with_data(study: Study) -> int:
    """The newest year that has data: the study's years and those of its data-entry workbooks. What
    ``--year latest`` (and a notebook's ``year = 0``) means."""
    edition = max([study.last_year, *entry.entry_years(study)])
    tidy, _ = ingest(study, edition)
    return int(tidy["year"].max())


def require_year_data(tidy: pd.DataFrame, study: Study, edition: int) -> None:
    """Refuse an edition for which no indicator has a value in its own year."""
    indicators = tidy["indicator"].isin(study.framework.indicators) & tidy["value"].notna()
    if not (indicators & (tidy["year"] == edition)).any():
        newest = int(tidy.loc[indicators, "year"].max()) if indicators.any() else None
        raise InputError(f"no indicator has a value for {edition}" + (f" (the newest year with data is {newest})"
                                                                     if newest else ""),
                         expected=f"an edition year that has data, or the year's data added first: zoneindex "
                                  f"new-year --study {study.name} --year {edition}")


def read_references(study: Study) -> pd.DataFrame:
    """Published values the study is compared with (``references:`` in study.yaml), long format.

    Columns: entity, year, code, value, source, rule, decimals, rounding, tolerance, note. ``rule`` is
    ``match`` when the study must reproduce the value (ours rounded to ``decimals`` by ``rounding``, within
    ``tolerance``; ``exact:<decimals>`` in study.yaml is the shorthand for half-even rounding and no
    tolerance), ``context`` when it is only shown beside the result.
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
            table, _ = read_table(path, spec)
            if spec.get("only"):
                table = table[table[spec["index_column"]] == spec["only"]]
            mapped = table[spec["filter_column"]].map(spec["codes"]) if spec.get("filter_column") else None
            table = table[mapped.notna()] if mapped is not None else table
            frame = pd.DataFrame({"entity": spec.get("entity", ""), "year": table[spec["year_column"]],
                                  "code": mapped[mapped.notna()], "value": pd.to_numeric(table[spec["value_column"]],
                                                                                       errors="coerce"),
                                  "source": table.get(spec.get("source_column"), path.name),
                                  "note": table.get(spec.get("note_column"), "")})
        rule = spec.get("rule", "context")
        frame["rule"] = "match" if rule.startswith("exact:") else rule
        frame["decimals"] = int(rule.split(":")[1]) if rule.startswith("exact:") else spec.get("decimals")
        frame["rounding"] = spec.get("rounding", "half_even")
        frame["tolerance"] = float(spec.get("tolerance", 0.0))
        frames.append(frame)
    columns = ["entity", "year", "code", "value", "source", "rule", "decimals", "rounding", "tolerance", "note"]
    return pd.concat(frames, ignore_index=True).reindex(columns=columns) if frames else pd.DataFrame(columns=columns)


def sources_table(records: list[dict]) -> pd.DataFrame:
    """One row per raw file: what it is, who published it, where from, licence and checksum."""
    columns = ["file", "title", "publisher", "url", "retrieved", "licence", "illustrative", "sha256"]
    columns += ["superseded_by"] if any(record.get("superseded_by") for record in records) else []
    table = pd.DataFrame(records).reindex(columns=columns)
    table["sha256"] = table["sha256"].str[:16] + "…"
    selections = [record.get("selection") for record in records]
    if any(selections):  # files that declare which rows they read: what was kept and what was left out
        counts = pd.DataFrame([selection or {} for selection in selections], index=table.index)
        numbers = [c for c in counts if c != "entities excluded"]
        counts[numbers] = counts[numbers].astype("Int64")
        table = pd.concat([table, counts], axis=1)
    return table


def summary(tidy: pd.DataFrame) -> pd.DataFrame:
    """What each raw file contributed: rows, entities, indicators, years and how many values are illustrative."""
    def describe(group: pd.DataFrame) -> pd.Series:
        return pd.Series({"values": len(group), "entities": group["entity"].nunique(),
                          "indicators": group["indicator"].nunique(),
                          "years": f"{group['year'].min()}–{group['year'].max()}",
                          **({"data years": f"{int(group['data_year'].min())}–{int(group['data_year'].max())}"}
                             if "data_year" in group and (group["data_year"] != group["year"]).any() else {}),
                          "illustrative": int(group["flag"].str.contains("illustrative").sum()),
                          "public": int(group["flag"].str.contains("public").sum())})
    return tidy.groupby("source_file").apply(describe, include_groups=False)
