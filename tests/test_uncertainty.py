"""Uncertainty and sensitivity analysis: known answers, exactness against score, determinism, dask."""
import numpy as np
import pandas as pd
import pytest
from scipy.stats import sobol_indices as scipy_sobol_indices

from zoneindex import clean, ingest, score
from zoneindex import uncertainty as ua
from zoneindex.errors import InputError
from zoneindex.framework import load_study
from zoneindex.paths import RAW

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
        def multinomial(self, n, p, size):
            return np.ones((size, n), dtype=int)
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


def test_tiles_threads_and_chunk_sizes_do_not_change_the_result():
    spec = {"runs": 150, "seed": 2, "inputs": {
        "imputation": [{"method": "none"}, {"method": "mean"}], "weights": {"noise": 0.25, "levels": [1, 2]},
        "aggregation": [{"method": "arithmetic"}, {"method": "geometric"}]}}
    study, tidy = synthetic({"method": "arithmetic", "min_availability": 0.5}, missing=0.1, uncertainty=spec)
    big = ua.run_uncertainty(ua.prepare(study, None, tidy))
    small_study = type(study)(study.name, study.folder, {**study.config, "uncertainty": {**spec, "memory_mb": 16}},
                              study.framework)
    prepared = ua.prepare(small_study, None, tidy)
    prepared.spec = ua.Spec(**{**prepared.spec.__dict__, "memory_mb": 0.05})  # force many tiles and chunks
    small = ua.run_uncertainty(prepared, workers=2)
    assert small.timings["tiles"] > 1 and big.timings["tiles"] == 1
    for name in ("summary", "ranks", "replications"):
        pd.testing.assert_frame_equal(getattr(big, name), getattr(small, name), check_exact=True)


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


# --- the specification and the write-up ----------------------------------------------------------

def test_spec_refuses_unknown_methods_and_options_naming_the_input(cdht):
    study, _, _ = cdht
    with pytest.raises(InputError, match=r"uncertainty.inputs.normalisation\[1\]"):
        ua.parse_spec(study, {"inputs": {"normalisation": [{"method": "minmax"}, {"method": "bogus"}]}})
    with pytest.raises(InputError, match="unknown uncertainty option"):
        ua.parse_spec(study, {"runz": 5, "inputs": {"weights": {"noise": 0.2}}})
    with pytest.raises(InputError, match="weight noise"):
        ua.parse_spec(study, {"inputs": {"weights": {"noise": 1.5}}})
    without = type(study)(study.name, study.folder, {k: v for k, v in study.config.items() if k != "uncertainty"},
                          study.framework)
    with pytest.raises(InputError, match="no uncertainty analysis"):
        ua.parse_spec(without)
    spec = ua.parse_spec(study, {"inputs": {"weights": {"noise": 0.25, "levels": [2, 3], "separate_levels": True}}})
    assert spec.names == ["weights (level 2)", "weights (level 3)"]


def test_describe_gives_the_formulas(cdht):
    _, _, prepared = cdht
    text = ua.describe(prepared.spec)
    for piece in ("S_{Ti}", "Saltelli", "Jansen", "U(1-\\varepsilon, 1+\\varepsilon)", "P(\\Delta", "| 2 | aggregation"):
        assert piece in text


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
