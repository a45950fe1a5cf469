"""Raw files read as tables of text: a CSV file or a sheet of a spreadsheet (.xlsx, .xlsm, .ods or .xls).

Every cell stays text, indexed by its spreadsheet row number (the header is row 1), so that every value can
be checked and a refusal can name the file, sheet, row, column and value. Spreadsheets of every format are
read by one reader, python-calamine (formulas give their last computed value); the format is told by the
file's bytes, not its name, so an .xls or .ods workbook saved under an .xlsx name is read as what it is (and
the log says so). ``cell_details`` adds, for .xlsx and .ods, what calamine does not give: formulas, error
values, percentage formats and hidden rows (the data-entry workbook needs them).

Refused with an ``InputError``: a missing, empty, damaged or truncated file, a text (CSV) file under a
spreadsheet name, a file not in its declared encoding, a missing sheet, merged cells, blank or duplicated
column names, more cells in a row than in the header, and, when numbers are read, any cell that is not a
plain number (text, an ambiguous thousands separator, full-width digits, a unit).

Read, and said so in the reading notes (``noting``): a UTF-16 CSV with its byte-order mark, a CSV separated
by semicolons or tabs (a European or "Unicode text" Excel export; with semicolons, ``12,5`` is 12.5). Tidying
that is harmless is silent: spaces around a cell and a UTF-8 byte-order mark are dropped, and fully blank
rows are skipped.
"""
from __future__ import annotations

import contextlib
import contextvars
import csv
import datetime
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
from openpyxl.utils import get_column_letter

from zoneindex.errors import InputError

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".ods", ".xls")
SPREADSHEET_FORMATS = ".xlsx, .ods or .xls"


@dataclass(frozen=True)
class Place:
    """The file and sheet a raw table comes from, so that every refusal can name them."""

    file: Path
    sheet: str | None = None
    decimal_comma: bool = False  # a semicolon-separated CSV: 12,5 is 12.5

    def error(self, problem: str, **where) -> InputError:
        return InputError(problem, file=self.file, sheet=self.sheet, **where)

    def note(self, note: str, row: int | None = None, column: str | None = None, value=None) -> None:
        """Record how a cell or the file was read (see ``noting``)."""
        add_note(self.file, note, sheet=self.sheet, row=row, column=column, value=value)


# --- reading notes: what was read other than as it stands, for the ingest notebook's log -------------

_NOTES: contextvars.ContextVar[list | None] = contextvars.ContextVar("zoneindex_reading_notes", default=None)
NOTE_COLUMNS = ["file", "sheet", "row", "column", "value", "note"]


@contextlib.contextmanager
def noting():
    """Collect the reading notes of everything read inside the block into the list it yields."""
    notes: list[dict] = []
    token = _NOTES.set(notes)
    try:
        yield notes
    finally:
        _NOTES.reset(token)


def add_note(file, note: str, sheet=None, row=None, column=None, value=None) -> None:
    notes = _NOTES.get()
    if notes is not None:
        notes.append({"file": Path(file).name, "sheet": sheet or "", "row": row, "column": column or "",
                      "value": "" if value is None else str(value), "note": note})


# --- reading a raw file as a table of text ------------------------------------------------------------

def read_table(path: Path, spec: dict) -> tuple[pd.DataFrame, Place]:
    """Read a CSV file or a spreadsheet sheet as text, indexed by spreadsheet row number (the header is row 1).

    Everything stays text so that every value can be checked, and a refusal can point at its cell.
    """
    require_file(path)
    if path.suffix.lower() in EXCEL_SUFFIXES:
        cells, place = read_excel_cells(path, spec.get("sheet", 0))
    else:
        cells, place = read_csv_cells(path, spec.get("encoding"))
    return table_from_cells(cells, place), place


def require_file(path: Path) -> None:
    if not path.exists():
        raise InputError("raw file not found", file=path, expected="a file in data/raw/<study>/")
    if path.stat().st_size == 0:
        raise InputError("file is empty (0 bytes)", file=path, expected="a header row and data rows")


def read_csv_cells(path: Path, encoding: str | None) -> tuple[list[list[str]], Place]:
    # Python's csv module rather than pandas: each record keeps its place (pandas skips blank lines, which
    # shifts every later row number) and a row with more cells than the header is seen, not re-aligned.
    text = decode_text(path, encoding)
    delimiter = sniff_delimiter(text)
    place = Place(path, decimal_comma=delimiter == ";")
    if delimiter != ",":
        name = {";": "semicolons", "\t": "tabs"}[delimiter]
        place.note(f"the file is separated by {name}, not commas: read with {name}"
                   + (" and decimal commas (12,5 is 12.5)" if delimiter == ";" else ""))
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)), place


def sniff_delimiter(text: str) -> str:
    """Commas, unless the header line has none but semicolons (European Excel) or tabs (Unicode text)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    if "," in header:
        return ","
    for delimiter in (";", "\t"):
        if delimiter in header:
            return delimiter
    return ","


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode_text(path: Path, encoding: str | None) -> str:
    """The text of a CSV file: UTF-8 unless study.yaml declares the file's ``encoding``; never guessed, except
    that a UTF-16 byte-order mark (Excel's "Unicode text") says what the file is."""
    data = path.read_bytes()
    if encoding is None and data[:2] in UTF16_BOMS:
        add_note(path, "the file is UTF-16 (it starts with a UTF-16 byte-order mark): read as UTF-16")
        encoding = "utf-16"
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
        elif data.count(b"\x00") > len(data) // 4:
            problem = ("file is not UTF-8 (looks like UTF-16 without a byte-order mark): save it as UTF-8 or "
                       "declare `encoding: utf-16-le` in study.yaml")
        else:
            problem = "file is not UTF-8: save it as UTF-8 or declare its `encoding` in study.yaml"
        raise InputError(f"{problem}; first bad byte at offset {bad.start} (line {line})", file=path, row=line,
                         value=data[bad.start:bad.end], expected=f"{encoding or 'UTF-8'} text") from None
    if encoding is None and text.count("\x00") > len(text) // 4:  # NUL bytes are valid UTF-8, but never text
        raise InputError("file is not UTF-8 text (looks like UTF-16 without a byte-order mark): save it as UTF-8 or "
                         "declare `encoding: utf-16-le` in study.yaml", file=path, expected="UTF-8 text")
    # Excel's "CSV UTF-8" starts with a byte-order mark; it is not part of the first column's name.
    return text.removeprefix("\ufeff")


def looks_like_gb18030(data: bytes) -> bool:
    """Whether bytes that are not UTF-8 decode as GB18030 (a superset of GBK), Chinese Excel's default CSV."""
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


def spreadsheet_format(path: Path) -> str:
    """What the bytes are: 'xlsx', 'ods' or 'xls' (whatever the name says), or an InputError naming the file."""
    with open(path, "rb") as handle:
        head = handle.read(80)
    if head.startswith(b"PK\x03\x04"):
        return "ods" if head[30:38] == b"mimetype" and b"opendocument" in head else "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"  # the OLE2 container of the old binary format (or an encrypted workbook)
    try:
        path.read_bytes().decode("utf-8")
        text = True
    except UnicodeDecodeError:
        text = looks_like_gb18030(path.read_bytes())
    if text:
        raise InputError(f"file is a text (CSV) file under a {path.suffix} name, not a workbook", file=path,
                         expected=f"rename it to .csv, or open it in a spreadsheet program and save it as "
                                  f"{SPREADSHEET_FORMATS}")
    raise InputError(f"file is not a spreadsheet, although it is named {path.suffix}", file=path,
                     expected=f"a workbook saved as {SPREADSHEET_FORMATS}")


def open_workbook(path: Path):
    """The workbook, read by python-calamine from its bytes; a damaged one is refused with the file named."""
    from python_calamine import CalamineError, CalamineWorkbook

    require_file(path)
    kind = spreadsheet_format(path)
    try:
        with open(path, "rb") as handle:
            book = CalamineWorkbook.from_filelike(handle)
    except (CalamineError, OSError, ValueError) as error:
        problem = "password-protected" if "assword" in str(error) else "damaged or truncated"
        raise InputError(f"workbook is {problem} and cannot be read ({error})", file=path,
                         expected="a complete workbook: open it in the spreadsheet program and save it again as "
                                  f"{SPREADSHEET_FORMATS}") from None
    named = path.suffix.lower().lstrip(".").replace("xlsm", "xlsx")
    if named != kind:
        add_note(path, f"the file is an .{kind} workbook under an .{named} name: read as .{kind}")
    return book, kind


def read_excel_cells(path: Path, sheet: str | int) -> tuple[list[list[str | None]], Place]:
    """The cells of one sheet as text (formulas give their last computed value), from cell A1."""
    book, _ = open_workbook(path)
    names = book.sheet_names
    if isinstance(sheet, int) and 0 <= sheet < len(names):
        sheet = names[sheet]
    if sheet not in names:
        raise InputError("sheet not found", file=path, sheet=sheet, value=sheet, expected=f"one of the sheets {names}")
    place = Place(path, sheet)
    ws = book.get_sheet_by_name(sheet)
    refuse_merged_cells(ws.merged_cell_ranges or [], place)
    rows = ws.to_python(skip_empty_area=False)
    return [[cell_text(value) for value in row] for row in rows], place


def cell_text(value) -> str | None:
    """A spreadsheet value as the text it stands for: 15.0 is '15', a date its ISO date."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


def refuse_merged_cells(ranges, place: Place) -> None:
    # A merged range keeps its value in the first cell only: merged header cells leave columns without a
    # name, and merged data cells (an entity written once over its years) leave the other rows blank.
    if ranges:
        (r0, c0), (r1, c1) = min(ranges)
        coord = f"{get_column_letter(c0 + 1)}{r0 + 1}:{get_column_letter(c1 + 1)}{r1 + 1}"
        what = "header cells" if r0 == 0 else "cells"
        raise place.error(f"{what} {coord} are merged", row=r0 + 1, column=get_column_letter(c0 + 1), value=coord,
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


# --- what calamine does not give: formulas, errors, percentage formats, hidden rows ------------------

@dataclass
class CellDetails:
    """Per cell (row, column number, both from 1) of one sheet; empty for a format without them (.xls)."""

    formulas: dict = field(default_factory=dict)     # (row, col) -> formula text
    errors: dict = field(default_factory=dict)       # (row, col) -> '#DIV/0!' …
    percent: set = field(default_factory=set)        # cells shown as a percentage (the value is a fraction)
    hidden_rows: set = field(default_factory=set)
    known: bool = False                              # whether the format told us any of this


def cell_details(path: Path, sheet: str, kind: str) -> CellDetails:
    if kind == "xlsx":
        return _xlsx_details(path, sheet)
    if kind == "ods":
        return _ods_details(path, sheet)
    return CellDetails()


_XLSX = {"main": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
         "rel": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
         "pkg": "http://schemas.openxmlformats.org/package/2006/relationships"}
PERCENT_FORMAT_IDS = {9, 10}  # Excel's built-in 0% and 0.00%


def _xlsx_details(path: Path, sheet: str) -> CellDetails:
    """Formulas, error values, percentage formats and hidden rows of one sheet, read from the sheet's XML
    (one pass, fast even for thousands of rows)."""
    from openpyxl.utils.cell import coordinate_from_string, column_index_from_string

    def q(ns, tag):
        return f"{{{_XLSX[ns]}}}{tag}"

    details = CellDetails(known=True)
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rid = next((s.get(q("rel", "id")) for s in book.iter(q("main", "sheet")) if s.get("name") == sheet), None)
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        target = next((r.get("Target") for r in rels.iter(q("pkg", "Relationship")) if r.get("Id") == rid), None)
        if target is None:
            return details
        part = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        percent_styles = set()
        if "xl/styles.xml" in names:
            styles = ElementTree.fromstring(archive.read("xl/styles.xml"))
            custom = {int(f.get("numFmtId")) for f in styles.iter(q("main", "numFmt"))
                      if "%" in f.get("formatCode", "")}
            xfs = styles.find(q("main", "cellXfs"))
            for i, xf in enumerate(xfs if xfs is not None else []):
                if int(xf.get("numFmtId", 0)) in PERCENT_FORMAT_IDS | custom:
                    percent_styles.add(str(i))
        with archive.open(part) as content:
            for _, element in ElementTree.iterparse(content):
                if element.tag == q("main", "row"):
                    if element.get("hidden") in ("1", "true") and len(element):
                        details.hidden_rows.add(int(element.get("r")))
                    element.clear()
                elif element.tag == q("main", "c"):
                    letters, r = coordinate_from_string(element.get("r"))
                    key = (r, column_index_from_string(letters))
                    formula, value = element.find(q("main", "f")), element.find(q("main", "v"))
                    if formula is not None:
                        details.formulas[key] = "=" + (formula.text or "")
                    if element.get("t") == "e":
                        details.errors[key] = value.text if value is not None else "#ERROR"
                    elif element.get("s") in percent_styles and value is not None:
                        details.percent.add(key)
    return details


_ODS = {"table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
        "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
        "calcext": "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"}
MAX_REPEAT = 100_000  # LibreOffice writes the empty rest of a sheet as one repeated row


def _ods_details(path: Path, sheet: str) -> CellDetails:
    def attr(element, ns, name):
        return element.get(f"{{{_ODS[ns]}}}{name}")

    details = CellDetails(known=True)
    with zipfile.ZipFile(path) as archive, archive.open("content.xml") as content:
        inside, row = False, 0
        for event, element in ElementTree.iterparse(content, events=("start", "end")):
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "table" and event == "start":
                inside, row = attr(element, "table", "name") == sheet, 0
            elif tag == "table" and event == "end":
                if inside:
                    break
                element.clear()
            elif inside and tag == "table-row" and event == "end":
                repeat = int(attr(element, "table", "number-rows-repeated") or 1)
                column = 0
                for cell in element:
                    span = int(attr(cell, "table", "number-columns-repeated") or 1)
                    formula = attr(cell, "table", "formula")
                    error = attr(cell, "calcext", "value-type") == "error"
                    percent = attr(cell, "office", "value-type") == "percentage"
                    if formula or error or percent:  # only cells that hold something (not the empty rest)
                        for r in range(row + 1, row + min(repeat, MAX_REPEAT) + 1):
                            for c in range(column + 1, column + min(span, MAX_REPEAT) + 1):
                                if formula:
                                    details.formulas[r, c] = formula.removeprefix("of:")
                                if error:
                                    details.errors[r, c] = "".join(cell.itertext()) or "#ERROR"
                                elif percent:
                                    details.percent.add((r, c))
                    column += span
                if attr(element, "table", "visibility") in ("collapse", "filter") and len(element):
                    details.hidden_rows.update(range(row + 1, row + min(repeat, MAX_REPEAT) + 1))
                row += repeat
                element.clear()
    return details


# --- numbers -----------------------------------------------------------------------------------------

PLAIN_NUMBER = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"  # ASCII only: what float() reads unambiguously
THOUSANDS = re.compile(r"[+-]?[0-9]{1,3}([, \u00a0\u202f'][0-9]{3})+(\.[0-9]*)?")
NUMBER_WITH_TEXT = re.compile(  # 12亿元, 12 %, $12, 约12
    r"(?P<before>[^0-9]*?)\s*[+-]?[0-9][0-9.]*\s*(?P<after>[^0-9]*)")
DECIMAL_COMMA = re.compile(r"[+-]?[0-9]+,[0-9]+")


def parse_numbers(text: pd.Series, rows: pd.Series, columns: pd.Series | str, place: Place) -> pd.Series:
    """Convert text to float; a blank cell stays NaN, any other cell that is not a plain number is refused."""
    if place.decimal_comma:  # a semicolon-separated CSV: 12,5 is 12.5; 1.234 could be 1234 or 1.234
        grouped = text.str.fullmatch(r"[+-]?[0-9]{1,3}(\.[0-9]{3})+(,[0-9]*)?").fillna(False)
        if grouped.any():
            i = grouped.idxmax()
            raise place.error("value is ambiguous in a file with decimal commas: the point may separate "
                              "thousands", row=int(rows[i]), column=columns if isinstance(columns, str)
                              else str(columns[i]), value=text[i], expected="the number without a thousands "
                                                                           "separator, such as 1234,5")
        text = text.where(~text.str.fullmatch(DECIMAL_COMMA).fillna(False), text.str.replace(",", ".", regex=False))
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
