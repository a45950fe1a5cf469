"""Ingest and clean: bad input is refused with its location; missing stays missing; changes are logged."""

import numpy as np
import pandas as pd
import pytest

from zoneindex import clean, ingest, paths
from zoneindex.errors import InputError
from zoneindex.provenance import read_source_record, write_source_record
from zoneindex.study import Study, load_study

HEADER = "entity,year,indicator,value,unit\n"


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The cdht study definition over a small raw file of our own, in a temporary raw folder."""
    monkeypatch.setattr(paths, "RAW", tmp_path / "raw")
    study = load_study("cdht")
    config = {**study.config, "data": [{"file": "toy.csv", "format": "long"}], "references": []}
    study = Study("cdht", study.folder, config, study.framework)
    study.raw_folder.mkdir(parents=True)

    def write(body: str) -> Study:
        rows = "".join(f"CDHT,2018,{code},1,{study.framework.table.at[code, 'unit']}\n"
                       for code in study.framework.indicators[1:])
        target = study.raw_folder / "toy.csv"
        target.write_text(HEADER + body + rows, encoding="utf-8")
        write_source_record(target, title="toy", publisher="tests", url="tests", retrieved="2026-01-01",
                            licence="CC0-1.0", illustrative=False)
        return study
    return write


def first(study):
    return study.framework.indicators[0], study.framework.table.at[study.framework.indicators[0], "unit"]


def test_a_good_file_is_read_with_its_provenance(toy):
    study = toy("CDHT,2018,fdi_actual,15.5,USD 100m\n")
    tidy, records = ingest.ingest(study, 2023)
    assert tidy.loc[tidy["indicator"] == "fdi_actual", "value"].item() == 15.5
    assert tidy["source_row"].min() == 2 and records[0]["sha256"] == read_source_record(
        study.raw_folder / "toy.csv")["sha256"]


@pytest.mark.parametrize("line, column, row, needle", [
    ("CDHT,2018,fdi_actual,1 234,USD 100m\n", "value", 2, "not a number"),
    ("CDHT,2018,fdi_actual,１２,USD 100m\n", "value", 2, "not a number"),
    ("CDHT,2018,not_a_code,1,count\n", "indicator", 2, "not in the framework"),
    ("CDHT,2031,fdi_actual,1,USD 100m\n", "year", 2, "outside the study range"),
    ("CDHT,2018.5,fdi_actual,1,USD 100m\n", "year", 2, "whole number"),
])
def test_bad_values_name_file_row_column_and_value(toy, line, column, row, needle):
    study = toy(line)
    with pytest.raises(InputError) as error:
        ingest.ingest(study, 2023)
    assert needle in str(error.value)
    assert (error.value.column, error.value.row) == (column, row)
    assert "toy.csv" in str(error.value)


def test_duplicates_and_indicators_without_data_are_refused(toy):
    with pytest.raises(InputError, match="more than once"):
        ingest.ingest(toy("CDHT,2018,fdi_actual,1,USD 100m\nCDHT,2018,fdi_actual,2,USD 100m\n"), 2023)
    study = toy("")
    with pytest.raises(InputError, match="no data in any raw file.*fdi_actual"):
        ingest.ingest(study, 2023)


def test_an_edited_raw_file_or_a_missing_record_is_refused(toy):
    study = toy("CDHT,2018,fdi_actual,1,USD 100m\n")
    raw = study.raw_folder / "toy.csv"
    raw.write_text(raw.read_text(encoding="utf-8").replace(",1,USD", ",2,USD"), encoding="utf-8")
    with pytest.raises(InputError, match="changed since its source record"):
        ingest.ingest(study, 2023)
    (study.raw_folder / "toy.csv.source.yaml").unlink()
    with pytest.raises(InputError, match="no source record"):
        ingest.ingest(study, 2023)


def test_units_convert_only_when_declared_and_are_logged(toy):
    study = toy("CDHT,2018,fdi_actual,2000,USD m\n")
    tidy, _ = ingest.ingest(study, 2023)
    with pytest.raises(InputError, match="no conversion is declared") as error:
        clean.clean(tidy, study.framework, range(2016, 2024), study.methods)
    assert error.value.row == 2 and error.value.value == "USD m"
    cleaned, log = clean.clean(tidy, study.framework, range(2016, 2024), study.methods,
                               [{"from": "USD m", "to": "USD 100m", "factor": 0.01}])
    cell = cleaned[(cleaned["indicator"] == "fdi_actual") & (cleaned["year"] == 2018)].iloc[0]
    assert cell["value"] == 20.0 and "converted:USD m->USD 100m" in cell["flag"]
    assert log[["before", "after"]].values.tolist() == [[2000.0, 20.0]]


def test_missing_stays_missing_and_imputation_flags_every_filled_cell(toy):
    study = toy("CDHT,2016,fdi_actual,10,USD 100m\nCDHT,2019,fdi_actual,40,USD 100m\n")
    tidy, _ = ingest.ingest(study, 2023)
    cleaned, log = clean.clean(tidy, study.framework, range(2016, 2024), study.methods)
    series = cleaned[cleaned["indicator"] == "fdi_actual"].set_index("year")
    assert series["value"].isna().sum() == 6 and series.loc[2017, "flag"] == "missing" and log.empty
    methods = {**study.methods, "imputation": {"method": "linear"}}
    cleaned, log = clean.clean(tidy, study.framework, range(2016, 2024), methods)
    series = cleaned[cleaned["indicator"] == "fdi_actual"].set_index("year")
    assert series.loc[[2016, 2017, 2018, 2019], "value"].tolist() == [10.0, 20.0, 30.0, 40.0]
    assert series.loc[2017, "flag"] == "imputed:linear" and series.loc[2016, "flag"] == ""
    assert np.isnan(series.loc[2020, "value"])  # linear fills inside the series only
    assert set(log.loc[log["indicator"] == "fdi_actual", "year"]) == {2017, 2018}


def test_excel_and_wide_layouts(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "RAW", tmp_path / "raw")
    study = load_study("hdi")
    study.raw_folder.mkdir(parents=True)
    frame = pd.DataFrame({"iso3": ["AAA", "ZZA"], "le_2000": ["60", "70"], "eys_2000": ["10", "11"],
                          "mys_2000": ["8", "9"], "gnipc_2000": ["5000", "abc"]})
    target = study.raw_folder / "HDR23-24_Composite_indices_complete_time_series.csv"
    frame.to_csv(target, index=False)
    write_source_record(target, title="t", publisher="t", url="t", retrieved="t", licence="t", illustrative=False)
    tidy, _ = ingest.ingest(study, 2022)  # the ZZ aggregate row (with the bad value) is excluded
    assert sorted(tidy["indicator"]) == ["eys", "gnipc", "le", "mys"] and set(tidy["entity"]) == {"AAA"}
    frame["iso3"] = ["AAA", "BBB"]
    xlsx = tmp_path / "raw" / "hdi" / "wide.xlsx"
    frame.to_excel(xlsx, sheet_name="data", index=False)
    write_source_record(xlsx, title="t", publisher="t", url="t", retrieved="t", licence="t", illustrative=False)
    spec = {**study.config["data"][0], "file": "wide.xlsx", "sheet": "data"}
    with pytest.raises(InputError) as error:
        ingest.read_data_file(study, spec)
    assert (error.value.row, error.value.column, error.value.value) == (3, "gnipc_2000", "abc")


def test_denominators_divide_by_the_same_entity_year_and_are_logged():
    from tests.helpers import tree
    fw = tree([[1, 1]])
    fw.table["denominator"] = ["", "", "gdp", ""]
    fw.table["denominator_scale"] = [np.nan, np.nan, 100.0, np.nan]
    fw.table["raw_unit"] = ["", "", "USD", ""]
    fw.table["unit"] = ["", "", "USD per 100 GDP", "count"]
    tidy = pd.DataFrame({"entity": ["A", "A", "A", "B", "B"], "year": [2020] * 5,
                         "indicator": ["x0_0", "x0_1", "gdp", "x0_0", "x0_1"],
                         "value": [50.0, 7.0, 200.0, 10.0, 3.0],
                         "unit": ["USD", "count", "USD", "USD", "count"], "source": "t", "flag": "",
                         "source_file": "t.csv", "source_row": [2, 3, 4, 5, 6]})
    cleaned, log = clean.clean(tidy, fw, range(2020, 2021), {"imputation": {"method": "none"}},
                               denominators={"gdp": {"unit": "USD"}})
    values = cleaned.set_index(["entity", "indicator"])
    assert values.loc[("A", "x0_0"), "value"] == 25.0 and values.loc[("A", "x0_0"), "flag"] == "denominated"
    assert values.loc[("A", "x0_1"), "value"] == 7.0  # not denominated
    assert np.isnan(values.loc[("B", "x0_0"), "value"])  # B has no GDP: missing, never undivided
    assert "missing-denominator" in values.loc[("B", "x0_0"), "flag"]
    assert "gdp" not in set(cleaned["indicator"])
    assert log.loc[log["step"] == "denomination", "after"].iloc[0] == 25.0
