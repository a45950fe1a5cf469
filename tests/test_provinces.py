"""The provinces study: declared row selection in ingest, entity-name repair in clean, and the scores.

Real yearbook tables (data/raw/provinces/): the OCR-damaged province names sit in years before the study's
first year (2010, 2014, 2015), so the repair is tested on the whole files, read the way the study reads
them but without its year and variable selection.
"""
import copy

import numpy as np
import pandas as pd
import pytest

from zoneindex import clean, ingest, score, validate
from zoneindex.errors import InputError
from zoneindex.study import Study, load_study, read_entity_names

STANDARD = ["北京", "天津", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "上海", "江苏", "浙江", "安徽", "福建",
            "江西", "山东", "河南", "湖北", "湖南", "广东", "广西", "海南", "重庆", "四川", "贵州", "云南", "西藏",
            "陕西", "甘肃", "青海", "宁夏", "新疆"]


@pytest.fixture(scope="module")
def study():
    return load_study("provinces")


@pytest.fixture(scope="module")
def names(study):
    return read_entity_names(study)


def whole_file(study, file: str, exclude: bool = True) -> pd.DataFrame:
    """Every row of a raw file in tidy form (all variables and years), aggregates left out by the study's rule."""
    spec = next(s for s in study.config["data"] if s["file"] == file)
    spec = {k: v for k, v in spec.items() if k not in ("indicators", "keep_years")}
    if not exclude:
        spec.pop("exclude_entities")
    tidy = ingest.read_long(study.raw_folder / file, spec)
    if exclude:
        tidy, _ = ingest.select_rows(tidy, spec, study.folder / "study.yaml")
    return tidy


def test_entity_name_table_covers_every_spelling_and_31_provinces(study, names):
    assert sorted(set(names["entity"])) == sorted(STANDARD)
    assert (names.loc[names["raw"].isin(STANDARD), "raw"] == names.loc[names["raw"].isin(STANDARD), "entity"]).all()
    for spec in study.config["data"]:
        spellings = set(whole_file(study, spec["file"])["entity"])
        assert spellings <= set(names["raw"]), spec["file"]


@pytest.mark.parametrize("file, count, pairs", [
    ("RDPatentAccept.csv", 128, {("上   海", "上海"): 4, ("江两", "江西"): 4, ("内蒙 古", "内蒙古"): 4,
                                 ("黑龙 江", "黑龙江"): 4}),
    ("RDPatentValid.csv", 12, {("四藏", "西藏"): 4, ("浙汀", "浙江"): 4, ("江四", "江西"): 4}),
    ("IndustryRD.csv", 0, {}),
    ("RDPaperInternational.csv", 0, {}),
])
def test_every_repair_is_reported(study, names, file, count, pairs):
    tidy = whole_file(study, file)
    damaged = ~tidy["entity"].isin(STANDARD)
    repaired, log = clean.repair_entity_names(tidy, names)
    assert int(damaged.sum()) == count and len(log) == count
    assert repaired["entity"].isin(STANDARD).all()
    assert int(repaired["flag"].str.contains("entity-name-repaired").sum()) == count
    assert set(log["step"]) <= {"entity name"}
    found = log.groupby(["before", "after"]).size().to_dict()
    for pair, n in pairs.items():
        assert found.get(pair) == n, pair
        assert f"{pair[0]} -> {pair[1]}" in set(log["method"])
    # every log row points at the raw row it came from: that row holds the damaged spelling
    raw = pd.read_csv(study.raw_folder / file, dtype=str, keep_default_na=False)
    assert (log["source_file"] == file).all()
    assert (raw.loc[log["source_row"].astype(int) - 2, "province"].to_numpy() == log["before"].to_numpy()).all()


def test_unknown_name_is_refused_with_file_row_and_known_names(study, names):
    # Without the declared exclusion, the regional aggregate 尔部地区 reaches the repair: it is no province.
    tidy = whole_file(study, "RDPatentValid.csv", exclude=False)
    with pytest.raises(InputError) as error:
        clean.repair_entity_names(tidy, names)
    where = tidy[tidy["entity"] == "全国"]["source_row"].min()
    message = str(error.value)
    assert error.value.file == "RDPatentValid.csv" and error.value.column == "entity"
    assert error.value.value == "全国" and error.value.row == where
    assert "RDPatentValid.csv" in message and f"row {where}" in message and "四川" in message


def test_aggregate_with_damaged_name_would_be_refused(study, names):
    tidy = whole_file(study, "RDPatentValid.csv", exclude=False)
    tidy = tidy[tidy["entity"] != "全国"]
    with pytest.raises(InputError, match="尔部地区") as error:
        clean.repair_entity_names(tidy, names)
    assert error.value.row == 1158  # the first 尔部地区 row of the file (header = row 1)


def test_two_spellings_of_one_province_after_repair_are_refused(study, names):
    tidy = whole_file(study, "RDPatentAccept.csv")
    spaced = tidy[(tidy["entity"] == "四   川")].iloc[[0]]
    twin = spaced.assign(entity="四川", source_row=99999)  # the same series under the standard spelling
    with pytest.raises(InputError) as error:
        clean.repair_entity_names(pd.concat([tidy, twin], ignore_index=True), names)
    message = str(error.value)
    assert f"row {int(spaced['source_row'].iloc[0])}" in message and "row 99999" in message
    assert "'四   川'" in message and "'四川'" in message


def test_selection_is_declared_and_counted(study):
    tidy, records = ingest.ingest(study, 2023)
    table = ingest.sources_table(records).set_index("file")
    for record in records:
        counts = record["selection"]
        left = sum(v for k, v in counts.items() if k.startswith("left out"))
        assert counts["rows read"] == counts["rows kept"] + left
        assert counts["rows read"] == len(pd.read_csv(study.raw_folder / record["file"]))
    assert table.loc["RDPatentValid.csv", "entities excluded"] == "全国, 尔部地区"
    assert table.loc["RDPatentAccept.csv", "entities excluded"] == "全   国, 全国"
    assert table.loc["IndustryRD.csv", "entities excluded"] == "全国, 新疆"
    assert not tidy["entity"].str.contains("全|地区").any()
    assert sorted(tidy["indicator"].unique()) == sorted(study.framework.indicators + ["NPSALES"])


def test_a_wrong_code_is_still_refused(study):
    config = copy.deepcopy(study.config)
    config["data"][1]["indicators"] = {"v4_cg_gwlw_pssci": "SCI", "v4_cg_gwlw_psei": "EI_typo",
                                       "v4_cg_gwlw_pscpcis": "CPCIS"}
    with pytest.raises(InputError, match="not in the framework"):
        ingest.ingest(Study(study.name, study.folder, config, study.framework), 2023)
    config["data"][1]["indicators"] = {"v4_cg_gwlw_pssci_typo": "SCI"}
    with pytest.raises(InputError, match="not in the file") as error:
        ingest.ingest(Study(study.name, study.folder, config, study.framework), 2023)
    assert error.value.column == "variables"


@pytest.fixture(scope="module")
def scored(study, names):
    tidy, _ = ingest.ingest(study, 2023)
    cleaned, log = clean.clean_study(study, tidy, range(2010, 2024))
    return cleaned, log, score.score(study, cleaned)


def test_scores_base_year_is_100_exactly_for_every_province_and_node(study, scored):
    cleaned, log, result = scored
    scores = result.scores
    assert sorted(scores["entity"].unique()) == sorted(STANDARD)
    base = scores[scores["year"] == 2018]
    assert len(base) == 31 * len(study.framework.codes)
    aggregates = base[base["level"] >= 2]
    assert (aggregates["value"].dropna() == 100.0).all() and len(aggregates) == 31 * 3
    # a node needs 3/4 of its children: 西藏 and 新疆 have no export series, so no market dimension or index
    empty = set(map(tuple, aggregates.loc[aggregates["value"].isna(), ["entity", "code"]].to_numpy()))
    assert empty == {(e, c) for e in ("西藏", "新疆") for c in ("MKT", "PROVINTL")}
    indicators = base[base["level"] == 1]
    assert (indicators["value"].dropna() == 100.0).all()
    # the only indicators without a base-year value: no export data for 西藏, 新疆's export rows left out
    missing = set(map(tuple, indicators.loc[indicators["value"].isna(), ["entity", "code"]].to_numpy()))
    assert missing == {(e, c) for e in ("西藏", "新疆") for c in ("NPEXP", "NPEXP_SH")}
    checks = validate.validate(study, cleaned, scores, result.weights, result.contributions,
                               ingest.read_references(study))["checks"]
    assert "fail" not in set(checks["status"])


def test_sichuan_index_is_finite_and_2023_papers_are_flagged(study, scored):
    cleaned, log, result = scored
    scores = result.scores
    sichuan = scores[(scores["entity"] == "四川") & (scores["code"] == study.framework.root)].set_index("year")["value"]
    assert list(sichuan.index) == list(range(2010, 2024))
    assert np.isfinite(sichuan.loc[2016:]).all() and sichuan.loc[:2015].isna().all()  # industry tables from 2016
    imputed = log[log["step"] == "imputation"]
    # every province's three paper counts of 2023, and the one gap inside a series (西藏, EI, 2011)
    assert len(imputed) == 31 * 3 + 1 and set(imputed["year"]) == {2011, 2023}
    assert imputed[imputed["year"] == 2011][["entity", "indicator"]].values.tolist() == [["西藏", "EI"]]
    assert set(imputed["indicator"]) == {"SCI", "EI", "CPCIS"}
    papers_2023 = cleaned[(cleaned["year"] == 2023) & cleaned["indicator"].isin(["SCI", "EI", "CPCIS"])]
    assert papers_2023["flag"].str.contains("imputed:locf").all()
    assert list(log.columns[-2:]) == ["source_file", "source_row"]  # the entity-name columns, kept when empty


def test_an_edition_repairs_the_ocr_damaged_names_and_logs_each(scored):
    _, log, _ = scored
    repairs = log[log["step"] == "entity name"]
    assert {"上   海 -> 上海", "江两 -> 江西", "四藏 -> 西藏", "浙汀 -> 浙江", "黑龙 江 -> 黑龙江"} <= set(repairs["method"])
    assert repairs.groupby("source_file").size().to_dict() == {"RDPatentAccept.csv": 32, "RDPatentValid.csv": 3}
    assert repairs["source_row"].notna().all()
