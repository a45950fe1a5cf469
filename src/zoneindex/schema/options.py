"""The options of every method, read from the method modules' registries, never written out here.

A method's options are the keyword arguments of its registered function (after the data arguments),
with their types and defaults, or, where a registry holds a mapping instead of a function, that mapping
of option -> default. So a method added to its family's registry is accepted by study.yaml with exactly
its own options, and listed in docs/study-reference.md, without any edit of this package.
"""
from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag, create_model, field_validator

from zoneindex import aggregate, impute, normalise, treat, weight
from zoneindex.schema.base import Section


@dataclass(frozen=True)
class Family:
    """One step of ``methods:``: its registry (name -> function, option mapping or None), how many leading
    arguments of a function are data, and the keyword arguments the engine supplies itself."""

    step: str
    registry: dict
    skip: int
    context: tuple = ()
    extra: tuple = ()          # names accepted besides the registry's ("none" for imputation)
    title: str = ""


FAMILIES = {
    "imputation": Family("imputation", impute.IMPUTERS, 1, ("groups",), ("none",), "missing indicator values"),
    "outliers": Family("outliers", treat.OUTLIER_METHODS, 1, (), (), "outlier treatment"),
    "normalisation": Family("normalisation", normalise.NORMALISERS, 3, (), (), "normalisation of indicators"),
    "weights": Family("weights", weight.WEIGHTERS, 2, (), (), "nominal weights"),
}


def _yaml_type(annotation, default):
    """The type a YAML value must have: tuples are YAML lists (of the same length as the default)."""
    if annotation is inspect.Parameter.empty or annotation is None:
        if isinstance(default, tuple):
            item = float if all(isinstance(v, (int, float)) for v in default) else Any
            return Annotated[list[item], Field(min_length=len(default), max_length=len(default))]
        if isinstance(default, bool):
            return bool
        if isinstance(default, (int, float)):
            return float
        if isinstance(default, str):
            return str
        return Any
    origin = typing.get_origin(annotation)
    if annotation is tuple or origin is tuple:
        return list[Any] if not isinstance(default, tuple) else _yaml_type(inspect.Parameter.empty, default)
    if origin in (Union, getattr(__import__("types"), "UnionType", Union)):
        members = [_yaml_type(a, inspect.Parameter.empty) if a is not type(None) else type(None)
                   for a in typing.get_args(annotation)]
        return Union[tuple(members)]
    return annotation


def options_of(entry, skip: int, context: tuple = ()) -> dict[str, tuple[Any, Any]]:
    """option -> (type, default) of one registry entry (``...`` as default: required)."""
    if entry is None:
        return {}
    if isinstance(entry, dict):
        return {name: (_yaml_type(inspect.Parameter.empty, default), default) for name, default in entry.items()}
    try:
        hints = typing.get_type_hints(entry)
    except Exception:  # an annotation that cannot be resolved: fall back to the defaults' types
        hints = {}
    options = {}
    for parameter in list(inspect.signature(entry).parameters.values())[skip:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD) or parameter.name in context:
            continue
        default = ... if parameter.default is parameter.empty else parameter.default
        kind = _yaml_type(hints.get(parameter.name, parameter.annotation), parameter.default)
        options[parameter.name] = (kind, default)
    return options


def summary(entry) -> str:
    """The first sentence of a registered function's docstring (the reference's one-line description)."""
    text = inspect.getdoc(entry) if callable(entry) else ""
    return (text or "").split("\n\n")[0].replace("\n", " ")


def method_models(family: Family, base=Section) -> dict[str, type]:
    """One model per method of the family: ``method`` plus the method's own options."""
    models = {}
    for name in sorted([*family.registry, *family.extra]):
        entry = family.registry.get(name)
        fields = {option: (kind, Field(default=default)) for option, (kind, default) in
                  options_of(entry, family.skip, family.context).items()}
        models[name] = create_model(f"{family.step}_{name}", __base__=base,
                                    __doc__=summary(entry) or f"{family.step} method {name}",
                                    method=(Literal[name], Field(description=f"`{name}`")), **fields)
    return models


def tag_of(value) -> str | None:
    return f"method={value.get('method')}" if isinstance(value, dict) and value.get("method") is not None else None


def choice(models: dict[str, type], description: str):
    """A field type that picks the model named by the value's ``method`` key."""
    members = tuple(Annotated[model, Tag(f"method={name}")] for name, model in models.items())
    return Annotated[Union[members], Discriminator(tag_of), Field(description=description)]


STEP_MODELS = {step: method_models(family) for step, family in FAMILIES.items()}


# --- aggregation: settings shared by every aggregator, plus each aggregator's own options ----------

class LevelRule(Section):
    """The aggregation of the nodes of one level, when it differs from the study's default."""

    method: Literal[aggregate.AGGREGATORS] | None = Field(None, description="the aggregator of this level "
                                                                            "(default: the study's method)")
    p: float | None = Field(None, description="exponent of the generalised mean")
    min_availability: float | None = Field(None, ge=0, le=1, description="share of its applicable children "
                                                                          "a node of this level needs")


class ImputeMissing(Section):
    """Imputation of a missing aggregate (definition 2)."""

    levels: list[int] | None = Field(None, description="levels whose missing nodes are imputed (default: every "
                                                       "aggregate below the index)")
    group: str | None = Field(None, description="entity group column (as under data: groups:); none = all entities")


class AggregationSettings(Section):
    """Rules for missing and non-positive children, chain-linking, levels and imputed aggregates."""

    min_availability: float = Field(0.5, ge=0, le=1, description="share of its applicable children a node needs "
                                                                 "to get a value")
    non_positive: Literal["error", "missing"] = Field("error", description="a geometric or harmonic mean of a "
                                                                           "child <= 0: refuse, or leave missing")
    chain: bool = Field(False, description="NBS chain-linking (needs a base year)")
    by_level: dict[int, Union[Literal[aggregate.AGGREGATORS], LevelRule]] | None = Field(
        None, description="level -> method name, or {method, p, min_availability}")
    impute_missing: ImputeMissing | None = Field(None, description="impute a missing aggregate by the mean of that "
                                                                   "node over the entity's group in the same year")
    p: float | None = Field(None, description="exponent of the generalised mean (the default method's)")

    @field_validator("by_level")
    @classmethod
    def _levels(cls, value):
        if value and any(isinstance(k, bool) or not isinstance(k, int) or k < 2 for k in value):
            raise ValueError(f"by_level keys are levels 2, 3, ... (got {sorted(map(str, value))})")
        return value


AGGREGATION_MODELS = {}
for _name in aggregate.AGGREGATORS:
    _own = {option: (kind, Field(default=default)) for option, (kind, default) in
            options_of(aggregate.OPTIONS.get(_name), 0).items()}
    AGGREGATION_MODELS[_name] = create_model(f"aggregation_{_name}", __base__=AggregationSettings,
                                             __doc__=f"{_name} mean", method=(Literal[_name], Field()), **_own)


def method_names(step: str) -> list[str]:
    return sorted(AGGREGATION_MODELS if step == "aggregation" else STEP_MODELS[step])
