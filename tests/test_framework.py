import numpy as np
import pytest
from hypothesis import given, strategies as st

from zoneindex.errors import InputError
from zoneindex.framework import Framework
from zoneindex.study import available_studies, load_study
from tests.helpers import tree


def test_shipped_studies_load():
    assert {"cdht", "hdi"} <= set(available_studies())
    cdht = load_study("cdht")
    assert cdht.framework.root == "CDHT" and cdht.framework.max_level == 4
    assert [c for c in cdht.framework.level_codes(3)] == ["D1", "D2", "D3", "D4", "D5"]
    # the sub-areas named in the 2021 release sit under the right dimensions
    names = cdht.framework.table.set_index("name_en")["parent"]
    assert names["trade level"] == names["industrial status"] == names["social responsibility"] == "D3"
    assert names["livable living and business"] == names["nature and culture"] == "D5"


def test_relative_and_effective_weights_by_hand():
    fw = tree([[1, 3], [2]], dimension_weights=[1, 3])
    relative = fw.relative_weights()
    assert relative["x0_0"] == 0.25 and relative["x0_1"] == 0.75 and relative["x1_0"] == 1.0
    effective = fw.effective_weights()
    assert effective["x0_1"] == pytest.approx(0.25 * 0.75)
    assert effective["x1_0"] == pytest.approx(0.75)


@given(st.lists(st.lists(st.floats(0.01, 100), min_size=1, max_size=5), min_size=1, max_size=5))
def test_weights_sum_to_one_in_every_group_and_in_the_index(dimensions):
    fw = tree(dimensions)
    relative = fw.relative_weights()
    sums = relative[fw.table["parent"] != ""].groupby(fw.table["parent"]).sum()
    assert np.allclose(sums, 1.0, atol=1e-12)
    assert fw.effective_weights()[fw.indicators].sum() == pytest.approx(1.0, abs=1e-12)


def _table():
    return tree([[1, 1]]).table.reset_index(drop=True).copy()


@pytest.mark.parametrize("edit, column, needle", [
    (lambda t: t.drop(columns="direction"), None, "lacks the columns"),
    (lambda t: t.assign(direction=t["direction"].where(t["code"] != "x0_1", 2)), "direction", "1 or -1"),
    (lambda t: t.assign(parent=t["parent"].where(t["code"] != "x0_0", "I")), "parent", "one level up"),
    (lambda t: t.assign(code=t["code"].where(t["code"] != "x0_1", "x0_0")), "code", "duplicated"),
    (lambda t: t.assign(weight=t["weight"].where(t["code"] != "x0_0", -1)), "weight", "non-negative"),
    (lambda t: t.assign(parent=t["parent"].where(t["code"] != "x0_0", "nowhere")), "parent", "not a node code"),
])
def test_bad_framework_is_refused_naming_row_and_column(edit, column, needle):
    with pytest.raises(InputError) as error:
        Framework.from_table(edit(_table()))
    assert needle in str(error.value)
    if column:
        assert error.value.column == column and error.value.row is not None


def test_unknown_method_is_refused(tmp_path):
    study = tmp_path / "toy"
    study.mkdir()
    _table().to_csv(study / "framework.csv", index=False)
    (study / "study.yaml").write_text(
        "study: toy\ntitle: {en: Toy}\nyears: {first: 2000, last: 2001}\nframework: framework.csv\ndata: []\n"
        "methods: {imputation: {method: none}, outliers: {method: none}, normalisation: {method: magic},"
        " weights: {method: fixed}, aggregation: {method: arithmetic}}\n", encoding="utf-8")
    with pytest.raises(InputError, match="methods.normalisation.method.*magic"):
        load_study("toy", seeds=tmp_path)
