"""The data-entry workbook ``entry_<study>_<year>.xlsx`` (or ``.ods``, ``.xls``): its names, and reading it back.

``zoneindex new-year`` writes it (``zoneindex.newyear``): sheet ``data`` with one row per entity and series
(an indicator, a denominator, or one raw series that feeds several indicators) in the unit the series is
read in, the previous years for context in grey ``value_<year>`` columns, a ``value`` column to fill, a
``source`` and a ``note`` column; sheet ``about`` for the source record; ``instructions``; and a hidden
sheet ``written`` with the history as written, so that a changed history cell is told from an untouched one.

A filled workbook saved into ``data/raw/<study>/`` is read by ingest without being listed in study.yaml (up
to the edition year). Its first run writes its source record from the ``about`` sheet; from then on it is
immutable like every raw file. **Corrections and revisions:**

* a correction of a submitted workbook is a new file beside it, ``entry_<study>_<year>.r2.xlsx`` (then
  ``.r3`` …): the highest revision is read, the older ones stay, with their source records, and every cell
  the correction changes is listed (``data_revisions``);
* a value typed over an earlier year's value in a history column is a revision of that year: it replaces
  the value it differs from, and is listed the same way.

Any other file whose name starts like an entry workbook is refused by name, with the names and formats
read. A typed value is read as ``zoneindex.typedcells`` says (kindly where there is one reading, with a
note). A new value more than a declared factor (``entry.jump_factor`` in study.yaml or the framework column
``jump_factor``; 10 by default) away from the entity's own latest value is refused with its cell unless its
row's ``note`` says ``confirmed``; a value outside the indicator's range is refused by ingest's bounds.
"""
from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from openpyxl.utils import get_column_letter

from zoneindex.errors import InputError
from zoneindex.provenance import write_source_record
from zoneindex.rawfiles import SPREADSHEET_FORMATS, add_note, cell_details, cell_text, open_workbook
from zoneindex.schema import did_you_mean
from zoneindex.study import Study
from zoneindex.typedcells import TypedValueError, read_code, read_typed

ENTRY_PREFIX = "entry_"
SUFFIXES = (".xlsx", ".ods", ".xls")
NAME = re.compile(r"entry_(?P<study>.+)_(?P<year>\d{4})(?:\.r(?P<revision>\d+))?(?P<suffix>\.[A-Za-z0-9]+)")
LOOKS_LIKE = re.compile(r"entry[_\- ]", re.IGNORECASE)
DATA, ABOUT, INSTRUCTIONS, WRITTEN = "data", "about", "instructions", "written"
ABOUT_FIELDS = ("title", "publisher", "url", "retrieved", "licence")
CONFIRMED = re.compile(r"confirm|确认|核实|核对", re.IGNORECASE)
DEFAULT_JUMP = 10.0
REL_TOL = 1e-9  # LibreOffice keeps 15 significant digits: what differs less is the same value


def entry_file_name(study: str, year: int, revision: int = 1, suffix: str = ".xlsx") -> str:
    return f"{ENTRY_PREFIX}{study}_{year}{f'.r{revision}' if revision > 1 else ''}{suffix}"


def same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))


# --- which files are entry workbooks ---------------------------------------------------------------

@dataclass(frozen=True)
class EntryFile:
    path: Path
    year: int
    revision: int


def entry_files(study: Study) -> list[EntryFile]:
    """Every data-entry workbook in the study's raw folder, by year and revision. A file that looks like one
    (``entry_*``) but is misnamed, of another format or of another study is refused by name."""
    folder, found = study.raw_folder, {}
    if not folder.exists():
        return []
    for path in sorted(folder.iterdir()):
        if path.name.endswith(".source.yaml") or not LOOKS_LIKE.match(path.name) or not path.is_file():
            continue
        match = NAME.fullmatch(path.name)
        expected = (f"entry_{study.name}_<year>.xlsx (or .ods, .xls; a correction entry_{study.name}_<year>.r2.xlsx) "
                    f"in data/raw/{study.name}/")
        if match and match["suffix"].lower() not in SUFFIXES:
            raise InputError(f"a data-entry workbook saved as {match['suffix']} is not read: entry workbooks are "
                             f"read as {SPREADSHEET_FORMATS}", file=path, expected=expected)
        if match and match["study"] != study.name:
            raise InputError(f"this data-entry workbook names the study {match['study']!r}, but it is in the raw "
                             f"folder of {study.name!r}", file=path, expected=expected)
        if not match or match["suffix"] not in SUFFIXES:
            raise InputError("file looks like a data-entry workbook but its name is not "
                             f"entry_{study.name}_<year>[.r<N>].xlsx|.ods|.xls, so it would not be read",
                             file=path, expected=expected)
        entry = EntryFile(path, int(match["year"]), int(match["revision"] or 1))
        if (entry.year, entry.revision) in found:
            raise InputError(f"two data-entry workbooks for {entry.year} revision {entry.revision}: "
                             f"{found[entry.year, entry.revision].path.name} and {path.name}", file=path,
                             expected="one file per year and revision (a correction is the next revision: "
                                      f"{entry_file_name(study.name, entry.year, entry.revision + 1)})")
        found[entry.year, entry.revision] = entry
    return [found[key] for key in sorted(found)]


def entry_specs(study: Study, edition: int) -> list[dict]:
    """The data specs of the entry workbooks up to the edition year (later years belong to later editions):
    per year the highest revision, and the files it supersedes (``superseded_by``: read for their record
    and the cells the correction changes, never for data)."""
    by_year: dict[int, list[EntryFile]] = {}
    for entry in entry_files(study):
        if entry.year <= edition:
            by_year.setdefault(entry.year, []).append(entry)
    specs = []
    for year, files in sorted(by_year.items()):
        latest = files[-1]
        for old in files[:-1]:
            specs.append({"file": old.path.name, "format": "entry", "year": year, "revision": old.revision,
                          "superseded_by": latest.path.name})
        specs.append({"file": latest.path.name, "format": "entry", "year": year, "revision": latest.revision,
                      "supersedes": [old.path.name for old in files[:-1]]})
    return specs


def entry_years(study: Study) -> list[int]:
    return sorted({entry.year for entry in entry_files(study)})


# --- the about sheet and the source record -----------------------------------------------------------

def about_value(value) -> str:
    """A cell of the about sheet as text: a date as its ISO date (2025-03-15, not 2025-03-15 00:00:00)."""
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date().isoformat()
    return (cell_text(value) or "").strip()


def read_entry_about(path: Path) -> dict:
    """The 'about' sheet of a filled entry workbook as a dict, with every source-record field present."""
    book, _ = open_workbook(path)
    if ABOUT not in book.sheet_names:
        raise InputError("entry workbook has no 'about' sheet", file=path, expected=f"sheets {book.sheet_names}")
    rows = book.get_sheet_by_name(ABOUT).to_python(skip_empty_area=False)
    fields = {about_value(row[0]): about_value(row[1]) if len(row) > 1 else "" for row in rows[1:] if row and
              about_value(row[0])}
    for i, name in enumerate(ABOUT_FIELDS, start=2):
        if not fields.get(name):
            raise InputError("source field left empty", file=path, sheet=ABOUT, row=i, column="value", value=name,
                             expected=f"the {name} of the data")
    return fields


def register_entry(path: Path) -> None:
    """Write the source record of a new data-entry workbook from its 'about' sheet. From now on the
    workbook is an immutable raw file like any other: a correction is a new file."""
    about = read_entry_about(path)
    write_source_record(path, **{name: about[name] for name in ABOUT_FIELDS}, illustrative=False,
                        description=f"data-entry workbook for {about.get('study')} {about.get('year')}, "
                                    "filled by a researcher; each value's own source is in its 'source' cell")


def immutable_advice(path: Path) -> str:
    match = NAME.fullmatch(path.name)
    revision = int(match["revision"] or 1) + 1 if match else 2
    later = entry_file_name(match["study"], int(match["year"]), revision, match["suffix"]) if match else "a new file"
    return (f"a submitted data-entry workbook is immutable: put the original back (its sha256 is in "
            f"{path.name}.source.yaml) and save the corrected workbook beside it as {later}")


# --- the series of a workbook ------------------------------------------------------------------------

def entry_series(study: Study) -> dict[str, list[str]]:
    """Each series a workbook row is typed for -> the codes it feeds: an indicator, a denominator, or one raw
    series that a data spec feeds into several codes (``indicators: {raw: [NPEXP, NPEXP_SH]}``), typed once."""
    fed: dict[str, list[str]] = {}
    for spec in study.config["data"]:
        for codes in (spec.get("indicators") or {}).values():
            if isinstance(codes, list) and len(codes) > 1:
                fed.setdefault(codes[0], list(codes))
    covered = {code for codes in fed.values() for code in codes[1:]}
    return {code: fed.get(code, [code]) for code in [*study.framework.indicators, *study.denominators]
            if code not in covered}


def series_name(study: Study, code: str, lang: str = "en") -> str:
    if code in study.framework.table.index:
        return study.framework.name(code, lang)
    spec = study.denominators.get(code) or {}
    return (spec.get("name_zh") if lang == "zh" else None) or spec.get("name_en") or code


# --- reading a filled workbook -----------------------------------------------------------------------

@dataclass
class EntryRead:
    """What one workbook says: its year's values (one row per code fed), the history cells that differ from
    what was written, and what it was written for."""

    path: Path
    year: int
    revision: int
    values: pd.DataFrame
    history: pd.DataFrame
    written: set = field(default_factory=set)  # (entity, series) pairs as written; empty if unknown


def _header(rows: list, path: Path) -> dict[str, int]:
    names = [cell_text(c) for c in rows[0]] if rows else []
    columns = {str(name).strip(): j for j, name in enumerate(names) if name}
    missing = [c for c in ("entity", "indicator", "value") if c not in columns]
    if missing:
        raise InputError(f"columns missing: {missing} (columns found: {list(columns)})", file=path, sheet=DATA,
                         row=1, expected="the header of the workbook as written by zoneindex new-year")
    return columns


def _check_year(path: Path, year: int, about: dict, history_years: list[int], study: Study) -> None:
    """The file name, the about sheet and the history columns must name the same year (a workbook copied
    from last year's and renamed names the old one)."""
    if about.get("study") and about["study"] != study.name:
        raise InputError(f"the about sheet names the study {about['study']!r}", file=path, sheet=ABOUT,
                         column="value", value=about["study"], expected=f"{study.name!r}, as the file name says")
    said = about.get("year", "")
    if not re.fullmatch(r"\d{4}", said) or int(said) != year:
        raise InputError(f"the file name says {year} but the about sheet says {said or 'no year'} (a copy of "
                         "another year's workbook, renamed?)", file=path, sheet=ABOUT, column="value",
                         value=said, expected=f"{year}: write this year's workbook with zoneindex new-year "
                                              f"--study {study.name} --year {year}")
    if history_years and max(history_years) != year - 1:
        raise InputError(f"the history columns end with value_{max(history_years)}, but the workbook for {year} "
                         f"shows value_{year - 1} last (a copy of another year's workbook, renamed?)", file=path,
                         sheet=DATA, row=1, value=f"value_{max(history_years)}",
                         expected=f"the workbook written by zoneindex new-year --study {study.name} --year {year}")


def _written(book, path: Path) -> tuple[dict, set]:
    """The hidden sheet 'written': the history as new-year wrote it, {(entity, series, year): value}."""
    if WRITTEN not in book.sheet_names:
        return {}, set()
    rows = book.get_sheet_by_name(WRITTEN).to_python(skip_empty_area=False)
    header = [cell_text(c) for c in rows[0]] if rows else []
    years = {j: int(name[6:]) for j, name in enumerate(header) if name and re.fullmatch(r"value_\d{4}", name)}
    values, pairs = {}, set()
    for row in rows[1:]:
        if len(row) < 2 or not cell_text(row[0]):
            continue
        key = (cell_text(row[0]), cell_text(row[1]))
        pairs.add(key)
        for j, year in years.items():
            value = row[j] if j < len(row) else ""
            values[(*key, year)] = float(value) if isinstance(value, (int, float)) and value != "" else math.nan
    return values, pairs


def read_entry(path: Path, study: Study, year: int, revision: int = 1) -> EntryRead:
    """Read a filled workbook: every cell checked, the refusals naming file, sheet, row, column and value."""
    book, kind = open_workbook(path)
    sheets = book.sheet_names
    if DATA not in sheets:
        raise InputError("entry workbook has no 'data' sheet", file=path, value=sheets,
                         expected="the sheets data, about and instructions written by zoneindex new-year")
    for extra in [s for s in sheets if s not in (DATA, ABOUT, INSTRUCTIONS, WRITTEN)]:
        add_note(path, f"sheet {extra!r} is not read (only 'data' and 'about' are)", sheet=extra)
    about = read_entry_about(path)
    rows = book.get_sheet_by_name(DATA).to_python(skip_empty_area=False)
    columns = _header(rows, path)
    history_columns = {name: j for name, j in columns.items() if re.fullmatch(r"value_\d{4}", name)}
    _check_year(path, year, about, [int(name[6:]) for name in history_columns], study)
    details = cell_details(path, DATA, kind)
    written, pairs = _written(book, path)
    series = entry_series(study)
    raw_units = study.raw_units()
    conversions = {(c["from"], c["to"]) for c in study.config.get("unit_conversions") or []}
    fed_by = {code: s for s, codes in series.items() for code in codes[1:]}
    names = {str(series_name(study, s, lang)).strip(): s for s in series for lang in ("en", "zh")}

    def cell(row: list, name: str):
        j = columns.get(name)
        return row[j] if j is not None and j < len(row) else ""

    def refuse(problem, r, name, value, expected):
        letter = get_column_letter(columns[name] + 1) if name in columns else None
        return InputError(problem, file=path, sheet=DATA, row=r, column=f"{name} ({letter})" if letter else name,
                          value=value, expected=expected)

    def typed(r: int, name: str, unit: str):
        j = columns[name]
        raw = rows[r - 1][j] if j < len(rows[r - 1]) else ""
        try:
            number, note = read_typed(raw, unit, (r, j + 1) in details.percent, details.errors.get((r, j + 1)),
                                      details.formulas.get((r, j + 1)))
        except TypedValueError as bad:
            raise refuse(bad.problem, r, name, cell_text(raw) or "", bad.expected) from None
        if note:
            add_note(path, note, sheet=DATA, row=r, column=name, value=cell_text(raw))
        return number

    values, history, seen = [], [], {}
    for r in range(2, len(rows) + 1):
        row = rows[r - 1]
        if not any(cell_text(c) for c in row):
            continue
        entity, entity_note = read_code(cell_text(cell(row, "entity")) or "")
        code, code_note = read_code(cell_text(cell(row, "indicator")) or "")
        for note, name in ((entity_note, "entity"), (code_note, "indicator")):
            if note:
                add_note(path, note, sheet=DATA, row=r, column=name)
        if not entity or not code:
            raise refuse("cell is blank", r, "entity" if not entity else "indicator", "",
                         "the entity and indicator of every row, as written")
        if code in fed_by:
            raise refuse(f"{code} is entered in the row of {fed_by[code]}, whose one raw value feeds "
                         f"{', '.join(series[fed_by[code]])}", r, "indicator", code, f"the row of {fed_by[code]}")
        if code not in series:
            near = did_you_mean(code, list(series))
            raise refuse("indicator code is not a series of the study" + (f" (did you mean {near!r}?)" if near
                                                                          else " (was the code renamed?)"),
                         r, "indicator", code, f"one of the {len(series)} codes of the workbook as written")
        name_en = (cell_text(cell(row, "name_en")) or "").strip()
        if name_en and names.get(name_en, code) != code:
            raise refuse(f"the row's code {code} and its name {name_en!r} (the name of {names[name_en]}) disagree",
                         r, "indicator", code, "the code and the name of one series, as written")
        unit = (cell_text(cell(row, "unit")) or "").strip() or raw_units.get(code, "")
        if unit != raw_units.get(code, "") and (unit, raw_units.get(code, "")) not in conversions:
            raise refuse(f"the unit was changed to {unit!r}, and no conversion to {raw_units.get(code)!r} is "
                         "declared", r, "unit", unit, f"{raw_units.get(code)!r}, as written (type the value in "
                                                     "that unit)")
        note = cell_text(cell(row, "note")) or ""
        confirmed = bool(CONFIRMED.search(note))
        if r in details.hidden_rows:
            add_note(path, "the row is hidden in the workbook; it is read like any other", sheet=DATA, row=r)
        value = typed(r, "value", unit)
        if (entity, code) in seen:
            first_row, first_value = seen[entity, code]
            if not same(first_value, value):
                raise refuse(f"{entity} {code} appears twice with different values (again in row {first_row})", r,
                             "value", cell_text(cell(row, "value")), "one row per entity and series")
            add_note(path, f"row repeats row {first_row} ({entity} {code}, same value): read once", sheet=DATA, row=r)
            continue
        seen[entity, code] = (r, value)
        source = (cell_text(cell(row, "source")) or "").strip() or path.name
        for fed in series[code]:
            values.append({"entity": entity, "year": float(year), "indicator": fed, "value": value, "unit": unit,
                           "source": source, "flag": "", "source_file": path.name, "source_sheet": DATA,
                           "source_row": r, "confirmed": confirmed, "entry_series": code,
                           "column": f"value ({get_column_letter(columns['value'] + 1)})"})
        for name, j in history_columns.items():
            y = int(name[6:])
            before = written.get((entity, code, y)) if written else None
            raw = row[j] if j < len(row) else ""
            if written and before is None:
                continue  # a row that was not written: its history cells are context only
            if cell_text(raw) is None:
                continue  # an emptied history cell is no revision (a missing value is not typed)
            number = typed(r, name, unit)
            if before is not None and same(before, number):
                continue
            history.append({"entity": entity, "series": code, "year": y, "value": number, "written": before,
                            "unit": unit, "source_row": r, "column": f"{name} ({get_column_letter(j + 1)})",
                            "confirmed": confirmed})
    values = pd.DataFrame(values)
    history = pd.DataFrame(history, columns=["entity", "series", "year", "value", "written", "unit", "source_row",
                                             "column", "confirmed"])
    if values.empty or values["value"].isna().all():
        if len(history) and written:
            first = history.iloc[0]
            raise refuse(f"no value for {year} in column 'value', but {len(history)} cells of the grey history "
                         f"columns differ from what was written: the {year} values seem typed into the history "
                         "column", int(first["source_row"]), first["column"].split(" ")[0], float(first["value"]),
                         f"the {year} values in the yellow column 'value'; the history columns only for revising "
                         "an earlier year")
        raise InputError(f"the workbook has no value for {year} in column 'value'", file=path, sheet=DATA,
                         column="value", expected=f"the {year} values typed in the yellow column 'value'")
    deleted = sorted(pairs - set(seen)) if pairs else []
    if deleted:
        shown = ", ".join(f"{e} {c}" for e, c in deleted[:5]) + (" …" if len(deleted) > 5 else "")
        add_note(path, f"{len(deleted)} rows of the workbook as written are not there ({shown}): their {year} "
                       "values are missing", sheet=DATA)
    return EntryRead(path, year, revision, values[values["value"].notna()].reset_index(drop=True), history,
                     pairs)


# --- the workbooks applied to the other raw data -------------------------------------------------------

def jump_factor(study: Study, code: str) -> float:
    """How far a typed value may move from the entity's own latest value: the framework's ``jump_factor`` of
    the indicator, else study.yaml's ``entry.jump_factor``, else 10."""
    table = study.framework.table
    if "jump_factor" in table and code in table.index and pd.notna(pd.to_numeric(table.at[code, "jump_factor"],
                                                                                  errors="coerce")):
        return float(table.at[code, "jump_factor"])
    return float((study.config.get("entry") or {}).get("jump_factor") or DEFAULT_JUMP)


def _refuse_jump(read: EntryRead, row, previous: float, previous_year: int, factor: float) -> None:
    ratio = row["value"] / previous
    shown = lambda r: f"{r:,.0f}" if r >= 100 else f"{r:.3g}"  # noqa: E731
    how = f"{shown(ratio)} times" if ratio > 1 else f"1/{shown(1 / ratio)} of"
    raise InputError(f"the value is {how} the entity's {previous_year} value ({previous:.10g} {row['unit']}): a "
                     "slip of unit or decimal point? (万元 typed where 亿元 is asked is 10 000 times)",
                     file=read.path, sheet=DATA, row=int(row["source_row"]), column=row["column"],
                     value=row["value"], expected=f"a value within {factor:g} times the entity's own latest value, "
                                                  "or the word 'confirmed' in the row's note column when it is right")


def _jumps(read: EntryRead, row, previous: float, previous_year: int, study: Study) -> None:
    factor = jump_factor(study, row["indicator"])
    value = row["value"]
    if not (previous > 0 and value > 0) or 1 / factor <= value / previous <= factor:
        return
    if not row["confirmed"]:
        _refuse_jump(read, row, previous, previous_year, factor)
    add_note(read.path, f"{value / previous:.4g} times the {previous_year} value, marked confirmed in the note "
                        "column: read as typed", sheet=DATA, row=int(row["source_row"]), column=row["column"],
             value=value)


def _entities(frame: pd.DataFrame, read: EntryRead, known: set, names: dict, column: str = "entity") -> pd.DataFrame:
    """Each typed entity as an entity of the study: as it stands, or through the study's names (the
    entity-name table, the entities' display names); any other name is refused, never dropped."""
    mapped = {}
    for entity, r in frame[["entity", "source_row"]].drop_duplicates("entity").itertuples(index=False):
        if entity in known:
            mapped[entity] = entity
        elif names.get(entity) in known:
            mapped[entity] = names[entity]
            add_note(read.path, f"entity {entity!r} read as {names[entity]!r} (the study's names)", sheet=DATA,
                     row=int(r), column=column)
        else:
            near = did_you_mean(entity, sorted(known | set(names)))
            raise InputError("entity is not an entity of the study" + (f" (did you mean {near!r}?)" if near else ""),
                             file=read.path, sheet=DATA, row=int(r), column=column, value=entity,
                             expected=f"one of the {len(known)} entities ({', '.join(sorted(known)[:6])} …), or a "
                                      "name listed in the study's entity-name table")
    return frame.assign(entity=frame["entity"].map(mapped))


def apply_entries(tidy: pd.DataFrame, entries: list[tuple[EntryRead, list[EntryRead]]], study: Study,
                  names: dict[str, str]) -> tuple[pd.DataFrame, list[dict]]:
    """The other raw data with the entry workbooks applied, year by year: each workbook's revisions of earlier
    years replace the values they differ from, its year's values are checked against the entity's own
    history and added. Returns the table and one row per revised cell (previous and revised value, the file,
    sheet, row and column that revised it, and how)."""
    series = entry_series(study)
    tidy = tidy.assign(_entity=tidy["entity"].astype(str).map(lambda e: names.get(e, e)))
    known = set(tidy["_entity"]) | {e for read, _ in entries for e, _ in read.written}
    revisions: list[dict] = []
    for read, superseded in entries:
        values = _entities(read.values, read, known, names)
        history = _entities(read.history, read, known, names) if len(read.history) else read.history
        for h in history.to_dict("records"):
            rows = tidy[(tidy["_entity"] == h["entity"]) & (tidy["year"] == h["year"])
                        & tidy["indicator"].isin(series[h["series"]])]
            previous = float(rows["value"].iloc[0]) if len(rows) else math.nan
            if same(previous, h["value"]) or (math.isnan(h["value"])):
                continue
            check = {**h, "indicator": h["series"]}
            _jumps(read, check, previous, h["year"], study)
            added = pd.DataFrame([{"entity": h["entity"], "_entity": h["entity"], "year": float(h["year"]),
                                   "indicator": code, "value": h["value"], "unit": h["unit"],
                                   "source": f"revised in {read.path.name}", "flag": "revised",
                                   "source_file": read.path.name, "source_sheet": DATA, "source_row": h["source_row"],
                                   "data_year": float(h["year"])} for code in series[h["series"]]])
            tidy = pd.concat([tidy.drop(rows.index), added], ignore_index=True)
            revisions.append({"entity": h["entity"], "year": int(h["year"]), "indicator": h["series"],
                              "previous": previous, "revised": h["value"], "file": read.path.name, "sheet": DATA,
                              "row": int(h["source_row"]), "column": h["column"],
                              "how": f"typed over the {h['year']} value in a history column"})
        own = values[values["indicator"] == values["entry_series"]]
        for row in own.to_dict("records"):
            earlier = tidy[(tidy["_entity"] == row["entity"]) & (tidy["indicator"] == row["indicator"])
                           & (tidy["year"] < read.year) & tidy["value"].notna()]
            if len(earlier):
                last = earlier.sort_values("year").iloc[-1]
                if str(last["unit"]) in (row["unit"], "", "nan", "None", "<NA>"):
                    _jumps(read, row, float(last["value"]), int(last["year"]), study)
        for old in superseded[-1:]:
            revisions += correction_cells(old, _entities(old.values, old, known, names), read, values)
        tidy = pd.concat([tidy, values.assign(_entity=values["entity"], data_year=values["year"])], ignore_index=True)
    return tidy.drop(columns=["_entity", "confirmed", "entry_series", "column"], errors="ignore"), revisions


def correction_cells(old: EntryRead, old_values: pd.DataFrame, new: EntryRead, values: pd.DataFrame) -> list[dict]:
    """Every value a correction changes, adds or leaves out, against the revision it supersedes."""
    key = ["entity", "entry_series"]
    before = old_values.drop_duplicates(key).set_index(key)["value"] if len(old_values) else pd.Series(dtype=float)
    after = values.drop_duplicates(key).set_index(key)
    rows = []
    for pair in sorted(set(before.index) | set(after.index)):
        previous = float(before.get(pair, math.nan))
        revised = float(after["value"].get(pair, math.nan))
        if same(previous, revised):
            continue
        at = after.loc[pair] if pair in after.index else None
        rows.append({"entity": pair[0], "year": new.year, "indicator": pair[1], "previous": previous,
                     "revised": revised, "file": new.path.name, "sheet": DATA,
                     "row": int(at["source_row"]) if at is not None else None,
                     "column": at["column"] if at is not None else "",
                     "how": f"correction: {new.path.name} supersedes {old.path.name}"})
    return rows
