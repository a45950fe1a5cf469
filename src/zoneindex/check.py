"""``zoneindex check``: the whole study definition checked in seconds, before any notebook runs.

In order, each stopping at the first problem with one ``InputError`` (file, key path or row and column,
value, what was expected): study.yaml against the schema (``zoneindex.schema``), the framework table,
every method choice and option, every alternative method set; the source record of every raw file
(complete, matching the file's bytes); the raw files themselves as ingest reads them; the published
references; the entity-name table, entity lists and not-applicable cells against the data (the clean
stage, without its outlier and imputation methods); and the ``uncertainty:`` section as the uncertainty
analysis parses it (``uncertainty.parse_spec``). ``zoneindex run`` runs the same check first.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from zoneindex import clean, ingest, schema
from zoneindex.entry import entry_years
from zoneindex.provenance import read_source_record, record_path
from zoneindex.study import Study, definitions_in_use, load_study


@dataclass
class CheckResult:
    study: Study
    edition: int = 0
    steps: dict = field(default_factory=dict)   # step -> seconds
    facts: list = field(default_factory=list)   # lines of the report: what the study is and what will run
    warnings: list = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(self.steps.values())

    def summary(self) -> str:
        parts = ", ".join(f"{step} {seconds:.2f} s" for step, seconds in self.steps.items())
        lines = [f"{self.study.name}: definition and data checked in {self.seconds:.2f} s ({parts})",
                 *(f"  {fact}" for fact in self.facts)]
        lines += [f"  warning: {w}" for w in self.warnings] or ["  no warnings"]
        return "\n".join(lines)


def _method(spec: dict) -> str:
    spec = dict(spec or {"method": "none"})
    name = spec.pop("method", "")
    return name + (f" ({', '.join(f'{k} {v}' for k, v in spec.items())})" if spec else "")


def describe(result: CheckResult, tidy, cleaned) -> None:
    """The report's facts and warnings: entities, years, indicators per dimension, availability, methods."""
    study, fw = result.study, result.study.framework
    top = fw.max_level - 1
    entities = sorted(cleaned["entity"].unique())
    shown = ", ".join(map(str, entities[:8])) + (" …" if len(entities) > 8 else "")
    base = f", base year {study.base_year}" if study.base_year is not None else ", no base year"
    per = ", ".join(f"{code} {sum(fw.ancestor_at(i, top) == code for i in fw.indicators)}"
                    for code in fw.level_codes(top)) if top >= 2 else ""
    observed = cleaned["value"].notna() & ~cleaned["flag"].str.contains("imputed|not-applicable", regex=True)
    applies = ~cleaned["flag"].str.contains("not-applicable", regex=False)
    by_indicator = observed.groupby(cleaned["indicator"]).sum() / applies.groupby(cleaned["indicator"]).sum()
    result.facts += [
        f"years {study.first_year}-{result.edition} (edition {result.edition}){base}",
        f"entities: {len(entities)} ({shown})" + (" after screening" if study.methods.get("screening") else ""),
        f"framework: {len(fw.indicators)} indicators, {fw.max_level} levels" + (f"; per level-{top} node: {per}"
                                                                                 if per else ""),
        f"availability: {observed.sum() / max(applies.sum(), 1):.1%} of the applicable cells observed; lowest "
        f"indicator {by_indicator.idxmin()} {by_indicator.min():.0%}",
        "methods: " + "; ".join(f"{step} {_method(study.methods.get(step))}" for step in
                                ("imputation", "screening", "outliers", "normalisation", "weights", "aggregation")
                                if study.methods.get(step) or step != "screening")
        + ("; rebased to the base year" if study.methods.get("rebase") else ""),
        f"alternatives: {len(study.config.get('alternatives') or {})}; uncertainty: "
        + ("declared" if study.config.get("uncertainty") else "none"),
    ]
    used = definitions_in_use(study)
    if used:
        result.facts.append("definitions: " + ", ".join(used))
    never = sorted(set(fw.indicators) - set(tidy.loc[tidy["year"] == result.edition, "indicator"]))
    if never:
        result.warnings.append(f"no value in {result.edition} for {len(never)} indicator(s): {', '.join(never[:10])}")
    wide = cleaned.pivot_table(index="indicator", values="value", aggfunc=["min", "max"])
    constant = [c for c in fw.indicators if c in wide.index and wide.loc[c].iloc[0] == wide.loc[c].iloc[1]]
    if constant and study.methods["normalisation"]["method"] in ("minmax", "zscore", "efficacy", "rank",
                                                                 "percentile_rank"):
        result.warnings.append(f"constant indicator(s) {', '.join(constant[:10])}: "
                               f"{study.methods['normalisation']['method']} gives them no score (NaN)")
    if by_indicator.min() < 0.5:
        result.warnings.append(f"indicator(s) observed in less than half of the cells: "
                               f"{', '.join(by_indicator.index[by_indicator < 0.5][:10])}")


def check_study(name: str, year: int | None = None) -> CheckResult:
    """Check study ``name`` for edition ``year`` (default: its latest year); raises InputError."""
    started = time.perf_counter()
    study = load_study(name)
    # the edition: as ingest.newest_year_with_data finds it, reading the raw files once (not twice) for --year latest
    widest = max([study.last_year, *entry_years(study)]) if year is None else int(year)
    tidy, _ = ingest.ingest(study, widest)
    edition = int(tidy["year"].max()) if year is None else widest
    result = CheckResult(study, edition)

    def lap(step: str) -> None:
        nonlocal started
        now = time.perf_counter()
        result.steps[step] = round(now - started, 3)
        started = now

    lap("study.yaml, framework and raw files")
    for spec in [*study.config["data"], *(study.config.get("references") or [])]:
        path = ingest.raw_path(study, spec)
        if spec.get("format") == "entry" and not record_path(path).exists():
            continue  # a new data-entry workbook: its record is written from its about sheet when it is read
        schema.check_source_record(read_source_record(path, verify=False), record_path(path))
    if edition != widest:
        tidy, _ = ingest.ingest(study, edition)
    ingest.require_year_data(tidy, study, edition)  # an edition without its own year's data is refused
    ingest.read_references(study)
    lap("source records and references")
    light = {**study.methods, "imputation": {"method": "none"}, "outliers": {"method": "none"}}
    cleaned, _ = clean.clean_study(study, tidy, range(study.first_year, edition + 1), ingest.read_entities(study),
                                   light)
    lap("entities and cells")
    describe(result, tidy, cleaned)
    if study.config.get("uncertainty"):
        from zoneindex.uncertainty.spec import parse_spec

        parse_spec(study)
        lap("uncertainty")
    return result
