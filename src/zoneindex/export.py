"""The results workbook: every stage table of one edition in one Excel file, for readers without Python.

Written with xlsxwriter and a fixed ``created`` date, so the same tables always give the same bytes
(design/ecosystem.md §5.5). Numbers go in as numbers (read back with openpyxl they equal the CSVs to
Excel's 15-16 significant digits); the number formats only change how they are shown.
"""
from __future__ import annotations

import json
import math
import os
import unicodedata
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter
import yaml

from zoneindex.tables import read_stage_table

SHEET_NOTES = {
    "Scores": "scores of every node (columns, index first) per entity and year",
    "Ranks": "rank among entities per year and node, 1 = best (studies with more than one entity)",
    "Contributions": "points each node adds to its parent's and to the index's change since the base year",
    "Weights": "nominal weights, relative weights (sum to 1 among siblings) and effective weights in the index",
    "Indicators raw": "indicator values as read from the raw files, with their source file and row",
    "Indicators clean": "indicator values after unit harmonisation, denominators and treatment, with flags",
    "Treatment log": "every value changed by the cleaning stage, before and after",
    "Revised cells": "values of earlier years this edition reads differently (corrections, revisions): the previous "
                     "and the revised value, and the file and cell that revised it (when there are any)",
    "Validation": "checks, data coverage (share of entities with an observed value) and published references",
}
TABLE_SHEETS = (("contributions", "Contributions", dict.fromkeys(("change", "to_parent", "to_index"), "score")),
                ("weights", "Weights", dict.fromkeys(("weight", "relative_weight", "effective_weight"), "weight")),
                ("ingested", "Indicators raw", {}), ("clean", "Indicators clean", {}), ("treatment_log", "Treatment log", {}))
MAX_WIDTH = 60
DEFAULT_NOTICE = "Illustrative data: the values were generated to demonstrate the method; they are not statistics."


def fixed_created_date() -> datetime:
    """The workbook's creation date: SOURCE_DATE_EPOCH if set (reproducible-builds.org), else 2000-01-01."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return datetime.fromtimestamp(int(epoch), timezone.utc).replace(tzinfo=None) if epoch else datetime(2000, 1, 1)


def write_results_workbook(processed: Path, study, out: Path, lang: str = "en") -> Path:
    """Write ``results.xlsx`` (``out`` itself, or inside ``out`` if it is a folder) from the CSVs in ``processed``."""
    processed, out = Path(processed), Path(out)
    if out.is_dir() or not out.suffix:
        out = out / "results.xlsx"
    out.parent.mkdir(parents=True, exist_ok=True)
    read = lambda name: _read_csv(processed / f"{name}.csv")  # noqa: E731
    manifest_path = processed / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    scores, ingested = read("scores"), read("ingested")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_numbers": False, "strings_to_formulas": False,
                                            "strings_to_urls": False, "nan_inf_to_errors": True})
        wb.set_properties({"title": study.title.get(lang, study.title["en"]), "author": "zoneindex",
                           "created": fixed_created_date()})
        f = _formats(wb, scores)
        _readme(wb, f, study, manifest, ingested, processed.name, lang)
        if scores is not None:
            wide, codes = _wide(scores, study)
            names = {c: _name(study, c, lang) for c in codes}
            _sheet(wb, f, "Scores", wide, dict.fromkeys(codes, "score"), names, freeze_cols=2)
            if scores["entity"].nunique() > 1:
                ranks = scores.groupby(["year", "code"])["value"].rank(ascending=False, method="min")
                _sheet(wb, f, "Ranks", _wide(scores.assign(value=ranks), study)[0], dict.fromkeys(codes, "rank"),
                       names, freeze_cols=2)
        for name, sheet, formats in TABLE_SHEETS:
            if (table := ingested if name == "ingested" else read(name)) is not None:
                _sheet(wb, f, sheet, _with_names(table, study, lang) if "code" in table else table, formats)
        if (revised := read("revised_cells")) is not None and len(revised):
            _sheet(wb, f, "Revised cells", revised, {})
        ws, widths, row = wb.add_worksheet("Validation"), {}, 0
        for title, name in (("Checks", "checks"), ("Data coverage: share of entities with an observed value", "coverage"),
                            ("Comparison with published values", "reference_comparison")):
            if (table := read(name)) is not None:
                ws.write_string(row, 0, title, f["title"])
                share = {c: "share" for c in table.columns if name == "coverage" and c not in ("code", "level")}
                row = _table(ws, f, table, row + 1, share, widths) + 1
        _fit(ws, widths)
        wb.close()
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _formats(wb, scores: pd.DataFrame | None) -> dict:
    small = scores is not None and scores["value"].abs().max() <= 1  # a 0-1 scale (the HDI) needs 3 decimals
    spec = {"header": {"bold": True, "bg_color": "#EAEEF2", "bottom": 1},
            "names": {"italic": True, "bg_color": "#EAEEF2", "bottom": 1}, "title": {"bold": True, "font_size": 13},
            "key": {"bold": True, "valign": "top"}, "wrap": {"text_wrap": True, "valign": "top"},
            "notice": {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#FFF4CE", "font_color": "#4D3800",
                       "border": 2, "border_color": "#BF8700"},
            "score": {"num_format": "0.000" if small else "0.00"}, "weight": {"num_format": "0.0000"},
            "share": {"num_format": "0.0%"}, "rank": {"num_format": "0"}}
    return {name: wb.add_format(props) for name, props in spec.items()}


def _read_csv(path: Path) -> pd.DataFrame | None:
    return read_stage_table(path) if path.exists() else None


def _wide(long: pd.DataFrame, study) -> tuple[pd.DataFrame, list[str]]:
    """entity, year × node codes (index first, then each level down), plus illustrative if the table has it."""
    wide = long.pivot_table(index=["entity", "year"], columns="code", values="value", aggfunc="first", dropna=False)
    fw = study.framework
    codes = sorted(wide.columns, key=lambda c: (-int(fw.table.at[c, "level"]), fw.codes.index(c))
                   if c in fw.table.index else (0, len(fw.codes)))
    wide = wide[codes]
    if "illustrative" in long:
        wide["illustrative"] = long.groupby(["entity", "year"])["illustrative"].any()
    return wide.reset_index().rename_axis(columns=None), codes


def _name(study, code, lang) -> str:
    return study.framework.name(code, lang) if code in study.framework.table.index else ""


def _with_names(table: pd.DataFrame, study, lang) -> pd.DataFrame:
    columns = list(table.columns)
    columns.insert(columns.index("code") + 1, "name")
    return table.assign(name=table["code"].map(lambda c: _name(study, c, lang)))[columns]


def _sheet(wb, f, name, table, formats, names=None, freeze_cols=0) -> None:
    ws, widths = wb.add_worksheet(name), {}
    _table(ws, f, table, 0, formats, widths, names)
    ws.freeze_panes(1 if names is None else 2, freeze_cols)
    _fit(ws, widths)


def _table(ws, f, table: pd.DataFrame, row: int, formats: dict, widths: dict, names: dict | None = None) -> int:
    """Write a header (and a row of names if given) and the rows from ``row``; return the next free row."""
    for j, column in enumerate(table.columns):
        ws.write_string(row, j, str(column), f["header"])
        if names is not None:
            ws.write_string(row + 1, j, names.get(column, ""), f["names"])
        fmt, values = formats.get(column), table[column].tolist()
        shown = {str(column), names.get(column, "") if names else ""}
        numbers = []
        for i, v in enumerate(values, start=row + (1 if names is None else 2)):
            if isinstance(v, (bool, np.bool_)):
                ws.write_boolean(i, j, bool(v), f.get(fmt))
            elif isinstance(v, (int, float)):
                if not math.isnan(v):
                    ws.write_number(i, j, v, f.get(fmt))
                    numbers.append(v)
            elif v is not None and v is not pd.NA:
                ws.write_string(i, j, str(v), f.get(fmt))
                shown.add(str(v))
        if numbers:  # the widest shown number is the largest or the smallest (a minus sign)
            pattern = {"score": ".3f", "weight": ".4f", "share": ".1%", "rank": ".0f"}.get(fmt, ".10g")
            shown |= {format(max(numbers), pattern), format(min(numbers), pattern)}
        widths[j] = max([widths.get(j, 0), *map(_width, shown)])
    return row + (1 if names is None else 2) + len(table)


def _width(text: str) -> int:
    """Display width: CJK (wide and full-width) characters count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _fit(ws, widths: dict) -> None:
    for col, width in sorted(widths.items()):
        ws.set_column(col, col, min(width + 2, MAX_WIDTH))


def _readme(wb, f, study, manifest: dict, ingested: pd.DataFrame | None, edition: str, lang: str) -> None:
    ws, row, get = wb.add_worksheet("README"), 2, manifest.get
    ws.write_string(0, 0, study.title.get(lang, study.title["en"]), f["title"])
    if study.illustrative:
        notices = study.config.get("illustrative_notice") or {}
        notice = (notices.get(lang) or notices.get("en") or DEFAULT_NOTICE).strip()
        ws.write_string(row, 0, "ILLUSTRATIVE DATA", f["notice"])
        ws.write_string(row, 1, notice, f["notice"])
        ws.set_row(row, 15 * (1 + _width(notice) // 100))
        row += 2
    years = get("years") or [study.first_year, study.last_year]
    sections = {"": [("Study", study.name), ("Edition", get("edition", edition)), ("Years", f"{years[0]}–{years[-1]}"),
                     ("Base year", get("base_year", study.base_year) or "none (a cross-section each year)"),
                     ("Git commit", get("git_commit", "unknown")), ("Seed", get("seed", study.seed)),
                     ("Python", get("python", "")),
                     ("Packages", ", ".join(f"{k} {v}" for k, v in (get("packages") or {}).items()))],
                "Method choices": _flatten(get("methods") or study.methods), "Sources": _sources(study, ingested),
                "Input hashes (sha256)": list((get("inputs") or {}).items()), "Sheets": list(SHEET_NOTES.items())}
    for section, items in sections.items():
        if section:
            ws.write_string(row, 0, section, f["key"])
            row += 1
        for key, value in items:
            ws.write_string(row, 0, f"  {key}" if section else key, None if section else f["key"])
            ws.write_string(row, 1, str(value), f["wrap"])
            row += 1
        row += 1
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 110)


def _flatten(methods: dict, prefix: str = "") -> list[tuple[str, str]]:
    items = []
    for key, value in methods.items():
        if isinstance(value, dict):
            items += _flatten(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", json.dumps(value) if isinstance(value, (list, bool)) else str(value)))
    return items


def _sources(study, ingested: pd.DataFrame | None) -> list[tuple[str, str]]:
    """One line per raw file that values came from: its source record if there is one, else the source column."""
    if ingested is None or "source_file" not in ingested:
        return [(f.get("file", ""), "") for f in study.config.get("data", [])]
    items = []
    for file, rows in ingested.groupby("source_file", sort=True):
        record_path = Path(study.raw_folder) / f"{file}.source.yaml"
        if record_path.exists():
            rec = yaml.safe_load(record_path.read_text(encoding="utf-8")) or {}
            parts = [rec.get("title"), rec.get("publisher"), rec.get("url"),
                     f"retrieved {rec['retrieved']}" if rec.get("retrieved") else None,
                     f"licence: {rec['licence']}" if rec.get("licence") else None,
                     "ILLUSTRATIVE (generated, not data)" if rec.get("illustrative") else None]
            items.append((file, "; ".join(str(p) for p in parts if p)))
        else:
            items.append((file, "; ".join(sorted(rows["source"].dropna().astype(str).unique())[:5])))
    return items
