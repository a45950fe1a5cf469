"""Benchmark of ``zoneindex run``: the wall time of each stage, of the figures by format and language, and
of the whole run, for every shipped study.

Run from the project root: ``python benchmarks/pipeline.py [--studies cdht,hdi] [--out-root DIR] [--json FILE]``.

1. The run: ``zoneindex run --study S`` in a fresh process, as a researcher types it (``make run`` is this
   plus make), timed from outside (interpreter start to exit); the time of each stage comes from the
   run's manifest: the study check, each notebook (01_ingest includes the kernel start-up, 04_validate the
   validate figures), the write-up's HTML and its PDF (headless Chromium), the results pack.
2. The run again, in Chinese, over the edition just made (``zoneindex run --study S --lang zh``), as a researcher
   makes the other language's write-up: it replaces the edition and takes over its unchanged figures
   (``zoneindex.figure_reuse``) instead of drawing them again (``--no-again``: leave it out).
3. The figures: the edition's figure set (05_visualize) drawn again in this process, one figure after
   another, with the drawing and each format's saving timed apart, per language. The run itself draws them
   side by side in its worker processes (``zoneindex.workers``), so its 05_visualize takes about this sum
   divided by the number of CPUs.

The load average (1, 5, 15 min) is printed beside each study, the machine being shared. ``--json FILE``
writes every number, to compare with the next change. The same script measures an older checkout:
``PYTHONPATH=/path/to/old/src python benchmarks/pipeline.py`` (its figures part needs ``zoneindex.figures``).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if "PYTHONPATH" not in os.environ:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from zoneindex import paths, pipeline  # noqa: E402
from zoneindex.study import available_studies, load_study  # noqa: E402

FORMATS = ("png", "svg", "pdf")


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run_study(study: str, out_root: Path, lang: str = "en") -> dict:
    """``zoneindex run`` in a fresh process: its wall time and the stage times of its manifest."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "zoneindex", "run", "--no-progress", "--study", study,
                           "--lang", lang, "--out-root", str(out_root)], capture_output=True, text=True,
                          cwd=paths.PROJECT_ROOT)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"zoneindex run --study {study} failed:\n{done.stderr[-3000:]}")
    year = load_study(study).last_year
    manifest = json.loads((out_root / "data/processed" / study / str(year) / "manifest.json").read_text())
    return {"year": year, "wall": round(wall, 3), "stages": manifest["timings_seconds"]}


def time_figures(study: str, year: int, out_root: Path, repeat: int = 1) -> dict:
    """Seconds per language: drawing the figure set (median over the formats' redraws) and saving each format."""
    from zoneindex import figures, plots

    context = getattr(pipeline, "edition_context", None) or pipeline.open_run
    ctx = context(study, year, out_root)
    edition = figures._Edition(ctx)  # the set 05_visualize draws; each figure is redrawn for each format
    folder = Path(tempfile.mkdtemp(prefix="zoneindex-bench-figures-"))
    result = {}
    for lang in ("en", "zh"):
        plots.set_theme(lang)
        totals = dict.fromkeys(("draw", *FORMATS), 0.0)
        for name in edition.figure_names():
            draws = []
            for fmt in FORMATS:
                for _ in range(repeat):
                    started = time.perf_counter()
                    fig, _ = edition.draw(name, lang)
                    draws.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    plots.save_figure(fig, folder / f"{name}_{lang}", formats=(fmt,))
                    totals[fmt] += (time.perf_counter() - started) / repeat
            totals["draw"] += statistics.median(draws)
        result[lang] = {key: round(value, 3) for key, value in totals.items()}
        result[lang]["figures"] = len(edition.figure_names())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", default=",".join(available_studies()))
    parser.add_argument("--out-root", default=None, help="where the runs write (default: a temporary folder)")
    parser.add_argument("--no-figures", action="store_true", help="only the runs")
    parser.add_argument("--no-again", action="store_true", help="no second run (in Chinese, over the edition)")
    parser.add_argument("--json", default=None, help="write every number to this file")
    args = parser.parse_args()
    root = Path(args.out_root or tempfile.mkdtemp(prefix="zoneindex-bench-"))
    results = {}
    for study in args.studies.split(","):
        before = load()
        measured = run_study(study, root)
        measured["load"] = [before, load()]
        print(f"{study} {measured['year']}: run {measured['wall']:.1f} s wall  (load before {before}, after {load()})")
        print("  stages: " + ", ".join(f"{name} {seconds:.2f}" for name, seconds in measured["stages"].items()))
        if not args.no_again:
            before = load()
            again = measured["again_zh"] = run_study(study, root, lang="zh")
            print(f"  run again in Chinese over the edition: {again['wall']:.1f} s wall  (load before {before}, "
                  f"after {load()}); 05_visualize {again['stages'].get('05_visualize', float('nan')):.2f} s")
        if not args.no_figures:
            measured["figures"] = time_figures(study, measured["year"], root)
            for lang, seconds in measured["figures"].items():
                parts = ", ".join(f"{key} {value:.2f}" for key, value in seconds.items() if key != "figures")
                print(f"  figures {lang} ({seconds['figures']}, one after another): {parts} s  (load {load()})")
        results[study] = measured
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
