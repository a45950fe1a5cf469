"""The study definition: the framework table (hierarchy and indicator metadata) and the method choices.

A study is data, never code. ``seeds/<study>/study.yaml`` names the framework table, the raw files, the
years and every method choice; ``seeds/<study>/framework.csv`` holds one row per node of the hierarchy,
in the spirit of COINr's iMeta: level 1 = indicator, the highest level = the index. Both are validated
here, and every problem is reported with the file, row, column, value and what was expected.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from zoneindex import paths
from zoneindex.errors import InputError

FRAMEWORK_COLUMNS = ("code", "level", "parent", "type", "name_en", "name_zh", "unit", "direction", "weight")
NODE_TYPES = ("Indicator", "Aggregate")


@dataclass(frozen=True)
class Framework:
    """The hierarchy as a table indexed by node code, with the helpers every stage needs."""

    table: pd.DataFrame
    source: Path | None = None

    @classmethod
    def read(cls, path: Path) -> "Framework":
        table = pd.read_csv(path, dtype={"code": str, "parent": str}, keep_default_na=False,
                            na_values={"direction": [""], "weight": [""], "level": [""]})
        return cls.from_table(table, source=path)

    @classmethod
    def from_table(cls, table: pd.DataFrame, source: Path | None = None) -> "Framework":
        validate_framework_table(table, source)
        table = table.copy()
        table["level"] = table["level"].astype(int)
        table["weight"] = table["weight"].astype(float)
        table["direction"] = pd.to_numeric(table["direction"], errors="coerce")
        return cls(table.set_index("code", drop=False), source)

    @property
    def codes(self) -> list[str]:
        return list(self.table.index)

    @property
    def max_level(self) -> int:
        return int(self.table["level"].max())

    @property
    def root(self) -> str:
        return str(self.table.index[self.table["level"] == self.max_level][0])

    @cached_property
    def indicators(self) -> list[str]:
        return list(self.table.index[self.table["level"] == 1])

    def level_codes(self, level: int) -> list[str]:
        return list(self.table.index[self.table["level"] == level])

    def children(self, code: str) -> list[str]:
        return list(self.table.index[self.table["parent"] == code])

    @cached_property
    def directions(self) -> pd.Series:
        return self.table.loc[self.indicators, "direction"].astype(float)

    def name(self, code: str, lang: str = "en") -> str:
        """The node's name in ``lang``; the English name where no Chinese one is given."""
        chinese = str(self.table.at[code, "name_zh"]).strip() if lang == "zh" else ""
        return chinese or str(self.table.at[code, "name_en"])

    def labels(self, lang: str = "en") -> dict[str, str]:
        return {code: self.name(code, lang) for code in self.codes}

    def overview(self, weights: pd.Series | None = None) -> pd.DataFrame:
        """The framework as a readable table in hierarchy order: names, unit, direction, weights, basis."""
        columns = [c for c in ("level", "parent", "name_en", "name_zh", "unit", "weight", "source_type", "basis")
                   if c in self.table]
        table = self.table[columns].copy()
        table.insert(table.columns.get_loc("unit") + 1, "direction",
                     self.table["direction"].map({1.0: "+", -1.0: "−"}).fillna(""))
        table["effective_weight_%"] = (100 * self.effective_weights(weights)).round(2)
        order = sorted(self.codes, key=lambda c: [self.codes.index(a) for a in reversed(self.ancestors(c))]
                       + [self.codes.index(c)])
        return table.loc[order].fillna("")

    def ancestors(self, code: str) -> list[str]:
        """Parents of ``code`` from the nearest up to the index."""
        chain, parent = [], self.table.at[code, "parent"]
        while parent:
            chain.append(parent)
            parent = self.table.at[parent, "parent"]
        return chain

    def ancestor_at(self, code: str, level: int) -> str:
        if int(self.table.at[code, "level"]) == level:
            return code
        return next(a for a in self.ancestors(code) if int(self.table.at[a, "level"]) == level)

    def relative_weights(self, weights: pd.Series | None = None) -> pd.Series:
        """Weights rescaled to sum to 1 within each group of siblings (COINr's convention)."""
        raw = (self.table["weight"] if weights is None else weights.reindex(self.table.index)).astype(float)
        parent = self.table["parent"]
        totals = raw.groupby(parent).transform("sum")
        relative = raw / totals
        relative[parent == ""] = 1.0
        return relative

    def effective_weights(self, weights: pd.Series | None = None) -> pd.Series:
        """Each node's weight in the index: the product of relative weights up the hierarchy."""
        relative = self.relative_weights(weights)
        return pd.Series({code: float(np.prod([relative[code]] + [relative[a] for a in self.ancestors(code)]))
                          for code in self.codes}, name="effective_weight")


def raw_units(framework: Framework, denominators: dict) -> dict[str, str]:
    """The unit each raw series arrives in: an indicator's ``raw_unit`` when it is divided by a
    denominator (its numerator's unit), else its ``unit``; and each denominator's declared unit."""
    table = framework.table
    raw = table.get("raw_unit", pd.Series("", index=table.index)).fillna("")
    return {**table["unit"].where(raw == "", raw).to_dict(),
            **{code: spec.get("unit", "") for code, spec in denominators.items()}}


def validate_framework_table(table: pd.DataFrame, source: Path | None) -> None:
    """Check the framework is a balanced tree with usable metadata; raise InputError at the first problem."""
    missing = [c for c in FRAMEWORK_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"framework table lacks the columns {missing}", file=source,
                         expected=", ".join(FRAMEWORK_COLUMNS))

    def fail(problem: str, i: int, column: str, value, expected: str):
        # +2: a spreadsheet row number (header is row 1)
        raise InputError(problem, file=source, row=int(i) + 2, column=column, value=value, expected=expected)

    codes = table["code"].astype(str)
    duplicated = codes[codes.duplicated()]
    if len(duplicated):
        i = duplicated.index[0]
        fail("duplicated node code", i, "code", codes[i], "each code once")
    known = set(codes)
    levels = pd.to_numeric(table["level"], errors="coerce")
    for i, row in table.iterrows():
        if pd.isna(levels[i]) or levels[i] < 1 or levels[i] != int(levels[i]):
            fail("level is not a whole number >= 1", i, "level", row["level"], "1 for indicators, 2.. above")
        if row["type"] not in NODE_TYPES:
            fail("unknown node type", i, "type", row["type"], " or ".join(NODE_TYPES))
        if (row["type"] == "Indicator") != (levels[i] == 1):
            fail("indicators must be at level 1 and only indicators there", i, "type", row["type"],
                 "Indicator at level 1, Aggregate above")
        weight = pd.to_numeric(pd.Series([row["weight"]]), errors="coerce")[0]
        if pd.isna(weight) or weight < 0:
            fail("weight is not a number >= 0", i, "weight", row["weight"], "a non-negative number")
        if row["type"] == "Indicator":
            direction = pd.to_numeric(pd.Series([row["direction"]]), errors="coerce")[0]
            if direction not in (1, -1):
                fail("indicator direction must be 1 or -1", i, "direction", row["direction"], "1 or -1")
        if not str(row["name_en"]).strip():
            fail("node has no English name", i, "name_en", row["name_en"], "a name")
    top = int(levels.max())
    roots = table.index[levels == top]
    if len(roots) != 1:
        fail("the highest level must hold exactly one node (the index)", roots[1], "level", top, "one index")
    for i, row in table.iterrows():
        parent = row["parent"]
        if levels[i] == top:
            if parent:
                fail("the index has a parent", i, "parent", parent, "empty")
            continue
        if parent not in known:
            fail("parent is not a node code", i, "parent", parent, "a code of this table")
        parent_level = levels[codes == parent].iloc[0]
        if parent_level != levels[i] + 1:
            fail("parent is not one level up (the hierarchy must be balanced)", i, "parent", parent,
                 f"a level-{int(levels[i]) + 1} node")
    childless = [c for c, lvl in zip(codes, levels) if lvl > 1 and c not in set(table["parent"])]
    if childless:
        i = codes[codes == childless[0]].index[0]
        fail("aggregate has no children", i, "code", childless[0], "at least one child")
    sibling_totals = pd.to_numeric(table["weight"]).groupby(table["parent"]).sum()
    zero = sibling_totals[(sibling_totals <= 0) & (sibling_totals.index != "")]
    if len(zero):
        i = codes[codes == zero.index[0]].index[0]
        fail("all children of this node have weight 0", i, "code", zero.index[0], "a positive weight")


@dataclass(frozen=True)
class Study:
    """A study definition: name, folder, configuration and framework."""

    name: str
    folder: Path
    config: dict
    framework: Framework = field(repr=False)

    @property
    def title(self) -> dict:
        return self.config["title"]

    @property
    def first_year(self) -> int:
        return int(self.config["years"]["first"])

    @property
    def last_year(self) -> int:
        return int(self.config["years"]["last"])

    @property
    def base_year(self) -> int | None:
        base = self.config.get("base_year")
        return None if base is None else int(base)

    @property
    def methods(self) -> dict:
        return self.config["methods"]

    @property
    def raw_folder(self) -> Path:
        return paths.RAW / self.name

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 0))

    @property
    def denominators(self) -> dict:
        """Series that indicators may be divided by (GDP, population …), declared in study.yaml."""
        return self.config.get("denominators") or {}

    def raw_units(self) -> dict[str, str]:
        return raw_units(self.framework, self.denominators)

    @property
    def illustrative(self) -> bool:
        """True when any input of the study is illustrative (generated) rather than real data."""
        return bool(self.config.get("illustrative", False))


STUDY_KEYS = {"study": str, "title": dict, "years": dict, "framework": str, "data": list, "methods": dict}
METHOD_KEYS = ("imputation", "outliers", "normalisation", "weights", "aggregation")


def load_study(name: str, seeds: Path | None = None) -> Study:
    """Read and validate ``seeds/<name>/study.yaml`` and its framework table."""
    folder = (seeds or paths.SEEDS) / name
    config_path = folder / "study.yaml"
    if not config_path.exists():
        known = sorted(p.name for p in (seeds or paths.SEEDS).iterdir() if (p / "study.yaml").exists())
        raise InputError(f"unknown study {name!r}", file=config_path, expected=f"one of {known}")
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    for key, kind in STUDY_KEYS.items():
        if not isinstance(config.get(key), kind):
            raise InputError("missing or malformed key", file=config_path, column=key, value=config.get(key),
                             expected=f"a {kind.__name__}")
    if config["study"] != name:
        raise InputError("study name differs from its folder", file=config_path, column="study",
                         value=config["study"], expected=name)
    for key in ("first", "last"):
        if not isinstance(config["years"].get(key), int):
            raise InputError("year range incomplete", file=config_path, column=f"years.{key}",
                             value=config["years"].get(key), expected="a year")
    base = config.get("base_year")
    if base is not None and not config["years"]["first"] <= base <= config["years"]["last"]:
        raise InputError("base year outside the study years", file=config_path, column="base_year",
                         value=base, expected=f"{config['years']['first']}..{config['years']['last']}")
    missing_methods = [m for m in METHOD_KEYS if m not in config["methods"]]
    if missing_methods:
        raise InputError("method choices missing", file=config_path, column="methods",
                         value=missing_methods, expected=", ".join(METHOD_KEYS))
    framework = Framework.read(folder / config["framework"])
    study = Study(name, folder, config, framework)
    if "denominator" in framework.table:
        used = framework.table["denominator"].fillna("")
        undeclared = used[(used != "") & ~used.isin(list(study.denominators))]
        if len(undeclared):
            raise InputError("denominator is not declared under denominators in study.yaml",
                             file=framework.source, column="denominator", value=undeclared.iloc[0],
                             expected=f"one of {sorted(study.denominators)}")
    check_method_names(config["methods"], config_path)
    return study


def check_method_names(methods: dict, config_path: Path) -> None:
    """Refuse unknown method names before any stage runs, listing the names that exist."""
    # imported here because the method modules themselves import Framework from this module
    from zoneindex.aggregate import method_for_level
    from zoneindex.clean import IMPUTERS, OUTLIER_METHODS
    from zoneindex.normalise import NORMALISERS
    from zoneindex.weight import WEIGHTERS
    choices = {"normalisation": NORMALISERS, "weights": WEIGHTERS, "imputation": {"none", *IMPUTERS},
               "outliers": OUTLIER_METHODS}
    for step, known in choices.items():
        name = (methods[step] or {}).get("method")
        if name not in known:
            raise InputError("unknown method", file=config_path, column=f"methods.{step}.method", value=name,
                             expected=f"one of {sorted(known)}")
    aggregation = methods["aggregation"]
    for level in [None, *(aggregation.get("by_level") or {})]:
        try:
            method_for_level(aggregation, level)
        except InputError as error:
            raise InputError(error.problem, file=config_path, column=error.column, value=error.value,
                             expected=error.expected) from None


def available_studies(seeds: Path | None = None) -> list[str]:
    root = seeds or paths.SEEDS
    return sorted(p.name for p in root.iterdir() if (p / "study.yaml").exists())
