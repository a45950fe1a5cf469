"""The study definition: the configuration of one study, its framework and its method choices.

A study is data, never code. ``seeds/<study>/study.yaml`` names the framework table, the raw files, the
years and every method choice; the framework table is read and validated by ``zoneindex.framework``. The
configuration is validated here, every method name against the registries of the method modules, and
every problem is reported with the file, row, column, value and what was expected. The study's
entity-name table (spellings of entity names and the standard name of each) is read here too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from zoneindex import paths, schema
from zoneindex.errors import InputError
from zoneindex.framework import Framework, raw_units
from zoneindex.rawfiles import read_table, require_cells, require_columns
from zoneindex.schema import did_you_mean


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


SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when built with it: the same documents, faster


def load_study(name: str, seeds: Path | None = None) -> Study:
    """Read and validate ``seeds/<name>/study.yaml`` and its framework table (``zoneindex.schema``)."""
    folder = (seeds or paths.SEEDS) / name
    config_path = folder / "study.yaml"
    if not config_path.exists():
        known = available_studies(seeds)
        near = did_you_mean(name, known)
        raise InputError(f"unknown study {name!r}" + (f" (did you mean {near!r}?)" if near else ""),
                         file=config_path, expected=f"one of {known}")
    try:
        config = yaml.load(config_path.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise InputError(f"study.yaml is not valid YAML: {getattr(error, 'problem', error)}", file=config_path,
                         row=mark.line + 1 if mark else None) from None
    schema.validate(config, config_path)
    if config["study"] != name:
        raise InputError("study name differs from its folder", file=config_path, column="study",
                         value=config["study"], expected=name)
    framework_path = folder / config["framework"]
    if not framework_path.exists():
        raise InputError("framework table not found", file=config_path, column="framework",
                         value=config["framework"], expected=f"a file in {folder}")
    framework = Framework.read(framework_path)
    schema.check_framework(framework, config.get("denominators") or {})
    schema.validate(config, config_path, framework)
    return Study(name, folder, config, framework)


def check_method_names(methods: dict, config_path: Path) -> None:
    """Refuse unknown method names and options before any stage runs, naming the ones that exist."""
    schema.validate_methods(methods, config_path)


def available_studies(seeds: Path | None = None) -> list[str]:
    root = seeds or paths.SEEDS
    return sorted(p.name for p in root.iterdir() if (p / "study.yaml").exists()) if root.exists() else []


ENTITY_NAME_COLUMNS = ("raw", "entity")


def read_entity_names(study: Study) -> pd.DataFrame | None:
    """The study's table of entity spellings (``entity_names:`` in study.yaml), or None when none is declared.

    Columns ``raw, entity, note``: every spelling found in the raw files (``raw``, inner spaces kept
    exactly) and the standard name it stands for (``entity``); a standard name is listed with itself. Passed
    to ``clean.clean(..., entity_names=...)``, which repairs the names and logs every change. Refused: a
    missing file or column, a blank cell, a spelling listed twice, or a standard name mapped to another one.
    """
    name = study.config.get("entity_names")
    if not name:
        return None
    path = study.folder / name
    table, place = read_table(path, {})
    require_columns(table, list(ENTITY_NAME_COLUMNS), place)
    require_cells(table, list(ENTITY_NAME_COLUMNS), place)
    twice = table["raw"].duplicated(keep="first")
    if twice.any():
        row = int(twice.idxmax())
        raise place.error("spelling listed twice", row=row, column="raw", value=table.at[row, "raw"],
                          expected="each raw spelling once")
    standard = set(table["entity"])
    moved = table["raw"].isin(standard) & (table["raw"] != table["entity"])
    if moved.any():
        row = int(moved.idxmax())
        raise place.error("a standard name is mapped to another name", row=row, column="entity",
                          value=f"{table.at[row, 'raw']} -> {table.at[row, 'entity']}",
                          expected="a standard name maps to itself")
    table = table.reindex(columns=["raw", "entity", "note"])
    table["note"] = table["note"].fillna("")
    return table.reset_index(names="row")


def definitions_in_use(study: Study) -> dict:
    """The study's choices among the six definitions beyond the method names (for the manifest and the
    write-up): not-applicable cells, imputed aggregates, availability per level and entity lists,
    indicators passed through, data years, published-value checks."""
    config, methods = study.config, study.methods
    aggregation, screening = methods["aggregation"], methods.get("screening") or {}
    levels = {level: rule["min_availability"] for level, rule in (aggregation.get("by_level") or {}).items()
              if isinstance(rule, dict) and rule.get("min_availability") is not None}
    table = study.framework.table
    through = sorted(table.index[table.get("normalisation", "").astype(str).str.strip() == "none"]) \
        if "normalisation" in table else []
    lagged = {spec["file"]: spec.get("data_year_lag") or (spec.get("columns") or {}).get("data_year")
              for spec in config["data"] if spec.get("data_year_lag") or (spec.get("columns") or {}).get("data_year")}
    checks = [{"file": spec["file"], "decimals": int(spec["rule"].split(":")[1]) if spec["rule"].startswith("exact:")
               else spec.get("decimals"), "rounding": spec.get("rounding", "half_even"),
               "tolerance": spec.get("tolerance", 0.0)}
              for spec in config.get("references") or [] if spec.get("rule", "context") != "context"]
    found = {"not_applicable": config.get("not_applicable"), "impute_missing": aggregation.get("impute_missing"),
             "availability_by_level": levels or None, "screening_by_level": screening.get("by_level"),
             "entities": config.get("entities"), "passed_through": through or None, "data_year": lagged or None,
             "published_checks": checks or None}
    return {key: value for key, value in found.items() if value}
