r"""The evaluation engine: every data alternative prepared once, chunks of replications through the kernel.

:func:`prepare` computes each combination of data-side alternatives once, through the study's own clean
stage and normalisation (``score.with_methods``), and the nominal replication through the same kernel.
A replication is then (data alternative, aggregation plan, relative weights), and a *chunk* of
replications sharing a data alternative and a plan is one call of ``kernel.aggregate``: the shared
normalised matrix, the chunk's (R × nodes) weights, every aggregate of every replication as one
(aggregates × rows × R) array. The kernel computes each replication's column with the same element-wise
operations in the same order whatever R is, so a replication's values do not depend on its chunk, and
the nominal replication equals ``score.score`` bit for bit because both are the kernel.

:class:`Executor` runs chunks in order locally, on threads, or on a ``dask.distributed`` cluster (the
engine is scattered to every worker once); at most a few chunks are in flight, so memory stays within the
budget whatever the number of replications, and results come back in chunk order.
"""
from __future__ import annotations

import collections
import dataclasses
import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zoneindex import ingest, kernel
from zoneindex.cells import to_wide
from zoneindex.clean import clean_study
from zoneindex.normalise import normalise
from zoneindex.score import aggregate_groups, applicability, with_methods
from zoneindex.study import Study
from zoneindex.uncertainty.design import BLOCK, Draws, Layout, noisy
from zoneindex.uncertainty.spec import COLUMN, EVALUATION_STEPS, Spec, _fail, parse_spec, split_with
from zoneindex.weight import nominal_weights


@dataclass
class Task:
    """One chunk: replications ``ids`` sharing a data alternative and an aggregation plan, with their raw
    weights (R × nodes, codes order: the nominal weights times the noise factors)."""

    data: int
    plan: int
    weights: np.ndarray
    ids: np.ndarray
    start: bool = True      # the chunk opens its segment (a block's replications of one data alternative and plan)
    end: bool = True        # … and closes it
    relative: np.ndarray | None = None   # kernel.relative_weights of ``weights``, when computed for a whole block
    cells: object = None    # where the reduction puts the chunk's cells (a streaming.Place; None: an array of its own)



class Engine:
    """Everything a worker needs to evaluate replications: plain arrays, picklable, no pandas.

    ``matrices[d]`` is data alternative d's normalised indicator matrix (rows × indicators, rows in the
    order of the prepared row index) and ``applicable[d]`` its cells that apply (None: all, see
    ``score.applicability``); ``plans[p]`` a compiled aggregation plan (replications leave a geometric or
    harmonic mean of a child <= 0 missing), built from ``configs[p]``, with ``groups[p]`` the rows' entity
    groups of its imputed aggregates (``score.aggregate_groups``); ``tree`` and ``rows`` the compiled
    hierarchy and row structure; ``upper`` the hierarchy above level 2 (see :meth:`evaluate`).
    """

    def __init__(self, tree: kernel.Tree, rows: kernel.Rows, matrices: list[np.ndarray], configs: list[dict],
                 plan_args: tuple, applicable: list, groups: list, upper: kernel.Tree | None = None):
        self.tree, self.rows, self.upper = tree, rows, upper
        self.configs, self.plan_args, self.applicable, self.groups = configs, plan_args, applicable, groups
        self.matrices = [np.ascontiguousarray(m, dtype=float) for m in matrices]
        self.level2 = np.array([n.position for n in tree.levels[0]])
        self.leaves = np.concatenate([n.children for n in tree.levels[0]])
        self.above = tree.aggregates[tree.level[tree.aggregates] > 2]
        if upper is not None:     # the upper hierarchy's nodes in the whole one
            position = {c: i for i, c in enumerate(tree.codes)}
            self.above_columns = np.array([position[c] for c in upper.codes])
        # the same columns as slices where they are consecutive (codes order lists a tree level by level, so
        # they usually are): the weights of a block are then read and written as views, not gathered
        self._leaf_columns = _as_slice(self.leaves)
        self._above_slice = _as_slice(self.above_columns) if upper is not None else None
        self._compile()

    def _compile(self) -> None:
        """The plans, and for the upper hierarchy the same plans one level down."""
        self.plans = [plan_for(config, *self.plan_args) for config in self.configs]
        self.upper_plans = [dataclasses.replace(p, levels={lv - 1: m for lv, m in p.levels.items() if lv >= 3})
                            for p in self.plans]
        self._cache: dict = {}

    def __getstate__(self):
        """Pickled with its compiled plans and without its cache (sent to dask workers)."""
        return {k: v for k, v in self.__dict__.items() if k != "_cache"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._cache = {}

    def evaluate(self, task: Task) -> np.ndarray:
        """Every aggregate of every replication of the chunk: (aggregates × rows × R), rebased as the plan says.

        When the replications of a chunk share the indicators' relative weights (weight noise above level 1
        only), the level-2 aggregates are the same for all of them: they are computed once (one replication,
        cached) and the kernel runs on the hierarchy above them, with those aggregates (and whether they
        apply) as its indicators. The kernel computes element by element, so this gives the same numbers as
        the whole hierarchy."""
        W = self._relative(task)
        plan = self.plans[task.plan]
        groups = self.groups[task.plan]
        if not self._shares_level2(W):
            return kernel.aggregate(self.matrices[task.data], W, self.tree, plan, self.rows,
                                    self.applicable[task.data], groups).values
        level2, applies = self._level2(task.data, task.plan, W[0])
        top = kernel.aggregate(level2, W[:, self.above_columns], self.upper, self.upper_plans[task.plan], self.rows,
                               applies, groups)
        out = np.empty((len(self.tree.aggregates), len(self.rows.years), len(W)))
        out[self.tree.slot[self.level2]] = level2.T[:, :, None]
        out[self.tree.slot[self.above]] = top.values
        return out

    def relative_weights(self, raw: np.ndarray) -> np.ndarray:
        """``kernel.relative_weights`` of raw weights (R × nodes), the same numbers (row by row, each sibling
        group on its own) for less work when the indicators' raw weights come in runs of equal rows (weights
        perturbed above level 1, rows grouped by data alternative): the nodes above level 1 through the
        upper hierarchy, the indicators once per run."""
        if self.upper is None or len(raw) < 2:
            return kernel.relative_weights(raw, self.tree)
        leaf_columns, above = self._leaf_columns, self._above_slice
        leaves = raw[:, leaf_columns]
        new = np.ones(len(raw), dtype=bool)
        new[1:] = (leaves[1:] != leaves[:-1]).any(axis=1)
        firsts = np.flatnonzero(new)
        if len(firsts) > len(raw) // 4:
            return kernel.relative_weights(raw, self.tree)
        out = np.empty_like(raw)
        out[:, above] = kernel.relative_weights(raw[:, above], self.upper)
        out[:, leaf_columns] = kernel.relative_weights(raw[firsts], self.tree)[:, leaf_columns][np.cumsum(new) - 1]
        return out

    def shared(self, task: Task) -> np.ndarray:
        """The aggregate slots whose values :meth:`evaluate` gives the same for every replication of the chunk
        (the level-2 ones when it computes them once; none for a single replication)."""
        return self.tree.slot[self.level2] if self._shares_level2(self._relative(task)) else np.array([], dtype=int)

    def _relative(self, task: Task) -> np.ndarray:
        return kernel.relative_weights(task.weights, self.tree) if task.relative is None else task.relative

    def _shares_level2(self, W: np.ndarray) -> bool:
        return self.upper is not None and len(W) >= 2 and bool((W[:, self.leaves] == W[0, self.leaves]).all())

    def _level2(self, data: int, plan: int, weights: np.ndarray):
        """The level-2 aggregates (rows × level-2 nodes) of one replication with these indicator weights, and
        which of them apply (None: all)."""
        key = (data, plan, weights[self.leaves].tobytes())
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) > 256:
                self._cache.clear()
            result = kernel.aggregate(self.matrices[data], weights[None], self.tree, self.plans[plan], self.rows,
                                      self.applicable[data], self.groups[plan])
            applies = None if result.applicable is None else np.ascontiguousarray(result.applicable[self.level2].T)
            found = self._cache[key] = (np.ascontiguousarray(result.values[self.tree.slot[self.level2], :, 0].T),
                                        applies)
        return found


def plan_for(config: dict, max_level: int, rebase: bool, base_year, non_positive: str = "missing") -> kernel.Plan:
    """The compiled plan of an aggregation setting; replications leave undefined means missing."""
    return dataclasses.replace(kernel.Plan.of(config, max_level, rebase, base_year), non_positive=non_positive)


def _upper(framework) -> kernel.Tree | None:
    """The hierarchy above level 2, its level-2 nodes as indicators (None for a two-level framework)."""
    if framework.max_level < 3:
        return None
    table = framework.table[framework.table["level"] >= 2].copy()
    table["level"] -= 1
    table.loc[table["level"] == 1, "type"] = "Indicator"
    return kernel.Tree.of(type(framework)(table, framework.source))


def _run(task: Task, engine: Engine, reducer) -> dict:
    """A chunk evaluated and reduced (locally, on a thread, or on a dask worker with the scattered copies)."""
    return reducer(engine.evaluate(task), task)


class Executor:
    """Runs chunks locally (in order), on threads, or on a dask.distributed cluster, at most ``window``
    chunks in flight, and yields their reduced results in chunk order."""

    def __init__(self, engine: Engine, client=None, workers: int = 1):
        """``client``: a dask Client, a scheduler address (a client is opened and closed here) or None."""
        self.engine, self.workers, self.own = engine, max(int(workers), 1), False
        self.client = client
        if isinstance(client, str):
            from distributed import Client
            self.client, self.own = Client(client), True
        self.remote = self.pool = None
        self._reducer = (None, None)
        if self.client is not None:
            self.remote = self.client.scatter(engine, broadcast=True, hash=False)
            self.workers = max(len(self.client.scheduler_info().get("workers", {})), 1)
        elif self.workers > 1:
            self.pool = ThreadPoolExecutor(self.workers)

    @property
    def window(self) -> int:
        """Chunks in flight at once (sized into the chunk size, see :func:`chunk_size`)."""
        if self.client is not None:
            return 2 * self.workers
        return 1 if self.pool is None else self.workers + 1

    def map(self, reducer, tasks):
        """Yield ``reducer(values of the chunk, task)`` for every task, in order."""
        if self.pool is None and self.client is None:
            for task in tasks:
                yield _run(task, self.engine, reducer)
            return
        if self.client is not None and self._reducer[0] is not reducer:
            self._reducer = (reducer, self.client.scatter(reducer, broadcast=True, hash=False))
        remote = self._reducer[1]
        pending = collections.deque()
        try:
            for task in tasks:
                if self.client is not None:
                    pending.append(self.client.submit(_run, task, self.remote, remote, pure=False))
                else:
                    pending.append(self.pool.submit(_run, task, self.engine, reducer))
                if len(pending) >= self.window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()

    def close(self):
        """Release the threads, the scattered engine, and a client this executor opened itself."""
        if self.pool is not None:
            self.pool.shutdown()
        if self.remote is not None and not self.own:
            try:
                self.client.cancel([self.remote])
            except Exception:  # the cluster may already be gone
                pass
        if self.own:
            self.client.close()


# ---------------------------------------------------------------------------------------------------
# Preparation: every data alternative once
# ---------------------------------------------------------------------------------------------------

@dataclass
class Prepared:
    """A study ready for replications: the data alternatives as arrays and the compiled hierarchy."""

    study: Study
    year: int
    spec: Spec
    engine: Engine
    index: pd.MultiIndex                  # rows (entity, year) of every matrix
    data_alternatives: list[dict]          # overrides per data alternative (0 = nominal)
    data_codes: np.ndarray                 # mixed-radix code of (data choices, companion) -> data alternative
    aggregation_configs: list[dict]        # 0 = nominal, then the aggregation input's alternatives
    plan_of: np.ndarray                    # aggregation alternative -> engine plan
    companion_of: np.ndarray               # aggregation alternative -> its with: companions (0 = none)
    raw_weights: np.ndarray                # (data alternatives, weight methods, nodes) nominal weights
    nominal_relative: np.ndarray           # (nodes,) relative weights of the nominal replication
    nominal: pd.DataFrame                  # nominal scores (rows × every node), as score.score's ``wide``
    target: dict
    timings: dict

    @property
    def anchored(self) -> bool:
        """Values are rebased to a base year (the base-year form of the rescaling, ``summaries.Rescale``)."""
        return self.study.base_year is not None and bool(self.study.methods.get("rebase"))

    @property
    def layout(self) -> Layout:
        """What the design needs: the inputs' sizes and the nodes each weight-noise input perturbs."""
        spec, tree = self.spec, self.engine.tree
        noise = tuple((k, i.noise, np.flatnonzero(np.isin(tree.level, i.levels)))
                      for k, i in enumerate(spec.inputs) if i.kind == "weight_noise")
        return Layout(spec.seed, tuple(i.size for i in spec.inputs), noise, spec.sampler)


def _clean(study: Study, tidy: pd.DataFrame, years: range, entities) -> pd.DataFrame:
    """The clean stage with the study's (possibly overridden) methods, as the pipeline runs it."""
    cleaned, _ = clean_study(study, tidy, years, entities)
    return cleaned


def _normalised(study: Study, cleaned: pd.DataFrame) -> pd.DataFrame:
    """The normalised matrix exactly as ``score.score`` computes it."""
    spec = dict(study.methods["normalisation"])
    return normalise(to_wide(cleaned, study.framework), study.framework, study.base_year, spec.pop("method"), **spec)


def _weights(study: Study, normalised: pd.DataFrame) -> pd.Series:
    """Nominal weights by the study's weighting method, as ``score.score`` gets them."""
    spec = dict(study.methods["weights"])
    return nominal_weights(study.framework, spec.pop("method"), normalised, **spec)


def _key(methods: dict) -> str:
    return json.dumps(methods, sort_keys=True, default=str)


def prepare(study: Study, year: int | None = None, tidy: pd.DataFrame | None = None, spec: dict | Spec | None = None,
            entities: pd.DataFrame | None = None) -> Prepared:
    """Compute every discrete data alternative once and compile the hierarchy for the replications.

    The data-side inputs (every input that is not weights or aggregation, and the ``with:`` companions of
    aggregation alternatives) span a grid of alternatives; for each combination the study's methods are
    overridden with ``score.with_methods`` and the clean stage (imputation, screening, outliers …) and the
    normalisation run once; combinations that only differ in the normalisation share one clean run, and a
    combination equal to another (or to the study's own methods) reuses its matrix. All matrices are
    aligned on the union of their rows. ``tidy`` is the ingested table (read with ``ingest.ingest`` when
    omitted).
    """
    started = time.perf_counter()
    spec = spec if isinstance(spec, Spec) else parse_spec(study, spec)
    fw = study.framework
    year = study.last_year if year is None else int(year)
    if tidy is None:
        tidy, _ = ingest.ingest(study, year)
        entities = entities if entities is not None else ingest.read_entities(study)
    years = range(study.first_year, year + 1)
    data_inputs = [i for i in spec.inputs if i.kind == "data"]
    aggregation_input = next((i for i in spec.inputs if i.kind == "aggregation"), None)
    own_aggregations = [split_with(a) for a in (aggregation_input.alternatives if aggregation_input else ())]
    companions = [{}]
    for _, companion in own_aggregations:
        if companion not in companions:
            companions.append(companion)
    companion_of = np.array([0] + [companions.index(c) if c else 0 for _, c in own_aggregations], dtype=int)
    clean_cache: dict[str, pd.DataFrame] = {}

    def clean_for(variant: Study) -> pd.DataFrame:
        """One clean run per distinct set of clean-stage methods."""
        key = _key({k: v for k, v in variant.methods.items() if k not in ("normalisation",) + EVALUATION_STEPS})
        if key not in clean_cache:
            clean_cache[key] = _clean(variant, tidy, years, entities)
        return clean_cache[key]

    alternatives: list[dict] = [{}]
    cleans = [clean_for(study)]
    normalised: list[pd.DataFrame] = [_normalised(study, cleans[0])]
    method_sets = [_key(study.methods)]
    radix = [i.size for i in data_inputs] + [len(companions)]
    data_codes = np.zeros(int(np.prod(radix)), dtype=int)
    for code, combination in enumerate(itertools.product(*[range(r) for r in radix])):
        overrides = {i.step: i.alternatives[c] for i, c in zip(data_inputs, combination)}
        overrides.update(companions[combination[-1]])
        key = _key(with_methods(study, overrides).methods)
        if key not in method_sets:
            method_sets.append(key)
            alternatives.append(overrides)
            variant = with_methods(study, overrides)
            cleans.append(clean_for(variant))
            normalised.append(_normalised(variant, cleans[-1]))
        data_codes[code] = method_sets.index(key)
    index = normalised[0].index
    for frame in normalised[1:]:
        index = index.union(frame.index)
    index = index.sort_values()
    matrices = [frame.reindex(index)[fw.indicators].to_numpy(dtype=float) for frame in normalised]

    # weights: per data alternative and weighting method, in framework order
    weight_input = next((i for i in spec.inputs if i.kind == "weight_method"), None)
    weight_methods = [None] + ([dict(a) for a in weight_input.alternatives] if weight_input else [])
    raw = np.empty((len(matrices), len(weight_methods), len(fw.codes)))
    for d, frame in enumerate(normalised):
        variant = with_methods(study, alternatives[d]) if alternatives[d] else study
        for w, method in enumerate(weight_methods):
            chosen = with_methods(variant, {"weights": method}) if method else variant
            raw[d, w] = _weights(chosen, frame).reindex(fw.codes).to_numpy(dtype=float)

    configs = [dict(study.methods["aggregation"])]
    configs += [with_methods(study, {"aggregation": own}).methods["aggregation"] for own, _ in own_aggregations]
    rebase, base_year = bool(study.methods.get("rebase")), study.base_year
    tree, rows = kernel.Tree.of(fw), kernel.Rows.of(index, base_year)
    plan_args = (fw.max_level, rebase, base_year)
    plans, plan_configs, groups, plan_of = [], [], [], []
    for k, config in enumerate(configs):
        plan = plan_for(config, *plan_args)
        if plan not in plans:
            plans.append(plan)
            plan_configs.append(config)
            variant = with_methods(study, {"aggregation": own_aggregations[k - 1][0]}) if k else study
            groups.append(aggregate_groups(variant, index, entities))
        plan_of.append(plans.index(plan))
    applicable = [applicability(clean, fw, index) for clean in cleans]
    engine = Engine(tree, rows, matrices, plan_configs, plan_args, applicable, groups, _upper(fw))

    # the nominal replication: the kernel, as score.score runs it (its own rule for non-positive children)
    nominal_relative = kernel.relative_weights(raw[0, 0][None, :], tree)
    result = kernel.aggregate(matrices[0], nominal_relative, tree, kernel.Plan.of(configs[0], *plan_args), rows,
                              applicable[0], groups[0])
    nominal = pd.DataFrame(result.full()[:, :, 0].T, index=index, columns=list(tree.codes))
    target = _resolve_target(study, spec, index, year)
    return Prepared(study, year, spec, engine, index, alternatives, data_codes, configs, np.array(plan_of),
                    companion_of, raw, nominal_relative[0], nominal, target,
                    {"prepare_seconds": time.perf_counter() - started, "data_alternatives": len(matrices),
                     "plans": len(plan_configs)})


def _resolve_target(study: Study, spec: Spec, index: pd.MultiIndex, year: int) -> dict:
    """Target entity (default: focus_entity, else the first), year (default: the edition), node (the index)."""
    fw = study.framework
    entities = list(index.get_level_values("entity").unique())
    target = dict(spec.target)
    entity = target.get("entity") or study.config.get("focus_entity")
    if entity not in entities:
        if "entity" in target:
            _fail("target entity has no data", f"{COLUMN}.target.entity", entity, f"one of {entities[:10]} …")
        entity = entities[0]
    target_year = int(target.get("year", year))
    if target_year not in set(index.get_level_values("year")):
        _fail("target year outside the edition", f"{COLUMN}.target.year", target_year,
              f"{study.first_year}..{year}")
    return {"entity": entity, "year": target_year, "code": target.get("code", fw.root)}


# ---------------------------------------------------------------------------------------------------
# From draws to chunks
# ---------------------------------------------------------------------------------------------------

def translate(prepared: Prepared, draws: Draws) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per replication of a block: data alternative, engine plan and raw weights (n × nodes)."""
    spec, choices = prepared.spec, draws.choices
    n = len(choices)
    columns = {kind: [k for k, i in enumerate(spec.inputs) if i.kind == kind]
               for kind in ("data", "aggregation", "weight_method")}
    aggregation = choices[:, columns["aggregation"][0]] + 1 if columns["aggregation"] else np.zeros(n, dtype=int)
    code = np.zeros(n, dtype=int)
    for k in columns["data"]:
        code = code * spec.inputs[k].size + choices[:, k]
    code = code * (int(prepared.companion_of.max()) + 1) + prepared.companion_of[aggregation]
    data = prepared.data_codes[code]
    method = choices[:, columns["weight_method"][0]] + 1 if columns["weight_method"] else np.zeros(n, dtype=int)
    weights = noisy(prepared.raw_weights[data, method], draws, prepared.layout, copy=False)   # a fresh copy
    return data, prepared.plan_of[aggregation], weights


def chunk_size(prepared: Prepared, workers: int, extra_per_replication: float = 0.0, fraction: float = 0.25,
               unit: int = 1) -> int:
    r"""Replications per chunk: $C = \lfloor f\,M / (w\,b) \rfloor$ in [1, BLOCK], with M the memory budget,
    f = ``fraction``, w the chunks in flight and b the bytes one replication takes while its chunk is
    evaluated and reduced: (4 · aggregates · rows) · 8 for the kernel's arrays, plus ``extra_per_replication``
    for the reduction's own; a multiple of ``unit`` when it is at least that."""
    engine = prepared.engine
    per_replication = 4 * len(engine.tree.aggregates) * len(prepared.index) * 8 + extra_per_replication
    if any(p.chain for p in engine.plans):
        per_replication *= 2    # chain-linking keeps each node's yearly steps
    budget = prepared.spec.memory_mb * 2**20 * fraction / max(workers, 1)
    size = int(np.clip(budget // per_replication, 1, BLOCK))
    return size - size % unit if size >= unit else size


def tasks(prepared: Prepared, draws: Draws, size: int):
    """The chunks of one block: replications grouped by (data alternative, plan), in the block's order
    within a group, cut into chunks of at most ``size``. Yields (Task, positions in the block). The relative
    weights are computed for the whole block at once (row by row, so the same numbers as chunk by chunk, in
    one call instead of one per chunk; see :meth:`Engine.relative_weights`), and the rows put in chunk
    order first: a chunk's arrays are views (a copy per chunk gathered rows from all over the block into
    fresh pages)."""
    data, plan, weights = translate(prepared, draws)
    key = data * len(prepared.engine.plans) + plan
    order = np.argsort(key, kind="stable")
    weights, ids = weights[order], draws.ids[order]
    relative = prepared.engine.relative_weights(weights)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(key[order])) + 1, [len(order)]])
    for g0, g1 in zip(starts[:-1], starts[1:]):
        for a in range(g0, g1, size):
            b = min(a + size, g1)
            yield Task(int(data[order[a]]), int(plan[order[a]]), weights[a:b], ids[a:b], a == g0, b >= g1,
                       relative[a:b]), order[a:b]


def _as_slice(columns: np.ndarray) -> slice | np.ndarray:
    """``columns`` as a slice when they are consecutive and increasing, else as they are."""
    if len(columns) and np.array_equal(columns, np.arange(columns[0], columns[0] + len(columns))):
        return slice(int(columns[0]), int(columns[0]) + len(columns))
    return columns
