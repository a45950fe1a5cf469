"""Uncertainty and sensitivity analysis: known answers, exactness against score, determinism, dask."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import sobol_indices as scipy_sobol_indices

from zoneindex import clean, ingest, kernel, score
from zoneindex import uncertainty as ua
from zoneindex.uncertainty import design as ua_design, engine as ua_engine
from zoneindex.errors import InputError
from zoneindex.paths import RAW
from zoneindex.study import load_study

CDHT_SPEC = {"runs": 400, "sobol_n": 128, "seed": 7, "nboot": 200,
             "inputs": {"weights": {"noise": 0.25, "levels": [1, 2, 3]},
                        "aggregation": [{"method": "arithmetic"}, {"method": "geometric"}]}}


def load(name: str):
    study = load_study(name)
    year = study.last_year
    tidy, _ = ingest.ingest(study, year)
    entities = ingest.read_entities(study) if hasattr(ingest, "read_entities") else None
    kwargs = {"entities": entities} if name == "asem" else {}
    cleaned, _ = clean.clean(tidy, study.framework, range(study.first_year, year + 1), study.methods,
                             study.config.get("unit_conversions"), study.denominators, **kwargs)
    return study, year, tidy, cleaned, entities


@pytest.fixture(scope="module")
def cdht():
    study, year, tidy, cleaned, _ = load("cdht")
    return study, cleaned, ua.prepare(study, year, tidy, CDHT_SPEC)


def synthetic(aggregation: dict, missing: float = 0.0, base_year=2003, **kwargs):
    methods = {"imputation": {"method": "none"}, "outliers": {"method": "none"},
               "normalisation": {"method": "minmax", "scale": [1, 100]}, "weights": {"method": "fixed"},
               "aggregation": aggregation, "rebase": base_year is not None}
    return ua.synthetic_study(entities=25, indicators=23, years=5, groups=(4, 2), seed=3, base_year=base_year,
                              missing=missing, methods=methods, **kwargs)


# --- the estimators on plain functions ------------------------------------------------------------

@pytest.mark.parametrize("a, b", [(1.0, 1.0), (2.0, 1.0), (1.0, 3.0)])
def test_additive_toy_model_recovers_the_analytic_first_order_indices(a, b):
    rng = np.random.default_rng(11)
    A, B, AB = ua.sobol_sample(2**14, 2, rng)
    model = lambda x: a * x[..., 0] + b * x[..., 1]  # noqa: E731
    s1, st = ua.sobol_indices(model(A), model(B), model(AB))
    expected = np.array([a**2, b**2]) / (a**2 + b**2)   # Var(a·U) = a²/12; additive, so S1 = ST
    assert np.allclose(s1, expected, atol=0.03)
    assert np.allclose(st, expected, atol=0.03)


def test_an_input_with_no_effect_has_zero_indices_and_the_others_sum_to_one():
    rng = np.random.default_rng(5)
    A, B, AB = ua.sobol_sample(4096, 3, rng)
    model = lambda x: np.sin(2 * np.pi * x[..., 0]) + 0.0 * x[..., 1] + x[..., 2] ** 2  # noqa: E731
    stats = ua.sobol_bootstrap(model(A), model(B), model(AB), 300, rng)
    assert stats["S1"][1] == 0.0 and stats["ST"][1] == 0.0      # f(AB_2) = f(A) exactly
    assert stats["S1_lo"][1] == stats["S1_hi"][1] == 0.0
    assert abs(stats["S1"][[0, 2]].sum() - 1) < 0.06                # additive: first orders sum to 1
    assert (stats["S1_lo"] <= stats["S1"] + 1e-12).all() and (stats["S1"] <= stats["S1_hi"] + 1e-12).all()


def test_estimators_agree_with_scipy_on_the_same_design():
    rng = np.random.default_rng(2)
    A, B, AB = ua.sobol_sample(1024, 3, rng)
    model = lambda x: x[..., 0] * (1 + x[..., 1]) ** 2 + 0.3 * x[..., 2]  # noqa: E731 (with interaction)
    f_A, f_B, f_AB = model(A), model(B), model(AB)
    ours = ua.sobol_indices(f_A, f_B, f_AB)
    theirs = scipy_sobol_indices(func={"f_A": f_A[None], "f_B": f_B[None], "f_AB": f_AB[:, None, :]}, n=1024)
    assert np.allclose(ours[0], theirs.first_order, rtol=1e-10, atol=1e-12)
    assert np.allclose(ours[1], theirs.total_order, rtol=1e-10, atol=1e-12)


def test_bootstrap_on_unit_counts_is_the_point_estimate():
    rng = np.random.default_rng(4)
    A, B, AB = ua.sobol_sample(256, 2, rng)
    model = lambda x: x[..., 0] + 2 * x[..., 1] ** 3  # noqa: E731
    f_A, f_B, f_AB = model(A), model(B), model(AB)

    class UnitCounts:  # a "resample" that keeps every row once
        def integers(self, low, high, size):
            return np.broadcast_to(np.arange(low, high), size)
    stats = ua.sobol_bootstrap(f_A, f_B, f_AB, 3, UnitCounts())
    assert np.allclose(stats["S1_lo"], stats["S1"]) and np.allclose(stats["ST_hi"], stats["ST"])


def test_discrete_choices_and_ranks():
    u = np.array([[0.0, 0.999999], [0.5, 0.25], [0.99, 0.5]])
    assert ua.choices_from_uniform(u, [2, 4]).tolist() == [[0, 3], [1, 1], [1, 2]]
    values = np.array([[3.0, 1.0, 3.0, np.nan, 2.0], [0.0, -1.0, 5.0, 5.0, 5.0]])
    expected = [pd.Series(row).rank(ascending=False, method="min").to_numpy() for row in values]
    assert np.array_equal(ua.descending_ranks(values), np.array(expected), equal_nan=True)
    assert ua.mean_abs_rank_shift(np.array([[1.0, 3.0, 2.0]]), np.array([1.0, 2.0, 3.0]))[0] == pytest.approx(2 / 3)


# --- the engine: the nominal replication is score.score, bit for bit -----------------------------

@pytest.mark.parametrize("name", ["cdht", "hdi", "asem"])
def test_nominal_replication_equals_score_exactly(name):
    if not (RAW / name).exists():
        pytest.skip(f"raw data of {name} not present")
    study, year, tidy, cleaned, entities = load(name)
    spec = {"inputs": {"aggregation": [{"method": "arithmetic"}, {"method": "geometric"}]}}
    prepared = ua.prepare(study, year, tidy, spec, entities=entities)
    wide = score.score(study, cleaned).wide
    assert prepared.nominal.index.equals(wide.index)
    assert np.array_equal(prepared.nominal[wide.columns].to_numpy(), wide.to_numpy(), equal_nan=True)


@pytest.mark.parametrize("aggregation", [
    {"method": "arithmetic", "min_availability": 0.5},
    {"method": "geometric", "min_availability": 0.6, "non_positive": "missing"},
    {"method": "harmonic", "min_availability": 0.0},
    {"method": "generalised", "p": 2.5, "min_availability": 0.5},
    {"method": "mazziotta_pareto", "min_availability": 0.5},
    {"method": "arithmetic", "by_level": {3: "geometric", 4: "harmonic"}, "min_availability": 0.75},
])
def test_engine_matches_score_for_every_aggregation_with_missing_values(aggregation):
    study, tidy = synthetic(aggregation, missing=0.15, uncertainty={"inputs": {"weights": {"noise": 0.2}}})
    prepared = ua.prepare(study, None, tidy)
    cleaned = ua._clean(study, tidy, range(study.first_year, study.last_year + 1), None)
    wide = score.score(study, cleaned).wide
    assert np.isnan(wide.to_numpy()).any()                    # the missing-value paths are exercised
    assert np.array_equal(prepared.nominal[wide.columns].to_numpy(), wide.to_numpy(), equal_nan=True)


def test_not_applicable_cells_and_imputed_aggregates_as_score_has_them_also_above_level_2():
    # weight noise above level 1: the engine evaluates level 2 once and the kernel above it (Engine.evaluate)
    study, tidy = synthetic({"method": "arithmetic", "min_availability": 0.5, "impute_missing": {"levels": [2]}},
                            missing=0.1, uncertainty={"runs": 300, "inputs": {"weights": {"noise": 0.2, "levels": [2, 3]}}})
    fw = study.framework
    tidy = tidy[~((tidy["entity"] == "E001") & tidy["indicator"].isin(fw.children("S0")))].reset_index(drop=True)
    study = type(study)(study.name, study.folder, {**study.config, "not_applicable": [{"entity": "E001", "codes": ["S0"]}]},
                        fw)
    prepared = ua.prepare(study, None, tidy)
    result = score.score(study, ua._clean(study, tidy, range(study.first_year, study.last_year + 1), None))
    assert {"not-applicable", "imputed:aggregate-mean"} <= set(result.flags["flag"])
    assert np.array_equal(prepared.nominal[result.wide.columns].to_numpy(), result.wide.to_numpy(), equal_nan=True)
    engine = prepared.engine
    draws = ua_design.ua_block(prepared.layout, 0, 300)
    for task, _ in ua_engine.tasks(prepared, draws, 64):
        whole = kernel.aggregate(engine.matrices[task.data], kernel.relative_weights(task.weights, engine.tree),
                                 engine.tree, engine.plans[task.plan], engine.rows, engine.applicable[task.data],
                                 engine.groups[task.plan]).values
        assert np.array_equal(engine.evaluate(task), whole, equal_nan=True)


def test_replications_at_nominal_choices_reproduce_the_nominal_scores():
    study, tidy = synthetic({"method": "arithmetic", "min_availability": 0.5}, missing=0.05,
                            uncertainty={"runs": 60, "inputs": {
                                "normalisation": [{"method": "minmax", "scale": [1, 100]}, {"method": "zscore", "mean": 10, "sd": 2}],
                                "aggregation": [{"method": "arithmetic"}, {"method": "geometric"}]}})
    prepared = ua.prepare(study, None, tidy)
    result = ua.run_uncertainty(prepared)
    nominal_runs = result.replications[(result.replications["normalisation"] == "minmax (scale=[1, 100])")
                                       & (result.replications["aggregation"] == "arithmetic")]
    assert len(nominal_runs) > 3
    target = prepared.target
    expected = prepared.nominal.loc[(target["entity"], target["year"]), target["code"]]
    assert np.allclose(nominal_runs["value"], expected, rtol=1e-13)
    assert np.allclose(nominal_runs["rank_shift"], 0.0)


# --- uncertainty mode ---------------------------------------------------------------------------

def test_cdht_bands_contain_the_nominal_value_and_the_base_year_is_100(cdht):
    study, _, prepared = cdht
    result = ua.run_uncertainty(prepared)
    s = result.summary
    assert len(s) == len(prepared.index) * (len(study.framework.codes) - len(study.framework.indicators))
    assert (s["n"] == CDHT_SPEC["runs"]).all()
    assert ((s["q05"] <= s["nominal"] + 1e-9) & (s["nominal"] <= s["q95"] + 1e-9)).all()
    assert ((s["change_q05"] <= s["change_nominal"] + 1e-9) & (s["change_nominal"] <= s["change_q95"] + 1e-9)).all()
    base = s[s["year"] == study.base_year]
    assert (base[["nominal", "median", "q05", "q95"]] == 100.0).all().all()
    assert (base["p_change_positive"] == 0).all()
    index = s[(s["code"] == study.framework.root) & (s["year"] == study.last_year)].iloc[0]
    assert index["p_change_positive"] == 1.0                  # the illustrative panel grows steadily
    assert result.ranks is None                               # one entity: no ranks
    assert {"weights", "aggregation", "value", "change"} <= set(result.replications)


def test_same_seed_same_numbers_other_seed_other_numbers(cdht):
    study, _, prepared = cdht
    first, second = ua.run_uncertainty(prepared), ua.run_uncertainty(prepared)
    pd.testing.assert_frame_equal(first.summary, second.summary, check_exact=True)
    pd.testing.assert_frame_equal(first.replications, second.replications, check_exact=True)
    s1, s2 = ua.run_sensitivity(prepared), ua.run_sensitivity(prepared)
    pd.testing.assert_frame_equal(s1.indices, s2.indices, check_exact=True)
    other = ua.run_uncertainty(ua.prepare(study, None, None, {**CDHT_SPEC, "seed": 8}))
    assert not np.array_equal(other.replications["value"], first.replications["value"])


def _with_spec(study, **changes):
    """The study with its uncertainty section changed."""
    return type(study)(study.name, study.folder, {**study.config, "uncertainty": {**study.config["uncertainty"],
                                                                                  **changes}}, study.framework)


def test_chunks_memory_budget_threads_and_workers_do_not_change_the_result():
    spec = {"runs": 150, "sobol_n": 64, "nboot": 50, "seed": 2, "inputs": {
        "imputation": [{"method": "none"}, {"method": "mean"}], "weights": {"noise": 0.25, "levels": [1, 2]},
        "aggregation": [{"method": "arithmetic"}, {"method": "geometric"}]}}
    study, tidy = synthetic({"method": "arithmetic", "min_availability": 0.5}, missing=0.1, uncertainty=spec)
    prepared = ua.prepare(study, None, tidy)
    big, big_sa = ua.run_uncertainty(prepared), ua.run_sensitivity(prepared)
    prepared.spec = ua.Spec(**{**prepared.spec.__dict__, "memory_mb": 0.05})  # chunks of one or two replications
    small, small_sa = ua.run_uncertainty(prepared, workers=2), ua.run_sensitivity(prepared, workers=2)
    assert small.timings["chunks"] > 10 * big.timings["chunks"] and small.timings["chunk_size"] <= 2
    for name in ("summary", "ranks", "replications"):
        pd.testing.assert_frame_equal(getattr(big, name), getattr(small, name), check_exact=True)
    for name in ("indices", "targets", "replications"):
        pd.testing.assert_frame_equal(getattr(big_sa, name), getattr(small_sa, name), check_exact=True)
    # a replication's numbers do not depend on how many replications are drawn with it
    fewer = ua.run_uncertainty(prepared, runs=40)
    pd.testing.assert_frame_equal(fewer.replications, big.replications.iloc[:40], check_exact=True)


def test_streaming_passes_give_the_in_memory_summary():
    spec = {"runs": 1500, "seed": 4, "memory_mb": 512, "inputs": {
        "normalisation": [{"method": "minmax", "scale": [1, 100]}, {"method": "zscore", "mean": 10, "sd": 2}],
        "weights": {"noise": 0.25}, "aggregation": [{"method": "arithmetic"}, {"method": "geometric"}]}}
    study, tidy = synthetic({"method": "arithmetic", "min_availability": 0.5}, missing=0.05, uncertainty=spec)
    memory = ua.run_uncertainty(ua.prepare(study, None, tidy))
    streamed = ua.run_uncertainty(ua.prepare(_with_spec(study, memory_mb=16), None, tidy))
    assert memory.timings["passes"] == 1 and streamed.timings["passes"] >= 3   # exact quantiles in several passes
    for name in ("summary", "ranks", "replications"):
        pd.testing.assert_frame_equal(getattr(memory, name), getattr(streamed, name), check_exact=True)


def test_aggregates_shared_by_a_chunk_are_kept_once_with_the_same_summary():
    # weight noise above level 2: the level-2 aggregates of a chunk are the same for all its replications and
    # pass 1 keeps them once (Engine.shared); multi-pass (values not kept), threads and chunks of one give
    # the same tables
    spec = {"runs": 700, "seed": 5, "memory_mb": 512, "inputs": {
        "normalisation": [{"method": "minmax", "scale": [1, 100]}, {"method": "zscore", "mean": 10, "sd": 2}],
        "weights": {"noise": 0.25, "levels": [2, 3]},
        "aggregation": [{"method": "arithmetic"}, {"method": "geometric"}]}}
    study, tidy = synthetic({"method": "arithmetic", "min_availability": 0.5}, missing=0.05, uncertainty=spec)
    prepared = ua.prepare(study, None, tidy)
    draws = ua_design.ua_block(prepared.layout, 0, 700)
    shared = [prepared.engine.shared(task) for task, _ in ua_engine.tasks(prepared, draws, 512)]
    assert all(len(s) for s in shared)
    memory, threads = ua.run_uncertainty(prepared), ua.run_uncertainty(prepared, workers=2)
    streamed = ua.run_uncertainty(ua.prepare(_with_spec(study, memory_mb=16), None, tidy))
    few = ua.prepare(_with_spec(study, runs=150), None, tidy)    # chunks of one or two: fewer replications
    whole = ua.run_uncertainty(few)
    few.spec = ua.Spec(**{**few.spec.__dict__, "memory_mb": 0.05})
    small = ua.run_uncertainty(few)
    assert memory.timings["passes"] == 1 and streamed.timings["passes"] >= 3 and small.timings["chunk_size"] <= 2
    for reference, other in ((memory, threads), (memory, streamed), (whole, small)):
        for name in ("summary", "ranks", "replications"):
            pd.testing.assert_frame_equal(getattr(reference, name), getattr(other, name), check_exact=True)


@pytest.mark.parametrize("levels", [[2, 3], [1, 2]])
def test_relative_weights_of_a_block_as_the_kernel_has_them(levels):
    spec = {"runs": 500, "seed": 6, "inputs": {"normalisation": [{"method": "minmax", "scale": [1, 100]},
                                                                 {"method": "zscore", "mean": 10, "sd": 2}],
                                               "weights": {"noise": 0.25, "levels": levels}}}
    study, tidy = synthetic({"method": "arithmetic"}, uncertainty=spec)
    prepared = ua.prepare(study, None, tidy)
    data, _, weights = ua_engine.translate(prepared, ua_design.ua_block(prepared.layout, 0, 500))
    weights = weights[np.argsort(data, kind="stable")]               # runs of rows as tasks() has them
    assert np.array_equal(prepared.engine.relative_weights(weights),
                          kernel.relative_weights(weights, prepared.engine.tree))


def test_cross_section_ranks_and_rank_shift():
    study, tidy = synthetic({"method": "arithmetic", "min_availability": 0.5}, base_year=None,
                            uncertainty={"runs": 200, "inputs": {"weights": {"noise": 0.25}}})
    result = ua.run_uncertainty(ua.prepare(study, None, tidy))
    ranks = result.ranks
    assert set(ranks["code"]) == {"IDX", "P0", "P1"}
    year = ranks[(ranks["year"] == study.last_year) & (ranks["code"] == "IDX")]
    assert sorted(year["nominal_rank"]) == list(range(1, 26))
    assert ((year["q05_rank"] <= year["median_rank"]) & (year["median_rank"] <= year["q95_rank"])).all()
    assert (result.replications["rank_shift"] >= 0).all() and result.replications["rank_shift"].mean() > 0
    assert "change" not in result.replications and "change_median" not in result.summary


# --- sensitivity mode ---------------------------------------------------------------------------

def test_sobol_on_a_study_an_ineffective_input_gets_zero(cdht):
    study, _, _ = cdht
    # the cdht panel is complete, so the imputation choice cannot change anything
    spec = {**CDHT_SPEC, "sobol_n": 256, "inputs": {**CDHT_SPEC["inputs"],
                                                    "imputation": [{"method": "none"}, {"method": "linear"}]}}
    prepared = ua.prepare(study, None, None, spec)
    result = ua.run_sensitivity(prepared)
    table = result.indices.set_index(["target", "input"])
    assert set(result.indices["target"]) == {"value", "change"}
    assert table.loc[("value", "imputation"), "S1"] == pytest.approx(0, abs=0.02)
    assert table.loc[("value", "imputation"), "ST"] == pytest.approx(0, abs=1e-12)
    for target in ("value", "change"):
        effective = table.loc[(target, "aggregation")]
        assert effective["ST"] > 0.3 and effective["ST_lo"] <= effective["ST"] <= effective["ST_hi"]
    assert len(result.replications) == 256 * (3 + 2)
    assert result.timings["replications"] == 256 * 5


# --- dask ---------------------------------------------------------------------------------------

def test_dask_local_cluster_equals_the_local_run(cdht):
    distributed = pytest.importorskip("distributed")
    _, _, prepared = cdht
    local_ua, local_sa = ua.run_uncertainty(prepared), ua.run_sensitivity(prepared)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        remote_ua = ua.run_uncertainty(prepared, client=client)
        remote_sa = ua.run_sensitivity(prepared, client=cluster.scheduler_address)  # an address works too
    pd.testing.assert_frame_equal(local_ua.summary, remote_ua.summary, check_exact=True)
    pd.testing.assert_frame_equal(local_ua.replications, remote_ua.replications, check_exact=True)
    pd.testing.assert_frame_equal(local_sa.indices, remote_sa.indices, check_exact=True)


def entity_ranks(order, start, valid):
    """The ranks in entity order from descending_order's sorted form (NaN past the valid positions)."""
    out = np.empty(order.shape)
    np.put_along_axis(out, order, np.where(np.arange(order.shape[-1]) < valid[..., None], start, np.nan), axis=-1)
    return out


def test_descending_order_is_the_sorted_form_of_the_ranks():
    rng = np.random.default_rng(4)
    values = np.round(rng.normal(size=(4, 60, 9)))                      # ties in most rows, none in some
    values[0] = rng.normal(size=(60, 9))
    values[rng.random(values.shape) < 0.1] = np.nan
    values[1, 3] = -np.inf
    descending_order = ua.ranking.descending_order
    order, start, valid = descending_order(values)
    assert np.array_equal(valid, (~np.isnan(values)).sum(axis=-1))
    assert np.array_equal(entity_ranks(order, start, valid), ua.descending_ranks(values), equal_nan=True)
    negated = descending_order(-values, negated=True)
    assert all(np.array_equal(a, b) for a, b in zip(negated[1:], (start, valid)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 40), E=st.integers(1, 300),
       kind=st.sampled_from(["normal", "positive", "ties", "near", "zeros", "extreme"]), nan=st.booleans())
def test_packed_descending_order_is_the_argsorts(seed, rows, E, kind, nan):
    """The packed sort of descending_order against the argsort it stands for: the same order wherever the
    order is unique, the same ranks and counts everywhere (ties, values one ulp apart, signed zeros,
    infinities, NaN)."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, E)) * 10.0 ** rng.integers(-300, 300)
    if kind == "positive":
        values = np.abs(values)
    elif kind == "ties":
        values = np.round(values / np.abs(values).max() * 3)
    elif kind == "near":            # neighbours one ulp apart, and some equal
        values[:, 1::2] = np.nextafter(values[:, ::2][:, :E // 2], np.inf)
        values[::3, -1] = values[::3, 0]
    elif kind == "zeros":           # a zero of each sign among distinct values: equal, with other bits
        values[:, 0], values[:, -1] = rng.choice([0.0, -0.0], size=(2, rows))
    elif kind == "extreme":
        values = rng.choice([-np.inf, -1.7e308, -5e-324, -0.0, 0.0, 5e-324, 1.0, 1.7e308, np.inf], size=(rows, E))
    if nan:
        values[rng.random(values.shape) < 0.2] = np.nan
    order, start, valid = ua.ranking.descending_order(values)
    exact_order, exact_start, exact_valid = ua.ranking._compared_order(-values, overwrite=False)
    assert np.array_equal(valid, exact_valid)
    ranks = entity_ranks(order, start, valid)
    assert np.array_equal(ranks, entity_ranks(exact_order, exact_start, exact_valid), equal_nan=True)
    assert np.array_equal(ranks, ua.descending_ranks(values), equal_nan=True)
    ordered = np.sort(-values, axis=-1)
    unique = ~np.isnan(values).any(axis=-1) & (ordered[:, 1:] != ordered[:, :-1]).all(axis=-1)
    assert np.array_equal(order[unique], exact_order[unique])


def test_compiled_plans_and_the_engine_pickle(cdht):
    import pickle
    _, _, prepared = cdht
    engine = prepared.engine
    for plan in engine.plans + engine.upper_plans:
        copy = pickle.loads(pickle.dumps(plan))
        assert copy == plan
        for level, own in plan.levels.items():
            assert (copy.levels[level].min_availability, copy.levels[level].impute) == (own.min_availability,
                                                                                         own.impute)
    restored = pickle.loads(pickle.dumps(engine))
    assert restored.plans == engine.plans and restored.upper_plans == engine.upper_plans
    draws = ua_design.ua_block(prepared.layout, 0, 40)
    for task, _ in ua_engine.tasks(prepared, draws, 16):
        assert restored.evaluate(task).tobytes() == engine.evaluate(task).tobytes()


def test_relative_weights_as_node_by_node():
    rng = np.random.default_rng(2)
    study = load_study("asem")
    tree = kernel.Tree.of(study.framework)
    raw = rng.uniform(0.5, 1.5, size=(7, len(tree.codes)))
    raw[2, :] = 0.0
    got = kernel.relative_weights(raw, tree)
    expected = np.empty_like(raw)
    expected[:, tree.root] = 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        for nodes in tree.levels:
            for node in nodes:
                part = raw[:, node.children]
                total = kernel._sum([part[:, j] for j in range(part.shape[1])])
                expected[:, node.children] = part / total[:, None]
    assert got.tobytes() == expected.tobytes()


# --- the specification and the write-up ----------------------------------------------------------

def test_spec_refuses_unknown_methods_and_options_naming_the_input(cdht):
    study, _, _ = cdht
    with pytest.raises(InputError, match=r"uncertainty.inputs.normalisation\[1\]"):
        ua.parse_spec(study, {"inputs": {"normalisation": [{"method": "minmax"}, {"method": "bogus"}]}})
    with pytest.raises(InputError, match="unknown uncertainty option"):
        ua.parse_spec(study, {"runz": 5, "inputs": {"weights": {"noise": 0.2}}})
    with pytest.raises(InputError, match="weight noise"):
        ua.parse_spec(study, {"inputs": {"weights": {"noise": 1.5}}})
    with pytest.raises(InputError, match="not pooled any more") as refused:    # a pool of sets: refused, saying why
        ua.parse_spec(study, {"inputs": {"weights": {"noise": 0.25, "sets": 100}}})
    assert "uncertainty.inputs.weights.sets" in str(refused.value)
    with pytest.raises(InputError, match="with: names data-side"):
        ua.parse_spec(study, {"inputs": {"aggregation": [{"chain": True, "with": {"weights": {"method": "equal"}}}]}})
    without = type(study)(study.name, study.folder, {k: v for k, v in study.config.items() if k != "uncertainty"},
                          study.framework)
    with pytest.raises(InputError, match="no uncertainty analysis"):
        ua.parse_spec(without)
    spec = ua.parse_spec(study, {"inputs": {"weights": {"noise": 0.25, "levels": [2, 3], "separate_levels": True}}})
    assert spec.names == ["weights (level 2)", "weights (level 3)"]


def test_describe_gives_the_formulas(cdht):
    _, _, prepared = cdht
    text = ua.describe(prepared.spec)
    for piece in ("S_{Ti}", "[@saltelli2010]", "[@jansen1999]", "U(1-\\varepsilon, 1+\\varepsilon)", "P(\\Delta", "| 2 | aggregation",
                  "N_A", "N/2", "outside [0, 1]: not converged"):
        assert piece in text
    assert "y' = 100 + s" in ua.describe(prepared.spec, True) and "\\sigma_0" in ua.describe(prepared.spec, False)


def test_sobol_drops_design_rows_whose_output_is_undefined():
    # z-scores around 0 under a geometric mean: some replications have no defined index value
    spec = {"sobol_n": 128, "nboot": 100, "inputs": {
        "normalisation": [{"method": "minmax", "scale": [1, 100]}, {"method": "zscore", "mean": 0, "sd": 1}],
        "aggregation": [{"method": "arithmetic"}, {"method": "geometric"}], "weights": {"noise": 0.2}}}
    study, tidy = synthetic({"method": "arithmetic", "min_availability": 0.5}, base_year=None, uncertainty=spec)
    result = ua.run_sensitivity(ua.prepare(study, None, tidy))
    value = result.targets.set_index("target").loc["value"]
    assert value["rows_dropped"] > 0 and value["rows_used"] + value["rows_dropped"] == 128
    assert np.isfinite(result.indices[result.indices["target"] == "value"][["S1", "ST"]].to_numpy()).all()


# --- values on the nominal's scale ------------------------------------------------------------

def test_rescaling_is_monotone_keeps_the_base_year_and_maps_the_nominal_to_itself():
    rng = np.random.default_rng(8)
    nominal = 100 + rng.normal(0, 20, (3, 12))
    nominal[:, 0] = 100.0                                          # a base-year row
    values = np.stack([nominal, 100 + 3 * (nominal - 100), 37 + rng.random((3, 12))], axis=-1)
    for anchored, constant in ((True, 100.0), (False, 5.0)):
        values[2, :, 2] = constant                                 # no spread: left as it is
        out = ua.Rescale(nominal, anchored)(values)
        assert np.array_equal(out[:, :, 0], nominal)               # the nominal replication maps to itself
        assert np.array_equal(np.argsort(out, axis=1, kind="stable"), np.argsort(values, axis=1, kind="stable"))
        assert np.array_equal(out[2, :, 2], values[2, :, 2])
        assert np.allclose(out[:, :, 1], nominal)                  # a change of scale is undone
    anchored = ua.Rescale(nominal, True)(values)
    assert (anchored[:, 0, :2] == 100.0).all()                     # the base year stays 100
    spread = ua.Rescale(nominal, False)(values)[:2, :, 2]
    assert np.allclose(spread.mean(axis=1), nominal[:2].mean(axis=1)) and np.allclose(spread.std(axis=1),
                                                                                      nominal[:2].std(axis=1))


@pytest.fixture(scope="module")
def asem():
    if not (RAW / "asem").exists():
        pytest.skip("raw data of asem not present")
    study, year, tidy, _, entities = load("asem")
    return study, ua.prepare(study, year, tidy, {**study.config["uncertainty"], "runs": 2000}, entities=entities)


def test_asem_bands_measure_uncertainty_not_the_change_of_scale(asem):
    # min-max and z-score replications pooled on their own scales gave CHN (nominal 37.77) a median of 8.97;
    # on the nominal's scale the band lies around the nominal value
    study, prepared = asem
    s = ua.run_uncertainty(prepared).summary
    inside = (s["q05"] <= s["nominal"] + 1e-9) & (s["nominal"] <= s["q95"] + 1e-9)
    centred = (s["median"] - s["nominal"]).abs() <= (s["q95"] - s["q05"]) / 2 + 1e-9
    assert inside.all()
    # the index and sub-indices: >= 95 % of rows (99 %). Over every row 92 %: a level-2 node takes only the
    # 20 values of outliers × normalisation × aggregation (the weights are perturbed above it), and where the
    # nominal is an extreme alternative (winmax 5 treats the most outliers, the arithmetic mean is never below
    # the geometric) it sits at the edge of the band
    top = s["level"] >= 3
    assert (inside & centred)[top].mean() >= 0.95 and (inside & centred).mean() >= 0.9
    china = s[(s["entity"] == "CHN") & (s["code"] == study.framework.root)].iloc[0]
    assert china["q05"] < china["nominal"] < china["q95"] and abs(china["median"] - china["nominal"]) < 2


def test_asem_weights_intervals_cover_the_seed_to_seed_spread(asem):
    # the weights are a group factor drawn afresh for every design row: no pool of 100 sets, whose Sobol
    # intervals were 5 times narrower than the spread between seeds. Equivalent check: most intervals
    # (expected ~86 % at 90 % confidence) contain the mean of the other seeds' estimates, and the bootstrap
    # standard error (half-width / z) is nowhere below half the seed-to-seed standard deviation (5 seeds
    # estimate it to within a factor of ~2) and agrees with it on average (geometric mean of the ratios)
    _, prepared = asem
    runs = []
    for seed in range(1, 6):
        prepared.spec = ua.Spec(**{**prepared.spec.__dict__, "seed": seed, "nboot": 400})
        runs.append(ua.run_sensitivity(prepared, n=4096).indices.set_index(["target", "input"]))
    z = 1.6448536269514722
    contained, ratios = [], []
    for target in ("value", "rank_shift"):
        for index in ("S1", "ST"):
            estimate, lo, hi = (np.array([r.loc[(target, "weights"), index + x] for r in runs])
                                for x in ("", "_lo", "_hi"))
            others = np.array([np.delete(estimate, i).mean() for i in range(len(runs))])
            contained += list((lo <= others) & (others <= hi))
            ratio = ((hi - lo) / 2 / z).mean() / estimate.std(ddof=1)
            ratios.append(ratio)
    assert np.mean(contained) >= 0.7
    assert min(ratios) > 0.5 and 0.5 < np.exp(np.mean(np.log(ratios))) < 3   # not too narrow (a pool gave 1/5)


# --- chain-linking and Mazziotta–Pareto in UA and SA ---------------------------------------------

def test_chain_linked_and_mazziotta_pareto_run_in_uncertainty_and_sensitivity(cdht):
    study, _, _ = cdht
    chained = {"chain": True, "with": {"normalisation": {"method": "chained_growth"}}}
    spec = {"runs": 300, "sobol_n": 64, "nboot": 50, "seed": 3, "inputs": {
        "aggregation": [{"method": "arithmetic"}, {"method": "mazziotta_pareto"}, chained]}}
    prepared = ua.prepare(study, None, None, spec)
    result, sa = ua.run_uncertainty(prepared), ua.run_sensitivity(prepared)
    assert set(result.replications["aggregation"].astype(str)) == {
        "arithmetic", "mazziotta_pareto", "chain=True with normalisation chained_growth"}
    assert np.isfinite(result.summary[["median", "q05", "q95", "change_median"]].to_numpy()).all()
    assert np.isfinite(sa.indices["ST"]).all()
    year, root, target = study.last_year, study.framework.root, prepared.target
    for label, overrides in (("mazziotta_pareto", {"aggregation": {"method": "mazziotta_pareto"}}),
                             ("chain=True with normalisation chained_growth",
                              {"normalisation": {"method": "chained_growth"}, "aggregation": {"chain": True}})):
        variant = score.with_methods(study, overrides)
        wide = score.rescore(variant, ingest.ingest(variant, year)[0], range(study.first_year, year + 1)).wide
        runs = result.replications[result.replications["aggregation"].astype(str) == label]
        base = wide.loc[(target["entity"], study.base_year), root]
        change = wide.loc[(target["entity"], target["year"]), root] - base
        assert np.array_equal(runs["change"], np.full(len(runs), change))
        # and as the study's nominal method, the engine's nominal replication is score.score exactly
        assert np.array_equal(ua.prepare(variant, None, None, spec).nominal[wide.columns].to_numpy(), wide.to_numpy(),
                              equal_nan=True)


# --- convergence and what a Sobol number may say ----------------------------------------------------

def test_sobol_estimates_carry_their_half_design_estimate_and_a_convergence_note():
    rng = np.random.default_rng(3)
    A, B, AB = ua.sobol_sample(12, 3, rng)                         # far too few rows: noisy estimates
    model = lambda x: x[..., 0] * x[..., 1] + 0.1 * x[..., 2]  # noqa: E731
    table = pd.DataFrame(ua.sobol_table(model(A), model(B), model(AB), ["a", "b", "c"], 200, rng))
    outside = ~(table["S1"].between(0, 1) & table["ST"].between(0, 1))
    assert outside.any()
    assert (table.loc[outside, "note"] == "outside [0, 1]: not converged").all()
    assert not table.loc[outside, "converged"].any()
    s1_half, st_half = ua.sobol_indices(model(A)[:6], model(B)[:6], model(AB)[:, :6])
    assert np.array_equal(table["S1_half"], s1_half) and np.array_equal(table["ST_half"], st_half)
    A, B, AB = ua.sobol_sample(8192, 3, rng)
    table = pd.DataFrame(ua.sobol_table(model(A), model(B), model(AB), ["a", "b", "c"], 300, rng))
    assert table["converged"].all() and (table["note"] == "").all()


def test_the_summary_never_quotes_a_sobol_index_outside_0_1():
    from zoneindex import report
    indices = pd.DataFrame({"target": "value", "input": ["weights", "aggregation"], "S1": [0.5, 0.3],
                            "ST": [1.02, 0.6]})
    text = " ".join(report._uncertainty_sentences({"sobol_indices": indices}, report.SUMMARY_TEXT["en"], None, "X",
                                                  2020, {}, 10))
    assert "1.02" not in text and "weights is outside [0, 1]: not converged" in text and "depends most" not in text
    indices["ST"] = [0.9, 0.6]
    text = " ".join(report._uncertainty_sentences({"sobol_indices": indices}, report.SUMMARY_TEXT["en"], None, "X",
                                                  2020, {}, 10))
    assert "depends most on the choice of weights (total Sobol index 0.90)" in text
