"""The scoring kernel: a batch of replications equals each replication alone, bit for bit; the blocked
pairwise sum is the documented scheme; relative weights and availability by hand."""
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from zoneindex import kernel
from tests.helpers import assert_batch_equals_alone, panel, tree

YEARS = [2016, 2017, 2018, 2019]
PLANS = [{"method": "arithmetic", "min_availability": 0.5},
         {"method": "geometric", "min_availability": 0.5, "non_positive": "missing"},
         {"method": "harmonic", "min_availability": 0.0, "non_positive": "missing"},
         {"method": "generalised", "p": 2.5},
         {"method": "mazziotta_pareto"},
         {"method": "arithmetic", "chain": True},
         {"method": "arithmetic", "by_level": {3: "geometric"}, "non_positive": "missing"}]


def compiled(fw, x: pd.DataFrame, config: dict, base_year=2018, rebase=True):
    tree_ = kernel.Tree.of(fw)
    rows = kernel.Rows.of(x.index, base_year)
    plan = kernel.Plan.of(config, fw.max_level, rebase, base_year)
    return tree_, rows, plan


structure = st.lists(st.lists(st.floats(0.1, 10), min_size=1, max_size=10), min_size=1, max_size=4)


@settings(max_examples=40, deadline=None)
@given(structure, st.data(), st.sampled_from(PLANS))
def test_each_replication_of_a_batch_equals_the_replication_alone(dimensions, data, config):
    fw = tree(dimensions)
    values = data.draw(arrays(float, (len(YEARS) * 2, len(fw.indicators)),
                              elements=st.one_of(st.floats(0.5, 1e3), st.just(np.nan), st.just(0.0))))
    x = panel(fw, values, YEARS, ["A", "B"])
    tree_, rows, plan = compiled(fw, x, config)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    assert_batch_equals_alone(x, fw, tree_, plan, rows, rng, 7)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=300))
def test_the_sum_follows_its_documented_order(terms):
    def reference(t):  # the scheme of kernel._sum, on Python floats
        n = len(t)
        if n < 8:
            return _sequential(t)
        if n <= 128:
            r = [_sequential(t[m:n - n % 8:8]) for m in range(8)]
            return _sequential([((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))] + t[n - n % 8:])
        half = n // 2 - (n // 2) % 8
        return reference(t[:half]) + reference(t[half:])

    got = kernel._sum([np.array([v]) for v in terms])[0]
    assert got == reference(terms)
    assert abs(got - math.fsum(terms)) <= 1e-9 * max(1.0, sum(abs(v) for v in terms))


def _sequential(t):
    total = t[0]
    for v in t[1:]:
        total += v
    return total


def test_relative_weights_and_availability_by_hand():
    fw = tree([[1.0, 3.0], [2.0]])
    tree_ = kernel.Tree.of(fw)
    weights = kernel.relative_weights(fw.table["weight"].reindex(list(tree_.codes)).to_numpy()[None, :], tree_)
    by_code = dict(zip(tree_.codes, weights[0]))
    assert by_code["x0_0"] == 0.25 and by_code["x0_1"] == 0.75 and by_code["x1_0"] == 1.0
    assert by_code["D0"] == by_code["D1"] == 0.5 and by_code["I"] == 1.0
    x = panel(fw, np.array([[4.0, np.nan, 8.0], [4.0, 8.0, np.nan]]), [2020, 2021])
    _, rows, plan = compiled(fw, x, {"method": "arithmetic", "min_availability": 0.6}, None, False)
    out = kernel.aggregate(x.to_numpy(), weights, tree_, plan, rows).full()[:, :, 0]
    d0, d1, index = (out[tree_.codes.index(c)] for c in ("D0", "D1", "I"))
    assert np.isnan(d0[0]) and d0[1] == 7.0          # one of two children is below the 60 % rule
    assert d1[0] == 8.0 and np.isnan(d1[1])
    assert np.isnan(index).all()                     # the index needs 60 % of its dimensions too
    _, rows, plan = compiled(fw, x, {"method": "arithmetic", "min_availability": 0.5}, None, False)
    out = kernel.aggregate(x.to_numpy(), weights, tree_, plan, rows).full()[:, :, 0]
    d0, index = out[tree_.codes.index("D0")], out[tree_.codes.index("I")]
    assert d0.tolist() == [4.0, 7.0]                 # 4 re-weighted alone; 0.25·4 + 0.75·8
    assert index.tolist() == [6.0, 7.0]              # the missing dimension is left out and re-weighted


def test_a_geometric_mean_of_zero_is_refused_with_the_cell_named():
    fw = tree([[1.0, 1.0]])
    x = panel(fw, np.array([[0.0, 2.0]]), [2020])
    tree_, rows, plan = compiled(fw, x, {"method": "geometric"}, None, False)
    weights = kernel.relative_weights(np.ones((1, len(tree_.codes))), tree_)
    with pytest.raises(Exception, match=r"geometric aggregation of 'D0'.*Z 2020: 0.0"):
        kernel.aggregate(x.to_numpy(), weights, tree_, plan, rows)
