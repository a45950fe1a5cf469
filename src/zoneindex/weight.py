"""Weights: nominal weights per node, their within-group (relative) and effective (index-level) values.

Weights are value judgements (OECD/JRC Handbook, step 6) and so they are chosen by name in the study
definition: ``fixed`` takes the framework table's ``weight`` column (expert weights), ``equal`` gives
every sibling the same weight, ``ahp`` derives them from pairwise comparisons, and ``entropy``,
``critic`` and ``pca`` from the normalised indicators. The data-driven methods set the weights of
indicators within their group; aggregates keep their framework weight. A nominal weight only matters
relative to its siblings: aggregation rescales the weights of a group to sum to 1.

``equal_indicators`` gives every indicator the same effective weight, ``combined`` merges the weights of
other methods group by group (组合赋权, :mod:`zoneindex.weight_combined`) and ``optimised`` searches the
weights of one level as COINr's ``get_opt_weights`` does (:mod:`zoneindex.weight_optimised`).
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from fractions import Fraction
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import xlogy

from zoneindex import ahp, glossary
from zoneindex.errors import InputError
from zoneindex.framework import Framework
from zoneindex.normalise import refuse_unknown_options
from zoneindex.weight_combined import RULES, additive_coefficients, combine
from zoneindex.weight_optimised import optimised_weights

OPTION = "methods.weights"
MAX_AHP_ITEMS = 10  # Saaty's (1980) random index table, the default of zoneindex.ahp, stops at n = 10
CR_LIMIT = 0.1

# How each method sets the weight w_j of child j in group k; shown in the write-up.
FORMULAS = {
    "fixed": r"$w_j$ is the weight the framework table gives the node.",
    "equal": r"$w_j = 1$ for every node, so $\tilde w_j = 1/n_k$ within a group of $n_k$ siblings.",
    "ahp_panel": ahp.FORMULAS["ahp_panel"],
    "ahp": r"$$A w = \lambda_{\max} w, \qquad \sum_j w_j = 1, \qquad "
           r"\mathrm{CR} = \frac{(\lambda_{\max} - n)/(n - 1)}{\mathrm{RI}_n} \le 0.1$$ from the pairwise "
           r"comparison matrix $A$ of each group (Saaty's 1–9 scale [@saaty1980], $a_{ji} = 1/a_{ij}$) and Saaty's random "
           r"index $\mathrm{RI}_n$.",
    "entropy": r"$$p_{ij} = \frac{y_{ij}}{\sum_i y_{ij}}, \quad e_j = -\frac{1}{\ln n}\sum_i p_{ij}\ln p_{ij}, "
               r"\quad w_j = \frac{1 - e_j}{\sum_{k} (1 - e_k)}$$ over all $n$ entity-years of the normalised "
               r"indicators $y$ of one group (an indicator with negative scores is first shifted so that "
               r"its minimum is 0). The input is the normalised score, already oriented so that higher is "
               r"better. Options: `rescale: minmax` first rescales each indicator to "
               r"$(y - \min y)/(\max y - \min y)$ (the textbooks' direction-adjusted min-max, equal to it "
               r"when the normalisation is linear in the raw value); `shift: c` adds $c$ (0.01, 0.001 or "
               r"0.0001) to every indicator (`shift_columns: all`) or, as SPSSAU does, $|\min y| + c$ to "
               r"indicators with a value $\le 0$ (`shift_columns: non_positive`, the default); `scope: panel` "
               r"(全局熵值法, the default) pools all $n = r \cdot T$ entity-years, min and max over all years "
               r"and $k = 1/\ln(rT)$, `scope: year` takes each year's cross-section of $r$ entities "
               r"($k = 1/\ln r$) and averages the yearly weights.",
    "critic": r"$$C_j = \sigma_j \sum_{k} (1 - r_{jk}), \qquad w_j = \frac{C_j}{\sum_k C_k}$$ with the standard "
              r"deviation $\sigma_j$ and the correlations $r_{jk}$ of the min-max rescaled indicators of one group.",
    "pca": r"$$w_j = \frac{\ell_{j1}^2}{\sum_k \ell_{k1}^2}$$ with the loadings $\ell_{j1}$ of the first "
           r"principal component of the standardised indicators of one group. With `loadings: signed` the "
           r"weights are the loadings themselves, $w_j = \ell_{j1} / \sum_k \ell_{k1}$, as COINr's "
           r"`get_PCA` gives them (the component's sign taken so that the loadings sum to a positive "
           r"number); a negative loading gives a negative weight and a warning.",
    "equal_indicators": r"$w_j = 1$ for every indicator and, for an aggregate, the number of indicators "
                        r"below it, so that every indicator has the effective weight $1/N$ of the $N$ "
                        r"indicators and a group weighs in proportion to its size.",
    "combined": r"Combination weighting (组合赋权) of the basic weight vectors $w^{(1)}, \dots, w^{(L)}$ "
                r"(relative within one group) of the methods under `of` (default `[fixed, entropy]`: the "
                r"framework's expert weights and entropy weights): `additive` "
                r"$w = \sum_k \alpha_k w^{(k)}$ (`alpha`; default equal shares); `multiplicative` "
                r"$w_j = \prod_k w^{(k)}_j / \sum_i \prod_k w^{(k)}_i$; `game_theory` (博弈论) solves "
                r"$\sum_k \alpha_k\, w^{(l)} \cdot w^{(k)} = w^{(l)} \cdot w^{(l)}$ for $l = 1..L$ and uses "
                r"$\alpha^*_k = |\alpha_k| / \sum |\alpha|$; `level_difference` (级差最大化) takes "
                r"$\theta$ maximising the spread $\theta^\top V Z^\top Z V^\top \theta$ of the composite "
                r"scores ($\|\theta\| = 1$; $Z$ the group's z-scored indicators, $V$ the basic vectors), "
                r"i.e. the principal eigenvector, rescaled to sum to 1 (郭亚军's 拉开档次 criterion applied "
                r"to the coefficients: our reading of the CASISD papers' rule, whose exact formula was "
                r"not found in a stored source). A group where all basic vectors agree keeps them.",
    "optimised": r"COINr's `get_opt_weights`: the weights $w$ of one `level` (the others as in the framework) "
                 r"that make the correlations $r_j$ (over all entity-years) of that level's nodes with the index "
                 r"balanced, "
                 r"$\min \log\big(\frac{1}{n}\sum_j (t_j - r_j/\sum_k r_k)^2\big)$ towards the target "
                 r"shares $t$ (`objective: balance`, equal by default), or largest, $\max \sum_j r_j$ "
                 r"(`objective: infomax`), found by R's Nelder–Mead search (relative tolerance 0.1, 500 "
                 r"evaluations), each trial index aggregated as `aggregation` says (arithmetic by default).",
}

# The same formulas for Chinese readers (same keys as FORMULAS).
FORMULAS_ZH = {
    "fixed": r"$w_j$ 取框架表中给定的权重。",
    "equal": r"每个节点 $w_j = 1$，因此在含 $n_k$ 个子项的组内 $\tilde w_j = 1/n_k$（等权）。",
    "ahp_panel": ahp.FORMULAS_ZH["ahp_panel"],
    "ahp": r"层次分析法：由每组的判断矩阵 $A$（Saaty 1–9 标度，$a_{ji} = 1/a_{ij}$）求 $$A w = \lambda_{\max} w, "
           r"\qquad \sum_j w_j = 1, \qquad \mathrm{CR} = \frac{(\lambda_{\max} - n)/(n - 1)}{\mathrm{RI}_n} "
           r"\le 0.1$$，$\mathrm{RI}_n$ 为 Saaty 平均随机一致性指标。",
    "entropy": r"熵权法：$$p_{ij} = \frac{y_{ij}}{\sum_i y_{ij}}, \quad e_j = -\frac{1}{\ln n}\sum_i p_{ij}"
               r"\ln p_{ij}, \quad w_j = \frac{1 - e_j}{\sum_k (1 - e_k)}$$，$y$ 为同组指标的标准化得分（已按"
               r"指标方向处理，越大越好），$n$ 为全部样本（主体×年份）数；有负值的指标先平移使最小值为 0。"
               r"选项：`rescale: minmax` 先对每个指标做极差标准化 $(y - \min y)/(\max y - \min y)$；"
               r"`shift: c` 为平移常数（0.01、0.001 或 0.0001），`shift_columns: all` 对所有指标加 $c$，"
               r"`shift_columns: non_positive`（默认，同 SPSSAU）对含 $\le 0$ 值的指标加 $|\min y| + c$；"
               r"`scope: panel`（默认，全局熵值法）把全部 $r \cdot T$ 个主体-年份合并计算，"
               r"$k = 1/\ln(rT)$，`scope: year` 按年截面计算（$k = 1/\ln r$）后对各年权重取算术平均。",
    "critic": r"CRITIC 法：$$C_j = \sigma_j \sum_k (1 - r_{jk}), \qquad w_j = \frac{C_j}{\sum_k C_k}$$，"
              r"$\sigma_j$ 与 $r_{jk}$ 为同组指标极差标准化后的标准差与相关系数。",
    "pca": r"主成分分析赋权：$$w_j = \frac{\ell_{j1}^2}{\sum_k \ell_{k1}^2}$$，$\ell_{j1}$ 为同组标准化指标"
           r"第一主成分的载荷。`loadings: signed` 时直接以载荷为权重 $w_j = \ell_{j1} / \sum_k \ell_{k1}$"
           r"（同 COINr 的 `get_PCA`，取使载荷之和为正的方向）；载荷为负时权重为负，并给出警告。",
    "equal_indicators": r"每个指标 $w_j = 1$，每个上级节点的权重为其下属指标的个数，因此 $N$ 个指标的"
                        r"最终权重均为 $1/N$，各组权重与其指标数成正比。",
    "combined": r"组合赋权：对 `of` 所列方法（默认 `[fixed, entropy]`，即框架表的专家权重与熵权）在同一组内的"
                r"基本权重向量 $w^{(1)}, \dots, w^{(L)}$ 进行组合。"
                r"`additive`（线性加权）$w = \sum_k \alpha_k w^{(k)}$（`alpha`，默认均分）；"
                r"`multiplicative`（乘法合成）$w_j = \prod_k w^{(k)}_j / \sum_i \prod_k w^{(k)}_i$；"
                r"`game_theory`（博弈论组合赋权）解 $\sum_k \alpha_k\, w^{(l)} \cdot w^{(k)} = "
                r"w^{(l)} \cdot w^{(l)}$（$l = 1..L$），取 $\alpha^*_k = |\alpha_k| / \sum |\alpha|$；"
                r"`level_difference`（级差最大化）取使综合得分离散程度 $\theta^\top V Z^\top Z V^\top \theta$ "
                r"最大的组合系数（$\|\theta\| = 1$，$Z$ 为组内指标的 z 标准化值，$V$ 为基本权重向量），"
                r"即最大特征值对应的特征向量，再归一化使其和为 1（将郭亚军拉开档次法的准则用于组合系数；"
                r"这是我们对中国科学院科技战略咨询研究院相关论文的理解，未找到其原文公式）。"
                r"各基本权重相同的组保持该权重。",
    "optimised": r"COINr 的 `get_opt_weights` 优化权重：调整某一层（`level`）的权重（其余层用框架表权重），"
                 r"使该层各节点与总指数的相关系数 $r_j$（基于全部主体-年份）均衡，即 $\min \log\big(\frac{1}{n}\sum_j "
                 r"(t_j - r_j/\sum_k r_k)^2\big)$（`objective: balance`，目标份额 $t$ 默认相等），或使其和最大 "
                 r"$\max \sum_j r_j$（`objective: infomax`）；用 R 的 Nelder–Mead 单纯形法求解（相对容差 0.1，"
                 r"最多 500 次计算），每次试算按 `aggregation`（默认算术平均）合成指数。",
}


def _fixed(framework: Framework, normalised=None, nodes: dict | None = None) -> pd.Series:
    """The framework table's weights; ``nodes`` (code -> weight) sets the raw weight of the nodes it names."""
    return with_node_weights(framework.table["weight"].astype(float), framework, nodes)


def _equal(framework: Framework, normalised=None, nodes: dict | None = None) -> pd.Series:
    """The same weight for every node; ``nodes`` (code -> weight) sets the raw weight of the nodes it names."""
    return with_node_weights(pd.Series(1.0, index=framework.table.index), framework, nodes)


def check_node_weights(nodes: dict, framework: Framework, column: str = f"{OPTION}.nodes") -> None:
    """Refuse a node weight that is not a number >= 0, names no node, or names the index (no siblings)."""
    for code, value in nodes.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
            raise InputError("a node weight must be a number >= 0", column=f"{column}.{code}", value=value,
                             expected="e.g. 2.0")
        if code == framework.root or code not in framework.table.index:
            raise InputError("the index has no siblings to weigh against" if code == framework.root else
                             "not a node of the framework", column=f"{column}.{code}", value=value,
                             expected="a dimension, sub-area or indicator code")


def with_node_weights(weights: pd.Series, framework: Framework, nodes: dict | None,
                      column: str = f"{OPTION}.nodes") -> pd.Series:
    """``weights`` with the raw weight of each node named in ``nodes`` replaced (siblings keep theirs, and
    aggregation rescales every group to sum to 1)."""
    if nodes is None:
        return weights
    if not isinstance(nodes, dict):
        raise InputError("nodes must map node codes to weights", column=column, value=nodes,
                         expected="{D3: 2.0, …}")
    check_node_weights(nodes, framework, column)
    weights = weights.copy()
    weights[list(nodes)] = [float(v) for v in nodes.values()]
    return weights


def _pairwise(matrix, name: str) -> np.ndarray:
    """The comparison matrix as floats; entries may be numbers or fractions such as "1/3"."""
    column = f"{OPTION}.matrices.{name}"
    try:
        rows = [[float(Fraction(str(v))) for v in row] for row in matrix]
    except (TypeError, ValueError, ZeroDivisionError):
        raise InputError("pairwise matrix has an entry that is not a number", column=column, value=matrix,
                         expected="rows of numbers or fractions like 1/3") from None
    n = len(rows)
    if not 1 <= n <= MAX_AHP_ITEMS or any(len(row) != n for row in rows):
        raise InputError("pairwise matrix is not square with 1 to 10 rows", column=column, value=matrix,
                         expected="an n×n matrix, n ≤ 10 (Saaty's random index table)")
    a = np.array(rows)
    if not ((a >= 1 / 9 - 1e-3) & (a <= 9 + 1e-3)).all() or not np.allclose(np.diag(a), 1.0):
        raise InputError("pairwise matrix is off Saaty's scale", column=column, value=matrix,
                         expected="entries in [1/9, 9] and 1 on the diagonal")
    # 1e-2 so that a rounded reciprocal such as 0.333 for 1/3 is accepted
    if not np.allclose(a * a.T, 1.0, rtol=0, atol=1e-2):
        raise InputError("pairwise matrix is not reciprocal", column=column, value=matrix,
                         expected="a_ji = 1/a_ij")
    return a


def ahp_weights(matrix, name: str = "matrix") -> tuple[np.ndarray, float]:
    """Principal-eigenvector weights (summing to 1) and Saaty's consistency ratio of a pairwise matrix (the
    priorities and the check of expert-panel AHP, ``zoneindex.ahp``, for one matrix)."""
    a = _pairwise(matrix, name)
    w = ahp.priority_vector(a, "eigenvector")
    return w, ahp.consistency(a, w).cr


def _ahp(framework: Framework, normalised=None, matrices: dict | None = None, force: bool = False) -> pd.Series:
    """Groups listed in ``matrices`` (rows and columns in the framework's order of the children) get
    eigenvector weights; other groups keep their framework weights."""
    if not isinstance(matrices, dict) or not matrices:
        raise InputError("ahp needs pairwise matrices", column=f"{OPTION}.matrices", value=matrices,
                         expected="{parent_code: [[1, a12, …], …], …}")
    if not isinstance(force, bool):
        raise InputError("option must be true or false", column=f"{OPTION}.force", value=force,
                         expected="true or false")
    weights = _fixed(framework)
    for parent, matrix in matrices.items():
        children = framework.children(parent) if parent in framework.table.index else []
        if not children:
            raise InputError("matrices key is not an aggregate of the framework", column=f"{OPTION}.matrices",
                             value=parent, expected=f"one of {sorted(set(framework.table['parent']) - {''})}")
        w, cr = ahp_weights(matrix, parent)
        if len(w) != len(children):
            raise InputError("pairwise matrix size differs from the number of children",
                             column=f"{OPTION}.matrices.{parent}", value=len(w),
                             expected=f"{len(children)} rows and columns, in the order {children}")
        if cr > CR_LIMIT and not force:
            raise InputError(f"pairwise comparisons of {parent!r} are inconsistent (CR = {cr:.3f} > {CR_LIMIT})",
                             column=f"{OPTION}.matrices.{parent}", value=round(cr, 4),
                             expected=f"CR ≤ {CR_LIMIT}: revise the judgements, or set force: true")
        weights[children] = w
    return weights


def _groups(framework: Framework, normalised: pd.DataFrame | None, method: str):
    """(parent, children, their normalised columns) for every group of sibling indicators."""
    if normalised is None or set(framework.indicators) - set(normalised.columns):
        raise InputError(f"{method} weights need the normalised matrix of every indicator", column=OPTION,
                         value=method, expected="the normalised indicators")
    for parent in framework.level_codes(2):
        children = framework.children(parent)
        data = normalised[children]
        short = data.columns[data.count() < 2]
        if len(children) > 1 and len(short):
            raise InputError(f"{method} weights need at least two observed values per indicator",
                             column=short[0], value=int(data[short[0]].count()), expected=">= 2 values")
        yield parent, children, data


def _by_group(framework: Framework, normalised, method: str,
              informativeness: Callable[[pd.DataFrame], pd.Series]) -> pd.Series:
    """Indicator weights proportional to ``informativeness`` within each group (a lone child gets 1)."""
    weights = _fixed(framework)
    for parent, children, data in _groups(framework, normalised, method):
        if len(children) == 1:
            weights[children] = 1.0
            continue
        score = informativeness(data)
        if not score.sum() > 0:
            raise InputError(f"{method} weights are undefined: no indicator of the group carries information "
                             f"(all constant, or perfectly correlated)", column=parent, value=list(children),
                             expected="indicators that vary")
        weights[children] = (score / score.sum()).to_numpy()
    return weights


def _entropy_divergence(y: pd.DataFrame) -> pd.Series:
    """1 − e_j per column; a column with negative scores is shifted so that its minimum is 0."""
    y = y - y.min().clip(upper=0.0)
    p = y / y.sum()
    entropy = -pd.DataFrame(xlogy(p, p), index=y.index, columns=y.columns).sum() / np.log(y.count())
    varies = y.max() > y.min()
    # a constant column has e = 1 exactly (or 0/0 when all zero); rounding may nudge 1 − e below 0
    return (1.0 - entropy).where(varies, 0.0).clip(lower=0.0)


def _prepared_for_entropy(y: pd.DataFrame, rescale: str, shift: float, shift_columns: str) -> pd.DataFrame:
    """The group's scores as the chosen entropy convention feeds them to :func:`_entropy_divergence`."""
    if rescale == "minmax":
        span = y.max() - y.min()
        # a constant column becomes 0 (it carries no information either way); a missing value stays missing
        y = (y - y.min()) / span.where(span > 0, 1.0)
    if shift_columns == "all":
        return y + shift
    # SPSSAU: only a column with a value <= 0 is moved, by |min| + c
    low = y.min()
    moved = low <= 0
    return y + (low.abs() + shift).where(moved, 0.0) if shift else y


def _entropy_shares(y: pd.DataFrame, rescale: str, shift: float, shift_columns: str, scope: str) -> pd.Series:
    """Entropy information of the group's columns: pooled (``panel``) or the mean of each year's shares."""
    if scope == "panel":
        return _entropy_divergence(_prepared_for_entropy(y, rescale, shift, shift_columns))
    shares = []
    for year, rows in y.groupby(level="year"):
        if (rows.count() < 2).any():
            raise InputError("entropy by year needs at least two entities with a value in every year",
                             column=str(rows.columns[(rows.count() < 2).argmax()]), value=int(year),
                             expected="a cross-section of >= 2 entities, or scope: panel")
        d = _entropy_divergence(_prepared_for_entropy(rows, rescale, shift, shift_columns))
        if not d.sum() > 0:
            raise InputError("entropy weights are undefined in this year: no indicator of the group varies",
                             column=", ".join(rows.columns), value=int(year), expected="indicators that vary")
        shares.append(d / d.sum())
    return sum(shares) / len(shares)


def _critic_information(y: pd.DataFrame) -> pd.Series:
    """σ_j Σ_k (1 − r_jk) on min-max rescaled columns; a constant column has σ = 0 and r taken as 0."""
    z = (y - y.min()) / (y.max() - y.min()).replace(0, np.nan)
    conflict = (1.0 - z.corr().fillna(0.0)).clip(lower=0.0).sum()
    return z.std(ddof=1).fillna(0.0) * conflict


def _first_component(y: pd.DataFrame) -> pd.Series:
    """The unit-length first eigenvector of the standardised columns (complete rows), oriented so that its
    entries sum to a positive number (the sign of a component is arbitrary)."""
    complete = y.dropna()
    if len(complete) < 2:
        raise InputError("pca weights need at least two entity-years with every indicator of the group",
                         column=", ".join(y.columns), value=len(complete), expected=">= 2 complete rows")
    from statsmodels.multivariate.pca import PCA

    z = ((complete - complete.mean()) / complete.std(ddof=1).replace(0, np.nan)).fillna(0.0)
    if not z.to_numpy().any():
        return pd.Series(0.0, index=y.columns)
    first = PCA(z, ncomp=1, standardize=False, demean=False, method="svd").loadings.iloc[:, 0]
    return pd.Series(first.to_numpy() * (1.0 if first.sum() >= 0 else -1.0), index=y.columns)


def _pca_share(y: pd.DataFrame) -> pd.Series:
    """Squared first-PC loadings of the standardised columns (complete rows), as shares summing to 1.

    Squared because the Handbook's factor-analysis weighting uses squared loadings scaled to unity
    sum; squaring also removes the arbitrary sign of the component and the negative weights that
    COINr's raw loadings can give.
    """
    # the first eigenvector has unit length: its squares are the loadings² / λ1 and sum to 1
    return _first_component(y) ** 2


def _entropy(framework: Framework, normalised=None, rescale: Literal["none", "minmax"] = "none",
             shift: float = 0.0, shift_columns: Literal["non_positive", "all"] = "non_positive",
             scope: Literal["panel", "year"] = "panel") -> pd.Series:
    """Entropy weights (熵权法) of the indicators of each group, in the convention the options choose."""
    _choice("rescale", rescale, ("none", "minmax"))
    _choice("shift_columns", shift_columns, ("non_positive", "all"))
    _choice("scope", scope, ("panel", "year"))
    if isinstance(shift, bool) or not isinstance(shift, (int, float)) or not 0 <= shift < 1:
        raise InputError("the entropy shift is a small constant >= 0", column=f"{OPTION}.shift", value=shift,
                         expected="0.01, 0.001 or 0.0001 (or 0)")
    return _by_group(framework, normalised, "entropy",
                     lambda y: _entropy_shares(y, rescale, float(shift), shift_columns, scope))


def _choice(option: str, value, allowed: tuple) -> None:
    """Refuse a value of ``option`` that is not one of ``allowed`` (the schema checks study.yaml; this, the API)."""
    if value not in allowed:
        raise InputError("unknown value", column=f"{OPTION}.{option}", value=value, expected=f"one of {list(allowed)}")


def _critic(framework: Framework, normalised=None) -> pd.Series:
    """CRITIC weights of the indicators of each group: contrast (standard deviation) times conflict
    (1 − correlation with the others) of the min-max rescaled indicators."""
    return _by_group(framework, normalised, "critic", _critic_information)


def _pca(framework: Framework, normalised=None, loadings: Literal["squared", "signed"] = "squared") -> pd.Series:
    """PCA weights of the indicators of each group: squared first-component loadings, or (``signed``) the
    loadings themselves as COINr's ``get_PCA`` uses them, with a warning for each negative one."""
    _choice("loadings", loadings, ("squared", "signed"))
    if loadings == "squared":
        return _by_group(framework, normalised, "pca", _pca_share)
    weights = _by_group(framework, normalised, "pca", _first_component)
    for code in framework.indicators:
        if weights[code] < 0:
            warnings.warn(f"pca weights (signed loadings): indicator {code!r} of group "
                          f"{framework.table.at[code, 'parent']!r} has a negative loading, so a negative weight "
                          f"({weights[code]:.4f}): a higher value lowers the index", stacklevel=2)
    return weights


def _equal_indicators(framework: Framework, normalised=None) -> pd.Series:
    """Every indicator the same effective weight: an aggregate weighs as many as it has indicators below it."""
    counts = pd.Series(0.0, index=framework.table.index)
    for code in framework.indicators:
        counts[[code, *framework.ancestors(code)]] += 1.0
    return counts


def _spec_of(entry, column: str) -> dict:
    """One method under ``of:``: a name, or a mapping with ``method`` and that method's options."""
    spec = {"method": entry} if isinstance(entry, str) else dict(entry) if isinstance(entry, dict) else None
    if spec is None or not isinstance(spec.get("method"), str):
        raise InputError("a method to combine is a name or a mapping with method:", column=column, value=entry,
                         expected="e.g. entropy, or {method: ahp, matrices: {…}}")
    if spec["method"] == "combined":
        raise InputError("combined weights cannot combine combined weights", column=column, value=entry,
                         expected="basic methods such as ahp, entropy, critic, fixed")
    return spec


def method_label(spec: dict) -> str:
    """A short readable name of a weighting method with its options, e.g. ``entropy (shift=0.01)``."""
    options = {k: v for k, v in spec.items() if k != "method"}
    text = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v}"
                     for k, v in options.items())
    return f"{spec['method']} ({text})" if text else str(spec["method"])


def combination(framework: Framework, normalised: pd.DataFrame | None, of: list, rule: str = "additive",
                alpha=None) -> tuple[dict[str, pd.Series], pd.Series, dict[str, np.ndarray]]:
    """The basic nominal weights (label -> weights), the combined nominal weights, and the coefficients of
    each group whose basic vectors differ (parent -> one coefficient per method under ``of``)."""
    column = f"{OPTION}.of"
    if not isinstance(of, list) or len(of) < 2:
        raise InputError("combined weights need at least two methods", column=column, value=of,
                         expected="a list such as [ahp, entropy]")
    _choice("rule", rule, RULES)
    if rule == "additive":
        additive_coefficients(alpha, len(of))  # refuse a bad alpha even where no group needs it
    elif alpha is not None:
        raise InputError(f"alpha is set by the {rule} rule itself", column=f"{OPTION}.alpha", value=alpha,
                         expected="no alpha (it applies to rule: additive)")
    basic: dict[str, pd.Series] = {}
    for i, entry in enumerate(of):
        spec = _spec_of(entry, f"{column}[{i}]")
        label = method_label(spec)
        label = label if label not in basic else f"{label} #{i + 1}"
        method = spec.pop("method")
        basic[label] = nominal_weights(framework, method, normalised, **spec)
    relative = [framework.relative_weights(w) for w in basic.values()]
    combined = relative[0].copy()
    coefficients = {}
    for parent in framework.table.index[framework.table["level"] > 1]:
        children = framework.children(parent)
        vectors = np.array([r[children].to_numpy(dtype=float) for r in relative])
        if np.allclose(vectors, vectors[0], rtol=0, atol=1e-12):
            continue
        data = None
        if rule == "level_difference":
            if int(framework.table.at[parent, "level"]) != 2:
                raise InputError("level-difference maximisation needs the group's data: it combines groups of "
                                 "indicators only", column=f"{OPTION}.rule", value=parent,
                                 expected="basic methods that differ only within indicator groups, or another rule")
            data = _standardised(normalised, children)
        combined[children], coefficients[parent] = combine(vectors, rule, alpha, data)
    return basic, combined, coefficients


def _standardised(normalised: pd.DataFrame | None, children: list[str]) -> np.ndarray:
    """The group's z-scores over its complete rows (a constant column is 0)."""
    if normalised is None:
        raise InputError("level-difference maximisation needs the normalised indicators", column=OPTION,
                         value="level_difference", expected="the normalised matrix")
    complete = normalised[children].dropna()
    if len(complete) < 2:
        raise InputError("level-difference maximisation needs two complete rows of the group",
                         column=", ".join(children), value=len(complete), expected=">= 2 complete entity-years")
    return ((complete - complete.mean()) / complete.std(ddof=1).replace(0, np.nan)).fillna(0.0).to_numpy()


DEFAULT_COMBINATION = ("fixed", "entropy")  # the framework table's expert weights and the data's entropy


def _combined(framework: Framework, normalised=None, of: list | None = None,
              rule: Literal["additive", "multiplicative", "game_theory", "level_difference"] = "additive",
              alpha: float | list | None = None) -> pd.Series:
    """Combination weighting (组合赋权) of the weights of the methods under ``of`` (default: the framework's
    expert weights and entropy weights), group by group."""
    return combination(framework, normalised, list(DEFAULT_COMBINATION) if of is None else of, rule, alpha)[1]


def combination_table(framework: Framework, normalised: pd.DataFrame | None, spec: dict,
                      lang: str = "en") -> pd.DataFrame:
    """For a ``weights: {method: combined, …}`` setting, side by side per node below the index: its relative
    weight (within its group) by each basic method, the combined one, and the coefficients of its group's
    combination (NaN: the group kept the common vector, or the rule has none)."""
    options = {k: v for k, v in spec.items() if k != "method"}
    if spec.get("method") != "combined":
        raise InputError("not a combination weighting", column=f"{OPTION}.method", value=spec.get("method"),
                         expected="combined")
    refuse_unknown_options(_combined, options, OPTION, skip=2)
    rule, of = options.get("rule", "additive"), options.get("of")
    basic, combined, coefficients = combination(framework, normalised, list(DEFAULT_COMBINATION) if of is None else of,
                                                rule, options.get("alpha"))
    nodes = [c for c in framework.codes if c != framework.root]
    table = framework.table.loc[nodes, ["level", "parent"]].copy()
    table.insert(0, "name", [framework.name(c, lang) for c in nodes])
    chinese = lang == "zh"
    # in Chinese the methods and the rule by their glossary terms (a method given with options by its label)
    named = {label: glossary.term(label, lang) if chinese and label in glossary.TERMS else label for label in basic}
    for label, weights in basic.items():
        table[named[label]] = framework.relative_weights(weights)[nodes]
    table[f"组合权重（{glossary.term(rule, lang)}）" if chinese else f"combined ({rule})"] = combined[nodes]
    for k, label in enumerate(basic):
        table[f"组合系数：{named[label]}" if chinese else f"coefficient: {label}"] = [
            coefficients[p][k] if p in coefficients else np.nan for p in table["parent"]]
    return table


def _optimised(framework: Framework, normalised=None, level: int | None = None,
               objective: Literal["balance", "infomax"] = "balance", targets: list | None = None,
               correlation: Literal["pearson", "spearman", "kendall"] = "pearson", tolerance: float = 0.1,
               max_evaluations: int = 500, aggregation: dict | None = None) -> pd.Series:
    """Weights of one level (default: the dimensions, one below the index) optimised as COINr's
    ``get_opt_weights`` does; ``aggregation`` the settings each trial index is aggregated with."""
    if normalised is None or set(framework.indicators) - set(normalised.columns):
        raise InputError("optimised weights need the normalised matrix of every indicator", column=OPTION,
                         value="optimised", expected="the normalised indicators")
    settings = {"method": "arithmetic"} if aggregation is None else aggregation
    allowed = {"method", "p", "min_availability", "non_positive", "by_level"}
    if not isinstance(settings, dict) or "method" not in settings or set(settings) - allowed:
        raise InputError("aggregation of the optimisation: a method and its settings", column=f"{OPTION}.aggregation",
                         value=aggregation, expected=f"a mapping with method: and some of {sorted(allowed)}")
    chosen = framework.max_level - 1 if level is None else level
    weights, _ = optimised_weights(framework, normalised, chosen, objective, targets, correlation, tolerance,
                                   max_evaluations, settings)
    return weights


WEIGHTERS: dict[str, Callable[..., pd.Series]] = {
    "fixed": _fixed, "equal": _equal, "ahp": _ahp, "entropy": _entropy, "critic": _critic, "pca": _pca,
    "equal_indicators": _equal_indicators, "combined": _combined, "optimised": _optimised,
    "ahp_panel": ahp.ahp_panel,  # expert-panel AHP from the filled questionnaires (zoneindex.ahp)
}


def nominal_weights(framework: Framework, method: str, normalised: pd.DataFrame | None = None,
                    **params) -> pd.Series:
    """Nominal weights of every node by the named method; ``params`` are the method's options."""
    if method not in WEIGHTERS:
        raise InputError("unknown weighting method", column=f"{OPTION}.method", value=method,
                         expected=f"one of {sorted(WEIGHTERS)}")
    refuse_unknown_options(WEIGHTERS[method], params, OPTION, skip=2)
    return WEIGHTERS[method](framework, normalised, **params).rename("weight")


def weights_table(framework: Framework, nominal: pd.Series) -> pd.DataFrame:
    """One row per node: nominal, relative (sums to 1 among siblings) and effective weight in the index."""
    table = framework.table[["code", "level", "parent"]].copy()
    table["weight"] = nominal.reindex(table.index)
    table["relative_weight"] = framework.relative_weights(nominal)
    table["effective_weight"] = framework.effective_weights(nominal)
    return table.reset_index(drop=True)
