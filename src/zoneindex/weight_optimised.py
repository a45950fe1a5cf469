r"""Optimised weights as COINr's ``get_opt_weights`` finds them: the weights of one level that balance (or
maximise) the correlations of that level's nodes with the index.

COINr (R/weights.R, ``get_opt_weights`` and ``weights2corr``) re-aggregates the index for each trial
vector $w$ of the level's weights (rescaled to $w / \sum w$; the other levels keep the framework's
weights), correlates every node of the level with the index ($r_j$, Pearson by default), and minimises

- ``balance``: $\log\big(\tfrac{1}{n}\sum_j (t_j - r_j / \sum_k r_k)^2\big)$ towards the target shares
  $t$ (equal by default, rescaled to sum to 1), starting from $t$;
- ``infomax``: $-\sum_j r_j$, starting from the framework's weights;

with R's ``optim`` default, the Nelder–Mead simplex of Nash (1990) (``reltol`` 0.1 and 500 evaluations
unless told otherwise). :func:`nelder_mead` follows that algorithm step for step (initial simplex, the
reflection, expansion, contraction and shrink coefficients 1, 2, 0.5, 0.5 and the stopping rule), since
a different simplex search stops elsewhere with a tolerance this loose.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zoneindex import kernel
from zoneindex.errors import InputError
from zoneindex.framework import Framework

OPTION = "methods.weights"
OBJECTIVES = ("balance", "infomax")
CORRELATIONS = ("pearson", "spearman", "kendall")
NOT_FINITE = 1.0e35  # what R's optimiser puts in place of a non-finite objective value


@dataclass(frozen=True)
class Search:
    """The result of one Nelder–Mead search: the best point, its value, every value evaluated (in order)
    and whether the stopping rule was met before the evaluation budget ran out."""

    x: np.ndarray
    value: float
    trace: tuple
    converged: bool


def nelder_mead(objective: Callable[[np.ndarray], float], start, reltol: float = 1e-8,
                max_evaluations: int = 500) -> Search:
    """Minimise ``objective`` from ``start`` by Nash's Nelder–Mead variant, the one R's ``optim`` runs.

    The simplex is ``start`` and, for each coordinate i, ``start`` with x_i raised by a step of 0.1 ×
    the largest |x| (0.1 when all are 0). The search stops when the spread of the simplex's values is at
    most reltol·(|f(start)| + reltol), or after ``max_evaluations`` evaluations (then ``converged`` is
    False), or when a shrink no longer reduces the simplex.
    """
    trace: list[float] = []

    def evaluate(point: np.ndarray) -> float:
        value = float(objective(point.copy()))
        trace.append(value)
        return value if np.isfinite(value) else NOT_FINITE

    start = np.asarray(start, dtype=float)
    n = len(start)
    first = evaluate(start)
    if not np.isfinite(first):
        raise InputError("the objective cannot be evaluated at the starting weights", column=OPTION,
                         value=list(start), expected="starting weights where the index can be computed")
    tolerance = reltol * (abs(first) + reltol)
    step = 0.1 * np.abs(start).max() or 0.1
    vertices = np.tile(start, (n + 1, 1))
    values = np.empty(n + 1)
    values[0] = first
    size = 0.0
    for i in range(n):
        trial = step
        # a step too small to change x_i in floating point is made ten times larger until it does
        while vertices[i + 1, i] == start[i]:
            vertices[i + 1, i] = start[i] + trial
            trial *= 10
        size += trial
    previous_size = size
    low = 0
    stale = range(1, n + 1)   # vertices whose values are still to be computed
    while True:
        for j in stale:
            values[j] = evaluate(vertices[j])
        stale = ()
        # one pass for the lowest and highest vertex, starting from the current lowest (ties keep it)
        high, lowest, highest = low, values[low], values[low]
        for j in range(n + 1):
            if j != low:
                if values[j] < lowest:
                    low, lowest = j, values[j]
                if values[j] > highest:
                    high, highest = j, values[j]
        if highest <= lowest + tolerance:
            return Search(vertices[low].copy(), float(values[low]), tuple(trace), True)
        centroid = -vertices[high]   # summed in R's order: minus the highest, then every vertex
        for vertex in vertices:
            centroid = centroid + vertex
        centroid = centroid / n
        reflected = 2.0 * centroid - vertices[high]
        value_reflected = evaluate(reflected)
        if value_reflected < lowest:
            expanded = 2.0 * reflected - centroid
            value_expanded = evaluate(expanded)
            if value_expanded < value_reflected:
                vertices[high], values[high] = expanded, value_expanded
            else:
                vertices[high], values[high] = reflected, value_reflected
        else:
            if value_reflected < highest:
                vertices[high], values[high] = reflected, value_reflected
            contracted = 0.5 * vertices[high] + 0.5 * centroid
            value_contracted = evaluate(contracted)
            if value_contracted < values[high]:
                vertices[high], values[high] = contracted, value_contracted
            elif value_reflected >= highest:
                others = [j for j in range(n + 1) if j != low]
                vertices[others] = 0.5 * (vertices[others] - vertices[low]) + vertices[low]
                size = float(np.abs(vertices[others] - vertices[low]).sum())
                if size >= previous_size:
                    return Search(vertices[low].copy(), float(values[low]), tuple(trace), False)
                previous_size = size
                stale = others
        if len(trace) > max_evaluations:
            return Search(vertices[low].copy(), float(values[low]), tuple(trace), False)


def level_correlations(framework: Framework, normalised: pd.DataFrame, weights: pd.Series, level: int,
                       aggregation: dict, correlation: str = "pearson") -> pd.Series:
    """Correlation of every node of ``level`` with the index over the rows (entity-years) of ``normalised``,
    after aggregating with the nominal ``weights`` (pairwise complete rows, as R's ``cor`` in COINr)."""
    tree = kernel.Tree.of(framework)
    plan = kernel.Plan.of(aggregation, framework.max_level, False, None)
    rows = kernel.Rows.of(normalised.index, None)
    raw = weights.reindex(list(tree.codes)).to_numpy(dtype=float)[None, :]
    result = kernel.aggregate(normalised[list(tree.indicators)].to_numpy(dtype=float),
                              kernel.relative_weights(raw, tree), tree, plan, rows)
    wide = pd.DataFrame(result.full()[:, :, 0].T, columns=list(tree.codes))
    nodes = framework.level_codes(level)
    return wide[nodes].corrwith(wide[framework.root], method=correlation)


def optimised_weights(framework: Framework, normalised: pd.DataFrame, level: int, objective: str,
                      targets: list | None, correlation: str, tolerance: float, max_evaluations: int,
                      aggregation: dict) -> tuple[pd.Series, Search]:
    """Nominal weights with the nodes of ``level`` set as COINr's ``get_opt_weights`` sets them (summing
    to 1 over the level), and the search that found them."""
    _check(framework, level, objective, targets, correlation, tolerance, max_evaluations)
    nodes = framework.level_codes(level)
    base = framework.table["weight"].astype(float)
    if len(nodes) == 1:  # one node: its weight is 1 whatever it is, and there is nothing to balance
        weights = base.copy()
        weights[nodes] = 1.0
        return weights, Search(np.ones(1), float("nan"), (), True)
    if objective == "balance":
        shares = np.ones(len(nodes)) if targets is None else np.array(targets, dtype=float)
        shares = shares / shares.sum()
        start = shares
    else:
        start = base[nodes].to_numpy()

    def with_level(w: np.ndarray) -> pd.Series:
        trial = base.copy()
        trial[nodes] = w / w.sum()
        return trial

    def loss(w: np.ndarray) -> float:
        r = level_correlations(framework, normalised, with_level(w), level, aggregation, correlation).to_numpy()
        if objective == "infomax":
            return -float(r.sum())
        with np.errstate(divide="ignore"):
            return float(np.log(np.sum((shares - r / r.sum()) ** 2) / len(r)))

    search = nelder_mead(loss, start, tolerance, max_evaluations)
    weights = with_level(search.x)
    negative = [code for code in nodes if weights[code] < 0]
    if negative:
        raise InputError(f"the optimised weights of {negative} are negative", column=f"{OPTION}.level",
                         value=level, expected="another level, other targets, or objective infomax")
    return weights, search


def _check(framework: Framework, level, objective, targets, correlation, tolerance, max_evaluations) -> None:
    """Refuse settings COINr would refuse (and a level without siblings to weigh)."""
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level < framework.max_level:
        raise InputError("not a level below the index", column=f"{OPTION}.level", value=level,
                         expected=f"a whole number 1..{framework.max_level - 1} (1 = indicators)")
    if objective not in OBJECTIVES:
        raise InputError("unknown optimisation objective", column=f"{OPTION}.objective", value=objective,
                         expected=f"one of {list(OBJECTIVES)}")
    if correlation not in CORRELATIONS:
        raise InputError("unknown correlation", column=f"{OPTION}.correlation", value=correlation,
                         expected=f"one of {list(CORRELATIONS)}")
    count = len(framework.level_codes(level))
    if targets is not None and (objective != "balance" or not isinstance(targets, list) or len(targets) != count
                                or any(isinstance(t, bool) or not isinstance(t, (int, float)) or t < 0
                                       for t in targets) or not sum(targets) > 0):
        raise InputError("targets are one importance >= 0 per node of the level (objective balance only)",
                         column=f"{OPTION}.targets", value=targets,
                         expected=f"{count} numbers in the order {framework.level_codes(level)}")
    if not tolerance > 0 or isinstance(max_evaluations, bool) or not isinstance(max_evaluations, int) \
            or max_evaluations < 1:
        raise InputError("the search needs a tolerance > 0 and at least one evaluation", column=OPTION,
                         value={"tolerance": tolerance, "max_evaluations": max_evaluations},
                         expected="e.g. tolerance: 0.1, max_evaluations: 500")
