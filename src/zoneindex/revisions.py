"""Revisions: what changed between two editions of a study, and series chain-linked across a changed framework.

The change of every number that edition Y−1 and edition Y share is split into the effect of a changed
framework or method, of revised data and of new data (GII 2012 practice), recomputing the old data with
the definition each edition keeps (``editions.DEFINITION``); indicators added, dropped or redefined are
listed, and the series are chain-linked at the overlap year.
"""
from __future__ import annotations

import pandas as pd

import math

from zoneindex import paths, score as scoring
from zoneindex.editions import DEFINITION
from zoneindex.study import Study, load_study, read_entity_names
from zoneindex.tables import read_stage_table

REVISED_COLUMNS = ["entity", "year", "indicator", "previous", "revised", "change", "file", "sheet", "row", "column",
                   "how", "compared_with"]


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


def _given(value, default):
    return default if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _standard(table: pd.DataFrame, study: Study) -> pd.DataFrame:
    names = read_entity_names(study)
    lookup = dict(zip(names["raw"].astype(str), names["entity"].astype(str))) if names is not None else {}
    return table.assign(entity=table["entity"].astype(str).map(lambda e: lookup.get(e, e)))


def revised_cells(study: Study, ingested: pd.DataFrame, earlier: list[paths.RunPaths],
                  data_revisions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every raw value of an earlier edition's years that this edition reads differently: one row per cell
    with the previous and the revised value, the file, sheet, row and column that revised it, and how (a
    correction workbook, a value typed over in a history column, a changed raw file, a value added or no
    longer given). Compared with each edition in ``earlier`` (the previous one, and the one of the same year
    this run replaces); with none, the cells this ingest revised (``ingest.data_revisions``)."""
    described = data_revisions if data_revisions is not None else pd.DataFrame(columns=REVISED_COLUMNS)
    if not earlier:
        table = described.assign(change=described["revised"] - described["previous"],
                                 compared_with="the data they replace")
        return table.reindex(columns=REVISED_COLUMNS)
    new = _standard(ingested, study)
    how = {(str(r["entity"]), int(r["year"]), str(r["file"])): r for r in described.to_dict("records")}
    frames = []
    for before in earlier:
        path = before.processed / "ingested.csv"
        if not path.exists():
            continue
        old = _standard(read_stage_table(path), study)
        keys = ["entity", "year", "indicator"]
        merged = old[old["year"] <= before.year].merge(new[new["year"] <= before.year], on=keys, how="outer",
                                                       suffixes=("_old", "_new"))
        differ = [not (math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b)))
                  for a, b in zip(merged["value_old"].astype(float), merged["value_new"].astype(float))]
        merged = merged[differ]
        rows = []
        for r in merged.to_dict("records"):
            file = r["source_file_new"] if isinstance(r.get("source_file_new"), str) else r["source_file_old"]
            known = how.get((r["entity"], int(r["year"]), file))
            rows.append({"entity": r["entity"], "year": int(r["year"]), "indicator": r["indicator"],
                         "previous": r["value_old"], "revised": r["value_new"], "file": file,
                         "sheet": known["sheet"] if known else _given(r.get("source_sheet_new"), ""),
                         "row": known["row"] if known else _given(r.get("source_row_new"), None),
                         "column": known["column"] if known else "value",
                         "how": known["how"] if known else ("no longer given" if pd.isna(r["value_new"]) else
                                                            "added" if pd.isna(r["value_old"]) else
                                                            "the raw file's value changed"),
                         "compared_with": f"edition {before.year}" + (" (replaced by this run)"
                                                                     if before.year == int(ingested["year"].max())
                                                                     else "")})
        frames.append(pd.DataFrame(rows, columns=REVISED_COLUMNS))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=REVISED_COLUMNS)
    table["change"] = table["revised"].astype(float) - table["previous"].astype(float)
    return table.sort_values(["compared_with", "entity", "year", "indicator"], ignore_index=True)
