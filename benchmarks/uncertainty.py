"""Benchmark of zoneindex.uncertainty: replications per second, against COINr's ~0.13 s per replication.

Run from the project root: ``python benchmarks/uncertainty.py`` (``--quick`` for a short check,
``--skip-large`` to leave out the large synthetic case, ``--dask`` to add a dask LocalCluster run).

1. ASEM (51 countries, 49 indicators, 4 levels) with four uncertain choices, as in COINr's vignette:
   JRC outlier treatment with winmax 1..5, min-max [1, 100] vs z-score (mean 10, sd 2), weights ±25 % at
   levels 2 and 3, arithmetic vs geometric mean. Uncertainty mode and Sobol mode (N·(d+2) replications).
   The one-off preparation (every data alternative cleaned and normalised once) is timed separately;
   the timed runs include everything else a user waits for: drawing the design, evaluating every
   replication, the quantiles, ranks, Sobol estimates with bootstrap intervals and the result tables.
2. A large synthetic panel: 200 entities × 60 indicators × 20 years, 10,000 replications, uncertainty
   mode (per-cell distributions of every aggregate, changes since the base year, ranks per year), run in
   a fresh process whose peak resident memory (resource.getrusage) is printed; ``--tracemalloc`` adds
   the traced peak of the run itself (NumPy reports its buffers to tracemalloc), at some cost in speed.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from zoneindex import ingest, uncertainty  # noqa: E402
from zoneindex.framework import load_study  # noqa: E402

ASEM_SPEC = {
    "runs": 10_000, "sobol_n": 1024, "seed": 1, "nboot": 1000,
    "inputs": {
        "outliers": [{"method": "jrc", "winmax": k} for k in range(1, 6)],
        "normalisation": [{"method": "minmax", "scale": [1, 100]}, {"method": "zscore", "mean": 10, "sd": 2}],
        "weights": {"noise": 0.25, "levels": [2, 3], "sets": 100},
        "aggregation": [{"method": "arithmetic"}, {"method": "geometric"}],
    },
}
LARGE_SPEC = {
    "runs": 10_000, "seed": 1, "memory_mb": 1024,
    "inputs": {
        "imputation": [{"method": "none"}, {"method": "mean"}],
        "normalisation": [{"method": "minmax", "scale": [1, 100]}, {"method": "zscore", "mean": 10, "sd": 2}],
        "weights": {"noise": 0.25, "levels": [1, 2, 3]},
        "aggregation": [{"method": "arithmetic"}, {"method": "geometric"}],
    },
}


def timed(function, repeat: int):
    """Run ``function`` ``repeat`` times; the seconds of each run and the last result."""
    seconds, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def report(label: str, replications: int, seconds: list[float]) -> None:
    best, median = min(seconds), statistics.median(seconds)
    print(f"{label}: {replications} replications, best {best:.3f} s, median {median:.3f} s of {len(seconds)}")
    print(f"replications_per_second: {replications / median:.0f}   ({label}, median run)")
    print(f"replications_per_second: {replications / best:.0f}   ({label}, best run)")


def asem(runs: int, sobol_n: int, repeat: int, workers: int, use_dask: bool) -> None:
    study = load_study("asem")
    year = study.last_year
    start = time.perf_counter()
    tidy, _ = ingest.ingest(study, year)
    entities = ingest.read_entities(study) if hasattr(ingest, "read_entities") else None
    read = time.perf_counter() - start
    spec = {**ASEM_SPEC, "runs": runs, "sobol_n": sobol_n}
    start = time.perf_counter()
    prepared = uncertainty.prepare(study, year, tidy, spec, entities=entities)
    prep = time.perf_counter() - start
    d = prepared.spec.d
    print(f"\n== ASEM: {len(prepared.index)} entities, {len(study.framework.indicators)} indicators, d = {d} "
          f"inputs, {prepared.timings['data_alternatives']} data alternatives")
    print(f"preparation_seconds: {prep:.2f}   (one-off: every data alternative cleaned and normalised once; "
          f"reading the raw files {read:.2f} s before that)")
    for w in sorted({1, workers}):
        tag = "1 thread" if w == 1 else f"{w} threads"
        seconds, ua = timed(lambda: uncertainty.run_uncertainty(prepared, workers=w), repeat)
        report(f"asem uncertainty mode, runs = {runs}, {tag}", runs, seconds)
        n_sa = sobol_n * (d + 2)
        seconds, sa = timed(lambda: uncertainty.run_sensitivity(prepared, workers=w), repeat)
        report(f"asem Sobol mode, N = {sobol_n}, N(d+2) = {n_sa}, {tag}", n_sa, seconds)
    print(f"COINr reference: ~0.13 s per replication, i.e. ~{runs * 0.13 / 60:.0f} min for {runs} runs "
          f"and ~{n_sa * 0.13 / 60:.0f} min for the Sobol design")
    print("Sobol indices (mean absolute rank shift of the index):")
    print(sa.indices[sa.indices["target"] == "rank_shift"].round(3).to_string(index=False))
    index = ua.ranks[ua.ranks["code"] == study.framework.root].sort_values("nominal_rank").head(5)
    print("rank intervals, top 5:")
    print(index[["entity", "nominal_rank", "median_rank", "q05_rank", "q95_rank"]].to_string(index=False))
    if use_dask:
        from distributed import Client, LocalCluster
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            seconds, remote = timed(lambda: uncertainty.run_uncertainty(prepared, client=client), repeat)
            report(f"asem uncertainty mode, runs = {runs}, dask LocalCluster 2 processes", runs, seconds)
            seconds, _ = timed(lambda: uncertainty.run_sensitivity(prepared, client=client), repeat)
            report(f"asem Sobol mode, N(d+2) = {n_sa}, dask LocalCluster 2 processes", n_sa, seconds)
        assert remote.summary.equals(ua.summary), "dask result differs from the local one"


def large(runs: int, workers: int, traced: bool) -> None:
    """The large case; run in a fresh process (see ``main``) so that its peak RSS is its own."""
    spec = {**LARGE_SPEC, "runs": runs}
    start = time.perf_counter()
    study, tidy = uncertainty.synthetic_study(entities=200, indicators=60, years=20, groups=(4, 3), seed=1,
                                              base_year=2010, missing=0.02, uncertainty=spec)
    prepared = uncertainty.prepare(study, None, tidy)
    prep = time.perf_counter() - start
    rows = len(prepared.index)
    print(f"\n== large synthetic: 200 entities × 60 indicators × 20 years ({rows} rows, "
          f"{len(study.framework.codes) - 60} aggregates), {runs} replications, d = {prepared.spec.d}, "
          f"{prepared.timings['data_alternatives']} data alternatives, memory budget {spec['memory_mb']} MB")
    print(f"preparation_seconds: {prep:.2f}")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    result = uncertainty.run_uncertainty(prepared, workers=workers)
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"large uncertainty mode: {runs} replications in {seconds:.1f} s ({result.timings['tiles']} tiles, "
          f"{workers} thread(s)); {len(result.summary)} summary rows, {len(result.ranks)} rank rows")
    print(f"replications_per_second: {runs / seconds:.0f}   (large synthetic, uncertainty mode"
          f"{', slowed by tracemalloc' if traced else ''})")
    print(f"peak_rss_mb: {rss:.0f}   (peak resident set of this process; {rss_before:.0f} MB after preparation)")
    if traced:
        print(f"peak_memory_mb: {tracemalloc.get_traced_memory()[1] / 2**20:.0f}   (tracemalloc peak during the run)")
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small runs, one repeat")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--large-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tracemalloc", action="store_true", help="also trace the large run's peak (slower)")
    parser.add_argument("--dask", action="store_true", help="also run on a dask LocalCluster (2 processes)")
    parser.add_argument("--workers", type=int, default=2, help="threads for the threaded ASEM runs (default 2)")
    parser.add_argument("--large-workers", type=int, default=1,
                        help="threads for the large case (default 1: there the driver's quantiles and ranks "
                             "compete with evaluation threads for the two cores)")
    args = parser.parse_args()
    if args.large_only:
        large(args.runs, args.large_workers, args.tracemalloc)
        return
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    print(f"python {platform.python_version()}, numpy {__import__('numpy').__version__}, "
          f"{os.cpu_count()} CPUs, load average {load[0]:.1f}")
    if args.quick:
        asem(1000, 128, 1, args.workers, args.dask)
    else:
        asem(ASEM_SPEC["runs"], ASEM_SPEC["sobol_n"], 5, args.workers, args.dask)
    if not args.skip_large:
        runs = 500 if args.quick else LARGE_SPEC["runs"]
        command = [sys.executable, __file__, "--large-only", "--runs", str(runs), "--large-workers",
                   str(args.large_workers)]
        sys.stdout.flush()
        subprocess.run(command + (["--tracemalloc"] if args.tracemalloc else []), check=True)


if __name__ == "__main__":
    main()
