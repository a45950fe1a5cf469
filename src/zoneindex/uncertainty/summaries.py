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

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zoneindex import streaming
from zoneindex.uncertainty.design import BLOCK, ua_block
from zoneindex.uncertainty.engine import Executor, Prepared, chunk_size, tasks
from zoneindex.uncertainty.spec import Spec

PROBS = (0.05, 0.5, 0.95)
descending_ranks = streaming.descending_ranks


def mean_abs_rank_shift(ranks: np.ndarray, nominal: np.ndarray) -> np.ndarray:
    r"""$\bar R = \frac1M \sum_m |r_m - r^0_m|$ over the M entities ranked in both (last axis)."""
    diff = np.abs(ranks - nominal)
    valid = ~np.isnan(diff)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid, diff, 0.0).sum(axis=-1) / valid.sum(axis=-1)


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
    tied = np.flatnonzero(tie.any(axis=-1))
    if tied.size:
        start = np.array(start).reshape(-1, E)
        part = start[tied]
        part[:, 1:][tie[tied]] = 0
        np.maximum.accumulate(part, axis=-1, out=part)
        start[tied] = part
        start = start.reshape(shape)
    return order, start, valid


def _sorted_ranks(values: np.ndarray, slots: np.ndarray, grid: np.ndarray, orders: np.ndarray | None = None):
    """The ranks of :func:`_ranks` for the aggregates ``slots`` of ``values`` (aggregates × rows × R), every
    node and year in one :func:`descending_order` call, in sorted form over the entities listed in
    ``orders`` (nodes × years × entities, their nominal order: almost sorted rows; default: entity order):
    ``listed`` (nodes, years, R, entities) the position in ``orders`` of the entity at each sorted position,
    ``start`` its rank, ``valid`` (nodes, years, R) the number of ranked entities (the first positions) and
    the (nodes, years, entities) permutation itself."""
    K, R = len(slots), values.shape[2]
    Y, E = grid.shape
    perm = np.broadcast_to(np.arange(E), (K, Y, E)) if orders is None else np.asarray(orders)
    cols = np.take_along_axis(np.broadcast_to(grid, (K, Y, E)), perm, axis=-1)        # (K, Y, E) rows
    gathered = values[np.asarray(slots)[:, None, None], np.maximum(cols, 0)]          # (K, Y, E, R)
    keys = np.empty((K, Y, R, E))
    np.negative(gathered.transpose(0, 1, 3, 2), out=keys)
    if (cols < 0).any():
        keys[np.broadcast_to((cols < 0)[:, :, None, :], keys.shape)] = np.nan
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


TILE = 2048    # replications reduced at a time (bounded temporaries), a multiple of UNIT


class _Reducer:
    """What a worker does with a chunk's values, tile by tile: the summarised cells on the nominal's scale
    and the changes since the base year; in the first pass also the counts, the sums of each UNIT of
    replications (see :func:`run_uncertainty`), the rank counts and the target's numbers."""

    def __init__(self, layout: Layout, rescale: Rescale, target_rescale: Rescale, nominal_ranks, full: bool,
                 change: bool, n_ranked: int, orders: np.ndarray | None = None):
        self.layout, self.rescale, self.target_rescale = layout, rescale, target_rescale
        self.full, self.change, self.n_ranked = full, change, n_ranked
        self.orders = orders
        if len(layout.rank_slots):      # the target's nominal ranks by position in its listed order
            listed = np.arange(len(layout.entities)) if orders is None else \
                orders[list(layout.rank_slots).index(layout.target_slot), layout.target_year]
            self.listed_nominal = np.asarray(nominal_ranks)[listed]
        self.all_slots = np.array_equal(layout.slots, np.arange(layout.n_aggregates))

    def __call__(self, values: np.ndarray, task) -> dict:
        lay = self.layout
        K, n_rows, r = len(lay.slots), values.shape[1], values.shape[2]
        targets = self.targets(values) if self.full else {}        # before the values are rescaled in place
        # without changes the chunk's own values (fresh from the engine, used nowhere else) become its cells,
        # rescaled in place: no second array of the chunk's size to fault in page by page
        if self.all_slots and not self.change and values.flags.c_contiguous:
            cells = values[None]
        else:
            cells = np.empty((2 if self.change else 1, K, n_rows, r))
        out = {"cells": cells.reshape(-1, r)}
        first = self.full and {"units": [], "valid": np.zeros(K * n_rows, np.int64),
                               "changes": np.zeros(K * n_rows, np.int64), "positive": np.zeros(K * n_rows, np.int64)}
        for c0 in range(0, r, TILE):
            c1 = min(c0 + TILE, r)
            tile = values[:, :, c0:c1]
            v = tile if self.all_slots else tile[lay.slots]
            self.rescale(v, out=cells[0, :, :, c0:c1])
            if self.change:
                with np.errstate(invalid="ignore"):
                    np.subtract(v, v[:, np.maximum(lay.base, 0)], out=cells[1, :, :, c0:c1])
                if (lay.base < 0).any():
                    cells[1, :, lay.base < 0, c0:c1] = np.nan
            if first:
                self._first(out["cells"][:, c0:c1], first, r >= UNIT)
        if first:
            first["units"] = np.concatenate(first["units"], axis=1) if r >= UNIT else None
            out.update(first)
            out.update(targets)
        return out

    def _first(self, cells: np.ndarray, acc: dict, units: bool) -> None:
        """Counts (and, unless the chunk is shorter than a UNIT, the sums of each UNIT) of one tile's cells."""
        n = len(acc["valid"])
        values = cells[:n]
        missing = np.isnan(values)
        acc["valid"] += values.shape[1] - missing.sum(axis=1)
        if units:
            acc["units"].append(_unit_sums(_zeroed(values, missing)))
        if self.change:
            delta = cells[n:]
            acc["changes"] += delta.shape[1] - np.isnan(delta).sum(axis=1)
            acc["positive"] += (delta > 0).sum(axis=1)

    def targets(self, values: np.ndarray) -> dict:
        """Per replication: the target's value (on the nominal's scale) and change, the rank shift of the
        target node in the target year, and the ranks of the rank codes, as counts (groups × entities ×
        ranks) or, with more entities than replications, as ranks (groups × entities × R)."""
        lay, r = self.layout, values.shape[-1]
        out = {"value": np.full(r, np.nan), "change": np.full(r, np.nan), "rank_shift": np.full(r, np.nan)}
        if lay.target_row >= 0:
            own = values[lay.target_slot][None]
            out["value"] = self.target_rescale(own)[0, lay.target_row]
            base = lay.base[lay.target_row]
            if base >= 0:
                out["change"] = own[0, lay.target_row] - own[0, base]
        if len(lay.rank_slots):
            listed, start, valid, perm = _sorted_ranks(values, lay.rank_slots, lay.grid, self.orders)
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
            ranks = np.where(np.arange(E) < valid[k, y][:, None], start[k, y], np.nan)
            out["rank_shift"] = mean_abs_rank_shift(ranks, self.listed_nominal[listed[k, y]])
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
            columns[spec_input.name] = (pd.Categorical(np.where(choices[:, k] == 1, "N_B", "N_A"),
                                                       categories=["N_A", "N_B"]) if sa else ids)
        else:
            labels = np.array(spec_input.labels, dtype=object)
            columns[spec_input.name] = pd.Categorical(labels[choices[:, k]], categories=list(dict.fromkeys(labels)))
    return columns


def _passes(prepared: Prepared, executor: Executor, make_draws, n_blocks: int, reducer, size: int, sink):
    """Evaluate every block's chunks, reduce them with ``reducer`` and hand the results to ``sink``."""
    for block in range(n_blocks):
        draws = make_draws(block)
        chunks = list(tasks(prepared, draws, size))
        for (task, part), result in zip(chunks, executor.map(reducer, (t for t, _ in chunks))):
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

    def sink(block, draws, task, part, result):
        nonlocal chunks
        chunks += 1
        quantiles.add(result["cells"])
        if "valid" not in result:
            return
        sums.add(task, result, result["cells"][:value_cells])
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
                    _Reducer(**reducer, full=passes == 0), size, sink)
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
    summary = pd.DataFrame(table).sort_values(["entity", "year"], kind="stable", ignore_index=True)
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
    table = pd.DataFrame({"entity": lay.entities[pick(entity)], "year": lay.years[pick(year)],
                          "code": codes[pick(code)], "level": tree.level[tree.aggregates[lay.rank_slots]][pick(code)],
                          "nominal_rank": pick(nominal_ranks[:n_ranked]), "mean_rank": pick(mean),
                          "median_rank": pick(q50), "q05_rank": pick(q05), "q95_rank": pick(q95)})
    return table.sort_values(["entity", "year"], kind="stable", ignore_index=True)
