"""Validate: data coverage, invariants of the scores, direction and range checks, published references.

Each check gives one row of the ``checks`` table: check, status (pass / fail / info), value, detail.
A ``fail`` means a number in the outputs cannot be trusted; the validate notebook stops on it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from zoneindex.study import Study
from zoneindex.treat import kurt, skew

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
    rows.append(edition_year_check(fw.root, scores))
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


def edition_year_check(root_code: str, scores: pd.DataFrame) -> dict:
    """The index in the edition year (the scores' last year) for every entity that has it in an earlier year:
    an index missing there means the year's data are missing, and fails. An entity that never has an index
    (no data for a whole dimension, say) is counted in the detail, not failed."""
    root = scores[scores["code"] == root_code]
    year = root["year"].max()
    latest = root[root["year"] == year]
    ever = set(root.loc[(root["year"] < year) & root["value"].notna(), "entity"])
    missing = sorted(set(latest.loc[latest["value"].isna(), "entity"]) & ever)
    never = sorted(set(root["entity"]) - ever - set(latest.loc[latest["value"].notna(), "entity"]))
    computed = int(latest["value"].notna().sum())
    detail = f"of {len(latest)} entities in {year}"
    if missing:
        detail += f"; missing for {len(missing)} that have it before: {', '.join(map(str, missing[:10]))}"
    if never:
        detail += f"; {len(never)} never have an index: {', '.join(map(str, never[:10]))}"
    return _check("index computed for every entity in the edition year", computed > 0 and not missing, computed,
                  detail)


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


# normalisations that are one increasing function of d·x for all entities of a year (so the ranking of
# entities must follow d·x); base-relative ones (ratio_to_base, chained_growth) are per entity only
SAME_FUNCTION_FOR_ALL = {"minmax", "zscore", "goalposts", "rank", "percentile_rank", "efficacy"}


def direction_check(study: Study, clean: pd.DataFrame, scores: pd.DataFrame) -> dict:
    """A normalised indicator never moves against direction × raw value: within an entity over time, and,
    for normalisations that treat all entities alike, across the entities of a year."""
    raw = clean.pivot(index=["entity", "year"], columns="indicator", values="value")
    norm = scores[scores["level"] == 1].pivot(index=["entity", "year"], columns="code", values="value")
    norm = norm.reindex(index=raw.index, columns=raw.columns)
    directed = raw * study.framework.directions.reindex(raw.columns)
    against = _wrong_way_steps(directed, norm, "entity")
    checked = "year-on-year steps of one entity"
    if study.methods["normalisation"]["method"] in SAME_FUNCTION_FOR_ALL:
        against += _wrong_way_steps(directed, norm, "year")
        checked += " and neighbouring entities of one year (ordered by direction × raw value)"
    return _check("normalised values move with direction × raw value", against == 0, int(against),
                  f"{checked} that move the wrong way")


def _wrong_way_steps(directed: pd.DataFrame, norm: pd.DataFrame, group: str) -> int:
    """Count pairs of neighbours (within each ``group``) whose normalised values are in the opposite order
    of their directed raw values. Neighbours are consecutive rows; across entities the rows are first
    sorted by the directed value of each indicator."""
    count = 0
    for code in directed.columns:
        frame = pd.DataFrame({"x": directed[code], "s": norm[code]}).dropna().reset_index()
        order = [group, "x"] if group == "year" else ["entity", "year"]
        steps = frame.sort_values(order).groupby(group)[["x", "s"]].diff()
        count += int((np.sign(steps["x"]) * np.sign(steps["s"]) < 0).sum())
    return count


def reference_comparison(study: Study, scores: pd.DataFrame, references: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Set results beside published values: count exact reproductions, or show context values."""
    if references.empty:
        return pd.DataFrame(), []
    rows, tables = [], []
    ours = scores.set_index(["entity", "year", "code"])["value"]
    references = references.assign(rule=references["rule"].where(~references["rule"].str.startswith("exact"), "match"))
    if "decimals" not in references:  # a references table written before tolerances and rounding rules
        references = references.assign(decimals=3, rounding="half_even", tolerance=0.0)
    exact = references[references["rule"] == "match"]
    for (decimals, rounding, tolerance), group in exact.groupby(["decimals", "rounding", "tolerance"]):
        decimals = int(decimals)
        group = group.assign(ours=ours.reindex(pd.MultiIndex.from_frame(
            group[["entity", "year", "code"]].astype({"year": int}))).to_numpy())
        both = group.dropna(subset=["value", "ours"])
        scale = 10 ** decimals
        units = rounded_units(both["ours"], decimals, rounding)
        match = np.abs(units - np.rint(both["value"] * scale)) <= tolerance * scale + 1e-6
        codes = ", ".join(sorted(map(str, both["code"].unique())))
        rule = f"ours rounded {rounding.replace('_', '-')} to {decimals} decimals" + \
            (f", within {tolerance:g} of the published value" if tolerance else ", equal to the published value")
        name = f"published values reproduced at {decimals} decimals" + \
            ("" if (rounding, tolerance) == ("half_even", 0) else f" ({rounding}, tolerance {tolerance:g})")
        rows.append(_check(name, bool(match.all()) and len(both) > 0, f"{int(match.sum())}/{len(both)}",
                           f"{codes}: {rule}: {int(match.sum())} of {len(both)} compared values match "
                           f"({len(group)} published, {len(group) - len(both)} without a computed value); every "
                           "value is compared, none skipped"))
        tables.append(both.assign(ours_rounded=units / scale, match=match))
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


def rounded_units(values: pd.Series, decimals: int, rounding: str) -> np.ndarray:
    """``values`` rounded to ``decimals`` decimals, in units of the last decimal: half-even (NumPy's
    rint, banker's rounding) or half-up (away from zero at a tie, on the shortest decimal form of the
    number, as a person reading it would round: 0.1235 -> 0.124)."""
    scale = 10 ** decimals
    if rounding == "half_even":
        return np.rint(values.to_numpy(dtype=float) * scale)
    from decimal import ROUND_HALF_UP, Decimal

    step = Decimal(1).scaleb(-decimals)
    return np.array([float(Decimal(repr(float(v))).quantize(step, rounding=ROUND_HALF_UP) * scale) if np.isfinite(v)
                     else np.nan for v in values.to_numpy(dtype=float)])


def validate(study: Study, clean: pd.DataFrame, scores: pd.DataFrame, weights: pd.DataFrame,
             contributions: pd.DataFrame | None, references: pd.DataFrame) -> dict[str, pd.DataFrame]:
    comparison, reference_rows = reference_comparison(study, scores, references)
    checks = invariant_checks(study, clean, scores, weights, contributions) + reference_rows
    return {"checks": pd.DataFrame(checks), "coverage": coverage(clean, study).reset_index(),
            "reference_comparison": comparison}


# --- data quality and statistical coherence (the JRC audit's first steps) ---------------------------

COLLINEAR = 0.9  # |r| above which two indicators of one group are flagged as possibly double-counting


def indicator_statistics(clean: pd.DataFrame, log: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Per indicator: availability, zeros, unique values, distribution, JRC outlier flag, what was changed.

    Skewness and kurtosis are the sample statistics with small-sample corrections (Excel SKEW/KURT), computed
    on the values as scored; the JRC flag is |skew| >= 2 and kurtosis >= 3.5.
    """
    changed = log[log["indicator"] != "*"].groupby(["indicator", "step"]).size().unstack(fill_value=0)
    rows = []
    for code, group in clean.groupby("indicator", sort=False):
        x = group["value"].to_numpy(dtype=float)
        present = x[~np.isnan(x)]
        rows.append({"indicator": code, "values": len(x), "available": len(present) / len(x) if len(x) else np.nan,
                     "observed": float(observed_mask(group).mean()), "zeros": float((present == 0).mean()),
                     "unique": len(np.unique(present)), "mean": present.mean(), "sd": present.std(ddof=1),
                     "min": present.min(), "max": present.max(), "skew": skew(present), "kurtosis": kurt(present)})
    table = pd.DataFrame(rows).set_index("indicator").reindex(study.framework.indicators)
    table["jrc_outlier_flag"] = (table["skew"].abs() >= 2) & (table["kurtosis"] >= 3.5)
    for step in ("imputation", "outliers", "denomination"):
        table[step] = changed[step].reindex(table.index).fillna(0).astype(int) if step in changed else 0
    return table


def entity_availability(clean: pd.DataFrame) -> pd.DataFrame:
    """Share of indicators observed per entity and year (the screening statistic)."""
    return clean.assign(observed=observed_mask(clean)).pivot_table(
        index="entity", columns="year", values="observed", aggfunc="mean")


def _cross_section(scores: pd.DataFrame) -> pd.DataFrame:
    """The matrix the coherence statistics use: entities of the latest year (rows) × nodes (columns)."""
    latest = scores[scores["year"] == scores["year"].max()]
    return latest.pivot(index="entity", columns="code", values="value")


def correlations(scores: pd.DataFrame, study: Study, alpha: float = 0.05) -> pd.DataFrame:
    """Pearson and Spearman correlation of every node with its parent and with the index, over entities.

    A correlation whose p-value is above ``alpha`` is masked (NaN), as COINr's ``get_corr(pval = 0.05)``.
    """
    from scipy import stats

    fw, matrix = study.framework, _cross_section(scores)
    rows = []
    for code in fw.codes:
        if code == fw.root:
            continue
        for target, kind in ((fw.table.at[code, "parent"], "parent"), (fw.root, "index")):
            pair = matrix[[code, target]].dropna()
            row = {"code": code, "level": int(fw.table.at[code, "level"]), "against": kind, "target": target,
                   "n": len(pair)}
            for name, test in (("pearson", stats.pearsonr), ("spearman", stats.spearmanr)):
                usable = len(pair) >= 3 and pair[code].nunique() > 1 and pair[target].nunique() > 1
                r, p = test(pair[code], pair[target]) if usable else (np.nan, np.nan)
                row[name] = r if p <= alpha else np.nan
                row[f"{name}_p"] = p
            rows.append(row)
    return pd.DataFrame(rows)


def collinearity(scores: pd.DataFrame, study: Study, threshold: float = COLLINEAR) -> pd.DataFrame:
    """Pairs of siblings whose Pearson correlation exceeds ``threshold`` in absolute value."""
    fw, matrix = study.framework, _cross_section(scores)
    rows = []
    for parent in [c for c in fw.codes if fw.children(c)]:
        kids = fw.children(parent)
        corr = matrix[kids].corr()
        for i, a in enumerate(kids):
            for b in kids[i + 1:]:
                if abs(corr.at[a, b]) > threshold:
                    rows.append({"group": parent, "a": a, "b": b, "r": corr.at[a, b]})
    return pd.DataFrame(rows, columns=["group", "a", "b", "r"])


def kmo(correlation: np.ndarray) -> float:
    """Kaiser–Meyer–Olkin measure: Σ r² / (Σ r² + Σ partial r²) over the off-diagonal pairs."""
    inverse = np.linalg.pinv(correlation)
    scale = np.sqrt(np.outer(np.diag(inverse), np.diag(inverse)))
    partial = -inverse / scale
    off = ~np.eye(len(correlation), dtype=bool)
    r2, p2 = (correlation[off] ** 2).sum(), (partial[off] ** 2).sum()
    return float(r2 / (r2 + p2))


def group_coherence(scores: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Per aggregate: Cronbach's α of its children, the variance share of their first principal component
    (statsmodels PCA on standardised data) and KMO, over the entities of the latest year.

    α = k/(k−1)·(1 − Σ var(x_j)/var(Σ x_j)). These need more entities than children and at least two
    children; otherwise the row says why they were not computed.
    """
    from statsmodels.multivariate.pca import PCA

    fw, matrix = study.framework, _cross_section(scores)
    rows = []
    for parent in [c for c in fw.codes if fw.children(c)]:
        kids = fw.children(parent)
        data = matrix[kids].dropna()
        row = {"group": parent, "level": int(fw.table.at[parent, "level"]), "children": len(kids), "n": len(data)}
        if len(kids) < 2 or len(data) <= len(kids) or (data.std() == 0).any():
            row["note"] = "not computed: needs two or more varying children and more entities than children"
            rows.append(row)
            continue
        variances = data.var(ddof=1)
        row["cronbach_alpha"] = len(kids) / (len(kids) - 1) * (1 - variances.sum() / data.sum(axis=1).var(ddof=1))
        eigenvalues = PCA(data, standardize=True, ncomp=len(kids), method="eig").eigenvals
        row["pc1_share"] = float(eigenvalues.iloc[0] / eigenvalues.sum())
        row["kmo"] = kmo(data.corr().to_numpy()) if len(kids) >= 3 else np.nan
        row["note"] = ""
        rows.append(row)
    return pd.DataFrame(rows)


def directional_coherence(scores: pd.DataFrame, study: Study) -> pd.DataFrame:
    """For a single entity's time series: the share of year-on-year steps in which each node moves in the
    same direction as its parent (correlations over a handful of years would mean little)."""
    fw = study.framework
    wide = scores.pivot(index="year", columns="code", values="value").sort_index()
    steps = np.sign(wide.diff().iloc[1:])
    rows = []
    for code in fw.codes:
        if code == fw.root:
            continue
        parent = fw.table.at[code, "parent"]
        moving = (steps[code] != 0) & (steps[parent] != 0)
        rows.append({"code": code, "level": int(fw.table.at[code, "level"]), "parent": parent,
                     "steps": int(moving.sum()),
                     "same_direction": float((steps[code] == steps[parent])[moving].mean()) if moving.any() else np.nan})
    return pd.DataFrame(rows)


def coherence(scores: pd.DataFrame, study: Study) -> dict[str, pd.DataFrame]:
    """The coherence tables that fit the study's data: cross-sectional statistics when there are several
    entities, the directional check for a single entity's time series."""
    if scores["entity"].nunique() > 1:
        return {"correlations": correlations(scores, study), "collinearity": collinearity(scores, study),
                "group_coherence": group_coherence(scores, study)}
    return {"directional_coherence": directional_coherence(scores, study)}


def correlation_matrix(scores: pd.DataFrame, study: Study, max_nodes: int = 20) -> pd.DataFrame:
    """Pearson correlations over the entities of the latest year between the aggregates (and the indicators
    too when there are at most ``max_nodes`` nodes in all), in framework order: the heatmap's input."""
    fw = study.framework
    codes = fw.codes if len(fw.codes) <= max_nodes else [c for c in fw.codes if c not in fw.indicators]
    return _cross_section(scores)[codes].corr()
