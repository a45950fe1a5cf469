"""Command line: ``zoneindex run | new-year | publish | studies`` (``zoneindex <command> --help``)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

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
    run.add_argument("--force", action="store_true",
                     help="recompute a published edition (the published one is kept aside)")
    publish_parser = commands.add_parser("publish", help="freeze an edition: later runs may not replace it")
    new_year_parser = commands.add_parser("new-year", help="write the data-entry workbook for a new year")
    for command in (publish_parser, new_year_parser):
        command.add_argument("--study", default="cdht")
        command.add_argument("--year", type=int, required=True)
        command.add_argument("--out-root", default=None)
    commands.add_parser("studies", help="list the studies")
    args = parser.parse_args(argv)

    from zoneindex import editions, paths, pipeline
    from zoneindex.framework import available_studies, load_study

    if args.command == "studies":
        for name in available_studies():
            study = load_study(name)
            print(f"{name:10s} {study.first_year}-{study.last_year}  {study.title['en']}")
        return 0
    try:
        if args.command == "publish":
            marker = editions.publish(paths.run_paths(args.study, args.year, args.out_root))
            print(f"published: {marker}")
            return 0
        if args.command == "new-year":
            workbook = new_year(args.study, args.year, args.out_root)
            print(f"data-entry workbook: {workbook}\nfill it in, save it into "
                  f"data/raw/{args.study}/ and run: zoneindex run --study {args.study} --year {args.year}")
            return 0
        started = time.perf_counter()
        out = pipeline.run(args.study, args.year, args.out_root, args.lang, progress=not args.no_progress,
                           force=args.force)
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


def new_year(study_name: str, year: int, out_root: str | None) -> Path:
    """The data-entry workbook for ``year``, with every earlier year's values for context."""
    from zoneindex import editions, ingest, paths
    from zoneindex.framework import load_study

    study = load_study(study_name)
    if year <= study.first_year:
        raise InputError("a new year must follow the study's first year", column="year", value=year,
                         expected=f"> {study.first_year}")
    history, _ = ingest.ingest(study, year - 1)
    root = paths.run_paths(study_name, year, out_root).out_root
    return editions.new_year_workbook(study, year, history,
                                      root / "data" / "entry" / study_name / editions.entry_file_name(study_name, year))


if __name__ == "__main__":
    sys.exit(main())
