"""Outlier treatment against COINr's own answers (tests/testthat/test-treat.R, vignettes/treat.Rmd output)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from zoneindex.cells import LOG_COLUMNS
from zoneindex.errors import InputError
from zoneindex.treat import apply_to_tidy, check_skew_kurt, kurt, log_ct, skew, treat, treat_indicator

# ASEM example data (COINr's ASEM_iData, MIT licence, © William Becker / JRC), rows in COINr's order.
UCODES = ("AUT BEL BGR HRV CYP CZE DNK EST FIN FRA DEU GRC HUN IRL ITA LVA LTU LUX MLT NLD NOR POL PRT ROU SVK SVN "
          "ESP SWE CHE GBR AUS BGD BRN KHM CHN IND IDN JPN KAZ KOR LAO MYS MNG MMR NZL PAK PHL RUS SGP THA VNM").split()
FLIGHTS = [29.01725, 31.88546, 9.23588, 9.24529, 8.75467, 15.30953, 32.7705, 3.12946, 18.85806, 97.63489, 174.3588,
           34.83849, 13.01196, 34.17721, 110.2755, 6.77976, 5.37919, 4.84458, 6.75251, 63.59241, 25.64994, 33.79735,
           40.46484, 18.79894, 2.07397, 1.51736, 170.9628, 31.74444, 51.78846, 210.8244, 36.05498, 4.27955, 2.019,
           9.5212, 114.2008, 25.2643, 34.6802, 69.00941, 4.02303, 69.84827, 3.0744, 53.33988, 0.98951, 6.695,
           13.37242, 2.21146, 19.43838, 34.06447, 67.86156, 73.92221, 28.52418]
GOODS = [278.4264, 597.8723, 42.82515, 28.36795, 8.76681, 274.1365, 146.6771, 28.2411, 101.575, 849.3303, 1919.194,
         56.62702, 173.6159, 139.9937, 658.1981, 28.29194, 42.12889, 30.97279, 13.2783, 770.3935, 142.6095, 363.0132,
         102.4915, 115.3185, 140.366, 54.98977, 447.1229, 233.3067, 402.8649, 778.9052, 288.4893, 56.24166, 7.23391,
         20.75014, 1713.619, 288.9806, 222.4186, 732.2078, 55.04856, 568.992, 8.95527, 278.0319, 7.81803, 31.70398,
         48.20846, 45.28752, 118.5618, 343.8504, 414.2389, 282.8014, 269.0766]
SERVICES = [108.1273, 216.3146, 12.97674, 17.35676, 15.23712, 43.46382, 113.6753, 10.2278, 53.80751, 471.2931,
            578.4264, 38.17887, 39.11952, 338.0985, 202.5398, 7.25574, 12.35732, 165.791, 20.06847, 346.5511, 83.35802,
            82.74544, 43.77949, 31.05017, 16.2451, 11.79091, 197.1981, 132.1061, 207.3637, 518.2256, 108.6645,
            10.07891, 2.11464, 5.79267, 657.109, 294.2822, 54.06682, 351.4253, 16.85995, 200.8481, 1.37855, 72.93042,
            2.72198, 6.24003, 26.55097, 11.00249, 55.21572, 122.5508, 304.7169, 108.0109, 30.53244]
BORD = [35, 48, 18, 41, 0, 35, 3, 6, 18, 75, 105, 12, 28, 12, 24, 17, 22, 12, 0, 32, 19, 62, 11, 24, 25, 20, 26, 18,
        41, 13, 0, 16, 2, 13, 32, 35, 2, 0, 46, 1, 20, 9, 9, 8, 0, 43, 0, 122, 2, 17, 25]


def wide(columns: dict[str, list[float]], years: list[int], entities: list[str]) -> pd.DataFrame:
    index = pd.MultiIndex.from_product([entities, years], names=["entity", "year"])
    return pd.DataFrame(columns, index=index)


# --- skewness and kurtosis -------------------------------------------------------------------------------------

def test_skew_kurt_match_excel_documented_examples():
    # Microsoft's SKEW and KURT help pages use this sample: SKEW = 0.359543, KURT = -0.151799637
    x = [3, 4, 5, 2, 3, 4, 5, 6, 4, 7]
    assert skew(x) == pytest.approx(0.359543, abs=5e-7)
    assert kurt(x) == pytest.approx(-0.151799637, abs=5e-10)


def test_skew_kurt_hand_computed():
    # ten 0s and two 1s: mean 1/6, Σd² = 5/3, Σd³ = 10/9, Σd⁴ = 35/36, so g1 = 4/√5, G1 = g1·√132/10 = 0.4·√26.4,
    # r = 12·(35/36)/(5/3)² = 4.2, G2 = (13·1.2 + 6)·11/(10·9) = 2.64
    x = [0] * 10 + [1] * 2
    assert skew(x) == pytest.approx(0.4 * np.sqrt(26.4), rel=1e-14)
    assert kurt(x) == pytest.approx(2.64, rel=1e-14)


def test_skew_kurt_match_coinr_vignette():
    x = np.r_[np.arange(1, 11), 30, 100]  # vignettes/treat.Rmd: skew 3.063241, kurt 9.741391
    assert skew(x) == pytest.approx(3.063241, abs=5e-7)
    assert kurt(x) == pytest.approx(9.741391, abs=5e-7)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=4, max_size=40).filter(lambda v: np.ptp(v) > 1e-3))
def test_skew_kurt_equal_scipy_unbiased(values):
    assert skew(values) == pytest.approx(stats.skew(values, bias=False), rel=1e-7, abs=1e-9)
    assert kurt(values) == pytest.approx(stats.kurtosis(values, bias=False), rel=1e-7, abs=1e-9)


def test_skew_kurt_ignore_nan_and_need_enough_values():
    x = np.array([1.0, np.nan, 2.0, 7.0, np.nan, 3.0, 11.0])
    assert skew(x) == skew(x[~np.isnan(x)]) and kurt(x) == kurt(x[~np.isnan(x)])
    assert np.isnan(skew([1.0, 2.0])) and np.isnan(kurt([1.0, 2.0, 3.0]))
    assert np.isnan(skew([4.0] * 6)) and np.isnan(kurt([4.0] * 6))


def test_pass_rule_is_or_with_strict_inequalities():
    x = [0] * 10 + [1] * 2  # |skew| 2.055 ≥ 2 but kurt 2.64 < 3.5: COINr passes it (OR)
    assert check_skew_kurt(x)[0] is True
    assert check_skew_kurt(x, kurt_thresh=kurt(x))[0] is False  # kurt == threshold does not pass (strict <)
    assert check_skew_kurt(x, skew_thresh=skew(x), kurt_thresh=0)[0] is False  # nor |skew| == threshold
    assert check_skew_kurt([1.0, 2.0, 9.0])[0] is True  # n = 3: kurtosis NA, skew alone decides (NA | TRUE)
    assert check_skew_kurt([1.0, 2.0])[0] is None


# --- one indicator: COINr's tests/testthat/test-treat.R -------------------------------------------------------

def test_coinr_single_outlier_winsorised_to_next_value():
    x = np.r_[np.arange(1, 11), 100.0]
    assert check_skew_kurt(x)[0] is False
    treated, details, points = treat_indicator(x, winmax=5)
    assert treated[x == 100] == 10 and np.array_equal(treated[:10], x[:10])
    assert check_skew_kurt(treated)[0] is True
    assert points == [(10, "winhi")] and details["nwin"] == 1 and not details["log_ct"]


def test_coinr_two_outliers_winmax_one_goes_to_log_ct_of_the_original():
    x = np.r_[np.arange(1, 21), 100.0, 200.0]
    treated, details, points = treat_indicator(x, winmax=1)
    assert details["nwin"] == 1 and details["pass_1"] is False and details["log_ct"]
    np.testing.assert_allclose(treated, np.log(x - 1 + 0.01 * 199), rtol=1e-15)  # the untreated x, not the winsorised
    assert points == [(i, "log") for i in range(22)]
    combined, details_c, points_c = treat_indicator(x, winmax=1, combine_treat=True)
    winsorised = np.r_[np.arange(1, 21), 100.0, 100.0]
    np.testing.assert_allclose(combined, log_ct(winsorised), rtol=1e-15)
    assert points_c[21] == (21, "winhi+log") and points_c[0] == (0, "log")


def test_coinr_forced_winsorisation_treats_three_points():
    x = np.r_[np.arange(1, 21), 100.0, 200.0]
    treated, details, points = treat_indicator(x, winmax=3, force_win=True)
    assert len(points) == 3 and details["nwin"] == 3
    # high twice (200, then both top points tied at 100, set to 20), then the skew turns negative: low once
    assert points == [(0, "winlo"), (20, "winhi"), (21, "winhi")]
    assert list(treated[[0, 20, 21]]) == [2.0, 20.0, 20.0]


def test_ties_at_the_extreme_move_together_and_count_in_nwin():
    x = np.r_[np.arange(1, 21), 500.0, 500.0]
    treated, details, points = treat_indicator(x)
    assert details["nwin"] == 2 and list(treated[20:]) == [20.0, 20.0]
    assert points == [(20, "winhi"), (21, "winhi")]


def test_negative_skew_winsorises_the_low_side():
    x = -np.r_[np.arange(1, 11), 100.0]
    treated, _, points = treat_indicator(x)
    assert treated[10] == -10 and points == [(10, "winlo")]


# --- one indicator: the ASEM numbers printed in COINr's treat vignette ----------------------------------------

@pytest.mark.parametrize("values, skew0, kurt0, nwin, skew1, kurt1, treated_at", [
    (FLIGHTS, 2.1032872, 4.5088794, 1, 1.900658, 3.336065, ["GBR"]),
    (GOODS, 2.6499733, 8.2666095, 2, 1.140608, 0.1572047, ["DEU", "CHN"]),
    # Bord passes after one point on skew alone (1.899 < 2) although its kurtosis is 4.35
    (BORD, 2.1482360, 5.7914905, 1, 1.899211, 4.346298, ["RUS"]),
])
def test_asem_default_treatment_matches_vignette(values, skew0, kurt0, nwin, skew1, kurt1, treated_at):
    treated, details, points = treat_indicator(values)
    assert details["skew_0"] == pytest.approx(skew0, abs=5e-7) and details["kurt_0"] == pytest.approx(kurt0, abs=5e-7)
    assert details["pass_0"] is False and details["nwin"] == nwin and details["pass_1"] is True
    assert details["skew_1"] == pytest.approx(skew1, abs=5e-7) and details["kurt_1"] == pytest.approx(kurt1, abs=5e-7)
    assert [UCODES[i] for i, _ in points] == treated_at and not details["log_ct"]


def test_asem_services_passes_untouched():
    treated, details, points = treat_indicator(SERVICES)
    assert details["pass_0"] is True and points == [] and np.array_equal(treated, SERVICES)
    assert details["skew_0"] == pytest.approx(1.7010849, abs=5e-8)
    assert details["kurt_0"] == pytest.approx(2.3756557, abs=5e-8)


def test_asem_log_ct_cases_match_vignette():
    # qTreat(df1, winmax = 1, skew_thresh = 1.5, kurt_thresh = 3): both fail after one point, log_CT passes
    for values, skew2, kurt2 in [(FLIGHTS, -0.09502644, -0.8305217), (GOODS, 0.03104001, -0.8888965)]:
        _, details, points = treat_indicator(values, winmax=1, skew_thresh=1.5, kurt_thresh=3)
        assert details["nwin"] == 1 and details["pass_1"] is False and details["log_ct"]
        assert details["skew_2"] == pytest.approx(skew2, abs=5e-9)
        assert details["kurt_2"] == pytest.approx(kurt2, abs=5e-8)
        assert details["pass_2"] is True and len(points) == 51
    # Treat(..., indiv_specs = list(Flights = list(f1_para = list(winmax = 0)))): nothing winsorised, then log_CT
    _, details, _ = treat_indicator(FLIGHTS, winmax=0)
    assert details["nwin"] == 0 and details["skew_1"] == details["skew_0"]
    assert details["skew_2"] == pytest.approx(-0.09502644, abs=5e-9)


# --- missing values and degenerate indicators -----------------------------------------------------------------

def test_nan_stays_nan_and_is_ignored():
    x = np.r_[np.arange(1, 11), 100.0, np.nan, np.nan]
    treated, details, points = treat_indicator(x)
    assert np.isnan(treated[11:]).all() and treated[10] == 10 and points == [(10, "winhi")]
    assert details["n"] == 11
    x_log = np.r_[np.arange(1, 21), 100.0, 200.0, np.nan]
    treated_log, _, points_log = treat_indicator(x_log, winmax=1)
    assert np.isnan(treated_log[-1]) and len(points_log) == 22


@pytest.mark.parametrize("x, note", [([5.0, np.nan, 900.0], "fewer than 3 values"), ([7.0] * 6, "no spread")])
def test_undefined_check_leaves_the_indicator_alone_with_a_note(x, note):
    treated, details, points = treat_indicator(x)
    assert details["pass_0"] is None and points == [] and note in details["note"]
    np.testing.assert_array_equal(treated, x)


# --- data frames: per panel and per year ----------------------------------------------------------------------

def test_treat_logs_every_treated_cell_in_the_clean_log_format():
    table = wide({"Flights": FLIGHTS, "Services": SERVICES}, [2018], UCODES)
    treated, log, details = treat(table)
    assert list(log.columns) == LOG_COLUMNS
    assert log[["entity", "year", "indicator", "step", "method"]].values.tolist() == [
        ["GBR", 2018, "Flights", "outliers", "winsorise:hi"]]
    assert log["before"].tolist() == [210.8244] and log["after"].tolist() == [174.3588]
    assert treated.loc[("GBR", 2018), "Flights"] == 174.3588
    pd.testing.assert_series_equal(treated["Services"], table["Services"])
    assert details.set_index("indicator")["nwin"].fillna(0).to_dict() == {"Flights": 1, "Services": 0}
    assert details["year"].isna().all()  # pooled


def test_treat_by_year_treats_each_cross_section_separately():
    calm = list(np.arange(1.0, 12.0))
    spiky = list(np.r_[np.arange(1.0, 11.0), 100.0])
    entities = [f"E{i:02d}" for i in range(11)]
    index = pd.MultiIndex.from_product([entities, [2020, 2021]], names=["entity", "year"])
    table = pd.DataFrame({"x": [v for pair in zip(calm, spiky) for v in pair]}, index=index)

    by_year, log_year, details_year = treat(table, by="year")
    assert log_year[["entity", "year", "method"]].values.tolist() == [["E10", 2021, "winsorise:hi"]]
    assert by_year.loc[("E10", 2021), "x"] == 10 and by_year.loc[("E10", 2020), "x"] == 11
    assert details_year["year"].tolist() == [2020, 2021] and details_year["pass_0"].tolist() == [True, False]

    pooled, log_pooled, _ = treat(table, by="panel")
    # pooled, the 100 is winsorised to the next value of the whole panel, 11 from 2020
    assert log_pooled[["entity", "year"]].values.tolist() == [["E10", 2021]]
    assert pooled.loc[("E10", 2021), "x"] == 11


def test_treat_leaves_sparse_years_alone_and_rejects_bad_arguments():
    index = pd.MultiIndex.from_product([["A", "B", "C"], [2020]], names=["entity", "year"])
    table = pd.DataFrame({"x": [1.0, np.nan, 50.0]}, index=index)
    treated, log, details = treat(table, by="year")
    assert log.empty and list(log.columns) == LOG_COLUMNS
    pd.testing.assert_frame_equal(treated, table)
    assert "fewer than 3 values" in details.loc[0, "note"]
    with pytest.raises(InputError, match="grouping"):
        treat(table, by="entity")
    with pytest.raises(InputError, match="indexed by"):
        treat(table.reset_index(level="year"))


def test_apply_to_tidy_writes_values_and_flags():
    table = wide({"Flights": FLIGHTS}, [2018], UCODES)
    _, log, _ = treat(table)
    tidy = table.stack().rename("value").reset_index().rename(columns={"level_2": "indicator"})
    tidy["flag"] = np.where(tidy["entity"] == "GBR", "denominated", "")
    out = apply_to_tidy(tidy, log)
    gbr = out[out["entity"] == "GBR"].iloc[0]
    assert gbr["value"] == 174.3588 and gbr["flag"] == "denominated;outlier:winsorise:hi"
    assert (out.loc[out["entity"] != "GBR", "flag"] == "").all()
