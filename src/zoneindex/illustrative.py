"""Illustrative indicator panel for a study whose indicator values are not public (the CDHT index).

Only a handful of zone-level facts are public, so every other value has to be generated. Each row says
which it is: ``public`` rows carry the fact's URL, ``illustrative`` rows name the generator and seed, so
an invented number can never pass as data. Generated paths go exactly through the public values.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from zoneindex.errors import InputError

ENTITY = "CDHT"
BASE_YEAR = 2018
GENERATOR = "scripts/make_cdht_illustrative_panel.py"
FULL_YEAR_PERIODS = ("year", "year-end")
RELIABILITY_RANK = {"high": 0, "medium": 1, "low": 2}
BOUND_NOTES = {">": "lower bound ('>' in source)", "~": "approximate ('~' in source)"}
COLUMNS = ["entity", "year", "indicator", "value", "unit", "status", "source", "note"]


def public_anchors(facts: pd.DataFrame, fact_map: pd.DataFrame, years: range) -> pd.DataFrame:
    """One public value per indicator-year, in framework units: highest reliability, then first row.

    Part-year and snapshot periods are left out because the panel holds full-year values.
    """
    full = facts[facts["period"].isin(FULL_YEAR_PERIODS) & facts["year"].isin(years)]
    pairs = (full.rename(columns={"entity": "fact_entity", "indicator": "fact_indicator"})
             .reset_index(names="row").merge(fact_map.drop(columns="note"), on=["fact_entity", "fact_indicator"]))
    matched = pairs[pairs["unit"] == pairs["fact_unit"]]
    # A factor is only valid for the unit it was written for; a fact in another unit must not slip through.
    orphans = pairs[~pairs["row"].isin(matched["row"])]
    if len(orphans):
        first = orphans.iloc[0]
        raise InputError("full-year fact has a unit that fact_map gives no factor for", file="fact_map.csv",
                         value=f"{first['fact_entity']} / {first['fact_indicator']}: {first['unit']}",
                         expected="a fact_map row with this fact_unit")
    text = matched["value"].astype(str).str.strip()
    marker = text.str[0].map(BOUND_NOTES).fillna("")
    number = pd.to_numeric(text.str.lstrip(">~").str.replace(",", "", regex=False)) * matched["factor"]
    proxy = np.where(matched["fact_entity"] != ENTITY, matched["fact_entity"] + " value (city proxy)", "")
    notes = ["; ".join(filter(None, parts)) for parts in zip(proxy, marker, matched["note"].fillna(""))]
    return (matched.assign(value=number, rank=matched["reliability"].map(RELIABILITY_RANK), note=notes,
                           source=matched["source_url"])
            .sort_values(["indicator", "year", "rank", "row"])
            .drop_duplicates(["indicator", "year"])[["indicator", "year", "value", "source", "note"]])


def round_significant(values: np.ndarray, digits: int = 4) -> np.ndarray:
    shift = digits - 1 - np.floor(np.log10(np.abs(values))).astype(int)
    scale = 10.0 ** np.abs(shift)
    # Dividing by an exact power of ten gives the nearest double to the decimal; multiplying would not.
    return np.where(shift >= 0, np.round(values * scale) / scale, np.round(values / scale) * scale)


def make_panel(framework: pd.DataFrame, facts: pd.DataFrame, fact_map: pd.DataFrame,
               assumptions: pd.DataFrame, years: range, seed: int) -> pd.DataFrame:
    """Complete long panel (every indicator x year) of public anchors and seeded illustrative values.

    Per indicator the log level is a seeded random walk (annual log growth ~ N(growth_mean, growth_sd))
    plus a shift that is linear between public anchors and constant beyond them. The path therefore hits
    every anchor exactly, carries bridge noise that vanishes at the anchors, and grows on from the outer
    ones; without anchors it goes through the assumed 2018 level. Counts are whole numbers and every
    generated value keeps 4 significant digits, so none pretends to more precision than an assumption.
    """
    indicators = framework.loc[framework["type"] == "Indicator"].set_index("code")
    unknown = sorted(set(fact_map["indicator"]) - set(indicators.index))
    if unknown:
        raise InputError("fact_map names indicators that are not in the framework", file="fact_map.csv",
                         value=unknown)
    params = assumptions.set_index("indicator").reindex(indicators.index)
    missing = params.index[params[["value_2018", "growth_mean", "growth_sd"]].isna().any(axis=1)]
    if len(missing) or (params["value_2018"] <= 0).any():
        raise InputError("every indicator needs a positive value_2018, growth_mean and growth_sd",
                         file="illustrative_assumptions.csv", value=list(missing) or None)

    anchors = public_anchors(facts, fact_map, years)
    if (anchors["value"] <= 0).any():
        raise InputError("public anchors must be positive to lie on a log-normal path", file="facts")
    span = np.arange(min(years[0], BASE_YEAR), max(years[-1], BASE_YEAR) + 1)
    rng = np.random.default_rng(seed)
    steps = (params["growth_mean"].to_numpy()[:, None]
             + params["growth_sd"].to_numpy()[:, None] * rng.standard_normal((len(params), len(span))))
    walk = pd.DataFrame(np.cumsum(steps, axis=1).T, index=span, columns=params.index)

    pinned = np.log(anchors.pivot(index="year", columns="indicator", values="value")
                    .reindex(index=span, columns=params.index))
    unanchored = pinned.columns[pinned.isna().all()]
    pinned.loc[BASE_YEAR, unanchored] = np.log(params.loc[unanchored, "value_2018"])
    level = np.exp(walk + (pinned - walk).interpolate(limit_direction="both")).loc[list(years)]

    # Indicator-major stacking keeps the framework order, which the left merge preserves.
    panel = (level.T.rename_axis(index="indicator", columns="year").stack().rename("value").reset_index()
             .merge(anchors, on=["indicator", "year"], how="left", suffixes=("", "_public")))
    public = panel["value_public"].notna()
    is_count = panel["indicator"].map(indicators["unit"]).eq("count")
    generated = round_significant(panel["value"].to_numpy())
    generated = np.where(is_count, np.round(generated), generated)
    has_anchor = panel["indicator"].isin(anchors["indicator"])
    panel = panel.assign(
        entity=ENTITY,
        value=np.where(public, panel["value_public"], generated),
        unit=panel["indicator"].map(indicators["unit"]),
        status=np.where(public, "public", "illustrative"),
        source=panel["source"].where(public, f"illustrative: generated by {GENERATOR} (seed {seed})"),
        note=panel["note"].where(public, np.where(
            has_anchor, "generated: seeded path pinned to this indicator's public values",
            "generated: seeded log-normal growth through the illustrative 2018 level")))
    return panel[COLUMNS]
