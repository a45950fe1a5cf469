r"""Vector and benchmark normalisation, TOPSIS, grey relational analysis and Copeland outranking.

Hand-worked numbers (below), hypothesis properties of the maths, the batch of the uncertainty engine
equal to each replication alone bit for bit, and two independent references: pymcdm's TOPSIS (test-only
dependency) and COINr's own ``a_copeland`` on its ASEM example (tests/data/coinr_copeland_asem*.csv, made
by tests/data/coinr_copeland_asem.R).

**The 3 × 3 example.** Entities A, B, C in one year, three benefit indicators

    x1 = (3, 4, 0), x2 = (2, 1, 2), x3 = (0, 3, 4)

*TOPSIS with vector normalisation, equal weights.* The column lengths are 5, 3 and 5, so
r1 = (0.6, 0.8, 0), r2 = (2/3, 1/3, 2/3), r3 = (0, 0.6, 0.8). Times 45 (the weight 1/3 and a common factor
15, which does not change a closeness): v = A (9, 10, 0), B (12, 5, 9), C (0, 10, 12); positive ideal
(12, 10, 12), negative ideal (0, 5, 0).
A: D⁺ = √(9 + 0 + 144) = √153, D⁻ = √(81 + 25 + 0) = √106, C = √106 / (√153 + √106) = 0.454253…
B: D⁺ = √(0 + 25 + 9) = √34,   D⁻ = √(144 + 0 + 81) = 15,  C = 15 / (15 + √34)       = 0.720082…
C: D⁺ = √(144 + 0 + 0) = 12,   D⁻ = √(0 + 25 + 144) = 13,  C = 13 / 25               = 0.52

*Grey relational analysis, reference = ideal, min-max scaling, ρ = 0.5.* Scaled: y1 = (0.75, 1, 0),
y2 = (1, 0, 1), y3 = (0, 0.75, 1); the ideal is 1 in every column, so Δ = 1 − y:
A (0.25, 0, 1), B (0, 1, 0.25), C (1, 0, 0); Δmin = 0, Δmax = 1, ξ = 0.5 / (Δ + 0.5):
A (2/3, 1, 1/3), B (1, 1/3, 2/3), C (1/3, 1, 1). With weights (0.5, 0.3, 0.2):
A = 1/3 + 0.3 + 1/15 = 0.7, B = 0.5 + 0.1 + 2/15 = 0.7333…, C = 1/6 + 0.3 + 0.2 = 0.6666…

*Grey relational analysis against the base year, initial-value scaling, over the panel.* A: 2018 (2, 4),
2019 (3, 2); B: 2018 (1, 1), 2019 (1, 2). Divided by the entity's 2018 values: A 2019 (1.5, 0.5),
B 2019 (1, 2), the reference (1, 1); Δ: A 2019 (0.5, 0.5), B 2019 (0, 1), the 2018 rows 0; Δmin = 0,
Δmax = 1: ξ(A 2019) = (0.5, 0.5) → 50, ξ(B 2019) = (1, 1/3) → 66.67, the 2018 rows 100.

*Copeland, equal weights.* A (1, 2, 3), B (3, 1, 1), C (2, 3, 1): A beats B in two of three indicators
(S = 2/3: +1), loses to C (S = 1/3: −1); B against C: B higher in x1, C in x2, tie in x3, S = 1/3 + 1/6 =
1/2: a draw. Scores A 0, B −1, C +1.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from tests.helpers import assert_batch_equals_alone, panel, tree
from zoneindex import aggregate, crossrow, kernel, normalise as normalisation, score
from zoneindex import uncertainty as ua
from zoneindex.errors import InputError
from zoneindex.framework import Framework
from zoneindex.paths import PROJECT_ROOT
from zoneindex.study import load_study

DATA = PROJECT_ROOT / "tests" / "data"
EXAMPLE = np.array([[3.0, 2.0, 0.0], [4.0, 1.0, 3.0], [0.0, 2.0, 4.0]])   # rows A, B, C; columns x1..x3


def scored(fw: Framework, x: pd.DataFrame, config: dict, base_year=None, rebase=False, weights=None):
    """Every node's value (rows × codes) of one replication, and the kernel's pieces."""
    tree_ = kernel.Tree.of(fw)
    rows = kernel.Rows.of(x.index, base_year)
    plan = kernel.Plan.of(config, fw.max_level, rebase, base_year)
    raw = fw.table["weight"].reindex(list(tree_.codes)).to_numpy(dtype=float) if weights is None else weights
    relative = kernel.relative_weights(raw[None, :], tree_)
    result = kernel.aggregate(x[list(tree_.indicators)].to_numpy(dtype=float), relative, tree_, plan, rows)
    wide = pd.DataFrame(result.full()[:, :, 0].T, index=x.index, columns=list(tree_.codes))
    return wide, (result, plan, rows)


# --- hand-worked numbers ------------------------------------------------------------------------------

def test_topsis_with_vector_normalisation_gives_the_hand_worked_closeness():
    fw = tree([[1, 1, 1]])
    x = normalisation.normalise(panel(fw, EXAMPLE, [2020], ["A", "B", "C"]), fw, None, "vector")
    wide, _ = scored(fw, x, {"method": "topsis"})
    expected = [np.sqrt(106) / (np.sqrt(153) + np.sqrt(106)), 15 / (15 + np.sqrt(34)), 13 / 25]
    assert wide["D0"].to_numpy() == pytest.approx(100 * np.array(expected), abs=1e-12)
    assert wide["D0"].to_numpy() == pytest.approx([45.42534, 72.00823, 52.0], abs=1e-4)
    # all indicators at once: a framework whose index stands directly over its indicators
    rows = [dict(code="I", level=2, parent="", type="Aggregate", name_en="Index", name_zh="指数", unit="",
                 direction=np.nan, weight=1.0)]
    rows += [dict(code=f"x{i}", level=1, parent="I", type="Indicator", name_en=f"x{i}", name_zh=f"指标{i}", unit="",
                  direction=1, weight=1.0) for i in range(3)]
    flat = Framework.from_table(pd.DataFrame(rows))
    x = normalisation.normalise(panel(flat, EXAMPLE, [2020], ["A", "B", "C"]), flat, None, "vector")
    assert scored(flat, x, {"method": "topsis"})[0]["I"].to_numpy() == pytest.approx(100 * np.array(expected), abs=1e-12)


def test_grey_relational_grade_against_the_ideal_gives_the_hand_worked_grades():
    fw = tree([[0.5, 0.3, 0.2]])
    x = panel(fw, EXAMPLE, [2020], ["A", "B", "C"])
    wide, _ = scored(fw, x, {"method": "grey_relational", "scaling": "minmax"})
    assert wide["D0"].to_numpy() == pytest.approx([70.0, 220 / 3, 200 / 3], abs=1e-12)


def test_grey_relational_grade_against_the_own_base_year_gives_the_hand_worked_grades():
    fw = tree([[1, 1]])
    x = panel(fw, np.array([[2.0, 4.0], [3.0, 2.0], [1.0, 1.0], [1.0, 2.0]]), [2018, 2019], ["A", "B"])
    config = {"method": "grey_relational", "reference": "base_year", "scaling": "initial", "over": "panel"}
    wide, _ = scored(fw, x, config, base_year=2018)
    assert wide["D0"].to_numpy() == pytest.approx([100.0, 50.0, 100.0, 200 / 3], abs=1e-12)


def test_grey_relational_grade_against_a_benchmark_entity_is_100_for_the_benchmark():
    fw = tree([[1, 1]])
    x = panel(fw, np.array([[2.0, 4.0], [3.0, 2.0], [1.0, 1.0], [4.0, 4.0]]), [2018, 2019], ["A", "B"])
    wide, _ = scored(fw, x, {"method": "grey_relational", "reference": "entity:A", "scaling": "initial"})
    assert wide.loc["A", "D0"].tolist() == [100.0, 100.0]
    # B 2018 over A 2018: (0.5, 0.25), Δ = (0.5, 0.75); with A's own Δ = 0 in the year, Δmin 0, Δmax 0.75
    assert wide.loc[("B", 2018), "D0"] == pytest.approx(100 * np.mean([0.375 / 0.875, 0.375 / 1.125]), abs=1e-12)


def test_copeland_counts_wins_minus_losses_and_a_half_share_is_a_draw():
    fw = tree([[1, 1, 1]])
    x = panel(fw, np.array([[1.0, 2, 3], [3, 1, 1], [2, 3, 1]]), [2020], ["A", "B", "C"])
    wide, _ = scored(fw, x, {"method": "copeland"})
    assert wide["D0"].tolist() == [0.0, -1.0, 1.0]


def test_benchmark_scores_are_capped_at_100_and_reversed_for_negative_indicators():
    # the published table of the design note: 54.08 against 35.12 → 100; 4.28 against 396.85 → 1.07
    fw = tree([[1, 1, 1]], directions=[1, 1, -1])
    fw.table["benchmark"] = [np.nan, np.nan, 35.12, 396.85, 20.0]
    x = panel(fw, np.array([[54.08, 4.28, 40.0], [17.56, 396.85, 10.0]]), [2020], ["A", "B"])
    s = normalisation.normalise(x, fw, None, "benchmark")
    np.testing.assert_allclose(s.to_numpy(), [[100.0, 100 * 4.28 / 396.85, 50.0], [50.0, 100.0, 100.0]], atol=1e-12)
    assert round(s.iloc[0, 1], 2) == 1.08   # the table prints 1.07: it truncates
    uncapped = normalisation.normalise(x, fw, None, "benchmark", cap=False)
    assert uncapped.iloc[0, 0] == pytest.approx(100 * 54.08 / 35.12)
    fw.table.loc["x0_2", "benchmark"] = np.nan
    with pytest.raises(InputError, match="benchmark missing"):
        normalisation.normalise(x, fw, None, "benchmark")


def test_vector_normalisation_per_year_and_over_the_panel():
    fw = tree([[1, 1]], directions=[1, -1])
    x = panel(fw, np.array([[3.0, 4.0], [4.0, 2.0], [4.0, 3.0], [8.0, 4.0]]), [2018, 2019], ["A", "B"])
    year = normalisation.normalise(x, fw, None, "vector")
    np.testing.assert_allclose(year.to_numpy(), [[0.6, -0.8], [0.4472136, -0.4472136], [0.8, -0.6],
                                                 [0.8944272, -0.8944272]], atol=1e-7)
    whole = normalisation.normalise(x, fw, None, "vector", over="panel")
    assert whole["x0_0"].to_numpy() == pytest.approx(np.array([3, 4, 4, 8]) / np.sqrt(105))
    with pytest.raises(InputError, match="unknown over"):
        normalisation.normalise(x, fw, None, "vector", over="region")


def test_bad_options_are_refused_naming_the_key():
    for config, key in [({"method": "topsis", "ideals": "decade"}, "ideals"),
                        ({"method": "grey_relational", "rho": 0.0}, "rho"),
                        ({"method": "grey_relational", "reference": "best"}, "reference"),
                        ({"method": "grey_relational", "scaling": "zscore"}, "scaling"),
                        ({"method": "copeland", "chain": True}, "chain")]:
        with pytest.raises(InputError) as error:
            kernel.Plan.of(config, 3, False, 2018)
        assert key in str(error.value)
    fw = tree([[1, 1]])
    x = panel(fw, np.ones((2, 2)), [2020], ["A", "B"])
    with pytest.raises(InputError, match="reference entity"):
        scored(fw, x, {"method": "grey_relational", "reference": "entity:Z"})
    zero = panel(fw, np.array([[0.0, 1.0], [2.0, 1.0]]), [2020], ["A", "B"])
    with pytest.raises(InputError, match="initial-value scaling") as error:
        scored(fw, zero, {"method": "grey_relational", "reference": "entity:A", "scaling": "initial"})
    assert "A 2020" in str(error.value) and "scaling: mean or minmax" in str(error.value)


# --- the independent references ---------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:Alternatives with indices")   # pymcdm's note on dominated rows
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")   # pymcdm on equal rows: 0/0
@settings(max_examples=20, deadline=None)
@given(st.integers(3, 12), st.integers(2, 6), st.data())
def test_topsis_with_vector_normalisation_equals_pymcdm_including_cost_criteria(m, n, data):
    """pymcdm's TOPSIS given vector normalisation (its default is min-max, which reorders units; see
    test_pymcdm_default_min_max_differs). pymcdm normalises a cost column to 1 − x/‖x‖ and takes the
    column maximum as its ideal; ours is −x/‖x‖: the same distances."""
    from pymcdm import normalizations
    from pymcdm.methods import TOPSIS

    values = data.draw(arrays(float, (m, n), elements=st.floats(0.5, 1e3)))
    weights = np.array(data.draw(st.lists(st.floats(0.1, 5), min_size=n, max_size=n)))
    directions = data.draw(st.lists(st.sampled_from([1, -1]), min_size=n, max_size=n))
    fw = tree([list(weights)], directions=directions)
    x = normalisation.normalise(panel(fw, values, [2020], [f"E{i:02d}" for i in range(m)]), fw, None, "vector")
    wide, _ = scored(fw, x, {"method": "topsis"})
    oracle = TOPSIS(normalization_function=normalizations.vector_normalization)(values, weights / weights.sum(),
                                                                                 np.array(directions))
    # a matrix of equal rows has no ideal distance: 0/0, missing in both
    np.testing.assert_allclose(wide["D0"].to_numpy() / 100, oracle, rtol=0, atol=1e-12)


def test_pymcdm_default_min_max_differs_from_vector_normalisation():
    """The issue's warning: the libraries' default min-max normalisation can reorder units."""
    from pymcdm.methods import TOPSIS

    values = np.array([[10.0, 1.0], [6.0, 6.0], [1.0, 10.0], [9.0, 2.5]])
    fw = tree([[1, 1]])
    x = normalisation.normalise(panel(fw, values, [2020], list("ABCD")), fw, None, "vector")
    ours = scored(fw, x, {"method": "topsis"})[0]["D0"].to_numpy()
    default = TOPSIS()(values, np.array([0.5, 0.5]), np.array([1, 1]))
    assert list(np.argsort(-ours)) != list(np.argsort(-default))


def coinr_copeland() -> tuple[Framework, pd.DataFrame, pd.DataFrame]:
    fw = load_study("asem").framework
    normalised = pd.read_csv(DATA / "coinr_copeland_asem_normalised.csv", comment="#")
    normalised.index = pd.MultiIndex.from_arrays([normalised.pop("uCode"), np.full(len(normalised), 2018)],
                                                 names=["entity", "year"])
    published = pd.read_csv(DATA / "coinr_copeland_asem.csv", comment="#").set_index("uCode")
    return fw, normalised[fw.indicators], published


def test_copeland_reproduces_coinr_on_asem_at_every_level():
    """COINr's a_copeland (Aggregate(..., by_df = TRUE), equal weights) on COINr's own normalised ASEM data:
    every pillar, sub-index and index score, hence every rank, equal."""
    fw, normalised, published = coinr_copeland()
    wide, _ = scored(fw, normalised, {"method": "copeland"})
    ours = wide.droplevel("year")[published.columns].loc[published.index]
    assert np.abs(ours.to_numpy() - published.to_numpy()).max() == 0
    assert (ours["Index"].rank(method="min") == published["Index"].rank(method="min")).all()


# --- properties ---------------------------------------------------------------------------------------

matrices = st.integers(2, 8).flatmap(lambda m: st.integers(1, 5).flatmap(
    lambda n: arrays(float, (m, n), elements=st.floats(0.01, 1e4))))


@settings(max_examples=30, deadline=None)
@given(matrices, st.data())
def test_topsis_closeness_lies_in_0_100_and_rises_with_a_benefit_indicator(values, data):
    m, n = values.shape
    fw = tree([[1.0] * n])
    entities = [f"E{i}" for i in range(m)]
    before, _ = scored(fw, panel(fw, values, [2020], entities), {"method": "topsis"})
    closeness = before["D0"].to_numpy()
    assert np.all((closeness[~np.isnan(closeness)] >= 0) & (closeness[~np.isnan(closeness)] <= 100))
    row, column = data.draw(st.integers(0, m - 1)), data.draw(st.integers(0, n - 1))
    better = values.copy()
    better[row, column] *= data.draw(st.floats(1.0, 10.0))
    after, _ = scored(fw, panel(fw, better, [2020], entities), {"method": "topsis"})
    if not np.isnan(closeness[row]):
        assert after["D0"].iloc[row] >= closeness[row] - 1e-9


@settings(max_examples=80, deadline=None)
@given(matrices, st.sampled_from(["mean", "minmax", "initial"]), st.floats(0.05, 1.0))
def test_grey_relational_coefficients_lie_in_0_1(values, scaling, rho):
    children = [values[:, [j]] for j in range(values.shape[1])]
    sets = np.zeros(len(values), dtype=int)
    with np.errstate(invalid="ignore"):   # a constant column under min-max scaling is 0/0: missing
        coefficients = crossrow.relational_coefficients(children, sets, "ideal", rho, scaling)
    for xi in coefficients:
        present = xi[~np.isnan(xi)]
        assert np.all((present > 0) & (present <= 1.0))


@settings(max_examples=30, deadline=None)
@given(arrays(float, (6, 3), elements=st.one_of(st.floats(0.01, 1e5), st.just(np.nan))), st.booleans())
def test_vector_normalised_columns_have_unit_length(values, over_panel):
    fw = tree([[1, 1, 1]])
    x = panel(fw, values, [2018, 2019], ["A", "B", "C"])
    r = normalisation.normalise(x, fw, None, "vector", over="panel" if over_panel else "year")
    groups = [r] if over_panel else [r.xs(y, level="year") for y in (2018, 2019)]
    for part in groups:
        lengths = np.sqrt((part ** 2).sum())
        observed = part.notna().any()
        assert lengths[observed].to_numpy() == pytest.approx(1.0, abs=1e-12)


PLANS = [{"method": "topsis", "min_availability": 0.5},
         {"method": "topsis", "ideals": "panel"},
         {"method": "grey_relational"},
         {"method": "grey_relational", "reference": "base_year", "over": "panel"},
         {"method": "grey_relational", "reference": "entity:B", "scaling": "minmax"},
         {"method": "copeland", "min_availability": 0.0},
         {"method": "arithmetic", "by_level": {3: "topsis"}},
         {"method": "topsis", "by_level": {3: "copeland"}}]
YEARS = [2017, 2018, 2019]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.floats(0.1, 10), min_size=1, max_size=5), min_size=1, max_size=3), st.data(),
       st.sampled_from(PLANS))
def test_each_replication_of_a_batch_equals_the_replication_alone(dimensions, data, config):
    fw = tree(dimensions)
    values = data.draw(arrays(float, (len(YEARS) * 3, len(fw.indicators)),
                              elements=st.one_of(st.floats(0.5, 1e3), st.just(np.nan))))
    x = panel(fw, values, YEARS, ["A", "B", "C"])
    tree_ = kernel.Tree.of(fw)
    rows = kernel.Rows.of(x.index, 2018)
    plan = kernel.Plan.of(config, fw.max_level, True, 2018)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    assert_batch_equals_alone(x, fw, tree_, plan, rows, rng, 5)


@settings(max_examples=40, deadline=None)
@given(arrays(float, (6, 4), elements=st.floats(0.5, 100)), st.sampled_from(PLANS[:6]))
# found by hypothesis: the children's terms of the grey relational grade cancel but for rounding noise (1e-16),
# and dividing the node's change by that noise gave contributions of ±1.2e17 that added up to 16.0, not 16.67
@example(np.array([[0.5, 0.5, 0.5, 1], [1, 0.5, 0.5, 0.5], [0.5, 0.5, 1, 0.5], [0.5, 0.5, 0.5, 0.5],
                   [0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 1, 0.5]]),
         {"method": "grey_relational", "reference": "entity:B", "scaling": "minmax"})
def test_children_contributions_add_up_to_the_node_change(values, config):
    fw = tree([[1, 2], [1, 1]])
    x = panel(fw, values, [2018, 2019], ["A", "B", "C"])
    _, (result, plan, rows) = scored(fw, x, config, base_year=2018, rebase=True)
    parts = kernel.contributions(result, plan, rows)
    codes = list(result.tree.codes)
    for node in ("I", "D0", "D1"):
        kids = [codes.index(c) for c in fw.children(node)]
        change = parts.change[:, codes.index(node)]
        total = parts.to_parent[:, kids].sum(axis=1)
        finite = np.isfinite(change) & np.isfinite(total)
        assert total[finite] == pytest.approx(change[finite], abs=1e-9)


# --- registries, the study check, the provinces alternatives, the uncertainty engine ----------------

def test_every_new_method_is_registered_with_its_formula_in_both_languages():
    for name in aggregate.CROSS_ROW:
        assert name in aggregate.AGGREGATORS and name in aggregate.OPTIONS
        assert aggregate.FORMULAS[name].startswith("$$") and aggregate.FORMULAS_ZH[name].startswith("$$")
    for name in ("vector", "benchmark"):
        assert name in normalisation.NORMALISERS
        assert normalisation.FORMULAS[name] and normalisation.FORMULAS_ZH[name]
    assert "标杆值法" in normalisation.FORMULAS_ZH["benchmark"]
    assert "灰色关联" in aggregate.FORMULAS_ZH["grey_relational"]


def test_topsis_and_grey_relational_are_uncertainty_alternatives_and_replications_match_the_kernel():
    spec = {"runs": 24, "sobol_n": 8, "nboot": 10, "seed": 5,
            "inputs": {"aggregation": [{"method": "arithmetic"}, {"method": "topsis"},
                                       {"method": "grey_relational", "reference": "base_year"}],
                       "weights": {"noise": 0.2, "levels": [1, 2]}}}
    methods = {"imputation": {"method": "none"}, "outliers": {"method": "none"},
               "normalisation": {"method": "minmax", "scale": [1, 100]}, "weights": {"method": "fixed"},
               "aggregation": {"method": "arithmetic", "min_availability": 0.5}, "rebase": True}
    study, tidy = ua.synthetic_study(entities=12, indicators=9, years=4, groups=(3, 2), seed=4, base_year=2002,
                                     missing=0.05, methods=methods, uncertainty=spec)
    prepared = ua.prepare(study, None, tidy)
    result = ua.run_uncertainty(prepared)
    chosen = result.replications.filter(like="aggregation").iloc[:, 0].astype(str)
    assert chosen.str.contains("topsis").any() and chosen.str.contains("grey_relational").any()
    assert np.isfinite(result.summary["median"]).any()
    # the engine's TOPSIS plan on the nominal weights is the score of the study with TOPSIS
    topsis = score.with_methods(study, {"aggregation": {"method": "topsis"}})
    cleaned = ua._clean(topsis, tidy, range(topsis.first_year, topsis.last_year + 1), None)
    wide = score.score(topsis, cleaned).wide
    engine = prepared.engine
    plan = next(i for i, c in enumerate(engine.configs) if c["method"] == "topsis")
    nominal = topsis.framework.table["weight"].reindex(list(engine.tree.codes)).to_numpy(dtype=float)
    values = kernel.aggregate(engine.matrices[0], kernel.relative_weights(nominal[None, :], engine.tree),
                              engine.tree, engine.plans[plan], engine.rows, engine.applicable[0]).values[:, :, 0]
    assert np.array_equal(values.T, wide[[engine.tree.codes[a] for a in engine.tree.aggregates]].to_numpy(),
                          equal_nan=True)


@pytest.mark.slow
def test_provinces_alternatives_score_entropy_topsis_and_grey_relational_with_rank_shifts():
    from zoneindex import ingest

    study = load_study("provinces")
    alternatives = study.config["alternatives"]
    assert alternatives["entropy_topsis"] == {"normalisation": {"method": "vector"}, "weights": {"method": "entropy"},
                                              "aggregation": {"method": "topsis"}}
    tidy, _ = ingest.ingest(study, 2023)
    years = range(2010, 2024)
    nominal = score.rescore(study, tidy, years).scores
    variants = {name: score.rescore(score.with_methods(study, alternatives[name]), tidy, years).scores
                for name in ("entropy_topsis", "gra_base_year")}
    table, summary = score.rank_shifts(nominal, variants, "PROVINTL", 2023)
    assert table["entropy_topsis"].notna().sum() >= 25
    assert (summary["max_abs_rank_shift"] > 0).all()
    topsis = variants["entropy_topsis"].query("code == 'PROVINTL'")["value"].dropna()
    assert topsis.between(0, 100).all()
    grey = variants["gra_base_year"].query("code == 'PROVINTL' and year == 2018")["value"].dropna()
    assert (grey == 100.0).all()


def test_the_asem_pipeline_with_copeland_reproduces_coinr_from_its_own_normalisation():
    """The whole asem study (our imputation, treatment and min-max) aggregated by Copeland: the same
    scores as COINr's, so our normalised ties are COINr's ties."""
    from tests.test_asem import build

    result, _ = build({"aggregation": {"method": "copeland"}})
    published = pd.read_csv(DATA / "coinr_copeland_asem.csv", comment="#").set_index("uCode")
    ours = result.wide.droplevel("year")[published.columns].loc[published.index]
    assert np.abs(ours.to_numpy() - published.to_numpy()).max() == 0


def test_the_engine_shortcut_above_level_2_gives_the_whole_kernel_for_row_comparing_methods():
    """With weight noise above level 1 the engine computes level 2 once and the kernel above it: the
    same numbers as the whole hierarchy also when the levels compare rows."""
    from zoneindex.uncertainty import design as ua_design, engine as ua_engine

    spec = {"runs": 64, "seed": 3, "inputs": {"aggregation": [{"method": "topsis"}, {"method": "copeland"},
                                                              {"method": "arithmetic", "by_level": {3: "grey_relational"}}],
                                              "weights": {"noise": 0.3, "levels": [2, 3]}}}
    methods = {"imputation": {"method": "none"}, "outliers": {"method": "none"},
               "normalisation": {"method": "minmax", "scale": [1, 100]}, "weights": {"method": "fixed"},
               "aggregation": {"method": "arithmetic", "min_availability": 0.5}, "rebase": True}
    study, tidy = ua.synthetic_study(entities=10, indicators=8, years=3, groups=(2, 2), seed=6, base_year=2001,
                                     missing=0.05, methods=methods, uncertainty=spec)
    prepared = ua.prepare(study, None, tidy)
    engine = prepared.engine
    draws = ua_design.ua_block(prepared.layout, 0, 64)
    for task, _ in ua_engine.tasks(prepared, draws, 16):
        whole = kernel.aggregate(engine.matrices[task.data], kernel.relative_weights(task.weights, engine.tree),
                                 engine.tree, engine.plans[task.plan], engine.rows, engine.applicable[task.data],
                                 engine.groups[task.plan]).values
        assert np.array_equal(engine.evaluate(task), whole, equal_nan=True)
