"""The asem study against the JRC's COINr: the published scores and ranks of its ASEM example."""
import numpy as np
import pandas as pd
import pytest

from zoneindex import clean, ingest, score
from zoneindex.paths import PROJECT_ROOT
from zoneindex.study import load_study

DATA = PROJECT_ROOT / "tests" / "data"


def build(overrides: dict | None = None, drop: tuple = ()):
    study = load_study("asem")
    if overrides:
        study = score.with_methods(study, overrides)
    tidy, _ = ingest.ingest(study, 2018)
    tidy = tidy[~tidy["indicator"].isin(drop)]
    framework = study.framework
    if drop:
        table = framework.table[~framework.table["code"].isin(drop)].reset_index(drop=True)
        framework = type(framework).from_table(table, framework.source)
        study = type(study)(study.name, study.folder, study.config, framework)
    cleaned, log = clean.clean(tidy, study.framework, range(2018, 2019), study.methods,
                               denominators=study.denominators, entities=ingest.read_entities(study))
    return score.score(study, cleaned), log


@pytest.fixture(scope="module")
def nominal():
    return build()


def published_ranks() -> pd.DataFrame:
    return pd.read_csv(DATA / "coinr_asem_ranks.csv", comment="#").set_index("uCode")


def test_framework_is_a_faithful_transcription_of_the_raw_imeta():
    meta = pd.read_csv(PROJECT_ROOT / "data/raw/asem/ASEM_iMeta.csv")
    meta = meta[meta["Type"].isin(["Indicator", "Aggregate"])].set_index("iCode")
    table = load_study("asem").framework.table
    assert set(table.index) == set(meta.index)
    assert (table["level"] == meta.loc[table.index, "Level"].astype(int)).all()
    assert (table["parent"] == meta.loc[table.index, "Parent"].fillna("")).all()
    assert (table["weight"] == meta.loc[table.index, "Weight"]).all()
    indicators = table[table["type"] == "Indicator"].index
    assert (table.loc[indicators, "direction"] == meta.loc[indicators, "Direction"]).all()
    assert (table.loc[indicators, "denominator"].fillna("") == meta.loc[indicators, "Denominator"].fillna("")).all()


def test_scores_match_coinr_to_the_printed_two_decimals(nominal):
    result, _ = nominal
    published = pd.read_csv(DATA / "coinr_asem_scores.csv", comment="#")
    ours = result.scores.set_index(["entity", "code"])["value"]
    got = np.array([ours[(u, c)] for u, c in zip(published["uCode"], published["code"])])
    assert np.array_equal(np.round(got, 2), published["value"].to_numpy()), \
        published.assign(ours=got)[np.round(got, 2) != published["value"]]


def test_all_51_index_ranks_match_coinr(nominal):
    result, log = nominal
    ours = score.ranks(result.scores, "Index", 2018)
    assert len(ours) == 51 and (log["step"] == "screening").sum() == 0  # COINr screens none either
    assert ours.astype(int).to_dict() == published_ranks()["Nominal"].astype(int).to_dict()


def test_coinr_variants_percentile_rank_dropped_indicators_and_screening():
    published = published_ranks()
    prank, _ = build({"normalisation": {"method": "percentile_rank", "ties": "min"}})
    assert score.ranks(prank.scores, "Index", 2018).astype(int).to_dict() == published["Prank"].astype(int).to_dict()
    dropped, _ = build(drop=("LPI", "Forest"))
    assert score.ranks(dropped.scores, "Index", 2018).astype(int).to_dict() == \
        published["NoLPIFor"].astype(int).to_dict()
    screened, log = build({"imputation": {"method": "none"}, "screening": {"min_availability": 0.9, "count": "present"}})
    ranks = score.ranks(screened.scores, "Index", 2018).dropna()
    assert sorted(log.loc[log["step"] == "screening", "entity"]) == ["BGD", "BRN", "KHM", "LAO", "MMR"]
    assert ranks.astype(int).to_dict() == published["Screen90"].dropna().astype(int).to_dict()
