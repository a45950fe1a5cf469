"""Benchmark of zoneindex.uncertainty: replications per second, peak memory, and the time of 10^6 replications.

Run from the project root: ``python benchmarks/uncertainty.py`` (``--quick`` for a short check, ``--dask`` to
add a dask LocalCluster run, ``--large`` for the large synthetic panel, ``--scaling 10000,100000`` to choose
the sizes of the fresh-process runs, ``--cap-gib 8`` to cap their address space).

1. ASEM (51 countries, 49 indicators, 4 levels) with the four uncertain choices of COINr's vignette:
   JRC outlier treatment with winmax 1..5, min-max [1, 100] vs z-score (mean 10, sd 2), weights ±25 % at
   levels 2 and 3, arithmetic vs geometric mean; the index and every aggregate summarised (exact quantiles of
   the values on the nominal's scale, ranks of the index and the sub-indices). Uncertainty mode and Sobol
   mode (N·(d+2) replications), with 1 thread and with ``--workers`` threads. The one-off preparation (every
   data alternative cleaned and normalised once) is timed separately; the timed runs include everything else
   a user waits for: drawing the design, evaluating every replication, the quantiles, ranks, Sobol estimates
   with bootstrap intervals and the result tables.
2. Memory and scaling: the ASEM uncertainty mode at 10^4, 10^5 and 10^6 replications, each in a fresh process
   whose peak resident set (``resource.getrusage``) is printed with its time; ``--cap-gib`` limits the address
   space of those processes (``RLIMIT_AS``), so that an engine whose memory grows with the replications stops
   with a MemoryError instead of taking the machine down.

The same script measures an older checkout: ``PYTHONPATH=/path/to/old/src python benchmarks/uncertainty.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

if "PYTHONPATH" not in os.environ:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from zoneindex import ingest, uncertainty  # noqa: E402

try:  # noqa: E402
    from zoneindex.study import load_study
except ImportError:     # a checkout from before the study module
    from zoneindex.framework import load_study

ASEM_SPEC = {
    "runs": 10_000, "sobol_n": 1024, "seed": 1, "nboot": 1000, "memory_mb": 512,
    "inputs": {
        "outliers": [{"method": "jrc", "winmax": k} for k in range(1, 6)],
        "normalisation": [{"method": "minmax", "scale": [1, 100]}, {"method": "zscore", "mean": 10, "sd": 2}],
        "weights": {"noise": 0.25, "levels": [2, 3]},
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


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def prepare_asem(spec: dict):
    study = load_study("asem")
    year = study.last_year
    tidy, _ = ingest.ingest(study, year)
    entities = ingest.read_entities(study) if hasattr(ingest, "read_entities") else None
    start = time.perf_counter()
    prepared = uncertainty.prepare(study, year, tidy, spec, entities=entities)
    return study, prepared, time.perf_counter() - start


def asem(runs: int, sobol_n: int, repeat: int, workers: int, use_dask: bool) -> None:
    study, prepared, prep = prepare_asem({**ASEM_SPEC, "runs": runs, "sobol_n": sobol_n})
    d = prepared.spec.d
    print(f"\n== ASEM: {len(prepared.index)} entities, {len(study.framework.indicators)} indicators, d = {d} "
          f"inputs, {prepared.timings['data_alternatives']} data alternatives")
    print(f"preparation_seconds: {prep:.2f}   (one-off: every data alternative cleaned and normalised once)")
    n_sa = sobol_n * (d + 2)
    for w in sorted({1, workers}):
        tag = "1 thread" if w == 1 else f"{w} threads"
        uncertainty.run_uncertainty(prepared, workers=w, runs=min(runs, 2000))     # warm-up
        seconds, ua = timed(lambda: uncertainty.run_uncertainty(prepared, workers=w), repeat)
        report(f"asem uncertainty mode, runs = {runs}, {tag}", runs, seconds)
        seconds, sa = timed(lambda: uncertainty.run_sensitivity(prepared, workers=w), repeat)
        report(f"asem Sobol mode, N = {sobol_n}, N(d+2) = {n_sa}, {tag}", n_sa, seconds)
    print(f"COINr reference: ~0.13 s per replication, i.e. ~{runs * 0.13 / 60:.0f} min for {runs} runs "
          f"and ~{n_sa * 0.13 / 60:.0f} min for the Sobol design")
    print("Sobol indices (mean absolute rank shift of the index):")
    print(sa.indices[sa.indices["target"] == "rank_shift"].round(3).to_string(index=False))
    index = ua.ranks[ua.ranks["code"] == study.framework.root].sort_values("nominal_rank").head(5)
    print("rank intervals, top 5:")
    print(index[["entity", "nominal_rank", "median_rank", "q05_rank", "q95_rank"]].to_string(index=False))
    china = ua.summary[(ua.summary["entity"] == "CHN") & (ua.summary["code"] == study.framework.root)]
    print("CHN index:", china[["nominal", "median", "q05", "q95"]].round(2).to_dict("records"))
    if use_dask:
        from distributed import Client, LocalCluster
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            seconds, remote = timed(lambda: uncertainty.run_uncertainty(prepared, client=client), repeat)
            report(f"asem uncertainty mode, runs = {runs}, dask LocalCluster 2 processes", runs, seconds)
            seconds, _ = timed(lambda: uncertainty.run_sensitivity(prepared, client=client), repeat)
            report(f"asem Sobol mode, N(d+2) = {n_sa}, dask LocalCluster 2 processes", n_sa, seconds)
        assert remote.summary.equals(ua.summary), "dask result differs from the local one"


def fresh(runs: int, workers: int) -> None:
    """One ASEM uncertainty run in this (fresh) process; prints one JSON line."""
    _, prepared, prep = prepare_asem({**ASEM_SPEC, "runs": runs})
    before = rss_mb()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    try:
        result = uncertainty.run_uncertainty(prepared, workers=workers)
        outcome = {"passes": result.timings.get("passes", 1), "chunks": result.timings.get("chunks"),
                   "summary_rows": len(result.summary)}
    except MemoryError as error:
        outcome = {"stopped": f"MemoryError {error}".strip()}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    outcome.update(runs=runs, workers=workers, seconds=round(time.perf_counter() - start, 2),
                   cpu_seconds=round(usage.ru_utime + usage.ru_stime - cpu, 2),
                   peak_rss_mb=round(rss_mb()), rss_after_preparation_mb=round(before))
    print(json.dumps(outcome), flush=True)


def scaling(sizes: list[int], workers: int, cap_gib: float | None) -> None:
    print(f"\n== ASEM uncertainty mode in fresh processes ({workers} thread(s)"
          f"{f', address space capped at {cap_gib:g} GiB' if cap_gib else ''})")

    def limit():
        if cap_gib:
            size = int(cap_gib * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (size, size))

    for runs in sizes:
        command = [sys.executable, __file__, "--fresh", str(runs), "--workers", str(workers)]
        done = subprocess.run(command, capture_output=True, text=True, preexec_fn=limit)
        line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        if done.returncode or not line.startswith("{"):
            tail = (done.stderr.strip().splitlines() or ["?"])[-1]
            print(f"runs = {runs}: stopped (exit {done.returncode}): {tail}")
            continue
        row = json.loads(line)
        print(f"runs = {runs}: {row['seconds']:.1f} s ({row['cpu_seconds']:.1f} s of CPU), "
              f"{runs / row['seconds']:.0f} replications/s, "
              f"peak_rss_mb {row['peak_rss_mb']} ({row['rss_after_preparation_mb']} MB after preparation), "
              f"{row.get('passes', '?')} pass(es)" + (f", {row['stopped']}" if "stopped" in row else ""))


def large(runs: int, workers: int) -> None:
    spec = {**LARGE_SPEC, "runs": runs}
    start = time.perf_counter()
    study, tidy = uncertainty.synthetic_study(entities=200, indicators=60, years=20, groups=(4, 3), seed=1,
                                              base_year=2010, missing=0.02, uncertainty=spec)
    prepared = uncertainty.prepare(study, None, tidy)
    print(f"\n== large synthetic: 200 entities × 60 indicators × 20 years ({len(prepared.index)} rows), {runs} "
          f"replications, memory budget {spec['memory_mb']} MB; preparation {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    result = uncertainty.run_uncertainty(prepared, workers=workers)
    seconds = time.perf_counter() - start
    print(f"replications_per_second: {runs / seconds:.0f}   (large synthetic, uncertainty mode, {seconds:.1f} s, "
          f"{result.timings.get('passes', 1)} pass(es)); peak_rss_mb: {rss_mb():.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small runs, one repeat, no 10^6 run")
    parser.add_argument("--dask", action="store_true", help="also run on a dask LocalCluster (2 processes)")
    parser.add_argument("--large", action="store_true", help="also run the large synthetic panel")
    parser.add_argument("--workers", type=int, default=2, help="threads for the threaded runs (default 2)")
    parser.add_argument("--scaling", default=None, help="replications of the fresh-process runs, e.g. 10000,100000")
    parser.add_argument("--cap-gib", type=float, default=None, help="address-space cap of the fresh processes")
    parser.add_argument("--fresh", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fresh:
        fresh(args.fresh, args.workers)
        return
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    print(f"python {platform.python_version()}, numpy {__import__('numpy').__version__}, "
          f"{os.cpu_count()} CPUs, load average {load[0]:.1f}, zoneindex from {Path(uncertainty.__file__).parent}")
    if args.quick:
        asem(2000, 128, 1, args.workers, args.dask)
    else:
        asem(ASEM_SPEC["runs"], ASEM_SPEC["sobol_n"], 9, args.workers, args.dask)
    sizes = [int(s) for s in args.scaling.split(",")] if args.scaling else \
        ([10_000] if args.quick else [10_000, 100_000, 1_000_000])
    sys.stdout.flush()
    scaling(sizes, args.workers, args.cap_gib)
    if args.large:
        large(500 if args.quick else LARGE_SPEC["runs"], 1)


if __name__ == "__main__":
    main()
