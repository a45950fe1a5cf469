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
from zoneindex.framework import Framework

LOG_COLUMNS = ["entity", "year", "indicator", "step", "method", "before", "after"]


def add_flag(flags: pd.Series, mask, tag: str) -> pd.Series:
    """Append ``tag`` to the ';'-separated flags of the masked rows."""
    mask = pd.Series(mask, index=flags.index)
    return flags.where(~mask, np.where(flags.eq(""), tag, flags + ";" + tag))


def harmonise_units(tidy: pd.DataFrame, framework: Framework, conversions: list[dict],
                    denominators: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Convert each value to its indicator's unit through a declared conversion, else refuse it."""
    factor = {(c["from"], c["to"]): float(c["factor"]) for c in conversions}
    # a denominated indicator arrives in its numerator's unit (framework column raw_unit)
    raw_unit = framework.table.get("raw_unit", pd.Series("", index=framework.table.index)).fillna("")
    units = {**framework.table["unit"].where(raw_unit == "", raw_unit).to_dict(),
             **{c: d.get("unit", "") for c, d in (denominators or {}).items()}}
    target = tidy["indicator"].map(units).fillna("")
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


IMPUTERS: dict[str, Callable[..., pd.DataFrame]] = {
    "linear": lambda wide, max_gap=None, **_: _interpolate(wide, "linear", max_gap),
    "locf": lambda wide, max_gap=None, **_: _interpolate(wide, "locf", max_gap),
    "mean": lambda wide, **_: wide.fillna(wide.groupby(level="year").transform("mean")),
    "median": lambda wide, **_: wide.fillna(wide.groupby(level="year").transform("median")),
}


OUTLIER_METHODS = {"none"}


def to_wide(tidy: pd.DataFrame, framework: Framework) -> pd.DataFrame:
    wide = tidy.pivot(index=["entity", "year"], columns="indicator", values="value")
    return wide.reindex(columns=framework.indicators).sort_index()


def impute(tidy: pd.DataFrame, framework: Framework, method: str = "none", **params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fill missing values by the named method; 'none' leaves them NaN. Observed values never change."""
    if method == "none":
        return tidy, pd.DataFrame(columns=LOG_COLUMNS)
    if method not in IMPUTERS:
        raise InputError("unknown imputation method", column="methods.imputation.method", value=method,
                         expected=f"none or one of {sorted(IMPUTERS)}")
    wide = to_wide(tidy, framework)
    filled = IMPUTERS[method](wide, **params)
    filled = wide.where(wide.notna(), filled)  # observed values are never changed
    long = filled.stack(future_stack=True).rename("filled")
    tidy = tidy.join(long, on=["entity", "year", "indicator"])
    newly = tidy["value"].isna() & tidy["filled"].notna()
    before = tidy["value"].copy()
    tidy["value"] = tidy["value"].fillna(tidy["filled"])
    tidy["flag"] = add_flag(tidy["flag"].str.replace(r"(^|;)missing", "", regex=True).str.strip(";")
                            .where(newly, tidy["flag"]), newly, f"imputed:{method}")
    log = _log_rows(tidy[newly], "imputation", method, before[newly])
    return tidy.drop(columns="filled"), log


def clean(tidy: pd.DataFrame, framework: Framework, years: range, methods: dict,
          conversions: list[dict] | None = None, denominators: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The whole clean stage: units, denominators, complete grid, imputation; returns the table and the log."""
    tidy, unit_log = harmonise_units(tidy, framework, conversions or [], denominators or {})
    tidy, denominator_log = denominate(tidy, framework, denominators or {})
    tidy = complete_grid(tidy, framework, years)
    spec = dict(methods.get("imputation") or {"method": "none"})
    tidy, impute_log = impute(tidy, framework, spec.pop("method"), **spec)
    columns = ["entity", "year", "indicator", "value", "unit", "source", "flag"]
    return tidy[columns + [c for c in tidy.columns if c not in columns]], _concat_log([unit_log, denominator_log, impute_log])


def missing_summary(clean_table: pd.DataFrame) -> pd.DataFrame:
    """Per indicator: observed, still missing, and imputed values."""
    flags = clean_table["flag"]
    return pd.DataFrame({
        "observed": clean_table["value"].notna() & ~flags.str.contains("imputed"),
        "missing": clean_table["value"].isna(),
        "imputed": flags.str.contains("imputed"),
    }).groupby(clean_table["indicator"]).sum()
