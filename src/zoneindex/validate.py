"""Validate: data coverage, invariants of the scores, direction and range checks, published references.

Each check gives one row of the ``checks`` table: check, status (pass / fail / info), value, detail.
A ``fail`` means a number in the outputs cannot be trusted; the validate notebook stops on it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from zoneindex.framework import Study

BOUNDED = {"goalposts": "scale", "minmax": "scale"}
TOLERANCE = 1e-9


def observed_mask(clean: pd.DataFrame) -> pd.Series:
    """True for values that were observed in a raw file (not missing, not imputed)."""
    return clean["value"].notna() & ~clean["flag"].str.contains("imputed|missing", regex=True)


def coverage(clean: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Share of entities with an observed value, per node (indicators and their aggregates) and year."""
    fw = study.framework
    frame = clean.assign(observed=observed_mask(clean))
    by_indicator = frame.groupby(["indicator", "year"])["observed"].mean().unstack("year")
    rows = {code: by_indicator.loc[code] for code in fw.indicators}
    for code in fw.codes:
        if code not in rows:
            leaves = [c for c in fw.indicators if code in fw.ancestors(c)]
            rows[code] = by_indicator.loc[leaves].mean()
    table = pd.DataFrame(rows).T.loc[fw.codes]
    table.insert(0, "level", fw.table["level"])
    table.index.name = "code"
    return table


def _check(name: str, ok: bool | None, value, detail: str) -> dict:
    status = "info" if ok is None else ("pass" if ok else "fail")
    return {"check": name, "status": status, "value": value, "detail": detail}


def invariant_checks(study: Study, clean: pd.DataFrame, scores: pd.DataFrame, weights: pd.DataFrame,
                     contributions: pd.DataFrame | None) -> list[dict]:
    fw, methods = study.framework, study.methods
    rows = []
    sums = weights[weights["parent"] != ""].groupby("parent")["relative_weight"].sum()
    worst = float((sums - 1).abs().max())
    rows.append(_check("weights sum to 1 in every group", worst < TOLERANCE, worst,
                       f"largest |sum - 1| over {len(sums)} groups"))
    root = scores[scores["code"] == fw.root]
    latest = root[root["year"] == root["year"].max()]
    rows.append(_check("index computed for every entity in the latest year", None,
                       int(latest["value"].notna().sum()), f"of {len(latest)} entities"))
    if study.base_year is not None:
        at_base = scores[scores["year"] == study.base_year]
        rebased = at_base[at_base["level"] >= (1 if methods["normalisation"]["method"] == "ratio_to_base" else 2)]
        if methods.get("rebase") or methods["normalisation"]["method"] == "ratio_to_base":
            deviation = float((rebased["value"] - 100.0).abs().max())
            rows.append(_check(f"base year {study.base_year} = 100 for every node", deviation == 0.0, deviation,
                               f"largest |value - 100| over {len(rebased)} node values"))
    if contributions is not None:
        rows += contribution_checks(study, contributions)
    rows.append(direction_check(study, clean, scores))
    spec = methods["normalisation"]
    if spec["method"] in BOUNDED:
        low, high = spec.get("scale", (0, 100))
        level1 = scores.loc[scores["level"] == 1, "value"].dropna()
        inside = bool(((level1 >= low - TOLERANCE) & (level1 <= high + TOLERANCE)).all())
        rows.append(_check(f"normalised values inside [{low}, {high}]", inside,
                           f"{level1.min():.6g}..{level1.max():.6g}", f"{len(level1)} values"))
    return rows


def contribution_checks(study: Study, contributions: pd.DataFrame) -> list[dict]:
    """Children's contributions add up to their parent's change, and the indicators' to the index's change."""
    fw = study.framework
    keys = ["entity", "year"]
    children = contributions[contributions["parent"] != ""]
    summed = children.groupby([*keys, "parent"])["to_parent"].sum().rename("sum")
    own = contributions.set_index([*keys, "code"])["change"]
    own.index = own.index.set_names([*keys, "parent"])
    gap_parent = float((summed - own.reindex(summed.index)).abs().max())
    indicators = contributions[contributions["level"] == 1].groupby(keys)["to_index"].sum()
    index_change = contributions[contributions["code"] == fw.root].set_index(keys)["change"]
    gap_index = float((indicators - index_change.reindex(indicators.index)).abs().max())
    return [
        _check("contributions of children add up to the parent's change", gap_parent < TOLERANCE, gap_parent,
               "largest |sum of children - parent change| (points)"),
        _check("indicator contributions add up to the index change", gap_index < TOLERANCE, gap_index,
               "largest |sum over indicators - index change| (points)"),
    ]


def direction_check(study: Study, clean: pd.DataFrame, scores: pd.DataFrame) -> dict:
    """A normalised indicator never moves against direction × raw value within an entity over time."""
    raw = clean.pivot(index=["entity", "year"], columns="indicator", values="value")
    norm = scores[scores["level"] == 1].pivot(index=["entity", "year"], columns="code", values="value")
    norm = norm.reindex(index=raw.index, columns=raw.columns)
    step_raw = raw.groupby(level="entity").diff() * study.framework.directions.reindex(raw.columns)
    step_norm = norm.groupby(level="entity").diff()
    against = (np.sign(step_raw) * np.sign(step_norm) < 0).to_numpy().sum()
    return _check("normalised values move with direction × raw value", against == 0, int(against),
                  "year-on-year steps of one entity that move the wrong way")


def reference_comparison(study: Study, scores: pd.DataFrame, references: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Set results beside published values: count exact reproductions, or show context values."""
    if references.empty:
        return pd.DataFrame(), []
    rows, tables = [], []
    ours = scores.set_index(["entity", "year", "code"])["value"]
    exact = references[references["rule"].str.startswith("exact")]
    for rule, group in exact.groupby("rule"):
        decimals = int(rule.split(":")[1])
        group = group.assign(ours=ours.reindex(pd.MultiIndex.from_frame(
            group[["entity", "year", "code"]].astype({"year": int}))).to_numpy())
        both = group.dropna(subset=["value", "ours"])
        scale = 10 ** decimals
        match = np.rint(both["ours"] * scale) == np.rint(both["value"] * scale)
        rows.append(_check(f"published values reproduced at {decimals} decimals", bool(match.all()) and len(both) > 0,
                           f"{int(match.sum())}/{len(both)}",
                           f"{len(group)} published values, {len(both)} with a computed value"))
        tables.append(both.assign(ours_rounded=np.rint(both["ours"] * scale) / scale, match=match))
    context = references[references["rule"] == "context"]
    if len(context):
        wanted = sorted({y for spec in study.config.get("references", []) for y in spec.get("compare_years", [])})
        years = [y for y in wanted if y in set(scores["year"])] or sorted(scores["year"].unique())[-3:]
        ours = scores.set_index(["entity", "code", "year"])["value"]
        table = context.copy()
        for year in years:
            table[f"ours_{year}"] = [ours.get((e, c, year), np.nan) for e, c in zip(table["entity"], table["code"])]
        tables.append(table)
        rows.append(_check("published headline figures set beside the results", None, len(context),
                           "context only: the published index was computed from unpublished data"))
    return pd.concat(tables, ignore_index=True), rows


def validate(study: Study, clean: pd.DataFrame, scores: pd.DataFrame, weights: pd.DataFrame,
             contributions: pd.DataFrame | None, references: pd.DataFrame) -> dict[str, pd.DataFrame]:
    comparison, reference_rows = reference_comparison(study, scores, references)
    checks = invariant_checks(study, clean, scores, weights, contributions) + reference_rows
    return {"checks": pd.DataFrame(checks), "coverage": coverage(clean, study).reset_index(),
            "reference_comparison": comparison}
