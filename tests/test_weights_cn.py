"""Weights of the Chinese evaluation toolbox and the rest of COINr's: entropy conventions, combination
weighting, equal_indicators, optimised and signed-PCA weights.

References: hand-worked numbers (in each docstring), R's ``optim`` Nelder–Mead on Rosenbrock's function
(the example of R's ``?optim`` help page), COINr's printed ASEM optimisation (tests/data/
coinr_opt_weights_asem.csv, with its provenance), and ``pyrepo-mcda`` 0.1.15 (test-only) for entropy and
CRITIC on a pre-normalised matrix.
"""
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from zoneindex import clean, ingest, score
from zoneindex.errors import InputError
from zoneindex.normalise import normalise
from zoneindex.paths import PROJECT_ROOT
from zoneindex.report import _math_to_tokens
from zoneindex.schema import validate_methods
from zoneindex.study import load_study
from zoneindex.uncertainty.spec import parse_spec
from zoneindex.weight import (FORMULAS, FORMULAS_ZH, WEIGHTERS, combination, combination_table, nominal_weights)
from zoneindex.weight_combined import combine, game_theory_coefficients
from zoneindex.weight_optimised import level_correlations, nelder_mead, optimised_weights
from tests.helpers import panel, tree

DATA = PROJECT_ROOT / "tests" / "data"
NEW = ("equal_indicators", "combined", "optimised")


def relative(fw, weights, codes):
    return fw.relative_weights(weights)[codes].to_numpy()


def one_group(values, entities=("A", "B", "C"), years=(2020,)):
    """A framework with one group of len(values[0]) indicators and the panel of ``values``."""
    values = np.asarray(values, dtype=float)
    fw = tree([[1.0] * values.shape[1]])
    return fw, panel(fw, values, list(years), list(entities))


# --- entropy: both conventions ---------------------------------------------------------------------

def test_entropy_default_by_hand():
    """y_a = (1, 1, 2): p = (¼, ¼, ½), e_a = 1.5 ln 2 / ln 3; y_b = (0, 1, 1): p = (0, ½, ½), e_b = ln 2 / ln 3
    (0·ln 0 = 0). w_a = (1 − e_a) / (2 − e_a − e_b) = 0.0536054 / 0.4226757 = 0.1268239."""
    fw, x = one_group([[1, 0], [1, 1], [2, 1]])
    e_a, e_b = 1.5 * np.log(2) / np.log(3), np.log(2) / np.log(3)
    got = relative(fw, nominal_weights(fw, "entropy", x), fw.indicators)
    assert got == pytest.approx([(1 - e_a) / (2 - e_a - e_b), (1 - e_b) / (2 - e_a - e_b)], abs=1e-15)
    assert got[0] == pytest.approx(0.1268239, abs=1e-7)


def test_entropy_minmax_then_shift_every_column_by_hand():
    """a = (1, 2, 4) → min-max (0, ⅓, 1) + 0.01; b = (3, 1, 2) → (1, 0, ½) + 0.01. Entropies of
    (0.01, 0.3433, 1.01) and (1.01, 0.01, 0.51) over ln 3 give w = (0.53684769, 0.46315231)."""
    fw, x = one_group([[1, 3], [2, 1], [4, 2]])
    got = nominal_weights(fw, "entropy", x, rescale="minmax", shift=0.01, shift_columns="all")
    assert relative(fw, got, fw.indicators) == pytest.approx([0.53684769, 0.46315231], abs=1e-8)


def test_entropy_spssau_shift_moves_only_columns_with_values_at_or_below_zero():
    """SPSSAU: c = (−1, 0, 2) has values ≤ 0 and becomes c + |−1| + 0.01 = (0.01, 1.01, 3.01); d = (1, 2, 4)
    is left alone. Entropies over ln 3: w = (0.78407523, 0.21592477)."""
    fw, x = one_group([[-1, 1], [0, 2], [2, 4]])
    got = nominal_weights(fw, "entropy", x, shift=0.01)
    assert relative(fw, got, fw.indicators) == pytest.approx([0.78407523, 0.21592477], abs=1e-8)


def test_panel_entropy_pools_every_entity_year_with_k_one_over_ln_rn():
    """全局熵值法: 3 entities × 2 years = 6 rows, min/max over both years, k = 1/ln 6: the same as the
    one-year formula on the stacked 6 × n matrix."""
    rows = [[1, 4], [2, 1], [4, 2], [3, 3], [5, 1], [2, 6]]
    fw, x = one_group(rows, years=(2020, 2021))
    stacked_fw, stacked = one_group(rows, entities=tuple("ABCDEF"))
    for options in ({}, {"rescale": "minmax", "shift": 0.001, "shift_columns": "all"}):
        assert relative(fw, nominal_weights(fw, "entropy", x, **options), fw.indicators) == pytest.approx(
            relative(stacked_fw, nominal_weights(stacked_fw, "entropy", stacked, **options), fw.indicators),
            abs=1e-15)


def test_entropy_by_year_is_the_mean_of_the_yearly_cross_sections():
    rows = [[1, 4], [2, 1], [4, 2], [3, 3], [5, 1], [2, 6]]     # entity-major: A 2020, A 2021, B 2020 …
    fw, x = one_group(rows, years=(2020, 2021))
    got = relative(fw, nominal_weights(fw, "entropy", x, scope="year", rescale="minmax", shift=0.01,
                                       shift_columns="all"), fw.indicators)
    yearly = []
    for year in (2020, 2021):
        one_fw, one = one_group(x.xs(year, level="year").to_numpy())
        yearly.append(relative(one_fw, nominal_weights(one_fw, "entropy", one, rescale="minmax", shift=0.01,
                                                       shift_columns="all"), one_fw.indicators))
    assert got == pytest.approx(np.mean(yearly, axis=0), abs=1e-15)


def test_entropy_by_year_refuses_a_year_with_one_entity():
    fw, x = one_group([[1, 2], [3, 1]], entities=("A",), years=(2020, 2021))
    with pytest.raises(InputError, match="two entities") as error:
        nominal_weights(fw, "entropy", x, scope="year")
    assert error.value.value == 2020


@pytest.mark.parametrize("options, key", [({"shift": -0.01}, "shift"), ({"shift": True}, "shift"),
                                          ({"scope": "pooled"}, "scope"), ({"rescale": "zscore"}, "rescale"),
                                          ({"shift_columns": "some"}, "shift_columns")])
def test_bad_entropy_options_are_refused_naming_the_option(options, key):
    fw, x = one_group([[1, 2], [3, 1], [2, 2]])
    with pytest.raises(InputError) as error:
        nominal_weights(fw, "entropy", x, **options)
    assert error.value.column == f"methods.weights.{key}"


def test_entropy_and_critic_match_pyrepo_mcda_on_a_pre_normalised_matrix():
    """pyrepo-mcda applies no direction and (entropy) takes |p| of negative values: on a positive matrix
    already oriented so that higher is better both conventions coincide with ours. Its CRITIC uses the
    population sd (ddof 0), ours the sample sd: a common factor, so the weights agree."""
    from pyrepo_mcda import weighting_methods

    rng = np.random.default_rng(7)
    largest = 0.0
    for _ in range(20):
        matrix = rng.uniform(0.05, 1.0, size=(int(rng.integers(4, 12)), int(rng.integers(2, 6))))
        fw, x = one_group(matrix, entities=tuple(f"E{i}" for i in range(len(matrix))))
        for method, oracle in (("entropy", weighting_methods.entropy_weighting),
                               ("critic", weighting_methods.critic_weighting)):
            diff = np.abs(relative(fw, nominal_weights(fw, method, x), fw.indicators) - oracle(matrix)).max()
            largest = max(largest, diff)
    assert largest < 1e-12, largest


# --- equal_indicators ------------------------------------------------------------------------------

def test_equal_indicators_on_cdht_gives_every_one_of_the_36_indicators_1_over_36():
    """cdht: D1 has 7 indicators (4 + 2 + 1 in its sub-areas), D2 6, D3 11, D4 5, D5 7 (36 in all), so D3
    weighs 11/36 of the index and its sub-area D3_3 (3 indicators) 3/11 of D3."""
    fw = load_study("cdht").framework
    weights = nominal_weights(fw, "equal_indicators")
    assert weights[["D1", "D2", "D3", "D4", "D5"]].tolist() == [7, 6, 11, 5, 7]
    assert fw.relative_weights(weights)["D3"] == pytest.approx(11 / 36, abs=1e-15)
    assert fw.relative_weights(weights)["D3_3"] == pytest.approx(3 / 11, abs=1e-15)
    effective = fw.effective_weights(weights)[fw.indicators]
    assert len(effective) == 36 and np.allclose(effective, 1 / 36, rtol=0, atol=1e-15)


# --- combination weighting -------------------------------------------------------------------------

def combined_case():
    """Framework weights (2, 1, 1) → w¹ = (½, ¼, ¼); a consistent AHP matrix → w² = (4/7, 2/7, 1/7)."""
    fw = tree([[2.0, 1.0, 1.0]])
    x = panel(fw, np.array([[1.0, 2.0, 3.0], [2.0, 2.5, 1.0], [4.0, 1.0, 2.0], [3.0, 3.0, 3.5]]), [2020],
              ["A", "B", "C", "D"])
    of = ["fixed", {"method": "ahp", "matrices": {"D0": [[1, 2, 4], ["1/2", 1, 2], ["1/4", "1/2", 1]]}}]
    return fw, x, of


def test_additive_combination_by_hand():
    """α = 0.6: 0.6·(½, ¼, ¼) + 0.4·(4/7, 2/7, 1/7) = (0.5285714, 0.2642857, 0.2071429)."""
    fw, x, of = combined_case()
    got = relative(fw, nominal_weights(fw, "combined", x, of=of, rule="additive", alpha=0.6), fw.indicators)
    assert got == pytest.approx([0.6 / 2 + 0.4 * 4 / 7, 0.6 / 4 + 0.4 * 2 / 7, 0.6 / 4 + 0.4 / 7], abs=1e-15)


def test_multiplicative_combination_by_hand():
    """(½·4/7, ¼·2/7, ¼·1/7) = (8, 2, 1)/28, normalised: (8/11, 2/11, 1/11)."""
    fw, x, of = combined_case()
    got = relative(fw, nominal_weights(fw, "combined", x, of=of, rule="multiplicative"), fw.indicators)
    assert got == pytest.approx([8 / 11, 2 / 11, 1 / 11], abs=1e-15)


def test_game_theory_combination_by_hand():
    """w¹·w¹ = 3/8, w²·w² = 3/7, w¹·w² = 11/28. Solving [[3/8, 11/28], [11/28, 3/7]] α = (3/8, 3/7) gives
    α = (−6/5, 21/10); α* = (6/5, 21/10) / (33/10) = (4/11, 7/11); w* = 4/11·w¹ + 7/11·w² = (6, 3, 2)/11."""
    w1, w2 = [Fraction(1, 2), Fraction(1, 4), Fraction(1, 4)], [Fraction(4, 7), Fraction(2, 7), Fraction(1, 7)]
    dot = lambda u, v: sum(a * b for a, b in zip(u, v))  # noqa: E731
    assert (dot(w1, w1), dot(w2, w2), dot(w1, w2)) == (Fraction(3, 8), Fraction(3, 7), Fraction(11, 28))
    fw, x, of = combined_case()
    _, combined, coefficients = combination(fw, x, of, "game_theory")
    assert coefficients["D0"] == pytest.approx([4 / 11, 7 / 11], abs=1e-14)
    assert combined[fw.indicators].to_numpy() == pytest.approx([6 / 11, 3 / 11, 2 / 11], abs=1e-14)


def test_level_difference_coefficients_maximise_the_spread_of_the_composite():
    """θ (‖θ‖ = 1, θ ≥ 0) maximising Σ_i (y_i − ȳ)² of y = Z (θ₁w¹ + θ₂w²), checked against a grid of 20 001
    angles on the quarter circle; the returned coefficients are that θ rescaled to sum to 1."""
    fw, x, of = combined_case()
    _, combined, coefficients = combination(fw, x, of, "level_difference")
    z = ((x - x.mean()) / x.std(ddof=1)).to_numpy()
    vectors = np.array([[0.5, 0.25, 0.25], [4 / 7, 2 / 7, 1 / 7]])
    angles = np.linspace(0, np.pi / 2, 20001)
    spreads = [np.sum((z @ (np.cos(a) * vectors[0] + np.sin(a) * vectors[1])) ** 2) for a in angles]
    best = np.array([np.cos(angles[int(np.argmax(spreads))]), np.sin(angles[int(np.argmax(spreads))])])
    assert coefficients["D0"] == pytest.approx(best / best.sum(), abs=1e-4)
    assert combined[fw.indicators].to_numpy() == pytest.approx(coefficients["D0"] @ vectors, abs=1e-15)


def test_the_side_by_side_table_shows_each_basic_vector_and_the_combined_one():
    fw, x, of = combined_case()
    table = combination_table(fw, x, {"method": "combined", "of": of, "rule": "game_theory"})
    assert list(table.columns[3:]) == ["fixed", 'ahp (matrices={"D0": [[1, 2, 4], ["1/2", 1, 2], ["1/4", "1/2", 1]]})',
                                       "combined (game_theory)", "coefficient: fixed",
                                       'coefficient: ahp (matrices={"D0": [[1, 2, 4], ["1/2", 1, 2], '
                                       '["1/4", "1/2", 1]]})']
    assert table.loc[fw.indicators, "fixed"].tolist() == [0.5, 0.25, 0.25]
    assert table.loc[fw.indicators, "combined (game_theory)"].to_numpy() == pytest.approx([6 / 11, 3 / 11, 2 / 11])
    # the dimension's group (the index's children) is the same under both methods: kept, no coefficient
    assert table.loc["D0", "combined (game_theory)"] == 1.0 and np.isnan(table.loc["D0", "coefficient: fixed"])
    chinese = combination_table(fw, x, {"method": "combined", "of": of, "rule": "game_theory"}, "zh")
    assert list(chinese.columns[5:7]) == ["组合权重（博弈论组合赋权）", "组合系数：固定权重"]
    assert chinese.loc["x0_0", "name"] == "指标00"
    with pytest.raises(InputError, match="unknown option"):
        combination_table(fw, x, {"method": "combined", "of": of, "rules": "game_theory"})


@pytest.mark.parametrize("options, problem", [
    ({"of": ["fixed"]}, "at least two"),
    ({"of": ["fixed", {"method": "combined", "of": ["fixed", "equal"]}]}, "cannot combine"),
    ({"of": ["fixed", 3]}, "name or a mapping"),
    ({"of": ["fixed", "equal"], "rule": "harmonic"}, "unknown value"),
    ({"of": ["fixed", "equal"], "alpha": [0.2, 0.2]}, "summing to 1"),
    ({"of": ["fixed", "equal", "entropy"], "alpha": 0.3}, "exactly two"),
    ({"of": ["fixed", "equal"], "rule": "game_theory", "alpha": 0.5}, "set by the game_theory rule"),
    ({"of": ["fixed", "nonsense"]}, "unknown weighting method"),
    ({"of": ["fixed", {"method": "entropy", "shfit": 0.01}]}, "unknown option"),
])
def test_bad_combinations_are_refused(options, problem):
    fw, x, _ = combined_case()
    with pytest.raises(InputError, match=problem):
        nominal_weights(fw, "combined", x, **options)


def test_combined_without_of_combines_the_framework_weights_with_entropy():
    fw, x, _ = combined_case()
    assert nominal_weights(fw, "combined", x, alpha=0.3).tolist() == \
        nominal_weights(fw, "combined", x, of=["fixed", "entropy"], alpha=0.3).tolist()


def test_game_theory_with_identical_vectors_inside_a_group_keeps_them():
    """Two methods that agree on a group leave it as it is (the game-theory system would be singular)."""
    fw, x, _ = combined_case()
    got = nominal_weights(fw, "combined", x, of=["fixed", {"method": "fixed"}], rule="game_theory")
    assert relative(fw, got, fw.indicators) == pytest.approx([0.5, 0.25, 0.25], abs=1e-15)


probability = arrays(float, st.integers(2, 6), elements=st.floats(0.01, 1.0))


@settings(max_examples=80, deadline=None)
@given(st.data(), st.integers(2, 5), st.integers(2, 4))
def test_combined_weights_are_non_negative_sum_to_one_and_additive_lies_between(data, n, count):
    vectors = np.array([data.draw(arrays(float, n, elements=st.floats(0.01, 1.0))) for _ in range(count)])
    vectors = vectors / vectors.sum(axis=1, keepdims=True)
    z = data.draw(arrays(float, (6, n), elements=st.floats(-3, 3)))
    for rule in ("additive", "multiplicative", "game_theory", "level_difference"):
        try:
            weights, coefficients = combine(vectors, rule, data=z)
        except InputError:
            continue  # singular Gram matrix or opposed composites: refused, not a wrong number
        assert (weights >= -1e-12).all() and weights.sum() == pytest.approx(1.0, abs=1e-9)
        if rule in ("game_theory", "level_difference"):
            assert (coefficients >= 0).all() and coefficients.sum() == pytest.approx(1.0, abs=1e-12)
        if rule == "additive":
            assert (weights >= vectors.min(axis=0) - 1e-12).all() and (weights <= vectors.max(axis=0) + 1e-12).all()


@settings(max_examples=60, deadline=None)
@given(arrays(float, (3, 4), elements=st.floats(0.01, 1.0)))
def test_game_theory_alpha_is_normalised(raw):
    vectors = raw / raw.sum(axis=1, keepdims=True)
    try:
        alpha = game_theory_coefficients(vectors)
    except InputError:
        return
    assert (alpha >= 0).all() and alpha.sum() == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(arrays(float, (7, 3), elements=st.floats(0.0, 100.0)), st.sampled_from(["entropy", "critic", "pca"]))
def test_data_driven_weights_are_non_negative_and_sum_to_one_per_group(values, method):
    fw, x = one_group(values, entities=tuple("ABCDEFG"))
    try:
        weights = nominal_weights(fw, method, x)
    except InputError:
        return  # a group with no information (constant columns) is refused by name
    w = relative(fw, weights, fw.indicators)
    assert (w >= 0).all() and w.sum() == pytest.approx(1.0, abs=1e-12)


# --- PCA with signed loadings -----------------------------------------------------------------------

def test_signed_pca_weights_are_the_first_loadings_and_warn_on_a_negative_one():
    """The third indicator runs against the first two: its loading is negative. The weights are the first
    eigenvector of the correlation matrix (sign taken so that it sums > 0), rescaled to sum to 1; the
    default squares them."""
    values = np.array([[1, 2, 9], [2, 3, 7], [3, 3, 6], [4, 5, 4], [5, 6, 1.5]])
    fw, x = one_group(values, entities=tuple("ABCDE"))
    correlation = np.corrcoef(values, rowvar=False)
    eigenvalues, eigenvectors = np.linalg.eigh(correlation)
    first = eigenvectors[:, -1] * np.sign(eigenvectors[:, -1].sum())
    with pytest.warns(UserWarning, match=r"indicator 'x0_2' of group 'D0' has a negative loading"):
        signed = nominal_weights(fw, "pca", x, loadings="signed")
    assert relative(fw, signed, fw.indicators) == pytest.approx(first / first.sum(), abs=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        squared = nominal_weights(fw, "pca", x)
    assert relative(fw, squared, fw.indicators) == pytest.approx(first ** 2, abs=1e-12)


# --- optimised weights (COINr's get_opt_weights) ----------------------------------------------------

def test_nelder_mead_follows_r_optim_on_rosenbrock():
    """R's ?optim example: optim(c(-1.2, 1), fr) prints par 1.000260 1.000506, value 8.825241e-08 and
    195 function evaluations (Nelder–Mead, reltol 1e-8)."""
    search = nelder_mead(lambda v: 100 * (v[1] - v[0] ** 2) ** 2 + (1 - v[0]) ** 2, [-1.2, 1.0], 1e-8, 500)
    assert np.round(search.x, 6).tolist() == [1.000260, 1.000506]
    assert f"{search.value:.6e}" == "8.825241e-08" and len(search.trace) == 195 and search.converged


@pytest.fixture(scope="module")
def asem():
    study = load_study("asem")
    tidy, _ = ingest.ingest(study, 2018)
    cleaned, _ = clean.clean(tidy, study.framework, range(2018, 2019), study.methods,
                             denominators=study.denominators, entities=ingest.read_entities(study))
    spec = dict(study.methods["normalisation"])
    return study, normalise(score.to_wide(cleaned, study.framework), study.framework, None, spec.pop("method"), **spec)


def test_optimised_balance_weights_reproduce_coinr_on_asem(asem):
    """Every one of COINr's 15 printed objective values (to 1e-9), the weights 0.3902439 / 0.6097561 and the
    correlations before and after, as its weights vignette prints them."""
    study, x = asem
    fw = study.framework
    reference = pd.read_csv(DATA / "coinr_opt_weights_asem.csv", comment="#")
    expected = lambda kind: reference[reference["kind"] == kind].set_index("code")["value"]  # noqa: E731
    arithmetic = {"method": "arithmetic"}
    before = level_correlations(fw, x, fw.table["weight"], 3, arithmetic)
    assert before.round(7).to_dict() == expected("corr_equal").to_dict()
    weights, search = optimised_weights(fw, x, 3, "balance", None, "pearson", 0.1, 500, arithmetic)
    trace = reference.loc[reference["kind"] == "objective", "value"].to_numpy()
    assert len(search.trace) == len(trace) and np.abs(np.array(search.trace) - trace).max() < 1e-9
    assert weights[["Conn", "Sust"]].round(7).to_dict() == expected("weight").to_dict()
    after = level_correlations(fw, x, weights, 3, arithmetic)
    assert after.round(7).to_dict() == expected("corr_optimised").to_dict()
    # the registry entry gives the same: level 3 is the default (one below the index); other levels keep theirs
    nominal = nominal_weights(fw, "optimised", x)
    assert nominal[["Conn", "Sust"]].tolist() == weights[["Conn", "Sust"]].tolist()
    below = fw.table.index[fw.table["level"] < 3]
    assert (nominal[below] == fw.table.loc[below, "weight"]).all()


@pytest.mark.parametrize("case", ["balance_L3", "infomax_L3", "balance_L2", "infomax_L2"])
def test_optimised_weights_match_coinr_run_in_r_at_both_levels_and_objectives(asem, case):
    """COINr 1.1.14 in R 4.2.2 (tests/data/coinr_opt_weights_asem_r.csv): the weights, the number of
    objective evaluations and the objective at the optimum."""
    study, x = asem
    reference = pd.read_csv(DATA / "coinr_opt_weights_asem_r.csv", comment="#")
    rows = reference[reference["case"] == case]
    objective, level = case.split("_L")
    weights, search = optimised_weights(study.framework, x, int(level), objective, None, "pearson", 0.1, 500,
                                        {"method": "arithmetic"})
    assert np.abs(weights[rows["code"]].to_numpy() - rows["weight"].to_numpy()).max() < 1e-12
    assert len(search.trace) == rows["evaluations"].iloc[0]
    assert search.value == pytest.approx(rows["value"].iloc[0], abs=1e-12)


def test_the_index_under_optimised_weights_ranks_all_51_units_as_coinr(asem):
    study, _ = asem
    optimised = score.with_methods(study, {"weights": {"method": "optimised", "level": 3}})
    tidy, _ = ingest.ingest(study, 2018)
    cleaned, _ = clean.clean(tidy, study.framework, range(2018, 2019), study.methods,
                             denominators=study.denominators, entities=ingest.read_entities(study))
    scores = score.score(optimised, cleaned).scores
    index = scores[scores["code"] == study.framework.root].set_index("entity")["value"]
    reference = pd.read_csv(DATA / "coinr_opt_index_asem.csv", comment="#").set_index("uCode")
    assert len(reference) == 51 and set(index.index) == set(reference.index)
    assert np.abs(index[reference.index] - reference["Index"]).max() < 1e-9
    ranks = index.rank(ascending=False, method="min")[reference.index]
    assert (ranks.astype(int) == reference["Rank"]).all()


def test_signed_pca_weights_match_coinr_get_pca_on_asem(asem):
    """COINr's get_PCA loadings per group (tests/data/coinr_pca_signed_asem.csv), compared as loadings / their
    sum (independent of the component's sign); the four negative loadings each give a warning."""
    study, x = asem
    fw = study.framework
    reference = pd.read_csv(DATA / "coinr_pca_signed_asem.csv", comment="#").set_index("code")["weight"]
    with pytest.warns(UserWarning, match="negative loading") as caught:
        ours = fw.relative_weights(nominal_weights(fw, "pca", x, loadings="signed"))
    largest = max(np.abs(ours[kids] - reference[kids] / reference[kids].sum()).max()
                  for kids in map(fw.children, fw.level_codes(2)))
    assert largest < 1e-12, largest
    negative = sorted(code for code in fw.indicators if ours[code] < 0)
    assert negative and all(any(repr(code) in str(w.message) for w in caught) for code in negative)


@pytest.mark.parametrize("options, column", [({"level": 4}, "level"), ({"objective": "max"}, "objective"),
                                             ({"targets": [1, 2, 3]}, "targets"),
                                             ({"objective": "infomax", "targets": [1, 1]}, "targets"),
                                             ({"correlation": "distance"}, "correlation"),
                                             ({"aggregation": {"method": "arithmetic", "chain": True}},
                                              "aggregation")])
def test_bad_optimisation_settings_are_refused(asem, options, column):
    study, x = asem
    with pytest.raises(InputError) as error:
        nominal_weights(study.framework, "optimised", x, **options)
    assert error.value.column == f"methods.weights.{column}"


# --- formulas, schema, alternatives and uncertainty -------------------------------------------------

def test_every_method_has_an_english_and_a_chinese_formula_that_convert_to_mathml():
    assert set(FORMULAS) == set(WEIGHTERS) == set(FORMULAS_ZH)
    assert all(FORMULAS_ZH[m].strip() and any("\u4e00" <= ch <= "\u9fff" for ch in FORMULAS_ZH[m]) for m in WEIGHTERS)
    for latex in [*FORMULAS.values(), *FORMULAS_ZH.values()]:
        converted: list[str] = []
        _math_to_tokens(latex, converted, Path("formula"))  # refuses unknown LaTeX commands
        assert converted


def test_study_yaml_accepts_the_new_methods_and_refuses_their_bad_options():
    study = load_study("cdht")
    for weights in ({"method": "combined", "of": ["ahp", "entropy"], "rule": "game_theory"},
                    {"method": "entropy", "shift": 0.001, "scope": "year", "rescale": "minmax"},
                    {"method": "equal_indicators"}, {"method": "optimised", "objective": "infomax", "level": 3},
                    {"method": "pca", "loadings": "signed"}):
        validate_methods({**study.methods, "weights": weights}, study.folder / "study.yaml")
    for bad in ({"method": "combined", "of": "entropy"},                          # a list of methods
                {"method": "combined", "of": ["ahp", "entropy"], "rule": "harmonic"},
                {"method": "entropy", "scope": "pooled"}):
        with pytest.raises(InputError):
            validate_methods({**study.methods, "weights": bad}, study.folder / "study.yaml")


def test_describe_methods_prints_the_weighting_options_and_formula_in_both_languages():
    study = score.with_methods(load_study("cdht"), {"weights": {"method": "combined", "of": ["fixed", "entropy"],
                                                                "rule": "game_theory"}})
    text = score.describe_methods(study)
    assert '**Weights: `combined` (of = ["fixed", "entropy"], rule = game_theory).** ' + FORMULAS["combined"] in text
    assert FORMULAS_ZH["combined"] in score.describe_methods(study, "zh")


def test_a_combined_weights_alternative_works_in_the_uncertainty_analysis():
    """An expert+entropy alternative (the framework's weights and entropy with shift 0.01, α = 0.5) as an
    uncertain weights input: accepted by the spec, and the weights the engine prepares for it are, in every
    group, α·w¹ + (1 − α)·w² of the nominal weights and of the plain entropy alternative it prepares too."""
    from zoneindex.uncertainty import prepare

    study = load_study("cdht")
    fw = study.framework
    entropy = {"method": "entropy", "shift": 0.01}
    alternative = {"method": "combined", "of": ["fixed", entropy], "alpha": 0.5}
    spec = {"runs": 8, "inputs": {"weights": [alternative, entropy]}}
    parsed = parse_spec(study, spec)
    assert parsed.inputs[0].kind == "weight_method"
    assert parsed.inputs[0].labels[0] == 'combined (of=["fixed", {"method": "entropy", "shift": 0.01}], alpha=0.5)'
    raw = prepare(study, spec=spec).raw_weights[0]          # weight methods: 0 = the study's own (fixed)
    relative = [fw.relative_weights(pd.Series(row, index=fw.codes)) for row in raw]
    assert not np.allclose(relative[0], relative[2])        # entropy differs from the expert weights
    assert np.allclose(relative[1], 0.5 * relative[0] + 0.5 * relative[2], rtol=0, atol=1e-15)
    with pytest.raises(InputError):
        parse_spec(study, {"inputs": {"weights": [{"method": "combined", "of": ["fixed", "entropy"], "rule": "x"}]}})
