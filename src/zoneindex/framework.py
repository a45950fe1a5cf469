"""The framework: the hierarchy of an index and the metadata of its indicators, as a validated table.

``seeds/<study>/framework.csv`` holds one row per node of the hierarchy, in the spirit of COINr's iMeta:
level 1 = indicator, the highest level = the index. It is validated here, and every problem is reported
with the file, row, column, value and what was expected. This is the bottom of the package: a pure data
model that imports nothing of zoneindex but its errors (the study that uses it is ``zoneindex.study``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

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
                minus = "\u2212" in str(row["direction"]) or "\uff0d" in str(row["direction"])
                fail("indicator direction must be 1 or -1" + (" (this is a typographic minus sign: type the "
                                                              "ASCII hyphen-minus -)" if minus else ""),
                     i, "direction", row["direction"], "1 or -1")
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
