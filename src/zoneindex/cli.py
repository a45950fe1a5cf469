"""Command line: ``zoneindex run --study S --year Y [--out-root DIR]`` and ``zoneindex studies``."""
from __future__ import annotations

import argparse
import sys
import time

from zoneindex.errors import InputError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zoneindex", description="Composite indices for development zones.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the five notebooks of one edition and build its write-up")
    run.add_argument("--study", default="cdht", help="study folder under seeds/ (default: cdht)")
    run.add_argument("--year", default="latest", help="edition year (default: the study's latest year)")
    run.add_argument("--out-root", default=None, help="write data/processed, figures and reports under DIR")
    run.add_argument("--lang", default="en", choices=("en", "zh"), help="language of labels and write-up")
    run.add_argument("--no-progress", action="store_true", help="no progress bars (e.g. in logs)")
    commands.add_parser("studies", help="list the studies")
    args = parser.parse_args(argv)

    from zoneindex import pipeline
    from zoneindex.framework import available_studies, load_study

    if args.command == "studies":
        for name in available_studies():
            study = load_study(name)
            print(f"{name:10s} {study.first_year}-{study.last_year}  {study.title['en']}")
        return 0
    started = time.perf_counter()
    try:
        out = pipeline.run(args.study, args.year, args.out_root, args.lang, progress=not args.no_progress)
    except (InputError, RuntimeError) as error:
        print(f"zoneindex: {error}", file=sys.stderr)
        return 1
    print(f"scores:      {out.processed / 'scores.csv'}")
    print(f"manifest:    {out.processed / 'manifest.json'}")
    print(f"figures:     {out.figures}")
    print(f"write-up:    {out.reports / 'methodology.html'} (and .pdf)")
    print(f"results:     {out.reports / 'results.xlsx'}")
    print(f"wall time:   {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
