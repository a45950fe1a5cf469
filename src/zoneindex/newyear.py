"""``zoneindex new-year``: the data-entry workbook for a year that has no data yet (read back by ``entry``).

One row per entity (its standard name, after the study's entity-name repairs) and series: every indicator,
every denominator, and a raw series that feeds several indicators once (provinces: the new-product exports
feed NPEXP and, divided by the denominator NPSALES, NPEXP_SH). Each row gives the unit the value is read in
(the raw unit: a share's numerator in 万元, not the share), the framework's unit and the conversion between
them, the range a value may take, the previous years in the same unit for context, and a validated cell to
fill. Sheets ``about`` (the source record), ``instructions`` (English and Chinese) and a hidden ``written``
(the history as written, which tells a revised history cell from an untouched one) complete it.

Nothing typed is lost: an existing workbook for the year is never overwritten unless ``force``, and then it
is kept as ``entry_<study>_<year>.backup-<n>.xlsx``. A year that already has data is refused (a correction
is a new revision of the submitted workbook, see ``entry``).
"""
from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

from zoneindex import entry, ingest, paths
from zoneindex.errors import InputError
from zoneindex.study import Study, load_study, read_entity_names

FIXED_DATE = datetime(2000, 1, 1)  # workbooks carry no creation time, so reruns give the same bytes
CONTEXT_YEARS = 3

INSTRUCTIONS = [
    ("How to add year {year} to the study {study}", "如何为研究 {study} 增加 {year} 年数据"),
    ("1. Sheet 'data': type the {year} value of each row in the yellow column 'value': a plain number in the unit "
     "of column 'unit' (the unit the value is read in; 'conversion' says how it becomes the framework's unit). "
     "Leave it empty when no value is known: missing stays missing.",
     "1. 在“data”工作表的黄色“value”列填写每一行 {year} 年的数值：按“unit”列所示单位填写纯数字（这是读取数值的单位，"
     "“conversion”列说明如何换算为指标体系的单位）。无数据则留空，缺失值保持缺失。"),
    ("2. The grey columns value_<year> show earlier years for context. A statistical bulletin that revises last "
     "year's figure: type the revised number over the old one; it is read as a revision of that year and listed "
     "in the edition's revision analysis. Do not type {year} values there.",
     "2. 灰色的 value_<年份> 列显示以前年份的数值供参考。若统计公报修订了上年数据，可直接在该格输入修订后的数值，"
     "它将作为该年的修订读取，并列入本版的修订分析。请勿在这些列填写 {year} 年的数值。"),
    ("3. A value more than {jump} times (or less than 1/{jump}) the entity's latest value, or outside the range in "
     "column 'allowed', stops the run with its cell named: if it is right, write 'confirmed' in the row's 'note'.",
     "3. 若数值超过该实体最近数值的 {jump} 倍（或低于其 1/{jump}），或超出“allowed”列的范围，运行将停止并指出该单元格；"
     "若数值确实无误，请在该行“note”列写“confirmed”（或“已确认”）。"),
    ("4. In 'source' give where each value comes from (publication, table, URL). Sheet 'about': fill in publisher, "
     "url, retrieved (a date) and licence of the data as a whole.",
     "4. 在“source”列注明每个数值的来源（出版物、表格、网址）。在“about”工作表填写数据整体的发布机构、网址、"
     "获取日期和许可。"),
    ("5. Save it (as .xlsx, .ods or .xls, under this name) into {raw} and run: zoneindex run --study {study} "
     "--year {year}. The first run records the file's sha256; from then on the file is immutable.",
     "5. 以此文件名（.xlsx、.ods 或 .xls 格式）保存到 {raw}，然后运行：zoneindex run --study {study} --year {year}。"
     "首次运行会记录文件的 sha256，此后文件不可修改。"),
    ("6. A correction of a submitted workbook is a new file beside it: save the corrected copy as "
     "entry_{study}_{year}.r2.xlsx (then .r3 …). It supersedes the first; both are kept, and every changed cell is "
     "listed.",
     "6. 已提交工作簿的更正请另存为新文件：entry_{study}_{year}.r2.xlsx（其后为 .r3 …），与原文件并存。新文件取代旧文件，"
     "两者均保留，每个改动的单元格都会列出。"),
]
HEADER_NOTES = {
    "entity": ("entity (zone, province, country): its standard name", "实体（园区、省份、国家）标准名称"),
    "indicator": ("series code: an indicator or a denominator", "序列代码：指标或分母"),
    "unit": ("the unit to type the value in", "填写数值所用的单位"),
    "framework_unit": ("the indicator's unit in the framework", "指标体系中的单位"),
    "conversion": ("how the value becomes the framework's unit", "数值如何换算为指标体系的单位"),
    "allowed": ("the range a value may take", "数值的允许范围"),
    "value": ("the value to fill in, in column 'unit'", "待填写的数值（按“unit”列单位）"),
    "source": ("where the value comes from", "数值来源"),
    "note": ("a note; 'confirmed' accepts a large change", "备注；写“confirmed”可确认较大变动"),
}
ABOUT_NOTES = {"title": ("what the data are", "数据说明"), "publisher": ("who published them", "发布机构"),
               "url": ("where they were taken from", "网址"), "retrieved": ("date, e.g. 2025-03-15", "获取日期"),
               "licence": ("licence or terms of use", "许可或使用条款"), "study": ("do not change", "请勿修改"),
               "year": ("do not change", "请勿修改")}


def entity_order(study: Study, history: pd.DataFrame) -> tuple[list[str], dict[str, str]]:
    """The entities of the workbook, standard names only, and the spelling -> standard name lookup."""
    table = read_entity_names(study)
    lookup = dict(zip(table["raw"].astype(str), table["entity"].astype(str))) if table is not None else {}
    present = {lookup.get(str(e), str(e)) for e in history["entity"]} if len(history) else set()
    if not present:
        return [study.config.get("focus_entity") or ""], lookup
    order = list(dict.fromkeys(table["entity"].astype(str))) if table is not None else []
    return [e for e in order if e in present] + sorted(present - set(order)), lookup


def in_raw_unit(history: pd.DataFrame, study: Study) -> pd.DataFrame:
    """History values in the unit each series is read in (a declared conversion applied; else left out)."""
    units = study.raw_units()
    factors = {(c["from"], c["to"]): float(c["factor"]) for c in study.config.get("unit_conversions") or []}
    unit = history.get("unit", pd.Series("", index=history.index)).fillna("").astype(str)
    wanted = history["indicator"].map(units).fillna("")
    factor = [1.0 if u in ("", w) else factors.get((u, w), np.nan) for u, w in zip(unit, wanted)]
    return history.assign(value=history["value"] * np.array(factor, dtype=float))


def conversion_text(study: Study, code: str, fed: list[str]) -> str:
    fw = study.framework.table
    if code in study.denominators:
        users = [c for c in study.framework.indicators if "denominator" in fw and fw.at[c, "denominator"] == code]
        return f"denominator: divides {', '.join(users)}" if users else "denominator"
    parts = []
    for c in fed:
        denominator = fw.at[c, "denominator"] if "denominator" in fw else ""
        scale = pd.to_numeric(fw.at[c, "denominator_scale"], errors="coerce") if "denominator_scale" in fw else np.nan
        if denominator:
            scaled = f" × {scale:g}" if pd.notna(scale) and scale != 1 else ""
            parts.append(f"{c} = this ÷ {denominator} of the same year{scaled} ({fw.at[c, 'unit']})")
        elif c != code:
            parts.append(f"{c} = this")
    return "; ".join(parts) or "none (read as typed)"


def allowed_text(low: float, high: float) -> str:
    if pd.notna(low) and pd.notna(high):
        return f"{low:g} to {high:g}"
    return f">= {low:g}" if pd.notna(low) else (f"<= {high:g}" if pd.notna(high) else "any")


def new_year_workbook(study: Study, year: int, history: pd.DataFrame, out: Path) -> Path:
    """Write the data-entry workbook for ``year`` from ``history`` (the ingested table of earlier years)."""
    fw = study.framework.table
    series = entry.entry_series(study)
    entities, lookup = entity_order(study, history)
    history = in_raw_unit(history, study) if len(history) else history
    if len(history):
        history = history.assign(entity=history["entity"].astype(str).map(lambda e: lookup.get(e, e)))
        context = history.pivot_table(index=["entity", "indicator"], columns="year", values="value", aggfunc="first")
        years = [y for y in sorted(context.columns) if y < year][-CONTEXT_YEARS:]
    else:
        context, years = pd.DataFrame(), []
    units, bounds = study.raw_units(), ingest.value_bounds(study)
    out.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(out))
    workbook.set_properties({"created": FIXED_DATE, "title": f"{study.name} {year} data entry"})
    header = workbook.add_format({"bold": True, "bg_color": "#DDDDDD", "border": 1, "text_wrap": True})
    grey = workbook.add_format({"font_color": "#555555", "bg_color": "#EEEEEE", "num_format": "General"})
    to_fill = workbook.add_format({"bg_color": "#FFF2AB", "border": 1, "locked": False})
    columns = ["entity", "indicator", "name_en", "name_zh", "unit", "framework_unit", "conversion", "allowed",
               "direction", "source_type", *[f"value_{y}" for y in years], "value", "source", "note"]
    sheet, written = workbook.add_worksheet(entry.DATA), None
    sheet.write_row(0, 0, columns, header)
    for j, name in enumerate(columns):
        if name in HEADER_NOTES:
            sheet.write_comment(0, j, " / ".join(HEADER_NOTES[name]))
    sheet.freeze_panes(1, 2)
    value_col, first_history = columns.index("value"), columns.index("source_type") + 1
    rows = []
    for entity in entities:
        for code, fed in series.items():
            low, high = (bounds.at[code, "minimum"], bounds.at[code, "maximum"]) if code in bounds.index else \
                (np.nan, np.nan)
            indicator = code in fw.index
            cells = [entity, code, entry.series_name(study, code), entry.series_name(study, code, "zh"),
                     units.get(code, ""), fw.at[code, "unit"] if indicator else "(denominator)",
                     conversion_text(study, code, fed), allowed_text(low, high),
                     ("+" if fw.at[code, "direction"] > 0 else "−") if indicator else "",
                     fw.at[code, "source_type"] if indicator and "source_type" in fw else ""]
            shown = [context.at[(entity, code), y] if (entity, code) in context.index else np.nan for y in years]
            rows.append((entity, code, shown))
            r = len(rows)
            sheet.write_row(r, 0, [str(c) if pd.notna(c) else "" for c in cells])
            for i, value in enumerate(shown):
                if pd.notna(value):
                    sheet.write_number(r, first_history + i, float(value), grey)
                else:
                    sheet.write_blank(r, first_history + i, None, grey)
            for j in (value_col, value_col + 1, value_col + 2):
                sheet.write_blank(r, j, None, to_fill)
            rule = {"criteria": "between", "minimum": low if pd.notna(low) else -1e15,
                    "maximum": high if pd.notna(high) else 1e15}
            sheet.data_validation(r, value_col, r, value_col, {
                "validate": "decimal", **rule, "input_title": "Value / 数值",
                "input_message": f"{year}, in {units.get(code, '')}: a plain number, or empty if unknown / "
                                 "纯数字，未知则留空",
                "error_title": "Not a valid number / 数值无效", "error_message": "Type a plain number in the unit "
                "shown, within column 'allowed', or leave the cell empty. / 请按所示单位填写允许范围内的纯数字，或留空。"})
    sheet.set_column(0, 1, 14)
    sheet.set_column(2, 3, 32)
    sheet.set_column(4, 9, 14)
    sheet.set_column(first_history, len(columns) - 1, 14)
    about = workbook.add_worksheet(entry.ABOUT)
    about.write_row(0, 0, ["field", "value", "meaning / 说明"], header)
    filled = {"title": f"{study.title['en']}: {year} data", "study": study.name, "year": str(year)}
    for i, name in enumerate([*entry.ABOUT_FIELDS, "study", "year"], start=1):
        about.write_string(i, 0, name)
        if filled.get(name) is None:
            about.write_blank(i, 1, None, to_fill)
        else:
            about.write_string(i, 1, filled[name])
        about.write_string(i, 2, " / ".join(ABOUT_NOTES[name]))
    about.set_column(0, 0, 14)
    about.set_column(1, 1, 60)
    about.set_column(2, 2, 40)
    notes = workbook.add_worksheet(entry.INSTRUCTIONS)
    notes.write_row(0, 0, ["English", "中文"], header)
    values = {"year": year, "study": study.name, "raw": f"data/raw/{study.name}/", "jump": f"{entry.DEFAULT_JUMP:g}"}
    for i, (en, zh) in enumerate(INSTRUCTIONS, start=1):
        notes.write_string(i, 0, en.format(**values))
        notes.write_string(i, 1, zh.format(**values))
    notes.set_column(0, 1, 90, workbook.add_format({"text_wrap": True, "valign": "top"}))
    written = workbook.add_worksheet(entry.WRITTEN)
    written.write_row(0, 0, ["entity", "indicator", *[f"value_{y}" for y in years]])
    for r, (entity, code, shown) in enumerate(rows, start=1):
        written.write_row(r, 0, [entity, code])
        for i, value in enumerate(shown):
            if pd.notna(value):
                written.write_number(r, 2 + i, float(value))
    written.hide()
    workbook.close()
    return out


def draft_folder(study: str, out_root: str | Path | None) -> Path:
    return paths.run_paths(study, 2000, out_root).out_root / "data" / "entry" / study


def new_year(study_name: str, year: int, out_root: str | Path | None = None,
             force: bool = False) -> tuple[Path, list[Path]]:
    """Write the workbook for ``year`` into ``<out-root>/data/entry/<study>/``; refused for a year that has data
    and, unless ``force`` (which keeps a backup), when a workbook for the year is there already. Returns the
    workbook and the backups made."""
    study = load_study(study_name)
    if year <= study.first_year:
        raise InputError("a new year must follow the study's first year", column="year", value=year,
                         expected=f"> {study.first_year}")
    tidy, _ = ingest.ingest(study, year)
    has = tidy[(tidy["year"] == year) & tidy["value"].notna()]
    if len(has):
        files = ", ".join(f"{f} ({n} values)" for f, n in has["source_file"].value_counts().sort_index().items())
        raise InputError(f"{year} already has data: {files}",
                         expected=f"a year without data (to correct a submitted workbook, save the corrected copy "
                                  f"beside it as {entry.entry_file_name(study_name, year, 2)})")
    target = draft_folder(study_name, out_root) / entry.entry_file_name(study_name, year)
    found = target.parent.glob(f"{entry.ENTRY_PREFIX}{study_name}_{year}*") if target.parent.exists() else []
    drafts = sorted(p for p in found if p.suffix.lower() in entry.SUFFIXES and ".backup-" not in p.name)
    if drafts and not force:
        raise InputError(f"a workbook for {year} is there already and may hold values typed in: "
                         f"{', '.join(str(p) for p in drafts)}", file=drafts[0],
                         expected="that workbook opened to go on filling it, or new-year run again with --force "
                                  "to write a new one (the old one is then kept as a backup)")
    backups = []
    for draft in drafts:
        n = 1
        while (backup := draft.with_name(f"{draft.stem}.backup-{n}{draft.suffix}")).exists():
            n += 1
        shutil.move(draft, backup)
        backups.append(backup)
    return new_year_workbook(study, year, tidy[tidy["year"] < year], target), backups
