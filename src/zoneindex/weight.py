"""Weights: nominal weights per node, their within-group (relative) and effective (index-level) values.

Weights are value judgements (OECD/JRC Handbook, step 6) and so they are chosen by name in the study
definition: ``fixed`` takes the framework table's ``weight`` column (expert weights), ``equal`` gives
every sibling the same weight.
"""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from zoneindex.errors import InputError
from zoneindex.framework import Framework

WEIGHTERS: dict[str, Callable[..., pd.Series]] = {
    "fixed": lambda framework, normalised=None: framework.table["weight"].astype(float),
    "equal": lambda framework, normalised=None: pd.Series(1.0, index=framework.table.index),
}


def nominal_weights(framework: Framework, method: str, normalised: pd.DataFrame | None = None) -> pd.Series:
    if method not in WEIGHTERS:
        raise InputError("unknown weighting method", column="methods.weights.method", value=method,
                         expected=f"one of {sorted(WEIGHTERS)}")
    return WEIGHTERS[method](framework, normalised).rename("weight")


def weights_table(framework: Framework, nominal: pd.Series) -> pd.DataFrame:
    """One row per node: nominal, relative (sums to 1 among siblings) and effective weight in the index."""
    table = framework.table[["code", "level", "parent"]].copy()
    table["weight"] = nominal.reindex(table.index)
    table["relative_weight"] = framework.relative_weights(nominal)
    table["effective_weight"] = framework.effective_weights(nominal)
    return table.reset_index(drop=True)
