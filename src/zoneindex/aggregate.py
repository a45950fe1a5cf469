"""Aggregation up the hierarchy, rebasing to the base year, and the exact decomposition of change.

Every aggregate is a weighted mean of its children. Weights are renormalised over the children that
are present in a row, and a row with fewer than ``min_availability`` (a share of the children) present
gets NaN. With ``rebase`` every aggregate is then expressed as 100 · A_t / A_b, so the index and every
dimension and sub-area equal 100 exactly in the base year, whatever the normalisation.

The change of a node since the base year is split exactly into its children's contributions:
arithmetic mean: c_j = w̃_jt v_jt − w̃_jb v_jb (which sums to A_t − A_b by linearity);
power mean of order p: c_j = ΔA · (w̃_jt v_jt^p − w̃_jb v_jb^p) / Σ_j(…), and for the geometric mean
(p → 0) the same with ln v. Contributions to the index are passed down the tree in proportion, so at
every node the children's contributions add up to the node's own contribution.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from zoneindex.errors import InputError
from zoneindex.framework import Framework

# name -> exponent p of the weighted power mean (None = geometric, the limit p -> 0)
POWER_OF = {"arithmetic": 1.0, "geometric": None, "harmonic": -1.0}
AGGREGATORS = tuple(POWER_OF) + ("generalised", "mazziotta_pareto")


FORMULAS = {
    "arithmetic": r"$$A_{k,t} = \sum_{j \in k} \tilde w_{j} v_{j,t}$$",
    "geometric": r"$$A_{k,t} = \prod_{j \in k} v_{j,t}^{\tilde w_{j}}$$",
    "harmonic": r"$$A_{k,t} = \Big(\sum_{j \in k} \tilde w_{j} / v_{j,t}\Big)^{-1}$$",
    "generalised": r"$$A_{k,t} = \Big(\sum_{j \in k} \tilde w_{j} v_{j,t}^{p}\Big)^{1/p}$$",
    "mazziotta_pareto": r"$$A_{k,t} = M_{k,t} - S_{k,t}\,\frac{S_{k,t}}{M_{k,t}}, \quad M_{k,t} = \sum_{j \in k} "
                        r"\tilde w_j v_{j,t}, \quad S_{k,t}^2 = \sum_{j \in k} \tilde w_j (v_{j,t} - M_{k,t})^2$$ "
                        r"(Mazziotta–Pareto: the mean penalised by the coefficient of variation, so that an unbalanced "
                        r"profile scores lower than a balanced one with the same mean; partially compensatory). Its "
                        r"change is attributed to the children in proportion to the change of $\tilde w_j v_j$.",
}
CHAIN_FORMULA = (
    r"**Chain-linked (NBS China Innovation Index method).** Each aggregate grows by the weighted growth "
    r"of its children between adjacent years: $$G_{k,t} = \sum_{j \in k} \tilde w_j \Big(\frac{v_{j,t}}"
    r"{v_{j,t-1}} - 1\Big), \qquad D_{k,t} = D_{k,t-1}\,(1 + G_{k,t}), \qquad D_{k,b} = 100,$$ and "
    r"backwards $D_{k,t-1} = D_{k,t}/(1 + G_{k,t})$ before the base year. Child $j$ adds "
    r"$c_{j,t} = D_{k,t-1}\tilde w_j (v_{j,t}/v_{j,t-1} - 1)$ points in year $t$; these add up to "
    r"$D_{k,t} - D_{k,t-1}$, and summed over the years since the base year to $D_{k,t} - 100$.")
REBASE_FORMULA = r"$$D_{k,t} = 100\,\frac{A_{k,t}}{A_{k,b}}$$ so that every aggregate equals 100 in the base year $b$."
DECOMPOSITION_FORMULA = (
    r"For an arithmetic mean the change of node $k$ since the base year splits exactly into "
    r"$c_{j} = s_k(\tilde w_{j,t} v_{j,t} - \tilde w_{j,b} v_{j,b})$ with $s_k = 100/A_{k,b}$ when rebased; for a "
    r"geometric mean into $c_j = \Delta D_k \,\frac{\tilde w_j \ln(v_{j,t}/v_{j,b})}{\ln(A_{k,t}/A_{k,b})}$. "
    r"A node's contribution to the index is passed on to its children in proportion to their $c_j$, "
    r"so the contributions of all indicators add up to the index change $I_t - 100$.")


def method_for_level(config: dict, level: int) -> tuple[str, float | None]:
    """Aggregation method and exponent for nodes at ``level`` (``by_level`` overrides the default)."""
    override = (config.get("by_level") or {}).get(level)
    spec = override if isinstance(override, dict) else {"method": override or config["method"],
                                                        "p": config.get("p", 1.0)}
    method = spec["method"]
    if method not in AGGREGATORS:
        raise InputError("unknown aggregation method", column=f"methods.aggregation (level {level})",
                         value=method, expected=f"one of {list(AGGREGATORS)}")
    if method == "mazziotta_pareto":
        return method, 1.0  # its change is attributed like the arithmetic mean's, then scaled (see FORMULAS)
    return method, float(spec.get("p", 1.0)) if method == "generalised" else POWER_OF[method]


def _relative(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    present = ~np.isnan(values)
    w = np.where(present, weights, 0.0)
    total = w.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return w / total


def power_mean(values: np.ndarray, weights: np.ndarray, p: float | None) -> np.ndarray:
    """Row-wise weighted power mean over the non-missing columns (p=None: geometric)."""
    w = _relative(values, weights)
    v = np.nan_to_num(values, nan=1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if p is None:
            return np.exp((w * np.log(v)).sum(axis=1))
        if p == 1.0:
            return (w * np.nan_to_num(values)).sum(axis=1)
        return ((w * v ** p).sum(axis=1)) ** (1.0 / p)


def mazziotta_pareto(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Row-wise M − S²/M over the non-missing columns (M weighted mean, S weighted population sd)."""
    w = _relative(values, weights)
    mean = (w * np.nan_to_num(values)).sum(axis=1)
    spread = (w * (np.nan_to_num(values) - mean[:, None]) ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return mean - spread / mean


def aggregate_values(values: np.ndarray, weights: np.ndarray, method: str, p: float | None) -> np.ndarray:
    if method == "mazziotta_pareto":
        return mazziotta_pareto(values, weights)
    return power_mean(values, weights, p)


def _terms(values: np.ndarray, weights: np.ndarray, p: float | None) -> np.ndarray:
    """The additive pieces of the aggregate's transform, one per child (NaN children give 0)."""
    w = _relative(values, weights)
    v = np.nan_to_num(values, nan=1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        piece = np.log(v) if p is None else v ** p
    return np.nan_to_num(w * piece)


def child_contributions(values_t, values_b, weights, p, aggregate_t, aggregate_b, exact_linear=True) -> np.ndarray:
    """Split A_t − A_b exactly into one contribution per child (rows × children)."""
    delta_terms = _terms(values_t, weights, p) - _terms(values_b, weights, p)
    if p == 1.0 and exact_linear:
        return delta_terms
    total = delta_terms.sum(axis=1, keepdims=True)
    change = (aggregate_t - aggregate_b)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total != 0, change * delta_terms / total, 0.0)


class Aggregation:
    """Aggregate a normalised indicator matrix up a framework and decompose the change since a base."""

    def __init__(self, framework: Framework, config: dict, weights: pd.Series, base_year: int | None,
                 rebase: bool):
        self.framework, self.config, self.base_year = framework, config, base_year
        self.weights = framework.relative_weights(weights)
        self.rebase = rebase and base_year is not None
        self.min_availability = float(config.get("min_availability", 0.5))
        self.chain = bool(config.get("chain", False))
        if self.chain and base_year is None:
            raise InputError("chain-linked aggregation needs a base year", column="methods.aggregation.chain",
                             value=True, expected="a study with base_year")

    def _base_position(self, index: pd.MultiIndex) -> np.ndarray:
        rows = pd.Series(np.arange(len(index)), index=index)
        base = rows.xs(self.base_year, level="year")
        return base.reindex(index.get_level_values("entity")).to_numpy(dtype=float)

    def run(self, normalised: pd.DataFrame) -> pd.DataFrame:
        """All node scores (rows = entity-year, columns = every node code), level by level upwards."""
        fw = self.framework
        scores = normalised[fw.indicators].copy()
        self.raw_aggregates = {}
        self.steps: dict[str, np.ndarray] = {}  # chain-linking: each year's child contributions per node
        self.chain_parts: dict[str, tuple] = {}  # chain-linking: child weights, weighted growth, previous rows
        self.undefined: list[tuple] = []  # (entity, year, node) left NaN because a child was <= 0
        base_pos = self._base_position(scores.index) if self.base_year is not None else None
        for level in range(2, fw.max_level + 1):
            method, p = method_for_level(self.config, level)
            for code in fw.level_codes(level):
                children = fw.children(code)
                values = scores[children].to_numpy(dtype=float)
                if p is None or p <= 0:
                    values = self._non_positive(values, children, scores.index, code, method)
                weights = self.weights[children].to_numpy()
                available = (~np.isnan(values)).mean(axis=1)
                if self.chain:
                    scores[code] = self._chained(code, values, weights, scores.index)
                    continue
                aggregate = aggregate_values(values, weights, method, p)
                aggregate[available < self.min_availability - 1e-12] = np.nan
                aggregate[available == 0] = np.nan
                self.raw_aggregates[code] = aggregate
                if self.rebase:
                    base_value = np.where(np.isnan(base_pos), np.nan,
                                          aggregate[np.nan_to_num(base_pos).astype(int)])
                    aggregate = 100.0 * (aggregate / base_value)  # exactly 100 in the base year
                scores[code] = aggregate
        return scores[fw.codes]

    def _chained(self, code: str, values: np.ndarray, weights: np.ndarray, index: pd.MultiIndex) -> np.ndarray:
        """Chain the weighted growth of the children from D_b = 100 forwards and backwards (CHAIN_FORMULA).

        Keeps each year's child contributions D_{t-1}·w̃_j·g_j in ``self.steps[code]`` for the decomposition.
        """
        rows = pd.Series(np.arange(len(index)), index=index)
        previous = rows.reindex(pd.MultiIndex.from_arrays(
            [index.get_level_values("entity"), index.get_level_values("year") - 1])).to_numpy(dtype=float)
        has_previous = ~np.isnan(previous)
        before = np.full_like(values, np.nan)
        before[has_previous] = values[previous[has_previous].astype(int)]
        both = np.where(np.isnan(before), np.nan, values)  # children present in both years
        w = _relative(both, weights)
        with np.errstate(invalid="ignore", divide="ignore"):
            growth_terms = np.nan_to_num(w * (both / before - 1.0))
        growth = np.where(np.isnan(both).all(axis=1), np.nan, growth_terms.sum(axis=1))
        years = index.get_level_values("year").to_numpy()
        chained = np.where(years == self.base_year, 100.0, np.nan)
        for year in range(self.base_year + 1, years.max() + 1):
            now = np.flatnonzero(years == year)
            chained[now] = chained[previous[now].astype(int)] * (1.0 + growth[now])
        for year in range(self.base_year, years.min(), -1):
            now = np.flatnonzero((years == year) & has_previous)
            chained[previous[now].astype(int)] = chained[now] / (1.0 + growth[now])
        step = np.zeros_like(values)
        step[has_previous] = chained[previous[has_previous].astype(int)][:, None] * growth_terms[has_previous]
        self.steps[code] = step
        self.chain_parts[code] = (np.nan_to_num(w), growth_terms, previous)
        self.raw_aggregates[code] = chained
        return chained

    def _non_positive(self, values, children, index, code, method):
        """Geometric and harmonic means are undefined at 0: refuse, or (if the study says so) leave NaN."""
        bad = (values <= 0) & ~np.isnan(values)
        if not bad.any():
            return values
        if self.config.get("non_positive", "error") == "missing":
            rows = bad.any(axis=1)
            self.undefined.extend((*index[r], code) for r in np.flatnonzero(rows))
            return np.where(rows[:, None], np.nan, values)
        row, column = np.argwhere(bad)[0]
        entity, year = index[row]
        raise InputError(f"{method} aggregation of {code!r} needs positive values (choose a normalisation "
                         f"whose range excludes 0, e.g. min-max to [1, 100], or set non_positive: missing)",
                         column=children[column], value=f"{entity} {year}: {values[row, column]}", expected="> 0")

    def _cumulative(self, steps: np.ndarray, index: pd.MultiIndex) -> np.ndarray:
        """Year-on-year steps summed from the base year to each year (minus the later steps before it)."""
        later = np.asarray(index.get_level_values("year") > self.base_year)[:, None]
        entity = index.get_level_values("entity")
        after = pd.DataFrame(np.where(later, steps, 0.0)).groupby(entity).cumsum().to_numpy()
        # before the base year: minus the steps of the years after t, up to the base year
        upto = pd.DataFrame(np.where(later, 0.0, steps)).groupby(entity)
        before = -(upto.transform("sum") - upto.cumsum()).to_numpy()
        return np.where(later, after, before)

    def _proportional_to_index(self, change: np.ndarray, to_parent: np.ndarray, column: dict) -> np.ndarray:
        """Pass each node's points of the index change down to its children in proportion to their
        contributions to the node's own change (0 where the node did not change)."""
        fw = self.framework
        to_index = np.zeros_like(change)
        to_index[:, column[fw.root]] = change[:, column[fw.root]]
        for level in range(fw.max_level, 1, -1):
            for code in fw.level_codes(level):
                k = column[code]
                with np.errstate(invalid="ignore", divide="ignore"):
                    ratio = np.where(change[:, k] != 0, to_index[:, k] / change[:, k], 0.0)
                for child in fw.children(code):
                    to_index[:, column[child]] = to_parent[:, column[child]] * ratio
        return to_index

    def _chained_to_index(self, scores: pd.DataFrame) -> np.ndarray:
        """Each node's points of the chained index's change since the base year, summed year by year.

        In year t the index grows by I_{t-1}·G_t, and G_t is the weighted sum of the children's growth down
        to the indicators, so node x adds I_{t-1}·s_x·g_{x,t}, with s_x the product of relative weights from
        the index down to x. Summed over the children of a node this is the node's own share, exactly.
        """
        fw = self.framework
        column = {code: i for i, code in enumerate(scores.columns)}
        steps = np.zeros(scores.shape)
        share = np.zeros(scores.shape)
        share[:, column[fw.root]] = 1.0
        index_values = scores[fw.root].to_numpy(dtype=float)
        _, _, previous = self.chain_parts[fw.root]
        before = np.where(np.isnan(previous), np.nan, index_values[np.nan_to_num(previous).astype(int)])
        steps[:, column[fw.root]] = np.nan_to_num(index_values - before)
        for level in range(fw.max_level, 1, -1):
            for code in fw.level_codes(level):
                weights, growth_terms, _ = self.chain_parts[code]
                kids = [column[c] for c in fw.children(code)]
                own = share[:, column[code]][:, None]
                share[:, kids] = own * weights
                steps[:, kids] = np.nan_to_num(before)[:, None] * own * growth_terms
        return self._cumulative(steps, scores.index)

    def contributions(self, scores: pd.DataFrame) -> pd.DataFrame:
        """Long table of each node's change since the base year and its exact share of the index change.

        Columns: entity, year, code, level, parent, change (the node's own change in its points),
        to_parent (points of the parent's change), to_index (points of the index's change).
        """
        if self.base_year is None:
            raise InputError("contributions need a base year", column="base_year", expected="a year")
        fw = self.framework
        base_pos = self._base_position(scores.index)
        keep = ~np.isnan(base_pos)
        current = scores.to_numpy(dtype=float)[keep]
        base = scores.to_numpy(dtype=float)[base_pos[keep].astype(int)]
        column = {code: i for i, code in enumerate(scores.columns)}
        change = current - base
        to_parent = np.zeros_like(change)
        for level in range(2, fw.max_level + 1):
            method, p = method_for_level(self.config, level)
            for code in fw.level_codes(level):
                kids = [column[c] for c in fw.children(code)]
                weights = self.weights[fw.children(code)].to_numpy()
                if self.chain:
                    to_parent[:, kids] = self._cumulative(self.steps[code], scores.index)[keep]
                    continue
                raw = self.raw_aggregates[code]
                raw_t = raw[keep]
                raw_b = raw[base_pos[keep].astype(int)]
                pieces = child_contributions(current[:, kids], base[:, kids], weights, p, raw_t, raw_b,
                                             exact_linear=method != "mazziotta_pareto")
                scale = 100.0 / raw_b if self.rebase else 1.0
                to_parent[:, kids] = pieces * (scale[:, None] if self.rebase else 1.0)
        if self.chain:
            to_index = self._chained_to_index(scores)[keep]
        else:
            to_index = self._proportional_to_index(change, to_parent, column)
        index = scores.index[keep]
        frame = pd.DataFrame({"entity": np.repeat(index.get_level_values("entity"), len(column)),
                              "year": np.repeat(index.get_level_values("year"), len(column)),
                              "code": np.tile(scores.columns, len(index)),
                              "change": change.ravel(), "to_parent": to_parent.ravel(),
                              "to_index": to_index.ravel()})
        frame.insert(3, "level", frame["code"].map(fw.table["level"]).astype(int))
        frame.insert(4, "parent", frame["code"].map(fw.table["parent"]))
        frame.loc[frame["code"] == fw.root, "to_parent"] = frame.loc[frame["code"] == fw.root, "change"]
        return frame
