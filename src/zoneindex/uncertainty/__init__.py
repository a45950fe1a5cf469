r"""Uncertainty and sensitivity analysis over any set of the study's method choices.

A composite index rests on modelling choices (imputation, outlier treatment, normalisation, weights,
aggregation) that are each defensible but not unique. Following Saisana, Saltelli & Tarantola (2005) and
the JRC's COINr ``get_sensitivity()``, this module varies the choices *simultaneously* by Monte Carlo:

* **uncertainty mode** (UA) draws ``runs`` random combinations of choices and reports, per entity, year
  and node, the nominal score, the median and the 5–95 % band of the score on the nominal's scale, of its
  change since the base year and ``P(change > 0)`` (panels), and of the ranks (cross-sections);
* **sensitivity mode** (SA) evaluates the Saltelli design A, B, AB_i (N·(d+2) replications for d uncertain
  inputs) and estimates first-order (Saltelli 2010) and total-order (Jansen 1999) Sobol indices, with
  bootstrap confidence intervals and a convergence check at N/2, for scalar targets: the index value and
  its change since the base year for one entity and year, and the mean absolute rank shift against the
  nominal ranking.

The uncertain inputs are declared in ``study.yaml`` under ``uncertainty:`` (see :func:`parse_spec`)::

    uncertainty:
      runs: 1000            # uncertainty-mode replications
      sobol_n: 256          # base sample N; sensitivity mode evaluates N·(d+2) replications
      seed: 1               # random numbers from numpy.random.default_rng([seed, block]) (design.BLOCK ids a block)
      nboot: 1000           # bootstrap resamples for the confidence intervals of Si and STi
      confidence: 0.9       # width of those intervals (percentile bootstrap: 5 %–95 %)
      sampler: random       # random | sobol (scrambled Sobol' points for the matrices A and B)
      memory_mb: 512        # memory budget: chunks and the exact quantiles' passes are sized from it
      target: {entity: CHN, year: 2018, code: Index}   # Sobol targets (defaults: focus_entity, edition, index)
      levels: [2, 3, 4]     # node levels summarised in uncertainty mode (default: every aggregate)
      rank_levels: [4, 3]   # node levels whose ranks are summarised (default: index and dimensions)
      inputs:               # the uncertain choices, in the order of the Sobol inputs
        weights: {noise: 0.25, levels: [2, 3]}   # fresh factors for every replication
        normalisation: [{method: minmax, scale: [1, 100]}, {method: zscore, mean: 10, sd: 2}]
        aggregation: [{method: arithmetic}, {method: geometric},
                      {chain: true, with: {normalisation: {method: chained_growth}}}]
        outliers: [{method: jrc, winmax: 1}, {method: jrc, winmax: 3}, {method: jrc, winmax: 5}]
        imputation: [{method: none}, {method: mean, group: EurAsia_group}]

**Discrete once, replications as arrays.** Every *data-side* choice (any method step other than weights
and aggregation: imputation, screening, outliers, normalisation, …) changes the normalised indicator
matrix. :func:`prepare` computes each combination of data-side alternatives exactly once, through the
study's own clean stage and normalisation (via ``score.with_methods``). A replication is then only (data
alternative, aggregation alternative, weight vector), and a chunk of replications that share a data and
an aggregation alternative is one call of the scoring kernel (``kernel.aggregate``), the same kernel
``score.score`` runs with one replication: the nominal replication equals ``score.score`` by construction.

**Measuring uncertainty.** Values are summarised on the nominal's scale (a monotone rescaling per
replication and node, :class:`summaries.Rescale`), changes since the base year and ranks as they are;
Sobol estimates come with bootstrap intervals and a convergence check at N/2.

**Speed and memory.** Replication ids are cut into blocks of ``design.BLOCK``; a block's choices and weight
noise come from ``numpy.random.default_rng([seed, block])``, its chunks are sized from ``memory_mb``, and
every chunk is reduced at once into streaming accumulators (``zoneindex.streaming``: exact quantiles, in
several passes over re-evaluated replications when the budget is small, and exact rank counts). No array
has a dimension of replications × cells, and the result does not depend on the chunk size, the memory
budget, the threads or the dask cluster.

Layout: ``spec`` (the YAML section), ``design`` (sampling), ``estimators`` (Sobol), ``engine``
(preparation, chunks, executors), ``summaries`` (uncertainty mode: rescaling, reductions and tables),
``sensitivity`` (sensitivity mode: the Saltelli design and the Sobol table), ``writeup`` (``describe``),
``synthetic`` (a synthetic study).
"""
from zoneindex.uncertainty.design import choices_from_uniform, sobol_sample
from zoneindex.uncertainty.engine import Prepared, _clean, prepare
from zoneindex.uncertainty.estimators import sobol_bootstrap, sobol_indices, sobol_table
from zoneindex.uncertainty.spec import Input, Spec, parse_spec
from zoneindex.uncertainty.sensitivity import SensitivityResult, run_sensitivity
from zoneindex.uncertainty.ranking import descending_ranks, mean_abs_rank_shift
from zoneindex.uncertainty.summaries import Rescale, UncertaintyResult, run_uncertainty
from zoneindex.uncertainty.synthetic import synthetic_study
from zoneindex.uncertainty.writeup import describe

__all__ = ["Input", "Prepared", "Rescale", "SensitivityResult", "Spec", "UncertaintyResult", "_clean",
           "choices_from_uniform", "describe", "descending_ranks", "mean_abs_rank_shift", "parse_spec", "prepare",
           "run_sensitivity", "run_uncertainty", "sobol_bootstrap", "sobol_indices", "sobol_sample", "sobol_table",
           "synthetic_study"]
