r"""Uncertainty and sensitivity analysis over any set of the study's method choices.

A composite index rests on modelling choices (imputation, outlier treatment, normalisation, weights,
aggregation) that are each defensible but not unique. Following Saisana, Saltelli & Tarantola (2005) and
the JRC's COINr ``get_sensitivity()``, this module varies the choices *simultaneously* by Monte Carlo:

* **uncertainty mode** (UA) draws ``runs`` random combinations of choices and reports, per entity, year
  and node, the nominal score, the median and the 5–95 % band of the score, of its change since the base
  year and ``P(change > 0)`` (panels), and of the ranks (cross-sections);
* **sensitivity mode** (SA) evaluates the Saltelli design A, B, AB_i (N·(d+2) replications for d uncertain
  inputs) and estimates first-order (Saltelli 2010) and total-order (Jansen 1999) Sobol indices, with
  bootstrap confidence intervals, for scalar targets: the index value and its change since the base year
  for one entity and year, and the mean absolute rank shift against the nominal ranking.

The uncertain inputs are declared in ``study.yaml`` under ``uncertainty:`` (see :func:`parse_spec`)::

    uncertainty:
      runs: 1000            # uncertainty-mode replications
      sobol_n: 256          # base sample N; sensitivity mode evaluates N·(d+2) replications
      seed: 1               # every random number comes from numpy.random.default_rng(seed)
      nboot: 1000           # bootstrap resamples for the confidence intervals of Si and STi
      confidence: 0.9       # width of those intervals (percentile bootstrap: 5 %–95 %)
      sampler: random       # random | sobol (scrambled Sobol' points for the matrices A and B)
      memory_mb: 512        # memory budget; chunks of replications and row tiles are sized from it
      target: {entity: CHN, year: 2018, code: Index}   # Sobol targets (defaults: focus_entity, edition, index)
      levels: [2, 3, 4]     # node levels summarised in uncertainty mode (default: every aggregate)
      rank_levels: [4, 3]   # node levels whose ranks are summarised (default: index and dimensions)
      inputs:               # the uncertain choices, in the order of the Sobol inputs
        weights: {noise: 0.25, levels: [2, 3], sets: 100}
        normalisation: [{method: minmax, scale: [1, 100]}, {method: zscore, mean: 10, sd: 2}]
        aggregation: [{method: arithmetic}, {method: geometric}]
        outliers: [{method: jrc, winmax: 1}, {method: jrc, winmax: 3}, {method: jrc, winmax: 5}]
        imputation: [{method: none}, {method: mean, group: EurAsia_group}]

**Discrete once, replications as arrays.** Every *data-side* choice (any method step other than weights
and aggregation: imputation, screening, outliers, normalisation, …) changes the normalised indicator
matrix. :func:`prepare` computes each combination of data-side alternatives exactly once, through the
study's own ``clean.clean`` and ``normalise.normalise`` (via ``score.with_methods``). A replication is
then only (data alternative, aggregation alternative, weight vector), and a chunk of replications that
share a data and an aggregation alternative is aggregated level by level as NumPy array operations on
(replications × rows) arrays: per-replication relative weights (R × nodes) times the shared indicator
matrix, with the same floating-point operations, in the same order, as ``aggregate.Aggregation.run``, so
that the nominal replication equals ``score.score`` bit for bit. Replications are sorted by alternative
and cut into chunks whose size comes from the memory budget; the rows are cut into tiles of whole years
(plus the base-year rows they need) so that the per-cell distributions stay within the budget too.
Chunks are evaluated locally or, given a ``dask.distributed`` client, on its workers; all random numbers
are drawn up front in the driver, so the result does not depend on where or in which order chunks run.
"""
from __future__ import annotations

import itertools
import json
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from zoneindex import clean as cleaning
from zoneindex.aggregate import method_for_level
from zoneindex.errors import InputError
from zoneindex.framework import Framework, Study
from zoneindex.normalise import normalise
from zoneindex.score import with_methods
from zoneindex.weight import nominal_weights

SPEC_KEYS = ("runs", "sobol_n", "seed", "nboot", "confidence", "sampler", "memory_mb", "target", "levels",
             "rank_levels", "inputs")
EVALUATION_STEPS = ("weights", "aggregation")  # every other step changes the data: computed once
SAMPLERS = ("random", "sobol")
COLUMN = "uncertainty"


# ---------------------------------------------------------------------------------------------------
# The specification
# ---------------------------------------------------------------------------------------------------

def _label(spec: dict) -> str:
    """A short readable name of one alternative, e.g. ``jrc (winmax=3)``."""
    spec = dict(spec)
    name = spec.pop("method", None)
    options = ", ".join(f"{k}={json.dumps(v, sort_keys=True, ensure_ascii=False) if isinstance(v, (dict, list)) else v}"
                        for k, v in spec.items())
    if name is None:
        return options or "nominal"
    return f"{name} ({options})" if options else str(name)


@dataclass(frozen=True)
class Input:
    """One uncertain input (one Sobol factor).

    ``kind`` is ``data`` (a data-side method step: its alternatives change the normalised matrix),
    ``aggregation`` (alternative aggregation settings, merged into the study's own as ``with_methods``
    does), ``weight_method`` (alternative weighting methods) or ``weight_noise`` (every nominal weight
    of the nodes at ``levels`` multiplied by an independent U(1 − noise, 1 + noise) factor).
    """

    name: str
    step: str
    kind: str
    alternatives: tuple = ()
    noise: float = 0.0
    levels: tuple = ()
    sets: int = 0

    @property
    def size(self) -> int:
        """Number of discrete values the input takes (for weight noise: the pre-drawn sets in SA)."""
        return self.sets if self.kind == "weight_noise" else len(self.alternatives)

    @property
    def labels(self) -> list[str]:
        """Readable names of the alternatives."""
        if self.kind == "weight_noise":
            return [f"set {k}" for k in range(self.sets)]
        return [_label(a) for a in self.alternatives]

    def describe(self) -> str:
        """One line for the write-up's table of inputs."""
        if self.kind == "weight_noise":
            return (f"weights × U({1 - self.noise:g}, {1 + self.noise:g}) at level(s) "
                    f"{', '.join(map(str, self.levels))}")
        return "; ".join(self.labels)


@dataclass(frozen=True)
class Spec:
    """The validated ``uncertainty:`` section (see the module docstring for the YAML schema)."""

    inputs: tuple
    runs: int = 1000
    sobol_n: int = 256
    seed: int = 1
    nboot: int = 1000
    confidence: float = 0.9
    sampler: str = "random"
    memory_mb: float = 512.0
    target: dict = field(default_factory=dict)
    levels: tuple | None = None
    rank_levels: tuple | None = None

    @property
    def d(self) -> int:
        """Number of uncertain inputs (Sobol factors)."""
        return len(self.inputs)

    @property
    def names(self) -> list[str]:
        """Input names, in the order of the Sobol factors."""
        return [i.name for i in self.inputs]


def _fail(problem: str, column: str, value=None, expected: str | None = None, file=None):
    """Raise the project's InputError for a bad ``uncertainty:`` setting."""
    raise InputError(problem, file=file, column=column, value=value, expected=expected)


def parse_spec(study: Study, spec: dict | None = None) -> Spec:
    """Validate the ``uncertainty:`` section of ``study.yaml`` (or ``spec`` when given) into a :class:`Spec`.

    Every input key names a method step of the study (``imputation``, ``screening``, ``outliers``,
    ``normalisation``, ``weights``, ``aggregation`` …). A list gives the discrete alternatives of that step;
    each alternative replaces the step as ``score.with_methods`` does (a spec with a new ``method`` replaces
    the step whole; aggregation alternatives are merged into the study's aggregation settings, so the rules
    for missing children carry over, and so do its ``by_level`` overrides unless the alternative gives its
    own, e.g. ``{method: geometric, by_level: {}}``). ``weights`` may instead be a mapping
    ``{noise: ε, levels: [...], sets: K, separate_levels: false}``: the nominal weight of every node at the
    listed levels (1 = indicators; default every level below the index) is multiplied by an independent
    factor u ~ U(1 − ε, 1 + ε), COINr's ``get_noisy_weights``. With ``separate_levels: true`` each level is
    its own Sobol input. Unknown method names are refused with the names that exist, naming the input.
    """
    path = study.folder / "study.yaml" if study.folder is not None else None
    raw = spec if spec is not None else study.config.get("uncertainty")
    if not isinstance(raw, dict):
        _fail("the study declares no uncertainty analysis", COLUMN, raw, "an uncertainty: mapping with inputs:", path)
    unknown = sorted(set(raw) - set(SPEC_KEYS))
    if unknown:
        _fail("unknown uncertainty option", COLUMN, unknown, f"some of {list(SPEC_KEYS)}", path)
    inputs_raw = raw.get("inputs")
    if not isinstance(inputs_raw, dict) or not inputs_raw:
        _fail("no uncertain inputs", f"{COLUMN}.inputs", inputs_raw, "a mapping step -> alternatives", path)
    fw = study.framework
    inputs = []
    for step, value in inputs_raw.items():
        column = f"{COLUMN}.inputs.{step}"
        if step == "rebase" or (step not in study.methods and step not in ("imputation", "outliers", "screening")):
            _fail("not a method step of the study", column, step, f"one of {sorted(study.methods)}", path)
        if step == "weights" and isinstance(value, dict):
            noise = float(value.get("noise", 0.25))
            if not 0 < noise < 1:
                _fail("weight noise must be in (0, 1)", f"{column}.noise", noise, "e.g. 0.25 for ±25 %", path)
            levels = tuple(int(v) for v in value.get("levels", range(1, fw.max_level)))
            bad = [v for v in levels if not 1 <= v < fw.max_level]
            if bad or not levels:
                _fail("weight levels outside the hierarchy", f"{column}.levels", bad or levels,
                      f"levels 1..{fw.max_level - 1} (1 = indicators)", path)
            sets = int(value.get("sets", 100))
            if sets < 2:
                _fail("too few weight sets", f"{column}.sets", sets, ">= 2", path)
            extra = sorted(set(value) - {"noise", "levels", "sets", "separate_levels"})
            if extra:
                _fail("unknown weight-noise option", column, extra, "noise, levels, sets, separate_levels", path)
            groups = [(lvl,) for lvl in levels] if value.get("separate_levels") else [levels]
            for group in groups:
                name = "weights" if len(groups) == 1 else f"weights (level {group[0]})"
                inputs.append(Input(name, "weights", "weight_noise", noise=noise, levels=tuple(group), sets=sets))
            continue
        if not isinstance(value, list) or not value or not all(isinstance(a, dict) for a in value):
            _fail("alternatives must be a non-empty list of method settings", column, value,
                  "e.g. [{method: minmax}, {method: zscore}]", path)
        for i, alternative in enumerate(value):
            if step != "aggregation" and step != "screening" and "method" not in alternative:
                _fail("alternative without a method", f"{column}[{i}]", alternative, "a method: key", path)
            _check_alternative(study, step, alternative, f"{column}[{i}]", path)
        kind = "aggregation" if step == "aggregation" else "weight_method" if step == "weights" else "data"
        inputs.append(Input(step, step, kind, alternatives=tuple(dict(a) for a in value)))
    names = [i.name for i in inputs]
    if len(set(names)) != len(names):
        _fail("an input is declared twice", f"{COLUMN}.inputs", names, "each step once", path)
    sampler = raw.get("sampler", "random")
    if sampler not in SAMPLERS:
        _fail("unknown sampler", f"{COLUMN}.sampler", sampler, f"one of {list(SAMPLERS)}", path)
    numbers = {"runs": 1000, "sobol_n": 256, "seed": 1, "nboot": 1000}
    values = {}
    for key, default in numbers.items():
        v = raw.get(key, default)
        if not isinstance(v, int) or isinstance(v, bool) or v < (0 if key in ("seed", "nboot") else 2):
            _fail("not a whole number in range", f"{COLUMN}.{key}", v, "a whole number >= 2 (seed, nboot >= 0)", path)
        values[key] = v
    confidence = float(raw.get("confidence", 0.9))
    if not 0 < confidence < 1:
        _fail("confidence must be in (0, 1)", f"{COLUMN}.confidence", confidence, "e.g. 0.9", path)
    memory = float(raw.get("memory_mb", 512))
    if memory < 16:
        _fail("memory budget too small", f"{COLUMN}.memory_mb", memory, ">= 16 (MB)", path)
    target = dict(raw.get("target") or {})
    if set(target) - {"entity", "year", "code"}:
        _fail("unknown target key", f"{COLUMN}.target", sorted(target), "entity, year, code", path)
    if "code" in target and target["code"] not in fw.codes:
        _fail("target node is not in the framework", f"{COLUMN}.target.code", target["code"], "a node code", path)
    levels = raw.get("levels")
    rank_levels = raw.get("rank_levels")
    for key, lv in (("levels", levels), ("rank_levels", rank_levels)):
        if lv is not None and (not isinstance(lv, list) or any(not 1 <= int(v) <= fw.max_level for v in lv)):
            _fail("levels outside the hierarchy", f"{COLUMN}.{key}", lv, f"a list of levels 1..{fw.max_level}", path)
    return Spec(tuple(inputs), values["runs"], values["sobol_n"], values["seed"], values["nboot"], confidence,
                sampler, memory, target, None if levels is None else tuple(int(v) for v in levels),
                None if rank_levels is None else tuple(int(v) for v in rank_levels))


def _check_alternative(study: Study, step: str, alternative: dict, column: str, path) -> None:
    """Refuse an unknown method name in an alternative, reusing the study's own check."""
    from zoneindex.framework import check_method_names
    methods = with_methods(study, {step: alternative}).methods
    try:
        check_method_names(methods, path)
    except InputError as error:
        raise InputError(error.problem, file=path, column=column, value=error.value,
                         expected=error.expected) from None


# ---------------------------------------------------------------------------------------------------
# Sampling and the Sobol estimators (pure functions: they are tested on plain functions)
# ---------------------------------------------------------------------------------------------------

def sobol_sample(n: int, d: int, rng: np.random.Generator, sampler: str = "random"):
    r"""The Saltelli design: matrices A, B (n × d) of U(0, 1) inputs and the d matrices AB_i.

    ``AB[i]`` is A with its column i taken from B (Saltelli et al. 2010, §2). ``sampler="random"`` draws
    A and B by plain Monte Carlo; ``"sobol"`` takes them from one scrambled Sobol' sequence in 2d
    dimensions (first d columns A, last d columns B), seeded from ``rng``. The model is evaluated at
    the n·(d + 2) points of A, B and every AB_i.
    Returns (A, B, AB) with AB of shape (d, n, d).
    """
    if sampler == "sobol":
        from scipy.stats import qmc
        points = qmc.Sobol(d=2 * d, scramble=True, rng=rng).random(n)
        A, B = points[:, :d], points[:, d:]
    else:
        A, B = rng.random((n, d)), rng.random((n, d))
    AB = np.repeat(A[None], d, axis=0)
    for i in range(d):
        AB[i, :, i] = B[:, i]
    return A, B, AB


def sobol_indices(f_A: np.ndarray, f_B: np.ndarray, f_AB: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""First-order and total Sobol indices from the model outputs on A, B and AB_i.

    With the outputs centred on the mean of f(A) and f(B) (as SALib and SciPy do) and
    $V = \operatorname{Var}[f(A), f(B)]$ (the population variance of the 2n outputs):

    $$S_i = \frac{\frac1n \sum_{j=1}^n f(B)_j\,\big(f(AB_i)_j - f(A)_j\big)}{V}$$  (Saltelli et al. 2010, Table 2 b)

    $$S_{Ti} = \frac{\frac1{2n} \sum_{j=1}^n \big(f(A)_j - f(AB_i)_j\big)^2}{V}$$  (Jansen 1999; Saltelli 2010, Table 2 f)

    Shapes: f_A and f_B (..., n), f_AB (d, ..., n); returns S1 and ST of shape (..., d). A constant output
    (V = 0) gives NaN.
    """
    f_A, f_B, f_AB = (np.asarray(a, dtype=float) for a in (f_A, f_B, f_AB))
    mean = (f_A.mean(axis=-1) + f_B.mean(axis=-1)) / 2
    a, b = f_A - mean[..., None], f_B - mean[..., None]
    ab = f_AB - mean[..., None]
    var = np.concatenate([a, b], axis=-1).var(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        first = np.mean(b * (ab - a), axis=-1) / var
        total = 0.5 * np.mean((a - ab) ** 2, axis=-1) / var
    return np.moveaxis(first, 0, -1), np.moveaxis(total, 0, -1)


def sobol_bootstrap(f_A, f_B, f_AB, nboot: int, rng: np.random.Generator, confidence: float = 0.9) -> dict:
    r"""Point estimates and percentile-bootstrap intervals of $S_i$ and $S_{Ti}$.

    Each of the ``nboot`` resamples draws the n rows with replacement (multinomial counts $c_j$,
    $\sum_j c_j = n$; the rows of f(A), f(B) and every f(AB_i) stay matched) and recomputes the
    estimators of :func:`sobol_indices` on it. All three estimators are means of per-row terms, so a
    resample is one weighted mean per term, $\frac1n \sum_j c_j t_j$, for every resample at once:
    with $m = \frac{1}{2n}\sum_j c_j (a_j + b_j)$,
    $V = \frac{1}{2n}\sum_j c_j (a_j^2 + b_j^2) - m^2$,
    $S_i = \big[\frac1n \sum_j c_j b_j (ab_{ij} - a_j) - m \frac1n \sum_j c_j (ab_{ij} - a_j)\big] / V$ and
    $S_{Ti} = \frac{1}{2n}\sum_j c_j (a_j - ab_{ij})^2 / V$ (outputs first centred on their overall mean).
    The interval is the ((1 − c)/2, (1 + c)/2) quantile pair of the resampled estimates (c = ``confidence``;
    0.9 gives COINr's 5 %–95 %). Returns arrays S1, ST, S1_lo, S1_hi, ST_lo, ST_hi of length d.
    """
    f_A, f_B, f_AB = (np.asarray(a, dtype=float) for a in (f_A, f_B, f_AB))
    s1, st = sobol_indices(f_A, f_B, f_AB)
    out = {"S1": s1, "ST": st}
    lo, hi = (1 - confidence) / 2, (1 + confidence) / 2
    nan = np.full(len(s1), np.nan)
    if not nboot or not np.isfinite(f_A).all() or not np.isfinite(f_B).all() or not np.isfinite(f_AB).all():
        out.update(S1_lo=nan, S1_hi=nan, ST_lo=nan, ST_hi=nan)
        return out
    n = f_A.shape[-1]
    centre = (f_A.mean() + f_B.mean()) / 2
    a, b, ab = f_A - centre, f_B - centre, f_AB - centre
    diff = ab - a                                                        # (d, n)
    terms = np.concatenate([((a + b) / 2)[None], ((a * a + b * b) / 2)[None], b * diff, diff, diff * diff / 2])
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=nboot).astype(float)   # (nboot, n)
    means = counts @ terms.T / n                                         # (nboot, 2 + 3d)
    d = len(s1)
    m, second = means[:, 0], means[:, 1]
    var = second - m * m
    with np.errstate(invalid="ignore", divide="ignore"):
        b1 = (means[:, 2:2 + d] - m[:, None] * means[:, 2 + d:2 + 2 * d]) / var[:, None]
        bt = means[:, 2 + 2 * d:] / var[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out.update(S1_lo=np.nanquantile(b1, lo, axis=0), S1_hi=np.nanquantile(b1, hi, axis=0),
                   ST_lo=np.nanquantile(bt, lo, axis=0), ST_hi=np.nanquantile(bt, hi, axis=0))
    return out


def choices_from_uniform(u: np.ndarray, sizes) -> np.ndarray:
    r"""Map U(0, 1) inputs to discrete choices: $k = \min(\lfloor u\,n \rfloor, n - 1)$ per column."""
    sizes = np.asarray(sizes)
    return np.minimum((u * sizes).astype(np.int64), sizes - 1)


def descending_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks along the last axis, 1 = highest; ties share the best rank; NaN stays NaN (pandas' ``min``)."""
    values = np.asarray(values, dtype=float)
    key = np.where(np.isnan(values), np.inf, -values)
    order = np.argsort(key, axis=-1, kind="stable")
    ordered = np.take_along_axis(key, order, axis=-1)
    new = np.ones(ordered.shape, dtype=bool)
    new[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
    position = np.broadcast_to(np.arange(values.shape[-1]), ordered.shape)
    start = np.maximum.accumulate(np.where(new, position, 0), axis=-1)
    ranks = np.empty(values.shape)
    np.put_along_axis(ranks, order, start + 1.0, axis=-1)
    ranks[np.isnan(values)] = np.nan
    return ranks


def mean_abs_rank_shift(ranks: np.ndarray, nominal: np.ndarray) -> np.ndarray:
    r"""$\bar R = \frac1M \sum_m |r_m - r^0_m|$ over the M entities ranked in both (last axis)."""
    diff = np.abs(ranks - nominal)
    if not np.isnan(diff).any():
        return diff.mean(axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(diff, axis=-1)


# ---------------------------------------------------------------------------------------------------
# The evaluation engine: the hierarchy compiled to positions, the data alternatives as arrays
# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Node:
    """One aggregate of the compiled hierarchy."""

    position: int            # in Engine.codes
    children: np.ndarray      # positions in Engine.codes
    columns: np.ndarray | None  # children as columns of the indicator matrix (level 2), else None
    pairwise: bool = False    # sum over children as NumPy does along a contiguous axis (see Engine._sum)


@dataclass(frozen=True)
class Tile:
    """Rows evaluated together: ``rows`` (positions in the row index), each row's base-year row as a
    position within ``rows`` (−1: none), the node positions returned, and the aggregates needed."""

    key: str
    rows: np.ndarray
    base: np.ndarray
    out: np.ndarray
    needed: frozenset


@dataclass
class Task:
    """One chunk: replications sharing a data and an aggregation alternative, with their weights.

    Evaluating it gives an array (out nodes × tile rows × replications)."""

    tile: Tile
    data: int
    aggregation: int
    weights: np.ndarray          # (R, nodes) relative weights
    policy: str = "missing"      # non-positive children of a geometric/harmonic mean: missing | error


class Engine:
    """Everything a worker needs to evaluate replications: plain arrays, picklable, no pandas.

    ``matrices[d]`` is data alternative d's normalised indicator matrix (rows × indicators, rows in the
    order of the prepared row index); ``aggregations[a]`` lists per level (method, p) and carries
    ``min_availability``; ``levels`` holds the compiled hierarchy.
    """

    def __init__(self, framework: Framework, matrices: list[np.ndarray], aggregations: list[dict],
                 rebase: bool, base_position: np.ndarray, pairwise: set | None = None):
        """Compile the hierarchy to positions; ``pairwise`` names the nodes NumPy sums pairwise."""
        self.codes = tuple(framework.codes)
        position = {c: i for i, c in enumerate(self.codes)}
        column = {c: j for j, c in enumerate(framework.indicators)}
        self.indicator_of = {position[c]: column[c] for c in framework.indicators}
        self.max_level = framework.max_level
        self.levels = []
        for level in range(2, framework.max_level + 1):
            nodes = []
            for code in framework.level_codes(level):
                kids = framework.children(code)
                nodes.append(_Node(position[code], np.array([position[k] for k in kids]),
                                   np.array([column[k] for k in kids]) if level == 2 else None,
                                   code in (pairwise or set())))
            self.levels.append(nodes)
        self.matrices = [np.ascontiguousarray(m, dtype=float) for m in matrices]
        self.aggregations = aggregations
        self.rebase = rebase
        self.base_position = base_position
        self._cache: dict = {}

    def __getstate__(self):
        """Pickled without its cache (sent to dask workers)."""
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state

    def _level2(self, data: int, tile: Tile, node: _Node) -> dict:
        """A level-2 node's indicator children for a tile, in the node's layout, cached.

        Layout: children first, (k, rows, 1), when the node sums column after column; children last,
        (rows, 1, k), when it sums pairwise along contiguous children (see :meth:`_sum`). The axis of
        length 1 is the replications axis.
        """
        key = (data, tile.key)
        block = self._cache.get(key)
        if block is None:
            if len(self._cache) > 64:
                self._cache.clear()
            block = self._cache[key] = {"x": self.matrices[data][tile.rows]}
        cached = block.get(node.position)
        if cached is None:
            x = np.ascontiguousarray(block["x"][:, node.columns])         # (rows, k), children contiguous
            raw = x[:, None, :] if node.pairwise else np.ascontiguousarray(x.T)[:, :, None]
            missing = np.isnan(raw)
            cached = block[node.position] = {"raw": raw, "missing": missing, "any_missing": bool(missing.any()),
                                             "zero": np.nan_to_num(raw), "one": np.nan_to_num(raw, nan=1.0),
                                             "pieces": {}}
        return cached

    @staticmethod
    def _sum(terms: np.ndarray, pairwise: bool) -> np.ndarray:
        """Σ over the children axis, with NumPy's own order of additions in ``Aggregation.run``.

        NumPy reduces a (rows × children) array along the children either column after column
        (((a₀ + a₁) + a₂) + …) when the rows are the contiguous axis, or as a₀ + pairwise(a₁, …) per row
        when the children are contiguous. Which one ``score`` meets depends on how pandas lays out the
        frame, so :func:`prepare` finds out per node, the node keeps its children on the first axis
        (summed column after column) or on the last, contiguous axis (summed pairwise), and NumPy does
        the same additions here.
        """
        return terms.sum(axis=-1) if pairwise else terms.sum(axis=0)

    def evaluate(self, task: Task) -> np.ndarray:
        r"""Values (out nodes × tile rows × R) of every replication of the chunk.

        Per aggregate node k with children j and per-replication relative weights $w_{rj}$ (renormalised
        over the children present in the row, $\tilde w_{rj} = w_{rj} / \sum_{i\,present} w_{ri}$), the
        level's method gives $A = \sum_j \tilde w_j v_j$ (arithmetic), $\exp \sum_j \tilde w_j \ln v_j$
        (geometric), $(\sum_j \tilde w_j v_j^p)^{1/p}$ (power mean) or $M - S^2/M$ (Mazziotta–Pareto); a
        row with fewer than ``min_availability`` of its children present gets NaN, and with rebasing
        $100\,A_t / A_b$. All replications of the chunk are one array operation per node, with the same
        additions in the same order as ``aggregate.Aggregation.run``.
        """
        tile, config = task.tile, self.aggregations[task.aggregation]
        W = task.weights
        R = W.shape[0]
        n_rows = len(tile.rows)
        values: dict[int, np.ndarray] = {}
        with np.errstate(all="ignore"):
            for depth, nodes in enumerate(self.levels):
                method, p = config["levels"][depth + 2]
                for node in nodes:
                    if node.position not in tile.needed:
                        continue
                    if node.columns is not None:
                        children = self._level2(task.data, tile, node)
                    else:
                        raw = np.stack([values[c] for c in node.children], axis=-1 if node.pairwise else 0)
                        missing = np.isnan(raw)
                        any_missing = bool(missing.any())
                        children = {"raw": raw, "missing": missing, "any_missing": any_missing,
                                    "zero": np.nan_to_num(raw) if any_missing else raw,
                                    "one": np.where(missing, 1.0, raw) if any_missing else raw, "pieces": {}}
                    aggregate = self._aggregate(node, children, W[:, node.children], method, p, config, task)
                    if self.rebase:
                        base = tile.base
                        base_value = aggregate[np.maximum(base, 0)]
                        if (base < 0).any():
                            base_value = np.where((base < 0)[:, None], np.nan, base_value)
                        aggregate = 100.0 * (aggregate / base_value)
                    values[node.position] = aggregate
            out = np.empty((len(tile.out), n_rows, R))
            x = self.matrices[task.data][tile.rows]
            for k, position in enumerate(tile.out):
                if position in self.indicator_of:
                    out[k] = x[:, self.indicator_of[position]][:, None]
                else:
                    out[k] = values[position]
        return out

    def _aggregate(self, node: _Node, children: dict, Wk: np.ndarray, method: str, p, config: dict,
                   task: Task) -> np.ndarray:
        """One node for every replication: (rows × R); ``children`` in the node's layout."""
        pairwise, raw, missing = node.pairwise, children["raw"], children["missing"]
        axis = -1 if pairwise else 0
        k = Wk.shape[1]
        bad = None
        if p is None or p <= 0:
            bad = (raw <= 0).any(axis=axis)
            if not bad.any():
                bad = None
            elif task.policy == "error":
                raise InputError(f"{method} aggregation of {self.codes[node.position]!r} needs positive values "
                                 "(choose a normalisation whose range excludes 0, or set non_positive: missing)",
                                 column="methods.aggregation", expected="> 0")
        if children["any_missing"]:
            weights = Wk[None] if pairwise else np.ascontiguousarray(Wk.T)[:, None, :]
            w = np.where(~missing, weights, 0.0)
            w = w / (w.sum(axis=-1, keepdims=True) if pairwise else w.sum(axis=0, keepdims=True))
        elif pairwise:
            w = (Wk / Wk.sum(axis=-1, keepdims=True))[None]                   # (1, R, k)
        else:
            Wt = np.ascontiguousarray(Wk.T)                                   # (k, R)
            w = (Wt / Wt.sum(axis=0, keepdims=True))[:, None, :]              # (k, 1, R)
        if method == "mazziotta_pareto":
            v = children["zero"]
            mean = self._sum(w * v, pairwise)
            spread = self._sum(w * (v - (mean[..., None] if pairwise else mean[None])) ** 2, pairwise)
            aggregate = mean - spread / mean
        elif p == 1.0:
            aggregate = self._sum(w * children["zero"], pairwise)
        else:
            key = "log" if p is None else p
            pieces = children["pieces"].get(key)
            if pieces is None:
                pieces = children["pieces"][key] = np.log(children["one"]) if p is None else children["one"] ** p
            inner = self._sum(w * pieces, pairwise)
            aggregate = np.exp(inner) if p is None else inner ** (1.0 / p)
        if children["any_missing"]:
            available = self._sum(~missing, pairwise) / k
            available = np.broadcast_to(available, aggregate.shape)
            aggregate[available < config["min_availability"] - 1e-12] = np.nan
            aggregate[available == 0] = np.nan
        if bad is not None:
            aggregate[np.broadcast_to(bad, aggregate.shape)] = np.nan
        return aggregate


def _run_task(task: Task, engine: Engine) -> np.ndarray:
    """A chunk on a dask worker (the engine arrives as the scattered copy)."""
    return engine.evaluate(task)


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
    data_lookup: dict                      # tuple of per-input choice indices -> data alternative
    aggregation_configs: list[dict]        # 0 = nominal, then the aggregation input's alternatives
    raw_weights: np.ndarray                # (data alternatives, weight methods, nodes) nominal weights
    nominal_relative: np.ndarray           # (nodes,) relative weights of the nominal replication
    nominal: pd.DataFrame                  # nominal scores (rows × every node), as score.score's ``wide``
    target: dict
    timings: dict


def _aggregation_plan(framework: Framework, config: dict) -> dict:
    """Per level (method, p) as ``aggregate.method_for_level`` gives them, and the missing-data rules."""
    return {"levels": {level: method_for_level(config, level) for level in range(2, framework.max_level + 1)},
            "min_availability": float(config.get("min_availability", 0.5)),
            "non_positive": config.get("non_positive", "error")}


def _clean(study: Study, tidy: pd.DataFrame, years: range, entities) -> pd.DataFrame:
    """The clean stage with the study's (possibly overridden) methods, as the pipeline runs it."""
    cleaned, _ = cleaning.clean_study(study, tidy, years, entities)
    return cleaned


def _normalised(study: Study, cleaned: pd.DataFrame) -> pd.DataFrame:
    """The normalised matrix exactly as ``score.score`` computes it."""
    spec = dict(study.methods["normalisation"])
    return normalise(cleaning.to_wide(cleaned, study.framework), study.framework, study.base_year,
                     spec.pop("method"), **spec)


def _weights(study: Study, normalised: pd.DataFrame) -> pd.Series:
    """Nominal weights by the study's weighting method, as ``score.score`` gets them."""
    spec = dict(study.methods["weights"])
    return nominal_weights(study.framework, spec.pop("method"), normalised, **spec)


def _load(study: Study, year: int):
    """The ingested table and the entities table (group columns), as the ingest notebook writes them."""
    from zoneindex import ingest
    tidy, _ = ingest.ingest(study, year)
    return tidy, ingest.read_entities(study)


def prepare(study: Study, year: int | None = None, tidy: pd.DataFrame | None = None, spec: dict | Spec | None = None,
            entities: pd.DataFrame | None = None) -> Prepared:
    """Compute every discrete data alternative once and compile the hierarchy for the replications.

    The data-side inputs (every input that is not weights or aggregation) span a grid of alternatives;
    for each combination the study's methods are overridden with ``score.with_methods`` and the clean
    stage (imputation, screening, outliers …) and the normalisation run once; combinations that only
    differ in the normalisation share one clean run, and a combination equal to the study's own methods
    reuses the nominal matrix. All matrices are aligned on the union of their rows. ``tidy`` is the
    ingested table (read with ``ingest.ingest`` when omitted).
    """
    started = time.perf_counter()
    spec = spec if isinstance(spec, Spec) else parse_spec(study, spec)
    fw = study.framework
    year = study.last_year if year is None else int(year)
    if tidy is None:
        tidy, read_entities = _load(study, year)
        entities = entities if entities is not None else read_entities
    years = range(study.first_year, year + 1)
    data_inputs = [i for i in spec.inputs if i.kind == "data"]
    nominal_methods = study.methods
    clean_cache: dict[str, pd.DataFrame] = {}

    def clean_for(variant: Study) -> pd.DataFrame:
        """One clean run per distinct set of clean-stage methods."""
        key = json.dumps({k: v for k, v in variant.methods.items() if k not in ("normalisation",) + EVALUATION_STEPS},
                         sort_keys=True, default=str)
        if key not in clean_cache:
            clean_cache[key] = _clean(variant, tidy, years, entities)
        return clean_cache[key]

    alternatives: list[dict] = [{}]
    normalised: list[pd.DataFrame] = [_normalised(study, clean_for(study))]
    method_sets = [json.dumps(nominal_methods, sort_keys=True, default=str)]
    lookup = {}
    for combination in itertools.product(*[range(i.size) for i in data_inputs]):
        overrides = {i.step: i.alternatives[c] for i, c in zip(data_inputs, combination)}
        variant = with_methods(study, overrides)
        key = json.dumps(variant.methods, sort_keys=True, default=str)
        if key in method_sets:
            lookup[combination] = method_sets.index(key)
            continue
        method_sets.append(key)
        alternatives.append(overrides)
        normalised.append(_normalised(variant, clean_for(variant)))
        lookup[combination] = len(alternatives) - 1
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
    nominal_weights_series = _weights(study, normalised[0])
    nominal_relative = fw.relative_weights(nominal_weights_series).reindex(fw.codes).to_numpy(dtype=float)

    aggregation_input = next((i for i in spec.inputs if i.kind == "aggregation"), None)
    configs = [dict(nominal_methods["aggregation"])]
    if aggregation_input:
        configs += [with_methods(study, {"aggregation": a}).methods["aggregation"] for a in aggregation_input.alternatives]
    plans = [_aggregation_plan(fw, c) for c in configs]

    base_year = study.base_year
    rebase = bool(nominal_methods.get("rebase")) and base_year is not None
    if base_year is not None:
        rows = pd.Series(np.arange(len(index)), index=index)
        base = rows.xs(base_year, level="year").reindex(index.get_level_values("entity")).to_numpy(dtype=float)
    else:
        base = np.full(len(index), np.nan)
    engine = Engine(fw, matrices, plans, rebase, base, _pairwise_nodes(fw, normalised[0]))

    # the nominal replication, through the same engine as every other replication
    all_rows = _tile("all", index, np.arange(len(index)), base, np.arange(len(fw.codes)), fw, fw.root)
    policy = "missing" if plans[0]["non_positive"] == "missing" else "error"
    values = engine.evaluate(Task(all_rows, 0, 0, nominal_relative[None, :], policy))[:, :, 0].T
    nominal = pd.DataFrame(values, index=index, columns=list(fw.codes))
    target = _resolve_target(study, spec, index, year)
    return Prepared(study, year, spec, engine, index, alternatives, lookup, configs, raw, nominal_relative,
                    nominal, target, {"prepare_seconds": time.perf_counter() - started,
                                      "data_alternatives": len(matrices)})


def _pairwise_nodes(fw: Framework, normalised: pd.DataFrame) -> set:
    """Nodes whose children NumPy sums pairwise in ``Aggregation.run`` (children adjacent in memory).

    ``Aggregation.run`` takes each node's children as ``scores[children].to_numpy()``, whose memory layout
    depends on pandas' blocks; the same frame operations are replayed here (with zeros for the
    aggregates) to learn it, so that the engine adds in the same order and the nominal replication is
    bit-identical to ``score.score``.
    """
    scores = normalised[fw.indicators].copy()
    pairwise = set()
    for level in range(2, fw.max_level + 1):
        for code in fw.level_codes(level):
            values = scores[fw.children(code)].to_numpy(dtype=float)
            row_stride, child_stride = (abs(x) for x in values.strides)
            if values.shape[0] == 1 or (values.shape[1] > 1 and child_stride < row_stride):
                pairwise.add(code)
            scores[code] = np.zeros(len(scores))
    return pairwise


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


def _subtree(fw: Framework, code: str) -> set:
    """``code`` and every node below it."""
    children: dict[str, list[str]] = {}
    for child, parent in zip(fw.table.index, fw.table["parent"]):
        children.setdefault(parent, []).append(child)
    keep, frontier = {code}, [code]
    while frontier:
        kids = children.get(frontier.pop(), [])
        keep.update(kids)
        frontier.extend(kids)
    return keep


def _tile(key: str, index: pd.MultiIndex, rows: np.ndarray, base_all: np.ndarray, out: np.ndarray,
          fw: Framework, top: str) -> Tile:
    """A tile of ``rows`` plus the base-year rows they need; ``out`` node positions returned."""
    rows = np.asarray(rows)
    needed_base = base_all[rows]
    extra = np.setdiff1d(needed_base[~np.isnan(needed_base)].astype(int), rows)
    all_rows = np.concatenate([rows, extra]).astype(int)
    local = {r: i for i, r in enumerate(all_rows)}
    base = np.array([local.get(int(b), -1) if not np.isnan(b) else -1 for b in base_all[all_rows]], dtype=int)
    position = {c: i for i, c in enumerate(fw.codes)}
    needed = frozenset(position[c] for c in _subtree(fw, top))
    return Tile(key, all_rows, base, np.asarray(out, dtype=int), needed)


# ---------------------------------------------------------------------------------------------------
# Replications: choices, weights, chunks, execution
# ---------------------------------------------------------------------------------------------------

def _relative_batch(fw: Framework, raw: np.ndarray) -> np.ndarray:
    r"""Relative weights $\tilde w_j = w_j / \sum_{i \in \mathrm{siblings}(j)} w_i$ for a batch (R × nodes)."""
    parent = fw.table["parent"].reindex(fw.codes).to_numpy(dtype=str)
    groups, inverse = np.unique(parent, return_inverse=True)
    sums = np.zeros((raw.shape[0], len(groups)))
    for g in range(len(groups)):
        sums[:, g] = raw[:, inverse == g].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = raw / sums[:, inverse]
    relative[:, parent == ""] = 1.0
    return relative


def _noise_factors(fw: Framework, inputs: list[Input], counts: list[int], rng) -> list[np.ndarray]:
    """Per weight-noise input, ``count`` factor sets (count × nodes): U(1 − ε, 1 + ε) at its levels, else 1."""
    levels = fw.table["level"].reindex(fw.codes).to_numpy()
    factors = []
    for spec_input, count in zip(inputs, counts):
        table = np.ones((count, len(fw.codes)))
        mask = np.isin(levels, spec_input.levels)
        table[:, mask] = rng.uniform(1 - spec_input.noise, 1 + spec_input.noise, size=(count, int(mask.sum())))
        factors.append(table)
    return factors


@dataclass
class _Design:
    """Per replication: data alternative, aggregation alternative, weighting method, relative weights,
    and the choice index of every input (for the replication table)."""

    data: np.ndarray
    aggregation: np.ndarray
    weights: np.ndarray
    choices: np.ndarray


def _design(prepared: Prepared, choices: np.ndarray, factors: list[np.ndarray]) -> _Design:
    """Translate per-input choice indices (replications × d) into what the engine evaluates."""
    spec, fw = prepared.spec, prepared.study.framework
    n = len(choices)
    data_cols = [k for k, i in enumerate(spec.inputs) if i.kind == "data"]
    if data_cols:
        keys = [tuple(row) for row in choices[:, data_cols]]
        data = np.array([prepared.data_lookup[k] for k in keys], dtype=int)
    else:
        data = np.zeros(n, dtype=int)
    agg_col = next((k for k, i in enumerate(spec.inputs) if i.kind == "aggregation"), None)
    aggregation = choices[:, agg_col] + 1 if agg_col is not None else np.zeros(n, dtype=int)
    wm_col = next((k for k, i in enumerate(spec.inputs) if i.kind == "weight_method"), None)
    method = choices[:, wm_col] + 1 if wm_col is not None else np.zeros(n, dtype=int)
    raw = prepared.raw_weights[data, method].copy()
    noise_cols = [k for k, i in enumerate(spec.inputs) if i.kind == "weight_noise"]
    for table, col in zip(factors, noise_cols):
        raw *= table[choices[:, col]]
    return _Design(data, aggregation, _relative_batch(fw, raw), choices)


def _chunk_size(prepared: Prepared, rows: int, fraction: float = 0.25) -> int:
    """Replications per chunk: C = floor(fraction · memory_mb / (rows · (nodes + 12) · 8 bytes)), in [1, 65536]."""
    nodes = len(prepared.study.framework.codes)
    per_replication = rows * (nodes + 12) * 8
    return int(np.clip(prepared.spec.memory_mb * 2**20 * fraction // per_replication, 1, 1 << 16))


def _order(prepared: Prepared, design: _Design) -> np.ndarray:
    """Replications sorted by (data alternative, aggregation alternative): chunks are runs of this order."""
    key = design.data * len(prepared.aggregation_configs) + design.aggregation
    return np.argsort(key, kind="stable")


def _tasks(prepared: Prepared, design: _Design, tile: Tile):
    """Chunks of replications sharing a data and an aggregation alternative, as slices of ``_order``.

    The chunk size comes from the memory budget: a chunk's arrays (replications × tile rows per node)
    take at most a quarter of ``memory_mb``.
    """
    order = _order(prepared, design)
    n_agg = len(prepared.aggregation_configs)
    key = design.data[order] * n_agg + design.aggregation[order]
    size = _chunk_size(prepared, len(tile.rows))
    tasks, slices = [], []
    starts = np.concatenate([[0], np.flatnonzero(np.diff(key)) + 1, [len(order)]])
    for g0, g1 in zip(starts[:-1], starts[1:]):
        for a in range(g0, g1, size):
            b = min(a + size, g1)
            part = order[a:b]
            tasks.append(Task(tile, int(design.data[part[0]]), int(design.aggregation[part[0]]),
                              design.weights[part]))
            slices.append((a, b))
    return tasks, slices


class _Executor:
    """Runs chunks locally (in order, or on threads) or on a dask.distributed cluster.

    ``submit`` hands the chunks of one tile over and returns at once (on threads or a cluster they start
    running), ``collect`` waits for them and returns the results in chunk order; so the driver can reduce
    one tile while the next one is being evaluated. The engine (the data alternatives) is sent to every
    worker once (``scatter(broadcast=True)``) and every chunk refers to it.
    """

    def __init__(self, engine: Engine, client=None, workers: int = 1):
        """``client``: a dask Client, a scheduler address (a client is opened and closed here) or None."""
        self.engine, self.workers, self.own = engine, workers, False
        self.client = client
        if isinstance(client, str):
            from distributed import Client
            self.client, self.own = Client(client), True
        self.remote = self.pool = None
        if self.client is not None:
            self.remote = self.client.scatter(engine, broadcast=True, hash=False)
        elif workers > 1:
            self.pool = ThreadPoolExecutor(workers)

    def submit(self, tasks: list[Task]):
        """Start the chunks (or, locally without threads, just hold them)."""
        if self.client is not None:
            return self.client.map(_run_task, tasks, engine=self.remote, pure=False)
        if self.pool is not None:
            return [self.pool.submit(self.engine.evaluate, t) for t in tasks]
        return tasks

    def collect(self, handle) -> list[np.ndarray]:
        """The chunks' results, in chunk order."""
        if self.client is not None:
            return self.client.gather(handle)
        if self.pool is not None:
            return [f.result() for f in handle]
        return [self.engine.evaluate(t) for t in handle]

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


def _submit(executor: _Executor, prepared: Prepared, design: _Design, tile: Tile):
    """Hand a tile's chunks to the executor; returns what ``_collect`` needs."""
    tasks, slices = _tasks(prepared, design, tile)
    return executor.submit(tasks), slices, tile


def _collect(executor: _Executor, submitted, runs: int) -> np.ndarray:
    """Values (out nodes × tile rows × replications), replications in ``_order`` (not in draw order:
    the distributions do not care, and per-replication outputs are put back with the order)."""
    handle, slices, tile = submitted
    out = np.empty((len(tile.out), len(tile.rows), runs))
    for (a, b), values in zip(slices, executor.collect(handle)):
        out[:, :, a:b] = values
    return out


def _evaluate(executor: _Executor, prepared: Prepared, design: _Design, tile: Tile) -> np.ndarray:
    """Values (out nodes × tile rows × replications) in the order the replications were drawn."""
    ordered = _collect(executor, _submit(executor, prepared, design, tile), len(design.data))
    values = np.empty_like(ordered)
    values[:, :, _order(prepared, design)] = ordered
    return values


# ---------------------------------------------------------------------------------------------------
# Uncertainty mode
# ---------------------------------------------------------------------------------------------------

@dataclass
class UncertaintyResult:
    """Uncertainty-mode results (tidy pandas tables).

    ``summary``: entity, year, code, level, nominal, mean, median, q05, q95, n (valid replications) and,
    with a base year, change_nominal, change_median, change_q05, change_q95, p_change_positive.
    ``ranks``: entity, year, code, level, nominal_rank, mean_rank, median_rank, q05_rank, q95_rank
    (cross-sections with two or more entities). ``replications``: one row per replication with the
    alternative chosen for every input and the targets (value, change, rank_shift) for ``target``.
    """

    summary: pd.DataFrame
    ranks: pd.DataFrame | None
    replications: pd.DataFrame
    nominal: pd.DataFrame
    target: dict
    spec: Spec
    timings: dict


def _quantiles(values: np.ndarray, q, missing: np.ndarray | None = None) -> np.ndarray:
    r"""Quantiles over the last axis ignoring NaN, by linear interpolation (R's type 7, COINr's default).

    With the $n$ valid values in order, $x_{(1)} \le \dots \le x_{(n)}$, and $h = (n - 1)\,q$:
    $Q(q) = x_{(\lfloor h \rfloor + 1)} + (h - \lfloor h \rfloor)\,(x_{(\lfloor h \rfloor + 2)} - x_{(\lfloor h \rfloor + 1)})$,
    one formula for every cell (NaN when a cell has no valid value). Returns an array (len(q), ...).
    """
    ordered = np.sort(values, axis=-1)                                # NaN sorts last
    total = values.shape[-1]
    missing = np.isnan(values) if missing is None else missing
    n = total - missing.sum(axis=-1)
    out = np.empty((len(q),) + values.shape[:-1])
    for i, level in enumerate(q):                                     # cells with every value present
        h = (total - 1) * level
        a = int(np.floor(h))
        b = min(a + 1, total - 1)
        out[i] = ordered[..., a] + (ordered[..., b] - ordered[..., a]) * (h - a)
    incomplete = n < total
    if incomplete.any():                                              # the others, cell by cell
        part, count = ordered[incomplete], n[incomplete]
        for i, level in enumerate(q):
            h = (np.maximum(count, 1) - 1) * level
            lo = np.floor(h).astype(int)
            hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
            a = np.take_along_axis(part, lo[:, None], axis=-1)[:, 0]
            b = np.take_along_axis(part, hi[:, None], axis=-1)[:, 0]
            out[i][incomplete] = np.where(count > 0, a + (b - a) * (h - lo), np.nan)
    return out


def _mean(values: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    """Mean over the last axis of the valid values (NaN where none)."""
    missing = np.isnan(values) if missing is None else missing
    if not missing.any():
        return values.mean(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(missing, 0.0, values).sum(axis=-1) / (values.shape[-1] - missing.sum(axis=-1))


def _choice_columns(spec: Spec, choices: np.ndarray) -> dict:
    """Per input, the alternative each replication took (labels; the weight-set number for noise)."""
    columns = {}
    for k, spec_input in enumerate(spec.inputs):
        if spec_input.kind == "weight_noise":
            columns[spec_input.name] = choices[:, k]
        else:
            labels = np.array(spec_input.labels, dtype=object)
            columns[spec_input.name] = pd.Categorical(labels[choices[:, k]], categories=list(dict.fromkeys(labels)))
    return columns


def run_uncertainty(prepared: Prepared, client=None, workers: int = 1, runs: int | None = None) -> UncertaintyResult:
    r"""Monte Carlo uncertainty analysis: ``runs`` replications with every uncertain input drawn at once.

    Replication r draws, independently and uniformly, one alternative of every discrete input and, for
    weight noise, a fresh factor $u_{rj} \sim U(1-\varepsilon, 1+\varepsilon)$ for every node j at the
    listed levels, so that $w_{rj} = u_{rj}\,w_j$ before the rescaling within siblings. For every entity e,
    year t and node k the distribution of $Y^{(r)}_{ekt}$ over the replications is summarised by its
    mean, median and 5 % / 95 % quantiles (linear interpolation, R's type 7), next to the nominal value.
    With a base year b the same is given for the change $\Delta^{(r)}_{ekt} = Y^{(r)}_{ekt} - Y^{(r)}_{ekb}$
    together with $\hat P(\Delta > 0) = \frac1{R'}\sum_r 1[\Delta^{(r)} > 0]$ over the $R'$ valid
    replications. With several entities each replication's values are ranked within each year
    (1 = highest, ties share the best rank) and the ranks are summarised likewise; the replication table
    also holds the mean absolute rank shift $\bar R^{(r)} = \frac1M\sum_m |r^{(r)}_m - r^0_m|$ of the
    target node in the target year.
    """
    started = time.perf_counter()
    spec, fw = prepared.spec, prepared.study.framework
    runs = runs or spec.runs
    rng = np.random.default_rng(spec.seed)
    U = rng.random((runs, spec.d))
    sizes = [i.size if i.kind != "weight_noise" else runs for i in spec.inputs]
    choices = choices_from_uniform(U, sizes)
    for k, spec_input in enumerate(spec.inputs):
        if spec_input.kind == "weight_noise":
            choices[:, k] = np.arange(runs)  # UA: every replication its own noise
    noise_inputs = [i for i in spec.inputs if i.kind == "weight_noise"]
    factors = _noise_factors(fw, noise_inputs, [runs] * len(noise_inputs), rng)
    design = _design(prepared, choices, factors)

    index, nominal_all = prepared.index, prepared.nominal.to_numpy()
    position = {c: i for i, c in enumerate(fw.codes)}
    level_of = fw.table["level"].reindex(fw.codes).to_numpy()
    levels = spec.levels or tuple(range(2, fw.max_level + 1))
    out_codes = [c for c in fw.codes if level_of[position[c]] in levels]
    rank_levels = spec.rank_levels or (fw.max_level, max(fw.max_level - 1, 2))
    target = prepared.target
    years = np.asarray(index.get_level_values("year"))
    entities = np.asarray(index.get_level_values("entity"))
    unique_years, unique_entities = np.unique(years), np.unique(entities)
    several = len(unique_entities) > 1
    rank_codes = [c for c in fw.codes if level_of[position[c]] in rank_levels] if several else []
    buffer_codes = rank_codes + ([target["code"]] if several and target["code"] not in rank_codes else [])
    codes = out_codes + [c for c in buffer_codes + [target["code"]] if c not in out_codes]
    codes = list(dict.fromkeys(codes))
    out = np.array([position[c] for c in codes])
    buffer_columns = [codes.index(c) for c in buffer_codes]
    base_year = prepared.study.base_year
    has_base = base_year is not None

    # tiles: blocks of years (all their entities ranked together) cut into blocks of entities
    budget = spec.memory_mb * 2**20
    per_row_tile = runs * len(codes) * 8 * 3           # values, change, a sorted copy
    per_row_rank = runs * max(len(buffer_codes), 1) * 8 * 1.5
    years_per_block = len(unique_years)
    if several:
        years_per_block = int(np.clip(budget / 4 // (per_row_rank * len(unique_entities)), 1, len(unique_years)))
    while True:
        rows_per_entity = years_per_block + (1 if has_base else 0)
        entities_per_block = int(budget / 2 // (per_row_tile * rows_per_entity))
        if entities_per_block >= 1 or years_per_block == 1:
            break
        years_per_block = max(1, years_per_block // 2)
    entities_per_block = int(np.clip(entities_per_block, 1, len(unique_entities)))
    plan = []
    for y0 in range(0, len(unique_years), years_per_block):
        block_years = unique_years[y0:y0 + years_per_block]
        block_rows = np.flatnonzero(np.isin(years, block_years))
        tiles = []
        for e0 in range(0, len(unique_entities), entities_per_block):
            rows = block_rows[np.isin(entities[block_rows], unique_entities[e0:e0 + entities_per_block])]
            tiles.append(_tile(f"ua{y0}:{e0}", index, rows, prepared.engine.base_position, out, fw, fw.root))
        plan.append((block_rows, tiles))

    executor = _Executor(prepared.engine, client, workers)
    order = _order(prepared, design)
    summaries, rank_tables = [], []
    target_values = {"value": np.full(runs, np.nan)}
    if has_base:
        target_values["change"] = np.full(runs, np.nan)
    if several:
        target_values["rank_shift"] = np.full(runs, np.nan)
    sequence = [(block, tile) for block, (_, tiles) in enumerate(plan) for tile in tiles]
    wait = summary_seconds = rank_seconds = 0.0
    try:
        pending = _submit(executor, prepared, design, sequence[0][1])
        buffer = None
        for i, (block, tile) in enumerate(sequence):
            block_rows = plan[block][0]
            if buffer is None and several:
                buffer = np.empty((len(buffer_codes), len(block_rows), runs))
            t0 = time.perf_counter()
            values = _collect(executor, pending, runs)      # (codes, tile rows, runs in _order)
            wait += time.perf_counter() - t0
            if i + 1 < len(sequence):
                pending = _submit(executor, prepared, design, sequence[i + 1][1])
            n_out = int(np.isin(tile.rows, block_rows).sum())             # the tile's own rows come first
            nominal_tile = nominal_all[tile.rows][:, out]
            t0 = time.perf_counter()
            summaries.append(_summarise(values, nominal_tile, tile, n_out, index, codes, out_codes, fw, has_base))
            summary_seconds += time.perf_counter() - t0
            _target_value(values, tile, n_out, index, codes, target, target_values, order)
            if several:
                where = np.searchsorted(block_rows, tile.rows[:n_out])
                buffer[:, where] = values[buffer_columns][:, :n_out]
                if i + 1 == len(sequence) or sequence[i + 1][0] != block:
                    t0 = time.perf_counter()
                    rows_index = index[block_rows]
                    nominal_block = nominal_all[block_rows][:, [position[c] for c in buffer_codes]]
                    rank_tables.append(_rank_summary(buffer, nominal_block, rows_index, buffer_codes, rank_codes, fw))
                    _target_rank_shift(buffer, nominal_block, rows_index, buffer_codes, target, target_values, order)
                    buffer = None
                    rank_seconds += time.perf_counter() - t0
    finally:
        executor.close()
    summary = pd.concat(summaries, ignore_index=True)
    summary = summary.sort_values(["entity", "year"], kind="stable", ignore_index=True)
    ranks = pd.concat(rank_tables, ignore_index=True).sort_values(["entity", "year"], kind="stable", ignore_index=True) \
        if rank_tables else None
    replications = pd.DataFrame({"replication": np.arange(runs), **_choice_columns(spec, choices), **target_values})
    total = time.perf_counter() - started
    return UncertaintyResult(summary, ranks, replications, prepared.nominal, target, spec,
                             {"seconds": total, "waiting_for_chunks_seconds": wait, "summary_seconds": summary_seconds,
                              "rank_seconds": rank_seconds, "replications": runs,
                              "tiles": len(sequence), "replications_per_second": runs / total})


def _summarise(values, nominal_tile, tile, n_out, index, codes, out_codes, fw, has_base) -> pd.DataFrame:
    """Per row of the tile (without the extra base rows) and output node: nominal and the distribution.

    ``values`` is (codes × tile rows × replications); statistics are taken over the replications.
    """
    k = len(out_codes)
    v = values[:k, :n_out]                                                      # (k, rows, runs)
    missing = np.isnan(v)
    q05, q50, q95 = _quantiles(v, [0.05, 0.5, 0.95], missing)
    mean = _mean(v, missing)
    valid = v.shape[-1] - missing.sum(axis=-1)
    rows = index[tile.rows[:n_out]]
    n = n_out * k
    flat = lambda a: a.T.reshape(n)                                             # (k, rows) -> entity-year-code
    table = {"entity": np.repeat(rows.get_level_values("entity"), k), "year": np.repeat(rows.get_level_values("year"), k),
             "code": np.tile(out_codes, n_out),
             "level": np.tile(fw.table["level"].reindex(out_codes).to_numpy(), n_out),
             "nominal": nominal_tile[:n_out, :k].reshape(n), "mean": flat(mean), "median": flat(q50),
             "q05": flat(q05), "q95": flat(q95), "n": flat(valid)}
    if has_base:
        base = tile.base[:n_out]
        has = base >= 0
        change = v - values[:k, np.maximum(base, 0)]
        if not has.all():
            change[:, ~has] = np.nan
        nominal_change = np.where(has[:, None], nominal_tile[:n_out, :k] - nominal_tile[np.maximum(base, 0), :k], np.nan)
        missing = np.isnan(change)
        c05, c50, c95 = _quantiles(change, [0.05, 0.5, 0.95], missing)
        valid_change = change.shape[-1] - missing.sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            positive = (change > 0).sum(axis=-1) / valid_change
        table.update(change_nominal=nominal_change.reshape(n), change_median=flat(c50),
                     change_q05=flat(c05), change_q95=flat(c95), p_change_positive=flat(positive))
    return pd.DataFrame(table)


def _rank_summary(buffer, nominal_rows, rows_index, codes, rank_codes, fw) -> pd.DataFrame:
    """Ranks within each year of every replication for the rank codes, summarised over replications.

    ``buffer`` is (codes × rows of a block of years × replications). Each year's rows are laid out on
    the list of entities (NaN where an entity has no row that year) and ranked in one call.
    """
    years = np.asarray(rows_index.get_level_values("year"))
    entities = np.asarray(rows_index.get_level_values("entity"))
    year_values, year_pos = np.unique(years, return_inverse=True)
    entity_values, entity_pos = np.unique(entities, return_inverse=True)
    columns = [codes.index(c) for c in rank_codes]
    shape = (len(year_values), len(columns), len(entity_values))
    q05, q50, q95, mean = (np.full(shape, np.nan) for _ in range(4))
    nominal = np.full(shape, np.nan)
    nominal[year_pos, :, entity_pos] = nominal_rows[:, columns]
    runs = buffer.shape[2]
    step = max(1, 2**21 // max(len(columns) * len(entity_values), 1))   # replications ranked at a time
    for y in range(len(year_values)):
        sel = np.flatnonzero(year_pos == y)
        ranks = np.empty((len(columns), len(entity_values), runs))           # (C, E, runs)
        for r0 in range(0, runs, step):                                      # blocks that stay in cache
            grid = np.full((len(columns), min(step, runs - r0), len(entity_values)), np.nan)
            grid[:, :, entity_pos[sel]] = buffer[columns][:, sel, r0:r0 + step].transpose(0, 2, 1)
            ranks[:, :, r0:r0 + step] = descending_ranks(grid).transpose(0, 2, 1)
        q05[y], q50[y], q95[y] = _quantiles(ranks, [0.05, 0.5, 0.95])
        mean[y] = _mean(ranks)
    nominal_rank = descending_ranks(nominal)
    y, c, e = np.meshgrid(np.arange(len(year_values)), np.arange(len(columns)), np.arange(len(entity_values)),
                          indexing="ij")
    present = np.zeros(shape, dtype=bool)
    present[year_pos, :, entity_pos] = True
    keep = present.ravel()
    pick = lambda a: a.ravel()[keep]  # noqa: E731
    code_array = np.array(rank_codes, dtype=object)
    table = pd.DataFrame({"entity": entity_values[pick(e)], "year": year_values[pick(y)],
                          "code": code_array[pick(c)],
                          "level": fw.table["level"].reindex(rank_codes).to_numpy()[pick(c)],
                          "nominal_rank": pick(nominal_rank), "mean_rank": pick(mean), "median_rank": pick(q50),
                          "q05_rank": pick(q05), "q95_rank": pick(q95)})
    return table.sort_values(["entity", "year", "code"], key=lambda s: s.map({c: i for i, c in enumerate(rank_codes)})
                             if s.name == "code" else s, ignore_index=True)


def _target_value(values, tile, n_out, index, codes, target, store, order) -> None:
    """The target node's value (and change since the base year) for the target entity and year."""
    rows = index[tile.rows[:n_out]]
    hit = np.flatnonzero((np.asarray(rows.get_level_values("year")) == target["year"])
                         & (np.asarray(rows.get_level_values("entity")) == target["entity"]))
    if not len(hit):
        return
    r, k = hit[0], codes.index(target["code"])
    store["value"][order] = values[k, r]
    if "change" in store and tile.base[r] >= 0:
        store["change"][order] = values[k, r] - values[k, tile.base[r]]


def _target_rank_shift(buffer, nominal_block, rows_index, buffer_codes, target, store, order) -> None:
    """Mean absolute rank shift of the target node in the target year, per replication."""
    in_year = np.flatnonzero(np.asarray(rows_index.get_level_values("year")) == target["year"])
    if not len(in_year):
        return
    k = buffer_codes.index(target["code"])
    store["rank_shift"][order] = mean_abs_rank_shift(descending_ranks(buffer[k][in_year].T),
                                                     descending_ranks(nominal_block[in_year, k]))


# ---------------------------------------------------------------------------------------------------
# Sensitivity mode
# ---------------------------------------------------------------------------------------------------

@dataclass
class SensitivityResult:
    """Sensitivity-mode results.

    ``indices``: target, input, S1, S1_lo, S1_hi, ST, ST_lo, ST_hi (bootstrap interval at ``confidence``).
    ``targets``: per target its nominal value, mean and variance over A and B, and how many design rows
    were used (a row with an undefined output in any block is dropped from all blocks).
    ``replications``: one row per design point (block A, B or AB_i, row j) with every input's choice
    and the target values.
    """

    indices: pd.DataFrame
    targets: pd.DataFrame
    replications: pd.DataFrame
    target: dict
    spec: Spec
    timings: dict


def run_sensitivity(prepared: Prepared, client=None, workers: int = 1, n: int | None = None) -> SensitivityResult:
    r"""Variance-based (Sobol) sensitivity analysis on the Saltelli design, N·(d + 2) replications.

    Every input is driven by one U(0, 1) column of A and B. A discrete input with n alternatives takes
    alternative $\lfloor u\,n \rfloor$. Weight noise follows COINr: K noisy weight sets are drawn up front
    (each weight × U(1 − ε, 1 + ε) at the listed levels) and the input selects set $\lfloor u K \rfloor$, so
    the weights are one discrete factor with K equally likely values. The targets are scalar:
    the target node's value for the target entity and year, its change since the base year (panels),
    and the mean absolute rank shift $\bar R = \frac1M \sum_m |r_m - r^0_m|$ against the nominal ranks
    in the target year (two or more entities). For each target the first-order index $S_i$
    (Saltelli 2010) and total index $S_{Ti}$ (Jansen 1999) are estimated with :func:`sobol_indices`,
    with percentile-bootstrap intervals from :func:`sobol_bootstrap`. Only the rows and nodes that the
    targets need are evaluated (the target node's subtree; the target year, plus base-year rows).
    """
    started = time.perf_counter()
    spec, fw = prepared.spec, prepared.study.framework
    N = n or spec.sobol_n
    d = spec.d
    rng = np.random.default_rng(spec.seed)
    A, B, AB = sobol_sample(N, d, rng, spec.sampler)
    U = np.concatenate([A, B, AB.reshape(d * N, d)])
    sizes = [i.size for i in spec.inputs]
    choices = choices_from_uniform(U, sizes)
    noise_inputs = [i for i in spec.inputs if i.kind == "weight_noise"]
    factors = _noise_factors(fw, noise_inputs, [i.sets for i in noise_inputs], rng)
    design = _design(prepared, choices, factors)

    index, target = prepared.index, prepared.target
    years = np.asarray(index.get_level_values("year"))
    entities = np.asarray(index.get_level_values("entity"))
    in_year = np.flatnonzero(years == target["year"])
    several = len(in_year) > 1
    rows = in_year if several else in_year[entities[in_year] == target["entity"]]
    position = {c: i for i, c in enumerate(fw.codes)}
    k = position[target["code"]]
    tile = _tile("sa", index, rows, prepared.engine.base_position, np.array([k]), fw, target["code"])
    executor = _Executor(prepared.engine, client, workers)
    try:
        t0 = time.perf_counter()
        values = _evaluate(executor, prepared, design, tile)[0].T         # (N(d+2), tile rows)
        evaluate_seconds = time.perf_counter() - t0
    finally:
        executor.close()
    nominal_all = prepared.nominal.to_numpy()[tile.rows, k]
    n_rows = len(rows)
    outputs, nominal_targets = {}, {}
    mine = np.flatnonzero(entities[tile.rows[:n_rows]] == target["entity"])
    if len(mine):
        r = mine[0]
        outputs["value"] = values[:, r]
        nominal_targets["value"] = nominal_all[r]
        if prepared.study.base_year is not None and tile.base[r] >= 0:
            outputs["change"] = values[:, r] - values[:, tile.base[r]]
            nominal_targets["change"] = nominal_all[r] - nominal_all[tile.base[r]]
    if several:
        nominal_ranks = descending_ranks(nominal_all[:n_rows])
        outputs["rank_shift"] = mean_abs_rank_shift(descending_ranks(values[:, :n_rows]), nominal_ranks)
        nominal_targets["rank_shift"] = 0.0
    boot_rng = np.random.default_rng([spec.seed, 1])
    parts, summaries = [], []
    for name, y in outputs.items():
        f_A, f_B, f_AB = y[:N], y[N:2 * N], y[2 * N:].reshape(d, N)
        # a design row j with an undefined output in any block (e.g. a geometric mean of a score <= 0)
        # is left out of every block, so that A, B and the AB_i stay matched (COINr drops NA runs)
        valid = np.isfinite(f_A) & np.isfinite(f_B) & np.isfinite(f_AB).all(axis=0)
        stats = sobol_bootstrap(f_A[valid], f_B[valid], f_AB[:, valid], spec.nboot, boot_rng, spec.confidence)
        parts.append(pd.DataFrame({"target": name, "input": spec.names, **stats}))
        pooled = np.concatenate([f_A[valid], f_B[valid]])
        summaries.append({"target": name, "nominal": nominal_targets[name], "mean": float(pooled.mean()),
                          "variance": float(pooled.var()), "rows_used": int(valid.sum()),
                          "rows_dropped": int((~valid).sum())})
    blocks = np.array(["A"] * N + ["B"] * N + [f"AB_{i + 1}" for i in range(d) for _ in range(N)])
    replications = pd.DataFrame({"block": blocks, "row": np.tile(np.arange(N), d + 2),
                                 **_choice_columns(spec, choices), **outputs})
    total = time.perf_counter() - started
    runs = N * (d + 2)
    return SensitivityResult(pd.concat(parts, ignore_index=True)[["target", "input", "S1", "S1_lo", "S1_hi", "ST",
                                                                  "ST_lo", "ST_hi"]],
                             pd.DataFrame(summaries), replications, target, spec,
                             {"seconds": total, "evaluate_seconds": evaluate_seconds, "replications": runs,
                              "replications_per_second": runs / total})


# ---------------------------------------------------------------------------------------------------
# The write-up
# ---------------------------------------------------------------------------------------------------

def describe(spec: Spec) -> str:
    """Markdown for the methodology write-up: the uncertain inputs, the design and every formula."""
    rows = "\n".join(f"| {i + 1} | {x.name} | {x.kind.replace('_', ' ')} | {x.size if x.kind != 'weight_noise' else '—'} "
                     f"| {x.describe()} |" for i, x in enumerate(spec.inputs))
    d = spec.d
    noise = [x for x in spec.inputs if x.kind == "weight_noise"]
    weight_text = ""
    if noise:
        x = noise[0]
        weight_text = (
            "\n\n**Weights.** The nominal weight $w_j$ of every node at the perturbed levels is multiplied by "
            rf"$u_j \sim U(1-\varepsilon, 1+\varepsilon)$ with $\varepsilon = {x.noise:g}$, independently per "
            r"node, and the weights are rescaled within each group of siblings, "
            r"$\tilde w_j = u_j w_j / \sum_{i \in k} u_i w_i$ (COINr's `get_noisy_weights`). In the uncertainty "
            rf"analysis every replication draws fresh factors; in the sensitivity analysis $K = {x.sets}$ noisy "
            r"weight sets are drawn once and the weights input selects set $\lfloor uK \rfloor$, so that the weights "
            r"are one factor with $K$ equally likely values.")
    return f"""**Uncertain inputs.** {d} modelling choices are varied simultaneously (seed {spec.seed}):

| # | input | kind | alternatives | values |
|---|---|---|---|---|
{rows}

A discrete input with $n$ alternatives is driven by $u \\sim U(0,1)$ and takes alternative
$\\lfloor u\\,n \\rfloor$, so every alternative is equally likely. Each combination of the data-side
choices (imputation, outlier treatment, normalisation …) gives one normalised indicator matrix, computed
once; each replication then re-aggregates it with its own weights and aggregation method.{weight_text}

**Uncertainty analysis.** $R = {spec.runs}$ replications. For every entity $e$, year $t$ and node $k$ the
distribution of the score $Y^{{(r)}}_{{ekt}}$ is summarised by its median and the 5 % and 95 % quantiles
(linear interpolation), beside the nominal value. For a base year $b$ the change
$\\Delta^{{(r)}}_{{ekt}} = Y^{{(r)}}_{{ekt}} - Y^{{(r)}}_{{ekb}}$ is summarised likewise, with
$$\\hat P(\\Delta_{{ekt}} > 0) = \\frac{{1}}{{R'}} \\sum_{{r}} \\mathbf 1\\big[\\Delta^{{(r)}}_{{ekt}} > 0\\big]$$
over the $R'$ replications in which the value is defined (a geometric mean of a non-positive score is not).
With several entities the replications' ranks (1 = highest) give the median rank and its 5–95 % interval,
and the mean absolute rank shift against the nominal ranking is
$$\\bar R^{{(r)}} = \\frac{{1}}{{M}} \\sum_{{m=1}}^{{M}} \\big| r^{{(r)}}_m - r^{{0}}_m \\big|.$$

**Sensitivity analysis.** Two independent $N \\times d$ matrices $A$, $B$ of $U(0,1)$ inputs ($N = {spec.sobol_n}$,
{'scrambled Sobol′ points' if spec.sampler == 'sobol' else 'Monte Carlo'}) and the $d$ matrices $AB_i$
($A$ with column $i$ from $B$) give $N(d+2) = {spec.sobol_n * (d + 2)}$ replications. With
$f$ the target (the index value, its change since the base year, or $\\bar R$), outputs centred on their
mean and $V = \\operatorname{{Var}}[f(A), f(B)]$:
$$S_i = \\frac{{\\frac{{1}}{{N}} \\sum_{{j=1}}^{{N}} f(B)_j \\big(f(AB_i)_j - f(A)_j\\big)}}{{V}} \\quad\\text{{(Saltelli et al. 2010)}},$$
$$S_{{Ti}} = \\frac{{\\frac{{1}}{{2N}} \\sum_{{j=1}}^{{N}} \\big(f(A)_j - f(AB_i)_j\\big)^2}}{{V}} \\quad\\text{{(Jansen 1999)}}.$$
$S_i$ is the share of the output variance due to input $i$ alone, $S_{{Ti}}$ the share in which input $i$
takes part (alone or in interaction); $S_{{Ti}} - S_i$ measures its interactions. The {spec.confidence:.0%}
intervals are percentiles of {spec.nboot} bootstrap resamples of the $N$ rows.
"""


# ---------------------------------------------------------------------------------------------------
# A synthetic study, for benchmarks and tests
# ---------------------------------------------------------------------------------------------------

def synthetic_study(entities: int = 20, indicators: int = 12, years: int = 5, groups: tuple = (3, 2),
                    seed: int = 0, base_year: int | None = None, missing: float = 0.0,
                    methods: dict | None = None, uncertainty: dict | None = None) -> tuple[Study, pd.DataFrame]:
    """An in-memory study (framework, methods, ``uncertainty:`` section) and its tidy input table.

    Indicators are grouped into ``groups[0]`` sub-pillars per pillar and ``groups[1]`` pillars under the
    index (levels 1..4), with random directions and weights; values are log-normal, a share ``missing``
    of them left out. Nothing is written to disk.
    """
    rng = np.random.default_rng(seed)
    per_sub, n_pillars = groups
    n_sub = per_sub * n_pillars
    rows = [dict(code="IDX", level=4, parent="", type="Aggregate", name_en="Index", name_zh="", unit="",
                 direction=np.nan, weight=1.0)]
    for p in range(n_pillars):
        rows.append(dict(code=f"P{p}", level=3, parent="IDX", type="Aggregate", name_en=f"Pillar {p}", name_zh="",
                         unit="", direction=np.nan, weight=1.0))
    for s in range(n_sub):
        rows.append(dict(code=f"S{s}", level=2, parent=f"P{s // per_sub}", type="Aggregate", name_en=f"Sub {s}",
                         name_zh="", unit="", direction=np.nan, weight=float(rng.integers(1, 3))))
    for j in range(indicators):
        rows.append(dict(code=f"x{j}", level=1, parent=f"S{j % n_sub}", type="Indicator", name_en=f"x{j}",
                         name_zh="", unit="u", direction=int(rng.choice([1, 1, -1])), weight=float(rng.integers(1, 4))))
    fw = Framework.from_table(pd.DataFrame(rows))
    first = 2001
    year_list = list(range(first, first + years))
    grid = pd.MultiIndex.from_product([[f"E{e:03d}" for e in range(entities)], year_list, fw.indicators],
                                      names=["entity", "year", "indicator"]).to_frame(index=False)
    grid["value"] = np.exp(rng.normal(0, 0.6, len(grid))) * (1 + 0.03 * (grid["year"] - first))
    if missing:
        grid.loc[rng.random(len(grid)) < missing, "value"] = np.nan
        grid = grid.dropna(subset=["value"])
    grid["unit"], grid["source"], grid["flag"] = "u", "synthetic", ""
    config = {"study": "synthetic", "title": {"en": "Synthetic", "zh": ""},
              "years": {"first": first, "last": year_list[-1]}, "base_year": base_year,
              "methods": methods or {"imputation": {"method": "none"}, "outliers": {"method": "none"},
                                     "normalisation": {"method": "minmax", "scale": [1, 100]},
                                     "weights": {"method": "fixed"},
                                     "aggregation": {"method": "arithmetic", "min_availability": 0.5},
                                     "rebase": base_year is not None},
              "uncertainty": uncertainty or {}}
    return Study("synthetic", None, config, fw), grid.reset_index(drop=True)
