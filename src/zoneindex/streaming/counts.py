"""Streaming counts of Monte Carlo replications: moments per cell and rank histograms, memory bounded
whatever the number of replications.

**Ranks**: ``RankCounts`` keeps a rank histogram per (group, entity), O(E^2) memory whatever R; its quantiles
come from cumulative counts, and ``descending_ranks`` ranks with one argsort per row (O(E log E)).
``StreamingMoments`` keeps counts, sums and positive counts per cell (one pass).
"""
from __future__ import annotations

import numpy as np

from zoneindex.streaming.quantiles import _check_block, _locate, _ratio, _starts, _tiles, type7_lerp, type7_positions


class StreamingMoments:
    """Per-cell count of valid values, mean (sum / count) and share of positive values, in one pass.

    ``m = StreamingMoments(n_cells); m.add(block)`` for blocks ``(n_cells, r)`` (NaN = no value); then
    ``m.count()``, ``m.mean()`` and ``m.share_positive()`` = count(value > 0) / count (NaN where count = 0).
    """

    def __init__(self, n_cells: int, tile: int = 1 << 17):
        self.n_cells, self._tile = int(n_cells), int(tile)
        self._count, self._positive = np.zeros(self.n_cells, np.int64), np.zeros(self.n_cells, np.int64)
        self._sum = np.zeros(self.n_cells)

    def add(self, block) -> None:
        block = _check_block(block, self.n_cells)
        for j0, j1, xs in _tiles(block, np.arange(self.n_cells), self._tile):
            missing = np.isnan(xs)
            self._count[j0:j1] += np.count_nonzero(~missing, axis=1)
            self._sum[j0:j1] += np.where(missing, 0.0, xs).sum(axis=1)
            self._positive[j0:j1] += np.count_nonzero(xs > 0, axis=1)

    def count(self) -> np.ndarray:
        return self._count.copy()

    def mean(self) -> np.ndarray:
        return _ratio(self._sum, self._count)

    def share_positive(self) -> np.ndarray:
        return _ratio(self._positive, self._count)


class RankCounts:
    """Exact summaries of integer ranks through a rank histogram per (group, entity).

    ``add(ranks)`` takes ``(n_groups, n_entities, r)`` ranks 1..n_entities (floats; NaN = not ranked) and
    updates the table ``(n_groups, n_entities, n_entities)``, so memory does not grow with R.
    ``quantiles(probs)`` -> ``(len(probs), n_groups, n_entities)``, bit-for-bit ``np.nanquantile`` over the
    replications (type 7, from cumulative counts); ``mean()`` and ``count()`` -> ``(n_groups, n_entities)``.
    """

    def __init__(self, n_groups: int, n_entities: int):
        self.n_groups, self.n_entities = int(n_groups), int(n_entities)
        self.table = np.zeros((self.n_groups, self.n_entities, self.n_entities), np.int64)

    def add(self, ranks) -> None:
        G, E = self.n_groups, self.n_entities
        ranks = np.asarray(ranks, dtype=np.float64)
        if ranks.ndim != 3 or ranks.shape[:2] != (G, E):
            raise ValueError(f"ranks must have shape ({G}, {E}, r), got {ranks.shape}")
        flat = ranks.reshape(G * E, -1)
        values = flat[valid := ~np.isnan(flat)]
        if values.size and not (np.all(values == np.floor(values)) and values.min() >= 1 and values.max() <= E):
            raise ValueError(f"ranks must be integers 1..{E} or NaN")
        idx = np.nonzero(valid)[0] * E + (values.astype(np.intp) - 1)
        table = self.table.reshape(-1)
        if table.size <= 4 * idx.size:
            table += np.bincount(idx, minlength=table.size)
        else:
            np.add.at(table, idx, 1)

    def count(self) -> np.ndarray:
        return self.table.sum(axis=-1)

    def mean(self) -> np.ndarray:
        return _ratio(self.table @ np.arange(1, self.n_entities + 1), self.count())

    def quantiles(self, probs) -> np.ndarray:
        G, E = self.n_groups, self.n_entities
        probs = np.asarray(probs, dtype=np.float64).ravel()
        n = self.count().reshape(-1)
        out = np.full((probs.size, G * E), np.nan)
        if n.size and E:
            lo, hi, gamma = type7_positions(n, probs)
            cum = np.cumsum(self.table.reshape(-1))
            first = _starts(cum, E, np.arange(G * E))
            rank = [(_locate(cum, first + np.maximum(k, 0))[0] % E + 1).astype(np.float64) for k in (lo, hi)]
            out[:] = type7_lerp(rank[0], rank[1], gamma)
            out[:, n == 0] = np.nan
        return out.reshape(probs.size, G, E)


def descending_ranks(values) -> np.ndarray:
    """Ranks along the last axis, 1 = highest, ties share the best rank, NaN stays NaN.

    pandas' ``rank(ascending=False, method="min")`` for any leading shape: one argsort per row
    (O(n log n)); a tie run takes the 1-based position of its first member (running maximum).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 0:
        return descending_ranks(values[None])[0]
    missing = np.isnan(values)
    key = np.where(missing, np.inf, -values)                    # NaN after everything, even -inf
    order = np.argsort(key, axis=-1)
    ordered = np.take_along_axis(key, order, axis=-1)
    first = np.ones(values.shape, dtype=bool)
    first[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
    start = np.where(first, np.arange(1, values.shape[-1] + 1, dtype=np.float64), 0.0)
    np.maximum.accumulate(start, axis=-1, out=start)
    ranks = np.empty(values.shape)
    np.put_along_axis(ranks, order, start, axis=-1)
    ranks[missing] = np.nan
    return ranks
