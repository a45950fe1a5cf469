"""Command line: ``zoneindex run | check | new-study | new-year | publish | studies | schema | ahp-survey`` (``--help`` on each)."""
from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

from zoneindex.errors import InputError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zoneindex", description="Composite indices for development zones.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the six notebooks of one edition and build its write-up")
    run.add_argument("--study", default="cdht", help="study folder under seeds/ (default: cdht)")
    run.add_argument("--year", default="latest", help="edition year (default: latest, the newest year with data)")
    run.add_argument("--out-root", default=None, help="write data/processed, figures and reports under DIR")
    run.add_argument("--lang", default="en", choices=("en", "zh"), help="language of labels and write-up")
    run.add_argument("--no-progress", action="store_true", help="no progress bars (e.g. in logs)")
    run.add_argument("--force", action="store_true",
                     help="recompute a published edition (the published one is kept aside)")
    publish_parser = commands.add_parser("publish", help="freeze an edition: later runs may not replace it")
    new_year_parser = commands.add_parser("new-year", help="write the data-entry workbook for a new year")
    for command in (publish_parser, new_year_parser):
        command.add_argument("--study", default="cdht")
        command.add_argument("--year", required=True, help="the year (a whole number such as 2024)")
        command.add_argument("--out-root", default=None)
    new_year_parser.add_argument("--force", action="store_true",
                                 help="write a new workbook over an existing one for the year (kept as a backup)")
    commands.add_parser("studies", help="list the studies")
    check_parser = commands.add_parser("check", help="check a study definition and its raw files (seconds)")
    check_parser.add_argument("--study", default="cdht", help="study folder under seeds/ (default: cdht)")
    check_parser.add_argument("--year", default="latest", help="edition year (default: latest, the newest year with "
                                                               "data)")
    scaffold = commands.add_parser("new-study", help="write a first study (study.yaml, framework.csv, source "
                                                     "record) from a publisher's CSV or Excel file")
    scaffold.add_argument("name", help="the new study's folder name under seeds/")
    scaffold.add_argument("--from", dest="source", required=True, help="the publisher's file (long or wide)")
    survey_parser = commands.add_parser("ahp-survey", help="write the bilingual expert questionnaire of expert-panel "
                                                           "AHP (weights: {method: ahp_panel})")
    survey_parser.add_argument("--study", default="cdht", help="study folder under seeds/ (default: cdht)")
    survey_parser.add_argument("--out", default=None, help="the workbook to write (default: ahp_survey_<study>.xlsx "
                                                           "in the current folder)")
    survey_parser.add_argument("--lang", default="zh", choices=("zh", "en"), help="language listed first")
    record_parser = commands.add_parser("record", help="write the source record (<file>.source.yaml: publisher, "
                                                       "address, date, licence, sha256) of a new raw file")
    record_parser.add_argument("file", help="the raw file, e.g. a filled questionnaire in data/raw/S/ahp/")
    for option, meaning in (("title", "what the file holds"), ("publisher", "who made it (an expert, an agency)"),
                            ("url", "where it came from (an address, or how it was received)"),
                            ("retrieved", "the date it was received, YYYY-MM-DD"), ("licence", "its licence")):
        record_parser.add_argument(f"--{option}", required=True, help=meaning)
    record_parser.add_argument("--illustrative", action="store_true", help="generated, not real data")
    schema_parser = commands.add_parser("schema", help="print the study.yaml reference (Markdown) or JSON Schema")
    schema_parser.add_argument("--markdown", action="store_true", help="docs/study-reference.md (the default)")
    schema_parser.add_argument("--json", action="store_true", help="docs/study.schema.json")
    args = parser.parse_args(argv)
    try:
        return _command(args)
    except (InputError, RuntimeError) as error:
        print(f"zoneindex: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as interrupted:  # Ctrl-C, or SIGTERM during a run (zoneindex.runguard)
        import logging

        # the interrupted notebook client's pending tasks fail as the kernel goes: not news, and no traceback
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        print(f"zoneindex: interrupted{f' ({interrupted})' if str(interrupted) else ''}: the last good edition "
              "was left as it was", file=sys.stderr)
        return 130
    except OSError as error:  # a full disk, a folder that cannot be written: one line, no traceback
        print(f"zoneindex: {os_problem(error)}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the output was cut short by its reader (| head): nothing to report
        return 0
    except Exception as error:  # a fault of the program, not of the input: still one message, no traceback
        if os.environ.get("ZONEINDEX_DEBUG"):
            raise
        print(f"zoneindex: internal error ({type(error).__name__}: {error}); set ZONEINDEX_DEBUG=1 for the "
              "traceback", file=sys.stderr)
        return 1


def os_problem(error: OSError) -> str:
    import errno

    where = f": {error.filename}" if error.filename else ""
    if error.errno == errno.ENOSPC:
        return (f"no space left on the device{where}: free some space and run again (a failed run leaves the last "
                "good edition as it was)")
    return f"{error.strerror or error}{where}"


def parse_year(text: str, latest: bool = True) -> int | str:
    """A year typed on the command line (or ``latest``), else one line saying what was expected."""
    text = str(text).strip()
    if latest and text == "latest":
        return text
    if not text.isdigit() or not 1000 <= int(text) <= 9999:
        raise InputError(f"--year {text!r} is not a year", expected="a year such as 2024" +
                         (", or latest (the newest year with data)" if latest else ""))
    return int(text)


def usable_out_root(out_root: str | None) -> None:
    """Refuse an out-root that is a file or cannot be written, before any work."""
    import tempfile

    from zoneindex import paths

    root = Path(out_root) if out_root else paths.default_out_root()
    if root.exists() and not root.is_dir():
        raise InputError(f"the out-root {root} is a file, not a folder", expected="a folder (it is created if "
                                                                                  "missing)")
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as error:
        raise InputError(f"the out-root {root} cannot be written ({error.strerror or error})",
                         expected="a folder this user may write to") from None


def _command(args) -> int:
    if args.command == "run":  # the notebooks' kernel first: it boots (seconds) while the study is loaded and checked
        from zoneindex.runner import notebook_kernel

        with notebook_kernel() as kernel:
            return _dispatch(args, kernel)
    return _dispatch(args)


def _dispatch(args, kernel=None) -> int:
    # imported after parsing, so that --help and usage errors answer at once, without loading pandas
    from zoneindex.study import available_studies, load_study

    if getattr(args, "year", None) is not None:
        args.year = parse_year(args.year, latest=args.command in ("run", "check"))
    if getattr(args, "out_root", None) is not None or args.command in ("run", "new-year"):
        usable_out_root(getattr(args, "out_root", None))

    if args.command == "studies":
        for name in available_studies():
            study = load_study(name)
            print(f"{name:10s} {study.first_year}-{study.last_year}  {study.title['en']}")
        return 0
    if args.command == "schema":
        from zoneindex.schema.reference import json_schema_text, markdown_reference

        print(json_schema_text() if args.json else markdown_reference(), end="")
        return 0
    if args.command == "new-study":
        from zoneindex.scaffold import new_study

        written = new_study(args.name, Path(args.source))
        print("\n".join(f"{what:10s} {path}" for what, path in written.items())
              + f"\nnext: complete the source record and framework.csv, then zoneindex check --study {args.name}")
        return 0
    if args.command == "check":
        from zoneindex.check import check_study

        print(check_study(args.study, None if args.year == "latest" else int(args.year)).summary())
        return 0
    if args.command == "publish":
        from zoneindex import editions, paths

        out = paths.run_paths(args.study, args.year, args.out_root)
        record = editions.published_record(out)
        if record is not None:
            print(f"edition {args.year} of {args.study} is already published (on {record['published']}); its record "
                  f"was left as it was: {out.reports / editions.PUBLISHED}")
            return 0
        marker = editions.publish(out)
        print(f"published: {marker}")
        return 0
    if args.command == "ahp-survey":
        from zoneindex import paths
        from zoneindex.ahp_survey import write_survey

        study = load_study(args.study)
        out = write_survey(study.framework, Path(args.out or f"ahp_survey_{args.study}.xlsx"), study.title, args.lang)
        print(f"questionnaire: {out}\nhand one copy to each expert; put each filled workbook, with its .source.yaml, "
              f"in {paths.RAW / args.study / 'ahp'}/ (zoneindex record writes the .source.yaml) and set weights: {{method: ahp_panel}} in study.yaml")
        return 0
    if args.command == "record":
        from zoneindex.provenance import record_path, write_source_record

        raw = Path(args.file)
        if not raw.is_file():
            raise InputError("no such raw file", file=raw)
        if record_path(raw).exists():  # raw data is immutable: a changed file is a new file with a new record
            raise InputError("the file has a source record already", file=record_path(raw))
        try:
            date.fromisoformat(args.retrieved)
        except ValueError:
            raise InputError("not a date", column="--retrieved", value=args.retrieved, expected="YYYY-MM-DD") from None
        written = write_source_record(raw, title=args.title, publisher=args.publisher, url=args.url,
                                      retrieved=args.retrieved, licence=args.licence, illustrative=args.illustrative)
        print(f"source record: {written}")
        return 0
    if args.command == "new-year":
        print(new_year(args.study, args.year, args.out_root, args.force))
        return 0
    from zoneindex import pipeline  # the runner's imports (papermill, nbconvert …) only when running

    started = time.perf_counter()
    out = pipeline.run(args.study, args.year, args.out_root, args.lang, progress=not args.no_progress,
                       force=args.force, kernel=kernel)
    print(f"scores:      {out.processed / 'scores.csv'}")
    print(f"manifest:    {out.processed / 'manifest.json'}")
    print(f"figures:     {out.figures}")
    print(f"write-up:    {out.reports / 'methodology.html'} (and .pdf)")
    print(f"results:     {out.reports / 'results.xlsx'}")
    print(f"wall time:   {time.perf_counter() - started:.1f} s")
    return 0


def new_year(study_name: str, year: int, out_root: str | None, force: bool = False) -> str:
    """Write the data-entry workbook for ``year`` and say where it is and where to move it once filled."""
    import shlex

    from zoneindex import newyear, paths

    workbook, backups = newyear.new_year(study_name, year, out_root, force)
    raw = paths.RAW / study_name
    lines = [f"data-entry workbook: {workbook}"]
    lines += [f"the workbook that was there is kept as {backup}" for backup in backups]
    lines += ["fill in sheet 'data' (the yellow column 'value') and sheet 'about', save it, then move it to where "
              "the run reads it:", f"  mv {shlex.quote(str(workbook))} {shlex.quote(str(raw))}/",
              "(saved as .ods or .xls instead: move that file, under the same name)",
              f"then run: zoneindex run --study {study_name} --year {year}"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
