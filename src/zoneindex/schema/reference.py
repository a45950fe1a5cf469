"""docs/study-reference.md and docs/study.schema.json, generated from the schema's models.

``zoneindex schema --markdown`` prints the reference, ``zoneindex schema --json`` the JSON Schema (for
editors: a ``# yaml-language-server: $schema=../../docs/study.schema.json`` line at the top of a
study.yaml gives completion and checking in VS Code's YAML extension). A test keeps the committed files
equal to the generated ones.
"""
from __future__ import annotations

import json
import typing
from typing import Any, Literal, Union

from pydantic import BaseModel

from zoneindex.schema.options import AGGREGATION_MODELS, FAMILIES, STEP_MODELS, LevelRule, ImputeMissing
from zoneindex.schema.records import DOCUMENTATION, FrameworkColumns, SourceRecord
from zoneindex.schema.sections import (Columns, DataFile, Denominator, Entities, EntrySettings, KeepYears, Languages,
                                       Methods, NotApplicable, Reference, Screening, StudyFile, Target, Uncertainty,
                                       UnitConversion, WeightNoise, Years)
from zoneindex.schema.sections import Coupling, Obstacles, SmallBases, ValidateSettings

SCHEMA_ID = "study.schema.json"

# the six definitions a study can use beyond its method choices, and where each is set
DEFINITIONS = (
    ("not applicable cells", "`not_applicable:` (entity, codes, years, reason)",
     "n/a, never imputed, not counted against availability; an aggregate all of whose children are n/a is n/a"),
    ("imputed aggregates", "`methods.aggregation.impute_missing:` (levels, group)",
     "a missing aggregate is the mean of that node over the entity's group in the same year, flagged "
     "`imputed:aggregate-mean`"),
    ("availability and screening per level; entity lists", "`methods.aggregation.by_level.<L>.min_availability`, "
     "`methods.screening.by_level`, `entities: {include, exclude}`",
     "each level its own share of applicable children; entity-years screened per level; explicit lists"),
    ("indicators passed through", "framework.csv column `normalisation` = `none`",
     "the raw value is the score (already on the index's scale)"),
    ("data year", "`data[i].columns.data_year` or `data[i].data_year_lag`",
     "each value's data year kept beside the year it is used for, in the ingested and clean tables"),
    ("published-value checks", "`references[i]: {rule: match, decimals, rounding, tolerance}`",
     "every published value compared, matches counted, the rule in the message"),
)


GUIDE = """## Writing a new study: from a publisher's file to a first run

1. **Start from the file.** `zoneindex new-study NAME --from FILE.csv` copies the file unchanged into
   `data/raw/NAME/`, writes its source record and a first `seeds/NAME/study.yaml` and `framework.csv` that pass
   this schema: every numeric series becomes an indicator of one index (min-max, equal weights, arithmetic
   mean); text columns (notes, colour codes) are left out. A long file (entity, year, indicator, value) and a
   wide one (one row per entity and year, one column per series) are both recognised.
2. **Say where the file comes from.** Fill in the fields marked TO FILL IN of `data/raw/NAME/FILE.source.yaml`
   (title, publisher, url, retrieved, licence; see [the source record](#sourcerecord)). `sha256` and `bytes`
   are measured: a raw file is never edited afterwards (a correction is a new file).
3. **Describe the framework.** In `framework.csv`: English and Chinese names, units, directions (`1`, or `-1`
   when lower is better, typed with the ASCII minus), the dimensions as level-2 rows with the indicators' `parent`
   pointing at them and the index one level above, weights as published. Method columns (goalposts,
   denominators, `normalisation: none` for a series that arrives already on the index's scale):
   [framework.csv](#frameworkcolumns).
4. **Choose the methods the publisher used** under `methods:` (each method and its options below) and the
   [definitions](#the-definitions-a-study-can-use) it needs: cells that do not apply, imputed aggregates, rules
   per level, entity lists, data years.
5. **Say what must be reproduced.** A `references:` entry with `rule: match`, `decimals`, `rounding`
   (`half_up` as most offices print, or `half_even`) and a `tolerance`: the validate notebook counts the
   published values reproduced and names what it compared.
6. **Check, then run.** `zoneindex check --study NAME` answers in seconds: a misspelt key is refused with the
   nearest known one, a wrong type or range names its key path, and the report lists entities, years,
   indicators per dimension, availability and the methods that will run. Then `zoneindex run --study NAME`.
"""


def _type_name(annotation) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (Union, getattr(__import__("types"), "UnionType", Union)):
        args = tuple(typing.get_args(a)[0] if typing.get_origin(a) is typing.Annotated else a for a in args)
    if annotation is type(None):
        return "null"
    if annotation is Any:
        return "any"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (Union, getattr(__import__("types"), "UnionType", Union)) and args and all(
            isinstance(a, type) and issubclass(a, BaseModel) and "_" in a.__name__ for a in args):
        return "`method:` " + " \\| ".join(f"`{a.__name__.split('_', 1)[1]}`" for a in args) + " (below)"
    if origin in (Union, getattr(__import__("types"), "UnionType", Union)):
        return " or ".join(dict.fromkeys(_type_name(a) for a in args if a is not type(None)))
    if origin is list:
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping {_type_name(args[0])} → {_type_name(args[1])}" if args else "mapping"
    names = {str: "text", int: "whole number", float: "number", bool: "true/false", dict: "mapping",
             list: "list"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _default(field) -> str:
    if field.is_required():
        return "**required**"
    value = field.default
    if value is None or value == [] or value == "":
        return ""
    return f"`{json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value}`"


def _table(model: type[BaseModel], skip: tuple = ()) -> list[str]:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{field.alias or name}` | {_type_name(field.annotation)} | {_default(field)} | {meaning} |")
    return rows


def _section(model: type[BaseModel], level: int = 2, title: str | None = None) -> list[str]:
    doc = " ".join((model.__doc__ or "").split())
    return [f'<a id="{model.__name__.lower()}"></a>', "", f"{'#' * level} {title or model.__name__}", "", doc, "",
            *_table(model), ""]


def _methods(step: str, models: dict[str, type]) -> list[str]:
    lines = [f"### methods.{step}", ""]
    for name, model in models.items():
        options = [n for n in model.model_fields if n != "method" and n not in _shared(step)]
        lines.append(f"- `{name}`: {(model.__doc__ or '').strip()}")
        for option in options:
            field = model.model_fields[option]
            lines.append(f"  - `{option}` ({_type_name(field.annotation)}) {_default(field)}".rstrip())
    return lines + [""]


def _shared(step: str) -> tuple:
    from zoneindex.schema.options import AggregationSettings
    return tuple(AggregationSettings.model_fields) if step == "aggregation" else ()


def markdown_reference() -> str:
    """The reference of every key of study.yaml, the framework columns and the source records."""
    lines = ["# study.yaml reference", "",
             "Generated from the schema in `src/zoneindex/schema/` by `zoneindex schema --markdown`: do not edit "
             "by hand (a test compares this file with the generated one). `zoneindex check --study S` checks a "
             "study against it in seconds; an unknown key is refused with the nearest known one. For editors: "
             f"`docs/{SCHEMA_ID}` (JSON Schema).", "",
             "## The definitions a study can use", "", "| definition | where | what it does |", "|---|---|---|",
             *[f"| {name} | {where} | {what} |" for name, where, what in DEFINITIONS], "", GUIDE,
             *_section(StudyFile, 2, "study.yaml")]
    for model in (Languages, Years, Denominator, UnitConversion, Entities, NotApplicable, KeepYears, DataFile,
                  Columns, Reference):
        lines += _section(model, 3)
    lines += _section(Methods, 2, "methods")
    lines += ["Each step names its method with `method:`; the other keys are that method's options, read "
              "from the method's own function in its module (a new method brings its options with it).", ""]
    for step, family in FAMILIES.items():
        lines += _methods(step, STEP_MODELS[step])
    lines += _section(Screening, 3, "methods.screening")
    from zoneindex.schema.options import AggregationSettings
    lines += _section(AggregationSettings, 3, "methods.aggregation")
    lines += _methods("aggregation", AGGREGATION_MODELS)[2:]
    lines += _section(LevelRule, 4) + _section(ImputeMissing, 4)
    lines += ["## alternatives", "", "Name → the method steps that differ from `methods:`; each alternative, "
              "merged into the study's methods, is validated like `methods:`.", ""]
    for model in (Uncertainty, Target, WeightNoise):
        lines += _section(model, 2 if model is Uncertainty else 3)
    lines += _section(EntrySettings, 2, "entry")
    lines += _section(ValidateSettings, 2, "validate")
    for model, key in ((Coupling, "coupling"), (Obstacles, "obstacles"), (SmallBases, "small_bases")):
        lines += _section(model, 3, f"validate.{key}")
    lines += _section(FrameworkColumns, 2, "framework.csv: method columns")
    lines += [f"Documentation columns kept as they are: {', '.join(f'`{c}`' for c in DOCUMENTATION)} and any "
              "other name that is not a near-miss of a method column.", ""]
    lines += _section(SourceRecord, 2, "<file>.source.yaml")
    return "\n".join(lines).rstrip() + "\n"


def json_schema() -> dict:
    schema = StudyFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=1, ensure_ascii=False, sort_keys=True) + "\n"
