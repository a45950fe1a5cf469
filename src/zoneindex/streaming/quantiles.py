r"""Exact streaming quantiles of Monte Carlo replications with memory bounded by a budget (pure NumPy).

The uncertainty engine produces, block after block, the values of ``n_cells`` cells (entity x year x node)
for R replications; this module summarises them without ever holding the R x cells array.

**Exact quantiles** (``ExactQuantiles``).
The quantile of a cell is numpy's default (``method="linear"``, Hyndman & Fan / R type 7) over the cell's
``n`` valid (non-NaN) values sorted as :math:`x_{(1)} \le \dots \le x_{(n)}`:

.. math:: h = (n - 1)\,p, \qquad Q(p) = x_{(\lfloor h \rfloor + 1)}
          + (h - \lfloor h \rfloor)\,(x_{(\lfloor h \rfloor + 2)} - x_{(\lfloor h \rfloor + 1)})

(NaN when ``n = 0``; for :math:`h \ge n - 1` both order statistics are :math:`x_{(n)}`). Only the order
statistics at the 0-based positions :math:`k = \lfloor h \rfloor` and :math:`\lfloor h \rfloor + 1` are needed;
they are located exactly by counting, and the final interpolation replays numpy's own arithmetic
(``_lerp``: :math:`a + (b-a)\gamma`, or :math:`b - (b-a)(1-\gamma)` when :math:`\gamma \ge 1/2`), so results are
bit-for-bit those of ``np.nanquantile(values, probs, axis=-1)`` whatever the blocking and order of the blocks.

Passes (every pass replays every replication once, in any blocking and order):

1. counts :math:`n_c`, :math:`\min_c`, :math:`\max_c` (two reductions per value; none when R was told and
   the values fit); the blocks (or copies) are kept until they overflow the budget. If all fit (values plus
   one row, about :math:`8\,n_{cells}R` bytes) the order statistics are read from the rows sorted in place
   (``kept``), and the counts from the NaN at their ends: **1 pass**. Otherwise positions 0, n-1 are the min,
   max; the other order statistics needed are *targets*.
2. a histogram of every cell with targets, linear between min and max:
   :math:`b(x) = \lfloor (x - \min_c)\,s_c \rfloor \in \{0..B\}`, :math:`s_c = B / (\max_c - \min_c)` (infinite
   range: :math:`b(x) = \lfloor x\,B\,2^{-1025} + B/2 \rfloor`; -inf and NaN go to bin 0, +inf to bin B, the
   NaN count is then removed from bin 0). ``B`` (at most 8192) takes what the budget leaves, 8 bytes per bin
   and cell. Each IEEE step is monotone, so whatever the rounding a bin holds an interval of values and the
   cumulative counts give each target's bin and its exact rank inside the bin.
3. and later: the values of the located bins are recognised by the same bin function and a lookup table
   (1 byte per bin). A group of candidates is *gathered* (stored, then sorted: exact order statistics; a
   group of equal values needs no sort) when the gathered values fit in the budget (32 bytes each, smallest
   groups first) and it is not a crowd (over 64 times an average bin: mostly ties); otherwise it is *refined*:
   histogrammed again on the order-preserving integer key of its float64 bits
   (:math:`u = \mathrm{bits} \oplus (\mathrm{sign}\ ?\ 2^{64}-1 : 2^{63})`) in :math:`B_s = 2^j` sub-bins
   :math:`\lfloor (u - u_0) / 2^{shift} \rfloor`, keeping the exact smallest and largest key of each sub-bin.
   The sub-bin holding the target is the next group, with exact bounds; equal bounds (heavy ties) resolve it
   at once. Each refinement divides the key span (under :math:`2^{64}`) by :math:`B_s`, so the passes are

   .. math:: P = 1 \text{ (in memory)}, \quad\text{else}\quad P \le 3 + L,\qquad
             0 \le L \le 1 + \lceil 64 / \log_2 B_s \rceil \text{ refinements};

   L = 0 (3 passes) when the values of the located bins (about :math:`2|p|\,n_{cells}R/B` times the density
   ratio) fit in the budget; ties or outliers add a pass or two.

Cost per pass: a handful of vectorised operations per value (subtract, multiply, add, cast, then
``np.bincount`` or a table lookup), plus sorting / ``np.add.at`` on the candidate values only: O(R n_cells).
Memory: the budget covers all state (counts, min, max, targets, histograms, lookup table, gathered values,
transients of ``finish_pass``) plus a workspace: values are processed in tiles of at most
``memory_bytes / 2816`` elements (at most 2^17), so temporaries do not grow with the blocks. The smallest
budget accepted is about ``n_cells * (100 + 608 |p|)`` bytes plus the workspace; ``peak_bytes`` reports the
largest estimate seen. Infinities are valid values (interpolating next to one gives NaN exactly where numpy
does); ``-0.0 == 0.0`` (the sign of a zero result may differ from numpy's).

"""
from __future__ import annotations

import collections

import numpy as np

from zoneindex.streaming.kept import Kept, Place

__all__ = ["ExactQuantiles", "type7_positions", "type7_lerp"]

_SIGN, _UMAX, _ONE = np.uint64(1 << 63), np.uint64(2**64 - 1), np.uint64(1)
_MAX_BINS = 1 << 13              # pass-2 bins per cell
_MAX_SUB_LOG2 = 14               # refinement sub-bins per group: at most 2**14
_CROWD = 64                      # a group this many times an average bin is refined, not gathered
_SUB_TABLE = 1 << 20             # refinement sub-bins in all, unless that leaves a group fewer than 256
_WS_PER_ELEM = 176               # bytes of temporaries per element of a tile (upper estimate)
_GATHER_BYTES = 32               # per gathered value: value, group id, the sorted (group, value) pair
_SUB_BYTES = 32                  # per refinement sub-bin: count, min key, max key, cumulative count
_TARGET_BYTES = 200              # per target, beyond its 40 bytes of state: group, plan, transients (bound)
_PER_PASS = ("_cnt", "_mn", "_mx", "_buf_v", "_buf_g")


def type7_positions(n, probs):
    """numpy's linear method for counts ``n`` (cells,): 0-based positions (lo, hi) and weights, (P, cells)."""
    n = np.asarray(n, dtype=np.int64)
    last = (n - 1).astype(np.float64)
    h = last * np.asarray(probs, dtype=np.float64).reshape(-1, 1)      # numpy: (n - 1) * q
    above = h >= last                                      # numpy then takes the last value twice
    prev = np.where(above, -1.0, np.floor(h))              # ... with gamma = h - (-1)
    lo = np.where(above, n - 1, prev).astype(np.int64)
    return lo, np.where(above, n - 1, prev + 1).astype(np.int64), h - prev


def type7_lerp(a, b, gamma):
    """numpy's ``_lerp``, operation for operation (so results are bit-identical to ``np.quantile``)."""
    with np.errstate(invalid="ignore"):
        diff = b - a
        out = np.asarray(a + diff * gamma, dtype=np.float64)
        np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    return out


def _ukeys(x):
    """Order-preserving uint64 keys of float64 values (``x + 0.0`` first, so that -0.0 maps like 0.0)."""
    x = np.ascontiguousarray(x, dtype=np.float64) + 0.0
    return x.view(np.uint64) ^ ((x.view(np.int64) >> 63).view(np.uint64) | _SIGN)


def _from_ukeys(k):
    return np.where(k >= _SIGN, k ^ _SIGN, ~k).view(np.float64)


def _bitlen(u):
    """Exact bit length of uint64 values (0 for 0)."""
    e = np.minimum(np.frexp(u.astype(np.float64))[1].astype(np.int64), 64)
    return e - ((e > 0) & ((u >> np.maximum(e - 1, 0).astype(np.uint64)) == 0))


def _binning(base, span, log2):
    """Power-of-two sub-bins of [base, base + span]: shift and saturated top key (keys are clipped to it)."""
    shift = np.maximum(_bitlen(span) - log2, 0)
    total = shift + log2
    width = np.where(total >= 64, _UMAX, (_ONE << np.minimum(total, 63).astype(np.uint64)) - _ONE)
    return shift.astype(np.uint64), np.where(width > _UMAX - base, _UMAX, base + width)


def _starts(cum, width, rows):
    """Count before row ``rows`` in a flat cumulative table of rows of ``width`` bins."""
    return np.where(rows > 0, cum[np.maximum(rows * width - 1, 0)], 0)


def _locate(cum, pos):
    """Bin holding the 0-based position ``pos`` of a flat cumulative table, and the count before that bin."""
    at = np.minimum(np.searchsorted(cum, pos, side="right"), cum.size - 1)
    return at, np.where(at > 0, cum[np.maximum(at - 1, 0)], 0)


def _ratio(a, n):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, a / np.maximum(n, 1), np.nan)


def _check_block(block, n_cells):
    block = np.asarray(block, dtype=np.float64)
    if block.ndim != 2 or block.shape[0] != n_cells:
        raise ValueError(f"blocks must have shape ({n_cells}, r), got {block.shape}")
    return block


def _tiles(block, rows, size):
    """(j0, j1, view or copy of block[rows[j0:j1]] columns) with at most ``size`` elements each."""
    r = block.shape[1]
    per, width = max(1, size // max(r, 1)), max(1, min(r, size))
    for j0 in range(0, rows.size, per):
        j1 = min(j0 + per, rows.size)
        first, last = int(rows[j0]), int(rows[j1 - 1])
        for c0 in range(0, r, width):
            if last - first == j1 - j0 - 1:
                yield j0, j1, block[first:last + 1, c0:c0 + width]
            else:
                yield j0, j1, block[rows[j0:j1], c0:c0 + width]


class ExactQuantiles:
    """Exact per-cell type-7 quantiles of values arriving in blocks, over as many passes as the budget needs.

    ``q = ExactQuantiles(n_cells, probs, memory_bytes, replications=None)``, then
    ``while q.needs_pass(): q.start_pass(); [q.add(block) for block in blocks()]; q.finish_pass()``
    and ``q.result()`` -> ``(len(probs), n_cells)``, bit-for-bit ``np.nanquantile(values, probs, axis=-1)``.
    Each pass must feed every replication exactly once as float blocks ``(n_cells, r)`` (NaN = no value; pass 1
    keeps copies, so a block may change once added), in any blocking and order; ``reserve(r)`` offers the
    place where pass 1 keeps the next r replications' values, to be filled and added instead of a copy.
    Passes: 1 if about ``8 * n_cells * R`` bytes fit in the budget, else 3 plus one per refinement level (at most
    ``ceil(64 / log2(Bs)) + 1``, see the module). ``replications``: R, when known, so that pass 1 copies
    nothing only to drop it once the values overflow the budget.
    ``passes`` counts the passes used, ``peak_bytes`` the largest estimated size of the state plus workspace.
    Raises ValueError when the budget is below the minimum, RuntimeError when a pass saw other values.
    """

    def __init__(self, n_cells: int, probs, memory_bytes: int, replications: int | None = None):
        self.n_cells, self.memory_bytes = int(n_cells), int(memory_bytes)
        self.probs = np.asarray(probs, dtype=np.float64).ravel()
        if self.n_cells < 0 or not np.all((self.probs >= 0) & (self.probs <= 1)):
            raise ValueError("n_cells must be >= 0 and probs in [0, 1]")
        self._tile = int(np.clip(self.memory_bytes // (16 * _WS_PER_ELEM), 64, 1 << 17))
        self._workspace = self._tile * _WS_PER_ELEM
        need = self._workspace + 2048 + self.n_cells * (100 + 2 * self.probs.size * (40 + _TARGET_BYTES + 64))
        if need > self.memory_bytes:
            raise ValueError(f"memory_bytes={self.memory_bytes} is below the minimum of about {need} bytes "
                             f"for {self.n_cells} cells and {self.probs.size} probabilities")
        n = self.n_cells
        self._n, self._min, self._max = np.zeros(n, np.int64), np.full(n, np.inf), np.full(n, -np.inf)
        self.passes, self.peak_bytes, self._R, self._seen, self._kept = 0, 0, 0, 0, True
        self._stored = Kept(n, replications)
        self._reserved, self._refused = collections.deque(), False      # places reserved, not yet added
        self._stage, self._open, self._result = "count", False, None
        self._replications = replications
        if replications is not None:                                    # as _keep reckons
            held = 8 * int(replications) * (n + 1) + 8 * n * self.probs.size + self._state_bytes()
            self._kept = held <= self.memory_bytes

    def needs_pass(self) -> bool:
        return self._result is None

    def start_pass(self) -> None:
        if self._open or self._result is not None:
            raise RuntimeError("start_pass() without a pending pass (or before finish_pass())")
        self._open, self._seen, self.passes = True, 0, self.passes + 1
        if self._stage == "hist":
            self._counts = np.zeros(self._m * self._W, np.int64)
        elif self._stage == "refine":
            self._plan()
        self._note()

    def reserve(self, r: int, constant: np.ndarray | None = None) -> Place | None:
        """The place where pass 1 keeps the values of the next ``r`` replications (``kept.Place``; ``constant``:
        the cells whose values all r share, kept once): fill it and ``add`` it, in the order reserved, and
        nothing is copied (a copy into fresh pages cost more than sorting the values). None when the values
        are not kept (later passes, or once they overflow the budget: keeping ends with that block)."""
        if not (self._open and self._stage == "count" and self._kept and not self._refused):
            return None
        if self._room() < r:
            self._refused = True
            return None
        place = self._take(r, constant)
        self._reserved.append(place)
        return place

    def add(self, block) -> None:
        """``block``: (n_cells × r) floats, or the place :meth:`reserve` gave, filled."""
        if not self._open:
            raise RuntimeError("add() outside a pass: call start_pass() first")
        if isinstance(block, Place):
            if not (self._reserved and block is self._reserved[0]):
                raise RuntimeError("reserved places must be added once each, in the order reserved")
        else:
            block = _check_block(block, self.n_cells)
        self._seen += block.r if isinstance(block, Place) else block.shape[1]
        try:
            getattr(self, "_add_" + self._stage)(block)
        except (IndexError, ValueError) as error:                       # a value out of pass 1's range
            raise RuntimeError("every pass must feed the same values as pass 1") from error

    def finish_pass(self) -> None:
        if not self._open:
            raise RuntimeError("finish_pass() without start_pass()")
        self._open = False
        if self._stage != "count" and self._seen != self._R:
            raise RuntimeError(f"pass {self.passes} fed {self._seen} replications, pass 1 fed {self._R}: "
                               "every pass must feed the same replications")
        getattr(self, "_finish_" + self._stage)()

    def result(self) -> np.ndarray:
        if self._result is None:
            raise RuntimeError("quantiles not ready: run the passes while needs_pass() is true")
        return self._result

    def _state_bytes(self) -> int:
        return sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray)) + self._workspace

    def _note(self, extra: int = 0) -> None:
        held = self._state_bytes() + self._stored.nbytes + int(extra)
        self.peak_bytes = max(self.peak_bytes, held)

    # --- pass 1: counts, min, max (and the values themselves while they fit) -----------------------
    def _add_count(self, block):
        """When R was told and the values fit, they are only kept (the sort counts them); otherwise counted
        too, and the kept ones counted when they overflow after all (more replications than told)."""
        known = self._kept and self._replications is not None
        if not known:
            self._count(block.full() if isinstance(block, Place) else block)
        if isinstance(block, Place):
            self._reserved.popleft()                                    # kept where it was filled
        elif self._kept:
            if self._reserved:
                raise RuntimeError("reserved places must be added before any other block")
            if not self._keep(block):
                if known:
                    for kept in [p.full() for p in self._stored.pieces] + [block]:
                        self._count(kept)
                self._stored, self._kept = Kept(self.n_cells, self._replications), False
        self._note()

    def _count(self, block):
        for j0, j1, xs in _tiles(block, np.arange(self.n_cells), self._tile):
            lo, hi = np.minimum.reduce(xs, axis=1), np.maximum.reduce(xs, axis=1)   # NaN if any NaN
            count, nan = np.full(j1 - j0, xs.shape[1], np.int64), np.isnan(lo)
            if nan.any():
                part = xs[nan]
                lo[nan], hi[nan] = np.fmin.reduce(part, axis=1), np.fmax.reduce(part, axis=1)
                count[nan] -= np.count_nonzero(np.isnan(part), axis=1)
            self._n[j0:j1] += count
            np.fmin(self._min[j0:j1], lo, out=self._min[j0:j1])
            np.fmax(self._max[j0:j1], hi, out=self._max[j0:j1])

    def _room(self) -> int:
        """Columns that may still be kept: those left in the last arena and what the budget leaves for the
        arenas, one sorted row of as many values and the results."""
        n = max(self.n_cells, 1)
        columns, left = self._stored.columns()
        held = 8 * columns * (self.n_cells + 1) + 8 * self.n_cells * self.probs.size
        return (self.memory_bytes - held - self._state_bytes()) // (8 * n + 8) + left

    def _keep(self, block) -> bool:
        """Copy the block's values into the kept ones, unless they overflow the budget (False, nothing kept)."""
        if self._room() < block.shape[1]:
            return False
        self._take(block.shape[1], None).varied[...] = block
        return True

    def _take(self, r: int, constant: np.ndarray | None) -> Place:
        """A new kept piece, the arenas growing by what the budget leaves at most."""
        return self._stored.take(r, constant, self._room() - self._stored.columns()[1])

    def _finish_count(self):
        if self._reserved:
            raise RuntimeError("a reserved place was not added")
        self._R = R = self._seen
        n = self._n
        if self._kept:
            self._result = self._in_memory()
            self._stored = Kept(self.n_cells, self._replications)
            return
        lo, hi, _ = type7_positions(n, self.probs)
        k, cell = np.concatenate([lo, hi]).ravel(), np.tile(np.arange(self.n_cells), 2 * self.probs.size)
        mid = (k > 0) & (k < n[cell] - 1) & (self._min[cell] < self._max[cell])
        self._t_code = np.unique(cell[mid] * (R + 1) + k[mid])          # unresolved targets (cell, k)
        t_cell, self._t_r = self._t_code // (R + 1), self._t_code % (R + 1)
        self._t_val, self._t_g = np.full(t_cell.size, np.nan), np.full(t_cell.size, -1, np.int64)
        if t_cell.size == 0:
            self._result = self._assemble()
            return
        self._act = np.unique(t_cell)                                   # cells histogrammed in pass 2
        m = self._m = self._act.size
        # counts take 8 bytes a bin (the lookup table of the later passes 1 byte a bin)
        free = self.memory_bytes - self._state_bytes() - 48 * m - _TARGET_BYTES * self._t_code.size
        B = int(min(_MAX_BINS, max(2, R), free // (8 * m) - 1))
        if B < 2:
            raise MemoryError(f"memory_bytes={self.memory_bytes} too small for a histogram of {m} cells")
        self._B, self._W = B, B + 1                                     # a row: bins 0..B (B: the max)
        vmin, vmax = self._min[self._act], self._max[self._act]
        with np.errstate(all="ignore"):
            s = B / (vmax - vmin)
        ok = np.isfinite(s) & (s > 0)
        self._c0, self._s = np.where(ok, vmin, 0.0)[:, None], np.where(ok, s, B * 2.0**-1025)[:, None]
        self._c1 = (np.arange(m, dtype=np.float64) * (B + 1) + np.where(ok, 0.0, B / 2))[:, None]
        self._dirty = (n[self._act] < R) | ~ok                          # rows that may hold NaN or inf
        self._t_a = np.searchsorted(self._act, t_cell)
        self._rows, self._aidx, self._stage = self._act, np.arange(m), "hist"

    def _in_memory(self):
        """The quantiles from the kept values; the counts come with them, so pass 1 need not have counted."""
        free = self.memory_bytes - self._state_bytes() - self._stored.nbytes - 8 * self.probs.size * self.n_cells
        out, self._n[:] = self._stored.quantiles(self.probs, lambda n: type7_positions(n, self.probs), type7_lerp,
                                                 free, self._note)
        return out

    # --- pass 2: per-cell histograms ---------------------------------------------------------------
    def _coarse(self, xs, a):
        """Global pass-2 bin (a * (B + 1) + bin) of every value: finite values land in bins 0..B (all IEEE
        steps are monotone and (x - min) * s <= B (1 + 2 eps)); -inf and NaN go to bin 0, +inf to bin B."""
        t = xs - self._c0[a]
        t *= self._s[a]
        t += self._c1[a]
        with np.errstate(invalid="ignore"):
            g = t.astype(np.intp)
        if self._dirty[a].any():
            bad = ~np.isfinite(xs)
            if bad.any():
                g[bad] = a[np.nonzero(bad)[0]] * self._W + np.where(xs[bad] > 0, self._B, 0)
        return g

    def _add_hist(self, block):
        W = self._W
        for j0, j1, xs in _tiles(block, self._rows, self._tile):
            gb = self._coarse(xs, self._aidx[j0:j1]).ravel()
            if (j1 - j0) * W <= 2 * gb.size:
                self._counts[j0 * W:j1 * W] += np.bincount(gb - j0 * W, minlength=(j1 - j0) * W)
            else:
                np.add.at(self._counts, gb, 1)

    def _finish_hist(self):
        W, m, R, counts = self._W, self._m, self._R, self._counts
        counts[np.arange(m) * W] -= R - self._n[self._act]              # the NaNs went to bin 0
        cum = np.cumsum(counts, out=counts)
        first = _starts(cum, W, np.arange(m))
        if not np.array_equal(cum[np.arange(1, m + 1) * W - 1] - first, self._n[self._act]):
            raise RuntimeError("pass 2 saw other values than pass 1: every pass must feed the same values")
        pos = first[self._t_a] + self._t_r
        gb, below = _locate(cum, pos)
        size = cum[gb] - below
        self._note(4 * 8 * pos.size)
        del self._counts, self._t_a, counts, cum
        uq, inv = np.unique(gb, return_inverse=True)
        self._t_g, self._t_r, self._q_gb = inv.astype(np.int64), pos - below, uq
        # lookup table: bin -> 1 + index of the located bin within its row (0: not located); the small
        # dtype keeps the table's cache footprint low; _rowq maps (row, index) to the located bin's id
        row = uq // W
        local = np.arange(uq.size) - np.searchsorted(row, row)
        self._table = np.zeros(m * W, np.uint8 if local.max() < 255 else np.int32)
        self._table[uq] = local + 1
        self._rowq = np.full((m, int(local.max()) + 1), -1, np.int64)
        self._rowq[row, local] = np.arange(uq.size)
        self._g_n = size[np.unique(inv, return_index=True)[1]]
        # approximate value range of each located bin, widened; keys outside it are clipped (still exact)
        c0, s, c1, b = self._c0[row, 0], self._s[row, 0], self._c1[row, 0], (uq % W).astype(np.float64)
        vmin, vmax = self._min[self._act[row]], self._max[self._act[row]]
        with np.errstate(all="ignore"):
            lo, hi = c0 + (row * W + b - c1) / s, c0 + (row * W + b + 1 - c1) / s
            pad = (hi - lo) / 16
            lo, hi = np.clip(lo - pad, vmin, vmax), np.clip(hi + pad, vmin, vmax)
        self._g_base = _ukeys(np.where(np.isnan(lo), vmin, lo))
        self._g_span = np.maximum(_ukeys(np.where(np.isnan(hi), vmax, hi)), self._g_base) - self._g_base
        self._g_q, self._g_lo, self._g_hi = np.arange(uq.size), np.zeros(uq.size, np.uint64), np.full(uq.size, _UMAX)
        self._stage = "refine"

    # --- passes 3+: gather or refine the located bins --------------------------------------------
    def _plan(self):
        """Choose, within the budget, which groups are gathered and how finely the others are refined. A crowd
        (more than _CROWD times the values of an average bin) is refined even when it would fit: in one bin
        that many are mostly ties (a node that takes a few values), which the refinement resolves in the
        same pass (equal bounds) at a fraction of the cost of storing and sorting them. The sub-bins stay
        within _SUB_TABLE in all: the budget would allow tables of hundreds of MB, mostly empty, whose pages
        and cache misses cost more than the finer bins save."""
        G, order = self._g_q.size, np.argsort(self._g_n, kind="stable")
        avail = self.memory_bytes - self._state_bytes() - (_TARGET_BYTES - 72) * self._t_g.size
        cost = np.concatenate([[0], np.cumsum(self._g_n[order]) * _GATHER_BYTES])
        fits = np.flatnonzero(cost + (G - np.arange(G + 1)) * 2 * _SUB_BYTES <= avail)
        if not fits.size:
            raise MemoryError(f"memory_bytes={self.memory_bytes} too small to refine {G} groups")
        crowds = np.searchsorted(self._g_n[order], _CROWD * max(self._R // self._B, 1), side="right")
        i = int(fits[fits <= crowds][-1] if (fits <= crowds).any() else fits[-1])
        self._g_gather = np.isin(np.arange(G), order[:i])
        ref = np.flatnonzero(~self._g_gather)
        self._rslot = np.where(self._g_gather, -1, np.cumsum(~self._g_gather) - 1)   # refinement slot or -1
        if ref.size:
            per = min((avail - cost[i]) // (ref.size * _SUB_BYTES), max(_SUB_TABLE // ref.size, 256))
            biggest = int(self._g_n[ref].max())
            log2 = int(min(_MAX_SUB_LOG2, np.log2(max(per, 2)), max(1, (biggest - 1).bit_length())))
            self._Bs, self._r_base = 1 << log2, self._g_base[ref]
            self._r_shift, self._r_top = _binning(self._r_base, self._g_span[ref], log2)
            self._cnt = np.zeros(ref.size << log2, np.int64)
            self._mn, self._mx = np.full(ref.size << log2, _UMAX), np.zeros(ref.size << log2, np.uint64)
        total = int(self._g_n[self._g_gather].sum())
        self._buf_v, self._buf_g, self._fill = np.empty(total), np.empty(total, np.int32), 0
        # the live groups of each located bin (disjoint key ranges), in slots
        qs = self._g_q[by_q := np.argsort(self._g_q, kind="stable")]
        rank = np.arange(G) - np.searchsorted(qs, qs)
        self._slots = np.full((self._q_gb.size, int(rank.max()) + 1), -1, np.int64)
        self._slots[qs, rank] = by_q
        self._simple = self._slots.shape[1] == 1 and bool(np.all(self._g_lo == 0) & np.all(self._g_hi == _UMAX))
        dead = ~np.isin(np.arange(self._q_gb.size), qs)
        self._table[self._q_gb[dead]] = 0
        self._rowq[(self._rowq >= 0) & dead[np.maximum(self._rowq, 0)]] = -1
        self._aidx = np.unique(self._q_gb[qs] // self._W)
        self._rows = self._act[self._aidx]

    def _add_refine(self, block):
        for j0, j1, xs in _tiles(block, self._rows, self._tile):
            a = self._aidx[j0:j1]
            hit = np.take(self._table, self._coarse(xs, a)).ravel()
            sel = np.flatnonzero(hit != 0)
            if sel.size == 0:
                continue
            v = xs.ravel()[sel]
            q = self._rowq[a[sel // xs.shape[1]], hit[sel].astype(np.intp) - 1]
            ok = ~np.isnan(v) & (q >= 0)
            v, q, uk = v[ok], q[ok], None
            if self._simple:
                g = self._slots[q, 0]
            else:                                                       # which live group, by key range
                uk, g = _ukeys(v), np.full(v.size, -1, np.int64)
                for j in range(self._slots.shape[1]):
                    c = self._slots[q, j]
                    inside = (c >= 0) & (uk >= self._g_lo[c]) & (uk <= self._g_hi[c])
                    g[inside] = c[inside]
                ok = g >= 0
                v, g, uk = v[ok], g[ok], uk[ok]
            gat = self._g_gather[g]
            n = int(np.count_nonzero(gat))
            if n:
                if self._fill + n > self._buf_v.size:
                    raise RuntimeError("more values than in pass 2: every pass must feed the same values")
                self._buf_v[self._fill:self._fill + n], self._buf_g[self._fill:self._fill + n] = v[gat], g[gat]
                self._fill += n
            if n < g.size:
                k = _ukeys(v[~gat]) if uk is None else uk[~gat]
                rho = self._rslot[g[~gat]]
                base = self._r_base[rho]
                sub = (np.minimum(np.maximum(k, base), self._r_top[rho]) - base) >> self._r_shift[rho]
                idx = rho * self._Bs + np.minimum(sub, np.uint64(self._Bs - 1)).astype(np.intp)
                if self._cnt.size <= 4 * idx.size:
                    self._cnt += np.bincount(idx, minlength=self._cnt.size)
                else:
                    np.add.at(self._cnt, idx, 1)
                np.minimum.at(self._mn, idx, k)
                np.maximum.at(self._mx, idx, k)

    def _finish_refine(self):
        live = np.flatnonzero(self._t_g >= 0)
        tg, tr = self._t_g[live], self._t_r[live]
        gat = self._g_gather[tg]
        if self._buf_v.size:                                            # exact selection in the gathered values
            if self._fill != self._buf_v.size:
                raise RuntimeError("fewer values than in pass 2: every pass must feed the same values")
            G = self._g_q.size
            counts = np.bincount(self._buf_g, minlength=G)
            if not np.array_equal(counts[self._g_gather], self._g_n[self._g_gather]):
                raise RuntimeError("the gathered counts changed between passes")
            # a group whose values are all equal (heavy ties: a node that takes a few values) needs no sort
            lowest, highest = np.full(G, np.inf), np.full(G, -np.inf)
            np.minimum.at(lowest, self._buf_g, self._buf_v)
            np.maximum.at(highest, self._buf_g, self._buf_v)
            varied = ~(lowest == highest)
            pairs = np.empty(int(counts[varied].sum()), np.complex128)  # sorted by group, then value (no NaN)
            self._note(pairs.nbytes + 32 * G)                           # (the buffers go at the end of the pass)
            filled = 0
            for c0 in range(0, self._fill, self._tile):                 # bounded temporaries
                group = self._buf_g[c0:c0 + self._tile]
                mine = varied[group]
                n = int(np.count_nonzero(mine))
                pairs.real[filled:filled + n], pairs.imag[filled:filled + n] = \
                    group[mine], self._buf_v[c0:c0 + self._tile][mine]
                filled += n
            pairs.sort()
            bounds = np.searchsorted(pairs.real, np.arange(G + 1.0))
            t, g, rank = live[gat], tg[gat], tr[gat]
            same = ~varied[g]
            self._t_val[t[same]] = lowest[g[same]]
            self._t_val[t[~same]] = pairs.imag[bounds[g[~same]] + rank[~same]]
            self._t_g[t] = -1
            del pairs
        q, n_new, lo, hi = (np.empty(0, t) for t in (np.int64, np.int64, np.uint64, np.uint64))
        if self._rslot.max(initial=-1) >= 0:                            # refined groups: locate the sub-bins
            Bs, rho = self._Bs, self._rslot[tg[~gat]]
            cum = np.cumsum(self._cnt)
            self._note(cum.nbytes + 48 * rho.size)
            first = _starts(cum, Bs, np.arange(self._r_base.size))
            ids = np.flatnonzero(~self._g_gather)
            if not np.array_equal(cum[np.arange(1, ids.size + 1) * Bs - 1] - first, self._g_n[ids]):
                raise RuntimeError("the refined counts changed between passes")
            pos = first[rho] + tr[~gat]
            at, below = _locate(cum, pos)
            us, inv = np.unique(at, return_inverse=True)
            lo, hi, t = self._mn[us], self._mx[us], live[~gat]
            done, keep = (lo == hi)[inv], lo != hi                      # equal bounds: the value is known
            self._t_val[t[done]] = _from_ukeys(lo[inv[done]])
            self._t_g[t[done]] = -1
            child = np.cumsum(keep) - 1                                 # new ids of the sub-bins kept
            self._t_g[t[~done]], self._t_r[t[~done]] = child[inv[~done]], (pos - below)[~done]
            q = self._g_q[ids[us[keep] // Bs]]
            n_new = (cum[us] - np.where(us > 0, cum[np.maximum(us - 1, 0)], 0))[keep]
            lo, hi = lo[keep], hi[keep]
        self._g_q, self._g_n, self._g_lo, self._g_hi = q, n_new, lo, hi
        self._g_base, self._g_span = lo, hi - lo
        for name in _PER_PASS:
            self.__dict__.pop(name, None)
        if q.size == 0:
            self._result = self._assemble()

    def _assemble(self):
        n, R = self._n, self._R
        lo, hi, gamma = type7_positions(n, self.probs)

        def stat(k):
            v = np.where(k <= 0, self._min, self._max)
            mid = (k > 0) & (k < n - 1) & (self._min < self._max)
            if mid.any():
                code = np.broadcast_to(np.arange(self.n_cells), k.shape)[mid] * (R + 1) + k[mid]
                v[mid] = self._t_val[np.searchsorted(self._t_code, code)]
            return v

        out = type7_lerp(stat(lo), stat(hi), gamma)
        out[:, n == 0] = np.nan
        for name in [k for k, v in vars(self).items() if isinstance(v, np.ndarray) and k[0] == "_"]:
            if name not in ("_n", "_min", "_max"):
                delattr(self, name)                                     # free the pass state
        return out
