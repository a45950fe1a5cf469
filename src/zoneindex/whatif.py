"""What-if in a notebook cell: re-score a study with other method choices in a fraction of a second.

    import zoneindex as zi
    s = zi.load("cdht")                 # the study and the clean data of its latest edition, loaded once
    base = s.score()                    # the nominal result: scores, contributions, weights
    alt = s.score(weights={"D3": 2.0}, aggregation={"method": "geometric"})
    zi.compare(base, alt)               # per node: value (and rank) before, after, shift

``score`` is the scoring kernel on cached data: the ingested and clean tables of the latest good edition
(or, when no edition exists yet, the raw files read and cleaned in memory). A change of normalisation,
weights or aggregation reuses the clean table; a change of a clean-stage method (imputation, outliers,
screening, denominators) re-cleans the ingested table once and keeps it for the next call. Nothing is
written to disk.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from zoneindex import clean as cleaning, ingest, score as scoring
from zoneindex.editions import latest_edition
from zoneindex.errors import InputError
from zoneindex.study import Study, check_method_names, load_study
from zoneindex.tables import read_stage_table
from zoneindex.weight import check_node_weights

SCORE_STEPS = ("normalisation", "weights", "aggregation", "rebase")  # reuse the clean table


@dataclass
class Result:
    """One method set's scores (long: entity, year, code, level, value, illustrative), contributions (with a
    base year), weights, the wide matrix of node scores, and the method choices that made them."""

    scores: pd.DataFrame
    contributions: pd.DataFrame | None
    weights: pd.DataFrame
    wide: pd.DataFrame
    methods: dict
    study: Study = field(repr=False)

    @property
    def year(self) -> int:
        return int(self.scores["year"].max())

    def alternative_entry(self, name: str) -> str:
        """The method choices that differ from the study's, as an ``alternatives:`` line for study.yaml."""
        changed = {step: spec for step, spec in self.methods.items() if self.study.methods.get(step) != spec}
        return f"{name}: {json.dumps(changed, ensure_ascii=False)}"


class WhatIf:
    """A study with its ingested and clean data in memory, ready to be re-scored (see :func:`load`)."""

    def __init__(self, study: Study, year: int, ingested: pd.DataFrame, entities: pd.DataFrame | None,
                 cleaned: pd.DataFrame, source: str):
        self.study, self.year, self.source = study, year, source
        self.ingested, self.entities = ingested, entities
        self._clean = {self._clean_key(study.methods): cleaned}

    def __repr__(self) -> str:
        return f"WhatIf({self.study.name!r}, {self.year}, data: {self.source})"

    @staticmethod
    def _clean_key(methods: dict) -> str:
        return json.dumps({k: v for k, v in methods.items() if k not in SCORE_STEPS}, sort_keys=True, default=str)

    def score(self, **overrides) -> Result:
        """Re-score with method choices replaced step by step, as ``alternatives:`` in study.yaml are.

        Each keyword is a method step of the study (``normalisation``, ``weights``, ``aggregation``,
        ``imputation``, ``outliers``, ``screening`` …) with its settings, e.g.
        ``aggregation={"method": "geometric"}``. ``weights`` may also name nodes: ``weights={"D3": 2.0}``
        sets the raw weight of node D3 (siblings are rescaled to sum to 1), alone or beside a ``method``.
        """
        fw = self.study.framework
        unknown = sorted(set(overrides) - set(self.study.methods) - {"imputation", "outliers", "screening"})
        if unknown:
            raise InputError("not a method step of the study", column="score()", value=unknown,
                             expected=f"some of {sorted(self.study.methods)}")
        node_weights = {}
        if isinstance(overrides.get("weights"), dict):
            spec = dict(overrides["weights"])
            node_weights = {code: spec.pop(code) for code in list(spec) if code in fw.codes}
            overrides = {**overrides, "weights": spec} if spec else {k: v for k, v in overrides.items() if k != "weights"}
            check_node_weights(node_weights, fw, column="weights")
        variant = scoring.with_methods(self.study, overrides)
        check_method_names(variant.methods, self.study.folder / "study.yaml")
        result = scoring.score(variant, self._cleaned(variant), node_weights)
        methods = dict(variant.methods)
        if node_weights:  # as study.yaml writes them (methods.weights.nodes of fixed or equal weights)
            methods["weights"] = {**methods["weights"], "nodes": {**(methods["weights"].get("nodes") or {}), **node_weights}}
        return Result(result.scores, result.contributions, result.weights, result.wide, methods, self.study)

    def _cleaned(self, variant: Study) -> pd.DataFrame:
        key = self._clean_key(variant.methods)
        if key not in self._clean:
            self._clean[key], _ = cleaning.clean_study(variant, self.ingested, range(self.study.first_year, self.year + 1),
                                                       self.entities)
        return self._clean[key]


def load(study: str, year: int | str = "latest", out_root: str | Path | None = None) -> WhatIf:
    """The study and its clean data: from the latest good edition under ``out_root`` (an edition folder
    with its manifest), else computed in memory from the raw files (read only)."""
    definition = load_study(study)
    edition = latest_edition(definition.name, year, out_root)
    if edition is not None:
        processed = edition.processed
        entities = processed / "entities.csv"
        return WhatIf(definition, edition.year, read_stage_table(processed / "ingested.csv"),
                      read_stage_table(entities) if entities.exists() else None,
                      read_stage_table(processed / "clean.csv"), f"edition {edition.year} ({processed})")
    target = definition.last_year if year == "latest" else int(year)
    tidy, _ = ingest.ingest(definition, target)
    entities = ingest.read_entities(definition)
    cleaned, _ = cleaning.clean_study(definition, tidy, range(definition.first_year, target + 1), entities)
    return WhatIf(definition, target, tidy, entities, cleaned, "raw files (no edition found)")


def compare(base: Result, alternative: Result, year: int | None = None, lang: str = "en") -> pd.DataFrame:
    """Per entity and aggregate node in ``year`` (default: the latest): the value before and after and its
    change; with several entities also the rank before, after and the shift (positive = moved up)."""
    fw = base.study.framework
    year = base.year if year is None else int(year)

    def values(result: Result) -> pd.Series:
        rows = result.scores[(result.scores["year"] == year) & (result.scores["level"] >= 2)]
        return rows.set_index(["entity", "code"])["value"]

    before, after = values(base), values(alternative)
    table = pd.DataFrame({"before": before, "after": after.reindex(before.index)})
    table["change"] = table["after"] - table["before"]
    if before.index.get_level_values("entity").nunique() > 1:
        rank = lambda s: s.groupby(level="code").rank(ascending=False, method="min")  # noqa: E731
        table["rank_before"], table["rank_after"] = rank(table["before"]), rank(table["after"])
        table["rank_shift"] = table["rank_before"] - table["rank_after"]
    table = table.reset_index()
    table.insert(2, "name", table["code"].map(fw.labels(lang)))
    table.insert(3, "level", table["code"].map(fw.table["level"]).astype(int))
    order = {code: i for i, code in enumerate(fw.codes)}
    return table.sort_values(["level", "code", "entity"], ascending=[False, True, True],
                             key=lambda s: s.map(order) if s.name == "code" else s, ignore_index=True)
