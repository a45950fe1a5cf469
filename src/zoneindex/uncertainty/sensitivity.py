r"""Sensitivity mode: the Saltelli design evaluated chunk by chunk, its scalar targets, and the Sobol
estimates with bootstrap intervals and a convergence check (:func:`estimators.sobol_table`)."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zoneindex.uncertainty.design import BLOCK, BOOT_STREAM, sa_block
from zoneindex.uncertainty.engine import Executor, Prepared, chunk_size
from zoneindex.uncertainty.estimators import sobol_table
from zoneindex.uncertainty.spec import Spec
from zoneindex.uncertainty.ranking import _orders, _ranks
from zoneindex.uncertainty.summaries import Rescale, _choice_columns, _layout, _passes, _Reducer


@dataclass
class SensitivityResult:
    """Sensitivity-mode results.

    ``indices``: target, input, S1, S1_lo, S1_hi, ST, ST_lo, ST_hi (bootstrap interval at ``confidence``),
    S1_half, ST_half (the same estimators on the first N/2 design rows), converged and note
    (:func:`estimators.sobol_table`). ``targets``: per target its nominal value, mean and variance over A
    and B, and how many design rows were used (a row with an undefined output in any block is dropped from
    all blocks). ``replications``: one row per design point (block A, B or AB_i, row j) with every input's
    choice and the target values.
    """

    indices: pd.DataFrame
    targets: pd.DataFrame
    replications: pd.DataFrame
    target: dict
    spec: Spec
    timings: dict


class _TargetReducer(_Reducer):
    """Sensitivity mode: only the targets of each replication."""

    def __call__(self, values: np.ndarray, task) -> dict:
        return self.targets(values)


def run_sensitivity(prepared: Prepared, client=None, workers: int = 1, n: int | None = None) -> SensitivityResult:
    r"""Variance-based (Sobol) sensitivity analysis on the Saltelli design, N·(d + 2) replications.

    Every discrete input is driven by one U(0, 1) column of A and B and takes alternative
    $\lfloor u\,n \rfloor$. The weights are a *group* factor: the rows of A and B draw their own noise
    matrices $N_A$, $N_B$ (N × nodes, each weight × U(1 − ε, 1 + ε) at the listed levels) and $AB_i$ takes
    $N_B$ where i is the weights input and $N_A$ otherwise. The targets are scalar: the target node's value
    (on the nominal's scale) for the target entity and year, its change since the base year (panels), and
    the mean absolute rank shift $\bar R = \frac1M \sum_m |r_m - r^0_m|$ against the nominal ranks in the
    target year (two or more entities). For each target the first-order index $S_i$ (Saltelli 2010) and the
    total index $S_{Ti}$ (Jansen 1999) are estimated with percentile-bootstrap intervals and checked for
    convergence against the estimates on the first N/2 design rows (:func:`estimators.sobol_table`).
    """
    started = time.perf_counter()
    spec = prepared.spec
    N, d = n or spec.sobol_n, spec.d
    lay = _layout(prepared)
    if len(lay.rank_slots):                                  # only the target node is ranked
        lay = dataclasses.replace(lay, rank_slots=np.array([lay.target_slot]), rank_codes=[])
    tree = prepared.engine.tree
    nominal = prepared.nominal[list(tree.codes)].to_numpy().T[tree.aggregates]
    anchored, has_base = prepared.anchored, prepared.study.base_year is not None
    several = len(lay.rank_slots) > 0
    nominal_ranks = _ranks(nominal[lay.rank_slots][:, :, None], lay.grid)[:, :, 0] if several else None
    reducer = _TargetReducer(lay, None, Rescale(nominal[[lay.target_slot]], anchored),
                             nominal_ranks[list(lay.rank_slots).index(lay.target_slot), lay.target_year]
                             if several else None, True, False, 0, _orders(nominal_ranks) if several else None)
    total_rows = N * (d + 2)
    outputs = {name: np.full(total_rows, np.nan) for name in ("value", "change", "rank_shift")}
    choices = np.empty((total_rows, d), dtype=np.int64)
    executor = Executor(prepared.engine, client, workers)
    size = chunk_size(prepared, executor.window, 8 * 4 * len(lay.rank_slots) * lay.grid.size)

    def sink(block, draws, task, part, result):
        ids = draws.ids[part]
        choices[ids] = draws.choices[part]
        for name in outputs:
            outputs[name][ids] = result[name]

    try:
        t0 = time.perf_counter()
        _passes(prepared, executor, lambda b: sa_block(prepared.layout, b, N), -(-N // BLOCK), reducer, size, sink)
        evaluate_seconds = time.perf_counter() - t0
    finally:
        executor.close()
    names = ["value"] + (["change"] if has_base and np.isfinite(outputs["change"]).any() else []) + \
        (["rank_shift"] if several else [])
    if lay.target_row < 0:
        names = [x for x in names if x == "rank_shift"]
    nominal_targets = {"value": nominal[lay.target_slot, lay.target_row] if lay.target_row >= 0 else np.nan,
                       "rank_shift": 0.0}
    if "change" in names:
        nominal_targets["change"] = nominal_targets["value"] - nominal[lay.target_slot, lay.base[lay.target_row]]
    boot = np.random.default_rng([spec.seed, *BOOT_STREAM])
    parts, summaries = [], []
    for name in names:
        y = outputs[name]
        f_A, f_B, f_AB = y[:N], y[N:2 * N], y[2 * N:].reshape(d, N)
        # a design row j with an undefined output in any block (e.g. a geometric mean of a score <= 0)
        # is left out of every block, so that A, B and the AB_i stay matched (COINr drops NA runs)
        ok = np.isfinite(f_A) & np.isfinite(f_B) & np.isfinite(f_AB).all(axis=0)
        stats = sobol_table(f_A[ok], f_B[ok], f_AB[:, ok], spec.names, spec.nboot, boot, spec.confidence)
        parts.append(pd.DataFrame({"target": name, **stats}))
        pooled = np.concatenate([f_A[ok], f_B[ok]])
        summaries.append({"target": name, "nominal": nominal_targets[name], "mean": float(pooled.mean()),
                          "variance": float(pooled.var()), "rows_used": int(ok.sum()),
                          "rows_dropped": int((~ok).sum())})
    blocks = np.array(["A"] * N + ["B"] * N + [f"AB_{i + 1}" for i in range(d) for _ in range(N)])
    replications = pd.DataFrame({"block": blocks, "row": np.tile(np.arange(N), d + 2),
                                 **_choice_columns(spec, choices, sa=True), **{k: outputs[k] for k in names}})
    total = time.perf_counter() - started
    return SensitivityResult(pd.concat(parts, ignore_index=True), pd.DataFrame(summaries), replications,
                             prepared.target, spec, {"seconds": total, "evaluate_seconds": evaluate_seconds,
                                                     "replications": total_rows,
                                                     "replications_per_second": total_rows / total})
