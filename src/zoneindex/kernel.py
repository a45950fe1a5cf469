r"""The scoring kernel: normalised indicators → weights → aggregation up the tree → rebasing → contributions.

One set of array functions serves every caller: the nominal score (``score.score``, one replication), the
what-if re-score (one replication on cached clean data) and the uncertainty engine (batches of many
replications that share a normalised matrix). An aggregator is written here once; the aggregators that
compare rows (TOPSIS, grey relational analysis, Copeland) are written once in ``crossrow.py`` and called
from here node by node.

**Layout.** The hierarchy is compiled once (:class:`Tree`), the aggregation settings once (:class:`Plan`)
and the rows' structure once (:class:`Rows`: each row's base-year and previous-year row). The
normalised matrix ``x`` is (rows × indicators) and shared by the replications; the relative weights
``W`` are (R × nodes), one row per replication. Every aggregate is computed as a (rows × R) array, R
the contiguous axis, and :func:`aggregate` returns them as one (aggregates × rows × R) array.

**Order of operations.** A sum over the children is written out term by term in the framework's
order (:func:`_sum`: one after the other below 8 terms, blocked pairwise above), with element-wise NumPy
operations only: no result depends on NumPy's reduction loops or on memory layout, and replication $r$
of a batch equals the same replication computed alone, bit for bit, whatever R is.

**Missing children.** Weights are rescaled over the children present in a row,
$\tilde w_j = w_j / \sum_{i\ \mathrm{present}} w_i$; a node whose share of present children is below
``min_availability`` (or zero) is missing. A geometric or harmonic mean of a child ≤ 0 is refused,
or with ``non_positive: missing`` left missing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from zoneindex import crossrow
from zoneindex.aggregate import CROSS_ROW, method_for_level, method_options
from zoneindex.errors import InputError
from zoneindex.framework import Framework


@dataclass(frozen=True)
class Node:
    """One aggregate: its position in ``Tree.codes``, its children's positions and, when its children
    are indicators, their columns in the indicator matrix."""

    position: int
    children: np.ndarray
    columns: np.ndarray | None


@dataclass(frozen=True)
class Tree:
    """The framework compiled to positions (``codes`` in the framework's order)."""

    codes: tuple
    indicators: tuple
    levels: tuple          # levels[0] = the level-2 nodes, … up to the index
    aggregates: np.ndarray  # positions of the aggregates, in codes order (the rows of ``Aggregated.values``)
    slot: np.ndarray        # position -> row in ``Aggregated.values`` (-1 for an indicator)
    column: np.ndarray      # position -> column in the indicator matrix (-1 for an aggregate)
    parent: np.ndarray      # position -> parent's position (-1 for the index)
    level: np.ndarray
    root: int

    @classmethod
    def of(cls, framework: Framework) -> "Tree":
        codes = tuple(framework.codes)
        position = {c: i for i, c in enumerate(codes)}
        column = {c: j for j, c in enumerate(framework.indicators)}
        levels = []
        for level in range(2, framework.max_level + 1):
            nodes = []
            for code in framework.level_codes(level):
                kids = framework.children(code)
                columns = np.array([column[k] for k in kids]) if level == 2 else None
                nodes.append(Node(position[code], np.array([position[k] for k in kids]), columns))
            levels.append(tuple(nodes))
        level_of = framework.table["level"].reindex(codes).to_numpy(dtype=int)
        aggregates = np.flatnonzero(level_of >= 2)
        slot = np.full(len(codes), -1)
        slot[aggregates] = np.arange(len(aggregates))
        columns = np.array([column.get(c, -1) for c in codes])
        parents = framework.table["parent"].reindex(codes)
        parent = np.array([position.get(p, -1) for p in parents])
        return cls(codes, tuple(framework.indicators), tuple(levels), aggregates, slot, columns, parent,
                   level_of, position[framework.root])


class LevelPlan(tuple):
    """(method, p) of one level, as ``aggregate.method_for_level`` gives them, carrying the level's own
    ``min_availability`` (None: the plan's), whether its missing nodes are imputed (``impute``) and, for a
    method that compares rows (``crossrow``), its checked options (``options``)."""

    def __new__(cls, method: str, p, min_availability: float | None = None, impute: bool = False,
                options: dict | None = None):
        level = super().__new__(cls, (method, p))
        level.min_availability, level.impute, level.options = min_availability, impute, options
        return level

    def __getnewargs__(self):
        """Pickling (plans go to dask workers): ``__new__`` takes the fields, not one tuple."""
        return (self[0], self[1], self.min_availability, self.impute, self.options)


@dataclass(frozen=True)
class Plan:
    """The aggregation settings of one method set, compiled: per level (method, p) as
    ``aggregate.method_for_level`` gives them (a :class:`LevelPlan`), and the rules for missing and
    non-positive children. ``impute_group``: the entity group column of imputed aggregates."""

    levels: dict
    min_availability: float
    non_positive: str
    chain: bool
    rebase: bool
    impute_group: str | None = None

    @classmethod
    def of(cls, config: dict, max_level: int, rebase: bool, base_year: int | None) -> "Plan":
        chain = bool(config.get("chain", False))
        if chain and base_year is None:
            raise InputError("chain-linked aggregation needs a base year", column="methods.aggregation.chain",
                             value=True, expected="a study with base_year")
        non_positive = config.get("non_positive", "error")
        if non_positive not in ("error", "missing"):
            raise InputError("unknown rule for non-positive children", column="methods.aggregation.non_positive",
                             value=non_positive, expected="error or missing")
        rules = config.get("by_level") or {}
        imputed = config.get("impute_missing")
        impute_levels = set((imputed.get("levels") or range(2, max_level)) if imputed else ())
        levels = {level: LevelPlan(*method_for_level(config, level),
                                   (rules.get(level) or {}).get("min_availability") if isinstance(rules.get(level), dict)
                                   else None, level in impute_levels, method_options(config, level))
                  for level in range(2, max_level + 1)}
        return cls(levels, float(config.get("min_availability", 0.5)), non_positive, chain,
                   bool(rebase) and base_year is not None and not chain, (imputed or {}).get("group"))

    def share(self, level: int) -> float:
        """The share of its applicable children a node of ``level`` needs."""
        own = getattr(self.levels[level], "min_availability", None)
        return self.min_availability if own is None else float(own)


@dataclass(frozen=True)
class Rows:
    """The rows (entity, year) of the matrix: each row's base-year row and previous-year row of the same
    entity, as positions (-1 where there is none)."""

    entities: np.ndarray
    years: np.ndarray
    base: np.ndarray
    previous: np.ndarray
    base_year: int | None

    @classmethod
    def of(cls, index: pd.MultiIndex, base_year: int | None) -> "Rows":
        entities = np.asarray(index.get_level_values("entity"))
        years = np.asarray(index.get_level_values("year"), dtype=int)
        positions = pd.Series(np.arange(len(index)), index=index)

        def lookup(keys: pd.MultiIndex) -> np.ndarray:
            return positions.reindex(keys).fillna(-1).to_numpy(dtype=int)

        base = (lookup(pd.MultiIndex.from_arrays([entities, np.full(len(index), base_year)]))
                if base_year is not None else np.full(len(index), -1))
        previous = lookup(pd.MultiIndex.from_arrays([entities, years - 1]))
        return cls(entities, years, base, previous, base_year)

    def label(self, row: int) -> str:
        return f"{self.entities[row]} {self.years[row]}"


def relative_weights(raw: np.ndarray, tree: Tree) -> np.ndarray:
    r"""Weights rescaled within each group of siblings, $\tilde w_j = w_j / \sum_{i \in \mathrm{siblings}(j)} w_i$,
    for a batch (R × nodes, codes order); the index keeps 1 (sums by :func:`_sum`)."""
    raw = np.asarray(raw, dtype=float)
    relative = np.empty_like(raw)
    relative[:, tree.root] = 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        for children in _sibling_groups(tree):          # (nodes, c): the nodes with c children, as one array
            part = raw[:, children]                     # (R, nodes, c)
            total = _sum([part[:, :, j] for j in range(children.shape[1])])   # per element as node by node
            relative[:, children] = part / total[:, :, None]
    return relative


def _sibling_groups(tree: Tree) -> list[np.ndarray]:
    """The children of every aggregate (sibling groups are disjoint), grouped by their number: one
    (nodes × c) array of positions per c."""
    by_count: dict[int, list] = {}
    for nodes in tree.levels:
        for node in nodes:
            by_count.setdefault(len(node.children), []).append(np.asarray(node.children))
    return [np.array(rows).reshape(len(rows), c) for c, rows in sorted(by_count.items())]


def _sum(terms: list[np.ndarray]) -> np.ndarray:
    r"""$\sum_j t_j$ by blocked pairwise summation, written out so that the result depends only on the
    terms and their order: fewer than 8 terms are added one after the other, $((t_1 + t_2) + t_3) + \dots$;
    8 to 128 terms go into 8 interleaved partial sums $r_m = t_m + t_{m+8} + \dots$ combined as
    $((r_0 + r_1) + (r_2 + r_3)) + ((r_4 + r_5) + (r_6 + r_7))$, with the last $n \bmod 8$ terms added
    after; longer lists are split in two halves (the first a multiple of 8 long) and summed recursively.
    This is the scheme NumPy uses along contiguous memory (error growing with log n, not n), fixed here
    for every layout."""
    return _weighted_sum(None, terms, np.broadcast_shapes(*(np.shape(t) for t in terms)))


def _weighted_sum(weights, values, shape: tuple, transform=None) -> np.ndarray:
    r"""$\sum_j w_j f(v_j)$ in the order of :func:`_sum` (``weights`` None: $\sum_j f(v_j)$), each term
    computed into a reused buffer of ``shape``; the same operations as writing ``w * f(v)`` term by term."""
    def term(j: int, out: np.ndarray) -> np.ndarray:
        v = values[j] if transform is None else transform(values[j])
        if weights is None:
            out[...] = v
        else:
            np.multiply(weights[j], v, out=out)
        return out

    def block(indices) -> np.ndarray:
        total, scratch = term(indices[0], np.empty(shape)), np.empty(shape)
        for j in indices[1:]:
            total += term(j, scratch)
        return total

    n = len(values)
    if n < 8:
        return block(range(n))
    if n <= 128:
        partial = [block(range(m, n - n % 8, 8)) for m in range(8)]
        partial[0] += partial[1]
        partial[2] += partial[3]
        partial[4] += partial[5]
        partial[6] += partial[7]
        partial[0] += partial[2]
        partial[4] += partial[6]
        total = partial[0]
        total += partial[4]
        scratch = partial[1]
        for j in range(n - n % 8, n):
            total += term(j, scratch)
        return total
    half = n // 2
    half -= half % 8
    first = _weighted_sum(None if weights is None else weights[:half], values[:half], shape, transform)
    first += _weighted_sum(None if weights is None else weights[half:], values[half:], shape, transform)
    return first


@dataclass
class Aggregated:
    """Every aggregate of every replication, and what the decomposition of change needs.

    ``values`` (aggregates × rows × R): the scores, rebased when the plan rebases; ``raw`` the same before
    rebasing; ``undefined`` (aggregates × rows × R) True where a geometric or harmonic mean met a child
    ≤ 0 under ``non_positive: missing``; ``steps`` (chain-linking) per aggregate the children's yearly
    contributions, weights and weighted growth (see :func:`_chained`).
    """

    tree: Tree
    x: np.ndarray
    weights: np.ndarray
    values: np.ndarray
    raw: np.ndarray
    undefined: np.ndarray
    steps: dict
    applicable: np.ndarray | None = None   # (nodes × rows) False where a node does not apply (n/a), codes order
    imputed: np.ndarray | None = None      # (aggregates × rows × R) True where a missing aggregate was imputed

    def full(self) -> np.ndarray:
        """(nodes × rows × R) in codes order: the indicators (shared) and every aggregate."""
        tree = self.tree
        out = np.empty((len(tree.codes),) + self.values.shape[1:])
        indicators = tree.column >= 0
        out[indicators] = self.x.T[tree.column[indicators]][:, :, None]
        out[tree.aggregates] = self.values
        return out

    def node(self, position: int) -> np.ndarray:
        """One node's values (rows × R)."""
        slot = self.tree.slot[position]
        if slot < 0:
            return np.broadcast_to(self.x[:, self.tree.column[position]][:, None], self.values.shape[1:])
        return self.values[slot]


def aggregate(x: np.ndarray, weights: np.ndarray, tree: Tree, plan: Plan, rows: Rows,
              applicable: np.ndarray | None = None, groups: np.ndarray | None = None) -> Aggregated:
    """Aggregate the normalised matrix ``x`` (rows × indicators) up the tree for every replication's
    relative weights ``weights`` (R × nodes), level by level, with the plan's method per level.

    ``applicable`` (rows × indicators, optional): False for a cell that does not apply to the entity
    (not applicable, n/a). Such a child is not counted against a node's availability, and a node none
    of whose children apply does not apply itself. ``groups`` (rows, optional): each row's entity group,
    for the levels whose missing nodes the plan imputes by the node's mean over the group in the year."""
    x = np.asarray(x, dtype=float)
    weights = np.asarray(weights, dtype=float)
    R, n_rows = weights.shape[0], x.shape[0]
    shape = (len(tree.aggregates), n_rows, R)
    values = np.empty(shape)
    raw = np.empty(shape) if plan.rebase else values
    undefined = np.zeros(shape, dtype=bool)
    imputed = np.zeros(shape, dtype=bool)
    steps: dict[int, np.ndarray] = {}
    node_applies = None
    if applicable is not None:
        node_applies = np.ones((len(tree.codes), n_rows), dtype=bool)
        node_applies[tree.column >= 0] = np.asarray(applicable, dtype=bool).T[tree.column[tree.column >= 0]]
    cells = _cells(rows, groups) if any(getattr(lv, "impute", False) for lv in plan.levels.values()) else None
    with np.errstate(all="ignore"):
        for depth, nodes in enumerate(tree.levels):
            level = plan.levels[depth + 2]
            method, p = level
            options = getattr(level, "options", None)
            compare = crossrow.comparison(method, options, rows) if options is not None else None
            for node in nodes:
                slot = tree.slot[node.position]
                if node.columns is not None:
                    children = [x[:, c][:, None] for c in node.columns]
                else:
                    children = [values[tree.slot[c]] for c in node.children]
                if p is None or p <= 0:
                    children, undefined[slot] = _non_positive(children, method, node, tree, plan, rows)
                node_weights = [weights[:, c] for c in node.children]
                if plan.chain:
                    values[slot], steps[node.position] = _chained(children, node_weights, rows)
                    continue
                counted = None
                if node_applies is not None:
                    counted = node_applies[node.children].sum(axis=0).astype(float)[:, None]
                    node_applies[node.position] = counted[:, 0] > 0
                raw[slot] = _mean(children, node_weights, method, p, plan.share(depth + 2), counted, compare)
                if cells is not None and getattr(level, "impute", False):
                    applies = None if node_applies is None else node_applies[node.position]
                    raw[slot], imputed[slot] = _impute_missing(raw[slot], cells, applies)
                if plan.rebase:   # a row-comparing method's value is a relative position: never rebased
                    values[slot] = _rebased(raw[slot], rows) if compare is None else raw[slot]
    return Aggregated(tree, x, weights, values, raw, undefined, steps, node_applies,
                      imputed if cells is not None else None)


def _cells(rows: Rows, groups: np.ndarray | None) -> np.ndarray:
    """Each row's (group, year) cell as a number 0..k−1 (all entities one group without ``groups``)."""
    keys = pd.MultiIndex.from_arrays([np.zeros(len(rows.years)) if groups is None else np.asarray(groups, dtype=object),
                                      rows.years])
    return pd.factorize(keys)[0]


def _impute_missing(values: np.ndarray, cells: np.ndarray, applies: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    r"""A missing node (rows × R) that applies gets the mean of the node over the rows of its (group, year)
    cell that have a value, $\hat A_{k,e,t} = \frac{1}{|G|}\sum_{e' \in G_e} A_{k,e',t}$; returns the values
    and the mask of imputed ones."""
    present = ~np.isnan(values)
    sums = np.zeros((cells.max() + 1, values.shape[1]))
    counts = np.zeros_like(sums)
    np.add.at(sums, cells, np.where(present, values, 0.0))
    np.add.at(counts, cells, present)
    means = np.where(counts > 0, sums / np.where(counts > 0, counts, 1.0), np.nan)[cells]
    fill = ~present & ~np.isnan(means)
    if applies is not None:
        fill &= applies[:, None]
    return np.where(fill, means, values), fill


def _non_positive(children, method, node: Node, tree: Tree, plan: Plan, rows: Rows):
    """Geometric and harmonic means are undefined at 0: refuse, or (``non_positive: missing``) leave the
    row missing. Returns the children (rows with a bad child set to NaN) and the mask of those rows."""
    bad = [c <= 0 for c in children]   # False for NaN
    rows_bad = np.logical_or.reduce(np.broadcast_arrays(*bad)) if len(bad) > 1 else bad[0]
    if not rows_bad.any():
        return children, rows_bad
    if plan.non_positive == "error":
        for j, mask in enumerate(bad):
            if mask.any():
                row = int(np.argwhere(mask)[0][0])
                value = children[j][row].flat[int(np.argwhere(mask)[0][1])]
                raise InputError(f"{method} aggregation of {tree.codes[node.position]!r} needs positive values "
                                 "(choose a normalisation whose range excludes 0, e.g. min-max to [1, 100], or set "
                                 "non_positive: missing)", column=tree.codes[node.children[j]],
                                 value=f"{rows.label(row)}: {value}", expected="> 0")
    return [np.where(rows_bad, np.nan, c) for c in children], rows_bad


def _present_weights(children, node_weights) -> tuple[list[np.ndarray], np.ndarray | None]:
    r"""$\tilde w_j$ for every child: the weights renormalised over the children present in each row,
    and the number of children present (rows × R, or None where every child is present everywhere)."""
    missing = [np.isnan(c) for c in children]
    if not any(m.any() for m in missing):
        total = _sum(node_weights)
        return [w / total for w in node_weights], None
    w = [np.where(m, 0.0, wj) for m, wj in zip(missing, node_weights)]
    total = _sum(w)
    present = _sum([(~m).astype(float) for m in missing])
    return [wj / total for wj in w], present


def _mean(children, node_weights, method: str, p, min_availability: float, counted=None,
          compare=None) -> np.ndarray:
    r"""The weighted mean of one node for every row and replication (rows × R). ``counted`` (rows × 1): the
    number of children that apply in each row (default: all of them), the base of its availability;
    ``compare``: the node function of a method that compares rows (``crossrow.comparison``)."""
    w, present = _present_weights(children, node_weights)
    complete = present is None
    shape = np.broadcast_shapes(np.shape(w[0]), children[0].shape)
    if compare is not None:
        result = np.array(compare(children, w, node_weights), dtype=float)
    elif method == "mazziotta_pareto":
        v = children if complete else [np.nan_to_num(c) for c in children]
        mean = _weighted_sum(w, v, shape)
        spread = _weighted_sum(w, v, shape, lambda vj: (vj - mean) ** 2)
        result = mean - spread / mean
    elif p == 1.0:
        result = _weighted_sum(w, children if complete else [np.nan_to_num(c) for c in children], shape)
    else:
        ones = children if complete else [np.nan_to_num(c, nan=1.0) for c in children]
        if p is None:
            result = np.exp(_weighted_sum(w, ones, shape, np.log))
        else:
            result = _weighted_sum(w, ones, shape, lambda v: v ** p) ** (1.0 / p)
    if present is not None:
        available = present / (len(children) if counted is None else counted)
        available = np.broadcast_to(available, result.shape)
        result[(available < min_availability - 1e-12) | (available == 0)] = np.nan
    if counted is not None:
        result[np.broadcast_to(counted == 0, result.shape)] = np.nan
    return result


def _rebased(values: np.ndarray, rows: Rows) -> np.ndarray:
    r"""$D_{k,t} = 100\,A_{k,t} / A_{k,b}$: exactly 100 in the base year; missing without a base-year row."""
    base = np.where((rows.base >= 0)[:, None], values[np.maximum(rows.base, 0)], np.nan)
    return 100.0 * (values / base)


def _chained(children, node_weights, rows: Rows) -> tuple[np.ndarray, tuple]:
    r"""NBS chain-linking (``aggregate.CHAIN_FORMULA``): $D_t = D_{t-1}(1 + G_t)$ from $D_b = 100$ forwards and
    $D_{t-1} = D_t / (1 + G_t)$ backwards, $G_t = \sum_j \tilde w_j (v_{j,t}/v_{j,t-1} - 1)$ over the children
    present in both years. Returns the chained values and, for the decomposition, the children's yearly
    contributions $D_{t-1}\tilde w_j g_{j,t}$, their weights $\tilde w_j$ and weighted growth
    $\tilde w_j g_{j,t}$ (each children × rows × R)."""
    previous = rows.previous
    has_previous = previous >= 0
    shape = np.broadcast_shapes(*(c.shape for c in children), node_weights[0][None, :].shape)
    before = [np.where(has_previous[:, None], c[np.maximum(previous, 0)], np.nan) for c in children]
    both = [np.where(np.isnan(b), np.nan, c) for b, c in zip(before, children)]
    w, _ = _present_weights(both, node_weights)
    growth_terms = [np.broadcast_to(np.nan_to_num(wj * (v / b - 1.0)), shape) for wj, v, b in zip(w, both, before)]
    none_present = np.broadcast_to(np.logical_and.reduce([np.isnan(v) for v in both]), shape)
    growth = np.where(none_present, np.nan, _sum(growth_terms))
    years = rows.years
    chained = np.where((years == rows.base_year)[:, None], 100.0, np.full(shape, np.nan))
    for year in range(rows.base_year + 1, years.max() + 1):
        now = np.flatnonzero((years == year) & has_previous)
        chained[now] = chained[previous[now]] * (1.0 + growth[now])
    for year in range(rows.base_year, years.min(), -1):
        now = np.flatnonzero((years == year) & has_previous)
        chained[previous[now]] = chained[now] / (1.0 + growth[now])
    prior = np.where(has_previous[:, None], chained[np.maximum(previous, 0)], np.nan)
    steps = np.stack([np.where(has_previous[:, None], prior * g, 0.0) for g in growth_terms])
    return chained, (steps, np.stack([np.broadcast_to(np.nan_to_num(wj), shape) for wj in w]), np.stack(growth_terms))


# ---------------------------------------------------------------------------------------------------
# The exact decomposition of change since the base year (one replication: the nominal or a what-if)
# ---------------------------------------------------------------------------------------------------

# methods whose change is not a sum of per-child terms: shared out in proportion to the change of w̃_j v_j
PROPORTIONAL = ("mazziotta_pareto",) + CROSS_ROW


@dataclass
class Contributions:
    """Per row with a base-year row (``rows``), per node (codes order): ``change`` = the node's change since
    the base year in its own points, ``to_parent`` = its points of its parent's change, ``to_index`` = its
    points of the index's change."""

    rows: np.ndarray
    change: np.ndarray
    to_parent: np.ndarray
    to_index: np.ndarray


def contributions(result: Aggregated, plan: Plan, rows: Rows, replication: int = 0) -> Contributions:
    """Split every node's change since the base year exactly into its children's contributions
    (``aggregate.DECOMPOSITION_FORMULA``; chain-linked: ``aggregate.CHAIN_FORMULA``), for one replication."""
    if rows.base_year is None:
        raise InputError("contributions need a base year", column="base_year", expected="a year")
    tree = result.tree
    scores = result.full()[:, :, replication].T                       # rows × nodes
    keep = np.flatnonzero(rows.base >= 0)
    base_rows = rows.base[keep]
    current, base = scores[keep], scores[base_rows]
    change = current - base
    weights = result.weights[replication]
    to_parent = np.zeros_like(change)
    with np.errstate(all="ignore"):
        for depth, nodes in enumerate(tree.levels):
            method, p = plan.levels[depth + 2]
            for node in nodes:
                kids = node.children
                if plan.chain:
                    steps = result.steps[node.position][0][:, :, replication].T   # rows × children
                    to_parent[:, kids] = _cumulative(steps, rows)[keep]
                    continue
                raw = result.raw[tree.slot[node.position], :, replication]
                pieces = _child_contributions(current[:, kids], base[:, kids], weights[kids], p, raw[keep],
                                              raw[base_rows], exact_linear=method not in PROPORTIONAL)
                if method in CROSS_ROW:
                    pieces = crossrow.shared_by_weight(pieces, raw[keep] - raw[base_rows], weights[kids])
                rebased = plan.rebase and method not in CROSS_ROW
                to_parent[:, kids] = pieces * (100.0 / raw[base_rows])[:, None] if rebased else pieces
        if plan.chain:
            to_index = _chained_to_index(result, rows, replication)[keep]
        else:
            to_index = _proportional_to_index(change, to_parent, tree)
    to_parent[:, tree.root] = change[:, tree.root]
    return Contributions(keep, change, to_parent, to_index)


def _terms(values: np.ndarray, weights: np.ndarray, p) -> np.ndarray:
    """The additive pieces of a power mean's transform, one per child (rows × children; a missing child 0)."""
    children = [values[:, j][:, None] for j in range(values.shape[1])]
    w, _ = _present_weights(children, [np.full(1, wj) for wj in weights])
    v = [np.nan_to_num(c, nan=1.0) for c in children]
    piece = [np.log(vj) if p is None else vj ** p for vj in v]
    return np.nan_to_num(np.concatenate([wj * pj for wj, pj in zip(w, piece)], axis=1))


def _child_contributions(values_t, values_b, weights, p, aggregate_t, aggregate_b, exact_linear=True) -> np.ndarray:
    r"""Split $A_t - A_b$ into one contribution per child (rows × children): the change of
    $\tilde w_j v_j$ (arithmetic), else $\Delta A$ shared in proportion to the change of $\tilde w_j v_j^p$
    ($\tilde w_j \ln v_j$ for the geometric mean)."""
    delta_terms = _terms(values_t, weights, p) - _terms(values_b, weights, p)
    if p == 1.0 and exact_linear:
        return delta_terms
    total = _sum([delta_terms[:, j] for j in range(delta_terms.shape[1])])[:, None]
    change = (aggregate_t - aggregate_b)[:, None]
    # terms that cancel leave a total of rounding noise, which explains nothing (dividing by it gave ±1e17)
    explained = np.abs(total) > 1e-12 * np.abs(delta_terms).sum(axis=1, keepdims=True)
    return np.where(explained, change * delta_terms / np.where(explained, total, 1.0), 0.0)


def _proportional_to_index(change: np.ndarray, to_parent: np.ndarray, tree: Tree) -> np.ndarray:
    """Pass each node's points of the index change down to its children in proportion to their
    contributions to the node's own change (0 where the node did not change)."""
    to_index = np.zeros_like(change)
    to_index[:, tree.root] = change[:, tree.root]
    for nodes in reversed(tree.levels):
        for node in nodes:
            k = node.position
            ratio = np.where(change[:, k] != 0, to_index[:, k] / change[:, k], 0.0)
            to_index[:, node.children] = to_parent[:, node.children] * ratio[:, None]
    return to_index


def _cumulative(steps: np.ndarray, rows: Rows) -> np.ndarray:
    """Year-on-year steps (rows × k) summed from the base year to each year (minus the later steps
    before it)."""
    later = (rows.years > rows.base_year)[:, None]
    entity = rows.entities
    after = pd.DataFrame(np.where(later, steps, 0.0)).groupby(entity).cumsum().to_numpy()
    upto = pd.DataFrame(np.where(later, 0.0, steps)).groupby(entity)
    before = -(upto.transform("sum") - upto.cumsum()).to_numpy()
    return np.where(later, after, before)


def _chained_to_index(result: Aggregated, rows: Rows, replication: int) -> np.ndarray:
    r"""Each node's points of the chained index's change since the base year, summed year by year: in year
    t the index grows by $I_{t-1} G_t$ and node x adds $I_{t-1} s_x g_{x,t}$, $s_x$ the product of relative
    weights from the index down to x; summed over a node's children this is the node's own share."""
    tree = result.tree
    n_rows = len(rows.years)
    steps = np.zeros((n_rows, len(tree.codes)))
    share = np.zeros((n_rows, len(tree.codes)))
    share[:, tree.root] = 1.0
    index_values = result.values[tree.slot[tree.root], :, replication]
    before = np.where(rows.previous >= 0, index_values[np.maximum(rows.previous, 0)], np.nan)
    steps[:, tree.root] = np.nan_to_num(index_values - before)
    for nodes in reversed(tree.levels):
        for node in nodes:
            _, weights, growth_terms = result.steps[node.position]
            own = share[:, node.position][:, None]
            share[:, node.children] = own * weights[:, :, replication].T
            steps[:, node.children] = np.nan_to_num(before)[:, None] * own * growth_terms[:, :, replication].T
    return _cumulative(steps, rows)
