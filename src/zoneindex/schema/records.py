"""The two other files of a study definition: the framework table's method columns and the source record
(<file>.source.yaml) of every raw file."""
from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, Literal, Union

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zoneindex.errors import InputError
from zoneindex.framework import FRAMEWORK_COLUMNS, Framework
from zoneindex.normalise import TRANSFORMS
from zoneindex.schema.base import Section, did_you_mean, to_input_error


class FrameworkColumns(BaseModel):
    """framework.csv: one row per node. The hierarchy columns (code, level, parent, type, name_en, name_zh,
    unit, direction, weight) are checked as a tree by zoneindex.framework; the method columns below are
    optional. Any other column is kept as documentation (basis, rationale, source_type …), unless its
    name is a near-miss of a method column, which is refused."""

    model_config = ConfigDict(extra="allow", strict=False)

    normalisation: Literal["", "none"] = Field("", description="`none`: the indicator passes through "
                                                               "unnormalised (definition 4); blank: the study's "
                                                               "normalisation")
    transform: Literal[tuple(k for k in TRANSFORMS)] = Field("", description="`log` before goalposts, or blank")
    goalpost_lo: float | None = Field(None, description="the low end L of the raw range (raw units), whatever the "
                                                        "direction: the worst value of a positive indicator, the "
                                                        "best of a negative (lower is better) one")
    goalpost_hi: float | None = Field(None, description="the high end U of the raw range (raw units): the best value "
                                                        "of a positive indicator, the worst of a negative one")
    min_value: float | None = Field(None, description="smallest value the indicator may take")
    max_value: float | None = Field(None, description="largest value the indicator may take (raw units): a value "
                                                      "above it is refused at ingest, naming its cell")
    jump_factor: float | None = Field(None, gt=1, description="how many times its latest value a value typed into "
                                                              "a data-entry workbook may move before it must be "
                                                              "confirmed (default: entry.jump_factor of study.yaml)")
    denominator: str = Field("", description="denominator series (declared under denominators:)")
    denominator_scale: float | None = Field(None, gt=0, description="scale of the ratio")
    raw_unit: str = Field("", description="unit of the raw numerator, when divided by a denominator")


METHOD_COLUMNS = tuple(FrameworkColumns.model_fields)
DOCUMENTATION = ("source_type", "basis", "rationale", "city_proxy", "target", "source_file", "raw_code", "note")


def check_framework_columns(framework: Framework) -> None:
    """Refuse a misspelt method column and a method cell of the wrong kind, naming row and column."""
    table, source = framework.table.reset_index(drop=True), framework.source
    known = (*FRAMEWORK_COLUMNS, *METHOD_COLUMNS, *DOCUMENTATION)
    absent = [c for c in METHOD_COLUMNS + FRAMEWORK_COLUMNS if c not in table.columns]
    for column in table.columns:
        near = did_you_mean(column, absent)
        if column not in known and near and _close(column, near):
            raise InputError(f"unknown column {column!r} (did you mean {near!r}?)", file=source, column=column,
                             expected=f"a method column {list(METHOD_COLUMNS)} or a documentation column")
    present = [c for c in METHOD_COLUMNS if c in table]
    for i, row in table[present].iterrows():
        cells = {c: (None if _blank(v) and c not in ("normalisation", "transform", "denominator", "raw_unit")
                     else ("" if _blank(v) else v)) for c, v in row.items()}
        try:
            FrameworkColumns.model_validate(cells)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            column = str(first["loc"][0])
            raise InputError(first["msg"], file=source, row=int(i) + 2, column=column, value=cells[column],
                             expected=_expected(column)) from None
        if cells.get("normalisation") == "none" and table.at[i, "type"] != "Indicator":
            raise InputError("normalisation: none is for indicators", file=source, row=int(i) + 2,
                             column="normalisation", value="none", expected="blank for an aggregate")


def _close(a: str, b: str) -> bool:
    import difflib
    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.8


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() == ""


def _expected(column: str) -> str:
    field = FrameworkColumns.model_fields[column]
    return field.description or column


class SourceRecord(Section):
    """data/raw/<study>/<file>.source.yaml: where a raw file comes from (sha256 and bytes are measured by
    zoneindex.provenance.write_source_record, never typed in)."""

    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)

    file: str | None = Field(None, description="the raw file's name")
    title: str = Field(description="what the file holds")
    publisher: str = Field(description="who published it")
    url: str = Field(description="where it was taken from")
    retrieved: Union[str, datetime.date] = Field(description="retrieval date")
    licence: str = Field(description="licence or terms of use")
    illustrative: bool = Field(description="true when the values are generated, not data")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the file's bytes")
    bytes: int = Field(ge=0, description="size in bytes")
    description: str | None = Field(None, description="what is in it (rows, gaps, caveats)")
    repository: str | None = Field(None, description="repository and commit it came from")
    conversion: str | None = Field(None, description="how it was converted, unchanged, to its stored form")
    retrieved_note: str | None = Field(None, description="a note on the retrieval date")
    generator: str | None = Field(None, description="the script that generated an illustrative file")
    seed: int | None = Field(None, description="the generator's seed")
    inputs: dict[str, str] | None = Field(None, description="generator inputs and their sha256")
    note: str | None = Field(None, description="anything else")


def check_source_record(record: Any, sidecar: Path) -> None:
    try:
        SourceRecord.model_validate(record if isinstance(record, dict) else {})
    except ValidationError as error:
        raise to_input_error(error, record, sidecar) from None
