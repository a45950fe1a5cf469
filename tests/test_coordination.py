"""Coupling coordination, obstacle degree, constant indicators and small bases under ratio to base.

References: hand-worked numbers (the arithmetic in the comments), and the example of the R package
``coupling`` (stscl/coupling, vignettes/ccd.Rmd at commit 7d16cd9, https://stscl.github.io/coupling/articles/ccd.html):
its first six observations of the Guangzhou ``gzma`` data, min-max normalised, and the C and D it prints for
the standard and the Wang et al. (2021) models, both to 7 decimals. Differences from that package, none of
which the example reaches: it writes the standard C as geometric over arithmetic mean (the same number as
n·[ΠU/(ΣU)^n]^(1/n)), clamps C into [0, 1] and returns C = 0 when every part is 0; here the parts are
rescaled into [a, b] with a > 0, where C lies in [0, 1] by construction (the hypothesis tests; only the
standard C of equal parts is capped at 1, where exp/log rounding gives 1 + 2e-16), and a value outside
(0, 1] without rescaling is refused.
"""
from __future__ import annotations

import copy
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tests.helpers import tree
from zoneindex import clean, coordination, ingest, normalise, schema, score, validate
from zoneindex.errors import InputError
from zoneindex.study import Study, load_study


def one_row(*u) -> np.ndarray:
    return np.array([u], dtype=float)


# --- coupling degree: hand-worked numbers -------------------------------------------------------------

def test_coupling_n2_by_hand_both_forms():
    u = one_row(0.2, 0.8)
    # standard: C = 2·√(0.2·0.8)/(0.2 + 0.8) = 2·0.4/1 = 0.8
    assert coordination.coupling_degree(u, "standard")[0] == pytest.approx(0.8, abs=1e-15)
    # Wang: [1 − |0.2 − 0.8|/1] · (0.2/0.8 · 0.8/0.8)^(1/1) = 0.4 · 0.25 = 0.1, C = √0.1
    assert coordination.coupling_degree(u, "wang2021")[0] == pytest.approx(math.sqrt(0.1), abs=1e-15)
    table = coordination.coupling_table(pd.DataFrame(u, columns=["A", "B"], index=pd.MultiIndex.from_tuples(
        [("Z", 2020)], names=["entity", "year"])), rescale_to=None).set_index("form")
    # T = (0.2 + 0.8)/2 = 0.5; D = √(0.8·0.5) = √0.4 and √(√0.1·0.5)
    assert table.at["standard", "T"] == pytest.approx(0.5)
    assert table.at["standard", "D"] == pytest.approx(math.sqrt(0.4), abs=1e-15)            # 0.63246
    assert table.at["wang2021", "D"] == pytest.approx(math.sqrt(math.sqrt(0.1) * 0.5), abs=1e-15)  # 0.39764
    assert (table.at["standard", "grade"], table.at["standard", "grade_zh"]) == (7, "初级协调")
    assert (table.at["wang2021", "grade"], table.at["wang2021", "grade_en"]) == (4, "mild imbalance")


def test_coupling_n3_by_hand_both_forms_and_weights():
    u = one_row(0.2, 0.4, 0.8)
    # standard: (0.2·0.4·0.8)^(1/3) = 0.064^(1/3) = 0.4, mean 1.4/3, C = 0.4·3/1.4 = 6/7
    assert coordination.coupling_degree(u, "standard")[0] == pytest.approx(6 / 7, abs=1e-15)
    # Wang: pairwise |differences| 0.2 + 0.6 + 0.4 = 1.2 over Σ_{m=1}^{2} m = 3 -> 1 − 0.4 = 0.6;
    # Π U/max = 0.25·0.5·1 = 0.125, to the power 1/(n − 1) = 1/2: √0.125; C = √(0.6·√0.125)
    assert coordination.coupling_degree(u, "wang2021")[0] == pytest.approx(math.sqrt(0.6 * math.sqrt(0.125)),
                                                                         abs=1e-15)
    frame = pd.DataFrame(u, columns=["A", "B", "C"],
                         index=pd.MultiIndex.from_tuples([("Z", 2020)], names=["entity", "year"]))
    table = coordination.coupling_table(frame, pd.Series({"A": 2.0, "B": 1.0, "C": 1.0}), "standard", None)
    # weights 2:1:1 -> α = 0.5, 0.25, 0.25; T = 0.1 + 0.1 + 0.2 = 0.4; D = √(6/7 · 0.4)
    assert table["T"].iloc[0] == pytest.approx(0.4)
    assert table["D"].iloc[0] == pytest.approx(math.sqrt(6 / 7 * 0.4))
    assert list(table.columns[:7]) == ["entity", "year", "form", "n", "U_A", "U_B", "U_C"]


def test_equal_parts_are_perfectly_coupled_in_both_forms():
    u = one_row(0.3, 0.3, 0.3, 0.3)
    for form in coordination.FORMS:
        assert coordination.coupling_degree(u, form)[0] == pytest.approx(1.0, abs=1e-15)


# the R package's example: six observations × four parts (min-max normalised), and its C and D
GZMA = np.array([[0.8179733, 0.3246648, 0.6590316, 0.1308531], [0.3020233, 0.1318888, 0.4046987, 0.5173794],
                 [0.9209903, 0.3353516, 0.6921477, 0.3141320], [0.9604095, 0.3914758, 0.7099999, 0.4316421],
                 [0.9061589, 0.3473603, 0.7297774, 0.6909494], [0.9456379, 0.4391423, 0.7304117, 0.4792905]])
R_COUPLING = {
    "standard": [(0.8051958, 0.6237105), (0.8914577, 0.5497290), (0.8999423, 0.7134825), (0.9346128, 0.7632959),
                 (0.9440912, 0.7944703), (0.9519923, 0.7858001)],
    "wang2021": [(0.4722274, 0.4776480), (0.6211236, 0.4588675), (0.5375842, 0.5514412), (0.5861986, 0.6045044),
                 (0.6640321, 0.6662930), (0.6319211, 0.6402164)],
}


@pytest.mark.parametrize("form", coordination.FORMS)
def test_coupling_reproduces_the_r_coupling_package_example(form):
    frame = pd.DataFrame(GZMA, columns=["PS", "EL", "OH", "IL"],
                         index=pd.MultiIndex.from_product([["gzma"], range(6)], names=["entity", "year"]))
    table = coordination.coupling_table(frame, None, form, rescale_to=None)
    published = np.array(R_COUPLING[form])
    # the inputs are printed to 7 decimals: the largest difference is 7.5e-8 (C, Wang)
    assert np.abs(table["C"].to_numpy() - published[:, 0]).max() < 1e-7
    assert np.abs(table["D"].to_numpy() - published[:, 1]).max() < 1e-7


def test_grade_bands_at_their_edges():
    d = [0.0, 0.0999999, 0.1, 0.2999999, 0.3, 0.5, 0.5999999, 0.6, 0.8999999, 0.9, 1.0, np.nan]
    assert coordination.grade(d).tolist() == pytest.approx([1, 1, 2, 3, 4, 6, 6, 7, 9, 10, 10, np.nan], nan_ok=True)
    assert coordination.GRADES[0] == ("极度失调", "extreme imbalance")
    assert coordination.GRADES[9] == ("优质协调", "high-quality coordination")
    assert len(coordination.GRADES) == 10


def test_rescaling_is_min_max_into_the_range_over_the_panel_or_each_year():
    index = pd.MultiIndex.from_product([["A", "B"], [2018, 2019]], names=["entity", "year"])
    frame = pd.DataFrame({"D1": [100.0, 150.0, 100.0, 300.0], "D2": [100.0, 100.0, 100.0, 100.0]}, index=index)
    panel = coordination.rescale(frame, 0.01, 0.99)
    # D1 over the panel: min 100, max 300; 150 -> 0.01 + 0.98·50/200 = 0.255
    assert panel["D1"].tolist() == pytest.approx([0.01, 0.255, 0.01, 0.99])
    assert panel["D2"].isna().all()  # one value everywhere: no range, no U
    by_year = coordination.rescale(frame, 0.01, 0.99, over="year")
    # 2018: A and B both 100, no range (NaN); 2019: 150 and 300 -> 0.01 and 0.99
    assert by_year["D1"].tolist() == pytest.approx([np.nan, 0.01, np.nan, 0.99], nan_ok=True)
    with pytest.raises(InputError, match=r"validate.coupling.rescale.*\(0, 1\]"):
        coordination.rescale(frame, 0.0, 1.0)


def test_base_100_values_are_refused_without_rescaling():
    frame = pd.DataFrame({"D1": [100.0], "D2": [120.0]},
                         index=pd.MultiIndex.from_tuples([("Z", 2018)], names=["entity", "year"]))
    with pytest.raises(InputError, match=r"values in \(0, 1\].*D1: 100.0.*base-100 index cannot be used"):
        coordination.coupling_table(frame, rescale_to=None)
    with pytest.raises(InputError, match="at least two parts"):
        coordination.coupling_degree(one_row(0.5), "standard")
    with pytest.raises(InputError, match="unknown form choice"):
        coordination.coupling_degree(one_row(0.5, 0.6), "wang")


@settings(max_examples=100, deadline=None)
@given(arrays(float, st.tuples(st.integers(1, 8), st.integers(2, 6)), elements=st.floats(0.01, 1.0)),
       st.sampled_from(coordination.FORMS))
def test_c_and_d_lie_in_the_unit_interval(u, form):
    c = coordination.coupling_degree(u, form)
    d = np.sqrt(c * u.mean(axis=1))
    assert ((c >= 0) & (c <= 1)).all() and ((d >= 0) & (d <= 1)).all()


# --- obstacle degree -----------------------------------------------------------------------------------

def obstacle_panel():
    """Index I over D0 (x0_0 positive, x0_1 negative) and D1 (x1_0), equal weights: effective weights
    0.25, 0.25, 0.5. Three entities in one year."""
    fw = tree([[1.0, 1.0], [1.0]], directions=[1, -1, 1])
    index = pd.MultiIndex.from_product([["A", "B", "C"], [2020]], names=["entity", "year"])
    matrix = pd.DataFrame({"x0_0": [0.0, 5.0, 10.0], "x0_1": [2.0, 4.0, 6.0], "x1_0": [3.0, 1.0, 2.0]}, index=index)
    return fw, matrix


def test_obstacle_degree_by_hand():
    fw, matrix = obstacle_panel()
    effective = fw.effective_weights()
    table = coordination.obstacle_table(matrix, fw, effective).set_index(["entity", "code"])
    # x' (direction-adjusted min-max): x0_0 = 0, .5, 1; x0_1 (lower is better) = 1, .5, 0; x1_0 = 1, 0, .5
    # I = 1 − x'; F·I for B: 0.25·0.5, 0.25·0.5, 0.5·1 -> 0.125, 0.125, 0.5; total 0.75
    assert table.loc[("B", "x0_0"), "deviation"] == pytest.approx(0.5)
    assert table.loc[("B", "x1_0"), "weighted_gap"] == pytest.approx(0.5)
    assert table.loc[("B", "I"), "weighted_gap"] == pytest.approx(0.75)
    assert table.loc[("B", "x0_0"), "obstacle_pct"] == pytest.approx(100 * 0.125 / 0.75)
    assert table.loc[("B", "x1_0"), "obstacle_pct"] == pytest.approx(100 * 0.5 / 0.75)
    assert table.loc[("B", "D0"), "obstacle_pct"] == pytest.approx(100 * 0.25 / 0.75)  # a dimension: its sum
    # A: I = 1, 0, 0 -> the whole shortfall is x0_0's; C: I = 0, 1, 0.5 -> 0.25 and 0.25 of 0.5
    assert table.loc[("A", "x0_0"), "obstacle_pct"] == pytest.approx(100.0)
    assert table.loc[("A", "x1_0"), "obstacle_pct"] == 0.0
    assert table.loc[("C", "x0_1"), "obstacle_pct"] == pytest.approx(50.0)
    assert table.loc[("C", "D1"), "obstacle_pct"] == pytest.approx(50.0)
    assert np.allclose(table.xs("I", level="code")["obstacle_pct"], 100.0)
    top = coordination.top_obstacles(table.reset_index(), fw, top=2)
    first = top[(top["entity"] == "B") & (top["level"] == 1)]
    assert first["code"].tolist() == ["x1_0", "x0_0"] and first["rank"].tolist() == [1, 2]  # tie kept in order
    assert top[(top["entity"] == "B") & (top["level"] == 2)]["code"].tolist() == ["D1", "D0"]


def test_obstacles_per_year_and_missing_and_constant_indicators():
    fw = tree([[1.0, 1.0], [1.0]])
    index = pd.MultiIndex.from_product([["A", "B"], [2019, 2020]], names=["entity", "year"])
    matrix = pd.DataFrame({"x0_0": [1.0, 3.0, 2.0, 4.0], "x0_1": [7.0, 7.0, 7.0, 7.0],
                           "x1_0": [1.0, np.nan, 2.0, 5.0]}, index=index)
    panel = coordination.obstacle_table(matrix, fw, fw.effective_weights()).set_index(["entity", "year", "code"])
    # x0_1 is constant: no best and worst, left out (NaN); A 2020 has no x1_0: left out of the sum too
    assert panel.xs("x0_1", level="code")["obstacle_pct"].isna().all()
    assert panel.loc[("A", 2020, "x0_0"), "obstacle_pct"] == pytest.approx(100.0)
    # over the panel x0_0 runs 1..4: A 2020 (3) has x' = 2/3; per year 2020 runs 3..4: x' = 0
    assert panel.loc[("A", 2020, "x0_0"), "deviation"] == pytest.approx(1 / 3)
    yearly = coordination.obstacle_table(matrix, fw, fw.effective_weights(), over="year").set_index(
        ["entity", "year", "code"])
    assert yearly.loc[("A", 2020, "x0_0"), "deviation"] == pytest.approx(1.0)
    # B is the best of every indicator in 2020 (per year): no shortfall, so no shares (0/0 stays missing)
    assert np.isnan(yearly.loc[("B", 2020, "I"), "obstacle_pct"])
    with pytest.raises(InputError, match="unknown over choice"):
        coordination.obstacle_table(matrix, fw, fw.effective_weights(), over="all")


@settings(max_examples=30, deadline=None)
@given(arrays(float, (6, 3), elements=st.floats(-100, 100)), st.lists(st.floats(0.1, 5), min_size=3, max_size=3),
       st.sampled_from(coordination.OVER))
def test_obstacle_shares_sum_to_100_and_are_not_negative(values, weights, over):
    fw = tree([[weights[0], weights[1]], [weights[2]]], directions=[1, -1, 1])
    index = pd.MultiIndex.from_product([["A", "B", "C"], [2019, 2020]], names=["entity", "year"])
    table = coordination.obstacle_table(pd.DataFrame(values, index=index, columns=fw.indicators), fw,
                                        fw.effective_weights(), over)
    shares = table[table["level"] == 1].pivot_table(index=["entity", "year"], columns="code", values="obstacle_pct")
    shares = shares.dropna(how="all")
    assert (shares.fillna(0) >= 0).all().all()
    assert np.allclose(shares.sum(axis=1), 100.0)


# --- constant indicators --------------------------------------------------------------------------------

def tidy(matrix: pd.DataFrame) -> pd.DataFrame:
    long = matrix.stack(future_stack=True).rename("value").reset_index()
    long.columns = ["entity", "year", "indicator", "value"]
    return long.assign(flag="")


def test_a_constant_indicator_is_flagged_by_name_with_a_warning():
    index = pd.MultiIndex.from_product([["Z"], [2018, 2019, 2020]], names=["entity", "year"])
    table = tidy(pd.DataFrame({"parks": [3.0, 3.0, 3.0], "trade": [1.0, 2.0, np.nan], "gone": np.nan}, index=index))
    with pytest.warns(UserWarning, match="constant indicator parks: 3 in every entity and year"):
        row = validate.constant_indicator_check(table)
    assert row["status"] == "info" and row["value"] == 1
    assert row["detail"].startswith("parks = 3 in all 3 values (1 entity, 3 years): it carries no information")
    assert validate.constant_indicators(table).to_dict() == {"parks": 3.0}  # an empty indicator is not constant
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = validate.constant_indicator_check(table[table["indicator"] != "parks"])
    assert quiet["value"] == 0 and quiet["detail"] == "no indicator has one value in every entity and year"


# --- small bases under ratio to base ------------------------------------------------------------------

def small_base_study(normalisation: dict | None = None, rebase: bool = True) -> tuple[Study, pd.DataFrame]:
    """Entities A, B, C, 2018 (base) to 2020, one dimension of two indicators (x0_1 negative). A's x0_0 is
    1 in 2018 and 20 in 2020: twenty times its base."""
    fw = tree([[1.0, 1.0]], directions=[1, -1])
    index = pd.MultiIndex.from_product([["A", "B", "C"], [2018, 2019, 2020]], names=["entity", "year"])
    matrix = pd.DataFrame({"x0_0": [1.0, 5.0, 20.0, 10.0, 20.0, 30.0, 20.0, 30.0, 40.0],
                           "x0_1": [4.0, 4.0, 2.0, 8.0, 8.0, 8.0, 4.0, 2.0, 4.0]}, index=index)
    config = {"title": {"en": "tiny"}, "years": {"first": 2018, "last": 2020}, "base_year": 2018,
              "methods": {"imputation": {"method": "none"}, "outliers": {"method": "none"},
                          "normalisation": normalisation or {"method": "ratio_to_base"},
                          "weights": {"method": "fixed"}, "aggregation": {"method": "arithmetic"},
                          "rebase": rebase}}
    return Study("tiny", Path("."), config, fw), tidy(matrix)


def test_small_base_flag_by_hand():
    study, table = small_base_study()
    scores = score.score(study, table).scores
    flagged = validate.small_bases(study, table, scores)
    # A: x0_0 20/1 = 20 (2020) >= 10, flagged; B 3, C 2; x0_1 (negative: x_b/x_t) at most 4/2 = 2
    assert flagged[["entity", "indicator", "year"]].values.tolist() == [["A", "x0_0", 2020]]
    row = flagged.iloc[0]
    assert (row["base_value"], row["value"], row["ratio"], row["score"]) == (1.0, 20.0, 20.0, 2000.0)
    assert row["base_percentile"] == pytest.approx(1 / 3)  # the smallest of three base values
    assert row["index_value"] == pytest.approx((2000.0 + 200.0) / 2)  # x0_1: 100·4/2
    check = validate.small_base_check(study, flagged)
    assert check["status"] == "info" and check["value"] == 1
    assert "A x0_0 ×20.0 in 2020 (base 1)" in check["detail"] and "rule in use: none" in check["detail"]
    lower = Study(study.name, study.folder, {**study.config, "validate": {"small_bases": {"factor": 2.5}}},
                  study.framework)
    assert len(validate.small_bases(lower, table, scores)) == 2  # and B's 30/10 = 3
    goalposts = Study(study.name, study.folder, {**study.config, "base_year": None}, study.framework)
    assert validate.small_bases(goalposts, table, scores) is None


def test_base_floor_quantile_by_hand():
    study, table = small_base_study({"method": "ratio_to_base", "base_floor_quantile": 0.5})
    result = score.score(study, table)
    x = result.wide
    # base values of x0_0: 1, 10, 20; the median (linear quantile 0.5) is 10: A's base becomes 10
    assert x.loc[("A", 2020), "x0_0"] == pytest.approx(200.0)     # 100·20/10, not 2000
    assert x.loc[("A", 2018), "x0_0"] == pytest.approx(10.0)      # 100·1/10: below 100 in the base year
    assert x.loc[("B", 2020), "x0_0"] == pytest.approx(300.0)     # not floored
    assert x.loc[("A", 2020), "x0_1"] == pytest.approx(200.0)     # negative indicator: never floored
    checks = validate.invariant_checks(study, table, result.scores, result.weights, result.contributions)
    base = next(r for r in checks if r["check"].startswith("base year"))
    assert base["status"] == "pass" and "1 nodes of entities with a floored base left out" in base["detail"]
    assert validate.floored_nodes(study, table).tolist() == [("A", "x0_0")]
    unrebased, _ = small_base_study({"method": "ratio_to_base", "base_floor_quantile": 0.5}, rebase=False)
    assert validate.floored_nodes(unrebased, table).tolist() == [("A", "D0"), ("A", "I"), ("A", "x0_0")]


def test_base_floor_value_and_log_ratio_by_hand():
    fw = tree([[1.0, 1.0]], directions=[1, -1])
    _, table = small_base_study()
    matrix = table.pivot(index=["entity", "year"], columns="indicator", values="value")
    floored = normalise.normalise(matrix, fw, 2018, "ratio_to_base", base_floor_value=5.0)
    assert floored.loc[("A", 2020), "x0_0"] == pytest.approx(400.0)   # 100·20/max(1, 5)
    assert floored.loc[("B", 2020), "x0_0"] == pytest.approx(300.0)   # base 10 above the floor
    logged = normalise.normalise(matrix, fw, 2018, "ratio_to_base", form="log_ratio")
    assert logged.loc[("A", 2020), "x0_0"] == pytest.approx(100 * (1 + math.log(20)))   # 399.57
    assert logged.loc[("A", 2020), "x0_1"] == pytest.approx(100 * (1 + math.log(2)))    # 4/2, lower is better
    assert (logged.xs(2018, level="year") == 100.0).all().all()   # ln 1 = 0 exactly
    plain = normalise.normalise(matrix, fw, 2018, "ratio_to_base")
    assert plain.loc[("A", 2020), "x0_0"] == 2000.0
    with pytest.raises(InputError, match="give one floor on the base, not two"):
        normalise.normalise(matrix, fw, 2018, "ratio_to_base", base_floor_value=5.0, base_floor_quantile=0.1)
    with pytest.raises(InputError, match=r"base_floor_quantile.*not inside \(0, 1\)"):
        normalise.normalise(matrix, fw, 2018, "ratio_to_base", base_floor_quantile=10)
    with pytest.raises(InputError, match="unknown ratio form.*'log'"):
        normalise.normalise(matrix, fw, 2018, "ratio_to_base", form="log")


# --- the study definition -------------------------------------------------------------------------------

def test_validate_settings_are_checked_by_the_schema():
    study = load_study("cdht")
    config = copy.deepcopy(study.config)
    config["validate"]["coupling"]["rescale"] = [0, 1]
    with pytest.raises(InputError, match=r"'validate.coupling.rescale': rescale must be \[a, b\] with 0 < a < b <= 1"):
        schema.validate(config, None, study.framework)
    config = copy.deepcopy(study.config)
    config["validate"]["coupling"]["of"] = ["D1", "D9"]
    with pytest.raises(InputError, match=r"'validate.coupling.of': coupling part is not in the framework"):
        schema.validate(config, None, study.framework)
    config = copy.deepcopy(study.config)
    config["validate"]["coupling"]["weights"] = {"D1": 1.0}
    with pytest.raises(InputError, match="coupling weights must name exactly the coupled parts"):
        schema.validate(config, None, study.framework)
    config = copy.deepcopy(study.config)
    config["validate"]["obstacles"] = {"topp": 3}
    with pytest.raises(InputError, match=r"unknown obstacle option 'topp' \(did you mean 'top'\?\)"):
        schema.validate(config, None, study.framework)


# --- on the shipped studies -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cdht():
    study = load_study("cdht")
    tidy_, _ = ingest.ingest(study, 2023)
    cleaned, _ = clean.clean_study(study, tidy_, range(2016, 2024))
    return study, cleaned, score.score(study, cleaned)


@pytest.fixture(scope="module")
def provinces():
    study = load_study("provinces")
    tidy_, _ = ingest.ingest(study, 2023)
    cleaned, _ = clean.clean_study(study, tidy_, range(2010, 2024))
    return study, cleaned, score.score(study, cleaned)


def test_cdht_flags_intl_coop_parks_and_writes_coupling_and_obstacles(cdht):
    study, cleaned, result = cdht
    with pytest.warns(UserWarning, match="constant indicator intl_coop_parks: 3"):
        tables = validate.validate(study, cleaned, result.scores, result.weights, result.contributions,
                                   ingest.read_references(study))
    checks = tables["checks"].set_index("check")
    constant = checks.loc["constant indicators (one value in every entity and year)"]
    assert constant["value"] == 1 and constant["detail"].startswith("intl_coop_parks = 3 in all 8 values")
    assert set(checks["status"]) <= {"pass", "info"}
    coupled = tables["coupling"]
    assert len(coupled) == 8 * 2 and set(coupled["form"]) == set(coordination.FORMS)
    assert [c for c in coupled if c.startswith("U_")] == [f"U_D{i}" for i in range(1, 6)]
    assert coupled[["C", "D"]].stack().between(0, 1).all()
    # each dimension rescaled over 2016-2023: its lowest year 0.01, its highest 0.99
    assert coupled[[f"U_D{i}" for i in range(1, 6)]].min().tolist() == pytest.approx([0.01] * 5)
    assert coupled[[f"U_D{i}" for i in range(1, 6)]].max().tolist() == pytest.approx([0.99] * 5)
    shares = tables["obstacles"]
    indicator_sums = shares[shares["level"] == 1].groupby("year")["obstacle_pct"].sum()
    assert np.allclose(indicator_sums, 100.0)  # every year below the best year on something
    assert shares.loc[shares["code"] == "intl_coop_parks", "obstacle_pct"].isna().all()
    assert tables["top_obstacles"].groupby(["year", "level"]).size().max() == 3
    quality = validate.indicator_statistics(cleaned, pd.DataFrame(columns=["indicator", "step"]), study)
    assert quality.index[quality["constant"]].tolist() == ["intl_coop_parks"]
    text = validate.describe_analyses(study, "zh")
    assert "耦合协调度" in text and "王淑佳" in text and "障碍度" in text


def test_provinces_small_bases_name_heilongjiang_and_hainan(provinces):
    study, cleaned, result = provinces
    table = validate.small_bases(study, cleaned, result.scores)
    # what the yearbook data say: 黑龙江's new-product exports of 2018 (3,258 万元) are 1/44 of 2022's and
    # 1/130 of 2016's; 海南's 1,407 万元 grow 13.4 times by 2023; also 青海 (179 万元) and 山西
    assert list(dict.fromkeys(table["entity"])) == ["黑龙江", "青海", "海南", "山西"]
    first = table.iloc[0]
    assert (first["entity"], first["indicator"], first["year"], first["base_value"]) == ("黑龙江", "NPEXP", 2016, 3258.0)
    assert first["ratio"] == pytest.approx(424420.6 / 3258.0)
    assert set(table["indicator"]) == {"NPEXP", "NPEXP_SH"}
    hainan = table[(table["entity"] == "海南") & (table["indicator"] == "NPEXP")].iloc[0]
    assert hainan["year"] == 2023 and hainan["index_value"] == pytest.approx(561.46, abs=0.01)
    index = result.scores[(result.scores["code"] == "PROVINTL")].set_index(["entity", "year"])["value"]
    assert index[("黑龙江", 2022)] == pytest.approx(950.20, abs=0.01)


def test_provinces_floor_rule_tames_heilongjiang(provinces):
    study, cleaned, result = provinces
    floored = score.with_methods(study, study.config["alternatives"]["ratio_base_floor_q10"])
    scores = score.score(floored, cleaned).scores
    index = scores[scores["code"] == "PROVINTL"].set_index(["entity", "year"])["value"]
    nominal = result.scores[result.scores["code"] == "PROVINTL"].set_index(["entity", "year"])["value"]
    assert nominal[("黑龙江", 2022)] > 900 and index[("黑龙江", 2022)] < nominal[("黑龙江", 2022)] / 2
    checks = validate.invariant_checks(floored, cleaned, scores, score.score(floored, cleaned).weights, None)
    base = next(r for r in checks if r["check"].startswith("base year"))
    assert base["status"] == "pass"


@settings(max_examples=25, deadline=None)
@given(arrays(float, (4, 2), elements=st.floats(0.01, 1e4)), st.floats(0.05, 0.95))
def test_a_floor_never_raises_a_score_and_the_log_ratio_keeps_the_order(values, quantile):
    fw = tree([[1.0, 1.0]], directions=[1, -1])
    index = pd.MultiIndex.from_product([["A", "B"], [2018, 2019]], names=["entity", "year"])
    matrix = pd.DataFrame(values, index=index, columns=fw.indicators)
    plain = normalise.normalise(matrix, fw, 2018, "ratio_to_base")
    floored = normalise.normalise(matrix, fw, 2018, "ratio_to_base", base_floor_quantile=quantile)
    assert (floored["x0_0"] <= plain["x0_0"] * (1 + 1e-12)).all()   # a larger base, a smaller ratio
    assert floored["x0_1"].equals(plain["x0_1"])                     # negative indicators are never floored
    logged = normalise.normalise(matrix, fw, 2018, "ratio_to_base", form="log_ratio")
    assert np.allclose(logged, 100 * (1 + np.log(plain / 100)))     # 100·(1 + ln r): the same ranking as r
    for code in fw.indicators:
        assert (logged[code].rank().to_numpy() == plain[code].rank().to_numpy()).all()


def test_the_small_base_rules_are_valid_alternatives_and_uncertain_inputs():
    study = load_study("provinces")
    config = copy.deepcopy(study.config)
    config["uncertainty"]["inputs"]["normalisation"] = [{"method": "ratio_to_base"},
                                                        {"method": "ratio_to_base", "base_floor_quantile": 0.1},
                                                        {"method": "ratio_to_base", "form": "log_ratio"}]
    schema.validate(config, None, study.framework)
    config["uncertainty"]["inputs"]["normalisation"][1] = {"method": "ratio_to_base", "base_floor_quantle": 0.1}
    with pytest.raises(InputError, match=r"did you mean 'base_floor_quantile'"):
        schema.validate(config, None, study.framework)
    text = score.describe_methods(score.with_methods(study, study.config["alternatives"]["ratio_base_floor_q10"]))
    assert "base_floor_quantile = 0.1" in text and r"\max(x_{j,b}, F_j)" in text


def test_formulas_are_given_in_both_languages_for_every_analysis():
    assert set(coordination.FORMULAS) == set(coordination.FORMULAS_ZH) == {
        "coupling_rescale", "coupling_standard", "coupling_wang2021", "coupling_grades", "obstacle"}
    assert "耦合协调度" in coordination.FORMULAS_ZH["coupling_standard"]
    assert "[@wang2021ccd]" in coordination.FORMULAS["coupling_wang2021"]  # cited, the reference list names it
    assert "王淑佳" in coordination.FORMULAS_ZH["coupling_wang2021"] and "障碍度" in coordination.FORMULAS_ZH["obstacle"]
