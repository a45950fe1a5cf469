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

A raw file that holds more than the study uses (a yearbook table with many variables, a national total,
earlier years) declares which rows it reads, and every other row is left out on purpose and counted in
the file's row of ``sources_table`` (see ``select_rows``): ``indicators: {raw_code: framework_code}`` (or a
list of codes) keeps and renames the chosen series, ``exclude_entities`` (a regular expression matched at
the start of the name, or a list of exact names) leaves out totals and aggregates, and ``keep_years:
{first: …, last: …}`` leaves out years the study does not cover.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from zoneindex.errors import InputError
from zoneindex.framework import Framework, Study
from zoneindex.provenance import read_source_record, record_path

TIDY_COLUMNS = ["entity", "year", "indicator", "value", "unit", "source", "flag", "source_file", "source_row"]
EXCEL_SUFFIXES = (".xlsx", ".xlsm")


@dataclass(frozen=True)
class Place:
    """The file and sheet a raw table comes from, so that every refusal can name them."""

    file: Path
    sheet: str | None = None

    def error(self, problem: str, **where) -> InputError:
        return InputError(problem, file=self.file, sheet=self.sheet, **where)


# --- reading a raw file as a table of text ------------------------------------------------------------

def read_table(path: Path, spec: dict) -> tuple[pd.DataFrame, Place]:
    """Read a CSV file or an Excel sheet as text, indexed by spreadsheet row number (the header is row 1).

    Everything stays text so that every value can be checked, and a refusal can point at its cell.
    """
    if not path.exists():
        raise InputError("raw file not found", file=path, expected="a file in data/raw/<study>/")
    if path.stat().st_size == 0:
        raise InputError("file is empty (0 bytes)", file=path, expected="a header row and data rows")
    suffix = path.suffix.lower()
    if suffix == ".xls":  # the pre-2007 binary format would need another reader, with its own quirks
        raise InputError("old Excel format (.xls) is not read", file=path, expected="the file saved as .xlsx or .csv")
    if suffix in EXCEL_SUFFIXES:
        cells, place = read_excel_cells(path, spec.get("sheet", 0))
    else:
        cells, place = read_csv_cells(path, spec.get("encoding")), Place(path)
    return table_from_cells(cells, place), place


def read_csv_cells(path: Path, encoding: str | None) -> list[list[str]]:
    # Python's csv module rather than pandas: each record keeps its place (pandas skips blank lines, which
    # shifts every later row number) and a row with more cells than the header is seen, not re-aligned.
    return list(csv.reader(io.StringIO(decode_text(path, encoding), newline="")))


def decode_text(path: Path, encoding: str | None) -> str:
    """The text of a CSV file: UTF-8 unless study.yaml declares the file's ``encoding``; never guessed."""
    data = path.read_bytes()
    try:
        text = data.decode(encoding or "utf-8")
    except LookupError:
        raise InputError("unknown encoding declared in study.yaml", file=path, column="data.encoding",
                         value=encoding, expected="a Python codec name such as utf-8 or gb18030") from None
    except UnicodeDecodeError as bad:
        line = data.count(b"\n", 0, bad.start) + 1
        if encoding:
            problem = f"file is not valid {encoding}"
        elif looks_like_gb18030(data):
            problem = ("file is not UTF-8 (looks like GBK/GB18030): save it as UTF-8 or declare "
                       "`encoding: gb18030` in study.yaml")
        else:
            problem = "file is not UTF-8: save it as UTF-8 or declare its `encoding` in study.yaml"
        raise InputError(f"{problem}; first bad byte at offset {bad.start} (line {line})", file=path, row=line,
                         value=data[bad.start:bad.end], expected=f"{encoding or 'UTF-8'} text") from None
    # Excel's "CSV UTF-8" starts with a byte-order mark; it is not part of the first column's name.
    return text.removeprefix("\ufeff")


def looks_like_gb18030(data: bytes) -> bool:
    """Whether bytes that are not UTF-8 decode as GB18030 (a superset of GBK), Chinese Excel's default CSV."""
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


def read_excel_cells(path: Path, sheet: str | int) -> tuple[list[list[str | None]], Place]:
    """The cells of one sheet as text (formulas give their last computed value), from cell A1."""
    try:
        book = openpyxl.load_workbook(path, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException):
        raise InputError("file is not an Excel workbook", file=path, expected="an .xlsx file") from None
    names = book.sheetnames
    if isinstance(sheet, int) and 0 <= sheet < len(names):
        sheet = names[sheet]
    if sheet not in names:
        raise InputError("sheet not found", file=path, sheet=sheet, value=sheet, expected=f"one of the sheets {names}")
    place = Place(path, sheet)
    refuse_merged_cells(book[sheet], place)
    rows = book[sheet].iter_rows(min_row=1, min_col=1, values_only=True)
    return [[None if value is None else str(value) for value in row] for row in rows], place


def refuse_merged_cells(sheet, place: Place) -> None:
    # A merged range keeps its value in the first cell only: merged header cells leave columns without a
    # name, and merged data cells (an entity written once over its years) leave the other rows blank.
    if sheet.merged_cells.ranges:
        merged = min(sheet.merged_cells.ranges, key=lambda r: (r.min_row, r.min_col))
        what = "header cells" if merged.min_row == 1 else "cells"
        raise place.error(f"{what} {merged.coord} are merged", row=merged.min_row,
                          column=get_column_letter(merged.min_col), value=merged.coord,
                          expected="one value per cell: unmerge the range and fill every cell")


def table_from_cells(cells: list[list[str | None]], place: Place) -> pd.DataFrame:
    """The first row names the columns; the index is the spreadsheet row number; blank rows are skipped."""
    # Spaces around a cell are invisible in a spreadsheet and carry no meaning; inner spaces are kept.
    cells = [[(cell or "").strip() or None for cell in row] for row in cells]
    if not any(any(row) for row in cells):
        raise place.error(f"{'sheet' if place.sheet else 'file'} is empty", expected="a header row and data rows")
    width = max(len(row) for row in cells)
    header, body = cells[0], [row + [None] * (width - len(row)) for row in cells[1:]]
    refuse_extra_cells(len(header), body, place)
    header += [None] * (width - len(header))
    check_header(header, body, place)
    table = pd.DataFrame(body, columns=header, index=pd.RangeIndex(2, len(body) + 2), dtype="str")
    table = table.loc[table.notna().any(axis=1), [name is not None for name in header]]
    if table.empty:
        raise place.error("file has a header but no data rows", expected="data rows below the header (row 1)")
    return table


def refuse_extra_cells(header_width: int, body: list[list[str | None]], place: Place) -> None:
    # In a CSV file an unquoted comma inside a value (1,234) splits it into two cells and shifts the row.
    for row_number, row in enumerate(body, start=2):
        extra = [j for j in range(header_width, len(row)) if row[j] is not None]
        if extra:
            raise place.error("row has more cells than the header", row=row_number,
                              column=get_column_letter(extra[0] + 1), value=row[extra[0]],
                              expected=f"at most {header_width} cells, as in the header (a comma inside a "
                                       "value, as in 1,234, must be removed or the value quoted)")


def check_header(header: list[str | None], body: list[list[str | None]], place: Place) -> None:
    """Every column that holds data needs its own, unique name in row 1."""
    seen = {}
    for j, name in enumerate(header):
        letter = get_column_letter(j + 1)
        if name is None:
            # a column without a name cannot be read (pandas would call it 'Unnamed: j'); an empty one is ignored
            if any(row[j] is not None for row in body):
                raise place.error("header cell is blank but the column holds data", row=1, column=letter,
                                  value="", expected="a column name in every header cell above data")
        elif name in seen:
            raise place.error(f"column name appears twice (columns {seen[name]} and {letter})", row=1,
                              column=letter, value=name, expected="each column name once")
        else:
            seen[name] = letter


def require_columns(table: pd.DataFrame, wanted: list[str], place: Place) -> None:
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise place.error(f"columns missing: {missing} (columns found: {list(table.columns)})", row=1,
                          expected=f"a header with {wanted}")


def require_cells(table: pd.DataFrame, columns: list[str], place: Place) -> None:
    # A row without its entity, year or indicator cannot be placed; a blank value is a missing value.
    for column in columns:
        blank = table[column].isna()
        if blank.any():
            raise place.error("cell is blank", row=int(blank.idxmax()), column=column, value="",
                              expected=f"the {column} of every data row")


# --- numbers -----------------------------------------------------------------------------------------

PLAIN_NUMBER = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"  # ASCII only: what float() reads unambiguously
THOUSANDS = re.compile(r"[+-]?[0-9]{1,3}([, \u00a0\u202f'][0-9]{3})+(\.[0-9]*)?")
NUMBER_WITH_TEXT = re.compile(  # 12亿元, 12 %, $12, 约12
    r"(?P<before>[^0-9]*?)\s*[+-]?[0-9][0-9.]*\s*(?P<after>[^0-9]*)")


def parse_numbers(text: pd.Series, rows: pd.Series, columns: pd.Series | str, place: Place) -> pd.Series:
    """Convert text to float; a blank cell stays NaN, any other cell that is not a plain number is refused."""
    plain = text.isna() | text.str.fullmatch(PLAIN_NUMBER)
    if not plain.all():
        i = plain.idxmin()
        column = columns if isinstance(columns, str) else str(columns[i])
        problem, expected = why_not_a_number(text[i])
        raise place.error(problem, row=int(rows[i]), column=column, value=text[i], expected=expected)
    return text.astype(float)


def why_not_a_number(text: str) -> tuple[str, str]:
    """The problem and the fix for a cell that is not a plain number, most specific first."""
    if any(ch.isdecimal() and not ch.isascii() for ch in text):
        # Converted silently, a typed-in figure would look like a checked one: the fix must be visible.
        return ("value is not a number: it is written with full-width (non-ASCII) digits",
                "ASCII digits such as 12.5; ingest never converts full-width digits silently: fix the source "
                "file (a corrected copy with its own source record) or declare the correction")
    if THOUSANDS.fullmatch(text):
        return ("value is not a number: it contains a thousands separator",
                "a plain number such as 1234: remove the thousands separator (or, if it is a decimal comma, "
                "write a decimal point)")
    match = NUMBER_WITH_TEXT.fullmatch(text)
    if match and (match["before"] or match["after"]):
        extra = (match["before"] + " " + match["after"]).strip()
        return (f"value is not a number: the cell holds a unit or text ({extra!r}) besides the number",
                "the number alone: the unit belongs in the unit column and the framework")
    return ("value is not a number", "a plain decimal number such as 12.5, or a blank cell for a missing value")


# --- layouts -----------------------------------------------------------------------------------------

def read_long(path: Path, spec: dict) -> pd.DataFrame:
    table, place = read_table(path, spec)
    names = {key: key for key in ("entity", "year", "indicator", "value", "unit", "source", "status")}
    names.update(spec.get("columns", {}))
    require_columns(table, [names[k] for k in ("entity", "year", "indicator", "value")], place)
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


ENTITY_NAME_COLUMNS = ("raw", "entity")


def read_entity_names(study: Study) -> pd.DataFrame | None:
    """The study's table of entity spellings (``entity_names:`` in study.yaml), or None when none is declared.

    Columns ``raw, entity, note``: every spelling found in the raw files (``raw``, inner spaces kept
    exactly) and the standard name it stands for (``entity``); a standard name is listed with itself. Passed
    to ``clean.clean(..., entity_names=...)``, which repairs the names and logs every change. Refused: a
    missing file or column, a blank cell, a spelling listed twice, or a standard name mapped to another one.
    """
    name = study.config.get("entity_names")
    if not name:
        return None
    path = study.folder / name
    table, place = read_table(path, {})
    require_columns(table, list(ENTITY_NAME_COLUMNS), place)
    require_cells(table, list(ENTITY_NAME_COLUMNS), place)
    twice = table["raw"].duplicated(keep="first")
    if twice.any():
        row = int(twice.idxmax())
        raise place.error("spelling listed twice", row=row, column="raw", value=table.at[row, "raw"],
                          expected="each raw spelling once")
    standard = set(table["entity"])
    moved = table["raw"].isin(standard) & (table["raw"] != table["entity"])
    if moved.any():
        row = int(moved.idxmax())
        raise place.error("a standard name is mapped to another name", row=row, column="entity",
                          value=f"{table.at[row, 'raw']} -> {table.at[row, 'entity']}",
                          expected="a standard name maps to itself")
    table = table.reindex(columns=["raw", "entity", "note"])
    table["note"] = table["note"].fillna("")
    return table.reset_index(names="row")


def read_entry(path: Path, spec: dict) -> pd.DataFrame:
    """A filled data-entry workbook (``zoneindex new-year``): sheet ``data`` with one row per entity and
    indicator and the year's value in column ``value``; the year stands in sheet ``about``."""
    from zoneindex.editions import read_entry_about

    year = read_entry_about(path)["year"]
    table, place = read_table(path, {"sheet": "data"})
    require_columns(table, ["entity", "indicator", "value", "source"], place)
    table = table[table["value"].notna() & table["value"].astype(str).str.strip().ne("")]
    tidy = pd.DataFrame({
        "entity": table["entity"], "year": float(year), "indicator": table["indicator"],
        "value": parse_numbers(table["value"], pd.Series(table.index, index=table.index), "value", place),
        "unit": table["unit"] if "unit" in table else "", "source": table["source"].fillna(path.name),
        "flag": "", "source_file": path.name, "source_sheet": "data", "source_row": table.index})
    return tidy


READERS["entry"] = read_entry


def entry_specs(study: Study, edition: int) -> list[dict]:
    """Filled data-entry workbooks dropped into the raw folder (``entry_<study>_<year>.xlsx``) up to the
    edition year: read without being listed in study.yaml; later years belong to later editions."""
    from zoneindex.editions import ENTRY_PREFIX

    pattern = re.compile(rf"{re.escape(ENTRY_PREFIX + study.name)}_(\d{{4}})\.xlsx")
    return [{"file": p.name, "format": "entry"} for p in sorted(study.raw_folder.glob(f"{ENTRY_PREFIX}*.xlsx"))
            if (m := pattern.fullmatch(p.name)) and int(m.group(1)) <= edition]


def register_entry(path: Path) -> None:
    """Write the source record of a new data-entry workbook from its 'about' sheet. From now on the
    workbook is an immutable raw file like any other: a correction is a new file."""
    from zoneindex.editions import ABOUT_FIELDS, read_entry_about
    from zoneindex.provenance import write_source_record

    about = read_entry_about(path)
    write_source_record(path, **{field: str(about[field]) for field in ABOUT_FIELDS}, illustrative=False,
                        description=f"data-entry workbook for {about.get('study')} {about.get('year')}, "
                                    "filled by a researcher; each value's own source is in its 'source' cell")


def read_data_file(study: Study, spec: dict) -> tuple[pd.DataFrame, dict]:
    """Read one raw file of the study; returns the tidy rows and the file's verified source record."""
    path = study.raw_folder / spec["file"]
    if spec.get("format") == "entry" and path.exists() and not record_path(path).exists():
        register_entry(path)
    record = read_source_record(path)
    layout = spec.get("format", "long")
    if layout not in READERS:
        raise InputError("unknown raw-data format", file=study.folder / "study.yaml", column="data.format",
                         value=layout, expected=f"one of {sorted(READERS)}")
    tidy = READERS[layout](path, spec)
    selection = None
    if any(key in spec for key in SELECTION_KEYS):
        tidy, selection = select_rows(tidy, spec, study.folder / "study.yaml", layout)
    if record.get("illustrative"):
        tidy["flag"] = tidy["flag"].replace("", "illustrative")
    return tidy, {"file": path.name, "spec": spec, **record, **({"selection": selection} if selection else {})}


def lower_bounds(framework: Framework) -> pd.DataFrame:
    """The smallest value each indicator may take, and why: the framework's ``min_value``, else 0 for counts."""
    table = framework.table.loc[framework.indicators]
    declared = pd.to_numeric(table.get("min_value", pd.Series(np.nan, index=table.index)), errors="coerce")
    counts = (table["unit"] == "count") & declared.isna()
    return pd.DataFrame({"minimum": declared.mask(counts, 0.0),
                         "reason": np.where(counts, "unit 'count': a count cannot be negative",
                                            "min_value of the framework")}, index=table.index)


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
    bounds = lower_bounds(study.framework).reindex(tidy["indicator"]).set_index(tidy.index)
    below = tidy["value"] < bounds["minimum"]
    if below.any():
        bound = bounds[below].iloc[0]
        fail("value below the indicator's minimum", below, "value",
             f"at least {bound['minimum']:g} ({bound['reason']})")
    absent = sorted(set(study.framework.indicators) - set(tidy["indicator"]))
    if absent:
        raise InputError("framework indicators have no data in any raw file", file=study.framework.source,
                         value=absent, expected="at least one value for every indicator")


def ingest(study: Study, edition: int) -> tuple[pd.DataFrame, list[dict]]:
    """All raw files of a study as one checked tidy table, plus their source records.

    Edition ``edition`` uses the years up to and including ``edition``; later years stay out of it.
    """
    parts, records = [], []
    for spec in study.config["data"] + entry_specs(study, edition):
        tidy, record = read_data_file(study, spec)
        parts.append(tidy)
        records.append(record)
    tidy = pd.concat(parts, ignore_index=True)
    check_tidy(tidy, study, edition)
    tidy["year"] = tidy["year"].astype(int)
    tidy = tidy[tidy["year"] <= edition]
    tidy["unit"] = tidy["unit"].replace("", np.nan).fillna(tidy["indicator"].map(study.raw_units()))
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
        frame["rule"] = spec.get("rule", "context")
        frames.append(frame)
    columns = ["entity", "year", "code", "value", "source", "rule", "note"]
    return pd.concat(frames, ignore_index=True).reindex(columns=columns) if frames else pd.DataFrame(columns=columns)


def sources_table(records: list[dict]) -> pd.DataFrame:
    """One row per raw file: what it is, who published it, where from, licence and checksum."""
    columns = ["file", "title", "publisher", "url", "retrieved", "licence", "illustrative", "sha256"]
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
                          "illustrative": int(group["flag"].str.contains("illustrative").sum()),
                          "public": int(group["flag"].str.contains("public").sum())})
    return tidy.groupby("source_file").apply(describe, include_groups=False)
