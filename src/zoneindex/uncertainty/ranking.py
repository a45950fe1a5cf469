r"""Ranks within each year of every replication's values (1 = highest, ties share the best rank), in the
sorted form the rank counts and the rank shift read: one sort over all the nodes, years and replications of
a chunk, the entities listed in their nominal order so that each sort meets almost sorted rows."""
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
    be sorted in place (no copy).

    Most rows are sorted as single integers, each value's order-preserving bit pattern with its position in
    the low bits (a plain sort, which NumPy vectorises, is three times faster than an argsort); a row where
    two values agree but for those low bits (a tie, or nearly one), or that holds NaN, is ranked again by the
    argsort of :func:`_compared_order`, so that the result is the argsort's, whatever the values."""
    key = np.asarray(values, dtype=np.float64)
    if not negated:
        key, overwrite = np.negative(key), True
    shape, E = key.shape, key.shape[-1]
    bits = max(E - 1, 1).bit_length()
    if E < 2 or key.size == 0 or bits > PACKED_BITS:
        return _compared_order(key, overwrite)
    flat = key.reshape(-1, E)
    top = flat.max()                                    # NaN when some value is
    packed = np.add(flat, 0.0).view(np.int64)          # -0.0 becomes 0.0, which it equals
    if top <= 0:                                        # negative keys only: one flip makes them integers in
        packed ^= BELOW_SIGN                           # the same order
    else:
        flip = packed >> 63
        flip &= BELOW_SIGN
        packed ^= flip
    packed &= np.int64(-1 << bits)
    packed |= np.arange(E, dtype=np.int64)
    packed.sort(axis=-1)
    # neighbours in a row less than 2**bits apart have the same leading bits (or, rarely, differ by one in
    # them, or are so far apart that the difference wraps round): compared again as floats (the pairs across
    # two rows are no neighbours)
    along = packed.reshape(-1)
    close = np.flatnonzero(along[1:] - along[:-1] < (1 << bits))
    rows = np.unique(close[close % E != E - 1] // E)
    if np.isnan(top):
        rows = np.union1d(rows, np.flatnonzero(np.isnan(flat).any(axis=-1)))
    packed &= np.int64((1 << bits) - 1)
    order = packed                                      # the positions that were the low bits
    start = np.broadcast_to(np.arange(1, E + 1, dtype=np.int64), shape)
    valid = np.full(shape[:-1], E, dtype=np.int64)
    if rows.size:
        exact, exact_start, exact_valid = _compared_order(flat[rows], overwrite=True)
        order[rows] = exact
        start = np.array(start).reshape(-1, E)
        start[rows] = exact_start
        start = start.reshape(shape)
        valid.reshape(-1)[rows] = exact_valid
    return order.reshape(shape), start, valid


BELOW_SIGN = np.int64(0x7FFF_FFFF_FFFF_FFFF)     # every bit of a float64 but its sign
PACKED_BITS = 16    # positions up to 2**16 in the low bits of a packed sort key (:func:`descending_order`)


def _compared_order(key: np.ndarray, overwrite: bool):
    """:func:`descending_order` of ``key`` (``-values``) by an argsort, the tie runs of the rows that have
    ties scanned; ``overwrite``: ``key`` may be sorted in place."""
    shape, E = key.shape, key.shape[-1]
    order = np.argsort(key, axis=-1)
    start = np.broadcast_to(np.arange(1, E + 1, dtype=np.int64), shape)
    valid = np.full(shape[:-1], E, dtype=np.int64)
    if E < 2 or key.size == 0:
        if E == 1:
            valid = valid - np.isnan(key[..., 0])
        return order, start, valid
    ordered = key.reshape(-1, E)                                # the same values as key[order], NaN last
    if overwrite:
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
