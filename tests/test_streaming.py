"""Streaming summaries (zoneindex.streaming) against numpy / pandas computed on the full arrays."""
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from zoneindex.streaming import ExactQuantiles, RankCounts, StreamingMoments, descending_ranks, kept
from zoneindex.streaming.quantiles import type7_positions

PROBS = (0.05, 0.5, 0.95)
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def nanquantile(values, probs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                 # all-NaN slices, inf - inf
        return np.nanquantile(values, probs, axis=-1)


def tight_budget(n_cells, probs):
    """The smallest budget the constructor accepts (found by bisection)."""
    lo, hi = 1, 1 << 40
    while lo < hi:
        mid = (lo + hi) // 2
        try:
            ExactQuantiles(n_cells, probs, mid)
            hi = mid
        except ValueError:
            lo = mid + 1
    return lo


def drive(values, probs, budget, rng):
    """Run the passes, each with its own random order of replications and random blocking."""
    q = ExactQuantiles(values.shape[0], probs, budget)
    R = values.shape[1]
    while q.needs_pass():
        q.start_pass()
        order = rng.permutation(R)
        cuts = np.sort(rng.choice(np.arange(1, R), size=min(R - 1, int(rng.integers(0, 8))), replace=False)) \
            if R > 1 else []
        for part in np.split(order, cuts):
            q.add(values[:, part])
            if rng.random() < 0.2:
                q.add(np.empty((values.shape[0], 0)))                   # empty blocks are allowed
        q.finish_pass()
    return q


def make_values(rng, n, R, nan_frac, kind):
    """Random cells with NaNs, ties, constant cells, all-NaN cells, huge and tiny magnitudes, infinities."""
    if kind == "normal":
        v = rng.normal(size=(n, R)) * 10.0 ** rng.integers(-6, 7)
    elif kind == "ties":
        v = rng.integers(-3, 4, size=(n, R)).astype(float) / 2
    elif kind == "spread":                                              # many binades
        v = np.exp(rng.normal(size=(n, R)) * 40) * rng.choice([-1.0, 1.0], size=(n, R))
    else:                                                               # extreme magnitudes and zeros
        v = rng.choice([-1.7e308, -1e-310, -0.0, 0.0, 5e-324, 1.0, 1e300, 1.7e308], size=(n, R))
    v[rng.random((n, R)) < nan_frac] = np.nan
    cells = rng.permutation(n)
    if n > 1:
        v[cells[0]] = np.nan                                            # all-NaN cell
    if n > 2:
        v[cells[1]] = 2.5                                               # constant cell
    if n > 3:
        v[cells[2], rng.random(R) < 0.5] = 0.25                         # constant in half the replications
    if n > 4 and rng.random() < 0.5:
        v[cells[3], rng.integers(0, R, 3)] = np.inf
        v[cells[3], rng.integers(0, R, 2)] = -np.inf
    return v


@settings(max_examples=100, **SETTINGS)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 7), R=st.one_of(st.integers(1, 60), st.integers(800, 3000)),
       nan_frac=st.sampled_from([0.0, 0.1, 0.6]), kind=st.sampled_from(["normal", "ties", "spread", "extreme"]),
       budget=st.sampled_from(["tight", "small", "large"]),
       probs=st.lists(st.floats(0, 1), min_size=1, max_size=4).map(lambda p: list(PROBS) + p))
def test_exact_quantiles_equal_nanquantile(seed, n, R, nan_frac, kind, budget, probs):
    rng = np.random.default_rng(seed)
    values = make_values(rng, n, R, nan_frac, kind)
    tight = tight_budget(n, probs)
    bytes_ = {"tight": tight, "small": 2 * tight, "large": 1 << 26}[budget]
    q = drive(values, probs, bytes_, rng)
    event(f"passes: {min(q.passes, 4)}{'+' if q.passes >= 4 else ''}")
    assert q.result().shape == (len(probs), n)
    assert np.array_equal(q.result(), nanquantile(values, probs), equal_nan=True)
    assert q.peak_bytes <= bytes_
    if budget == "large":
        assert q.passes == 1


@settings(max_examples=25, **SETTINGS)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6), R=st.integers(2500, 5000),
       kind=st.sampled_from(["normal", "ties", "spread"]))
def test_tiny_budget_takes_three_passes_or_more(seed, n, R, kind):
    rng = np.random.default_rng(seed)
    values = make_values(rng, n, R, 0.1, kind)
    values[0] = rng.normal(size=R)                                      # at least one cell with targets
    budget = tight_budget(n, PROBS)
    assert budget < values.nbytes
    q = drive(values, PROBS, budget, rng)
    assert q.passes >= 3
    assert np.array_equal(q.result(), nanquantile(values, PROBS), equal_nan=True)
    assert q.peak_bytes <= budget


@settings(max_examples=40, **SETTINGS)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6), R=st.integers(1024, 4000),
       kind=st.sampled_from(["normal", "ties", "spread", "extreme"]), nan_frac=st.sampled_from([0.0, 0.01]),
       probs=st.lists(st.floats(0, 1), min_size=0, max_size=4).map(lambda p: list(PROBS) + p))
def test_order_statistics_by_selection_are_those_of_a_sort(seed, n, R, kind, nan_frac, probs):
    """The kept quantiles select the order statistics of rows with no NaN and few ties, and sort the others:
    either way the values at the positions are those of np.sort."""
    rng = np.random.default_rng(seed)
    values = make_values(rng, n, R, nan_frac, kind)
    values[0] = rng.normal(size=R)                                      # at least one row to select
    count = R - np.isnan(values).sum(axis=1)
    lo, hi, _ = type7_positions(count, probs)
    positions = np.concatenate([lo, hi])
    expected = np.take_along_axis(np.sort(values, axis=1), np.clip(positions, 0, R - 1).T, axis=1).T
    assert np.array_equal(kept._ordered_at(values.copy(), count, positions), expected, equal_nan=True)


def test_rows_with_few_ties_are_selected_and_the_others_sorted(monkeypatch):
    rng = np.random.default_rng(5)
    values = rng.normal(size=(4, 4096))
    values[1] = np.round(values[1])                                     # a handful of values
    values[2, 7] = np.nan
    selected = []
    select = kept._select
    monkeypatch.setattr(kept, "_select", lambda rows, wanted: (selected.append(rows.copy()), select(rows, wanted)))
    count = 4096 - np.isnan(values).sum(axis=1)
    lo, hi, _ = type7_positions(count, PROBS)
    kept._ordered_at(values.copy(), count, np.concatenate([lo, hi]))
    assert len(selected) == 1
    assert sorted(map(tuple, np.sort(selected[0], axis=1))) == sorted(map(tuple, np.sort(values[[0, 3]], axis=1)))


def test_heavy_ties_are_refined_and_terminate():
    """A cell constant in half of the replications is too big to gather: refined until it collapses."""
    rng = np.random.default_rng(3)
    R = 20000
    values = rng.normal(size=(3, R))
    values[0, rng.random(R) < 0.5] = 0.5
    values[1] = np.round(values[1] * 2)                                 # a handful of values, thousands each
    values[2, ::2] = 1e-300                                             # tie next to tiny values
    budget = tight_budget(3, PROBS)
    q = drive(values, PROBS, budget, rng)
    assert q.passes > 3
    assert np.array_equal(q.result(), nanquantile(values, PROBS), equal_nan=True)


def test_refinement_over_many_binades():
    """Values spread over hundreds of binades defeat the linear pass-2 bins; key refinement finds them."""
    rng = np.random.default_rng(4)
    values = np.exp(rng.uniform(-700, 700, size=(2, 30000)))
    values[1] *= rng.choice([-1.0, 1.0], size=30000)
    q = drive(values, PROBS, tight_budget(2, PROBS), rng)
    assert q.passes >= 3
    assert np.array_equal(q.result(), nanquantile(values, PROBS), equal_nan=True)


def test_infinities_are_values():
    rng = np.random.default_rng(5)
    values = rng.normal(size=(5, 3000))
    values[0, :10] = np.inf
    values[1, :2000] = -np.inf
    values[2, :] = np.inf
    values[3, ::2] = np.inf
    values[3, 1::2] = -np.inf
    values[4, :1500] = np.nan
    values[4, 1500:1510] = -np.inf
    probs = PROBS + (0.0, 1.0, 0.999)
    for budget in (tight_budget(5, probs), 1 << 26):
        q = drive(values, probs, budget, rng)
        assert np.array_equal(q.result(), nanquantile(values, probs), equal_nan=True)


def test_degenerate_shapes():
    rng = np.random.default_rng(6)
    for values in (np.full((3, 50), np.nan), np.ones((2, 1)), np.array([[np.nan, 1.0, np.nan]]),
                   np.empty((0, 10)), np.array([[1.0, 2.0], [np.nan, 3.0]])):
        for budget in (1 << 26, tight_budget(values.shape[0], PROBS)):
            q = drive(values, PROBS, budget, rng)
            assert np.array_equal(q.result(), nanquantile(values, PROBS).reshape(3, -1), equal_nan=True)
    q = ExactQuantiles(2, PROBS, 1 << 20)                               # no replication at all
    q.start_pass()
    q.finish_pass()
    assert q.passes == 1 and np.isnan(q.result()).all()


def test_errors_and_changed_data():
    q = ExactQuantiles(2, PROBS, 1 << 20)
    with pytest.raises(RuntimeError):
        q.add(np.zeros((2, 3)))
    with pytest.raises(RuntimeError):
        q.result()
    q.start_pass()
    with pytest.raises(ValueError):
        q.add(np.zeros((3, 3)))
    with pytest.raises(ValueError):
        ExactQuantiles(2, [1.5], 1 << 20)
    with pytest.raises(ValueError):
        ExactQuantiles(1000, PROBS, 1000)
    rng = np.random.default_rng(7)
    values = rng.normal(size=(2, 5000))
    q = ExactQuantiles(2, PROBS, tight_budget(2, PROBS))
    q.start_pass()
    q.add(values)
    q.finish_pass()
    q.start_pass()
    q.add(values[:, :4000])
    with pytest.raises(RuntimeError):                                   # fewer replications
        q.finish_pass()
    q.start_pass()
    changed = values.copy()
    changed[0, 10] = np.nan
    with pytest.raises(RuntimeError):                                   # other values (a NaN, here)
        q.add(changed)
        q.finish_pass()


def test_traced_memory_stays_within_budget():
    rng = np.random.default_rng(8)
    warm = rng.normal(size=(4, 3000))
    drive(warm, PROBS, tight_budget(4, PROBS), rng)                     # lazy imports out of the way
    for n, R, budget in ((40, 20000, 1 << 21), (4, 100000, 1 << 20)):
        values = rng.normal(size=(n, R))
        values[::3, rng.random(R) < 0.5] = 0.5
        values[1::3, ::7] = np.nan
        blocks = [values[:, i:i + 1000].copy() for i in range(0, R, 1000)]
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        q = ExactQuantiles(n, PROBS, budget)
        while q.needs_pass():
            q.start_pass()
            for b in blocks:
                q.add(b)
            q.finish_pass()
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        assert q.passes >= 3 and peak <= budget and q.peak_bytes <= budget
        assert np.array_equal(q.result(), nanquantile(values, PROBS), equal_nan=True)


@settings(max_examples=40, **SETTINGS)
@given(seed=st.integers(0, 2**32 - 1), G=st.integers(1, 4), E=st.integers(1, 9), R=st.integers(1, 300),
       probs=st.lists(st.floats(0, 1), min_size=0, max_size=4).map(lambda p: list(PROBS) + p))
def test_rank_counts_equal_nanquantile(seed, G, E, R, probs):
    rng = np.random.default_rng(seed)
    ranks = rng.integers(1, E + 1, size=(G, E, R)).astype(float)
    ranks[rng.random(ranks.shape) < 0.2] = np.nan
    ranks[0, 0] = np.nan                                                # an entity never ranked
    counts = RankCounts(G, E)
    for part in np.array_split(np.arange(R), int(rng.integers(1, 5))):
        counts.add(ranks[:, :, part])
    assert counts.quantiles(probs).shape == (len(probs), G, E)
    assert np.array_equal(counts.quantiles(probs), nanquantile(ranks, probs), equal_nan=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.array_equal(counts.mean(), np.nanmean(ranks, axis=-1), equal_nan=True)
    assert np.array_equal(counts.count(), (~np.isnan(ranks)).sum(axis=-1))
    with pytest.raises(ValueError):
        counts.add(np.full((G, E, 1), E + 1.0))


def test_rank_counts_from_descending_ranks():
    rng = np.random.default_rng(9)
    values = np.round(rng.normal(size=(3, 500, 7)), 1)                  # (group, replication, entity) ties
    values[rng.random(values.shape) < 0.1] = np.nan
    ranks = descending_ranks(values).transpose(0, 2, 1)                 # (group, entity, replication)
    counts = RankCounts(3, 7)
    counts.add(ranks)
    assert np.array_equal(counts.quantiles(PROBS), nanquantile(ranks, PROBS), equal_nan=True)


@settings(max_examples=50, **SETTINGS)
@given(seed=st.integers(0, 2**32 - 1), shape=st.lists(st.integers(1, 4), min_size=0, max_size=2),
       n=st.integers(1, 30), ties=st.booleans())
def test_descending_ranks_match_pandas(seed, shape, n, ties):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=tuple(shape) + (n,))
    if ties:
        values = np.round(values)
        values[rng.random(values.shape) < 0.1] = -0.0
    values[rng.random(values.shape) < 0.2] = np.nan
    values[rng.random(values.shape) < 0.05] = np.inf
    values[rng.random(values.shape) < 0.05] = -np.inf
    rows = values.reshape(-1, n)
    expected = pd.DataFrame(rows).rank(axis=1, method="min", ascending=False).to_numpy()
    got = descending_ranks(values)
    assert got.shape == values.shape
    assert np.array_equal(got.reshape(-1, n), expected, equal_nan=True)


def test_blocks_changed_after_they_are_added_or_told_replications_give_the_same_quantiles():
    rng = np.random.default_rng(5)
    values = rng.normal(size=(30, 700))
    values[rng.random(values.shape) < 0.05] = np.nan
    values[3] = np.nan
    for replications in (None, 700):                                     # told R or not: the same passes
        for budget, passes in ((1 << 26, 1), (1 << 17, 3)):             # in memory, then multi-pass
            q = ExactQuantiles(30, PROBS, budget, replications)
            while q.needs_pass():
                q.start_pass()
                for c0 in range(0, 700, 64):
                    block = values[:, c0:c0 + 64].copy()
                    q.add(block)
                    block[:] = 0.0                                      # the caller reuses its buffer
                q.finish_pass()
            assert np.array_equal(q.result(), nanquantile(values, PROBS), equal_nan=True), budget
            assert np.array_equal(q._n, (~np.isnan(values)).sum(axis=1))
            assert q.passes == passes if budget > 1 << 17 else q.passes >= passes


def test_reserved_places_with_constant_cells_give_the_quantiles_of_every_value():
    # a reserved place is filled where pass 1 keeps it (no copy); a cell that all the block's replications
    # share is kept once and read as (value, count) pairs when it is constant in every block, else expanded
    rng = np.random.default_rng(8)
    n, blocks = 12, [70, 1, 64, 130, 33]
    values = np.round(rng.normal(size=(n, sum(blocks))), 1)
    values[rng.random(values.shape) < 0.05] = np.nan
    constant = [np.zeros(n, bool) for _ in blocks]
    c0 = 0
    for mask, r in zip(constant, blocks):
        mask[[0, 1, 5]] = True                                         # constant in every block
        mask[7] = r % 2 == 0                                           # in some blocks only
        values[mask, c0:c0 + r] = values[mask, c0:c0 + 1]
        values[1, c0:c0 + r] = np.nan if r == 1 else values[1, c0]     # a cell missing in one block
        c0 += r
    for replications in (sum(blocks), None):
        q = ExactQuantiles(n, PROBS, 1 << 24, replications)
        q.start_pass()
        c0 = 0
        for mask, r in zip(constant, blocks):
            place = q.reserve(r, mask)
            place.varied[...] = values[~mask, c0:c0 + r]
            place.same[...] = values[mask, c0]
            q.add(place)
            c0 += r
        q.finish_pass()
        assert q.passes == 1 and not q.needs_pass()
        assert np.array_equal(q.result(), nanquantile(values, PROBS), equal_nan=True)
        assert np.array_equal(q._n, (~np.isnan(values)).sum(axis=1))


def test_reserved_places_are_added_in_order_and_not_past_the_budget():
    q = ExactQuantiles(3, PROBS, 1 << 22, 200)
    q.start_pass()
    first, second = q.reserve(100), q.reserve(100)
    first.varied[...] = second.varied[...] = 1.0
    with pytest.raises(RuntimeError, match="order reserved"):
        q.add(second)
    with pytest.raises(RuntimeError, match="before any other"):
        q.add(np.ones((3, 5)))
    small = ExactQuantiles(3, PROBS, 1 << 17)
    small.start_pass()
    assert small.reserve(10**6) is None and small.reserve(1) is None   # keeping ends with that block
    assert ExactQuantiles(3, PROBS, 1 << 22).reserve(5) is None         # outside a pass


def test_descending_ranks_scalar_and_example():
    assert np.array_equal(descending_ranks([3.0, np.nan, 5.0, 3.0, -np.inf]), [2.0, np.nan, 1.0, 2.0, 4.0],
                          equal_nan=True)
    assert descending_ranks(2.0) == 1.0 and np.isnan(descending_ranks(np.nan))


@settings(max_examples=30, **SETTINGS)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 6), R=st.integers(0, 400))
def test_streaming_moments_match_numpy(seed, n, R):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, R))
    values[rng.random((n, R)) < 0.3] = np.nan
    values[rng.random((n, R)) < 0.1] = 0.0
    if n:
        values[0] = np.nan
    moments = StreamingMoments(n, tile=64)
    for part in np.array_split(rng.permutation(R), int(rng.integers(1, 6))):
        moments.add(values[:, part])
    valid = ~np.isnan(values)
    count = valid.sum(axis=1)
    assert np.array_equal(moments.count(), count)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_allclose(moments.mean(), np.nanmean(values, axis=1), rtol=1e-12, atol=1e-15)
        share = (values > 0).sum(axis=1) / count
    assert np.array_equal(moments.share_positive(), share, equal_nan=True)
