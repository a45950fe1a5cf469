"""Weights: nominal weights per node, their within-group (relative) and effective (index-level) values.

Weights are value judgements (OECD/JRC Handbook, step 6) and so they are chosen by name in the study
definition: ``fixed`` takes the framework table's ``weight`` column (expert weights), ``equal`` gives
every sibling the same weight, ``ahp`` derives them from pairwise comparisons, and ``entropy``,
``critic`` and ``pca`` from the normalised indicators. The data-driven methods set the weights of
indicators within their group; aggregates keep their framework weight. A nominal weight only matters
relative to its siblings: aggregation rescales the weights of a group to sum to 1.
"""
from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pandas as pd
from scipy.special import xlogy

from zoneindex.errors import InputError
from zoneindex.framework import Framework
from zoneindex.normalise import refuse_unknown_options

OPTION = "methods.weights"
# Saaty's random consistency index for n = 1..10 compared items
RANDOM_INDEX = (0.0, 0.0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49)
CR_LIMIT = 0.1

# How each method sets the weight w_j of child j in group k; shown in the write-up.
FORMULAS = {
    "fixed": r"$w_j$ is the framework table's weight (expert judgement).",
    "equal": r"$w_j = 1$ for every node, so $\tilde w_j = 1/n_k$ within a group of $n_k$ siblings.",
    "ahp": r"$$A w = \lambda_{\max} w, \qquad \sum_j w_j = 1, \qquad "
           r"\mathrm{CR} = \frac{(\lambda_{\max} - n)/(n - 1)}{\mathrm{RI}_n} \le 0.1$$ from the pairwise "
           r"comparison matrix $A$ of each group (Saaty's 1–9 scale, $a_{ji} = 1/a_{ij}$) and Saaty's random "
           r"index $\mathrm{RI}_n$.",
    "entropy": r"$$p_{ij} = \frac{y_{ij}}{\sum_i y_{ij}}, \quad e_j = -\frac{1}{\ln n}\sum_i p_{ij}\ln p_{ij}, "
               r"\quad w_j = \frac{1 - e_j}{\sum_{k} (1 - e_k)}$$ over all $n$ entity-years of the normalised "
               r"indicators $y$ of one group (an indicator with negative scores is first shifted so that "
               r"its minimum is 0).",
    "critic": r"$$C_j = \sigma_j \sum_{k} (1 - r_{jk}), \qquad w_j = \frac{C_j}{\sum_k C_k}$$ with the standard "
              r"deviation $\sigma_j$ and the correlations $r_{jk}$ of the min-max rescaled indicators of one group.",
    "pca": r"$$w_j = \frac{\ell_{j1}^2}{\sum_k \ell_{k1}^2}$$ with the loadings $\ell_{j1}$ of the first "
           r"principal component of the standardised indicators of one group.",
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
    if not 1 <= n <= len(RANDOM_INDEX) or any(len(row) != n for row in rows):
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
    """Principal-eigenvector weights (summing to 1) and Saaty's consistency ratio of a pairwise matrix."""
    a = _pairwise(matrix, name)
    n = len(a)
    values, vectors = np.linalg.eig(a)
    principal = np.argmax(values.real)
    # The Perron vector of a positive matrix has one sign; abs() undoes the arbitrary sign of eig().
    vector = np.abs(vectors[:, principal].real)
    if n < 3:  # RI = 0: one or two items are always consistent
        return vector / vector.sum(), 0.0
    index = max((values[principal].real - n) / (n - 1), 0.0)  # λmax ≥ n in exact arithmetic
    return vector / vector.sum(), index / RANDOM_INDEX[n - 1]


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


def _critic_information(y: pd.DataFrame) -> pd.Series:
    """σ_j Σ_k (1 − r_jk) on min-max rescaled columns; a constant column has σ = 0 and r taken as 0."""
    z = (y - y.min()) / (y.max() - y.min()).replace(0, np.nan)
    conflict = (1.0 - z.corr().fillna(0.0)).clip(lower=0.0).sum()
    return z.std(ddof=1).fillna(0.0) * conflict


def _pca_share(y: pd.DataFrame) -> pd.Series:
    """Squared first-PC loadings of the standardised columns (complete rows), as shares summing to 1.

    Squared because the Handbook's factor-analysis weighting uses squared loadings scaled to unity
    sum; squaring also removes the arbitrary sign of the component and the negative weights that
    COINr's raw loadings can give.
    """
    complete = y.dropna()
    if len(complete) < 2:
        raise InputError("pca weights need at least two entity-years with every indicator of the group",
                         column=", ".join(y.columns), value=len(complete), expected=">= 2 complete rows")
    from statsmodels.multivariate.pca import PCA

    z = ((complete - complete.mean()) / complete.std(ddof=1).replace(0, np.nan)).fillna(0.0)
    if not z.to_numpy().any():
        return pd.Series(0.0, index=y.columns)
    # statsmodels' first eigenvector has unit length: its squares are the loadings² / λ1 and sum to 1
    first = PCA(z, ncomp=1, standardize=False, demean=False, method="svd").loadings.iloc[:, 0]
    return pd.Series(first.to_numpy() ** 2, index=y.columns)


def _entropy(framework: Framework, normalised=None) -> pd.Series:
    return _by_group(framework, normalised, "entropy", _entropy_divergence)


def _critic(framework: Framework, normalised=None) -> pd.Series:
    return _by_group(framework, normalised, "critic", _critic_information)


def _pca(framework: Framework, normalised=None) -> pd.Series:
    return _by_group(framework, normalised, "pca", _pca_share)


WEIGHTERS: dict[str, Callable[..., pd.Series]] = {
    "fixed": _fixed, "equal": _equal, "ahp": _ahp, "entropy": _entropy, "critic": _critic, "pca": _pca,
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
