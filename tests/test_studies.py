"""The shipped studies end to end in-process: the HDI reproduced from its inputs, the CDHT invariants."""
import math

import numpy as np
import pandas as pd
import pytest

from zoneindex import clean, ingest, score, validate
from zoneindex.study import load_study


def build(name: str, year: int):
    study = load_study(name)
    tidy, _ = ingest.ingest(study, year)
    cleaned, _ = clean.clean(tidy, study.framework, range(study.first_year, year + 1), study.methods)
    result = score.score(study, cleaned)
    tables = validate.validate(study, cleaned, result.scores, result.weights, result.contributions,
                               ingest.read_references(study))
    return study, result, tables


@pytest.fixture(scope="module")
def hdi():
    return build("hdi", 2022)


def test_hdi_reproduces_every_published_value_at_3_decimals(hdi):
    _, result, tables = hdi
    comparison = tables["reference_comparison"]
    assert len(comparison) == 5808 and bool(comparison["match"].all())
    row = tables["checks"].set_index("check").loc["published values reproduced at 3 decimals"]
    assert row["status"] == "pass" and row["value"] == "5808/5808"


def test_hdi_china_2022_by_hand(hdi):
    """UNDP's formulas written out independently of the engine, on China's 2022 inputs."""
    _, result, _ = hdi
    raw = pd.read_csv(load_study("hdi").raw_folder / "HDR23-24_Composite_indices_complete_time_series.csv",
                      encoding="utf-8-sig").set_index("iso3").loc["CHN"]
    lei = (raw["le_2022"] - 20) / 65
    ei = (min(raw["eys_2022"], 18) / 18 + min(raw["mys_2022"], 15) / 15) / 2
    ii = (math.log(min(raw["gnipc_2022"], 75000)) - math.log(100)) / (math.log(75000) - math.log(100))
    ours = result.scores.set_index(["entity", "year", "code"])["value"]
    assert ours[("CHN", 2022, "hdi")] == pytest.approx((lei * ei * ii) ** (1 / 3), abs=1e-12)
    assert round(ours[("CHN", 2022, "hdi")], 3) == 0.788


def test_cdht_invariants_and_illustrative_labels():
    study, result, tables = build("cdht", 2023)
    scores = result.scores
    assert (scores.loc[(scores["year"] == 2018) & (scores["level"] >= 1), "value"] == 100.0).all()
    assert scores["illustrative"].all()  # every CDHT number is reached by generated values
    assert set(tables["checks"]["status"]) <= {"pass", "info"}
    parts = result.contributions
    latest = parts[parts["year"] == 2023]
    index_change = latest.loc[latest["code"] == "CDHT", "change"].item()
    assert abs(latest.loc[latest["level"] == 1, "to_index"].sum() - index_change) < 1e-9
    assert abs(latest.loc[latest["level"] == 3, "to_index"].sum() - index_change) < 1e-9
    # dimension contributions: equal dimension weights, so each is a fifth of its own change
    dims = latest[latest["level"] == 3]
    assert np.allclose(dims["to_index"], dims["change"] / 5, atol=1e-9)


def test_validation_catches_a_broken_decomposition_and_a_flipped_direction():
    study, result, _ = build("cdht", 2023)
    broken = result.contributions.copy()
    broken.loc[broken["code"] == "fdi_actual", "to_parent"] += 0.5
    rows = {r["check"]: r["status"] for r in validate.contribution_checks(study, broken)}
    assert rows["contributions of children add up to the parent's change"] == "fail"
    flipped = result.scores.copy()
    level1 = flipped["level"] == 1
    flipped.loc[level1, "value"] = -flipped.loc[level1, "value"]
    cleaned = clean.clean(ingest.ingest(study, 2023)[0], study.framework, range(2016, 2024), study.methods)[0]
    assert validate.direction_check(study, cleaned, flipped)["status"] == "fail"
