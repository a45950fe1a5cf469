"""Coupling coordination and obstacle degree: two analyses of a scored study, not aggregations.

Both are read beside the index, in the validate stage, and neither changes a score.

*Coupling coordination* (耦合协调度) asks whether the parts of a system (the dimensions of the index) develop
together: the coupling degree C is 1 when the parts are level with each other and falls as they drift apart,
the development index T is their weighted mean, and D = √(C·T) the coordination of the two, graded in bands
of 0.1 (极度失调 … 优质协调). C needs values in (0, 1], so the dimension values (base 100, or any other scale)
are first rescaled by min-max into [a, b] ⊂ (0, 1] (SPSSAU's default [0.01, 0.99]); a base-100 index
cannot be used as it is: its values exceed 1, and C of the standard form would then depend on the base year.

*Obstacle degree* (障碍度) splits an entity-year's weighted shortfall from the ideal into the share of each
indicator: O_j = F_j I_j / Σ_k F_k I_k × 100 % with F_j the effective weight and I_j = 1 − x'_j the distance of
the direction-adjusted min-max value from the best. It is the gap-to-ideal counterpart of the contribution
decomposition (which splits a change into weighted gains).

The functions work on a framework and tables, never on a study; ``validate`` reads the study's settings
(``validate: {coupling: …, obstacles: …}`` in study.yaml) and calls them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from zoneindex.errors import InputError
from zoneindex.framework import Framework

FORMS = ("standard", "wang2021")
OVER = ("panel", "year")
DEFAULT_RESCALE = (0.01, 0.99)
OPTION = "validate"

# D in [0, 0.1) is band 1, …, [0.9, 1] band 10: the common ten-band scale (e.g. 田深圳 et al. 2021, 地理学报 76(4),
# Table 1); a value on an edge belongs to the band above it
GRADES = (("极度失调", "extreme imbalance"), ("严重失调", "severe imbalance"), ("中度失调", "moderate imbalance"),
          ("轻度失调", "mild imbalance"), ("濒临失调", "on the verge of imbalance"),
          ("勉强协调", "barely coordinated"), ("初级协调", "primary coordination"),
          ("中级协调", "intermediate coordination"), ("良好协调", "good coordination"),
          ("优质协调", "high-quality coordination"))
GRADE_EDGES = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])

FORMULAS = {
    "coupling_rescale": r"$$U_{i} = a + (b - a)\,\frac{v_{i} - \min v_{i}}{\max v_{i} - \min v_{i}}$$ for each "
                        r"part $i$ (a dimension of the index), the minimum and maximum taken over the rows "
                        r"named by `over` (the whole panel of entity-years, or each year's entities), so that "
                        r"$U_i \in [a, b] \subset \left(0, 1\right]$; a base-100 index cannot enter $C$ as it is.",
    "coupling_standard": r"$$C = n\left[\frac{\prod_{i=1}^{n} U_i}{\left(\sum_{i=1}^{n} U_i\right)^{n}}\right]^{1/n}"
                         r" = \frac{\left(\prod_i U_i\right)^{1/n}}{\frac{1}{n}\sum_i U_i}$$ (the ratio of the "
                         r"geometric to the arithmetic mean of the $n$ parts; $n = 2$: "
                         r"$C = 2\sqrt{U_1U_2}/(U_1 + U_2)$), $$T = \sum_i \alpha_i U_i, \quad "
                         r"\sum_i \alpha_i = 1, \qquad D = \sqrt{C\,T}.$$",
    "coupling_wang2021": r"$$C = \sqrt{\left[1 - \frac{\sum_{i>j} \sqrt{(U_i - U_j)^2}}{\sum_{m=1}^{n-1} m}\right]"
                         r"\prod_{i=1}^{n}\left(\frac{U_i}{\max_k U_k}\right)^{\frac{1}{n-1}}}$$ (the corrected "
                         r"model of Wang Shujia et al. (2021) [@wang2021ccd], which spreads $C$ over "
                         r"$[0, 1]$ where the standard form crowds near 1), with $T$ and $D = \sqrt{C\,T}$ as "
                         r"in the standard form.",
    "coupling_grades": "D is graded in ten bands of 0.1: [0, 0.1) extreme imbalance, severe, moderate and mild "
                       "imbalance, on the verge of imbalance, barely coordinated, primary, intermediate, good and, "
                       "[0.9, 1], high-quality coordination (the Chinese band names are in the table's Chinese "
                       "version); a value on an edge belongs to the band above it.",
    "obstacle": r"$$x'_{ij} = \frac{d_j x_{ij} - \min(d_j x_j)}{\max(d_j x_j) - \min(d_j x_j)}, \qquad "
                r"I_{ij} = 1 - x'_{ij}, \qquad O_{ij} = \frac{F_j I_{ij}}{\sum_k F_k I_{ik}} \times 100\,\%$$ "
                r"with $d_j$ the direction, the minimum and maximum over the rows named by `over` (every "
                r"entity-year of the panel, or each year's entities), and $F_j$ the effective weight of "
                r"indicator $j$ in the index. The obstacle of an aggregate $k$ is $U_{ik} = \sum_{j \in k} O_{ij}$. "
                r"$\sum_k F_k I_{ik}$ is the entity-year's weighted shortfall from the ideal ($x' = 1$ "
                r"everywhere) and $O_{ij}$ each indicator's share of it: the gap-to-ideal counterpart of the "
                r"contribution decomposition. An indicator without a value, or constant over the rows (no "
                r"best and worst to measure from), is left out of the sum.",
}

FORMULAS_ZH = {
    "coupling_rescale": r"$$U_{i} = a + (b - a)\,\frac{v_{i} - \min v_{i}}{\max v_{i} - \min v_{i}}$$ "
                        r"对每个子系统 $i$（指数的一个维度）做极差归一化，最小值和最大值取自 `over` 指定的样本"
                        r"（全部单元-年份的面板，或每一年的各单元），使 $U_i \in [a, b] \subset \left(0, 1\right]$；"
                        r"以基期为 100 的指数不能直接代入 $C$。",
    "coupling_standard": r"$$C = n\left[\frac{\prod_{i=1}^{n} U_i}{\left(\sum_{i=1}^{n} U_i\right)^{n}}\right]^{1/n}"
                         r" = \frac{\left(\prod_i U_i\right)^{1/n}}{\frac{1}{n}\sum_i U_i}$$（$n$ 个子系统的几何平均"
                         r"与算术平均之比；$n = 2$ 时 $C = 2\sqrt{U_1U_2}/(U_1 + U_2)$），"
                         r"$$T = \sum_i \alpha_i U_i, \quad \sum_i \alpha_i = 1, \qquad D = \sqrt{C\,T}。$$"
                         r"$C$ 为耦合度，$T$ 为综合发展指数，$D$ 为耦合协调度。",
    "coupling_wang2021": r"$$C = \sqrt{\left[1 - \frac{\sum_{i>j} \sqrt{(U_i - U_j)^2}}{\sum_{m=1}^{n-1} m}\right]"
                         r"\prod_{i=1}^{n}\left(\frac{U_i}{\max_k U_k}\right)^{\frac{1}{n-1}}}$$"
                         r"（王淑佳等 2021 [@wang2021ccd] 的修正模型：传统模型的 $C$ 集中在 1 附近，"
                         r"修正后分布于 $[0, 1]$），$T$ 与 $D = \sqrt{C\,T}$ 同传统模型。",
    "coupling_grades": "耦合协调度 D 按 0.1 等距划分为十个等级：[0, 0.1) 极度失调、严重失调、中度失调、轻度失调、"
                       "濒临失调、勉强协调、初级协调、中级协调、良好协调、[0.9, 1] 优质协调；恰好落在分界点上的值"
                       "归入上一等级。",
    "obstacle": r"$$x'_{ij} = \frac{d_j x_{ij} - \min(d_j x_j)}{\max(d_j x_j) - \min(d_j x_j)}, \qquad "
                r"I_{ij} = 1 - x'_{ij}, \qquad O_{ij} = \frac{F_j I_{ij}}{\sum_k F_k I_{ik}} \times 100\,\%$$ "
                r"其中 $d_j$ 为指标方向，最小值和最大值取自 `over` 指定的样本（面板的全部单元-年份，或每一年的"
                r"各单元），$F_j$ 为指标 $j$ 在总指数中的综合权重（因子贡献度），$I_{ij}$ 为指标偏离度，"
                r"$O_{ij}$ 为障碍度。维度等上级节点 $k$ 的障碍度为 $U_{ik} = \sum_{j \in k} O_{ij}$。"
                r"$\sum_k F_k I_{ik}$ 是该单元-年份距理想状态（各指标 $x' = 1$）的加权差距，$O_{ij}$ 是各指标"
                r"在其中所占的份额：与贡献分解相对应的“差距分解”。缺失的指标，以及在样本中取值不变（无从"
                r"确定最优与最差）的指标，不计入分母。",
}


# the headers of this module's tables in English and Chinese (for ``present.table(..., names=...)``)
HEADERS = {
    "form": ("form", "模型"), "n": ("parts", "子系统数"), "C": ("coupling C", "耦合度 C"),
    "T": ("development T", "综合发展指数 T"), "D": ("coordination D", "耦合协调度 D"), "grade": ("band", "等级"),
    "grade_zh": ("band name (Chinese)", "协调等级"), "grade_en": ("band name", "协调等级（英文）"),
    "deviation": ("deviation from the ideal I", "指标偏离度 I"), "weighted_gap": ("weighted gap F·I", "加权差距 F·I"),
    "obstacle_pct": ("obstacle degree (%)", "障碍度（%）"), "rank": ("rank", "位次"),
}


def headers(lang: str, framework: Framework | None = None) -> dict[str, str]:
    """Column -> header in ``lang`` for the coupling and obstacle tables, U_<code> named after its node."""
    column = 1 if lang == "zh" else 0
    names = {key: pair[column] for key, pair in HEADERS.items()}
    if framework is not None:
        names.update({f"U_{code}": f"U ({framework.name(code, lang)})" for code in framework.codes})
    return names


def _choice(value, allowed, option: str) -> str:
    if value not in allowed:
        raise InputError(f"unknown {option.rsplit('.', 1)[-1]} choice", column=f"{OPTION}.{option}", value=value,
                         expected=f"one of {list(allowed)}")
    return value


def _groups(frame: pd.DataFrame, over: str):
    """The rows a min-max is taken over: the whole panel, or each year's entities."""
    _choice(over, OVER, "over")
    return frame.groupby(level="year") if over == "year" else frame.groupby(lambda _: 0)


def rescale(values: pd.DataFrame, low: float = DEFAULT_RESCALE[0], high: float = DEFAULT_RESCALE[1],
            over: str = "panel") -> pd.DataFrame:
    """Each column min-max rescaled into [low, high] over the rows of ``over`` (``panel``: all rows;
    ``year``: each year's rows). A column with one value over those rows gets NaN: it has no range."""
    if not (isinstance(low, (int, float)) and isinstance(high, (int, float)) and 0 < low < high <= 1):
        raise InputError("the coupling rescale range is not inside (0, 1]", column=f"{OPTION}.coupling.rescale",
                         value=[low, high], expected="[a, b] with 0 < a < b <= 1, e.g. [0.01, 0.99]")
    groups = _groups(values, over)
    lowest, highest = groups.transform("min"), groups.transform("max")
    span = (highest - lowest).where(highest > lowest)
    return low + (high - low) * (values - lowest) / span


def coupling_degree(u: np.ndarray, form: str = "standard") -> np.ndarray:
    """C of each row of ``u`` (rows × n parts, values in (0, 1]); NaN where a part is missing."""
    _choice(form, FORMS, "coupling.form")
    u = np.asarray(u, dtype=float)
    n = u.shape[1]
    if n < 2:
        raise InputError("coupling needs at least two parts", column=f"{OPTION}.coupling.of", value=n,
                         expected="two or more nodes")
    if form == "standard":
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.exp(np.log(u).mean(axis=1)) / u.mean(axis=1)
        return np.minimum(ratio, 1.0)  # geometric <= arithmetic mean; equal parts can round to 1 + 2e-16
    i, j = np.triu_indices(n, k=1)
    spread = np.abs(u[:, i] - u[:, j]).sum(axis=1) / (n * (n - 1) / 2)  # Σ_{m=1}^{n-1} m = n(n-1)/2
    balance = np.prod(u / u.max(axis=1, keepdims=True), axis=1) ** (1 / (n - 1))
    return np.sqrt((1 - spread) * balance)


def grade(d) -> np.ndarray:
    """Band 1..10 of each coordination degree (NaN where D is missing)."""
    d = np.asarray(d, dtype=float)
    return np.where(np.isnan(d), np.nan, np.searchsorted(GRADE_EDGES, d, side="right") + 1.0)


def coupling_table(values: pd.DataFrame, weights: pd.Series | None = None, forms=FORMS,
                   rescale_to=DEFAULT_RESCALE, over: str = "panel") -> pd.DataFrame:
    """C, T, D and the grade of the parts in the columns of ``values`` (rows = entity-year), for each form.

    ``weights``: the α of T by column (rescaled to sum to 1; None: equal). ``rescale_to``: [a, b] for the
    min-max rescaling over ``over``, or None to use the values as they are (they must then lie in (0, 1]).
    Columns: entity, year, form, n, U_<part> …, C, T, D, grade, grade_zh, grade_en.
    """
    if rescale_to is None:
        outside = (values <= 0) | (values > 1)
        if outside.any().any():
            column = outside.any().idxmax()
            raise InputError("coupling without rescaling needs values in (0, 1]", column=f"{OPTION}.coupling.rescale",
                             value=f"{column}: {values[column][outside[column]].iloc[0]}",
                             expected="rescale: [a, b] (a base-100 index cannot be used as it is)")
        u = values.astype(float)
    else:
        u = rescale(values, *rescale_to, over=over)
    alpha = pd.Series(1.0, index=values.columns) if weights is None else weights.reindex(values.columns).astype(float)
    if alpha.isna().any() or (alpha < 0).any() or alpha.sum() <= 0:
        raise InputError("coupling weights must be given for every part, >= 0, not all 0",
                         column=f"{OPTION}.coupling.weights", value=alpha.to_dict(), expected="weights >= 0")
    alpha = alpha / alpha.sum()
    parts = []
    for form in [forms] if isinstance(forms, str) else list(forms):
        c = coupling_degree(u.to_numpy(), form)
        t = u.to_numpy() @ alpha.to_numpy()
        d = np.sqrt(c * t)
        bands = grade(d)
        frame = u.add_prefix("U_").reset_index()
        frame.insert(2, "form", form)
        frame.insert(3, "n", u.shape[1])
        band = np.nan_to_num(bands).astype(int)  # 0 for a missing D: the row of missing names
        names = np.array([(np.nan, np.nan)] + list(GRADES), dtype=object)
        parts.append(frame.assign(C=c, T=t, D=d, grade=bands, grade_zh=names[band, 0], grade_en=names[band, 1]))
    return pd.concat(parts, ignore_index=True)


def directed_minmax(matrix: pd.DataFrame, framework: Framework, over: str = "panel") -> pd.DataFrame:
    """x' = (d·x − min d·x) / (max d·x − min d·x) in [0, 1] (1 = the best), over the rows of ``over``;
    NaN where the value is missing or the indicator has one value over those rows."""
    directed = matrix * framework.directions.reindex(matrix.columns)
    groups = _groups(directed, over)
    lowest, highest = groups.transform("min"), groups.transform("max")
    return (directed - lowest) / (highest - lowest).where(highest > lowest)


def obstacle_table(matrix: pd.DataFrame, framework: Framework, effective: pd.Series,
                   over: str = "panel") -> pd.DataFrame:
    """Per entity-year and node: the deviation from the ideal I = 1 − x' (indicators), the weighted gap
    F·I summed over the node's indicators, and the obstacle degree (its share of the entity-year's
    whole weighted gap, in %). Rows: entity, year, code, level, deviation, weighted_gap, obstacle_pct."""
    indicators = framework.indicators
    deviation = 1.0 - directed_minmax(matrix[indicators], framework, over)
    gap = deviation * effective.reindex(indicators).astype(float)
    total = gap.sum(axis=1, min_count=1)
    share = 100.0 * gap.div(total.where(total > 0), axis=0)
    nodes = {code: [code] for code in indicators}
    for code in framework.codes:
        if code not in nodes:
            nodes[code] = [c for c in indicators if code in framework.ancestors(c)]
    columns = {"deviation": {}, "weighted_gap": {}, "obstacle_pct": {}}
    for code, below in nodes.items():
        columns["deviation"][code] = deviation[code] if code in deviation else pd.Series(np.nan, index=matrix.index)
        columns["weighted_gap"][code] = gap[below].sum(axis=1, min_count=1)
        columns["obstacle_pct"][code] = share[below].sum(axis=1, min_count=1)
    long = pd.concat({name: pd.DataFrame(by_code)[framework.codes].stack(future_stack=True)
                      for name, by_code in columns.items()}, axis=1)
    long.index = long.index.set_names(["entity", "year", "code"])
    long = long.reset_index()
    long.insert(3, "level", long["code"].map(framework.table["level"]).astype(int))
    return long


def top_obstacles(table: pd.DataFrame, framework: Framework, top: int = 3) -> pd.DataFrame:
    """The ``top`` largest obstacles of each entity-year among the indicators and among the dimensions
    (the level below the index): entity, year, level, rank, code, obstacle_pct."""
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise InputError("top is not a whole number >= 1", column=f"{OPTION}.obstacles.top", value=top,
                         expected="1, 2, 3 …")
    levels = sorted({1, max(framework.max_level - 1, 1)})
    rows = table[table["level"].isin(levels)].dropna(subset=["obstacle_pct"])
    rows = rows.sort_values(["entity", "year", "level", "obstacle_pct"], ascending=[True, True, True, False],
                            kind="stable")
    rows = rows.assign(rank=rows.groupby(["entity", "year", "level"]).cumcount() + 1)
    return rows[rows["rank"] <= top][["entity", "year", "level", "rank", "code", "obstacle_pct"]].reset_index(drop=True)
