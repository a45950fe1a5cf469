r"""Aggregations that compare rows: TOPSIS, grey relational analysis and Copeland outranking.

A weighted mean scores an entity-year from its own children; these methods score it against the other
rows of its *comparison set*: the entities of the same year (``year``, the default) or every entity-year of
the panel (``panel``). Their names, options and formulas are in ``aggregate.py``; ``kernel.aggregate``
calls :func:`comparison` for a level that uses one, so the nominal score, the what-if and the uncertainty
analysis all get them.

**Batches.** ``children`` are (rows × 1) or (rows × R) arrays (R replications, contiguous), the weights
(R,) or (rows × R). Sums over the children are written out one child after the other in the framework's
order; sums over the rows of a comparison set use ``np.add.at`` (row after row, per replication), and
extremes use ``np.fmax.at`` / ``np.fmin.at`` (exact, any order). So replication r of a batch equals the
same replication computed alone, bit for bit, as for the weighted means.

**Missing children.** A missing child value (NaN) takes no part: its weight is 0 (the kernel renormalises
the weights over the children present) and it is left out of the ideals, the extremes and the pairwise
comparisons. The kernel then applies the node's ``min_availability`` as for every method.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from zoneindex.errors import InputError


def comparison(method: str, options: dict, rows):
    """The node function of ``method`` for the kernel: ``f(children, weights, node_weights) -> (rows × R)``,
    ``weights`` renormalised over the children present, ``node_weights`` the node's relative weights."""
    over = options.get("ideals", options.get("over"))
    sets = np.unique(rows.years, return_inverse=True)[1] if over == "year" else np.zeros(len(rows.years), dtype=int)
    if method == "topsis":
        return partial(topsis, sets=sets)
    if method == "grey_relational":
        reference = _reference_rows(options["reference"], rows, sets)
        return partial(grey_relational, sets=sets, reference=reference, rho=options["rho"],
                       scaling=options["scaling"], labels=rows)
    return partial(copeland, sets=sets)


def _broadcast(children, weights) -> tuple[list[np.ndarray], tuple]:
    shape = np.broadcast_shapes(*(np.shape(c) for c in children), *(np.shape(w) for w in weights))
    return [np.broadcast_to(c, shape) for c in children], shape


def _set_extreme(values: np.ndarray, sets: np.ndarray, largest: bool) -> np.ndarray:
    """Each row's largest (or smallest) value over its comparison set, ignoring NaN (NaN if all are)."""
    out = np.full((sets.max() + 1,) + values.shape[1:], np.nan)
    (np.fmax if largest else np.fmin).at(out, sets, values)
    return out[sets]


def _set_mean(values: np.ndarray, sets: np.ndarray) -> np.ndarray:
    """Each row's mean over the present values of its comparison set (summed row after row)."""
    present = ~np.isnan(values)
    sums = np.zeros((sets.max() + 1,) + values.shape[1:])
    counts = np.zeros_like(sums)
    np.add.at(sums, sets, np.where(present, values, 0.0))
    np.add.at(counts, sets, present)
    return (sums / counts)[sets]


def topsis(children, weights, node_weights, sets: np.ndarray) -> np.ndarray:
    r"""Closeness $100\,D^-/(D^+ + D^-)$ of every row to the ideals of its comparison set.

    $v_j = \tilde w_j r_j$; $A_j^+$ and $A_j^-$ the largest and smallest $v_j$ of the set (the children are
    direction-corrected, so the positive ideal is always the maximum). A set in which every row has the
    same weighted values (or a lone row) gives 0/0: missing."""
    children, shape = _broadcast(children, weights)
    plus, minus = np.zeros(shape), np.zeros(shape)
    for child, w in zip(children, weights):
        v = w * child
        for distance, ideal in ((plus, _set_extreme(v, sets, True)), (minus, _set_extreme(v, sets, False))):
            distance += np.nan_to_num((v - ideal) ** 2)
    plus, minus = np.sqrt(plus), np.sqrt(minus)
    return 100.0 * (minus / (plus + minus))


def _reference_rows(reference: str, rows, sets: np.ndarray) -> np.ndarray | str:
    """``ideal``, or per row the position of its reference row (-1 where it has none)."""
    if reference == "ideal":
        return reference
    if reference == "base_year":
        if rows.base_year is None:
            raise InputError("a base-year reference sequence needs a base year", column="base_year",
                             expected="a study with base_year")
        return rows.base
    entity = reference[len("entity:"):].strip()
    if entity not in set(rows.entities):
        raise InputError("the reference entity of grey relational analysis is not in the panel",
                         column="methods.aggregation.reference", value=reference,
                         expected=f"entity:<one of {sorted(set(rows.entities))}>")
    position = {year: i for i, (e, year) in enumerate(zip(rows.entities, rows.years)) if e == entity}
    return np.array([position.get(year, -1) for year in rows.years])


def _from_row(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return np.where((positions >= 0)[:, None], values[np.maximum(positions, 0)], np.nan)


def relational_coefficients(children, sets: np.ndarray, reference, rho: float, scaling: str,
                            labels=None) -> list[np.ndarray]:
    r"""$\xi_{ij} = (\Delta_{\min} + \rho\Delta_{\max}) / (\Delta_{ij} + \rho\Delta_{\max})$ for every child
    (one array per child, NaN where the child or its reference value is missing); the extremes over the
    comparison set and all children; 1 where the whole set equals the reference ($\Delta_{\max} = 0$)."""
    scaled, references = [], []
    for j, child in enumerate(children):
        if scaling == "initial":
            base = _set_extreme(child, sets, True) if isinstance(reference, str) else _from_row(child, reference)
            bad = base <= 0
            if bad.any():
                row = int(np.argwhere(bad)[0][0])
                raise InputError("initial-value scaling divides by the reference value, which is not positive",
                                 column=f"child {j + 1} of the node",
                                 value=f"{labels.label(row) if labels is not None else row}: {base[bad][0]}",
                                 expected="a positive reference value, or scaling: mean or minmax")
            y = child / base
        elif scaling == "mean":
            y = child / _set_mean(child, sets)
        else:
            low, high = _set_extreme(child, sets, False), _set_extreme(child, sets, True)
            y = (child - low) / (high - low)
        scaled.append(y)
        references.append(_set_extreme(y, sets, True) if isinstance(reference, str) else _from_row(y, reference))
    deltas = [np.abs(y0 - y) for y0, y in zip(references, scaled)]
    smallest = largest = None
    for delta in deltas:
        low, high = _set_extreme(delta, sets, False), _set_extreme(delta, sets, True)
        smallest = low if smallest is None else np.fmin(smallest, low)
        largest = high if largest is None else np.fmax(largest, high)
    return [np.where(largest == 0, np.where(np.isnan(delta), np.nan, 1.0),
                     (smallest + rho * largest) / (delta + rho * largest)) for delta in deltas]


def grey_relational(children, weights, node_weights, sets: np.ndarray, reference, rho: float, scaling: str,
                    labels=None) -> np.ndarray:
    r"""Grey relational grade $100 \sum_j \tilde w_j \xi_{ij}$ (see :func:`relational_coefficients`), the
    weights renormalised over the children whose coefficient exists (a missing reference value leaves
    that child out)."""
    xi = relational_coefficients(children, sets, reference, rho, scaling, labels)
    _, shape = _broadcast(children, weights)
    total, weight = np.zeros(shape), np.zeros(shape)
    for coefficient, w in zip(xi, weights):
        present = ~np.isnan(coefficient)
        total += np.where(present, w * coefficient, 0.0)
        weight += np.where(present, w, 0.0)
    return 100.0 * (total / weight)


def copeland(children, weights, node_weights, sets: np.ndarray) -> np.ndarray:
    r"""Copeland score: the number of rows of the comparison set that a row beats minus those it loses to.

    Row $a$ beats row $b$ when the weighted share of the children in which $a$ is higher (ties count half),
    over the children both have, exceeds one half (COINr's ``a_copeland``: its outranking matrix above 0.5
    is a win, below a loss, exactly 0.5 a draw). Only the pair $a < b$ is computed and $b$ gets the
    opposite outcome, as COINr fills the lower triangle with $1 - S$; a share within $10^{-12}$ of one half is
    a draw, so that the rounding of equal weights (1/3 + 1/6) cannot decide a tie. Two rows without a child
    in common do not compare (0). Uses the node's relative weights ``node_weights``, not the renormalised
    ones (the pair decides which children count)."""
    children, shape = _broadcast(children, node_weights)
    values = np.stack(children)                                   # children × rows × R
    w = np.stack([np.broadcast_to(wj, shape[1:]) for wj in node_weights])   # children × R
    score = np.zeros(shape)
    for members in (np.flatnonzero(sets == s) for s in np.unique(sets)):
        v = values[:, members]                                     # children × n × R
        a, b = np.triu_indices(len(members), k=1)
        va, vb = v[:, a], v[:, b]                                  # children × pairs × R
        both = ~(np.isnan(va) | np.isnan(vb))
        wins = np.zeros(va.shape[1:])
        common = np.zeros(va.shape[1:])
        for j in range(len(v)):                                    # child after child, framework order
            share = np.where(va[j] > vb[j], 1.0, np.where(va[j] == vb[j], 0.5, 0.0))
            wins += np.where(both[j], w[j] * share, 0.0)
            common += np.where(both[j], w[j], 0.0)
        margin = wins / np.where(common > 0, common, 1.0) - 0.5
        outcome = np.where((common > 0) & (np.abs(margin) > 1e-12), np.sign(margin), 0.0)
        rows_score = np.zeros((len(members),) + outcome.shape[1:])
        np.add.at(rows_score, a, outcome)
        np.add.at(rows_score, b, -outcome)
        score[members] = rows_score
    return score


def shared_by_weight(pieces: np.ndarray, change: np.ndarray, weights: np.ndarray) -> np.ndarray:
    r"""The children's contributions (rows × children) to a row-comparing node's change, where the node
    changed although the row's own weighted children $\tilde w_j v_j$ did not (the other rows moved): that
    change is shared out by the relative weights, so the contributions still add up to the change."""
    unexplained = (pieces.sum(axis=1) == 0) & (change != 0) & np.isfinite(change)
    share = weights / weights.sum()
    return np.where(unexplained[:, None], change[:, None] * share[None, :], pieces)
