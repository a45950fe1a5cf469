"""Validate: data coverage, invariants of the scores, direction and range checks, published references.

Each check gives one row of the ``checks`` table: check, status (pass / fail / info), value, detail.
A ``fail`` means a number in the outputs cannot be trusted; the validate notebook stops on it. Two ``info``
rows flag what is not wrong but must be read: constant indicators (one value everywhere) and, under ratio to
base, small bases (an indicator ten or more times its base-year level, table ``small_bases``). Beside the
checks, the analyses a study opts into under ``validate:`` in study.yaml: coupling coordination and obstacle
degree (:mod:`zoneindex.coordination`).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from zoneindex import coordination
from zoneindex.cells import to_wide
from zoneindex.normalise import base_floors, base_rows
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
        floored = floored_nodes(study, clean)
        if len(floored):
            rebased = rebased[~pd.MultiIndex.from_frame(rebased[["entity", "code"]]).isin(floored)]
        if methods.get("rebase") or methods["normalisation"]["method"] == "ratio_to_base":
            deviation = float((rebased["value"] - 100.0).abs().max())
            rows.append(_check(f"base year {study.base_year} = 100 for every node", deviation == 0.0, deviation,
                               f"largest |value - 100| over {len(rebased)} node values"
                               + (f" ({len(floored)} nodes of entities with a floored base left out: they score "
                                  "100·x_b/F there)" if len(floored) else "")))
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
    """The checks table, the coverage and the reference comparison; with a ratio-to-base study the small
    bases, and the analyses the study opts into under ``validate:`` (coupling, obstacles)."""
    comparison, reference_rows = reference_comparison(study, scores, references)
    checks = invariant_checks(study, clean, scores, weights, contributions) + [constant_indicator_check(clean)]
    tables = {"coverage": coverage(clean, study).reset_index(), "reference_comparison": comparison}
    small = small_bases(study, clean, scores)
    if small is not None:
        checks.append(small_base_check(study, small))
        tables["small_bases"] = small
    coupled = coupling(study, scores, weights)
    if coupled is not None:
        tables["coupling"] = coupled
    tables.update(obstacles(study, clean, weights))
    return {"checks": pd.DataFrame(checks + reference_rows), **tables}


# --- constant indicators and small bases -----------------------------------------------------------

SMALL_BASE_FACTOR = 10.0  # a ratio-to-base score of 1000: ten times the base-year level


def constant_indicators(clean: pd.DataFrame) -> pd.Series:
    """Indicators with one value in every entity and year that has one: code -> that value."""
    present = clean.dropna(subset=["value"])
    distinct = present.groupby("indicator", sort=False)["value"].agg(["nunique", "first"])
    return distinct.loc[distinct["nunique"] == 1, "first"]


def constant_indicator_check(clean: pd.DataFrame) -> dict:
    """A constant indicator carries no information: every entity and year gets the same score from it (100
    under ratio to base), entropy and CRITIC give it no weight, min-max leaves it missing. Flagged (info)
    with each indicator named, and a warning."""
    constant = constant_indicators(clean)
    present = clean.dropna(subset=["value"])
    named = []
    for code, value in constant.items():
        rows = present[present["indicator"] == code]
        entities, years = rows["entity"].nunique(), rows["year"].nunique()
        named.append(f"{code} = {value:g} in all {len(rows)} values ({entities} entit{'y' if entities == 1 else 'ies'}, "
                     f"{years} year{'' if years == 1 else 's'})")
        warnings.warn(f"constant indicator {code}: {value:g} in every entity and year; it carries no information "
                      "and scores the same everywhere", UserWarning, stacklevel=2)
    detail = ("; ".join(named) + ": it carries no information (the same score everywhere, 100 under ratio to "
              "base; no weight from entropy or CRITIC; missing under min-max); review or drop it") if named else \
        "no indicator has one value in every entity and year"
    return _check("constant indicators (one value in every entity and year)", None, len(constant), detail)


def floored_nodes(study: Study, clean: pd.DataFrame) -> pd.MultiIndex:
    """(entity, code) of the base values that ``ratio_to_base``'s floor raises (and, without rebasing, the
    aggregates above them): these do not score 100 in the base year."""
    spec = study.methods["normalisation"]
    quantile, value = spec.get("base_floor_quantile"), spec.get("base_floor_value")
    if spec["method"] != "ratio_to_base" or (quantile is None and value is None):
        return pd.MultiIndex.from_tuples([], names=["entity", "code"])
    fw = study.framework
    base = _ratio_inputs(study, clean).xs(study.base_year, level="year")
    below = base.lt(base_floors(base, fw, quantile, value), axis=1).stack(future_stack=True)
    pairs = list(below[below].index)
    if not study.methods.get("rebase"):
        pairs += [(entity, parent) for entity, code in pairs for parent in fw.ancestors(code)]
    return pd.MultiIndex.from_tuples(sorted(set(pairs)), names=["entity", "code"])


def _ratio_inputs(study: Study, clean: pd.DataFrame) -> pd.DataFrame:
    """The wide matrix ``ratio_to_base`` divides: the clean values, shifted when the study says so."""
    spec = study.methods["normalisation"]
    raw = to_wide(clean, study.framework)
    return raw + float(spec.get("offset", 0.0)) if spec.get("zero_base") == "offset" else raw


SMALL_BASE_COLUMNS = ["entity", "indicator", "year", "base_value", "value", "ratio", "score", "base_percentile",
                      "index_value"]


def small_bases(study: Study, clean: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame | None:
    """Entity-indicator pairs of a ratio-to-base study whose value in some year is at least ``factor`` times
    the base-year value, direction-adjusted (x_t/x_b, or x_b/x_t for a negative indicator): a tiny base
    that lets one entity dominate a ranking. One row per flagged pair, at its largest ratio: the year, the
    base and that year's value, the ratio, the score it gives (100 × ratio, before any floor), the base's
    percentile among the entities' base values (1 = the largest) and the entity's index that year.
    ``factor``: ``validate.small_bases.factor`` (default 10). None for a study without ratio to base."""
    if study.methods["normalisation"]["method"] != "ratio_to_base" or study.base_year is None:
        return None
    settings = (study.config.get("validate") or {}).get("small_bases") or {}
    factor = float(settings.get("factor", SMALL_BASE_FACTOR))
    fw = study.framework
    raw = _ratio_inputs(study, clean)
    base = base_rows(raw, study.base_year)
    ratio = (raw / base).where(fw.directions > 0, base / raw, axis=1).where((raw > 0) & (base > 0))
    longest = ratio.stack(future_stack=True).dropna().rename("ratio").reset_index()
    if longest.empty:
        return pd.DataFrame(columns=SMALL_BASE_COLUMNS)
    longest.columns = ["entity", "year", "indicator", "ratio"]
    peak = longest.loc[longest.groupby(["entity", "indicator"])["ratio"].idxmax()]
    flagged = peak[peak["ratio"] >= factor].copy()
    base_values = raw.xs(study.base_year, level="year")
    percentile = base_values.rank(pct=True).stack(future_stack=True)
    index = scores[scores["code"] == fw.root].set_index(["entity", "year"])["value"]
    pairs = pd.MultiIndex.from_frame(flagged[["entity", "indicator"]])
    flagged["base_value"] = base_values.stack(future_stack=True).reindex(pairs).to_numpy()
    flagged["value"] = raw.stack(future_stack=True).reindex(pd.MultiIndex.from_frame(flagged[["entity", "year", "indicator"]])).to_numpy()
    flagged["score"] = 100.0 * flagged["ratio"]
    flagged["base_percentile"] = percentile.reindex(pairs).to_numpy()
    flagged["index_value"] = index.reindex(pd.MultiIndex.from_frame(flagged[["entity", "year"]])).to_numpy()
    return flagged.sort_values("ratio", ascending=False)[SMALL_BASE_COLUMNS].reset_index(drop=True)


def small_base_check(study: Study, table: pd.DataFrame) -> dict:
    """The small-base flag as a row of the checks table (info): the entities and pairs flagged, and the
    rules the study can choose."""
    settings = (study.config.get("validate") or {}).get("small_bases") or {}
    factor = float(settings.get("factor", SMALL_BASE_FACTOR))
    spec = study.methods["normalisation"]
    rule = ", ".join(f"{k}: {spec[k]}" for k in ("base_floor_quantile", "base_floor_value", "form") if k in spec)
    if table.empty:
        detail = f"no indicator reaches {factor:g} times its base-year value"
    else:
        pairs = "; ".join(f"{r.entity} {r.indicator} ×{r.ratio:.1f} in {r.year} (base {r.base_value:g})"
                          for r in table.head(10).itertuples())
        entities = ", ".join(map(str, dict.fromkeys(table["entity"])))
        detail = (f"{len(table)} entity-indicator pairs reach {factor:g} times the base-year value (a score of "
                  f"{100 * factor:g} or more) in some year: {pairs}{' …' if len(table) > 10 else ''}; entities: "
                  f"{entities}. Rules against a tiny base: methods.normalisation base_floor_quantile, "
                  "base_floor_value, form: log_ratio, or goalposts instead")
    detail += f" (rule in use: {rule})" if rule else " (rule in use: none, the plain ratio)"
    return _check(f"small bases under ratio to base (a value >= {factor:g} × the base-year value)", None,
                  int(table["entity"].nunique()) if len(table) else 0, detail)


# --- coupling coordination and obstacle degree (opt-in under validate: in study.yaml) --------------

def coupling_parts(study: Study) -> list[str]:
    spec = (study.config.get("validate") or {}).get("coupling") or {}
    fw = study.framework
    parts = spec.get("of", "dimensions")
    return fw.children(fw.root) if parts == "dimensions" else list(parts)


def coupling(study: Study, scores: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame | None:
    """The coupling coordination table of the parts named by ``validate.coupling`` (None when the study
    does not ask for it): see :func:`zoneindex.coordination.coupling_table`."""
    spec = (study.config.get("validate") or {}).get("coupling")
    if spec is None:
        return None
    parts = coupling_parts(study)
    values = scores[scores["code"].isin(parts)].pivot(index=["entity", "year"], columns="code", values="value")
    chosen = spec.get("weights", "equal")
    alpha = None if chosen == "equal" else (weights.set_index("code")["weight"] if chosen == "framework"
                                            else pd.Series(chosen, dtype=float))
    form = spec.get("form", "both")
    rescale = spec.get("rescale", list(coordination.DEFAULT_RESCALE))
    return coordination.coupling_table(values[parts], None if alpha is None else alpha.reindex(parts),
                                       coordination.FORMS if form == "both" else form,
                                       None if rescale == "none" else tuple(rescale), spec.get("over", "panel"))


def obstacles(study: Study, clean: pd.DataFrame, weights: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The obstacle-degree tables ``obstacles`` (every node of every entity-year) and ``top_obstacles``
    when the study asks for them under ``validate.obstacles``; else none."""
    spec = (study.config.get("validate") or {}).get("obstacles")
    if spec is None:
        return {}
    fw = study.framework
    table = coordination.obstacle_table(to_wide(clean, fw), fw, weights.set_index("code")["effective_weight"],
                                        spec.get("over", "panel"))
    return {"obstacles": table, "top_obstacles": coordination.top_obstacles(table, fw, spec.get("top", 3))}


def describe_analyses(study: Study, lang: str = "en", which: tuple[str, ...] = ("coupling", "obstacles")) -> str:
    """Markdown: the formulas and parameters of the analyses (``which`` of coupling, obstacles) this study
    runs beside its scores."""
    settings = study.config.get("validate") or {}
    formulas = coordination.FORMULAS_ZH if lang == "zh" else coordination.FORMULAS
    parts = []
    spec = settings.get("coupling") if "coupling" in which else None
    if spec is not None:
        form = spec.get("form", "both")
        forms = coordination.FORMS if form == "both" else (form,)
        rescale = spec.get("rescale", list(coordination.DEFAULT_RESCALE))
        names = ", ".join(study.framework.name(c, lang) for c in coupling_parts(study))
        head = {"en": f"**Coupling coordination** of {names}: form {', '.join(forms)}; weights of T "
                      f"{spec.get('weights', 'equal')}; rescaling {rescale} over {spec.get('over', 'panel')}.",
                "zh": f"**耦合协调度**（{names}）：模型 {', '.join(forms)}；综合发展指数 T 的权重 "
                      f"{spec.get('weights', 'equal')}；归一化区间 {rescale}，样本 {spec.get('over', 'panel')}。"}
        parts += [head["zh" if lang == "zh" else "en"], formulas["coupling_rescale"],
                  *[formulas[f"coupling_{f}"] for f in forms], formulas["coupling_grades"]]
    spec = settings.get("obstacles") if "obstacles" in which else None
    if spec is not None:
        head = {"en": f"**Obstacle degree**: min-max over {spec.get('over', 'panel')}; the top "
                      f"{spec.get('top', 3)} listed per entity-year.",
                "zh": f"**障碍度**：极差标准化样本 {spec.get('over', 'panel')}；每个单元-年份列出前 "
                      f"{spec.get('top', 3)} 位障碍因子。"}
        parts += [head["zh" if lang == "zh" else "en"], formulas["obstacle"]]
    return "\n\n".join(parts)


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
    table["constant"] = table["unique"] == 1  # one value everywhere: see constant_indicator_check
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
