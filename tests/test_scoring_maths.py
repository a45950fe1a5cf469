"""Normalisation, aggregation and the decomposition of change: hand-worked numbers and invariants."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from zoneindex.errors import InputError
from zoneindex.normalise import normalise
from zoneindex.score import aggregate_frame
from tests.helpers import panel, tree

YEARS = [2017, 2018, 2019, 2020]
ARITHMETIC = {"method": "arithmetic", "min_availability": 0.5}


def test_ratio_to_base_by_hand():
    fw = tree([[1, 1]], directions=[1, -1])
    x = panel(fw, np.array([[10.0, 4.0], [20.0, 8.0], [30.0, 2.0], [5.0, 16.0]]), YEARS)
    r = normalise(x, fw, 2018, "ratio_to_base")
    assert r["x0_0"].tolist() == [50.0, 100.0, 150.0, 25.0]
    assert r["x0_1"].tolist() == [200.0, 100.0, 400.0, 50.0]  # lower is better: 100·x_b/x_t


def test_ratio_to_base_refuses_a_zero_base_unless_told_to_offset():
    fw = tree([[1]])
    x = panel(fw, np.array([[1.0], [0.0], [2.0], [3.0]]), YEARS)
    with pytest.raises(InputError, match="x0_0"):
        normalise(x, fw, 2018, "ratio_to_base")
    shifted = normalise(x, fw, 2018, "ratio_to_base", zero_base="offset", offset=1.0)
    assert shifted["x0_0"].tolist() == [200.0, 100.0, 300.0, 400.0]


def test_goalposts_with_cap_and_log_by_hand():
    fw = tree([[1, 1]])
    fw.table["goalpost_lo"] = [np.nan, np.nan, 20.0, 100.0]
    fw.table["goalpost_hi"] = [np.nan, np.nan, 85.0, 75000.0]
    fw.table["transform"] = ["", "", "", "log"]
    x = panel(fw, np.array([[52.5, 100000.0], [10.0, 1000.0]]), [2020, 2021])
    s = normalise(x, fw, None, "goalposts", scale=(0, 1))
    assert s["x0_0"].tolist() == [0.5, 0.0]  # (52.5-20)/65, and 10 is capped at 20
    assert s["x0_1"].tolist()[0] == 1.0  # capped at 75 000
    assert s["x0_1"].tolist()[1] == pytest.approx((np.log(1000) - np.log(100)) / (np.log(75000) - np.log(100)))


def test_minmax_and_zscore_respect_direction():
    fw = tree([[1, 1]], directions=[1, -1])
    x = panel(fw, np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [5.0, 5.0]]), YEARS)
    m = normalise(x, fw, None, "minmax", scale=(0, 100))
    assert m["x0_0"].tolist() == [0.0, 25.0, 50.0, 100.0]
    assert m["x0_1"].tolist() == [100.0, 75.0, 50.0, 0.0]
    z = normalise(x, fw, None, "zscore")
    assert z["x0_0"].mean() == pytest.approx(0) and z["x0_0"].std(ddof=1) == pytest.approx(1)
    assert np.allclose(z["x0_1"], -z["x0_0"])


def aggregated(fw, x, method, **options):
    """Every node's score of a normalised matrix under one aggregation method (no base year)."""
    return aggregate_frame(fw, x, None, {"method": method, **options}, None, False)[0]


def test_power_means_by_hand_and_missing_children_reweighted():
    fw = tree([[1.0, 3.0]])
    x = panel(fw, np.array([[4.0, 16.0], [4.0, np.nan]]), [2020, 2021])
    assert aggregated(fw, x, "arithmetic")["D0"].tolist() == [13.0, 4.0]
    assert aggregated(fw, x, "geometric")["D0"].iloc[0] == pytest.approx(4 ** 0.25 * 16 ** 0.75)
    assert aggregated(fw, x, "harmonic")["D0"].iloc[0] == pytest.approx(1 / (0.25 / 4 + 0.75 / 16))
    assert aggregated(fw, x, "generalised", p=2.0)["D0"].iloc[0] == pytest.approx(np.sqrt(0.25 * 16 + 0.75 * 256))


def test_mazziotta_pareto_penalises_unbalance_by_hand():
    fw = tree([[1.0, 1.0]])
    x = panel(fw, np.array([[10.0, 10.0], [5.0, 15.0]]), [2020, 2021])
    # same mean 10; the unbalanced row loses S²/M = 25/10
    assert aggregated(fw, x, "mazziotta_pareto")["D0"].tolist() == [10.0, 7.5]


def test_min_availability_leaves_thin_aggregates_missing():
    fw = tree([[1, 1, 1]])
    x = panel(fw, np.array([[1.0, np.nan, np.nan], [1.0, 2.0, np.nan]]), [2020, 2021])
    strict = aggregated(fw, x, "arithmetic", min_availability=0.6)
    assert np.isnan(strict.loc[("Z", 2020), "D0"]) and strict.loc[("Z", 2021), "D0"] == 1.5


def test_geometric_refuses_zero_with_a_clear_message():
    fw = tree([[1, 1]])
    x = panel(fw, np.array([[0.0, 2.0]]), [2020])
    with pytest.raises(InputError, match="geometric aggregation of 'D0' needs positive values"):
        aggregated(fw, x, "geometric")


def _score(fw, raw, method, base=2018):
    normalised = normalise(raw, fw, base, "ratio_to_base")
    chain = method == "chained"
    config = {"method": "arithmetic" if chain else method, "min_availability": 0.5, "chain": chain}
    return aggregate_frame(fw, normalised, None, config, base, rebase=not chain)


structure = st.lists(st.lists(st.floats(0.1, 10), min_size=1, max_size=4), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(structure, st.data(), st.sampled_from(["arithmetic", "geometric", "harmonic", "mazziotta_pareto", "chained"]))
def test_base_year_is_exactly_100_and_contributions_add_up(dimensions, data, method):
    fw = tree(dimensions)
    # Mazziotta–Pareto can reach 0 for very unbalanced children (M = S²/M); keep it where it is meant to work
    low, high = (50.0, 150.0) if method == "mazziotta_pareto" else (0.5, 1e4)
    raw = data.draw(arrays(float, (len(YEARS) * 2, len(fw.indicators)), elements=st.floats(low, high)))
    scores, parts = _score(fw, panel(fw, raw, YEARS, ["A", "B"]), method)
    assert (scores.xs(2018, level="year").to_numpy() == 100.0).all()
    summed = parts[parts["level"] == 1].groupby(["entity", "year"])["to_index"].sum()
    change = parts[parts["code"] == "I"].set_index(["entity", "year"])["change"]
    # 1e-9 points on an index of order 100; relative to the change where hypothesis drives it to millions
    assert (np.abs(summed - change) <= 1e-9 * np.maximum(1.0, np.abs(change))).all()
    children = parts[parts["parent"] != ""].groupby(["entity", "year", "parent"])["to_parent"].sum()
    own = parts.set_index(["entity", "year", "code"])["change"]
    own_change = own.reindex(children.index).to_numpy()
    assert (np.abs(children.to_numpy() - own_change) <= 1e-9 * np.maximum(1.0, np.abs(own_change))).all()


@settings(max_examples=60, deadline=None)
@given(structure, st.data(), st.sampled_from(["arithmetic", "geometric", "harmonic", "chained"]))
def test_a_better_indicator_never_lowers_the_index(dimensions, data, method):
    directions = data.draw(st.lists(st.sampled_from([1, -1]), min_size=40, max_size=40))
    fw = tree(dimensions, directions=directions)
    raw = data.draw(arrays(float, (len(YEARS), len(fw.indicators)), elements=st.floats(0.5, 1e4)))
    j = data.draw(st.integers(0, len(fw.indicators) - 1))
    factor = data.draw(st.floats(1.0, 10.0))
    better = raw.copy()
    # improve indicator j in 2019 (row 2): raise it if higher is better, lower it otherwise. The index of
    # that year must not fall. (A chain index of a later year may: chaining is path-dependent.)
    better[2, j] = raw[2, j] * factor if fw.directions.iloc[j] > 0 else raw[2, j] / factor
    before, _ = _score(fw, panel(fw, raw, YEARS), method)
    after, _ = _score(fw, panel(fw, better, YEARS), method)
    assert after.loc[("Z", 2019), "I"] >= before.loc[("Z", 2019), "I"] - 1e-9


def test_contributions_by_hand_for_two_equal_dimensions():
    fw = tree([[1], [1]])
    raw = np.array([[10.0, 10.0], [10.0, 10.0], [20.0, 12.0], [10.0, 10.0]])
    scores, parts = _score(fw, panel(fw, raw, YEARS), "arithmetic")
    parts = parts.set_index(["year", "code"])
    assert scores.loc[("Z", 2019), "I"] == pytest.approx(160.0)  # (200 + 120) / 2
    assert parts.loc[(2019, "D0"), "to_index"] == pytest.approx(50.0)
    assert parts.loc[(2019, "x1_0"), "to_index"] == pytest.approx(10.0)


def test_chain_linked_aggregation_by_hand():
    """NBS method: D_t = D_{t-1}(1 + Σ w g); with equal weights and growth 10 % and 30 %, D grows 20 %."""
    fw = tree([[1, 1]])
    raw = np.array([[100.0, 100.0], [100.0, 100.0], [110.0, 130.0], [121.0, 130.0]])
    scores, parts = _score(fw, panel(fw, raw, YEARS), "chained")
    assert scores.loc[("Z", 2019), "D0"] == pytest.approx(120.0)
    assert scores.loc[("Z", 2020), "D0"] == pytest.approx(120.0 * (1 + (0.1 + 0.0) / 2))
    parts = parts.set_index(["year", "code"])
    # 2020: x0_0 added 100·0.5·0.1 in 2019 and 120·0.5·0.1 in 2020; x0_1 added 100·0.5·0.3 in 2019 only
    assert parts.loc[(2020, "x0_0"), "to_parent"] == pytest.approx(5.0 + 6.0)
    assert parts.loc[(2020, "x0_1"), "to_parent"] == pytest.approx(15.0)
