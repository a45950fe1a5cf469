"""Generate the illustrative CDHT indicator panel and its source record.

Run from the repository root:  PYTHONPATH=src python scripts/make_cdht_illustrative_panel.py
Inputs: seeds/cdht/{framework,fact_map,illustrative_assumptions}.csv and
data/raw/cdht/cdht_and_context_facts.csv. Output: data/raw/cdht/cdht_illustrative_panel.csv (+ .source.yaml).
"""
from __future__ import annotations

import argparse

import pandas as pd

from zoneindex.illustrative import GENERATOR, make_panel
from zoneindex.paths import PROJECT_ROOT, RAW, SEEDS
from zoneindex.provenance import sha256_file, write_generated_record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate the illustrative CDHT indicator panel.")
    parser.add_argument("--seed", type=int, default=20180)
    parser.add_argument("--first", type=int, default=2016)
    parser.add_argument("--last", type=int, default=2023)
    parser.add_argument("--date", default="2026-11-27",
                        help="generation date for the source record; fixed so that reruns are byte-identical")
    args = parser.parse_args(argv)

    inputs = {name: SEEDS / "cdht" / f"{name}.csv" for name in ("framework", "fact_map", "illustrative_assumptions")}
    inputs["facts"] = RAW / "cdht" / "cdht_and_context_facts.csv"
    frames = {name: pd.read_csv(path, encoding="utf-8") for name, path in inputs.items()}
    panel = make_panel(frames["framework"], frames["facts"], frames["fact_map"], frames["illustrative_assumptions"],
                       range(args.first, args.last + 1), args.seed)

    out = RAW / "cdht" / "cdht_illustrative_panel.csv"
    # %.10g prints whole numbers without a trailing .0 and never adds digits the generator rounded away.
    panel.to_csv(out, index=False, float_format="%.10g", lineterminator="\n")
    public = int((panel["status"] == "public").sum())
    write_generated_record(
        out,
        title=f"CDHT internationalization indicators {args.first}-{args.last}: illustrative panel",
        generator=GENERATOR,
        seed=args.seed,
        retrieved=args.date,
        description=(f"{len(panel)} indicator-year values; {public} are public facts (status public, with their URL), "
                     "all others are generated from seeds/cdht/illustrative_assumptions.csv and are NOT data."),
        inputs={str(path.relative_to(PROJECT_ROOT)): sha256_file(path) for path in inputs.values()},
    )


if __name__ == "__main__":
    main()
