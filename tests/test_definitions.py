"""The six definitions of a study beyond its method names, each by hand on a small tree: not-applicable cells,
imputed aggregates, availability per level and entity lists, indicators passed through, data years, and
published-value checks with tolerance and rounding."""
import numpy as np
import pandas as pd
import pytest

from zoneindex import kernel, normalise, validate
from zoneindex.clean import clean, mark_not_applicable, screen, select_entities
from zoneindex.errors import InputError
from zoneindex.framework import Framework
from tests.helpers import tree


def _index(entities, years):
    return pd.MultiIndex.from_product([entities, years], names=["entity", "year"])


def _aggregate(fw, x, config, index, applicable=None, groups=None):
    t = kernel.Tree.of(fw)
    rows = kernel.Rows.of(index, None)
    plan = kernel.Plan.of(config, fw.max_level, False, None)  # the signature the uncertainty engine calls
    weights = kernel.relative_weights(fw.table["weight"].reindex(list(t.codes)).to_numpy(float)[None, :], t)
    result = kernel.aggregate(np.asarray(x, float), weights, t, plan, rows, applicable, groups)
    return pd.DataFrame(result.full()[:, :, 0].T, index=index, columns=list(t.codes)), result


def test_not_applicable_children_do_not_count_against_availability_and_an_all_na_node_is_na():
    fw = tree([[1, 1, 1, 1], [1, 1]])                      # D0: x0_0..x0_3, D1: x1_0, x1_1
    index = _index(["A", "B"], [2020])
    x = [[10, np.nan, np.nan, 40, np.nan, np.nan],       # A: half of D0 present; D1 does not apply at all
         [10, np.nan, np.nan, 40, 5, 7]]                 # B: the same D0, D1 complete
    applies = np.ones((2, 6), dtype=bool)
    applies[0, [1, 4, 5]] = False                         # A: x0_1 and the whole of D1 do not apply
    config = {"method": "arithmetic", "min_availability": 0.6}
    plain, _ = _aggregate(fw, x, config, index)
    assert np.isnan(plain.at[("A", 2020), "D0"])          # 2 of 4 = 0.5 < 0.6 without the definition
    wide, result = _aggregate(fw, x, config, index, applies)
    assert wide.at[("A", 2020), "D0"] == pytest.approx(25.0)   # 2 of the 3 that apply = 0.67 >= 0.6
    assert np.isnan(wide.at[("A", 2020), "D1"]) and not result.applicable[list(result.tree.codes).index("D1"), 0]
    assert wide.at[("A", 2020), "I"] == pytest.approx(25.0)    # the index over the one dimension that applies
    assert np.isnan(wide.at[("B", 2020), "D0"])                # for B every x0_j applies: 0.5 < 0.6
    # with every cell applicable the numbers are those of the kernel without the mask, bit for bit
    same, _ = _aggregate(fw, x, config, index, np.ones((2, 6), dtype=bool))
    assert same.equals(plain)


def test_a_missing_aggregate_is_the_mean_of_the_node_over_its_group_in_the_year():
    fw = tree([[1, 1], [1]])
    index = _index(["A", "B", "C", "D"], [2020, 2021])
    x = np.array([[1, 3, 5], [2, 4, 6], [10, 20, 30], [11, 21, 31],             # A 2020, 2021, B 2020, 2021
                  [np.nan, np.nan, 7], [5, 5, 5], [50, 60, 70], [80, 90, 100]], float)   # C 2020 has no D0
    groups = np.array(["g", "g", "g", "g", "h", "h", "h", "h"], dtype=object)   # A, B: g; C, D: h
    config = {"method": "arithmetic", "impute_missing": {"levels": [2]}}
    wide, result = _aggregate(fw, x, config, index)           # no group: all entities of the year
    assert wide.at[("C", 2020), "D0"] == pytest.approx(np.mean([2.0, 15.0, 55.0]))
    by_group, result = _aggregate(fw, x, {**config, "impute_missing": {"levels": [2], "group": "region"}}, index,
                                  groups=groups)
    assert by_group.at[("C", 2020), "D0"] == pytest.approx(55.0)   # D's D0 in 2020: C's group h
    assert by_group.at[("C", 2020), "I"] == pytest.approx((55.0 + 7.0) / 2)
    assert result.imputed.sum() == 1


def test_each_level_has_its_own_availability_rule():
    fw = tree([[1, 1, 1], [1, 1, 1], [1, 1, 1]])
    index = _index(["A"], [2020])
    x = [[1, np.nan, np.nan, 1, 2, np.nan, np.nan, np.nan, np.nan]]
    config = {"method": "arithmetic", "min_availability": 0.3,
              "by_level": {2: {"min_availability": 0.6}, 3: {"min_availability": 0.3}}}
    wide, _ = _aggregate(fw, x, config, index)
    assert np.isnan(wide.at[("A", 2020), "D0"]) and wide.at[("A", 2020), "D1"] == pytest.approx(1.5)
    assert wide.at[("A", 2020), "I"] == pytest.approx(1.5)     # 1 of 3 dimensions >= 0.3
    plan = kernel.Plan.of(config, 3, False, None)
    assert plan.share(2) == 0.6 and plan.share(3) == 0.3 and tuple(plan.levels[2]) == ("arithmetic", 1.0)


def test_an_indicator_passed_through_keeps_its_raw_value():
    fw = tree([[1, 1]])
    table = fw.table.reset_index(drop=True).assign(normalisation="")
    table.loc[table["code"] == "x0_1", "normalisation"] = "none"
    fw = Framework.from_table(table)
    matrix = pd.DataFrame({"x0_0": [1.0, 3.0], "x0_1": [40.0, 60.0]}, index=_index(["A", "B"], [2020]))
    out = normalise.normalise(matrix, fw, None, "minmax", scale=(0, 100))
    assert out["x0_0"].tolist() == [0.0, 100.0] and out["x0_1"].tolist() == [40.0, 60.0]


def _tidy(fw, entities, years, missing=()):
    rows = [{"entity": e, "year": y, "indicator": c, "value": 1.0, "unit": "count", "source": "t", "flag": "",
             "source_file": "t.csv", "source_row": 2, "data_year": y - 1}
            for e in entities for y in years for c in fw.indicators if (e, y, c) not in missing]
    return pd.DataFrame(rows)


def test_screening_per_level_and_entity_lists():
    fw = tree([[1, 1], [1, 1], [1, 1]])
    missing = {("B", 2020, c) for c in ("x1_0", "x1_1", "x2_0", "x2_1")}      # B 2020: data for 1 of 3 dims
    tidy = _tidy(fw, ["A", "B", "TOTAL"], [2020], missing)
    kept, log = select_entities(tidy, {"exclude": ["TOTAL"]})
    assert set(kept["entity"]) == {"A", "B"} and log["method"].tolist() == ["entities: exclude"]
    with pytest.raises(InputError, match=r"entities.include.*did you mean 'TOTAL'"):
        select_entities(tidy, {"include": ["TOTL"]})
    full = clean(kept, fw, range(2020, 2021), {})[0]
    out, log = screen(full, fw, 0.3, "observed", by_level={2: 0.5})
    assert set(out["entity"]) == {"A"} and log["method"].tolist() == ["level 2 availability < 0.5"]
    assert log["before"].iloc[0] == pytest.approx(1 / 3)


def test_not_applicable_cells_are_flagged_never_imputed_and_a_value_for_one_is_refused():
    fw = tree([[1, 1]])
    tidy = _tidy(fw, ["A", "B"], [2020, 2021], missing={("A", 2020, "x0_1"), ("A", 2021, "x0_1")})
    rules = [{"entity": "A", "codes": ["x0_1"], "reason": "does not exist for A"}]
    cleaned, log = clean(tidy, fw, range(2020, 2022), {"imputation": {"method": "mean"}}, not_applicable=rules)
    cell = cleaned[(cleaned["entity"] == "A") & (cleaned["indicator"] == "x0_1")]
    assert cell["value"].isna().all() and (cell["flag"] == "not-applicable").all()
    assert log[log["step"] == "imputation"].empty
    with pytest.raises(InputError, match="declares not applicable.*B 2020 x0_0"):
        mark_not_applicable(clean(tidy, fw, range(2020, 2022), {})[0], fw,
                            [{"entity": "B", "codes": ["D0"], "reason": "r"}])


def test_a_value_carried_forward_keeps_its_data_year():
    fw = tree([[1]])
    tidy = _tidy(fw, ["A"], [2020, 2021, 2022], missing={("A", 2022, "x0_0")})
    cleaned, _ = clean(tidy, fw, range(2020, 2023), {"imputation": {"method": "locf", "max_gap": 1}})
    row = cleaned[cleaned["year"] == 2022].iloc[0]
    assert row["flag"] == "imputed:locf" and row["data_year"] == 2020   # the 2021 value, which refers to 2020


def test_published_values_with_tolerance_and_rounding_rules():
    values = pd.Series([0.1235, 0.1245, 2.5, -0.0005])
    assert validate.rounded_units(values, 3, "half_up").tolist() == [124, 125, 2500, -1]
    assert validate.rounded_units(values, 3, "half_even").tolist() == [np.rint(0.1235e3), np.rint(0.1245e3), 2500, -0.0]
    scores = pd.DataFrame({"entity": "A", "year": [2020, 2021, 2022], "code": "I", "value": [0.1235, 0.2, 0.3]})
    references = pd.DataFrame({"entity": "A", "year": [2020, 2021, 2022], "code": "I", "value": [0.124, 0.21, 0.3],
                               "source": "s", "rule": "match", "decimals": 3, "rounding": "half_up",
                               "tolerance": 0.0, "note": ""})
    table, rows = validate.reference_comparison(None, scores, references)
    assert rows[0]["value"] == "2/3" and rows[0]["status"] == "fail"     # counted, not stopped at the miss
    assert "rounded half-up to 3 decimals, equal to the published value" in rows[0]["detail"]
    table, rows = validate.reference_comparison(None, scores, references.assign(tolerance=0.01))
    assert rows[0]["value"] == "3/3" and rows[0]["check"].endswith("(half_up, tolerance 0.01)")
