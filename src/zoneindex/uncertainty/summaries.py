r"""Uncertainty mode (and what sensitivity mode shares with it): replications drawn block by block, evaluated
chunk by chunk, reduced on the fly into the result tables (``zoneindex.streaming``), never an array of
replications × cells.

**Values on the nominal's scale.** Replications that normalise differently (min-max against z-scores)
give index values on different scales, and pooling them would measure the change of scale, not the
uncertainty. Before values are summarised, every replication's values of a node are mapped onto the
nominal's scale by a monotone, rank-preserving rescaling over the node's entity-years (see
:class:`Rescale`); changes since the base year, ranks and rank shifts are comparable as they are and
are summarised unrescaled.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zoneindex import streaming
from zoneindex.uncertainty.design import BLOCK, ua_block
from zoneindex.uncertainty.engine import Executor, Prepared, chunk_size, tasks
from zoneindex.uncertainty.ranking import _orders, _ranks, _sorted_ranks, _unsort, listing, mean_abs_rank_shift
from zoneindex.uncertainty.spec import Spec

PROBS = (0.05, 0.5, 0.95)


class Rescale:
    r"""Map each replication's values of a node onto the nominal's scale (monotone, rank-preserving).

    Over the node's entity-years where the value is defined: with a base year and rebasing,
    $y' = 100 + s\,(y - 100)$ with $s = \sqrt{\sum (y^0 - 100)^2 / \sum (y - 100)^2}$ (the base year stays
    100); otherwise $y' = m_0 + \frac{\sigma_0}{\sigma}(y - m)$, matching the mean $m$ and the population
    standard deviation $\sigma$ of the nominal's values $y^0$. Where a spread is 0 the values are left as
    they are, and a replication whose statistics equal the nominal's (the nominal one) maps to itself.
    """

    def __init__(self, nominal: np.ndarray, anchored: bool):
        """``nominal``: (nodes × rows) nominal values; ``anchored``: the base-year form."""
        self.anchored = anchored
        self.centre0, self.spread0 = self._statistics(np.asarray(nominal, dtype=float)[:, :, None])   # (nodes, 1)

    def _statistics(self, v: np.ndarray):
        """Centre and spread per node and replication of ``v`` (nodes × rows × R): (nodes × R) each. With every
        value finite, two passes: Σ(y − 100)², or Σy and Σy² (σ² = Σy²/n − m²)."""
        n = v.shape[1]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            if self.anchored:
                d = v - 100.0
                squares = _sum_rows(d, d)
                if np.isfinite(squares).all():
                    return np.full(squares.shape, 100.0), np.sqrt(squares)
            else:
                total, squares = _sum_rows(v), _sum_rows(v, v)
                if np.isfinite(total).all() and np.isfinite(squares).all():
                    mean = total / n
                    return mean, np.sqrt(np.maximum(squares / n - mean * mean, 0.0))
            missing = ~np.isfinite(v)                                   # some value missing (or infinite)
            z = d if self.anchored else v.copy()
            np.copyto(z, 0.0, where=missing)
            if self.anchored:
                return np.full(z.shape[::2], 100.0), np.sqrt(_sum_rows(z, z))
            count = n - _sum_rows(missing)
            mean = _sum_rows(z) / count
            return mean, np.sqrt(np.maximum(_sum_rows(z, z) / count - mean * mean, 0.0))

    def part(self, nodes: np.ndarray) -> Rescale:
        """The rescaling of some of the nodes (each node's is its own)."""
        part = copy.copy(self)
        part.centre0, part.spread0 = self.centre0[nodes], self.spread0[nodes]
        return part

    def __call__(self, values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``values`` (nodes × rows × R) on the nominal's scale (into ``out`` when given, which may be ``values``)."""
        centre, spread = self._statistics(values)
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = self.spread0 / spread
            keep = ((factor == 1.0) & (centre == self.centre0)) | ~np.isfinite(factor) | (spread == 0) | \
                (self.spread0 == 0)
            factor = np.where(keep, 1.0, factor)
            offset = np.where(keep, 0.0, self.centre0 - factor * centre)   # y' = m0 + a (y - m) = a y + (m0 - a m)
            k, r = np.nonzero(keep)
            kept = values[k, :, r]                                          # left as they are, bit for bit
            out = np.multiply(values, factor[:, None, :], out=out)
            out += offset[:, None, :]
        out[k, :, r] = kept
        return out


def _sum_rows(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Σ over the rows (axis 1) of (nodes × rows × R), of ``a`` or of ``a·b``, row after row for every
    replication: NumPy reduces (and ``einsum`` contracts) a non-contiguous axis one row at a time for R >= 2,
    while with R = 1 it would sum the rows pairwise, so a single replication is summed as two copies; a
    replication's sums thus do not depend on its chunk (``tests``: chunks of 1 and of thousands agree)."""
    if a.shape[2] == 1:
        a = np.concatenate([a, a], axis=2)
        b = None if b is None else np.concatenate([b, b], axis=2)
        return _sum_rows(a, b)[:, :1]
    return np.add.reduce(a, axis=1) if b is None else np.einsum("kjr,kjr->kr", a, b)


@dataclass
class Layout:
    """Which aggregates are summarised and ranked, and where the targets are (positions in the kernel's
    aggregates and in the rows)."""

    slots: np.ndarray           # summarised aggregates
    codes: list                 # their codes
    base: np.ndarray            # each row's base-year row (-1: none)
    rank_slots: np.ndarray      # aggregates ranked within each year (rank codes, then the target if extra)
    rank_codes: list
    grid: np.ndarray            # (years × entities) row positions, -1 where an entity has no row
    years: np.ndarray
    entities: np.ndarray
    target_slot: int
    target_row: int             # -1: the target entity has no row in the target year
    target_year: int            # position in ``years``
    n_aggregates: int


def _layout(prepared: Prepared) -> Layout:
    fw, tree, index, target = prepared.study.framework, prepared.engine.tree, prepared.index, prepared.target
    level = tree.level[tree.aggregates]
    levels = prepared.spec.levels or tuple(range(2, fw.max_level + 1))
    slots = np.flatnonzero(np.isin(level, levels))
    years, year_pos = np.unique(np.asarray(index.get_level_values("year")), return_inverse=True)
    entities, entity_pos = np.unique(np.asarray(index.get_level_values("entity")), return_inverse=True)
    grid = np.full((len(years), len(entities)), -1)
    grid[year_pos, entity_pos] = np.arange(len(index))
    rank_levels = prepared.spec.rank_levels or (fw.max_level, max(fw.max_level - 1, 2))
    rank_slots = np.flatnonzero(np.isin(level, rank_levels)) if len(entities) > 1 else np.array([], dtype=int)
    target_slot = int(tree.slot[list(tree.codes).index(target["code"])])
    ranked = list(rank_slots) + ([target_slot] if len(entities) > 1 and target_slot not in rank_slots else [])
    y = int(np.searchsorted(years, target["year"]))
    e = np.flatnonzero(entities == target["entity"])
    return Layout(slots, [tree.codes[p] for p in tree.aggregates[slots]], prepared.engine.rows.base,
                  np.array(ranked, dtype=int), [tree.codes[p] for p in tree.aggregates[rank_slots]], grid, years,
                  entities, target_slot, int(grid[y, e[0]]) if len(e) else -1, y, len(tree.aggregates))


TILE = 2048    # replications reduced at a time (bounded temporaries), a multiple of UNIT


class _Reducer:
    """What a worker does with a chunk's values, tile by tile: the summarised cells on the nominal's scale
    and the changes since the base year; in the first pass also the counts, the sums of each UNIT of
    replications (see :func:`run_uncertainty`), the rank counts and the target's numbers."""

    def __init__(self, layout: Layout, rescale: Rescale, target_rescale: Rescale, nominal_ranks, full: bool,
                 change: bool, n_ranked: int, orders: np.ndarray | None = None):
        self.layout, self.rescale, self.target_rescale = layout, rescale, target_rescale
        self.full, self.change, self.n_ranked = full, change, n_ranked
        if len(layout.rank_slots):      # the target's nominal ranks by position in its listed order
            self.listed = listing(layout.grid, layout.rank_slots, orders)
            listed = np.arange(len(layout.entities)) if orders is None else \
                orders[list(layout.rank_slots).index(layout.target_slot), layout.target_year]
            self.listed_nominal = np.asarray(nominal_ranks)[listed]
            self.all_ranked = not np.isnan(self.listed_nominal).any()
        self.all_slots = np.array_equal(layout.slots, np.arange(layout.n_aggregates))
        self._parts: dict = {}

    def __call__(self, values: np.ndarray, task) -> dict:
        lay = self.layout
        K, n_rows, r = len(lay.slots), values.shape[1], values.shape[2]
        parts = 2 if self.change else 1
        place = task.cells
        shared = np.zeros(K, bool) if place is None or place.constant is None else \
            place.constant.reshape(parts, K, n_rows)[0, :, 0]
        varied = np.flatnonzero(~shared)
        # the target's value is one of the cells when its node is summarised (the same rescaling, node by
        # node), taken from them once rescaled; the rest before the values are rescaled in place
        target_at = np.flatnonzero(lay.slots[varied] == lay.target_slot)
        targets = self.targets(values, rescaled=not target_at.size) if self.full else {}
        # the cells go where the quantiles keep them (task.cells, the cells of the slots that the chunk's
        # replications share once) or, without changes, are the chunk's own values (fresh from the engine,
        # used nowhere else) rescaled in place: no array of the chunk's size to fault in page by page
        if place is not None:
            cells = np.reshape(place.varied, (parts, len(varied), n_rows, r), copy=False)
        elif self.all_slots and not self.change and values.flags.c_contiguous:
            cells = values[None]
        else:
            cells = np.empty((parts, K, n_rows, r))
        flat = cells.reshape(parts, -1, r)
        out = {"cells": flat.reshape(-1, r) if place is None else place}
        first = self.full and {"units": [], "valid": np.zeros(K * n_rows, np.int64),
                               "changes": np.zeros(K * n_rows, np.int64), "positive": np.zeros(K * n_rows, np.int64)}
        rescale, slots = (self.rescale, lay.slots) if not shared.any() else \
            (self._part(varied), lay.slots[varied])
        whole = self.all_slots and not shared.any()
        if not whole and len(slots) and slots[-1] - slots[0] == len(slots) - 1:
            slots = slice(slots[0], slots[-1] + 1)                       # a view, not a copy, of each tile
        rows = (varied[:, None] * n_rows + np.arange(n_rows)).ravel()    # their value cells
        same_units = self._shared(values, place, lay.slots[shared], shared, first, r) if shared.any() else None
        for c0 in range(0, r, TILE):
            c1 = min(c0 + TILE, r)
            tile = values[:, :, c0:c1]
            v = tile if whole else tile[slots]
            rescale(v, out=cells[0, :, :, c0:c1])
            if self.change:
                self._change(v, cells[1, :, :, c0:c1])
            if first:
                self._first(flat[:, :, c0:c1], first, r >= UNIT, rows, same_units, c1 == r)
        if first:
            first["units"] = np.concatenate(first["units"], axis=1) if r >= UNIT else None
            if target_at.size and lay.target_row >= 0:
                targets["value"] = cells[0, target_at[0], lay.target_row].copy()
            out.update(first)
            out.update(targets)
        return out

    def _part(self, nodes: np.ndarray) -> Rescale:
        """The rescaling of some of the summarised nodes (made once per set)."""
        key = nodes.tobytes()
        if key not in self._parts:
            self._parts[key] = self.rescale.part(nodes)
        return self._parts[key]

    def _change(self, values: np.ndarray, out: np.ndarray) -> None:
        """The change since each row's base-year row (NaN without one)."""
        base = self.layout.base
        with np.errstate(invalid="ignore"):
            np.subtract(values, values[:, np.maximum(base, 0)], out=out)
        if (base < 0).any():
            out[:, base < 0] = np.nan

    def _shared(self, values, place, slots, shared, acc, r: int):
        """The cells of the slots that every replication of the chunk shares, from the first replication:
        into ``place.same``, with their counts (and the unit sums, full and of a last short unit) as r
        copies would give them."""
        one = values[slots, :, :1]
        same = np.empty((2 if self.change else 1,) + one.shape)
        self._part(np.flatnonzero(shared))(one, out=same[0])
        if self.change:
            self._change(one, same[1])
        place.same[...] = same.ravel()
        if not acc:
            return None
        n_rows = values.shape[1]
        rows = (np.flatnonzero(shared)[:, None] * n_rows + np.arange(n_rows)).ravel()
        value = same[0].reshape(-1)
        acc["valid"][rows] += r * ~np.isnan(value)
        if self.change:
            delta = same[1].reshape(-1)
            acc["changes"][rows] += r * ~np.isnan(delta)
            acc["positive"][rows] += r * (delta > 0)
        zeroed = np.where(np.isnan(value), 0.0, value)[:, None]
        unit, short = (_unit_sums(np.repeat(zeroed, m, axis=1)) for m in (UNIT, r % UNIT))
        return rows, unit[:, 0], short

    def _first(self, cells: np.ndarray, acc: dict, units: bool, rows: np.ndarray, same_units, last: bool) -> None:
        """Counts (and, unless the chunk is shorter than a UNIT, the sums of each UNIT) of one tile's cells
        (parts × cells × replications), the value cells ``rows``; ``same_units``: those of the shared cells."""
        values = cells[0]
        missing = np.isnan(values)
        acc["valid"][rows] += values.shape[1] - (np.count_nonzero(missing, axis=1) if missing.any() else 0)
        if units:
            sums = _unit_sums(_zeroed(values, missing))
            if same_units is not None:
                full = np.empty((len(acc["valid"]), sums.shape[1]))
                full[rows] = sums
                shared, unit, short = same_units
                full[shared] = unit[:, None]
                if last and short.shape[1]:
                    full[shared, -1] = short[:, 0]
                sums = full
            acc["units"].append(sums)
        if self.change:
            delta = cells[1]
            acc["changes"][rows] += delta.shape[1] - np.isnan(delta).sum(axis=1)
            acc["positive"][rows] += (delta > 0).sum(axis=1)

    def targets(self, values: np.ndarray, rescaled: bool = True) -> dict:
        """Per replication: the target's value (on the nominal's scale, unless not ``rescaled``: NaN) and
        change, the rank shift of the target node in the target year, and the ranks of the rank codes, as
        counts (groups × entities × ranks) or, with more entities than replications, as ranks (groups ×
        entities × R)."""
        lay, r = self.layout, values.shape[-1]
        out = {"value": np.full(r, np.nan), "change": np.full(r, np.nan), "rank_shift": np.full(r, np.nan)}
        if lay.target_row >= 0:
            own = values[lay.target_slot][None]
            if rescaled:
                out["value"] = self.target_rescale(own)[0, lay.target_row]
            base = lay.base[lay.target_row]
            if base >= 0:
                out["change"] = own[0, lay.target_row] - own[0, base]
        if len(lay.rank_slots):
            listed, start, valid, perm = _sorted_ranks(values, self.listed)
            E, n, Y = len(lay.entities), self.n_ranked, len(lay.years)
            if n:
                if E <= r:      # the rank histogram straight from the sorted order: one bincount
                    index = listed[:n] * E
                    index += start[:n]
                    index += (np.arange(n * Y) * (E * E) - 1).reshape(n, Y, 1, 1)
                    if (valid[:n] < E).any():
                        index = index[np.arange(E) < valid[:n, :, :, None]]
                    table = np.bincount(index.reshape(-1), minlength=n * Y * E * E).reshape(n, Y, E, E)
                    unlisted = np.empty_like(table)         # rows by listed position -> by entity
                    for k in range(n):
                        for y in range(Y):
                            unlisted[k, y, perm[k, y]] = table[k, y]
                    out["rank_table"] = unlisted.reshape(-1)
                else:
                    mine = _unsort(listed[:n], start[:n], valid[:n], perm[:n])
                    out["ranks"] = mine.transpose(0, 1, 3, 2).reshape(-1, E, r)
            # the shift in sorted order, without putting the ranks back in entity order: a sum of integers,
            # the same in any order
            k, y = list(lay.rank_slots).index(lay.target_slot), lay.target_year
            nominal = self.listed_nominal[listed[k, y]]
            if self.all_ranked and (valid[k, y] == E).all():     # every entity ranked in both
                out["rank_shift"] = np.abs(start[k, y] - nominal).sum(axis=-1) / E
            else:
                ranks = np.where(np.arange(E) < valid[k, y][:, None], start[k, y], np.nan)
                out["rank_shift"] = mean_abs_rank_shift(ranks, nominal)
        return out


def _quantile_minimum(n_cells: int) -> int:
    """The smallest budget ``streaming.ExactQuantiles`` accepts for ``n_cells`` cells (its state per cell and
    a minimal workspace): below it the quantiles take this much whatever ``memory_mb`` says."""
    for size in (2**k for k in range(14, 40)):
        try:
            streaming.ExactQuantiles(n_cells, PROBS, size)
            return size
        except ValueError:
            continue
    raise MemoryError(f"no budget fits the quantiles of {n_cells} cells")


UNIT = 64      # the sums behind the mean: each UNIT of a segment's replications summed at once, then in order


def _zeroed(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """``values`` with 0 where ``missing`` (a copy only when something is missing; :func:`_unit_sums` sums
    each unit over contiguous memory either way, a unit's sum does not depend on the stride between rows)."""
    if not missing.any():
        return values
    return np.where(missing, 0.0, values)


def _unit_sums(values: np.ndarray) -> np.ndarray:
    """(cells × units): the sums of each run of UNIT columns of ``values`` (cells × r; the last run may be
    shorter), each by NumPy's pairwise sum over contiguous memory, the same for a unit whatever holds it."""
    r = values.shape[1]
    full = r - r % UNIT
    parts = [np.add.reduce(values[:, :full].reshape(len(values), -1, UNIT), axis=2)]   # rows stay contiguous
    if full < r:
        parts.append(np.add.reduce(values[:, full:], axis=1)[:, None])
    return np.concatenate(parts, axis=1)


class _Sums:
    r"""Per cell the sum of the valid values on the nominal's scale, in an order that depends on nothing but
    the replications: a segment (one block's replications of one data alternative and plan, in replication
    order) is cut into units of UNIT replications, each unit is summed at once (:func:`_unit_sums`), the
    units one after the other, and the segments one after the other. Chunks hold whole units (their size is
    a multiple of UNIT) or, when the memory budget allows less than a unit, are buffered into one."""

    def __init__(self, n_cells: int):
        self.total, self.segment = np.zeros(n_cells), np.zeros(n_cells)
        self.buffer, self.held = None, 0          # a unit being gathered from chunks shorter than a unit

    def add(self, task, result: dict, values: np.ndarray) -> None:
        if task.start:
            self.segment[:] = 0.0
        if result["units"] is not None:
            for column in result["units"].T:
                self.segment += column
        else:
            if self.buffer is None:
                self.buffer = np.empty((len(self.total), UNIT))
            c0 = 0
            while c0 < values.shape[1]:
                part = values[:, c0:c0 + UNIT - self.held]
                self.buffer[:, self.held:self.held + part.shape[1]] = part
                self.held += part.shape[1]
                c0 += part.shape[1]
                if self.held == UNIT:
                    self._flush()
            if task.end and self.held:
                self._flush()
        if task.end:
            self.total += self.segment

    def _flush(self) -> None:
        block = self.buffer[:, :self.held]
        for column in _unit_sums(_zeroed(block, np.isnan(block))).T:
            self.segment += column
        self.held = 0


# ---------------------------------------------------------------------------------------------------
# Uncertainty mode
# ---------------------------------------------------------------------------------------------------

@dataclass
class UncertaintyResult:
    """Uncertainty-mode results (tidy pandas tables).

    ``summary``: entity, year, code, level, nominal, mean, median, q05, q95, n (valid replications) of the
    values on the nominal's scale (:class:`Rescale`) and, with a base year, the unrescaled change since it:
    change_nominal, change_median, change_q05, change_q95, p_change_positive. ``ranks``: entity, year, code,
    level, nominal_rank, mean_rank, median_rank, q05_rank, q95_rank (cross-sections with two or more
    entities). ``replications``: one row per replication with the alternative chosen for every input and
    the targets (value on the nominal's scale, change, rank_shift) for ``target``, kept when it fits in a
    quarter of the memory budget or 64 MiB (28 bytes and 4 per input a replication), else empty
    (``timings["replications_kept"]``); nothing else grows with the number of replications.
    """

    summary: pd.DataFrame
    ranks: pd.DataFrame | None
    replications: pd.DataFrame
    nominal: pd.DataFrame
    target: dict
    spec: Spec
    timings: dict


def _choice_columns(spec: Spec, choices: np.ndarray, ids: np.ndarray | None = None, sa: bool = False) -> dict:
    """Per input, the alternative each replication took (labels; for weight noise the replication in
    uncertainty mode, the noise matrix N_A or N_B in sensitivity mode)."""
    columns = {}
    for k, spec_input in enumerate(spec.inputs):
        if spec_input.kind == "weight_noise":
            columns[spec_input.name] = (pd.Categorical.from_codes((choices[:, k] == 1).astype(np.int8),
                                                                  ["N_A", "N_B"]) if sa else ids)
        else:           # codes, not labels: no hashing of a label per replication
            categories = list(dict.fromkeys(spec_input.labels))
            code = np.array([categories.index(label) for label in spec_input.labels], dtype=np.int64)
            columns[spec_input.name] = pd.Categorical.from_codes(code[choices[:, k]], categories)
    return columns


def _passes(prepared: Prepared, executor: Executor, make_draws, n_blocks: int, reducer, size: int, sink,
            place=None):
    """Evaluate every block's chunks, reduce them with ``reducer`` and hand the results to ``sink``.
    ``place(task)``: where the chunk is to put its cells (or None), asked as the chunk is handed to the
    executor; not for a cluster, whose workers send their cells back."""
    def handed(chunks):
        for task, _ in chunks:
            if place is not None and executor.client is None:
                task.cells = place(task)
            yield task

    for block in range(n_blocks):
        draws = make_draws(block)
        chunks = list(tasks(prepared, draws, size))
        for (task, part), result in zip(chunks, executor.map(reducer, handed(chunks))):
            sink(block, draws, task, part, result)


def run_uncertainty(prepared: Prepared, client=None, workers: int = 1, runs: int | None = None) -> UncertaintyResult:
    r"""Monte Carlo uncertainty analysis: ``runs`` replications with every uncertain input drawn at once.

    Replication r draws, independently and uniformly, one alternative of every discrete input and, for
    weight noise, a fresh factor $u_{rj} \sim U(1-\varepsilon, 1+\varepsilon)$ for every node j at the
    listed levels, so that $w_{rj} = u_{rj}\,w_j$ before the rescaling within siblings. For every entity e,
    year t and node k the distribution of the value on the nominal's scale (:class:`Rescale`) over the
    replications is summarised by its mean, median and 5 % / 95 % quantiles (exact, linear interpolation,
    R's type 7, multi-pass when the budget is small), next to the nominal value. With a base year b the
    same is given for the change $\Delta^{(r)}_{ekt} = Y^{(r)}_{ekt} - Y^{(r)}_{ekb}$ together with
    $\hat P(\Delta > 0) = \frac1{R'}\sum_r 1[\Delta^{(r)} > 0]$ over the $R'$ valid replications. With
    several entities each replication's values are ranked within each year (1 = highest, ties share the
    best rank) and the ranks are summarised from their exact counts; the replication table also holds
    the mean absolute rank shift $\bar R^{(r)} = \frac1M\sum_m |r^{(r)}_m - r^0_m|$ of the target node in
    the target year.
    """
    started = time.perf_counter()
    spec, fw = prepared.spec, prepared.study.framework
    runs = runs or spec.runs
    lay = _layout(prepared)
    tree, index = prepared.engine.tree, prepared.index
    nominal = prepared.nominal[list(tree.codes)].to_numpy().T[tree.aggregates]         # (aggregates, rows)
    anchored = prepared.anchored
    has_base = prepared.study.base_year is not None
    several = len(lay.rank_slots) > 0
    nominal_ranks = _ranks(nominal[lay.rank_slots][:, :, None], lay.grid)[:, :, 0] if several else None
    target_nominal_ranks = nominal_ranks[list(lay.rank_slots).index(lay.target_slot), lay.target_year] \
        if several else None
    n_ranked = len(lay.rank_codes)
    K, n_rows = len(lay.slots), len(index)
    n_cells = K * n_rows * (2 if has_base else 1)
    budget = spec.memory_mb * 2**20
    # the budget: 55 % for the exact quantiles, 25 % for the chunks in flight (chunk_size), the rest for the
    # accumulators and the replication table; the quantiles never take less than their own minimum
    quantiles = streaming.ExactQuantiles(n_cells, PROBS, max(int(budget * 0.55), _quantile_minimum(n_cells)), runs)
    counts = streaming.RankCounts(n_ranked * len(lay.years), len(lay.entities)) if several else None
    reducer = dict(layout=lay, rescale=Rescale(nominal[lay.slots], anchored),
                   target_rescale=Rescale(nominal[[lay.target_slot]], anchored),
                   nominal_ranks=target_nominal_ranks, change=has_base, n_ranked=n_ranked,
                   orders=_orders(nominal_ranks) if several else None)
    executor = Executor(prepared.engine, client, workers)
    extra = 8 * (6 * K * n_rows + 4 * len(lay.rank_slots) * lay.grid.size)
    size = chunk_size(prepared, executor.window, extra, unit=UNIT)
    value_cells = K * n_rows
    sums, valid = _Sums(value_cells), np.zeros(value_cells, dtype=np.int64)
    positive = np.zeros(value_cells, dtype=np.int64)
    changes = np.zeros(value_cells, dtype=np.int64)
    n_blocks = -(-runs // BLOCK)
    kept = runs * (spec.d * 4 + 24) <= max(budget / 4, 2**26)   # the replication table (see UncertaintyResult)
    choices = np.empty((runs if kept else 0, spec.d), dtype=np.int32)
    targets = {name: np.full(runs if kept else 0, np.nan) for name in ("value", "change", "rank_shift")}
    passes, chunks = 0, 0
    timing = {"evaluate_and_reduce_seconds": 0.0}

    def place(task):
        """Where the quantiles keep the chunk's cells, those of the slots its replications share once (not
        for a chunk shorter than a UNIT, whose cells the sums read)."""
        shared = np.zeros(lay.n_aggregates, bool)
        if len(task.ids) >= UNIT:
            shared[prepared.engine.shared(task)] = True
        constant = np.repeat(np.tile(shared[lay.slots], 2 if has_base else 1), n_rows)
        return quantiles.reserve(len(task.ids), constant if constant.any() else None)

    def sink(block, draws, task, part, result):
        nonlocal chunks
        chunks += 1
        quantiles.add(result["cells"])
        if "valid" not in result:
            return
        cells = result["cells"]     # only read when the chunk is shorter than a UNIT: never a shared place
        sums.add(task, result, (cells.varied if isinstance(cells, streaming.Place) else cells)[:value_cells])
        for name, total in (("valid", valid), ("changes", changes), ("positive", positive)):
            total += result[name]
        if "rank_table" in result:
            counts.table += result["rank_table"].reshape(counts.table.shape)
        elif "ranks" in result:
            counts.add(result["ranks"])
        if kept:
            ids = draws.ids[part]
            choices[ids] = draws.choices[part]
            for name in targets:
                targets[name][ids] = result[name]

    try:
        while quantiles.needs_pass():
            quantiles.start_pass()
            t0 = time.perf_counter()
            _passes(prepared, executor, lambda b: ua_block(prepared.layout, b, runs), n_blocks,
                    _Reducer(**reducer, full=passes == 0), size, sink, place if passes == 0 else None)
            timing["evaluate_and_reduce_seconds"] += time.perf_counter() - t0
            quantiles.finish_pass()
            passes += 1
    finally:
        executor.close()
    q05, q50, q95 = quantiles.result()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums.total / valid
    rows = np.repeat(np.arange(n_rows)[None], K, axis=0).ravel()              # cells are (node, row)
    node = np.repeat(np.arange(K), n_rows)
    table = {"entity": np.asarray(index.get_level_values("entity"))[rows],
             "year": np.asarray(index.get_level_values("year"))[rows],
             "code": np.array(lay.codes, dtype=object)[node],
             "level": tree.level[tree.aggregates[lay.slots]][node],
             "nominal": nominal[lay.slots].ravel(), "mean": mean, "median": q50[:value_cells],
             "q05": q05[:value_cells], "q95": q95[:value_cells], "n": valid}
    if has_base:
        base = lay.base[rows]
        nominal_change = np.where(base >= 0, nominal[lay.slots][node, np.maximum(base, 0)], np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            table.update(change_nominal=table["nominal"] - nominal_change, change_median=q50[value_cells:],
                         change_q05=q05[value_cells:], change_q95=q95[value_cells:],
                         p_change_positive=positive / changes)
    summary = _by_entity_year(table)
    ranks = _rank_table(counts, nominal_ranks, lay, tree, n_ranked) if several else None
    ids = np.arange(runs if kept else 0)
    replications = pd.DataFrame({"replication": ids, **_choice_columns(spec, choices, ids),
                                 **{k: v for k, v in targets.items() if k != "change" or has_base}})
    if not several:
        replications = replications.drop(columns="rank_shift")
    total = time.perf_counter() - started
    return UncertaintyResult(summary, ranks, replications, prepared.nominal, prepared.target, spec,
                             {"seconds": total, **timing, "replications": runs, "passes": passes, "chunks": chunks,
                              "chunk_size": size, "replications_kept": bool(kept),
                              "replications_per_second": runs / total})


def _rank_table(counts, nominal_ranks, lay: Layout, tree, n_ranked: int) -> pd.DataFrame:
    """One row per (entity, year, rank code) where the entity has a row that year."""
    q05, q50, q95 = counts.quantiles(PROBS)                           # (groups, entities) each
    mean = counts.mean()
    Y, E = lay.grid.shape
    code, year, entity = np.meshgrid(np.arange(n_ranked), np.arange(Y), np.arange(E), indexing="ij")
    present = np.broadcast_to(lay.grid >= 0, (n_ranked, Y, E)).ravel()
    pick = lambda a: np.asarray(a).reshape(-1)[present]  # noqa: E731
    codes = np.array(lay.rank_codes, dtype=object)
    return _by_entity_year({"entity": lay.entities[pick(entity)], "year": lay.years[pick(year)],
                            "code": codes[pick(code)], "level": tree.level[tree.aggregates[lay.rank_slots]][pick(code)],
                            "nominal_rank": pick(nominal_ranks[:n_ranked]), "mean_rank": pick(mean),
                            "median_rank": pick(q50), "q05_rank": pick(q05), "q95_rank": pick(q95)})


def _by_entity_year(columns: dict) -> pd.DataFrame:
    """The table of ``columns`` sorted by entity and year, stably (a stable lexsort of the arrays: pandas'
    sort_values of the frame took longer than everything else of a small table)."""
    order = np.lexsort((columns["year"], columns["entity"]))
    return pd.DataFrame({name: np.asarray(values)[order] for name, values in columns.items()})
