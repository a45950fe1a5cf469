"""Score: normalise, weight and aggregate the clean indicators, and decompose the change since the base.

The result tables are long and tidy:
``scores``  entity, year, code, level, value, illustrative (level 1 = normalised indicator, top = index)
``contributions``  entity, year, code, level, parent, change, to_parent, to_index (base-year studies)
``weights``  code, level, parent, weight, relative_weight, effective_weight
``illustrative`` is True where any illustrative (generated) input value reaches the number, including
through the base-year value it is compared with.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from zoneindex import aggregate, kernel
from zoneindex.cells import to_wide
from zoneindex.clean import NOT_APPLICABLE, clean_study
from zoneindex.errors import InputError
from zoneindex.framework import Framework
from zoneindex.normalise import base_rows, normalise
from zoneindex.schema import merged_methods
from zoneindex.study import Study
from zoneindex.weight import nominal_weights, weights_table


@dataclass
class ScoreResult:
    scores: pd.DataFrame
    contributions: pd.DataFrame | None
    weights: pd.DataFrame
    wide: pd.DataFrame
    flags: pd.DataFrame | None = None   # entity, year, code, flag: n/a nodes and imputed aggregates (score_flags)


def illustrative_reach(flags: pd.DataFrame, framework: Framework, base_year: int | None) -> pd.DataFrame:
    """Which node values an illustrative input reaches (rows = entity-year, columns = every node): a node is
    reached when any indicator below it is, in the row or in the entity's base-year row."""
    reach = flags.astype(bool)
    if base_year is not None:
        reach = reach | base_rows(reach, base_year).fillna(False).astype(bool)
    tree = kernel.Tree.of(framework)
    out = np.zeros((len(reach), len(tree.codes)), dtype=bool)
    out[:, tree.column >= 0] = reach[list(np.array(tree.codes)[tree.column >= 0])].to_numpy()
    for nodes in tree.levels:
        for node in nodes:
            out[:, node.position] = out[:, node.children].any(axis=1)
    return pd.DataFrame(out, index=flags.index, columns=list(tree.codes))


def to_long(wide: pd.DataFrame, framework: Framework, reach: pd.DataFrame) -> pd.DataFrame:
    long = wide.stack(future_stack=True).rename("value").reset_index().rename(columns={"level_2": "code"})
    long.columns = ["entity", "year", "code", "value"]
    long.insert(3, "level", long["code"].map(framework.table["level"]).astype(int))
    long["illustrative"] = reach.stack(future_stack=True).to_numpy()
    return long


FLAG_COLUMNS = ["entity", "year", "code", "level", "flag"]


def applicability(clean: pd.DataFrame, framework: Framework, index: pd.MultiIndex) -> np.ndarray | None:
    """rows × indicators, False where the clean table flags a cell not applicable; None when none is."""
    na = clean["flag"].str.contains(NOT_APPLICABLE, regex=False)
    if not na.any():
        return None
    mask = (clean.assign(na=na).pivot(index=["entity", "year"], columns="indicator", values="na")
            .reindex(index=index, columns=framework.indicators).fillna(False))
    return ~mask.to_numpy(dtype=bool)


def aggregate_groups(study: Study, index: pd.MultiIndex, entities: pd.DataFrame | None = None) -> np.ndarray | None:
    """Each row's entity group for imputed aggregates (``methods.aggregation.impute_missing.group``)."""
    group = (study.methods["aggregation"].get("impute_missing") or {}).get("group")
    if not group:
        return None
    from zoneindex.impute import entity_groups
    from zoneindex.ingest import read_entities

    groups = entity_groups(entities if entities is not None else read_entities(study), group)
    return index.get_level_values("entity").map(groups).to_numpy(dtype=object)


def node_flags(result: kernel.Aggregated, framework: Framework, index: pd.MultiIndex, group: str | None) -> pd.DataFrame:
    """The nodes that do not apply (flag ``not-applicable``, shown as n/a) and the aggregates imputed
    (``imputed:aggregate-mean``)."""
    tree, parts = result.tree, []
    if result.applicable is not None:
        node, row = np.nonzero(~result.applicable)
        parts.append(pd.DataFrame({"entity": index.get_level_values("entity")[row],
                                   "year": index.get_level_values("year")[row],
                                   "code": np.array(tree.codes)[node], "flag": NOT_APPLICABLE}))
    if result.imputed is not None:
        slot, row = np.nonzero(result.imputed[:, :, 0])
        parts.append(pd.DataFrame({"entity": index.get_level_values("entity")[row],
                                   "year": index.get_level_values("year")[row],
                                   "code": np.array(tree.codes)[tree.aggregates[slot]],
                                   "flag": "imputed:aggregate-mean" + (f":{group}" if group else "")}))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=FLAG_COLUMNS)
    frame["level"] = frame["code"].map(framework.table["level"])
    return frame[FLAG_COLUMNS]


def shown(table: pd.DataFrame, flags: pd.DataFrame | None, names: dict | None = None) -> pd.DataFrame:
    """A table of values (rows = entity or year, columns = codes or names) with "n/a" where the node does
    not apply, for display (the stored tables keep the missing value)."""
    if flags is None or flags.empty or NOT_APPLICABLE not in set(flags["flag"]):
        return table
    na = flags[flags["flag"] == NOT_APPLICABLE]
    out = table.astype(object)
    rename = names or {}
    axis_name = table.index.name
    for row in na.itertuples():
        key = row.entity if axis_name == "entity" else row.year
        column = rename.get(row.code, row.code)
        if key in out.index and column in out.columns and (axis_name == "entity" or len(set(na["entity"])) == 1):
            out.at[key, column] = "n/a"
    return out


def score(study: Study, clean: pd.DataFrame, node_weights: dict | None = None,
          entities: pd.DataFrame | None = None) -> ScoreResult:
    """Normalise, weight and aggregate the clean table with the study's methods; ``node_weights``
    (code -> raw weight) replaces the weighting method's weight of those nodes (the what-if API).
    Cells flagged not applicable are n/a, not missing; ``entities`` (the entities table) gives the groups
    of imputed aggregates (read from the raw files when not given)."""
    fw, methods = study.framework, study.methods
    matrix = to_wide(clean, fw)
    norm_spec = dict(methods["normalisation"])
    normalised = normalise(matrix, fw, study.base_year, norm_spec.pop("method"), **norm_spec)
    weight_spec = dict(methods["weights"])
    nominal = nominal_weights(fw, weight_spec.pop("method"), normalised, **weight_spec)
    if node_weights:
        nominal = nominal.copy()
        nominal[list(node_weights)] = [float(w) for w in node_weights.values()]
    details: dict = {}
    wide, contributions = score_normalised(study, normalised, nominal, applicability(clean, fw, normalised.index),
                                           aggregate_groups(study, normalised.index, entities), details)
    flags = (clean.assign(illustrative=clean["flag"].str.contains("illustrative"))
             .pivot(index=["entity", "year"], columns="indicator", values="illustrative")
             .reindex(index=wide.index, columns=fw.indicators).fillna(False))
    reach = illustrative_reach(flags, fw, study.base_year)
    scores = to_long(wide, fw, reach)
    if contributions is not None:
        contributions["illustrative"] = reach.stack(future_stack=True).reindex(
            pd.MultiIndex.from_frame(contributions[["entity", "year", "code"]])).to_numpy()
    return ScoreResult(scores, contributions, weights_table(fw, nominal), wide, details.get("flags"))


def score_normalised(study: Study, normalised: pd.DataFrame, weights: pd.Series, applicable=None, groups=None,
                     details: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The study's aggregation of a normalised matrix with the given nominal weights (see :func:`aggregate_frame`)."""
    return aggregate_frame(study.framework, normalised, weights, study.methods["aggregation"], study.base_year,
                           bool(study.methods.get("rebase")), applicable, groups, details)


def aggregate_frame(framework: Framework, normalised: pd.DataFrame, weights: pd.Series | None, aggregation: dict,
                    base_year: int | None, rebase: bool, applicable=None, groups=None,
                    details: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The kernel on one replication: every node's score (rows = entity-year, columns = every node code)
    and, with a base year, the long table of contributions (entity, year, code, level, parent, change,
    to_parent, to_index). ``weights`` None: the framework's own. ``applicable`` and ``groups`` as
    ``kernel.aggregate`` takes them; ``details``, when given, receives the node flags (``flags``)."""
    tree = kernel.Tree.of(framework)
    rows = kernel.Rows.of(normalised.index, base_year)
    plan = kernel.Plan.of(aggregation, framework.max_level, rebase, base_year)
    raw = (framework.table["weight"] if weights is None else weights).reindex(list(tree.codes))
    relative = kernel.relative_weights(raw.to_numpy(dtype=float)[None, :], tree)
    result = kernel.aggregate(normalised[list(tree.indicators)].to_numpy(dtype=float), relative, tree, plan, rows,
                              applicable, groups)
    if details is not None:
        details["flags"] = node_flags(result, framework, normalised.index, plan.impute_group)
    wide = pd.DataFrame(result.full()[:, :, 0].T, index=normalised.index, columns=list(tree.codes))
    if base_year is None:
        return wide, None
    parts = kernel.contributions(result, plan, rows)
    index = normalised.index[parts.rows]
    n_nodes = len(tree.codes)
    frame = pd.DataFrame({"entity": np.repeat(index.get_level_values("entity"), n_nodes),
                          "year": np.repeat(index.get_level_values("year"), n_nodes),
                          "code": np.tile(list(tree.codes), len(index)),
                          "change": parts.change.ravel(), "to_parent": parts.to_parent.ravel(),
                          "to_index": parts.to_index.ravel()})
    frame.insert(3, "level", frame["code"].map(framework.table["level"]).astype(int))
    frame.insert(4, "parent", frame["code"].map(framework.table["parent"]))
    return wide, frame


def sorted_for_output(frame: pd.DataFrame, framework: Framework) -> pd.DataFrame:
    """Stable row order for files: entity, year, then the framework's own node order."""
    order = {code: i for i, code in enumerate(framework.codes)}
    key = frame["code"].map(order)
    return frame.assign(_order=key).sort_values(["entity", "year", "_order"]).drop(columns="_order") \
        .reset_index(drop=True)


def describe_methods(study: Study, lang: str = "en") -> str:
    """Markdown with the formulas and parameters of exactly the method choices this study makes, in ``lang``
    (for the notebooks; the text itself is in :mod:`zoneindex.methodtext`)."""
    from zoneindex.methodtext import describe_score_methods  # methodtext reads this stage's neighbours

    return describe_score_methods(study, lang)


@dataclass
class WorkedStep:
    """One aggregate on the way from an indicator to the index: its children in the year, their relative
    weights and the mean they give (``mean``; ``base_mean`` in the base year), and the aggregate's value
    after rebasing (``value``, computed here) beside the run's own value (``scored``)."""
    code: str
    method: str
    children: pd.DataFrame   # code, value, relative_weight, term (w̃·v, or v^w̃ for the geometric mean)
    mean: float
    base_mean: float | None
    value: float
    scored: float


@dataclass
class WorkedExample:
    indicator: str
    entity: str
    year: int
    raw: pd.DataFrame        # year, raw_value, normalised: the indicator's clean raw values and scores
    steps: list[WorkedStep]


def worked_example(study: Study, clean: pd.DataFrame, scores: pd.DataFrame, weights: pd.DataFrame, code: str,
                   year: int, entity: str | None = None) -> WorkedExample:
    r"""One indicator's way into the index, recomputed by hand from the run's tables: its raw values and
    normalised scores, then for every aggregate above it the weighted mean of its children in ``year``
    (relative weights renormalised over the children that have a value) and, when the study rebases, the
    rebasing $D = 100\,A_t / A_b$. Power means only (arithmetic, geometric, harmonic, generalised)."""
    fw = study.framework
    if code not in fw.indicators:
        raise InputError("the worked example starts from an indicator", value=code, expected=f"one of {fw.indicators}")
    entity = entity or scores["entity"].iloc[0]
    own = scores[scores["entity"] == entity].pivot(index="year", columns="code", values="value")
    raw = clean[(clean["entity"] == entity) & (clean["indicator"] == code)].set_index("year")["value"]
    table = pd.DataFrame({"year": own.index, "raw_value": raw.reindex(own.index).to_numpy(),
                          "normalised": own[code].to_numpy()})
    relative = weights.set_index("code")["relative_weight"]
    rebase = bool(study.methods.get("rebase")) and study.base_year is not None
    steps = []
    for node in fw.ancestors(code):
        method, p = aggregate.method_for_level(study.methods["aggregation"], int(fw.table.at[node, "level"]))
        if method not in aggregate.POWER_OF and method != "generalised":
            raise InputError("the worked example recomputes power means only", value=method,
                             expected="arithmetic, geometric, harmonic or generalised")
        kids = [c for c in fw.codes if fw.table.at[c, "parent"] == node]

        def mean_in(when: int) -> tuple[float, pd.DataFrame]:
            values = own.loc[when, kids].astype(float)
            present = values.notna()
            w = relative[kids].where(present) / relative[kids][present].sum()
            term = w * values if p == 1.0 else values ** w if p is None else w * values ** p
            total = float(term.sum()) if p == 1.0 else float(term.prod()) if p is None else float(term.sum()) ** (1 / p)
            return total, pd.DataFrame({"code": kids, "value": values.to_numpy(), "relative_weight": w.to_numpy(),
                                        "term": term.to_numpy()})

        mean, children = mean_in(year)
        base_mean = mean_in(study.base_year)[0] if rebase else None
        value = 100 * mean / base_mean if rebase else mean
        steps.append(WorkedStep(node, method, children, mean, base_mean, value, float(own.at[year, node])))
    return WorkedExample(code, entity, year, table, steps)


def example_indicator(study: Study, contributions: pd.DataFrame | None, entity: str, year: int) -> str:
    """The indicator the worked example follows: the one that adds most to the index change of ``entity`` in
    ``year`` (the first indicator when there is no base year)."""
    if contributions is None:
        return study.framework.indicators[0]
    own = contributions[(contributions["entity"] == entity) & (contributions["year"] == year)
                        & (contributions["level"] == 1)].dropna(subset=["to_index"])
    return str(own.loc[own["to_index"].abs().idxmax(), "code"]) if len(own) else study.framework.indicators[0]


def headline_table(scores: pd.DataFrame, study: Study, lang: str = "en") -> pd.DataFrame:
    """The index and its dimensions: by year for one entity, or the latest year's top entities."""
    fw = study.framework
    top_levels = scores[scores["level"] >= max(fw.max_level - 1, 2)]
    names = fw.labels(lang)
    if scores["entity"].nunique() == 1:
        entity = scores["entity"].iloc[0]
        table = top_levels[top_levels["entity"] == entity].pivot(index="year", columns="code", values="value")
        return table[[c for c in fw.codes if c in table]].rename(columns=names)
    latest = top_levels[top_levels["year"] == top_levels["year"].max()]
    table = latest.pivot(index="entity", columns="code", values="value")
    return table[[c for c in fw.codes if c in table]].sort_values(fw.root, ascending=False).rename(columns=names)


def contribution_table(contributions: pd.DataFrame, study: Study, year: int, lang: str = "en") -> pd.DataFrame:
    """Each dimension's and sub-area's change since the base year and its points of the index change."""
    fw = study.framework
    rows = contributions[(contributions["year"] == year) & (contributions["level"] >= 2)]
    index_change = rows.loc[rows["code"] == fw.root, "change"].sum()
    table = rows.assign(name=rows["code"].map(fw.labels(lang)),
                        share_of_index_change=rows["to_index"] / index_change if index_change else float("nan"))
    return table[["entity", "code", "name", "level", "change", "to_index", "share_of_index_change"]] \
        .sort_values(["entity", "level"], ascending=[True, False]).reset_index(drop=True)


def with_methods(study: Study, overrides: dict) -> Study:
    """A copy of the study whose method choices are updated step by step from ``overrides``.

    A step given with a new ``method`` is replaced whole (the old method's parameters do not apply to
    the new one), except aggregation, whose rules for missing children always carry over.
    """
    methods = merged_methods(study.methods, overrides)
    return Study(study.name, study.folder, {**study.config, "methods": methods}, study.framework)


def ranks(scores: pd.DataFrame, code: str, year: int) -> pd.Series:
    """Rank of each entity on ``code`` in ``year`` (1 = highest value, ties share the best rank)."""
    subset = scores[(scores["code"] == code) & (scores["year"] == year)].set_index("entity")["value"]
    return subset.rank(ascending=False, method="min")


def rank_shifts(nominal: pd.DataFrame, variants: dict[str, pd.DataFrame], code: str, year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ranks under each alternative method set beside the nominal ranks, and the mean absolute shift.

    Returns (table: one row per entity with the nominal rank and one column per variant, sorted by the
    nominal rank; summary: per variant the mean and largest absolute rank shift and Spearman's ρ).
    """
    table = pd.DataFrame({"nominal": ranks(nominal, code, year)})
    for name, scores in variants.items():
        table[name] = ranks(scores, code, year)
    table = table.sort_values("nominal")
    shifts = table[list(variants)].sub(table["nominal"], axis=0).abs()
    summary = pd.DataFrame({"mean_abs_rank_shift": shifts.mean(), "max_abs_rank_shift": shifts.max(),
                            "spearman_rho": table[list(variants)].corrwith(table["nominal"], method="spearman")})
    return table, summary


def alternatives(study: Study, ingested: pd.DataFrame, years: range,
                 entities: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Scores under each alternative method set of the study (``alternatives:`` in study.yaml).

    Every alternative reruns the clean stage too, since imputation, screening and outlier choices
    live there; the nominal study is not among them.
    """
    return {name: rescore(with_methods(study, overrides), ingested, years, entities).scores
            for name, overrides in (study.config.get("alternatives") or {}).items()}


def rescore(study: Study, ingested: pd.DataFrame, years: range, entities: pd.DataFrame | None = None) -> ScoreResult:
    """Clean and score ingested data with the study's methods (for alternatives and revision analysis)."""
    cleaned, _ = clean_study(study, ingested, years, entities)
    return score(study, cleaned)


def trajectories(nominal: pd.DataFrame, variants: dict[str, pd.DataFrame], code: str, entity: str) -> pd.DataFrame:
    """One entity's value of ``code`` by year under the nominal and every alternative method set."""
    def series(scores: pd.DataFrame) -> pd.Series:
        own = scores[(scores["code"] == code) & (scores["entity"] == entity)]
        return own.set_index("year")["value"]
    return pd.DataFrame({"nominal": series(nominal), **{name: series(s) for name, s in variants.items()}})
