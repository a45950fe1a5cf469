"""Clean: unit harmonisation, denominators, missing data and outliers, with every changed cell logged.

Input and output are the tidy long table ``entity, year, indicator, value, unit, source, flag``. Missing
values stay NaN unless the study asks for imputation; every imputed or treated cell gets a flag and a
row in the treatment log (entity, year, indicator, step, method, before, after).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from zoneindex.errors import InputError
from zoneindex.framework import Framework, raw_units

LOG_COLUMNS = ["entity", "year", "indicator", "step", "method", "before", "after"]


def add_flag(flags: pd.Series, mask, tag: str) -> pd.Series:
    """Append ``tag`` to the ';'-separated flags of the masked rows."""
    mask = pd.Series(mask, index=flags.index)
    return flags.where(~mask, np.where(flags.eq(""), tag, flags + ";" + tag))


def harmonise_units(tidy: pd.DataFrame, raw_units: dict[str, str], conversions: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Convert each value to the unit its series is expected in (``Study.raw_units``) through a declared
    conversion, else refuse it."""
    factor = {(c["from"], c["to"]): float(c["factor"]) for c in conversions}
    target = tidy["indicator"].map(raw_units).fillna("")
    differs = tidy["unit"].fillna("").ne(target) & tidy["unit"].fillna("").ne("")
    tidy = tidy.copy()
    log = []
    for (unit, wanted), rows in tidy[differs].groupby([tidy["unit"], target]):
        if (unit, wanted) not in factor:
            first = rows.iloc[0]
            raise InputError("unit does not match the framework and no conversion is declared "
                             "(add one under unit_conversions in study.yaml)", file=first.get("source_file"),
                             row=first.get("source_row"), column="unit", value=unit,
                             expected=f"{wanted!r} for indicator {first['indicator']}")
        before = tidy.loc[rows.index, "value"]
        tidy.loc[rows.index, "value"] = before * factor[unit, wanted]
        tidy.loc[rows.index, "unit"] = wanted
        tidy.loc[rows.index, "flag"] = add_flag(tidy.loc[rows.index, "flag"], True, f"converted:{unit}->{wanted}")
        log.append(_log_rows(tidy.loc[rows.index], "unit", f"{unit}->{wanted}", before))
    return tidy, _concat_log(log)


def _log_rows(rows: pd.DataFrame, step: str, method: str, before: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"entity": rows["entity"], "year": rows["year"], "indicator": rows["indicator"],
                         "step": step, "method": method, "before": before, "after": rows["value"]})


def _concat_log(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=LOG_COLUMNS)


def denominate(tidy: pd.DataFrame, framework: Framework, denominators: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Divide each indicator by the denominator series the framework names for it, times its scale.

    x' = scale · x / d for the same entity and year (framework columns ``denominator`` and
    ``denominator_scale``). The denominator rows themselves leave the table; a missing denominator
    leaves the indicator value missing (flag ``missing-denominator``), never undivided.
    """
    is_denominator = tidy["indicator"].isin(list(denominators))
    series, tidy = tidy[is_denominator], tidy[~is_denominator].copy()
    if "denominator" not in framework.table or not framework.table["denominator"].fillna("").any():
        return tidy, pd.DataFrame(columns=LOG_COLUMNS)
    by = tidy["indicator"].map(framework.table["denominator"]).fillna("")
    scale = tidy["indicator"].map(framework.table.get("denominator_scale", pd.Series(dtype=float))).fillna(1.0)
    lookup = series.set_index(["entity", "year", "indicator"])["value"]
    divisor = pd.Series([lookup.get((e, y, d), np.nan) if d else np.nan
                         for e, y, d in zip(tidy["entity"], tidy["year"], by)], index=tidy.index)
    rows = by != ""
    before = tidy["value"].copy()
    tidy.loc[rows, "value"] = scale[rows] * tidy.loc[rows, "value"] / divisor[rows]
    tidy.loc[rows, "unit"] = tidy.loc[rows, "indicator"].map(framework.table["unit"])
    tidy["flag"] = add_flag(tidy["flag"], rows & divisor.notna(), "denominated")
    tidy["flag"] = add_flag(tidy["flag"], rows & divisor.isna() & before.notna(), "missing-denominator")
    log = _log_rows(tidy[rows], "denomination", "", before[rows])
    log["method"] = "/" + by[rows] + np.where(scale[rows] != 1, " x" + scale[rows].astype(str), "")
    return tidy, log


def complete_grid(tidy: pd.DataFrame, framework: Framework, years: range) -> pd.DataFrame:
    """Every entity × year × indicator of the study, missing ones as NaN with flag 'missing'."""
    entities = sorted(tidy["entity"].unique())
    grid = pd.MultiIndex.from_product([entities, list(years), framework.indicators],
                                      names=["entity", "year", "indicator"])
    full = tidy.set_index(["entity", "year", "indicator"]).reindex(grid).reset_index()
    full["unit"] = full["indicator"].map(framework.table["unit"])
    full["flag"] = full["flag"].fillna("")
    full["source"] = full["source"].fillna("")
    full["flag"] = add_flag(full["flag"], full["value"].isna(), "missing")
    return full


def _interpolate(wide: pd.DataFrame, method: str, max_gap: int | None) -> pd.DataFrame:
    """Time-based filling within each entity (rows = year): linear inside the series, or carried forward."""
    def fill(block: pd.DataFrame) -> pd.DataFrame:
        by_year = block.droplevel("entity")
        if method == "linear":
            filled = by_year.interpolate(method="index", limit=max_gap, limit_area="inside")
        else:
            filled = by_year.ffill(limit=max_gap)
        return filled.set_axis(block.index)
    return pd.concat([fill(block) for _, block in wide.groupby(level="entity")])


def _cross_section(wide: pd.DataFrame, statistic: str, groups: pd.Series | None) -> pd.DataFrame:
    """Fill from the same year's mean or median over all entities, or over the entity's group only."""
    keys = [wide.index.get_level_values("year")]
    if groups is not None:
        keys.insert(0, wide.index.get_level_values("entity").map(groups))
    return wide.fillna(wide.groupby(keys).transform(statistic))


IMPUTERS: dict[str, Callable[..., pd.DataFrame]] = {
    "linear": lambda wide, max_gap=None, **_: _interpolate(wide, "linear", max_gap),
    "locf": lambda wide, max_gap=None, **_: _interpolate(wide, "locf", max_gap),
    "mean": lambda wide, groups=None, **_: _cross_section(wide, "mean", groups),
    "median": lambda wide, groups=None, **_: _cross_section(wide, "median", groups),
}
OUTLIER_METHODS = {"none", "jrc"}


def to_wide(tidy: pd.DataFrame, framework: Framework) -> pd.DataFrame:
    wide = tidy.pivot(index=["entity", "year"], columns="indicator", values="value")
    return wide.reindex(columns=framework.indicators).sort_index()


def entity_groups(entities: pd.DataFrame | None, group: str | None) -> pd.Series | None:
    """entity → its value in the group column ``group`` (e.g. EurAsia_group), from the entities table."""
    if group is None:
        return None
    if entities is None or group not in entities:
        raise InputError("imputation by group needs that group column for every entity",
                         column="methods.imputation.group", value=group,
                         expected="a column listed under groups: in the study's data section")
    return entities.set_index("entity")[group]


def impute(tidy: pd.DataFrame, framework: Framework, method: str = "none", entities: pd.DataFrame | None = None,
           group: str | None = None, **params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fill missing values by the named method; 'none' leaves them NaN. Observed values never change."""
    if method == "none":
        return tidy, pd.DataFrame(columns=LOG_COLUMNS)
    if method not in IMPUTERS:
        raise InputError("unknown imputation method", column="methods.imputation.method", value=method,
                         expected=f"none or one of {sorted(IMPUTERS)}")
    wide = to_wide(tidy, framework)
    filled = IMPUTERS[method](wide, groups=entity_groups(entities, group), **params)
    label = f"{method}:{group}" if group else method
    filled = wide.where(wide.notna(), filled)  # observed values are never changed
    long = filled.stack(future_stack=True).rename("filled")
    tidy = tidy.join(long, on=["entity", "year", "indicator"])
    newly = tidy["value"].isna() & tidy["filled"].notna()
    before = tidy["value"].copy()
    tidy["value"] = tidy["value"].fillna(tidy["filled"])
    tidy["flag"] = add_flag(tidy["flag"].str.replace(r"(^|;)missing", "", regex=True).str.strip(";")
                            .where(newly, tidy["flag"]), newly, f"imputed:{label}")
    log = _log_rows(tidy[newly], "imputation", label, before[newly])
    return tidy.drop(columns="filled"), log


def screen(tidy: pd.DataFrame, framework: Framework, min_availability: float,
           count: str = "observed") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop entity-years whose share of available indicators is below ``min_availability`` (strict <).

    ``count: observed`` counts only values read from a raw file, so imputation cannot rescue an entity
    with too little data; ``count: present`` counts every non-missing value after imputation, which is
    what COINr's ``Screen(dset = "Imputed", unit_screen = "byNA")`` does. Every removed entity-year is
    logged with its availability.
    """
    if count not in ("observed", "present"):
        raise InputError("unknown screening count", column="methods.screening.count", value=count,
                         expected="observed or present")
    observed = tidy["value"].notna()
    if count == "observed":
        observed &= ~tidy["flag"].str.contains("imputed", regex=False)
    availability = observed.groupby([tidy["entity"], tidy["year"]]).mean()
    dropped = availability[availability < min_availability]
    log = pd.DataFrame({"entity": dropped.index.get_level_values("entity"),
                        "year": dropped.index.get_level_values("year"), "indicator": "*", "step": "screening",
                        "method": f"availability < {min_availability:g}", "before": dropped.to_numpy(),
                        "after": np.nan})
    keep = ~pd.MultiIndex.from_frame(tidy[["entity", "year"]]).isin(dropped.index)
    return tidy[keep].reset_index(drop=True), log


def treat_outliers(tidy: pd.DataFrame, framework: Framework, method: str = "none", **params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Outlier treatment by the JRC rule (zoneindex.treat); every changed cell is flagged and logged."""
    if method == "none":
        return tidy, pd.DataFrame(columns=LOG_COLUMNS)
    if method not in OUTLIER_METHODS:
        raise InputError("unknown outlier treatment", column="methods.outliers.method", value=method,
                         expected=f"one of {sorted(OUTLIER_METHODS)}")
    from zoneindex.treat import apply_to_tidy, treat
    _, log, _ = treat(to_wide(tidy, framework), **params)
    return apply_to_tidy(tidy, log), log


def repair_entity_names(tidy: pd.DataFrame, mapping: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replace every spelling of an entity by its standard name from ``mapping`` (columns raw, entity).

    The standard names are the ``entity`` column; a name already standard is left as it is. Every changed
    cell gets the flag ``entity-name-repaired`` and one log row (step ``entity name``, method
    ``<raw> -> <entity>``, before = the raw spelling, after = the standard name, with the ``source_file``
    and ``source_row`` it came from). Refused with an InputError, never dropped: a name that is neither a
    standard name nor a listed spelling; and, after the repair, two rows for the same entity, year and
    indicator (two spellings of one entity in the same table), naming both rows.
    """
    def _row(value) -> int | None:
        return None if value is None or value == "" or pd.isna(value) else int(value)

    lookup = dict(zip(mapping["raw"].astype(str), mapping["entity"].astype(str)))
    standard = sorted(set(mapping["entity"].astype(str)))
    names = tidy["entity"].astype(str)
    where = {c: tidy[c] if c in tidy else pd.Series("", index=tidy.index) for c in ("source_file", "source_row")}
    unknown = ~names.isin(standard) & ~names.isin(list(lookup))
    if unknown.any():
        i = unknown.idxmax()
        raise InputError("entity name is neither a standard name nor a spelling listed in the entity-name "
                         "table", file=where["source_file"][i] or None, row=_row(where["source_row"][i]),
                         column="entity", value=names[i],
                         expected=f"one of the {len(standard)} standard names {standard}, or a row "
                                  f"raw,entity for this spelling in the entity-name table")
    repaired = names.map(lambda name: lookup.get(name, name))
    changed = repaired != names
    tidy = tidy.copy()
    tidy["entity"] = repaired
    if "flag" in tidy:
        tidy["flag"] = add_flag(tidy["flag"].fillna(""), changed, "entity-name-repaired")
    key = ["entity", "year", "indicator"]
    twice = tidy.duplicated(key, keep=False)
    if twice.any():
        first_i = twice.idxmax()
        same = twice & (tidy[key] == tidy.loc[first_i, key]).all(axis=1)
        a, b = same[same].index[:2]
        def place(i):
            return f"{names[i]!r} in {where['source_file'][i] or '?'} row {_row(where['source_row'][i])}"
        raise InputError(f"two rows for the same entity, year and indicator after repairing entity names: "
                         f"{place(a)} and {place(b)}", file=where["source_file"][a] or None,
                         row=_row(where["source_row"][a]), column="entity",
                         value=f"{names[a]} / {names[b]} -> {repaired[a]}",
                         expected="one row per entity-year-indicator: two spellings of one entity carry the "
                                  "same series, so one of the rows is wrong or the table maps a name wrongly")
    log = pd.DataFrame({"entity": repaired[changed], "year": tidy.loc[changed, "year"],
                        "indicator": tidy.loc[changed, "indicator"], "step": "entity name",
                        "method": names[changed] + " -> " + repaired[changed], "before": names[changed],
                        "after": repaired[changed], "source_file": where["source_file"][changed],
                        "source_row": where["source_row"][changed]},
                       columns=LOG_COLUMNS + ["source_file", "source_row"])
    return tidy, log.reset_index(drop=True)


def clean(tidy: pd.DataFrame, framework: Framework, years: range, methods: dict,
          conversions: list[dict] | None = None, denominators: dict | None = None,
          entities: pd.DataFrame | None = None,
          entity_names: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The whole clean stage, in COINr's order: units, denominators, complete grid, imputation, screening,
    outlier treatment, after repairing entity names when the study has an entity-name table
    (``ingest.read_entity_names``). Returns the clean table and the log of every changed or removed value."""
    name_log = None
    if entity_names is not None:
        tidy, name_log = repair_entity_names(tidy, entity_names)
    tidy, unit_log = harmonise_units(tidy, raw_units(framework, denominators or {}), conversions or [])
    tidy, denominator_log = denominate(tidy, framework, denominators or {})
    tidy = complete_grid(tidy, framework, years)
    spec = dict(methods.get("imputation") or {"method": "none"})
    tidy, impute_log = impute(tidy, framework, spec.pop("method"), entities, **spec)
    screen_log = pd.DataFrame(columns=LOG_COLUMNS)
    if methods.get("screening"):
        tidy, screen_log = screen(tidy, framework, **methods["screening"])
    spec = dict(methods.get("outliers") or {"method": "none"})
    tidy, outlier_log = treat_outliers(tidy, framework, spec.pop("method"), **spec)
    columns = ["entity", "year", "indicator", "value", "unit", "source", "flag"]
    log = _concat_log([unit_log, denominator_log, impute_log, screen_log, outlier_log])
    if name_log is not None:  # the entity-name repairs come first, with the file and row they came from
        log = _concat_log([name_log, log.reindex(columns=name_log.columns)]).reindex(columns=name_log.columns)
    return tidy[columns + [c for c in tidy.columns if c not in columns]], log


def clean_study(study, tidy: pd.DataFrame, years: range, entities: pd.DataFrame | None = None,
                methods: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``clean`` with everything a study definition declares: its methods (or ``methods`` instead), unit
    conversions, denominators and entity-name table."""
    from zoneindex.ingest import read_entity_names

    return clean(tidy, study.framework, years, methods or study.methods, study.config.get("unit_conversions"),
                 study.denominators, entities, read_entity_names(study))


def missing_summary(clean_table: pd.DataFrame) -> pd.DataFrame:
    """Per indicator: observed, still missing, and imputed values."""
    flags = clean_table["flag"]
    return pd.DataFrame({
        "observed": clean_table["value"].notna() & ~flags.str.contains("imputed"),
        "missing": clean_table["value"].isna(),
        "imputed": flags.str.contains("imputed"),
    }).groupby(clean_table["indicator"], sort=False).sum()


IMPUTATION_TEXT = {
    "none": "Missing values stay missing (NaN); aggregation re-weights over the children that are present.",
    "mean": r"A missing value is replaced by the mean of the same indicator in the same year over {over}: "
            r"$\hat x_{e,j,t} = \frac{1}{|G_e|}\sum_{e' \in G_e} x_{e',j,t}$, observed values only.",
    "median": r"A missing value is replaced by the median of the same indicator in the same year over {over}.",
    "linear": r"A missing value inside an entity's series is interpolated linearly between the nearest "
              r"observed years: $\hat x_t = x_a + (x_b - x_a)\frac{t-a}{b-a}${gap}.",
    "locf": r"A missing value is the entity's last observed value carried forward{gap}.",
}
OUTLIER_TEXT = (
    r"**Outliers: the JRC rule (as COINr's `Treat`).** An indicator needs treatment when "
    r"$|\text{skew}| \ge 2$ and $\text{kurtosis} \ge 3.5$ (sample skewness and excess kurtosis with the "
    r"small-sample corrections, as Excel's SKEW and KURT). While it does and fewer than {winmax} points have "
    r"been treated, every point equal to the extreme on the skewed side is set to the next value inward, and "
    r"the rule is checked again. If the indicator still fails, the untreated values are transformed instead: "
    r"$x' = \ln\big(x - \min x + 0.01(\max x - \min x)\big)$. Every treated value is flagged and logged.")


def describe_methods(methods: dict) -> str:
    """Markdown describing exactly the clean-stage choices of a study (imputation, screening, outliers)."""
    spec = dict(methods.get("imputation") or {"method": "none"})
    name = spec.pop("method")
    over = f"the entities of the same `{spec['group']}`" if spec.get("group") else "all entities"
    gap = f", over gaps of at most {spec['max_gap']} years" if spec.get("max_gap") else ""
    # str.replace, not str.format: the LaTeX is full of braces
    parts = [f"**Imputation: `{name}`.** " + IMPUTATION_TEXT[name].replace("{over}", over).replace("{gap}", gap)]
    screening = methods.get("screening")
    if screening:
        counted = "after imputation" if screening.get("count") == "present" else "observed in a raw file"
        parts.append(f"**Screening.** An entity-year is dropped when less than "
                     f"{float(screening['min_availability']):.0%} of its indicators have a value "
                     f"({counted}).")
    outliers = dict(methods.get("outliers") or {"method": "none"})
    if outliers.get("method") == "jrc":
        parts.append(OUTLIER_TEXT.replace("{winmax}", str(outliers.get("winmax", 5))))
    else:
        parts.append("**Outliers.** No outlier treatment.")
    return "\n\n".join(parts)
