"""The what-if API: the nominal re-score is the edition's score, overrides are checked by hand, nothing is
written, bad overrides are refused with the study.yaml messages."""
import numpy as np
import pytest

import zoneindex as zi
from zoneindex import score
from zoneindex.errors import InputError


@pytest.fixture(scope="module")
def cdht(tmp_path_factory):
    root = tmp_path_factory.mktemp("whatif")
    session = zi.load("cdht", out_root=root)   # no edition under root: read and cleaned in memory
    return session, root


def test_the_nominal_rescore_is_the_stage_score_and_nothing_is_written(cdht):
    session, root = cdht
    base = session.score()
    expected = score.score(session.study, session._cleaned(session.study))
    assert base.scores.equals(expected.scores)
    assert "raw files" in session.source
    assert list(root.iterdir()) == []


def test_a_dimension_weight_by_hand(cdht):
    session, _ = cdht
    base, alt = session.score(), session.score(weights={"D3": 2.0})
    fw = session.study.framework
    dimensions = fw.level_codes(fw.max_level - 1)
    wide = base.wide.xs(2023, level="year").iloc[0]
    weights = np.array([2.0 if d == "D3" else fw.table.at[d, "weight"] for d in dimensions])
    by_hand = (weights * wide[dimensions].to_numpy()).sum() / weights.sum()
    assert alt.wide.xs(2023, level="year").iloc[0][fw.root] == pytest.approx(by_hand, rel=1e-13)
    table = zi.compare(base, alt)
    row = table[table["code"] == fw.root].iloc[0]
    assert row["change"] == pytest.approx(row["after"] - row["before"])
    assert (table[table["code"].isin(dimensions)]["change"] == 0).all()   # the dimensions themselves do not move
    assert '"D3": 2.0' in alt.alternative_entry("heavier_innovation")


def test_a_method_change_reuses_the_clean_table_and_matches_a_study_alternative(cdht):
    session, _ = cdht
    alt = session.score(normalisation={"method": "efficacy"})
    variant = score.with_methods(session.study, {"normalisation": {"method": "efficacy"}})
    assert alt.scores.equals(score.score(variant, session._cleaned(session.study)).scores)
    assert len(session._clean) == 1


@pytest.mark.parametrize("overrides, message", [
    ({"normalization": {"method": "minmax"}}, "not a method step of the study"),
    ({"aggregation": {"method": "geometrc"}}, "unknown aggregation method"),
    ({"weights": {"D3": -1}}, "a node weight must be a number >= 0"),
    ({"weights": {"method": "entrpy"}}, "unknown weights method \\(did you mean 'entropy'\\?\\)"),
])
def test_bad_overrides_are_refused_with_a_clear_message(cdht, overrides, message):
    session, _ = cdht
    with pytest.raises(InputError, match=message):
        session.score(**overrides)
