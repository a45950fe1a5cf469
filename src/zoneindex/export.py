"""The results workbook: every stage table of one edition in one Excel file, for readers without Python.

Written with xlsxwriter and a fixed ``created`` date, so the same tables always give the same bytes
(design/ecosystem.md §5.5). Numbers go in as numbers (read back with openpyxl they equal the CSVs to
Excel's 15-16 significant digits); the number formats only change how they are shown. Sheet names, the
README and (in Chinese) a second header row are in the run's language (``zoneindex.export_sheets``); the
first header row of a table keeps the stage table's column names, so a sheet reads back as its CSV.

Every sheet is set up for print: A4, as many pages wide as its columns need at a legible scale (one for
most), landscape when wide, the header rows (and the entity and year columns of a wide table) repeated
on every page, and the illustrative-data notice on the sheet and in the page header where it applies.
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

from zoneindex.export_sheets import (DEFAULT_NOTICE, column_header, rank_shift_table, raw_matrix, sheet_name,
                                     sheet_notes, trajectory_table, words)
from zoneindex.tables import read_stage_table

TABLE_SHEETS = (("weights", dict.fromkeys(("weight", "relative_weight", "effective_weight"), "weight")),
                ("ingested", {}), ("clean", {}), ("treatment_log", {}))
SCORE_COLUMNS = ("nominal", "mean", "median", "q05", "q95", "change_nominal", "change_median", "change_q05",
                 "change_q95")
UNCERTAINTY_FORMATS = {**dict.fromkeys(SCORE_COLUMNS, "score"), "p_change_positive": "share", "n": "rank"}
RANK_FORMATS = {"nominal_rank": "rank", "mean_rank": "decimal", "median_rank": "decimal", "q05_rank": "decimal",
                "q95_rank": "decimal"}
SOBOL_FORMATS = dict.fromkeys(("S1", "S1_lo", "S1_hi", "ST", "ST_lo", "ST_hi", "S1_half", "ST_half"), "index3")
STATISTICS_FORMATS = {"available": "share", "observed": "share", "zeros": "share", "skew": "decimal",
                      "kurtosis": "decimal"}
MAX_WIDTH = 60
# Print: a portrait A4 page holds about 100 characters of column width at 100 %, a landscape one 145. Sheets
# up to PORTRAIT characters wide print portrait, wider ones landscape, each fitted to one page across; past
# PAGE_ACROSS that would shrink the text below PRINT_SCALE per cent, so such a sheet prints at that scale over
# several pages across, its key columns (entity, year) repeated on each.
PORTRAIT, PAGE_ACROSS, PRINT_SCALE = 120, 230, 63


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
    tables = {p.stem: read_stage_table(p) for p in sorted(processed.glob("*.csv"))}
    manifest_path = processed / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_numbers": False, "strings_to_formulas": False,
                                            "strings_to_urls": False, "nan_inf_to_errors": True})
        wb.set_properties({"title": study.title.get(lang, study.title["en"]), "author": "zoneindex",
                           "created": fixed_created_date()})
        book = _Book(wb, study, lang, tables.get("scores"))
        readme = wb.add_worksheet(sheet_name("readme", lang))  # the first sheet, written once the others are known
        keys = _sheets(book, tables)
        _readme(book, readme, manifest, tables.get("ingested"), processed.name, keys)
        wb.close()
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


class _Book:
    """The workbook being written, with its formats, the study, the run's language and the notice."""

    def __init__(self, wb, study, lang: str, scores: pd.DataFrame | None):
        self.wb, self.study, self.lang = wb, study, lang
        self.f = _formats(wb, scores)
        notices = study.config.get("illustrative_notice") or {}
        self.notice = ((notices.get(lang) or notices.get("en") or DEFAULT_NOTICE[lang == "zh"]).strip()
                       if study.illustrative else None)

    def name(self, code) -> str:
        fw = self.study.framework
        return fw.name(code, self.lang) if code in fw.table.index else ""

    def with_names(self, table: pd.DataFrame, column: str = "code") -> pd.DataFrame:
        """The table with a ``name`` column after ``column`` (node or indicator codes) in the run's language."""
        columns = list(table.columns)
        columns.insert(columns.index(column) + 1, "name")
        codes = table[column]
        names = {code: self.name(code) for code in codes.dropna().unique()}  # each code once (hdi: 99,000 rows)
        return table.assign(name=codes.map(names).where(codes.notna(), ""))[columns]

    def sheet(self, key: str, table: pd.DataFrame, formats: dict, names: dict | None = None,
              freeze_cols: int = 0) -> None:
        """One table on a sheet of its own: notice, header row(s), rows; frozen headers; print set-up."""
        ws, widths = self.wb.add_worksheet(sheet_name(key, self.lang)), {}
        first = 0 if self.notice is None else 1
        shown = self.header_names(table, names)
        end = _table(ws, self.f, table, first, formats, widths, shown)
        header_rows = 1 if shown is None else 2
        ws.freeze_panes(first + header_rows, freeze_cols)
        _fit(ws, widths, self.f["wrap"])
        self.notice_row(ws, widths)
        # Excel and Calc keep a row's height as written: a header row, and a row with text longer than its
        # column (which wraps), is made as high as its wrapped lines
        for row, texts in enumerate([[str(c) for c in table.columns], *([list(shown.values())] if shown else [])]):
            lines = max(_lines(text, widths.get(j, 0)) for j, text in enumerate(texts))
            if lines > 1:
                ws.set_row(first + row, 15 * min(lines, 6))
        long = [j for j, width in widths.items() if width + 2 > MAX_WIDTH]
        for row, values in enumerate(table.iloc[:, long].itertuples(index=False) if long else (),
                                     start=first + header_rows):
            lines = max(_lines(str(v), widths[j]) if isinstance(v, str) else 1 for j, v in zip(long, values))
            if lines > 1:
                ws.set_row(row, 15 * lines)
        self.print_setup(ws, widths, (first, first + header_rows - 1), freeze_cols, end)

    def sections(self, key: str, parts: list[tuple[str, pd.DataFrame, dict]], empty: str | None = None) -> None:
        """Titled tables one under another on one sheet (``empty``: the line to write when there are none)."""
        ws, widths = self.wb.add_worksheet(sheet_name(key, self.lang)), {}
        row = 0 if self.notice is None else 1
        if not parts and empty:
            ws.write_string(row, 0, empty, self.f["wrap"])
            widths[0] = 80
        for title, table, formats in parts:
            ws.write_string(row, 0, title, self.f["title"])
            row = _table(ws, self.f, table, row + 1, formats, widths, self.header_names(table, None)) + 1
        _fit(ws, widths, self.f["wrap"])
        self.notice_row(ws, widths)
        self.print_setup(ws, widths, None, 0, row)

    def header_names(self, table: pd.DataFrame, names: dict | None) -> dict | None:
        """The second header row: the given names (nodes), and in Chinese every column's Chinese header."""
        if self.lang == "en":
            return names
        return {str(c): (names or {}).get(c) or column_header(str(c), "zh") for c in table.columns}

    def notice_row(self, ws, widths: dict) -> None:
        """The illustrative-data notice across the first row (kept free for it) over the sheet's columns,
        as high as its wrapped lines need, when the study's data are illustrative."""
        if self.notice is None:
            return
        label = words("illustrative", self.lang)  # first, in capitals, so that no reader misses it
        text = (label + self.notice[len(label):] if self.notice.upper().startswith(label)
                else f"{label}: {self.notice}")
        # across the columns of the first printed page (about PAGE_ACROSS characters), so that it prints whole
        last, across = 0, 0
        for col, width in sorted(widths.items()):
            if col and across + min(width + 2, MAX_WIDTH) > PAGE_ACROSS:
                break
            last, across = col, across + min(width + 2, MAX_WIDTH)
        across = across or MAX_WIDTH
        if last:
            ws.merge_range(0, 0, 0, last, text, self.f["notice"])
        else:
            ws.write_string(0, 0, text, self.f["notice"])
        ws.set_row(0, 15 * (1 + math.ceil(1.1 * _width(text) / across)))

    def print_setup(self, ws, widths: dict, repeat: tuple[int, int] | None, key_columns: int, rows: int) -> None:
        """A4, fitted to as many pages across as the columns need at a legible scale, landscape when wide;
        header rows and key columns repeated on every page; notice and sheet name in the page header."""
        width = sum(min(w + 2, MAX_WIDTH) for w in widths.values())
        ws.set_paper(9)
        if width > PORTRAIT:
            ws.set_landscape()
        else:
            ws.set_portrait()
        if width > PAGE_ACROSS:
            ws.set_print_scale(PRINT_SCALE)
        else:
            ws.fit_to_pages(1, 0)
        ws.center_horizontally()
        ws.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.6)
        if repeat is not None:
            ws.repeat_rows(*repeat)
        if key_columns and width > PAGE_ACROSS:
            ws.repeat_columns(0, key_columns - 1)
        if rows:
            ws.print_area(0, 0, max(rows - 1, 0), max(max(widths, default=0), 0))
        title = self.study.title.get(self.lang, self.study.title["en"]).replace("&", "&&")
        left = f'&L&"-,Bold"{words("illustrative", self.lang)}' if self.notice else ""
        ws.set_header(f"{left}&C{title}&R&A", {"margin": 0.3})
        ws.set_footer("&C&P / &N", {"margin": 0.3})


def _sheets(book: _Book, tables: dict) -> list[str]:
    """Write every sheet whose tables the run wrote, in reading order; the keys of the sheets written."""
    get, written = tables.get, []

    def done(key):
        written.append(key)

    scores = get("scores")
    if scores is not None:
        wide, codes = _wide(scores, book.study)
        names = {c: book.name(c) for c in codes}
        book.sheet("scores", wide, dict.fromkeys(codes, "score"), names, freeze_cols=2)
        done("scores")
        if scores["entity"].nunique() > 1:
            ranks = scores.groupby(["year", "code"])["value"].rank(ascending=False, method="min")
            book.sheet("ranks", _wide(scores.assign(value=ranks), book.study)[0], dict.fromkeys(codes, "rank"),
                       names, freeze_cols=2)
            done("ranks")
    if (table := get("contributions")) is not None:
        book.sheet("contributions", book.with_names(table),
                   dict.fromkeys(("change", "to_parent", "to_index"), "score"))
        done("contributions")
    for key, formats in TABLE_SHEETS:
        if (table := get(key)) is None:
            continue
        if key == "ingested":
            matrix, indicators = raw_matrix(table, book.study, book.lang)
            book.sheet("raw_matrix", matrix, {}, {i: book.name(i) for i in indicators} if indicators else None,
                       freeze_cols=2 if indicators else 3)
            done("raw_matrix")
        column = "code" if "code" in table else "indicator" if "indicator" in table and key != "weights" else None
        book.sheet(key, book.with_names(table, column) if column else table, formats)
        done(key)
    if (stats := get("indicator_statistics")) is not None:
        parts = [("", book.with_names(stats, "indicator"), STATISTICS_FORMATS)]
        if (pairs := get("collinearity")) is not None and len(pairs):
            parts.append((words("collinearity", book.lang), pairs, {"r": "decimal"}))
        book.sections("data_quality", [(t or sheet_name("data_quality", book.lang), x, f) for t, x, f in parts])
        done("data_quality")
    if (summary := get("uncertainty_summary")) is not None:
        book.sheet("uncertainty", book.with_names(summary.dropna(subset=["nominal"])), UNCERTAINTY_FORMATS)
        done("uncertainty")
    if (ranks := get("uncertainty_ranks")) is not None and len(ranks):
        book.sheet("uncertainty_ranks", book.with_names(ranks.dropna(subset=["nominal_rank"])), RANK_FORMATS)
        done("uncertainty_ranks")
    if (sobol := get("sobol_indices")) is not None:
        book.sheet("sobol", sobol, SOBOL_FORMATS)
        done("sobol")
    _alternatives(book, get("rank_shifts"), get("alternative_trajectories"), done)
    if (revised := get("revised_cells")) is not None:
        book.sections("revisions", [(sheet_name("revisions", book.lang), book.with_names(revised, "indicator"), {})]
                      if len(revised) else [], empty=words("no_revisions", book.lang))
        done("revisions")
    parts = [(words(name, book.lang), table, {c: "share" for c in table.columns
                                              if name == "coverage" and c not in ("code", "level")})
             for name in ("checks", "coverage", "reference_comparison") if (table := get(name)) is not None]
    book.sections("validation", parts)
    done("validation")
    return written


def _alternatives(book: _Book, shifts, trajectories, done) -> None:
    """The alternative method sets: ranks and rank shifts (several entities) or one entity's trajectories."""
    if shifts is not None and len(shifts):
        table, summary = rank_shift_table(shifts, book.lang)
        book.sections("alternatives", [(sheet_name("alternatives", book.lang), table, dict.fromkeys(table, "rank")),
                                       (words("rank_summary", book.lang), summary,
                                        dict.fromkeys(("mean_abs_rank_shift", "max_abs_rank_shift"), "decimal"))])
        done("alternatives")
    elif trajectories is not None and len(trajectories):
        table = trajectory_table(trajectories, book.lang)
        book.sheet("alternatives", table, {c: "score" for c in table.columns if c != "year"})
        done("alternatives")


def _formats(wb, scores: pd.DataFrame | None) -> dict:
    small = scores is not None and scores["value"].abs().max() <= 1  # a 0-1 scale (the HDI) needs 3 decimals
    spec = {"header": {"bold": True, "bg_color": "#EAEEF2", "bottom": 1, "text_wrap": True, "valign": "top"},
            "names": {"italic": True, "bg_color": "#EAEEF2", "bottom": 1, "text_wrap": True, "valign": "top"},
            "title": {"bold": True, "font_size": 13},
            "key": {"bold": True, "valign": "top"}, "wrap": {"text_wrap": True, "valign": "top"},
            "notice": {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#FFF4CE", "font_color": "#4D3800",
                       "border": 2, "border_color": "#BF8700"},
            "score": {"num_format": "0.000" if small else "0.00"}, "weight": {"num_format": "0.0000"},
            "share": {"num_format": "0.0%"}, "rank": {"num_format": "0"}, "decimal": {"num_format": "0.00"},
            "index3": {"num_format": "0.000"}}
    return {name: wb.add_format(props) for name, props in spec.items()}


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


def _table(ws, f, table: pd.DataFrame, row: int, formats: dict, widths: dict, names: dict | None = None) -> int:
    """Write a header (and a row of names if given) and the rows from ``row``; return the next free row."""
    for j, column in enumerate(table.columns):
        ws.write_string(row, j, str(column), f["header"])
        if names is not None:
            ws.write_string(row + 1, j, names.get(column, names.get(str(column), "")) or "", f["names"])
        fmt, values = formats.get(column), table[column].tolist()
        style, first = f.get(fmt), row + (1 if names is None else 2)
        shown = set()
        numbers = []
        if table[column].dtype.kind in "iuf":   # a column of numbers (hdi: most of a million cells), NaN left empty
            numbers = [v for v in values if v == v]
            for i, v in enumerate(values, start=first):
                if v == v:
                    ws.write_number(i, j, v, style)
        else:
            for i, v in enumerate(values, start=first):
                if isinstance(v, (bool, np.bool_)):
                    ws.write_boolean(i, j, bool(v), style)
                elif isinstance(v, (int, float, np.integer, np.floating)):
                    if not math.isnan(v):
                        ws.write_number(i, j, float(v) if isinstance(v, np.floating) else v, style)
                        numbers.append(v)
                elif v is not None and v is not pd.NA:
                    ws.write_string(i, j, str(v), style)
                    shown.add(str(v))
        if numbers:  # the widest shown number is the largest or the smallest (a minus sign)
            # without a format, Excel's "General" shows at most 11 characters of a number
            pattern = {"score": ".3f", "weight": ".4f", "share": ".1%", "rank": ".0f", "decimal": ".2f",
                       "index3": ".3f"}.get(fmt, ".6g")
            shown |= {format(max(numbers), pattern), format(min(numbers), pattern)}
        # headers wrap (text_wrap) at spaces: a long header widens its column only to its longest word
        headers = {str(column), (names.get(column, names.get(str(column), "")) or "") if names else ""}
        words_of_headers = [_width(word) for text in headers for word in text.split()]
        widths[j] = max([widths.get(j, 0), *map(_width, shown - headers), *words_of_headers, 6])
    return row + (1 if names is None else 2) + len(table)


def _lines(text: str, width: int) -> int:
    """Lines of ``text`` wrapped at spaces in a column ``width`` characters wide (as ``_fit`` sets it)."""
    room, lines, line = max(min(width + 2, MAX_WIDTH) - 1, 1), 1, 0
    for word in text.split():
        if line and line + 1 + _width(word) > room:
            lines, line = lines + 1, _width(word)
        else:
            line += (1 if line else 0) + _width(word)
    return lines + max(0, line - 1) // room  # a word longer than the column (Chinese has no spaces) wraps too


def _width(text: str) -> int:
    """Display width: CJK (wide and full-width) characters count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _fit(ws, widths: dict, wrap=None) -> None:
    """Column widths from their contents, at most MAX_WIDTH; a column with longer text wraps it (``wrap``: the
    wrapping format, which Excel applies to the cells written without a format of their own), so no text is
    cut off on screen or on paper."""
    for col, width in sorted(widths.items()):
        ws.set_column(col, col, min(width + 2, MAX_WIDTH), wrap if width + 2 > MAX_WIDTH else None)


def _readme(book: _Book, ws, manifest: dict, ingested: pd.DataFrame | None, edition: str, keys: list[str]) -> None:
    study, lang, f, get, row = book.study, book.lang, book.f, manifest.get, 2
    ws.write_string(0, 0, study.title.get(lang, study.title["en"]), f["title"])
    if book.notice:
        ws.write_string(row, 0, words("illustrative", lang), f["notice"])
        ws.write_string(row, 1, book.notice, f["notice"])
        ws.set_row(row, 15 * (1 + _width(book.notice) // 100))
        row += 2
    w = lambda key: words(key, lang)  # noqa: E731
    years = get("years") or [study.first_year, study.last_year]
    sections = {"": [(w("study"), study.name), (w("edition"), get("edition", edition)),
                     (w("years"), f"{years[0]}–{years[-1]}"),
                     (w("base_year"), get("base_year", study.base_year) or w("no_base")),
                     (w("commit"), get("git_commit", "unknown")), (w("seed"), get("seed", study.seed)),
                     (w("python"), get("python", "")),
                     (w("packages"), ", ".join(f"{k} {v}" for k, v in (get("packages") or {}).items()))],
                w("methods"): _flatten(get("methods") or study.methods), w("sources"): _sources(study, ingested, lang),
                w("hashes"): list((get("inputs") or {}).items()),
                w("sheets"): sheet_notes(lang, keys)}
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
    book.print_setup(ws, {0: 32, 1: 108}, None, 0, row)


def _flatten(methods: dict, prefix: str = "") -> list[tuple[str, str]]:
    items = []
    for key, value in methods.items():
        if isinstance(value, dict):
            items += _flatten(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", json.dumps(value) if isinstance(value, (list, bool)) else str(value)))
    return items


SOURCE_WORDS = {"retrieved": ("retrieved", "获取于"), "licence": ("licence", "许可"),
                "illustrative": ("ILLUSTRATIVE (generated, not data)", "示意（生成的数值，非数据）")}


def _sources(study, ingested: pd.DataFrame | None, lang: str) -> list[tuple[str, str]]:
    """One line per raw file that values came from: its source record if there is one, else the source column."""
    if ingested is None or "source_file" not in ingested:
        return [(f.get("file", ""), "") for f in study.config.get("data", [])]
    say = {k: v[lang == "zh"] for k, v in SOURCE_WORDS.items()}
    items = []
    for file, rows in ingested.groupby("source_file", sort=True):
        record_path = Path(study.raw_folder) / f"{file}.source.yaml"
        if record_path.exists():
            rec = yaml.safe_load(record_path.read_text(encoding="utf-8")) or {}
            parts = [rec.get("title"), rec.get("publisher"), rec.get("url"),
                     f"{say['retrieved']} {rec['retrieved']}" if rec.get("retrieved") else None,
                     f"{say['licence']}: {rec['licence']}" if rec.get("licence") else None,
                     say["illustrative"] if rec.get("illustrative") else None]
            items.append((file, "; ".join(str(p) for p in parts if p)))
        else:
            items.append((file, "; ".join(sorted(rows["source"].dropna().astype(str).unique())[:5])))
    return items
