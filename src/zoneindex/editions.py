"""Editions: the new-year data-entry workbook, published (frozen) editions, and what changed between editions.

Each run of ``zoneindex run --study S --year Y`` writes edition Y of study S. Editions follow the Our World
in Data idea of versioned, immutable snapshots:

* the edition keeps a copy of the study definition it was computed with (``definition/``), so it can be
  recomputed and compared later even after the framework changed;
* ``zoneindex publish`` freezes an edition; a later run that would replace it is refused unless forced,
  and then the old one is kept aside, never deleted;
* revision analysis splits the change of every overlapping number between edition Y−1 and edition Y into
  the effect of a changed framework or method, of revised data and of new data (GII 2012 practice), and
  indicators added or dropped are chain-linked at the overlap year.
"""
from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd

from zoneindex import paths
from zoneindex.errors import InputError
from zoneindex.framework import Study, load_study

PUBLISHED = "PUBLISHED.json"
DEFINITION = "definition"
ENTRY_PREFIX = "entry_"
FIXED_DATE = datetime(2000, 1, 1)  # workbooks carry no creation time, so reruns give the same bytes
CONTEXT_YEARS = 3


# --- the new-year data-entry workbook -------------------------------------------------------------

INSTRUCTIONS = {
    "en": [
        "How to add year {year} to the study {study}",
        "1. Sheet 'data': type the {year} value of each indicator in the yellow column 'value' (a plain number in "
        "the unit shown; leave it empty when no value is known: missing stays missing). Earlier years are shown "
        "for context only.",
        "2. In 'source' give where each value comes from (publication, table, URL).",
        "3. Sheet 'about': fill in publisher, url, retrieved (date) and licence of the data as a whole.",
        "4. Save the file under the same name into data/raw/{study}/ and run: zoneindex run --study {study} "
        "--year {year}. The first run records the file's sha256; from then on the file is immutable (a "
        "correction is a new file).",
    ],
    "zh": [
        "如何为研究 {study} 增加 {year} 年数据",
        "1. 在“data”工作表的黄色“value”列填写各指标 {year} 年的数值（按所示单位填写纯数字；无数据则留空，缺失值保持缺失）。"
        "以前年份的数值仅供参考。",
        "2. 在“source”列注明每个数值的来源（出版物、表格、网址）。",
        "3. 在“about”工作表填写数据的发布机构、网址、获取日期和许可。",
        "4. 以原文件名保存到 data/raw/{study}/，然后运行：zoneindex run --study {study} --year {year}。"
        "首次运行会记录文件的 sha256，此后文件不可修改（更正请另建新文件）。",
    ],
}
ABOUT_FIELDS = ("title", "publisher", "url", "retrieved", "licence")


def entry_file_name(study: str, year: int) -> str:
    return f"{ENTRY_PREFIX}{study}_{year}.xlsx"


def new_year_workbook(study: Study, year: int, history: pd.DataFrame, out: Path) -> Path:
    """Write the data-entry workbook for ``year``: one row per entity and indicator, with bilingual name,
    unit, direction and source type, the previous years' values for context, a validated numeric cell to
    fill, and sheets with instructions and the source record to complete."""
    import xlsxwriter

    fw = study.framework
    entities = sorted(history["entity"].unique()) if len(history) else [study.config.get("focus_entity", "")]
    context = history.pivot_table(index=["entity", "indicator"], columns="year", values="value", aggfunc="first")
    context_years = [y for y in sorted(context.columns) if y < year][-CONTEXT_YEARS:]
    out.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(out))
    workbook.set_properties({"created": FIXED_DATE, "title": f"{study.name} {year} data entry"})
    header = workbook.add_format({"bold": True, "bg_color": "#DDDDDD", "border": 1, "text_wrap": True})
    grey = workbook.add_format({"font_color": "#555555", "num_format": "General"})
    to_fill = workbook.add_format({"bg_color": "#FFF2AB", "border": 1, "locked": False})
    columns = ["entity", "indicator", "name_en", "name_zh", "unit", "direction", "source_type",
               *[f"value_{y}" for y in context_years], "value", "source", "note"]
    sheet = workbook.add_worksheet("data")
    sheet.write_row(0, 0, columns, header)
    sheet.freeze_panes(1, 2)
    value_col = columns.index("value")
    row = 1
    for entity in entities:
        for code in fw.indicators:
            meta = fw.table.loc[code]
            cells = [entity, code, meta["name_en"], meta.get("name_zh", ""), meta["unit"],
                     "+" if meta["direction"] > 0 else "−", meta.get("source_type", "")]
            sheet.write_row(row, 0, [str(c) if pd.notna(c) else "" for c in cells])
            for i, y in enumerate(context_years):
                value = context.at[(entity, code), y] if (entity, code) in context.index else None
                if value is not None and pd.notna(value):
                    sheet.write_number(row, 7 + i, float(value), grey)
            sheet.write_blank(row, value_col, None, to_fill)
            sheet.write_blank(row, value_col + 1, None, to_fill)
            # Excel refuses what is not a number; counts cannot be negative
            rule = {"criteria": ">=", "value": 0} if meta["unit"] == "count" else \
                {"criteria": "between", "minimum": -1e15, "maximum": 1e15}
            sheet.data_validation(row, value_col, row, value_col, {
                "validate": "decimal", **rule, "input_title": "Value",
                "input_message": f"{year}, in {meta['unit']}: a plain number, or empty if unknown",
                "error_title": "Not a valid number", "error_message": "Type a plain number in the unit shown "
                "(counts are >= 0), or leave the cell empty."})
            row += 1
    sheet.set_column(0, 1, 16)
    sheet.set_column(2, 3, 36)
    sheet.set_column(4, len(columns) - 1, 14)
    about = workbook.add_worksheet("about")
    about.write_row(0, 0, ["field", "value"], header)
    filled = {"title": f"{study.title['en']}: {year} data", "study": study.name, "year": year}
    for i, field in enumerate([*ABOUT_FIELDS, "study", "year"], start=1):
        about.write_string(i, 0, field)
        value = filled.get(field)
        if value is None:
            about.write_blank(i, 1, None, to_fill)
        else:
            about.write(i, 1, value)
    about.set_column(0, 0, 14)
    about.set_column(1, 1, 70)
    notes = workbook.add_worksheet("instructions")
    for i, line in enumerate(INSTRUCTIONS["en"] + [""] + INSTRUCTIONS["zh"]):
        notes.write_string(i, 0, line.format(year=year, study=study.name))
    notes.set_column(0, 0, 120)
    workbook.close()
    return out


def read_entry_about(path: Path) -> dict:
    """The 'about' sheet of a filled entry workbook as a dict, with every source-record field present."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    if "about" not in book.sheetnames:
        raise InputError("entry workbook has no 'about' sheet", file=path, expected=f"sheets {book.sheetnames}")
    fields = {str(k).strip(): v for k, v in book["about"].iter_rows(min_row=2, values_only=True) if k}
    for i, field in enumerate(ABOUT_FIELDS, start=2):
        if fields.get(field) in (None, ""):
            raise InputError("source field left empty", file=path, sheet="about", row=i, column="value",
                             value=field, expected=f"the {field} of the data")
    return fields


# --- published editions ---------------------------------------------------------------------------

def published_record(out: paths.RunPaths) -> dict | None:
    marker = out.reports / PUBLISHED
    return json.loads(marker.read_text(encoding="utf-8")) if marker.exists() else None


def publish(out: paths.RunPaths, when: str | None = None) -> Path:
    """Freeze an edition: record the manifest's hash; later runs that would replace it are refused."""
    manifest = out.processed / "manifest.json"
    if not manifest.exists():
        raise InputError("no edition to publish: run it first", file=manifest)
    from zoneindex.provenance import sha256_file

    marker = out.reports / PUBLISHED
    record = {"study": out.study, "edition": out.year, "published": when or datetime.now().date().isoformat(),
              "manifest_sha256": sha256_file(manifest)}
    marker.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return marker


def guard_published(out: paths.RunPaths, force: bool) -> None:
    """Refuse to replace a published edition; with ``force`` move it aside (never delete it)."""
    record = published_record(out)
    if record is None:
        return
    if not force:
        raise InputError(f"edition {out.year} of {out.study} was published on {record['published']} and is frozen; "
                         "run with --force to recompute it (the published one is then kept aside)",
                         file=out.reports / PUBLISHED)
    n = 1
    while out.processed.with_name(f"{out.year}.superseded-{n}").exists():
        n += 1
    for folder in out.folders():
        if folder.exists():
            folder.rename(folder.with_name(f"{out.year}.superseded-{n}"))


# --- what changed between editions ----------------------------------------------------------------

def snapshot_definition(study: Study, out: paths.RunPaths) -> Path:
    """Copy the study definition into the edition, so the edition can be recomputed as it was."""
    target = out.processed / DEFINITION / study.name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(study.folder, target)
    return target


def previous_edition(out: paths.RunPaths) -> paths.RunPaths | None:
    """The latest edition before ``out.year`` of the same study under ``out``'s out-root (with its definition)."""
    root = out.processed.parent
    years = sorted(int(p.name) for p in root.iterdir() if p.name.isdigit() and int(p.name) < out.year
                   and (p / DEFINITION).exists()) if root.exists() else []
    return paths.run_paths(out.study, years[-1], out.out_root) if years else None


def framework_changes(old: Study, new: Study) -> pd.DataFrame:
    """Indicators added, dropped or redefined (unit, direction, parent, denominator or weight changed)."""
    a, b = old.framework.table, new.framework.table
    rows = [{"code": c, "change": "added", "detail": new.framework.name(c)} for c in new.framework.indicators
            if c not in a.index]
    rows += [{"code": c, "change": "dropped", "detail": old.framework.name(c)} for c in old.framework.indicators
             if c not in b.index]
    for code in [c for c in new.framework.indicators if c in a.index]:
        changed = [f"{col}: {a.at[code, col]} → {b.at[code, col]}"
                   for col in ("unit", "direction", "parent", "denominator", "weight")
                   if col in a and col in b and str(a.at[code, col]) != str(b.at[code, col])]
        if changed:
            rows.append({"code": code, "change": "redefined", "detail": "; ".join(changed)})
    return pd.DataFrame(rows, columns=["code", "change", "detail"])


def revision_analysis(study: Study, out: paths.RunPaths, before: paths.RunPaths,
                      entities: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Split the change of every number the two editions share into three effects that add up exactly.

    With A = old method on old data (the previous edition), B = new method on old data, C = new method on
    the new data of the old years only, D = new method on all new data (this edition):
    method = B − A (framework and methods), revised data = C − B, new data = D − C (through panel-wide
    normalisation or imputation, a new year can move earlier ones), and D − A = method + revised + new.
    """
    from zoneindex import score as scoring
    from zoneindex.pipeline import read_stage_table

    old_study = load_study(study.name, seeds=before.processed / DEFINITION)
    old_data = read_stage_table(before.processed / "ingested.csv")
    new_data = read_stage_table(out.processed / "ingested.csv")
    old_years = range(old_study.first_year, before.year + 1)
    new_years = range(study.first_year, out.year + 1)
    runs = {"A": scoring.rescore(old_study, old_data, old_years, entities).scores,
            "B": scoring.rescore(study, old_data, old_years, entities).scores,
            "C": scoring.rescore(study, new_data[new_data["year"] <= before.year], old_years, entities).scores,
            "D": scoring.rescore(study, new_data, new_years, entities).scores}
    keys = ["entity", "year", "code"]
    table = runs["A"][keys + ["value"]].rename(columns={"value": "previous"})
    for name, frame in runs.items():
        table = table.merge(frame[keys + ["value"]].rename(columns={"value": name}), on=keys, how="inner")
    table = table.drop(columns="A").rename(columns={"D": "current"})
    table["total_change"] = table["current"] - table["previous"]
    table["method_effect"] = table["B"] - table["previous"]
    table["revised_data_effect"] = table["C"] - table["B"]
    table["new_data_effect"] = table["current"] - table["C"]
    table.insert(3, "level", table["code"].map(study.framework.table["level"]))
    changes = framework_changes(old_study, study)
    result = {"revisions": table.drop(columns=["B", "C"]), "framework_changes": changes}
    if len(changes):
        result["linked_scores"] = chain_link(runs["A"], runs["D"], before.year)
    return result


def chain_link(old: pd.DataFrame, new: pd.DataFrame, overlap: int) -> pd.DataFrame:
    """One series per entity and node: the old edition up to the overlap year τ, then the new edition
    scaled by L = old_τ / new_τ, so that a changed indicator set moves only the changes after τ."""
    keys = ["entity", "code"]
    at = lambda frame: frame[frame["year"] == overlap].set_index(keys)["value"]  # noqa: E731
    factor = (at(old) / at(new)).rename("link_factor")
    later = new[new["year"] > overlap].join(factor, on=keys)
    later = later.assign(value=later["value"] * later["link_factor"], series="new × L")
    earlier = old[old["year"] <= overlap].assign(series="previous edition")
    earlier = earlier.join(factor, on=keys)
    linked = pd.concat([earlier, later], ignore_index=True)
    linked = linked[linked["code"].isin(set(old["code"]) & set(new["code"]))]
    return linked[["entity", "year", "code", "level", "value", "series", "link_factor"]].sort_values(
        ["entity", "code", "year"], ignore_index=True)
