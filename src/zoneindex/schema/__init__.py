"""The schema of a study definition: study.yaml, the framework table's method columns and the source records.

One library does the validating (pydantic): every section of study.yaml is a model that refuses an unknown
key with the nearest known one (difflib), and every method's options come from its own registry entry in
its method module (``schema.options``), so a new method needs no edit here. Every problem is one
``InputError`` naming the file, the key path (``methods.normalisation.scale``) or the framework row and
column, the value and what was expected; :func:`validate` reports all problems pydantic finds at once.

After the models, the checks across keys and files: the base year inside the study years, every
alternative method set and every uncertainty alternative merged into the study's methods and validated
as a whole, levels inside the hierarchy, codes that are framework codes. ``docs/study-reference.md`` and
``docs/study.schema.json`` are generated from these models (``zoneindex schema``).
"""
from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from zoneindex.framework import Framework
from zoneindex.schema.base import did_you_mean, fail, key_path, to_input_error
from zoneindex.schema.options import AGGREGATION_MODELS, FAMILIES, STEP_MODELS, method_names
from zoneindex.schema.records import check_framework_columns, check_source_record
from zoneindex.schema.sections import METHOD_STEPS, Methods, StudyFile

__all__ = ["validate", "validate_methods", "merged_methods", "check_framework", "check_source_record",
           "StudyFile", "Methods", "FAMILIES", "STEP_MODELS", "AGGREGATION_MODELS", "METHOD_STEPS",
           "method_names", "did_you_mean", "key_path"]


def merged_methods(methods: dict, overrides: dict) -> dict:
    """The method choices updated step by step from ``overrides`` (an alternative of study.yaml).

    A step given with a new ``method`` is replaced whole (the old method's options do not apply to the
    new one), except aggregation, whose rules for missing children always carry over.
    """
    methods = dict(methods)
    for step, spec in overrides.items():
        keep = step == "aggregation" or not (isinstance(spec, dict) and "method" in spec)
        methods[step] = {**(methods.get(step) or {}), **spec} if keep and isinstance(spec, dict) else spec
    return methods


def validate_methods(methods: dict, file: Path | None, prefix: tuple = ("methods",),
                     framework: Framework | None = None, base_year=None, step: str | None = None) -> Methods:
    """Validate a complete ``methods:`` mapping (the study's, or one merged with an alternative; ``step``:
    the one step of it that ``prefix`` points into)."""
    try:
        model = Methods.model_validate(methods)
    except ValidationError as error:
        raise to_input_error(error, methods, file, prefix, drop=step) from None
    aggregation = methods["aggregation"]
    if aggregation.get("chain") and base_year is None and framework is not None:
        fail("chain-linked aggregation needs a base year", file, [*prefix, "aggregation", "chain"], True,
             "a study with base_year")
    if framework is not None:
        top = framework.max_level
        for level in aggregation.get("by_level") or {}:
            if not 2 <= level <= top:
                fail("by_level names a level outside the hierarchy", file, [*prefix, "aggregation", "by_level"],
                     level, f"a level 2..{top}")
        for key, levels in (("screening", (methods.get("screening") or {}).get("by_level")),
                            ("aggregation", (aggregation.get("impute_missing") or {}).get("levels"))):
            bad = [lv for lv in levels or [] if not (1 if key == "screening" else 2) <= lv <= top]
            if bad:
                fail("level outside the hierarchy", file, [*prefix, key], bad, f"levels up to {top}")
    return model


def validate(config: dict, file: Path | None, framework: Framework | None = None) -> StudyFile:
    """Validate a whole study.yaml (and, with its framework, every code and level it names)."""
    if not isinstance(config, dict):
        fail("study.yaml is not a mapping of keys", file, [], None, "study:, title:, years:, … (see "
             "docs/study-reference.md)")
    try:
        model = StudyFile.model_validate(config)
    except ValidationError as error:
        raise to_input_error(error, config, file) from None
    base, years = config.get("base_year"), config["years"]
    if base is not None and not years["first"] <= base <= years["last"]:
        fail("base year outside the study years", file, ["base_year"], base, f"{years['first']}..{years['last']}")
    validate_methods(config["methods"], file, ("methods",), framework, base)
    for name, overrides in (config.get("alternatives") or {}).items():
        validate_methods(merged_methods(config["methods"], overrides), file, ("alternatives", name), framework, base)
    _uncertainty_alternatives(config, file, framework, base)
    if framework is not None:
        _codes(config, file, framework)
    return model


def _uncertainty_alternatives(config: dict, file, framework, base) -> None:
    inputs = (config.get("uncertainty") or {}).get("inputs") or {}
    for step, alternatives in inputs.items():
        if not isinstance(alternatives, list):
            continue
        for i, alternative in enumerate(alternatives):
            if step == "aggregation":  # its keys: the aggregation settings, any aggregator's options, and with:
                known = {"with", *(k for model in AGGREGATION_MODELS.values() for k in model.keys())}
                for key in alternative:
                    if key not in known and (near := did_you_mean(key, known)):
                        fail(f"unknown key {key!r} (did you mean {near!r}?)", file,
                             ["uncertainty", "inputs", step, i, key], None, f"one of {sorted(known)}")
            own = {k: v for k, v in alternative.items() if k != "with"}
            companions = alternative.get("with") or {}
            if "with" in alternative and step != "aggregation":
                fail("only aggregation alternatives take with:", file, ["uncertainty", "inputs", step, i, "with"])
            for other in companions:
                if other not in METHOD_STEPS or other in ("weights", "aggregation"):
                    did = did_you_mean(other, METHOD_STEPS)
                    fail("with: names data-side method steps" + (f" (did you mean {did!r}?)" if did else ""),
                         file, ["uncertainty", "inputs", step, i, "with"], other,
                         "e.g. {normalisation: {method: chained_growth}}")
            merged = merged_methods(config["methods"], {step: own, **companions})
            if any(_fails(merged, other) for other in companions):  # at its place under with:
                validate_methods(merged, file, ("uncertainty", "inputs", step, i, "with"), framework, base)
            validate_methods(merged, file, ("uncertainty", "inputs", step, i), framework, base, step)


def _fails(methods: dict, step: str) -> bool:
    """Whether the schema refuses ``methods`` at ``step`` (to place the message under the right key)."""
    try:
        Methods.model_validate(methods)
    except ValidationError as error:
        return any(e["loc"][:1] == (step,) for e in error.errors(include_url=False))
    return False


def _codes(config: dict, file, framework: Framework) -> None:
    """Codes and levels named in study.yaml must be the framework's."""
    codes, indicators = framework.codes, framework.indicators

    def known(code, allowed, path, what):
        if code not in allowed:
            near = did_you_mean(code, allowed)
            fail(f"{what} is not in the framework" + (f" (did you mean {near!r}?)" if near else ""), file, path,
                 code, f"a code of {Path(str(framework.source or 'framework.csv')).name}")

    for i, rule in enumerate(config.get("not_applicable") or []):
        for code in rule["codes"]:
            known(code, codes, ["not_applicable", i, "codes"], "code")
    coupling = (config.get("validate") or {}).get("coupling") or {}
    parts = coupling.get("of")
    for code in parts if isinstance(parts, list) else []:
        known(code, codes, ["validate", "coupling", "of"], "coupling part")
    if isinstance(parts, list) and len(parts) < 2:
        fail("coupling needs two or more parts", file, ["validate", "coupling", "of"], parts, "a list of node codes")
    weighted = coupling.get("weights")
    coupled = parts if isinstance(parts, list) else framework.children(framework.root)
    if isinstance(weighted, dict) and sorted(weighted) != sorted(coupled):
        fail("coupling weights must name exactly the coupled parts", file, ["validate", "coupling", "weights"],
             sorted(weighted), f"a weight for each of {coupled}")
    target = ((config.get("uncertainty") or {}).get("target") or {}).get("code")
    if target is not None:
        known(target, codes, ["uncertainty", "target", "code"], "target node")
    denominators = list(config.get("denominators") or {})
    for i, spec in enumerate(config["data"]):
        for code in spec.get("variables") or {}:
            known(code, indicators + denominators, ["data", i, "variables"], "indicator")
        for raw, mapped in (spec.get("indicators") or {}).items():
            for code in mapped if isinstance(mapped, list) else [mapped]:
                known(code, indicators + denominators, ["data", i, "indicators", raw], "indicator")
    for i, spec in enumerate(config.get("references") or []):
        for code in [*(spec.get("variables") or {}), *(spec.get("codes") or {}).values()]:
            known(code, codes, ["references", i], "published node")
    levels = (config.get("uncertainty") or {})
    for key in ("levels", "rank_levels"):
        bad = [lv for lv in levels.get(key) or [] if not 1 <= lv <= framework.max_level]
        if bad:
            fail("levels outside the hierarchy", file, ["uncertainty", key], bad, f"levels 1..{framework.max_level}")


def check_framework(framework: Framework, denominators: dict) -> None:
    """The framework's method columns, and every denominator it names declared in study.yaml."""
    check_framework_columns(framework)
    if "denominator" in framework.table:
        used = framework.table["denominator"].fillna("")
        undeclared = used[(used != "") & ~used.isin(list(denominators))]
        if len(undeclared):
            fail("denominator is not declared under denominators in study.yaml", framework.source,
                 ["denominator"], undeclared.iloc[0], f"one of {sorted(denominators)}")
