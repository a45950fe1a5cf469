"""Imputation: the registry of imputers and the step that fills missing values, flagged and logged.

An imputer takes the wide table (entity, year) × indicator and returns it filled: linear interpolation
or last observation carried forward within each entity's series, or the same year's mean or median over
all entities or over the entity's group. Observed values never change; every filled cell gets the flag
``imputed:<method>`` and a row in the treatment log. A new imputer is one entry of :data:`IMPUTERS` and
its description in :data:`IMPUTATION_TEXT`.
"""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from zoneindex.cells import LOG_COLUMNS, add_flag, log_rows, to_wide
from zoneindex.errors import InputError
from zoneindex.framework import Framework
from zoneindex.normalise import refuse_unknown_options


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


def _linear(wide: pd.DataFrame, max_gap: int | None = None, *, groups=None) -> pd.DataFrame:
    """Linear interpolation inside each entity's series, over gaps of at most ``max_gap`` years."""
    return _interpolate(wide, "linear", max_gap)


def _locf(wide: pd.DataFrame, max_gap: int | None = None, *, groups=None) -> pd.DataFrame:
    """The entity's last observed value carried forward, at most ``max_gap`` years."""
    return _interpolate(wide, "locf", max_gap)


def _mean(wide: pd.DataFrame, group: str | None = None, *, groups=None) -> pd.DataFrame:
    """The same year's mean over all entities, or over the entities of the same ``group`` column."""
    return _cross_section(wide, "mean", groups)


def _median(wide: pd.DataFrame, group: str | None = None, *, groups=None) -> pd.DataFrame:
    """The same year's median over all entities, or over the entities of the same ``group`` column."""
    return _cross_section(wide, "median", groups)


# name -> imputer; its keyword arguments after the wide table are the method's options in study.yaml
# (``groups``, the entity -> group lookup, is supplied by ``impute``)
IMPUTERS: dict[str, Callable[..., pd.DataFrame]] = {"linear": _linear, "locf": _locf, "mean": _mean,
                                                    "median": _median}
# what each choice does, in the words and formulas of the write-up (clean.describe_methods)
IMPUTATION_TEXT = {
    "none": "Missing values stay missing (NaN); aggregation re-weights over the children that are present.",
    "mean": r"A missing value is replaced by the mean of the same indicator in the same year over {over}: "
            r"$\hat x_{e,j,t} = \frac{1}{|G_e|}\sum_{e' \in G_e} x_{e',j,t}$, observed values only.",
    "median": r"A missing value is replaced by the median of the same indicator in the same year over {over}.",
    "linear": r"A missing value inside an entity's series is interpolated linearly between the nearest "
              r"observed years: $\hat x_t = x_a + (x_b - x_a)\frac{t-a}{b-a}${gap}.",
    "locf": r"A missing value is the entity's last observed value carried forward{gap}.",
}


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
    if group is not None:
        params["group"] = group
    refuse_unknown_options(IMPUTERS[method], params, "methods.imputation", skip=1)
    filled = IMPUTERS[method](wide, groups=entity_groups(entities, group), **params)
    label = f"{method}:{group}" if group else method
    filled = wide.where(wide.notna(), filled)  # observed values are never changed
    long = filled.stack(future_stack=True).rename("filled")
    tidy = tidy.join(long, on=["entity", "year", "indicator"])
    tidy.loc[tidy["flag"].str.contains("not-applicable", regex=False), "filled"] = float("nan")  # never imputed
    newly = tidy["value"].isna() & tidy["filled"].notna()
    if method == "locf" and "data_year" in tidy:  # a value carried forward keeps the year it refers to
        years = to_wide(tidy.assign(value=tidy["data_year"]), framework)
        carried = _interpolate(years, "locf", params.get("max_gap")).stack(future_stack=True).rename("carried")
        tidy = tidy.join(carried, on=["entity", "year", "indicator"])
        tidy["data_year"] = tidy["data_year"].where(~newly, tidy["carried"])
        tidy = tidy.drop(columns="carried")
    before = tidy["value"].copy()
    tidy["value"] = tidy["value"].fillna(tidy["filled"])
    tidy["flag"] = add_flag(tidy["flag"].str.replace(r"(^|;)missing", "", regex=True).str.strip(";")
                            .where(newly, tidy["flag"]), newly, f"imputed:{label}")
    log = log_rows(tidy[newly], "imputation", label, before[newly])
    return tidy.drop(columns="filled"), log
