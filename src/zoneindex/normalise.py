"""Normalisation: put every indicator on a common, direction-corrected scale.

Each method takes the wide indicator matrix (rows = entity-year, columns = indicators), the framework
(directions, goalposts, transforms) and the base year, and returns a matrix of the same shape in which
a higher value is always better. Methods are chosen by name in the study definition.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from zoneindex.errors import InputError
from zoneindex.framework import Framework

Normaliser = Callable[..., pd.DataFrame]
NORMALISERS: dict[str, Normaliser] = {}
TRANSFORMS = {"": lambda x: x, "log": np.log}


# How each method turns a raw value x of indicator j (direction d_j) into a score; shown in the write-up.
FORMULAS = {
    "ratio_to_base": r"$$r_{j,t} = 100\,\frac{x_{j,t}}{x_{j,b}} \;(d_j = +1), \qquad "
                     r"r_{j,t} = 100\,\frac{x_{j,b}}{x_{j,t}} \;(d_j = -1)$$ where $b$ is the base year, so "
                     r"every indicator equals 100 in the base year.",
    "goalposts": r"$$s_{j,t} = \frac{T(\min(\max(x_{j,t}, L_j), U_j)) - T(L_j)}{T(U_j) - T(L_j)}$$ with fixed "
                 r"goalposts $L_j, U_j$ from the framework table and a transform $T$ (identity or $\ln$); "
                 r"for $d_j = -1$ the numerator is $T(U_j) - T(x_{j,t})$. The share is mapped onto the chosen scale.",
    "minmax": r"$$s_{j,t} = a + (b - a)\,\frac{d_j x_{j,t} - \min(d_j x_j)}{\max(d_j x_j) - \min(d_j x_j)}$$ "
              r"with the minimum and maximum over all entities and years of the panel.",
    "zscore": r"$$z_{j,t} = m + s\,\frac{d_j x_{j,t} - \overline{d_j x_j}}{\operatorname{sd}(d_j x_j)}$$ over the "
              r"whole panel.",
}


def normaliser(name: str):
    def register(function: Normaliser) -> Normaliser:
        NORMALISERS[name] = function
        return function
    return register


def normalise(matrix: pd.DataFrame, framework: Framework, base_year: int | None, method: str, **params) -> pd.DataFrame:
    """Apply the named method; unknown names are refused with the list of known ones."""
    if method not in NORMALISERS:
        raise InputError("unknown normalisation method", column="methods.normalisation.method", value=method,
                         expected=f"one of {sorted(NORMALISERS)}")
    return NORMALISERS[method](matrix[framework.indicators], framework, base_year, **params)


def base_rows(matrix: pd.DataFrame, base_year: int) -> pd.DataFrame:
    """For every row, the same entity's base-year row (NaN where the entity has no base year)."""
    base = matrix.xs(base_year, level="year")
    entities = matrix.index.get_level_values("entity")
    return base.reindex(entities).set_axis(matrix.index)


@normaliser("ratio_to_base")
def ratio_to_base(matrix, framework, base_year, zero_base: str = "error", offset: float = 0.0):
    """r = 100·x_t/x_b for positive indicators and 100·x_b/x_t for negative ones.

    A zero (or, with ``zero_base: offset``, any) base value is a modelling decision, not an accident:
    ``error`` refuses it naming the indicator and entity; ``offset`` adds ``offset`` to every value of the
    indicator before the ratio (a count that starts at 0 in the base year, say).
    """
    if base_year is None:
        raise InputError("ratio_to_base needs a base year", column="base_year", expected="a year")
    values = matrix + offset if zero_base == "offset" else matrix
    base = base_rows(values, base_year)
    for name, frame in (("base-year", base), ("current", values)):
        bad = (frame <= 0) & frame.notna()
        if bad.to_numpy().any():
            row, column = np.argwhere(bad.to_numpy())[0]
            entity, year = frame.index[row]
            raise InputError(f"{name} value is not positive, so the ratio to the base year is undefined "
                             f"(set methods.normalisation.zero_base: offset to shift the indicator)",
                             row=None, column=frame.columns[column], value=f"{entity} {year}: {frame.iat[row, column]}",
                             expected="values > 0")
    positive = framework.directions.reindex(matrix.columns) > 0
    ratio = 100.0 * (values / base)  # x/x is exactly 1, so the base year is exactly 100
    inverse = 100.0 * (base / values)
    return ratio.where(positive, inverse, axis=1)


def _goalpost_columns(framework: Framework, columns) -> tuple[pd.Series, pd.Series, pd.Series]:
    table = framework.table.loc[list(columns)]
    for column in ("goalpost_lo", "goalpost_hi"):
        if column not in table or table[column].isna().any():
            missing = list(table.index[table[column].isna()]) if column in table else list(columns)
            raise InputError("goalposts missing for indicators", file=framework.source, column=column,
                             value=missing, expected="a number for every indicator")
    return table["goalpost_lo"].astype(float), table["goalpost_hi"].astype(float), table.get(
        "transform", pd.Series("", index=table.index)).fillna("")


@normaliser("goalposts")
def goalposts(matrix, framework, base_year, scale=(0.0, 100.0), cap: bool = True):
    """Fixed goalposts from the framework table, with an optional per-indicator transform (e.g. log).

    s = (T(min(max(x, lo), hi)) − T(lo)) / (T(hi) − T(lo)), mapped onto ``scale``; for negative
    indicators s = (T(hi) − T(x)) / (T(hi) − T(lo)). Fixed goalposts never move when a year is added.
    """
    lo, hi, transform = _goalpost_columns(framework, matrix.columns)
    out = {}
    for code in matrix.columns:
        f = TRANSFORMS[transform[code]]
        x = matrix[code].clip(lo[code], hi[code]) if cap else matrix[code]
        t_lo, t_hi = f(lo[code]), f(hi[code])
        share = (f(x) - t_lo) / (t_hi - t_lo) if framework.directions[code] > 0 else (t_hi - f(x)) / (t_hi - t_lo)
        out[code] = share if tuple(scale) == (0, 1) else scale[0] + (scale[1] - scale[0]) * share
    return pd.DataFrame(out, index=matrix.index)


@normaliser("minmax")
def minmax(matrix, framework, base_year, scale=(0.0, 100.0)):
    """Min-max over the whole panel (all entities and years), after multiplying by the direction."""
    directed = matrix * framework.directions.reindex(matrix.columns)
    low, high = directed.min(), directed.max()
    span = (high - low).replace(0, np.nan)
    return scale[0] + (scale[1] - scale[0]) * (directed - low) / span


@normaliser("zscore")
def zscore(matrix, framework, base_year, mean: float = 0.0, sd: float = 1.0):
    """Standardise over the whole panel (sample sd), after multiplying by the direction."""
    directed = matrix * framework.directions.reindex(matrix.columns)
    return mean + sd * (directed - directed.mean()) / directed.std(ddof=1)
