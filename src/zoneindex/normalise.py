"""Normalisation: put every indicator on a common, direction-corrected scale.

Each method takes the wide indicator matrix (rows = entity-year, columns = indicators), the framework
(directions, goalposts, transforms) and the base year, and returns a matrix of the same shape in which
a higher value is always better and a missing value stays missing. Methods are chosen by name in the
study definition; their options come from the same place and are checked here.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np
import pandas as pd

from zoneindex.errors import InputError
from zoneindex.framework import Framework

Normaliser = Callable[..., pd.DataFrame]
NORMALISERS: dict[str, Normaliser] = {}
TRANSFORMS = {"": lambda x: x, "log": np.log}
OPTION = "methods.normalisation"


# How each method turns a raw value x of indicator j (direction d_j) into a score; shown in the write-up.
FORMULAS = {
    "ratio_to_base": r"$$r_{j,t} = 100\,\frac{x_{j,t}}{x_{j,b}} \;(d_j = +1), \qquad "
                     r"r_{j,t} = 100\,\frac{x_{j,b}}{x_{j,t}} \;(d_j = -1)$$ where $b$ is the base year, so "
                     r"every indicator equals 100 in the base year. Against a tiny base (a score of 1000 is ten "
                     r"times the base): with `base_floor_quantile` $q$ (or `base_floor_value` $v$) a positive "
                     r"indicator's base becomes $\max(x_{j,b}, F_j)$, $F_j$ the $q$-quantile of the base-year "
                     r"values of all entities (or $v$), and a floored entity scores $100\,x_{j,b}/F_j$ in the "
                     r"base year; with `form: log_ratio`, $r_{j,t} = 100\,(1 + \ln(x_{j,t}/x_{j,b}))$ "
                     r"($d_j = +1$; the inverse ratio for $d_j = -1$), 100 in the base year.",
    "goalposts": r"$$s_{j,t} = \frac{T(\min(\max(x_{j,t}, L_j), U_j)) - T(L_j)}{T(U_j) - T(L_j)}$$ with fixed "
                 r"goalposts $L_j, U_j$ from the framework table and a transform $T$ (identity or $\ln$); "
                 r"for $d_j = -1$ the numerator is $T(U_j) - T(x_{j,t})$. The share is mapped onto the chosen scale.",
    "minmax": r"$$s_{j,t} = a + (b - a)\,\frac{d_j x_{j,t} - \min(d_j x_j)}{\max(d_j x_j) - \min(d_j x_j)}$$ "
              r"with the minimum and maximum over all entities and years of the panel, or, for indicators "
              r"given fixed goalposts $[L_j, U_j]$, $\min = d_j L_j$ and $\max = d_j U_j$ (swapped for "
              r"$d_j = -1$), so that adding a year never changes earlier scores.",
    "zscore": r"$$z_{j,t} = m + s\,\frac{d_j x_{j,t} - \overline{d_j x_j}}{\operatorname{sd}(d_j x_j)}$$ over the "
              r"whole panel.",
    "rank": r"$$s_{i,j,t} = \operatorname{rank}_{t}(d_j x_{i,j,t})$$ among the entities observed in year $t$ "
            r"(1 = worst; tied entities get the mean of the ranks they span, or the lowest or highest of "
            r"them when the study says so).",
    "percentile_rank": r"$$s_{i,j,t} = 100\,\frac{\operatorname{rank}_{t}(d_j x_{i,j,t}) - 1}{n_{j,t} - 1}$$ "
                       r"with $n_{j,t}$ entities observed in year $t$ (0 = worst, 100 = best).",
    "distance_to_reference": r"$$s_{i,j,t} = c\,\frac{x_{i,j,t}}{x_{j,t}^{\mathrm{ref}}} \;(d_j = +1), \qquad "
                             r"s_{i,j,t} = c\,\frac{x_{j,t}^{\mathrm{ref}}}{x_{i,j,t}} \;(d_j = -1)$$ where the "
                             r"reference is a chosen entity in the same year, or the same entity in a chosen "
                             r"year, and $c$ the scale (100 by default).",
    "chained_growth": r"$$g_{j,t} = \frac{x_{j,t}}{x_{j,t-1}} - 1 \;(d_j = +1), \qquad "
                      r"g_{j,t} = \frac{x_{j,t-1}}{x_{j,t}} - 1 \;(d_j = -1)$$ $$r_{j,b} = 100, \qquad "
                      r"r_{j,t} = r_{j,t-1}(1 + g_{j,t}) \;(t > b), \qquad r_{j,t-1} = \frac{r_{j,t}}{1 + g_{j,t}} "
                      r"\;(t \le b)$$ (the NBS China Innovation Index growth chain, at indicator level). For one "
                      r"indicator the chain telescopes to the ratio to the base year; the study then aggregates "
                      r"these chained indicator indices. A missing year breaks the chain beyond it.",
    "efficacy": r"$$d_{j,t} = 60 + 40\,\frac{x_{j,t} - x_j^{s}}{x_j^{h} - x_j^{s}}$$ (efficacy coefficient, "
                r"功效系数法) with the satisfactory value $x_j^{h} = U_j$ and the impermissible value $x_j^{s} = L_j$ "
                r"when $d_j = +1$, and the reverse when $d_j = -1$, where $L_j, U_j$ are the framework goalposts "
                r"or else the panel minimum and maximum. Optionally "
                r"clipped to $[60, 100]$.",
    "vector": r"$$r_{i,j,t} = d_j\,\frac{x_{i,j,t}}{\sqrt{\sum_{i'} x_{i',j,t}^2}}$$ (vector normalisation, "
              r"Hwang–Yoon) over the entities observed in year $t$ (or, with `over: panel`, over every "
              r"entity-year); every column then has unit length. A negative indicator ($d_j = -1$) keeps its "
              r"magnitude with the sign turned, so higher is better for every method; TOPSIS, whose ideals are "
              r"the maximum and minimum of each column, then gives exactly the textbook closeness with the "
              r"negative indicator as a cost criterion (distances do not change when a column changes sign).",
    "benchmark": r"$$s_{j,t} = \min\Big(100,\ 100\,\frac{x_{j,t}}{b_j}\Big) \;(d_j = +1), \qquad "
                 r"s_{j,t} = \min\Big(100,\ 100\,\frac{b_j}{x_{j,t}}\Big) \;(d_j = -1)$$ (benchmark-value "
                 r"scoring) with the benchmark $b_j$ of each indicator from a framework column (`benchmark`); "
                 r"a value at or beyond the benchmark scores 100, unless `cap: false`.",
}

# The same formulas for Chinese readers (same keys as FORMULAS).
FORMULAS_ZH = {
    "ratio_to_base": r"$$r_{j,t} = 100\,\frac{x_{j,t}}{x_{j,b}} \;(d_j = +1), \qquad "
                     r"r_{j,t} = 100\,\frac{x_{j,b}}{x_{j,t}} \;(d_j = -1)$$ 其中 $b$ 为基期，"
                     r"因此每个指标在基期都等于 100（基期比值法）。基期值过小时（得分 1000 即为基期的十倍）："
                     r"设 `base_floor_quantile` $q$（或 `base_floor_value` $v$），正向指标的基期值取 "
                     r"$\max(x_{j,b}, F_j)$，$F_j$ 为全部对象基期值的 $q$ 分位数（或 $v$），被截底的对象基期得分为 "
                     r"$100\,x_{j,b}/F_j$；设 `form: log_ratio` 时 $r_{j,t} = 100\,(1 + \ln(x_{j,t}/x_{j,b}))$"
                     r"（$d_j = +1$；逆向指标取倒数比），基期仍为 100。",
    "goalposts": r"$$s_{j,t} = \frac{T(\min(\max(x_{j,t}, L_j), U_j)) - T(L_j)}{T(U_j) - T(L_j)}$$ "
                 r"其中 $L_j, U_j$ 为框架表给定的固定阈值（下限与上限），$T$ 为变换（恒等或 $\ln$）；"
                 r"逆向指标（$d_j = -1$）的分子为 $T(U_j) - T(x_{j,t})$。所得比例再映射到选定的分值区间。",
    "minmax": r"$$s_{j,t} = a + (b - a)\,\frac{d_j x_{j,t} - \min(d_j x_j)}{\max(d_j x_j) - \min(d_j x_j)}$$ "
              r"最小值与最大值取全部对象和年份；对给定固定阈值 $[L_j, U_j]$ 的指标，取 $\min = d_j L_j$、"
              r"$\max = d_j U_j$（逆向指标互换），这样增加年份不会改变以前年份的得分（极差标准化）。",
    "zscore": r"$$z_{j,t} = m + s\,\frac{d_j x_{j,t} - \overline{d_j x_j}}{\operatorname{sd}(d_j x_j)}$$ "
              r"均值与标准差取全部对象和年份（Z-score 标准化）。",
    "rank": r"$$s_{i,j,t} = \operatorname{rank}_{t}(d_j x_{i,j,t})$$ 即在 $t$ 年有观测值的对象中的位次"
            r"（1 为最差；并列时取所占位次的平均值，或按研究设定取最低或最高位次）。",
    "percentile_rank": r"$$s_{i,j,t} = 100\,\frac{\operatorname{rank}_{t}(d_j x_{i,j,t}) - 1}{n_{j,t} - 1}$$ "
                       r"其中 $n_{j,t}$ 为 $t$ 年有观测值的对象数（0 为最差，100 为最好）。",
    "distance_to_reference": r"$$s_{i,j,t} = c\,\frac{x_{i,j,t}}{x_{j,t}^{\mathrm{ref}}} \;(d_j = +1), \qquad "
                             r"s_{i,j,t} = c\,\frac{x_{j,t}^{\mathrm{ref}}}{x_{i,j,t}} \;(d_j = -1)$$ "
                             r"参照值取同年的某一选定对象，或同一对象的某一选定年份；$c$ 为分值尺度（默认 100）。",
    "chained_growth": r"$$g_{j,t} = \frac{x_{j,t}}{x_{j,t-1}} - 1 \;(d_j = +1), \qquad "
                      r"g_{j,t} = \frac{x_{j,t-1}}{x_{j,t}} - 1 \;(d_j = -1)$$ $$r_{j,b} = 100, \qquad "
                      r"r_{j,t} = r_{j,t-1}(1 + g_{j,t}) \;(t > b), \qquad r_{j,t-1} = \frac{r_{j,t}}{1 + g_{j,t}} "
                      r"\;(t \le b)$$ 即国家统计局中国创新指数在指标层的环比链接。单个指标的链接结果等于"
                      r"其对基期的比值；研究再对这些链接后的指标指数进行加总。某年缺失时，其后的链接中断。",
    "efficacy": r"$$d_{j,t} = 60 + 40\,\frac{x_{j,t} - x_j^{s}}{x_j^{h} - x_j^{s}}$$（功效系数法）"
                r"正向指标（$d_j = +1$）取满意值 $x_j^{h} = U_j$、不允许值 $x_j^{s} = L_j$，逆向指标相反；"
                r"$L_j, U_j$ 为框架表的阈值，未给定时取全部样本的最小值和最大值。可选择截断到 $[60, 100]$。",
    "vector": r"$$r_{i,j,t} = d_j\,\frac{x_{i,j,t}}{\sqrt{\sum_{i'} x_{i',j,t}^2}}$$（向量归一化，Hwang–Yoon）"
              r"分母取 $t$ 年有观测值的全部对象（`over: panel` 时取全部对象和年份），归一化后每列的长度为 1。"
              r"逆向指标（$d_j = -1$）保留其大小而取负号，使所有指标都越大越好；TOPSIS 以各列最大值、最小值为"
              r"正、负理想解，所得贴近度与教科书中把逆向指标作为成本型指标的结果完全相同（改变一列的符号不改变距离）。",
    "benchmark": r"$$s_{j,t} = \min\Big(100,\ 100\,\frac{x_{j,t}}{b_j}\Big) \;(d_j = +1), \qquad "
                 r"s_{j,t} = \min\Big(100,\ 100\,\frac{b_j}{x_{j,t}}\Big) \;(d_j = -1)$$（标杆值法）"
                 r"标杆值 $b_j$ 取自框架表的一列（默认 `benchmark`）；达到或超过标杆值得 100 分（`cap: false` 时不截断）。",
}


def normaliser(name: str):
    def register(function: Normaliser) -> Normaliser:
        NORMALISERS[name] = function
        return function
    return register


def refuse_unknown_options(function: Callable, params: dict, column: str, skip: int) -> None:
    """A misspelt option would otherwise be a bare TypeError (or, worse, silently ignored)."""
    accepted = list(inspect.signature(function).parameters)[skip:]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise InputError("unknown option", column=column, value=unknown, expected=f"some of {accepted}")


def normalise(matrix: pd.DataFrame, framework: Framework, base_year: int | None, method: str, **params) -> pd.DataFrame:
    """Apply the named method; unknown names and options are refused with the list of known ones."""
    if method not in NORMALISERS:
        raise InputError("unknown normalisation method", column=f"{OPTION}.method", value=method,
                         expected=f"one of {sorted(NORMALISERS)}")
    refuse_unknown_options(NORMALISERS[method], params, OPTION, skip=3)
    through = passed_through(framework)
    if not through:
        return NORMALISERS[method](matrix[framework.indicators], framework, base_year, **params)
    scored = [c for c in framework.indicators if c not in through]
    out = NORMALISERS[method](matrix[scored], framework, base_year, **params) if scored else None
    return pd.concat([out, matrix[through]] if out is not None else [matrix[through]], axis=1)[framework.indicators]


def passed_through(framework: Framework) -> list[str]:
    """Indicators whose framework column ``normalisation`` is ``none``: their raw value is their score
    (already on the index's scale), whatever the study's normalisation."""
    if "normalisation" not in framework.table:
        return []
    column = framework.table.loc[framework.indicators, "normalisation"].fillna("").astype(str).str.strip()
    return list(column.index[column == "none"])


def base_rows(matrix: pd.DataFrame, base_year: int) -> pd.DataFrame:
    """For every row, the same entity's base-year row (NaN where the entity has no base year)."""
    base = matrix.xs(base_year, level="year")
    entities = matrix.index.get_level_values("entity")
    return base.reindex(entities).set_axis(matrix.index)


def _flag(value, option: str) -> bool:
    if not isinstance(value, bool):
        raise InputError("option must be true or false", column=f"{OPTION}.{option}", value=value,
                         expected="true or false")
    return value


def _number(value, option: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) \
            or (positive and value <= 0):
        raise InputError("option is not a usable number", column=f"{OPTION}.{option}", value=value,
                         expected="a number > 0" if positive else "a finite number")
    return float(value)


def _interval(value, option: str) -> tuple[float, float]:
    """A [low, high] pair of numbers with low < high (a scale or a pair of goalposts)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise InputError("option is not a pair of numbers", column=f"{OPTION}.{option}", value=value,
                         expected="[low, high]")
    low, high = (_number(v, option) for v in value)
    if not low < high:
        raise InputError("the lower bound is not below the upper bound", column=f"{OPTION}.{option}",
                         value=list(value), expected="[low, high] with low < high")
    return low, high


def _require_base_year(base_year, method: str, matrix: pd.DataFrame) -> int:
    years = matrix.index.get_level_values("year")
    if base_year is None or base_year not in set(years):
        raise InputError(f"{method} needs a base year that is in the panel", column="base_year", value=base_year,
                         expected=f"one of {sorted(set(years))}")
    return base_year


def _require_positive(values: pd.DataFrame, method: str, hint: str = "") -> None:
    """Ratios and growth rates are undefined at or below zero: name the first such cell."""
    bad = ((values <= 0) & values.notna()).to_numpy()
    if bad.any():
        row, column = np.argwhere(bad)[0]
        entity, year = values.index[row]
        raise InputError(f"value is not positive, so {method} is undefined{hint}", column=values.columns[column],
                         value=f"{entity} {year}: {values.iat[row, column]}", expected="values > 0")


def _ratio(values: pd.DataFrame, reference: pd.DataFrame, framework: Framework, scale: float) -> pd.DataFrame:
    """scale·x/ref for positive indicators and scale·ref/x for negative ones."""
    positive = framework.directions.reindex(values.columns) > 0
    # x/x is exactly 1, so a row that is its own reference gets exactly ``scale``
    return (scale * (values / reference)).where(positive, scale * (reference / values), axis=1)


def _directed(matrix: pd.DataFrame, framework: Framework) -> pd.DataFrame:
    return matrix * framework.directions.reindex(matrix.columns)


RATIO_FORMS = ("ratio", "log_ratio")


def base_floors(base: pd.DataFrame, framework: Framework, quantile: float | None = None,
                value: float | None = None) -> pd.Series:
    """The floor of each positive indicator's base value (NaN: none), from the base-year cross-section
    ``base`` (rows = entities): its ``quantile`` over the entities that have a value (linear
    interpolation), or one ``value`` in raw units. Negative indicators get none: a small base makes their
    ratio x_b/x_t small, never large."""
    if quantile is not None and value is not None:
        raise InputError("give one floor on the base, not two", column=f"{OPTION}.base_floor_quantile",
                         value={"base_floor_quantile": quantile, "base_floor_value": value},
                         expected="base_floor_quantile or base_floor_value")
    if quantile is not None:
        q = _number(quantile, "base_floor_quantile")
        if not 0 < q < 1:
            raise InputError("the base floor quantile is not inside (0, 1)", column=f"{OPTION}.base_floor_quantile",
                             value=quantile, expected="a share such as 0.1 (the 10 % quantile)")
        floors = base.quantile(q)
    else:
        level = np.nan if value is None else _number(value, "base_floor_value", positive=True)
        floors = pd.Series(level, index=base.columns, dtype=float)
    return floors.where(framework.directions.reindex(base.columns) > 0)


@normaliser("ratio_to_base")
def ratio_to_base(matrix, framework, base_year, zero_base: str = "error", offset: float = 0.0,
                  base_floor_quantile: float | None = None, base_floor_value: float | None = None,
                  form: str = "ratio"):
    """r = 100·x_t/x_b for positive indicators and 100·x_b/x_t for negative ones.

    A zero (or, with ``zero_base: offset``, any) base value is a modelling decision, not an accident:
    ``error`` refuses it naming the indicator and entity; ``offset`` adds ``offset`` to every value of the
    indicator before the ratio (a count that starts at 0 in the base year, say).

    A tiny base lets one entity dominate a ranking (ten times a small base is a score of 1000). Rules
    against it: ``base_floor_quantile: q`` raises a positive indicator's base below the q-quantile of the
    base-year values of all entities to that quantile, ``base_floor_value: v`` to v (raw units), so
    r = 100·x_t/max(x_b, F) and a floored entity scores 100·x_b/F < 100 in the base year; ``form:
    log_ratio`` gives r = 100·(1 + ln(x_t/x_b)), 100 in the base year, a tenfold rise 330 (and below 0
    under a fall to less than 1/e of the base); or use goalposts instead (``method: goalposts``).
    """
    base_year = _require_base_year(base_year, "ratio_to_base", matrix)
    if zero_base not in ("error", "offset"):
        raise InputError("unknown zero_base choice", column=f"{OPTION}.zero_base", value=zero_base,
                         expected="error or offset")
    if form not in RATIO_FORMS:
        raise InputError("unknown ratio form", column=f"{OPTION}.form", value=form, expected=f"one of {list(RATIO_FORMS)}")
    values = matrix + _number(offset, "offset") if zero_base == "offset" else matrix
    _require_positive(values, "the ratio to the base year",
                      " (set methods.normalisation.zero_base: offset to shift the indicator)")
    reference = base_rows(values, base_year)
    floors = base_floors(values.xs(base_year, level="year"), framework, base_floor_quantile, base_floor_value)
    if floors.notna().any():
        reference = reference.clip(lower=floors, axis=1)
    if form == "log_ratio":
        return 100.0 * (1.0 + np.log(_ratio(values, reference, framework, 1.0)))
    return _ratio(values, reference, framework, 100.0)


def _goalpost_column(framework: Framework, columns, name: str) -> pd.Series:
    """One goalpost column as numbers; a blank cell (read from CSV as "") means not given."""
    table = framework.table.loc[list(columns)]
    if name not in table:
        return pd.Series(np.nan, index=table.index)
    raw = table[name].mask(table[name].astype(str).str.strip() == "")
    numbers = pd.to_numeric(raw, errors="coerce")
    bad = numbers.isna() & raw.notna()
    if bad.any():
        code = bad.idxmax()
        raise InputError("goalpost is not a number", file=framework.source, column=name,
                         value=f"{code}: {raw[code]!r}", expected="a number, or blank")
    return numbers.astype(float)


def _given_goalposts(framework: Framework, columns) -> tuple[pd.Series, pd.Series]:
    """Goalpost columns of the framework table (NaN where a bound is not given), checked lo < hi."""
    lo, hi = (_goalpost_column(framework, columns, c) for c in ("goalpost_lo", "goalpost_hi"))
    crossed = lo >= hi
    if crossed.any():
        code = crossed.idxmax()
        raise InputError("goalpost_lo is not below goalpost_hi", file=framework.source, column="goalpost_lo",
                         value=f"{code}: {lo[code]} .. {hi[code]}", expected="goalpost_lo < goalpost_hi")
    return lo, hi


def _goalpost_columns(framework: Framework, columns) -> tuple[pd.Series, pd.Series, pd.Series]:
    lo, hi = _given_goalposts(framework, columns)
    for column, bound in (("goalpost_lo", lo), ("goalpost_hi", hi)):
        if bound.isna().any():
            raise InputError("goalposts missing for indicators", file=framework.source, column=column,
                             value=list(bound.index[bound.isna()]), expected="a number for every indicator")
    table = framework.table.loc[list(columns)]
    return lo, hi, table.get("transform", pd.Series("", index=table.index)).fillna("")


@normaliser("goalposts")
def goalposts(matrix, framework, base_year, scale=(0.0, 100.0), cap: bool = True):
    """Fixed goalposts from the framework table, with an optional per-indicator transform (e.g. log).

    s = (T(min(max(x, lo), hi)) − T(lo)) / (T(hi) − T(lo)), mapped onto ``scale``; for negative
    indicators s = (T(hi) − T(x)) / (T(hi) − T(lo)). Fixed goalposts never move when a year is added.
    """
    a, b = _interval(scale, "scale")
    cap = _flag(cap, "cap")
    lo, hi, transform = _goalpost_columns(framework, matrix.columns)
    out = {}
    for code in matrix.columns:  # one transform per indicator, so a loop over the (few) columns
        f = TRANSFORMS[transform[code]]
        x = matrix[code].clip(lo[code], hi[code]) if cap else matrix[code]
        t_lo, t_hi = f(lo[code]), f(hi[code])
        share = (f(x) - t_lo) / (t_hi - t_lo) if framework.directions[code] > 0 else (t_hi - f(x)) / (t_hi - t_lo)
        out[code] = share if (a, b) == (0, 1) else a + (b - a) * share
    return pd.DataFrame(out, index=matrix.index)


def _fixed_goalposts(fixed, columns) -> dict[str, tuple[float, float]]:
    if fixed is None:
        return {}
    if not isinstance(fixed, dict) or set(fixed) - set(columns):
        raise InputError("fixed goalposts must be keyed by indicator code", column=f"{OPTION}.fixed",
                         value=sorted(set(fixed) - set(columns)) if isinstance(fixed, dict) else fixed,
                         expected=f"codes among {list(columns)}")
    return {code: _interval(bounds, f"fixed.{code}") for code, bounds in fixed.items()}


@normaliser("minmax")
def minmax(matrix, framework, base_year, scale=(0.0, 100.0), fixed: dict | None = None,
           use_goalposts: bool = False):
    """Min-max after multiplying by the direction, over the whole panel or between fixed goalposts.

    ``fixed: {code: [lo, hi]}`` (raw units) or ``use_goalposts: true`` (the framework's goalpost_lo and
    goalpost_hi, required for every indicator not in ``fixed``) pin the bounds, so adding a year with a
    new extreme never rewrites history; values beyond fixed bounds score beyond the scale (the
    ``goalposts`` method caps them). Other indicators use the panel minimum and maximum.
    """
    a, b = _interval(scale, "scale")
    fixed = _fixed_goalposts(fixed, matrix.columns)
    directions = framework.directions.reindex(matrix.columns)
    directed = matrix * directions
    lo, hi = directed.min(), directed.max()
    if _flag(use_goalposts, "use_goalposts"):
        given_lo, given_hi = _given_goalposts(framework, matrix.columns)
        given = given_lo.notna() & given_hi.notna()
        missing = [c for c in matrix.columns if not given[c] and c not in fixed]
        if missing:
            raise InputError("use_goalposts needs goalposts for every indicator not given in fixed",
                             file=framework.source, column="goalpost_lo/goalpost_hi", value=missing,
                             expected="a number in both columns")
        lo = lo.where(~given, given_lo.where(directions > 0, -given_hi))
        hi = hi.where(~given, given_hi.where(directions > 0, -given_lo))
    for code, (low, high) in fixed.items():
        # bounds of the directed value d·x: [L, U] for d = +1 and [−U, −L] for d = −1
        lo[code], hi[code] = (low, high) if directions[code] > 0 else (-high, -low)
    span = (hi - lo).replace(0, np.nan)  # a constant indicator carries no information: NaN, not 0/0 noise
    return a + (b - a) * (directed - lo) / span


@normaliser("zscore")
def zscore(matrix, framework, base_year, mean: float = 0.0, sd: float = 1.0):
    """Standardise over the whole panel (sample sd), after multiplying by the direction."""
    mean, sd = _number(mean, "mean"), _number(sd, "sd", positive=True)
    directed = _directed(matrix, framework)
    return mean + sd * (directed - directed.mean()) / directed.std(ddof=1)


TIES = ("average", "min", "max")


def _year_ranks(matrix: pd.DataFrame, framework: Framework, method: str, ties: str) -> pd.DataFrame:
    if matrix.index.get_level_values("entity").nunique() < 2:
        raise InputError(f"{method} compares entities within a year, but the panel has one entity",
                         column=f"{OPTION}.method", value=method, expected="a panel of several entities")
    if ties not in TIES:
        raise InputError("unknown ties rule", column=f"{OPTION}.ties", value=ties, expected=f"one of {list(TIES)}")
    return _directed(matrix, framework).groupby(level="year").rank(method=ties)


@normaliser("rank")
def rank(matrix, framework, base_year, ties: str = "average"):
    """Rank among the entities of the same year (1 = worst; NaN unranked). Tied entities share the mean
    of the ranks they span, or with ``ties: min`` the lowest (COINr's "sport" ranking) or ``max``."""
    return _year_ranks(matrix, framework, "rank", ties)


@normaliser("percentile_rank")
def percentile_rank(matrix, framework, base_year, ties: str = "average"):
    """100·(rank − 1)/(n − 1) within each year, n = entities observed; a lone observation gets NaN (0/0).
    ``ties`` as for ``rank``; COINr's n_prank is ``ties: min`` on a 0–1 scale."""
    ranks = _year_ranks(matrix, framework, "percentile_rank", ties)
    observed = matrix.notna().groupby(level="year").transform("sum")
    return 100.0 * (ranks - 1) / (observed - 1)


@normaliser("distance_to_reference")
def distance_to_reference(matrix, framework, base_year, entity: str | None = None, year: int | None = None,
                          scale: float = 100.0):
    """scale·x/x_ref (negative indicators: scale·x_ref/x), the reference being a chosen entity in the same
    year (``entity: CODE``) or the same entity in a chosen year (``year: 2018``); a missing reference
    value gives NaN."""
    if (entity is None) == (year is None):
        raise InputError("distance_to_reference needs exactly one reference", column=OPTION,
                         value={"entity": entity, "year": year}, expected="either entity: CODE or year: YEAR")
    scale = _number(scale, "scale", positive=True)
    entities = matrix.index.get_level_values("entity")
    years = matrix.index.get_level_values("year")
    if entity is not None:
        if entity not in set(entities):
            raise InputError("reference entity is not in the panel", column=f"{OPTION}.entity", value=entity,
                             expected=f"one of {sorted(set(entities))}")
        reference = matrix.xs(entity, level="entity").reindex(years).set_axis(matrix.index)
    else:
        if year not in set(years):
            raise InputError("reference year is not in the panel", column=f"{OPTION}.year", value=year,
                             expected=f"one of {sorted(set(years))}")
        reference = base_rows(matrix, year)
    _require_positive(matrix, "the ratio to the reference")
    return _ratio(matrix, reference, framework, scale)


def _chain(links: pd.DataFrame) -> pd.DataFrame:
    """Running product of growth factors within each entity, in row order; NaN from a missing link on."""
    broken = links.isna().groupby(level="entity").cumsum() > 0
    return links.fillna(1.0).groupby(level="entity").cumprod().mask(broken)


@normaliser("chained_growth")
def chained_growth(matrix, framework, base_year):
    """Indicator index chained from year-on-year growth, 100 in the base year (NBS CII).

    Growth runs between an entity's consecutive rows. Forward of the base year the index is the running
    product of 1 + g; backward it is divided by the growth factors between the year and the base year.
    """
    base_year = _require_base_year(base_year, "chained_growth", matrix)
    _require_positive(matrix, "the growth rate")
    values = matrix.sort_index()
    entities = values.index.get_level_values("entity")
    years = pd.Series(values.index.get_level_values("year"), index=values.index)
    previous = values.groupby(level="entity").shift(1)
    factor = _ratio(values, previous, framework, 1.0)  # 1 + g_t: the link from the previous row into t
    forward = _chain(factor.where(years > base_year, 1.0, axis=0))
    next_factor = factor.groupby(level="entity").shift(-1)  # the link from t into the next row
    backward = _chain(next_factor.where(years < base_year, 1.0, axis=0).iloc[::-1]).iloc[::-1]
    # without a base-year row the chain has no anchor at 100
    has_base = pd.Series(entities.isin(entities[years.to_numpy() == base_year]), index=values.index)
    index = (100.0 * forward / backward).where(has_base, axis=0)
    return index.reindex(matrix.index).where(matrix.notna())


@normaliser("efficacy")
def efficacy(matrix, framework, base_year, cap: bool = False):
    """Efficacy coefficient d = 60 + 40·(x − x_s)/(x_h − x_s) (功效系数法).

    The framework's goalpost_lo/goalpost_hi give the raw range [L, U] (either missing: the panel minimum
    or maximum); for positive indicators x_h = U is satisfactory and x_s = L impermissible, for negative
    ones the other way round. ``cap: true`` clips scores to [60, 100].
    """
    cap = _flag(cap, "cap")
    given_lo, given_hi = _given_goalposts(framework, matrix.columns)
    lo, hi = given_lo.fillna(matrix.min()), given_hi.fillna(matrix.max())
    crossed = (lo >= hi) & (given_lo.notna() | given_hi.notna())
    if crossed.any():
        code = crossed.idxmax()
        raise InputError("a goalpost lies beyond the panel on the wrong side", file=framework.source,
                         column="goalpost_lo/goalpost_hi", value=f"{code}: {lo[code]} .. {hi[code]}",
                         expected="goalpost_lo below the panel maximum and goalpost_hi above its minimum")
    positive = framework.directions.reindex(matrix.columns) > 0
    satisfactory, impermissible = hi.where(positive, lo), lo.where(positive, hi)
    span = (satisfactory - impermissible).replace(0, np.nan)  # constant and no goalposts: no information
    score = 60.0 + 40.0 * (matrix - impermissible) / span
    return score.clip(60.0, 100.0) if cap else score


@normaliser("vector")
def vector(matrix, framework, base_year, over: str = "year"):
    """Vector normalisation r = d·x/√Σx² (Hwang–Yoon), over the entities of each year or over the panel.

    ``over: year`` (default) divides by the length of the column among the entities observed in the same
    year, ``over: panel`` by its length over every entity-year. A negative indicator gets −x/√Σx²: the
    same magnitude with the sign turned, so that higher is better; a TOPSIS over these columns gives the
    textbook closeness with that indicator as a cost criterion. A column of zeros has no length: NaN.
    """
    if over not in ("year", "panel"):
        raise InputError("unknown over choice", column=f"{OPTION}.over", value=over, expected="year or panel")
    squares = matrix ** 2
    total = squares.groupby(level="year").transform("sum") if over == "year" else squares.sum()
    length = np.sqrt(total).replace(0, np.nan)
    return _directed(matrix, framework) / length


@normaliser("benchmark")
def benchmark(matrix, framework, base_year, column: str = "benchmark", cap: bool = True):
    """Benchmark-value scoring (标杆值法): 100·x/b for positive indicators and 100·b/x for negative ones,
    capped at 100 (``cap: false`` leaves values beyond the benchmark above 100).

    ``column`` names the framework column that holds each indicator's benchmark b (raw units, > 0, one
    for every indicator); a negative indicator needs positive values (b/x).
    """
    cap = _flag(cap, "cap")
    if not isinstance(column, str) or column not in framework.table:
        raise InputError("the framework table has no benchmark column", file=framework.source, column=column,
                         expected="a column of benchmark values, one per indicator (methods.normalisation.column)")
    b = _goalpost_column(framework, matrix.columns, column)
    bad = b.isna() | (b <= 0)
    if bad.any():
        code = bad.idxmax()
        raise InputError("benchmark missing or not positive", file=framework.source, column=column,
                         value=f"{code}: {b[code]}", expected="a number > 0 for every indicator")
    negative = framework.directions.reindex(matrix.columns) < 0
    if negative.any():
        _require_positive(matrix.loc[:, negative], "the benchmark score of a negative indicator (b/x)")
    score = _ratio(matrix, pd.DataFrame(np.broadcast_to(b.to_numpy(), matrix.shape), index=matrix.index,
                                        columns=matrix.columns), framework, 100.0)
    return score.clip(upper=100.0) if cap else score
