r"""Pass 1 of the exact quantiles in memory: every value kept while they fit, the order statistics read at the
end (``ExactQuantiles``, one pass).

The values are kept in *pieces*, one per block, cut from a few large arenas (huge pages, no page-by-page
faults), or written straight into their piece by the caller (``Place``, reserved beforehand: no copy). A
piece may hold a cell as one value shared by all its replications (``Place.constant``: an aggregate that
the replications of a chunk share), so that such cells are neither written nor sorted R times. At the end:

* a cell that is constant in every piece is a few (value, count) pairs: the order statistic at position k
  is the value of the first pair, in value order, whose cumulative count exceeds k;
* the other cells are expanded band by band into one reused buffer, where each cell's order statistics
  are selected by nested partitions or, for a cell with NaN or many ties, sorted (``_ordered_at``).

Either way the values at the positions are those a sort of all the cell's values would give (up to the sign
of a zero), so the quantiles are bit for bit ``np.nanquantile``'s.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_BAND_BYTES = 1 << 21            # values sorted at a time
_ARENA_BYTES = 1 << 26           # arenas of this size when the number of replications is not known


@dataclass
class Place:
    """The kept values of ``r`` replications: ``varied`` (rows × r) those of the cells not in ``constant``, in
    cell order, and ``same`` the one value of each cell of ``constant`` (a mask over the cells, None: no such
    cell), shared by all r replications."""

    varied: np.ndarray
    same: np.ndarray
    constant: np.ndarray | None
    r: int

    @property
    def nbytes(self) -> int:
        return self.varied.nbytes + self.same.nbytes

    def full(self) -> np.ndarray:
        """The values as one (cells × r) array."""
        if self.constant is None:
            return self.varied
        out = np.empty((len(self.constant), self.r))
        out[~self.constant] = self.varied
        out[self.constant] = self.same[:, None]
        return out


def _order_statistics(ordered: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The values at ``positions`` (k × rows, 0-based) of the rows of ``ordered``, each sorted (NaN last)."""
    last = max(ordered.shape[1] - 1, 0)
    return np.take_along_axis(ordered, np.clip(positions, 0, last).T, axis=1).T


def _rows(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``values[index]``, a view when the rows are consecutive."""
    if len(index) and index[-1] - index[0] == len(index) - 1:
        return values[index[0]:index[-1] + 1]
    return values[index]


class Kept:
    """The pieces of pass 1 (``Place``), in the order the replications came, and the arenas they are cut
    from: one for all the replications when their number is known, else of ``_ARENA_BYTES``."""

    def __init__(self, n_cells: int, replications: int | None):
        self.n_cells, self.replications = n_cells, replications
        self.pieces: list[Place] = []
        self._arenas: list[np.ndarray] = []
        self._left = 0                                                  # elements left in the last arena

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.pieces)

    def columns(self) -> tuple[int, int]:
        """Columns of all the cells the arenas hold, and those of them left."""
        n = max(self.n_cells, 1)
        return sum(a.size for a in self._arenas) // n, self._left // n

    def take(self, r: int, constant: np.ndarray | None, free: int) -> Place:
        """A new piece of r replications (``constant``: see ``Place``); ``free`` columns may be added to the
        arenas."""
        n, shared = max(self.n_cells, 1), 0 if constant is None else int(constant.sum())
        size = (self.n_cells - shared) * r
        if self._left < size or not self._arenas:
            columns = sum(a.size for a in self._arenas) // n
            want = _ARENA_BYTES // (8 * n) if self.replications is None else self.replications - columns
            self._arenas.append(np.empty(n * max(r, min(free, want))))
            self._left = self._arenas[-1].size
        arena = self._arenas[-1]
        start = arena.size - self._left
        self._left -= size
        varied = arena[start:start + size].reshape(self.n_cells - shared, r)
        self.pieces.append(Place(varied, np.empty(shared), constant, r))
        return self.pieces[-1]

    def quantiles(self, probs: np.ndarray, positions, lerp, free: int, note) -> tuple[np.ndarray, np.ndarray]:
        """(len(probs) × cells) quantiles of the kept values and (cells,) their counts; ``positions(n)`` and
        ``lerp`` the type-7 positions and interpolation, ``free`` the bytes the sort may take, ``note(bytes)``
        told the transients."""
        P, R = probs.size, sum(p.r for p in self.pieces)
        out, count = np.full((P, self.n_cells), np.nan), np.zeros(self.n_cells, np.int64)
        if R == 0 or self.n_cells == 0:
            return out, count
        masks = [np.zeros(self.n_cells, bool) if p.constant is None else p.constant for p in self.pieces]
        varied_row = [np.cumsum(~m) - 1 for m in masks]                 # cell -> row of ``varied`` / ``same``
        same_row = [np.cumsum(m) - 1 for m in masks]
        constant = np.logical_and.reduce(masks)
        pairs = np.flatnonzero(constant)
        if pairs.size:
            values = np.stack([p.same[rows[pairs]] for p, rows in zip(self.pieces, same_row)], axis=1)
            order = np.argsort(values, axis=1)                          # NaN last
            values = np.take_along_axis(values, order, axis=1)
            counts = np.where(np.isnan(values), 0, np.array([p.r for p in self.pieces])[order])
            cum = np.cumsum(counts, axis=1)
            count[pairs] = n = cum[:, -1]
            lo, hi, gamma = positions(n)
            last = len(self.pieces) - 1

            def at(k):
                first = np.minimum((cum[None] <= k[:, :, None]).sum(axis=2), last)
                return np.take_along_axis(values, first.T, axis=1).T

            out[:, pairs] = np.where(n > 0, lerp(at(lo), at(hi), gamma), np.nan)
        sorted_cells = np.flatnonzero(~constant)
        # bands of cells in one reused buffer of about _BAND_BYTES: sorted within the cache, and no fresh
        # pages to fault in for a copy of every value
        rows = int(max(1, min(free, _BAND_BYTES) // (8 * R + 48 * P)))
        band = np.empty((min(rows, sorted_cells.size), R))
        note(band.nbytes + out.nbytes)
        for c0 in range(0, sorted_cells.size, rows):
            cells = sorted_cells[c0:c0 + rows]
            part = band[:len(cells)]
            column = 0
            for piece, mask, vrow, srow in zip(self.pieces, masks, varied_row, same_row):
                segment, same = part[:, column:column + piece.r], mask[cells]
                if not same.any():
                    segment[...] = _rows(piece.varied, vrow[cells])
                else:
                    segment[~same] = piece.varied[vrow[cells[~same]]]
                    segment[same] = piece.same[srow[cells[same]]][:, None]
                column += piece.r
            n = R - np.count_nonzero(np.isnan(part), axis=1)
            count[cells] = n
            lo, hi, gamma = positions(n)
            a, b = np.split(_ordered_at(part, n, np.concatenate([lo, hi])), 2)
            out[:, cells] = np.where(n > 0, lerp(a, b, gamma), np.nan)
        return out, count


_SELECTED_MIN = 1024             # replications from which a row with no NaN and few ties is selected, not sorted
_SAMPLE = 64                     # values of a row whose distinct count tells whether it has few ties


def _ordered_at(rows: np.ndarray, n: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The values at ``positions`` (k × rows, 0-based) of each row of ``rows`` (R values, ``n`` of them not
    NaN) as a sort of the row would place them; ``rows`` may be reordered in place. A row with no NaN whose
    values have few ties is *selected*: partitioned at the middle position, then each side at the middle one
    of the positions it holds (:func:`_select`; one partition per position, not NumPy's scalar selection at
    several positions at once, which is 2-6 times slower than a sort). A row with NaN (its positions
    differ), a row with many ties (a node that takes a few distinct values: there a selection takes up to
    ten times as long as NumPy's vectorised sort, which meets them in runs) and rows of fewer replications are
    sorted (:func:`_order_statistics`). 10⁴ replications of normal values: 7 ms a selection of 200 rows
    against 16 ms a sort."""
    R = rows.shape[1]
    chosen = np.zeros(len(rows), bool)
    if R >= _SELECTED_MIN:
        sample = np.sort(rows[:, ::R // _SAMPLE][:, :_SAMPLE], axis=1)
        distinct = 1 + np.count_nonzero(sample[:, 1:] != sample[:, :-1], axis=1)
        chosen = (n == R) & (distinct >= _SAMPLE - _SAMPLE // 16)
    out = np.empty(positions.shape)
    for subset, select in ((np.flatnonzero(chosen), True), (np.flatnonzero(~chosen), False)):
        if not subset.size:
            continue
        part = rows if subset.size == len(rows) else rows[subset]
        if select:
            wanted = np.unique(positions[:, subset])
            _select(part, wanted)
            out[:, subset] = part[:, wanted][np.arange(len(part))[None, :], np.searchsorted(wanted,
                                                                                            positions[:, subset])]
        else:
            part.sort(axis=1)
            out[:, subset] = _order_statistics(part, positions[:, subset])
    return out


def _select(rows: np.ndarray, wanted: np.ndarray) -> None:
    """Partition ``rows`` in place so that each position of ``wanted`` (sorted, unique, in range) holds the
    value a sort would put there: the middle one first, then the positions on each side within that side."""
    spans = [(0, rows.shape[1], wanted)]
    while spans:
        start, stop, inside = spans.pop()
        if not inside.size:
            continue
        middle = int(inside[inside.size // 2])
        rows[:, start:stop].partition(middle - start, axis=1)
        spans.append((start, middle, inside[inside < middle]))
        spans.append((middle + 1, stop, inside[inside > middle]))
