"""Benchmark of the what-if API: seconds to re-score a study after ``zoneindex.load``.

Run from the project root: ``python benchmarks/whatif.py [--out-root DIR]``. For each shipped study it
loads the latest edition under DIR (default: the project root; the raw files when there is none), then
times (median of 7) a re-score with a changed dimension weight and another aggregation method, the
same change a COINr user makes with ``Regen`` (0.086 s on ASEM).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import zoneindex as zi  # noqa: E402
from zoneindex.explore import Explorer  # noqa: E402

AGGREGATION = {"cdht": "geometric", "hdi": "arithmetic", "asem": "harmonic", "provinces": "geometric"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-root", default=None)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    for name, method in AGGREGATION.items():
        start = time.perf_counter()
        session = zi.load(name, out_root=args.out_root)
        loaded = time.perf_counter() - start
        fw = session.study.framework
        dimension = fw.level_codes(fw.max_level - 1)[0]
        options = {"non_positive": "missing"} if method != "arithmetic" else {}
        seconds = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            session.score(weights={dimension: 2.0}, aggregation={"method": method, **options})
            seconds.append(time.perf_counter() - start)
        print(f"{name:10s} load_seconds: {loaded:.3f}  rescore_seconds: {statistics.median(seconds):.4f} "
              f"(median of {args.repeat}; {dimension} weight 2, {method} mean; data: {session.source})")
        explorer = Explorer(session)  # the what-if notebook's change: re-score, compare, draw the PNG
        label = next((c for c in explorer.choices["aggregation"] if c.split()[0] == method), None)
        views = [explorer.view(weights={dimension: 2.0}, aggregation=label) for _ in range(args.repeat)]
        print(f"{'':10s} explorer_seconds_per_change: {statistics.median(v.seconds for v in views):.4f} "
              f"(median of {args.repeat}, drawing included)")


if __name__ == "__main__":
    main()
