r"""Ranks within each year of every replication's values (1 = highest, ties share the best rank), in the
sorted form the rank counts and the rank shift read: one argsort over all the nodes, years and replications
of a chunk, the entities listed in their nominal order so that each sort meets almost sorted rows."""
from __future__ import annotations

import numpy as np

from zoneindex import streaming

descending_ranks = streaming.descending_ranks


def mean_abs_rank_shift(ranks: np.ndarray, nominal: np.ndarray) -> np.ndarray:
    r"""$\bar R = \frac1M \sum_m |r_m - r^0_m|$ over the M entities ranked in both (last axis)."""
    diff = np.abs(ranks - nominal)
    valid = ~np.isnan(diff)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid, diff, 0.0).sum(axis=-1) / valid.sum(axis=-1)


def _ranks(values: np.ndarray, grid: np.ndarray, orders: np.ndarray | None = None) -> np.ndarray:
    """Ranks (1 = highest, ties share the best rank, NaN where no value) within each year of ``values``
    (nodes × rows × R): (nodes, years, R, entities), by ``streaming.descending_ranks``. ``orders`` (nodes ×
    years × entities) lists the entities in their nominal order, so that each sort meets almost sorted rows
    (twice as fast; the ranks do not depend on it)."""
    K, _, R = values.shape
    Y, E = grid.shape
    padded = np.empty((K, R, values.shape[1] + 1))
    padded[:, :, :-1] = values.transpose(0, 2, 1)
    padded[:, :, -1] = np.nan
    out = np.empty((K, Y, R, E))
    for k in range(K):
        for y in range(Y):
            order = np.arange(E) if orders is None else orders[k, y]
            out[k, y][:, order] = descending_ranks(padded[k][:, grid[y, order]])
    return out


def descending_order(values, negated: bool = False, overwrite: bool = False):
    """Rank ``values`` along the last axis (1 = highest, ties share the best rank) in sorted form: ``order``
    (the argsort of ``-values``, NaN last), ``start`` (int64, the rank at each sorted position: a tie run
    takes the 1-based position of its first member) and ``valid`` (per row the number of non-NaN values,
    which fill the first positions). ``negated``: ``values`` already holds ``-values``; ``overwrite``: and may
    be sorted in place (no copy). Only the rows with ties are scanned for their runs."""
    key = np.asarray(values, dtype=np.float64)
    if not negated:
        key = np.negative(key)
    shape, E = key.shape, key.shape[-1]
    order = np.argsort(key, axis=-1)
    start = np.broadcast_to(np.arange(1, E + 1, dtype=np.int64), shape)
    valid = np.full(shape[:-1], E, dtype=np.int64)
    if E < 2 or key.size == 0:
        if E == 1:
            valid = valid - np.isnan(key[..., 0])
        return order, start, valid
    ordered = key.reshape(-1, E)                                # the same values as key[order], NaN last
    if overwrite or not negated:                                # a key of its own: sorted in place, no copy
        ordered.sort(axis=-1)
    else:
        ordered = np.sort(ordered, axis=-1)
    nan = np.flatnonzero(np.isnan(ordered[:, -1]))
    if nan.size:
        valid.reshape(-1)[nan] -= np.count_nonzero(np.isnan(ordered[nan]), axis=-1)
    tie = ordered[:, 1:] == ordered[:, :-1]                    # NaN never ties
    if tie.any():                                               # (cheaper than the row-wise any)
        tied = np.flatnonzero(tie.any(axis=-1))
        start = np.array(start).reshape(-1, E)
        part = start[tied]
        part[:, 1:][tie[tied]] = 0
        np.maximum.accumulate(part, axis=-1, out=part)
        start[tied] = part
        start = start.reshape(shape)
    return order, start, valid


def listing(grid: np.ndarray, slots: np.ndarray, orders: np.ndarray | None = None) -> tuple:
    """What :func:`_sorted_ranks` reads for the aggregates ``slots``, the same for every chunk: the entities as
    listed (``orders``, nodes × years × entities, their nominal order: almost sorted rows; default: entity
    order), the positions of their values (slot, row; row 0 where the entity has none) and where it has none."""
    K, (Y, E) = len(slots), grid.shape
    perm = np.broadcast_to(np.arange(E), (K, Y, E)) if orders is None else np.asarray(orders)
    cols = np.take_along_axis(np.broadcast_to(grid, (K, Y, E)), perm, axis=-1)        # (K, Y, E) rows
    absent = cols < 0
    return perm, (np.asarray(slots)[:, None, None], np.maximum(cols, 0)), absent if absent.any() else None


def _sorted_ranks(values: np.ndarray, listed: tuple):
    """The ranks of :func:`_ranks` for the aggregates of ``listed`` (:func:`listing`) of ``values`` (aggregates ×
    rows × R), every node and year in one :func:`descending_order` call, in sorted form over the entities as
    listed: ``listed`` (nodes, years, R, entities) the position in the listing of the entity at each sorted
    position, ``start`` its rank, ``valid`` (nodes, years, R) the number of ranked entities (the first
    positions) and the (nodes, years, entities) listing itself."""
    perm, at, absent = listed
    K, Y, E = perm.shape
    keys = np.empty((K, Y, values.shape[2], E))
    np.negative(values[at].transpose(0, 1, 3, 2), out=keys)                         # (K, Y, E, R) gathered
    if absent is not None:
        keys[np.broadcast_to(absent[:, :, None, :], keys.shape)] = np.nan
    order, start, valid = descending_order(keys, negated=True, overwrite=True)
    return order, start, valid, perm


def _unsort(listed: np.ndarray, start: np.ndarray, valid: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Ranks in entity order (…, R, entities) from :func:`_sorted_ranks`'s form, NaN where not ranked;
    ``perm`` (…, entities) the entities as listed."""
    E = listed.shape[-1]
    ranks = np.where(np.arange(E) < valid[..., None], start, np.nan).reshape(-1, E)
    groups = np.arange(ranks.shape[0]).reshape(listed.shape[:-1] + (1,))
    span = np.arange(int(np.prod(perm.shape[:-1], dtype=np.int64))).reshape(perm.shape[:-1] + (1,)) * E
    entity = np.ascontiguousarray(perm).reshape(-1)[listed + span[..., None, :]]   # the entity at each position
    out = np.empty(ranks.shape)
    out[groups.reshape(-1, 1), entity.reshape(-1, E)] = ranks
    return out.reshape(listed.shape)


def _orders(nominal_ranks: np.ndarray) -> np.ndarray:
    """Per node and year the entities by nominal rank (missing last): see :func:`_ranks`."""
    return np.argsort(np.where(np.isnan(nominal_ranks), np.inf, nominal_ranks), axis=-1, kind="stable")
