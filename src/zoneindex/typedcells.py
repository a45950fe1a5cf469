"""Cells typed by a person into a data-entry workbook: read when what was meant is unambiguous, else refused.

A published raw file is read strictly (``rawfiles.parse_numbers``): its cells are what the publisher
printed. A value a researcher typed into the ``value`` column of a data-entry workbook is read more kindly,
but only where there is one reading, and every such reading is said in the reading notes:

* read, with a note: full-width characters (``３５``, ``ＣＤＨＴ``), a marker of a missing value (``-``,
  ``—``, ``..``, ``n/a``, ``#N/A``), the row's own unit typed after the number (``12.5亿元`` in an 亿元
  row), a percentage in a %-unit row (``35%``: 35) or in a share row (0.35), a cell formatted as a
  percentage (Excel stores ``31.6%`` as 0.316: 31.6 in a %-unit row), thousands separators that cannot be a
  decimal comma (``1,234,567``, ``1,234.5``), a formula with its computed value;
* refused, with what was expected: another unit than the row's (``12.5万元`` in an 亿元 row, with the
  converted number), a percentage in a row of another unit, ``1,234`` (1234 or 1.234?), a date, a
  spreadsheet error (``#DIV/0!``), a formula without a computed value, the text of a formula, any other text.
"""
from __future__ import annotations

import datetime
import math
import re
import unicodedata

MISSING_MARKS = {"-", "--", "—", "——", "–", "..", "...", "…", "n/a", "na", "n.a.", "#n/a", "无", "暂无", "缺", "空"}
NOT_AVAILABLE_ERRORS = {"#N/A"}  # "not available" by definition (NA()); every other error is a formula that failed
PLAIN = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
GROUPED = re.compile(r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?")
WITH_UNIT = re.compile(r"(?P<number>[+-]?([0-9]+\.?[0-9]*|\.[0-9]+))\s*(?P<unit>[^\s0-9].*)")
MAGNITUDES = {"万亿": 1e12, "千亿": 1e11, "百亿": 1e10, "十亿": 1e9, "亿": 1e8, "千万": 1e7, "百万": 1e6, "十万": 1e5,
              "万": 1e4, "千": 1e3, "百": 1e2}
CHINESE_UNIT = re.compile(r"(?P<magnitude>万亿|千亿|百亿|十亿|亿|千万|百万|十万|万|千|百)?(?P<base>元|美元|人民币|欧元|吨|人次|人|件|篇|个|项|家|平方米|公里)")
PERCENT_UNITS = {"%", "percent", "per cent", "pct", "百分比", "百分点"}


class TypedValueError(ValueError):
    """A typed cell that cannot be read: the problem and what was expected."""

    def __init__(self, problem: str, expected: str):
        super().__init__(problem)
        self.problem, self.expected = problem, expected


def unit_kind(unit: str) -> str | None:
    """'percent' for a %-unit, 'share' for a share 0-1, else None."""
    text = str(unit or "").strip().lower()
    if text in PERCENT_UNITS or text.endswith("(%)") or text.startswith("% "):
        return "percent"
    if "0-1" in text.replace(" ", "").replace("–", "-") or text in ("share", "ratio (0-1)", "比重(0-1)"):
        return "share"
    return None


def magnitude(unit: str) -> tuple[float, str] | None:
    """(factor, base) of a Chinese unit such as 亿元 (1e8, 元), found anywhere in the unit's text."""
    match = CHINESE_UNIT.search(str(unit or ""))
    if not match:
        return None
    return MAGNITUDES.get(match["magnitude"] or "", 1.0), match["base"]


def unit_names(unit: str) -> set[str]:
    """The ways a unit may be typed after a number: as written, its part in brackets, its Chinese unit."""
    unit = str(unit or "").strip()
    names = {unit, unit.lower(), *re.findall(r"[(（]([^)）]*)[)）]", unit)}
    if match := CHINESE_UNIT.search(unit):
        names.add(match.group(0))
    return names - {""}


def normalise_text(text: str) -> str:
    """Full-width letters, digits and punctuation as ASCII (NFKC), spaces around dropped."""
    return unicodedata.normalize("NFKC", text).strip()


def read_typed(value, unit: str, percent_format: bool = False, error: str | None = None,
               formula: str | None = None) -> tuple[float, str | None]:
    """The number a typed cell stands for in ``unit``, and a note when it was not a plain number as typed;
    raises TypedValueError when there is no single reading."""
    if error is not None:
        if error in NOT_AVAILABLE_ERRORS:
            return math.nan, f"the spreadsheet value {error} (not available) read as a missing value"
        raise TypedValueError(f"the cell holds the spreadsheet error {error}: a formula failed",
                              "the value, or an empty cell when it is not known")
    if value is None or value == "":
        if formula:
            raise TypedValueError(f"the cell holds the formula {formula} but no computed value (the workbook was "
                                  "written by a program and never opened in a spreadsheet)",
                                  "the workbook opened and saved in Excel or LibreOffice (which computes the "
                                  "formula), or the value typed instead of the formula")
        return math.nan, None
    if isinstance(value, bool):
        raise TypedValueError(f"the cell holds {value!s} (a true/false value), not a number", "a plain number")
    if isinstance(value, (datetime.date, datetime.time, datetime.timedelta)):
        shown = value.isoformat() if hasattr(value, "isoformat") else str(value)
        raise TypedValueError(f"the cell holds a date or time ({shown}), not a number",
                              "a plain number in the unit shown (a spreadsheet turns 3.15 or 3/15 into a date: "
                              "format the cell as a number and type the value again)")
    via = f"the formula {formula} read as its computed value" if formula else None
    if isinstance(value, (int, float)):
        number = float(value)
        if percent_format:
            return _percent(number * 100, unit, f"{number * 100:g} %")
        return number, via
    return _from_text(str(value), unit)


def _percent(number: float, unit: str, shown: str) -> tuple[float, str]:
    kind = unit_kind(unit)
    if kind == "percent":
        return number, f"typed as the percentage {shown}: read as {number:g}, the unit being {unit}"
    if kind == "share":
        return number / 100, f"typed as the percentage {shown}: read as the share {number / 100:g}"
    raise TypedValueError(f"the cell is a percentage ({shown}), but the unit of this row is {unit!r}",
                          f"a plain number in {unit}")


def _from_text(raw: str, unit: str) -> tuple[float, str | None]:
    text = normalise_text(raw)
    notes = [f"full-width characters read as ASCII ({raw.strip()!r} as {text!r})"] if text != raw.strip() else []

    def done(number: float, note: str | None = None) -> tuple[float, str | None]:
        return number, "; ".join(notes + ([note] if note else [])) or None

    if text.lower() in MISSING_MARKS:
        return done(math.nan, f"{text!r} read as a missing value (an empty cell)")
    if text.startswith("#"):
        return read_typed(None, unit, error=text.upper()) if text.upper() in NOT_AVAILABLE_ERRORS else \
            _refuse_error(text)
    if text.startswith("="):
        raise TypedValueError(f"the cell holds the text of a formula ({text}), not a value",
                              "the value itself, or a formula that the spreadsheet computes")
    if PLAIN.fullmatch(text):
        return done(float(text))
    if text.endswith("%") and PLAIN.fullmatch(number := text[:-1].strip()):
        value, note = _percent(float(number), unit, text)
        return done(value, note)
    if GROUPED.fullmatch(text):
        if text.count(",") > 1 or "." in text:
            return done(float(text.replace(",", "")), f"thousands separators dropped ({text!r} as "
                                                      f"{text.replace(',', '')})")
        raise TypedValueError(f"the value {text!r} is ambiguous: 1234 with a thousands separator, or 1.234 with "
                              "a decimal comma", "a plain number with a decimal point and no thousands "
                                                 "separator, such as 1234 or 1.234")
    match = WITH_UNIT.fullmatch(text)
    if match:
        return done(*_with_unit(float(match["number"]), match["unit"].strip(), unit, text))
    raise TypedValueError("value is not a number", "a plain number in the unit shown, such as 12.5, or an empty "
                                                   "cell when it is not known")


def _refuse_error(text: str):
    raise TypedValueError(f"the cell holds the spreadsheet error {text}: a formula failed",
                          "the value, or an empty cell when it is not known")


def _with_unit(number: float, typed: str, unit: str, text: str) -> tuple[float, str]:
    """A number typed with a unit: the row's own unit is dropped; another unit is refused with the
    converted number when both are Chinese magnitudes of one base (万元 and 亿元)."""
    unit = str(unit or "")
    if typed in unit_names(unit) or typed.lower() in unit_names(unit):
        return number, f"the unit {typed!r} typed after the number; read {number:g} (the row's unit is {unit})"
    if typed == "%":
        return _percent(number, unit, text)
    have, want = magnitude(typed), magnitude(unit)
    if have and want and have[1] == want[1]:
        converted = number * have[0] / want[0]
        raise TypedValueError(f"the value is typed in {typed} but this row is in {unit}: {number:g} {typed} is "
                              f"{converted:.10g} in {unit}", f"the number in {unit} ({converted:.10g}), without a "
                                                             "unit")
    raise TypedValueError(f"value is not a number: the cell holds a unit or text ({typed!r}) besides the number",
                          f"the number alone, in {unit or 'the unit shown'}")


def read_code(raw: str) -> tuple[str, str | None]:
    """An entity or indicator code as typed: full-width letters and spaces around are tidied, with a note."""
    text = normalise_text(raw)
    return text, (f"code {raw!r} read as {text!r} (full-width characters or spaces)"
                  if text != str(raw).strip() else None)
