"""The sections of study.yaml as models: every key, its type, its default and what it means.

The descriptions below are the text of docs/study-reference.md (generated: ``zoneindex schema --markdown``).
"""
from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import Field, field_validator, model_validator

from zoneindex.schema.base import Section, unknown_key
from zoneindex.schema.options import AGGREGATION_MODELS, STEP_MODELS, choice

METHOD_STEPS = ("imputation", "screening", "outliers", "normalisation", "weights", "aggregation")
ROUNDING = ("half_even", "half_up")


class Languages(Section):
    """Text in English and, optionally, Chinese."""

    en: str = Field(description="English")
    zh: str | None = Field(None, description="Chinese (English is used where it is missing)")


class Years(Section):
    """The years the study covers."""

    first: int = Field(description="first year of data")
    last: int = Field(description="latest year of data (the default edition)")

    @model_validator(mode="after")
    def _order(self):
        if self.first > self.last:
            raise ValueError(f"years.first {self.first} is after years.last {self.last}")
        return self


class Denominator(Section):
    """A series that indicators are divided by (framework column ``denominator``)."""

    name_en: str = Field(description="English name")
    name_zh: str | None = Field(None, description="Chinese name")
    unit: str = Field("", description="unit it arrives in")


class Columns(Section):
    """Column names of a ``long`` raw file, where they differ from the standard ones."""

    entity: str = Field("entity", description="the entity (zone, country, province)")
    year: str = Field("year", description="the year of the value")
    indicator: str = Field("indicator", description="the indicator code")
    value: str = Field("value", description="the value")
    unit: str | None = Field("unit", description="its unit")
    source: str | None = Field("source", description="where the value comes from")
    status: str | None = Field("status", description="`illustrative` or `public`")
    data_year: str | None = Field(None, description="the year the value refers to, when it differs from the "
                                                    "year it is used for (definition 5)")


class KeepYears(Section):
    """Years of a raw file that the study reads (the others are left out and counted)."""

    first: int | None = Field(None, description="first year kept")
    last: int | None = Field(None, description="last year kept")


def _regex(value):
    if isinstance(value, str):
        try:
            re.compile(value)
        except re.error as bad:
            raise ValueError(f"not a regular expression: {bad}") from None
    return value


class DataFile(Section):
    """One raw file in data/raw/<study>/ (with its <file>.source.yaml) and its layout."""

    file: str = Field(description="file name in data/raw/<study>/")
    format: Literal["long", "wide_by_year", "wide", "entry"] = Field(
        "long", description="`long` (entity, year, indicator, value), `wide_by_year` (<variable>_<year> columns), "
                            "`wide` (COINr iData: one column per indicator) or `entry` (a data-entry workbook)")
    encoding: str | None = Field(None, description="CSV encoding (default UTF-8)")
    sheet: Union[str, int, None] = Field(None, description="Excel sheet name or position")
    columns: Columns | None = Field(None, description="column names of a long file")
    entity: str | None = Field(None, description="entity column (wide layouts)")
    entity_name: str | None = Field(None, description="column with the entity's display name (wide)")
    year: str | None = Field(None, description="year column (wide)")
    fixed_year: int | None = Field(None, description="the year of every value of a wide file without a year column")
    groups: list[str] = Field([], description="entity group columns (used by imputation within groups)")
    variables: dict[str, str] | None = Field(None, description="framework code -> column prefix (wide_by_year)")
    exclude_entities: Union[str, list[str], None] = Field(None, description="entities left out: a regular "
                                                                            "expression or a list of names")
    indicators: dict[str, Union[str, list[str]]] | None = Field(
        None, description="raw code (a column of a wide file) -> framework code(s); other series, and other "
                          "columns of a wide file (notes, colour codes), are left out")
    keep_years: KeepYears | None = Field(None, description="years read from the file")
    source: str | None = Field(None, description="the source named for every value of the file")
    data_year_lag: int | None = Field(None, ge=0, description="every value refers to the year `year - lag` "
                                                              "(definition 5: data year beside the edition year)")

    _check_regex = field_validator("exclude_entities")(classmethod(lambda cls, v: _regex(v)))

    @model_validator(mode="after")
    def _layout(self):
        if self.format == "wide_by_year" and (self.entity is None or not self.variables):
            raise ValueError("a wide_by_year file needs entity: and variables:")
        if self.format == "wide" and self.entity is None:
            raise ValueError("a wide file needs entity:")
        if self.format == "wide" and self.year is None and self.fixed_year is None:
            raise ValueError("a wide file without a year column (year:) needs fixed_year: the year of its values")
        return self


class Reference(Section):
    """Published values the results are compared with (definition 6: tolerance and rounding)."""

    file: str = Field(description="file name in data/raw/<study>/")
    format: Literal["table", "wide_by_year"] = Field("table", description="`table` (one row per value) or "
                                                                          "`wide_by_year`")
    encoding: str | None = Field(None, description="CSV encoding")
    sheet: Union[str, int, None] = Field(None, description="Excel sheet")
    entity: str | None = Field(None, description="entity column (wide_by_year) or the one entity of a table")
    exclude_entities: Union[str, list[str], None] = Field(None, description="entities left out (regular "
                                                                            "expression)")
    variables: dict[str, str] | None = Field(None, description="node code -> column prefix (wide_by_year)")
    filter_column: str | None = Field(None, description="column naming the published component")
    codes: dict[str, str] | None = Field(None, description="published component -> node code")
    index_column: str | None = Field(None, description="column naming the index (with `only`)")
    only: str | None = Field(None, description="the rows of this index only")
    year_column: str | None = Field(None, description="year column (table)")
    value_column: str | None = Field(None, description="value column (table)")
    source_column: str | None = Field(None, description="source column (table)")
    note_column: str | None = Field(None, description="note column (table)")
    compare_years: list[int] | None = Field(None, description="years of ours set beside a context value")
    rule: str = Field("context", description="`context` (shown beside), `match` (compared with `decimals`, "
                                             "`rounding`, `tolerance`) or the shorthand `exact:<decimals>`")
    decimals: int | None = Field(None, ge=0, description="our value is rounded to this many decimals (match)")
    rounding: Literal[ROUNDING] = Field("half_even", description="`half_even` (banker's, as NumPy) or `half_up` "
                                                                 "(as printed by most statistical offices)")
    tolerance: float = Field(0.0, ge=0, description="largest |ours rounded − published| counted as a match")

    @field_validator("rule")
    @classmethod
    def _rule(cls, value):
        if value not in ("context", "match") and not re.fullmatch(r"exact:\d+", value):
            raise ValueError(f"rule {value!r} is not context, match or exact:<decimals>")
        return value

    @model_validator(mode="after")
    def _complete(self):
        if self.rule == "match" and self.decimals is None:
            raise ValueError("rule: match needs decimals:")
        if self.format == "table" and (self.year_column is None or self.value_column is None):
            raise ValueError("a table of published values needs year_column: and value_column:")
        if self.format == "wide_by_year" and (self.entity is None or not self.variables):
            raise ValueError("a wide_by_year reference needs entity: and variables:")
        return self


class UnitConversion(Section):
    """A declared conversion of a raw unit into the framework's unit."""

    from_: str = Field(alias="from", description="unit in the raw file")
    to: str = Field(description="unit of the framework")
    factor: float = Field(description="value in `to` = factor × value in `from`")


class Screening(Section):
    """Screening of entity-years by data availability (definition 3: per level)."""

    min_availability: float = Field(0.0, ge=0, le=1, description="an entity-year is dropped when less than this "
                                                                 "share of its applicable indicators has a value")
    count: Literal["observed", "present"] = Field("observed", description="`observed` (read from a raw file) "
                                                                          "or `present` (after imputation)")
    by_level: dict[int, Annotated[float, Field(ge=0, le=1)]] | None = Field(
        None, description="level -> share of the level's applicable nodes that must have data")


class Methods(Section):
    """Every method choice, by name, with its options (the options of each method: below)."""

    imputation: choice(STEP_MODELS["imputation"], "imputation of missing indicator values")
    screening: Screening | None = Field(None, description="dropping entity-years with too little data")
    outliers: choice(STEP_MODELS["outliers"], "outlier treatment")
    normalisation: choice(STEP_MODELS["normalisation"], "normalisation of the indicators")
    weights: choice(STEP_MODELS["weights"], "nominal weights")
    aggregation: choice(AGGREGATION_MODELS, "aggregation up the hierarchy")
    rebase: bool = Field(False, description="every aggregate = 100 in the base year")


class NotApplicable(Section):
    """Cells that do not apply to an entity (definition 1): never imputed, not counted against availability,
    shown as n/a."""

    entity: Union[str, list[str]] = Field(description="entity or entities")
    codes: list[str] = Field(description="indicator codes, or aggregate codes (every indicator below them)")
    years: KeepYears | None = Field(None, description="the years it holds for (default: all)")
    reason: str = Field(description="why the cells do not apply (shown in the write-up)")


class Entities(Section):
    """Explicit entity lists (definition 3): the study's entities, before any method runs."""

    include: list[str] | None = Field(None, description="only these entities")
    exclude: list[str] | None = Field(None, description="every entity but these")


# The uncertainty section mirrors zoneindex.uncertainty.spec.parse_spec (which the uncertainty analysis runs
# on top): its keys, and its messages, so that a problem reads the same whichever of the two finds it.

def _in(low, high, message: str, whole: bool = False, open_low: bool = False, open_high: bool = False):
    def check(cls, value):
        if value is None:
            return value
        if (whole and (isinstance(value, bool) or not isinstance(value, int))) or value < low or value > high \
                or (open_low and value == low) or (open_high and value == high):
            raise ValueError(message)
        return value
    return classmethod(check)


class Target(Section):
    """The value the sensitivity analysis explains."""

    key_noun: ClassVar[str] = "target key"

    entity: str | None = Field(None, description="entity (default: focus_entity)")
    year: int | None = Field(None, description="year (default: the edition)")
    code: str | None = Field(None, description="node code (default: the index)")


class WeightNoise(Section):
    """Weights × U(1 − noise, 1 + noise), drawn afresh for every replication."""

    key_noun: ClassVar[str] = "weight-noise option"
    noise: float = Field(0.25, description="half-width of the uniform factor, in (0, 1)")
    _noise = field_validator("noise")(_in(0, 1, "weight noise must be in (0, 1)", open_low=True, open_high=True))
    levels: list[int] | None = Field(None, description="levels whose weights are perturbed (1 = indicators)")
    separate_levels: bool = Field(False, description="each level its own Sobol input")


class ExpertWeights(Section):
    """Expert-panel AHP weights drawn within the experts' range: a pool of seeded draws, one per replication."""

    key_noun: ClassVar[str] = "from_experts option"
    from_experts: Union[bool, dict[str, Any]] = Field(description="true (the study's ahp_panel options) or a "
                                                                  "mapping of ahp_panel options")
    draws: int = Field(64, description="size of the pool of draws (>= 2)")


def _steps(value: dict, at: tuple) -> dict:
    for step in value or {}:
        if step not in METHOD_STEPS:
            raise unknown_key(step, METHOD_STEPS, at, "method step")
    return value


class Uncertainty(Section):
    """The uncertainty and sensitivity analysis (validated in full by zoneindex.uncertainty.parse_spec)."""

    key_noun: ClassVar[str] = "uncertainty option"
    runs: int = Field(1000, description="Monte Carlo replications (>= 2)")
    sobol_n: int = Field(256, description="base sample size of the Sobol design (>= 2)")
    seed: int = Field(1, description="random seed (>= 0)")
    nboot: int = Field(1000, description="bootstrap resamples of the Sobol indices (>= 0)")
    confidence: float = Field(0.9, description="width of the intervals, in (0, 1)")
    sampler: Literal["random", "sobol"] = Field("random", description="sampler of the replications")
    memory_mb: float = Field(512, description="memory budget of one batch (MB, >= 16)")
    _counts = field_validator("runs", "sobol_n", mode="before")(_in(2, float("inf"), "not a whole number in range",
                                                                     whole=True))
    _zeros = field_validator("seed", "nboot", mode="before")(_in(0, float("inf"), "not a whole number in range",
                                                                  whole=True))
    _confidence = field_validator("confidence")(_in(0, 1, "confidence must be in (0, 1)", open_low=True,
                                                    open_high=True))
    _memory = field_validator("memory_mb")(_in(16, float("inf"), "memory budget too small"))
    target: Target | None = Field(None, description="the value the Sobol indices explain")
    levels: list[int] | None = Field(None, description="levels summarised")
    rank_levels: list[int] | None = Field(None, description="levels whose ranks are summarised")
    inputs: dict[str, Union[WeightNoise, ExpertWeights, list[dict[str, Any]]]] = Field(
        description="method step -> list of alternatives (each a method setting, merged into the study's "
                    "as an alternative is; aggregation alternatives may name data-side companions under "
                    "`with:`), or for weights {noise, levels, separate_levels} or {from_experts, draws}")

    @model_validator(mode="before")
    @classmethod
    def _input_steps(cls, data):
        if isinstance(data, dict) and isinstance(data.get("inputs"), dict):
            _steps(data["inputs"], ("inputs",))
        return data


class EntrySettings(Section):
    """The data-entry workbook of ``zoneindex new-year`` (see the README, "Adding a year of data")."""

    jump_factor: float = Field(10.0, gt=1, description="a typed value more than this many times the entity's latest "
                                                       "value (or less than its inverse) stops the run with its cell "
                                                       "named, unless its note says confirmed; the framework column "
                                                       "jump_factor sets it per indicator")


class Coupling(Section):
    """Coupling coordination degree (耦合协调度) of parts of the index (the validate stage's table
    ``coupling``): C, T, D and the grade band per entity-year, after rescaling the parts into (0, 1]."""

    key_noun: ClassVar[str] = "coupling option"
    of: Union[Literal["dimensions"], list[str]] = Field("dimensions", description="`dimensions` (the index's "
                                                        "children) or a list of node codes (two or more)")
    form: Literal["standard", "wang2021", "both"] = Field("both", description="`standard` C = n[ΠU/(ΣU)^n]^(1/n), "
                                                          "`wang2021` (the corrected model of 王淑佳 et al. 2021) "
                                                          "or `both`")
    weights: Union[Literal["equal", "framework"], dict[str, float]] = Field(
        "equal", description="α of T = Σ α_i U_i: `equal`, `framework` (the nodes' nominal weights) or "
                             "{code: weight}; rescaled to sum to 1")
    rescale: Union[Annotated[list[float], Field(min_length=2, max_length=2)], Literal["none"]] = Field(
        [0.01, 0.99], description="[a, b] with 0 < a < b <= 1: each part min-max rescaled into it (SPSSAU's "
                                  "default); `none`: the values are used as they are and must lie in (0, 1]")
    over: Literal["panel", "year"] = Field("panel", description="rows of the min-max: every entity-year "
                                                                "(`panel`) or each year's entities (`year`)")

    @field_validator("rescale")
    @classmethod
    def _inside_unit_interval(cls, value):
        if isinstance(value, list) and not 0 < value[0] < value[1] <= 1:
            raise ValueError("rescale must be [a, b] with 0 < a < b <= 1 (C needs values in (0, 1])")
        return value


class Obstacles(Section):
    """Obstacle degree (障碍度): each indicator's and each aggregate's share of an entity-year's weighted
    shortfall from the ideal (the validate stage's tables ``obstacles`` and ``top_obstacles``)."""

    key_noun: ClassVar[str] = "obstacle option"
    over: Literal["panel", "year"] = Field("panel", description="rows of the direction-adjusted min-max: every "
                                                                "entity-year (`panel`) or each year's entities")
    top: int = Field(3, ge=1, description="obstacles listed per entity-year, among the indicators and among the "
                                          "dimensions")


class SmallBases(Section):
    """The flag of small bases under ratio-to-base (the validate stage's table ``small_bases``)."""

    key_noun: ClassVar[str] = "small-base option"
    factor: float = Field(10.0, gt=1, description="an entity's indicator is flagged when its value in some year "
                                                  "is at least this many times its base-year value (a ratio-to-"
                                                  "base score of 100 × factor), direction-adjusted")


class ValidateSettings(Section):
    """Analyses beside the scores, run by the validate stage (each opt-in, except the small-base flag,
    which every ratio-to-base study gets with its default factor)."""

    coupling: Coupling | None = Field(None, description="coupling coordination degree of parts of the index")
    obstacles: Obstacles | None = Field(None, description="obstacle degree: the gap-to-ideal decomposition")
    small_bases: SmallBases | None = Field(None, description="threshold of the small-base flag")


class StudyFile(Section):
    """seeds/<study>/study.yaml: the whole definition of a study."""

    study: str = Field(description="the study's name: its folder under seeds/")
    title: Languages = Field(description="the index's title")
    years: Years = Field(description="the years of data")
    base_year: int | None = Field(None, description="base year (= 100); none for a cross-section by year")
    framework: str = Field(description="the framework table in the study folder (framework.csv)")
    seed: int = Field(0, description="seed of any random step of the study")
    illustrative: bool = Field(False, description="true when any input is generated, not real data")
    illustrative_notice: Languages | None = Field(None, description="the notice shown on every output")
    focus_entity: str | None = Field(None, description="the entity drawn in the time-series figures")
    entity_names: str | None = Field(None, description="table of entity spellings -> standard names")
    denominators: dict[str, Denominator] | None = Field(None, description="series indicators are divided by")
    unit_conversions: list[UnitConversion] | None = Field(None, description="declared unit conversions")
    entities: Entities | None = Field(None, description="explicit entity include / exclude lists")
    not_applicable: list[NotApplicable] | None = Field(None, description="cells that do not apply (n/a)")
    data: list[DataFile] = Field(description="the raw files and their layouts")
    references: list[Reference] | None = Field(None, description="published values to compare with")
    methods: Methods = Field(description="every method choice")
    alternatives: dict[str, dict[str, Any]] | None = Field(
        None, description="name -> method steps that differ from methods: (a step with a new method is "
                          "replaced whole; aggregation settings are merged)")
    uncertainty: Uncertainty | None = Field(None, description="uncertainty and sensitivity analysis")
    entry: EntrySettings | None = Field(None, description="checks of the values typed into data-entry workbooks")
    validate_: ValidateSettings | None = Field(None, alias="validate", description="analyses beside the scores "
                                                                                "in the validate stage")

    @model_validator(mode="before")
    @classmethod
    def _alternative_steps(cls, data):
        if isinstance(data, dict) and isinstance(data.get("alternatives"), dict):
            for name, steps in data["alternatives"].items():
                if isinstance(steps, dict):
                    _steps(steps, ("alternatives", name))
        return data
