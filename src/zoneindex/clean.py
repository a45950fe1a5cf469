"""Clean: unit harmonisation, denominators, missing data and outliers, with every changed cell logged.

Input and output are the tidy long table ``entity, year, indicator, value, unit, source, flag``. Missing
values stay NaN unless the study asks for imputation; every imputed or treated cell gets a flag and a
row in the treatment log (entity, year, indicator, step, method, before, after).
This module is the stage, in order; the methods it applies are ``impute`` (the imputers) and ``treat``
(the JRC outlier rule), and ``cells`` holds the flags and log rows they share.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from zoneindex.cells import LOG_COLUMNS, add_flag, concat_log, log_rows, to_wide
from zoneindex.errors import InputError
from zoneindex.framework import Framework, raw_units
from zoneindex.impute import IMPUTATION_TEXT, impute
from zoneindex.schema import did_you_mean
from zoneindex.study import read_entity_names
from zoneindex.treat import OUTLIER_METHODS, OUTLIER_TEXT, apply_to_tidy, treat


def harmonise_units(tidy: pd.DataFrame, raw_units: dict[str, str], conversions: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Convert each value to the unit its series is expected in (``Study.raw_units``) through a declared
    conversion, else refuse it."""
    factor = {(c["from"], c["to"]): float(c["factor"]) for c in conversions}
    target = tidy["indicator"].map(raw_units).fillna("")
    differs = tidy["unit"].fillna("").ne(target) & tidy["unit"].fillna("").ne("")
    tidy = tidy.copy()
    log = []
    for (unit, wanted), rows in tidy[differs].groupby([tidy["unit"], target]):
        if (unit, wanted) not in factor:
            first = rows.iloc[0]
            raise InputError("unit does not match the framework and no conversion is declared "
                             "(add one under unit_conversions in study.yaml)", file=first.get("source_file"),
                             row=first.get("source_row"), column="unit", value=unit,
                             expected=f"{wanted!r} for indicator {first['indicator']}")
        before = tidy.loc[rows.index, "value"]
        tidy.loc[rows.index, "value"] = before * factor[unit, wanted]
        tidy.loc[rows.index, "unit"] = wanted
        tidy.loc[rows.index, "flag"] = add_flag(tidy.loc[rows.index, "flag"], True, f"converted:{unit}->{wanted}")
        log.append(log_rows(tidy.loc[rows.index], "unit", f"{unit}->{wanted}", before))
    return tidy, concat_log(log)


def denominate(tidy: pd.DataFrame, framework: Framework, denominators: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Divide each indicator by the denominator series the framework names for it, times its scale.

    x' = scale · x / d for the same entity and year (framework columns ``denominator`` and
    ``denominator_scale``). The denominator rows themselves leave the table; a missing denominator
    leaves the indicator value missing (flag ``missing-denominator``), never undivided.
    """
    is_denominator = tidy["indicator"].isin(list(denominators))
    series, tidy = tidy[is_denominator], tidy[~is_denominator].copy()
    if "denominator" not in framework.table or not framework.table["denominator"].fillna("").any():
        return tidy, pd.DataFrame(columns=LOG_COLUMNS)
    by = tidy["indicator"].map(framework.table["denominator"]).fillna("")
    scale = tidy["indicator"].map(framework.table.get("denominator_scale", pd.Series(dtype=float))).fillna(1.0)
    lookup = series.set_index(["entity", "year", "indicator"])["value"]
    divisor = pd.Series([lookup.get((e, y, d), np.nan) if d else np.nan
                         for e, y, d in zip(tidy["entity"], tidy["year"], by)], index=tidy.index)
    rows = by != ""
    before = tidy["value"].copy()
    tidy.loc[rows, "value"] = scale[rows] * tidy.loc[rows, "value"] / divisor[rows]
    tidy.loc[rows, "unit"] = tidy.loc[rows, "indicator"].map(framework.table["unit"])
    tidy["flag"] = add_flag(tidy["flag"], rows & divisor.notna(), "denominated")
    tidy["flag"] = add_flag(tidy["flag"], rows & divisor.isna() & before.notna(), "missing-denominator")
    log = log_rows(tidy[rows], "denomination", "", before[rows])
    log["method"] = "/" + by[rows] + np.where(scale[rows] != 1, " x" + scale[rows].astype(str), "")
    return tidy, log


def complete_grid(tidy: pd.DataFrame, framework: Framework, years: range) -> pd.DataFrame:
    """Every entity × year × indicator of the study, missing ones as NaN with flag 'missing'."""
    entities = sorted(tidy["entity"].unique())
    grid = pd.MultiIndex.from_product([entities, list(years), framework.indicators],
                                      names=["entity", "year", "indicator"])
    full = tidy.set_index(["entity", "year", "indicator"]).reindex(grid).reset_index()
    full["unit"] = full["indicator"].map(framework.table["unit"])
    full["flag"] = full["flag"].fillna("")
    full["source"] = full["source"].fillna("")
    full["flag"] = add_flag(full["flag"], full["value"].isna(), "missing")
    return full


def screen(tidy: pd.DataFrame, framework: Framework, min_availability: float = 0.0,
           count: str = "observed", by_level: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop entity-years whose share of available indicators is below ``min_availability`` (strict <).

    ``count: observed`` counts only values read from a raw file, so imputation cannot rescue an entity
    with too little data; ``count: present`` counts every non-missing value after imputation, which is
    what COINr's ``Screen(dset = "Imputed", unit_screen = "byNA")`` does. Cells that do not apply
    (not_applicable:) count neither way. ``by_level: {L: share}`` adds a rule per level: an entity-year
    is dropped when less than ``share`` of its applicable level-L nodes have any available indicator
    (level 1: the indicators themselves). Every removed entity-year is logged with its availability.
    """
    if count not in ("observed", "present"):
        raise InputError("unknown screening count", column="methods.screening.count", value=count,
                         expected="observed or present")
    observed = tidy["value"].notna()
    if count == "observed":
        observed &= ~tidy["flag"].str.contains("imputed", regex=False)
    applies = ~tidy["flag"].str.contains(NOT_APPLICABLE, regex=False)
    keys = [tidy["entity"], tidy["year"]]
    rules = [(f"availability < {min_availability:g}", min_availability, None)]
    rules += [(f"level {level} availability < {share:g}", share, level) for level, share in (by_level or {}).items()]
    logs, dropped_all = [], pd.MultiIndex.from_arrays([[], []], names=["entity", "year"])
    for method, share, level in rules:
        if level is None or level == 1:
            availability = (observed.groupby(keys).mean() if applies.all()
                            else observed.groupby(keys).sum() / applies.groupby(keys).sum())
        else:
            node = tidy["indicator"].map({c: framework.ancestor_at(c, level) for c in framework.indicators})
            cells = [tidy["entity"], tidy["year"], node]
            has = observed.groupby(cells).any().groupby(level=[0, 1]).sum()
            availability = has / applies.groupby(cells).any().groupby(level=[0, 1]).sum()
        availability.index = availability.index.set_names(["entity", "year"])
        dropped = availability[(availability < share) & ~availability.index.isin(dropped_all)]
        dropped_all = dropped_all.append(dropped.index)
        logs.append(pd.DataFrame({"entity": dropped.index.get_level_values("entity"),
                                  "year": dropped.index.get_level_values("year"), "indicator": "*",
                                  "step": "screening", "method": method, "before": dropped.to_numpy(),
                                  "after": np.nan}))
    keep = ~pd.MultiIndex.from_frame(tidy[["entity", "year"]]).isin(dropped_all)
    return tidy[keep].reset_index(drop=True), logs[0] if len(logs) == 1 else concat_log(logs)


NOT_APPLICABLE = "not-applicable"


def select_entities(tidy: pd.DataFrame, lists: dict | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The study's explicit entity lists (``entities: {include, exclude}``), before any method runs; every
    entity-year left out is logged (step ``screening``), and a listed name the data do not hold is refused."""
    if not lists:
        return tidy, pd.DataFrame(columns=LOG_COLUMNS)
    names = sorted(set(tidy["entity"].astype(str)))
    for key in ("include", "exclude"):
        unknown = [n for n in lists.get(key) or [] if n not in names]
        if unknown:
            near = did_you_mean(unknown[0], names)
            raise InputError("entity listed in study.yaml is not in the data" + (f" (did you mean {near!r}?)" if near
                                                                               else ""),
                             column=f"entities.{key}", value=unknown[0], expected=f"one of the {len(names)} entities")
    keep = pd.Series(True, index=tidy.index)
    if lists.get("include") is not None:
        keep &= tidy["entity"].isin(lists["include"])
    keep &= ~tidy["entity"].isin(lists.get("exclude") or [])
    out = tidy.loc[~keep, ["entity", "year"]].drop_duplicates().sort_values(["entity", "year"])
    log = out.assign(indicator="*", step="screening", method="entities: " + np.where(
        out["entity"].isin(lists.get("exclude") or []), "exclude", "not in include"), before=np.nan, after=np.nan)
    return tidy[keep].reset_index(drop=True), log[LOG_COLUMNS].reset_index(drop=True)


def mark_not_applicable(tidy: pd.DataFrame, framework: Framework, rules: list | None) -> pd.DataFrame:
    """Flag the cells that do not apply (``not_applicable:`` in study.yaml) ``not-applicable`` instead of
    ``missing``: never imputed, not counted against availability, shown as n/a. A value given for such a
    cell is refused (it contradicts the definition), naming the file and row."""
    if not rules:
        return tidy
    names = sorted(set(tidy["entity"].astype(str)))
    mask = pd.Series(False, index=tidy.index)
    for i, rule in enumerate(rules):
        entities = [rule["entity"]] if isinstance(rule["entity"], str) else list(rule["entity"])
        unknown = [e for e in entities if e not in names]
        if unknown:
            near = did_you_mean(unknown[0], names)
            raise InputError("entity of a not-applicable rule is not in the data" + (f" (did you mean {near!r}?)"
                                                                                   if near else ""),
                             column=f"not_applicable[{i}].entity", value=unknown[0],
                             expected=f"one of the {len(names)} entities")
        codes = {c for c in framework.indicators for code in rule["codes"] if code == c or code in framework.ancestors(c)}
        years = rule.get("years") or {}
        mask |= (tidy["entity"].isin(entities) & tidy["indicator"].isin(codes)
                 & tidy["year"].between(years.get("first") or -np.inf, years.get("last") or np.inf))
    given = mask & tidy["value"].notna()
    if given.any():
        first = tidy[given].iloc[0]
        raise InputError("a value is given for a cell that study.yaml declares not applicable",
                         file=first.get("source_file") or None, row=None if pd.isna(first.get("source_row"))
                         else int(first["source_row"]), column="value",
                         value=f"{first['entity']} {first['year']} {first['indicator']}: {first['value']}",
                         expected="no value, or the cell taken out of not_applicable:")
    tidy = tidy.copy()
    tidy.loc[mask, "flag"] = add_flag(tidy.loc[mask, "flag"].str.replace(r"(^|;)missing", "", regex=True)
                                      .str.strip(";"), True, NOT_APPLICABLE)
    return tidy


def treat_outliers(tidy: pd.DataFrame, framework: Framework, method: str = "none", **params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Outlier treatment by the JRC rule (zoneindex.treat); every changed cell is flagged and logged."""
    if method == "none":
        return tidy, pd.DataFrame(columns=LOG_COLUMNS)
    if method not in OUTLIER_METHODS:
        raise InputError("unknown outlier treatment", column="methods.outliers.method", value=method,
                         expected=f"one of {sorted(OUTLIER_METHODS)}")
    _, log, _ = treat(to_wide(tidy, framework), **params)
    return apply_to_tidy(tidy, log), log


def repair_entity_names(tidy: pd.DataFrame, mapping: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replace every spelling of an entity by its standard name from ``mapping`` (columns raw, entity).

    The standard names are the ``entity`` column; a name already standard is left as it is. Every changed
    cell gets the flag ``entity-name-repaired`` and one log row (step ``entity name``, method
    ``<raw> -> <entity>``, before = the raw spelling, after = the standard name, with the ``source_file``
    and ``source_row`` it came from). Refused with an InputError, never dropped: a name that is neither a
    standard name nor a listed spelling; and, after the repair, two rows for the same entity, year and
    indicator (two spellings of one entity in the same table), naming both rows.
    """
    def _row(value) -> int | None:
        return None if value is None or value == "" or pd.isna(value) else int(value)

    lookup = dict(zip(mapping["raw"].astype(str), mapping["entity"].astype(str)))
    standard = sorted(set(mapping["entity"].astype(str)))
    names = tidy["entity"].astype(str)
    where = {c: tidy[c] if c in tidy else pd.Series("", index=tidy.index) for c in ("source_file", "source_row")}
    unknown = ~names.isin(standard) & ~names.isin(list(lookup))
    if unknown.any():
        i = unknown.idxmax()
        raise InputError("entity name is neither a standard name nor a spelling listed in the entity-name "
                         "table", file=where["source_file"][i] or None, row=_row(where["source_row"][i]),
                         column="entity", value=names[i],
                         expected=f"one of the {len(standard)} standard names {standard}, or a row "
                                  f"raw,entity for this spelling in the entity-name table")
    repaired = names.map(lambda name: lookup.get(name, name))
    changed = repaired != names
    tidy = tidy.copy()
    tidy["entity"] = repaired
    if "flag" in tidy:
        tidy["flag"] = add_flag(tidy["flag"].fillna(""), changed, "entity-name-repaired")
    key = ["entity", "year", "indicator"]
    twice = tidy.duplicated(key, keep=False)
    if twice.any():
        first_i = twice.idxmax()
        same = twice & (tidy[key] == tidy.loc[first_i, key]).all(axis=1)
        a, b = same[same].index[:2]
        def place(i):
            return f"{names[i]!r} in {where['source_file'][i] or '?'} row {_row(where['source_row'][i])}"
        raise InputError(f"two rows for the same entity, year and indicator after repairing entity names: "
                         f"{place(a)} and {place(b)}", file=where["source_file"][a] or None,
                         row=_row(where["source_row"][a]), column="entity",
                         value=f"{names[a]} / {names[b]} -> {repaired[a]}",
                         expected="one row per entity-year-indicator: two spellings of one entity carry the "
                                  "same series, so one of the rows is wrong or the table maps a name wrongly")
    log = pd.DataFrame({"entity": repaired[changed], "year": tidy.loc[changed, "year"],
                        "indicator": tidy.loc[changed, "indicator"], "step": "entity name",
                        "method": names[changed] + " -> " + repaired[changed], "before": names[changed],
                        "after": repaired[changed], "source_file": where["source_file"][changed],
                        "source_row": where["source_row"][changed]},
                       columns=LOG_COLUMNS + ["source_file", "source_row"])
    return tidy, log.reset_index(drop=True)


def clean(tidy: pd.DataFrame, framework: Framework, years: range, methods: dict,
          conversions: list[dict] | None = None, denominators: dict | None = None,
          entities: pd.DataFrame | None = None,
          entity_names: pd.DataFrame | None = None, entity_lists: dict | None = None,
          not_applicable: list | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The whole clean stage, in COINr's order: units, denominators, complete grid, imputation, screening,
    outlier treatment, after repairing entity names when the study has an entity-name table
    (``study.read_entity_names``). Returns the clean table and the log of every changed or removed value."""
    name_log = None
    if entity_names is not None:
        tidy, name_log = repair_entity_names(tidy, entity_names)
    tidy, unit_log = harmonise_units(tidy, raw_units(framework, denominators or {}), conversions or [])
    tidy, denominator_log = denominate(tidy, framework, denominators or {})
    tidy, selection_log = select_entities(tidy, entity_lists)
    tidy = mark_not_applicable(complete_grid(tidy, framework, years), framework, not_applicable)
    spec = dict(methods.get("imputation") or {"method": "none"})
    tidy, impute_log = impute(tidy, framework, spec.pop("method"), entities, **spec)
    screen_log = pd.DataFrame(columns=LOG_COLUMNS)
    if methods.get("screening"):
        tidy, screen_log = screen(tidy, framework, **methods["screening"])
    spec = dict(methods.get("outliers") or {"method": "none"})
    tidy, outlier_log = treat_outliers(tidy, framework, spec.pop("method"), **spec)
    columns = ["entity", "year", "indicator", "value", "unit", "source", "flag"]
    log = concat_log([unit_log, denominator_log, selection_log, impute_log, screen_log, outlier_log])
    if name_log is not None:  # the entity-name repairs come first, with the file and row they came from
        log = concat_log([name_log, log.reindex(columns=name_log.columns)]).reindex(columns=name_log.columns)
    return tidy[columns + [c for c in tidy.columns if c not in columns]], log


def clean_study(study, tidy: pd.DataFrame, years: range, entities: pd.DataFrame | None = None,
                methods: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``clean`` with everything a study definition declares: its methods (or ``methods`` instead), unit
    conversions, denominators and entity-name table."""
    return clean(tidy, study.framework, years, methods or study.methods, study.config.get("unit_conversions"),
                 study.denominators, entities, read_entity_names(study), study.config.get("entities"),
                 study.config.get("not_applicable"))


def missing_summary(clean_table: pd.DataFrame) -> pd.DataFrame:
    """Per indicator: observed, still missing, and imputed values."""
    flags = clean_table["flag"]
    na = flags.str.contains(NOT_APPLICABLE, regex=False)
    table = pd.DataFrame({
        "observed": clean_table["value"].notna() & ~flags.str.contains("imputed"),
        "missing": clean_table["value"].isna() & ~na,
        "imputed": flags.str.contains("imputed"),
        "not applicable": na,
    }).groupby(clean_table["indicator"], sort=False).sum()
    return table if na.any() else table.drop(columns="not applicable")


def describe_methods(methods: dict) -> str:
    """Markdown describing exactly the clean-stage choices of a study (imputation, screening, outliers)."""
    spec = dict(methods.get("imputation") or {"method": "none"})
    name = spec.pop("method")
    over = f"the entities of the same `{spec['group']}`" if spec.get("group") else "all entities"
    gap = f", over gaps of at most {spec['max_gap']} years" if spec.get("max_gap") else ""
    # str.replace, not str.format: the LaTeX is full of braces
    parts = [f"**Imputation: `{name}`.** " + IMPUTATION_TEXT[name].replace("{over}", over).replace("{gap}", gap)]
    screening = methods.get("screening")
    if screening:
        counted = "after imputation" if screening.get("count") == "present" else "observed in a raw file"
        parts.append(f"**Screening.** An entity-year is dropped when less than "
                     f"{float(screening.get('min_availability', 0)):.0%} of its indicators have a value "
                     f"({counted}; cells that do not apply are not counted)."
                     + "".join(f" At level {level}, it is dropped when less than {float(share):.0%} of its "
                               f"level-{level} nodes have any value." for level, share in
                               (screening.get("by_level") or {}).items()))
    outliers = dict(methods.get("outliers") or {"method": "none"})
    if outliers.get("method") == "jrc":
        parts.append(OUTLIER_TEXT.replace("{winmax}", str(outliers.get("winmax", 5))))
    else:
        parts.append("**Outliers.** No outlier treatment.")
    return "\n\n".join(parts)
