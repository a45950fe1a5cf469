"""The results workbook: every stage table, read back equal to the CSVs, formatted, byte-identical on rerun."""
from __future__ import annotations

import json

import numpy as np
import openpyxl
import pandas as pd
import pytest

from zoneindex.export import write_results_workbook
from zoneindex.study import load_study
from zoneindex.tables import read_stage_table

YEARS = [2020, 2021]


def _csv(folder, name, rows):
    table = pd.DataFrame(rows)
    table.to_csv(folder / f"{name}.csv", index=False)
    return table


def _processed(tmp_path, name, entities):
    """A processed folder shaped like a real run's, with made-up numbers."""
    study = load_study(name)
    fw, folder = study.framework, tmp_path / "processed" / name / "2021"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(7)
    scale = 1.0 if name == "hdi" else 100.0
    _csv(folder, "scores", [dict(entity=e, year=y, code=c, level=int(fw.table.at[c, "level"]),
                                 value=np.nan if (e, c) == (entities[-1], fw.root) else scale * rng.uniform(0.2, 1),
                                 illustrative=study.illustrative) for e in entities for y in YEARS for c in fw.codes])
    if study.base_year is not None:
        _csv(folder, "contributions", [dict(entity=e, year=y, code=c, level=int(fw.table.at[c, "level"]),
                                            parent=fw.table.at[c, "parent"], change=rng.normal(), to_parent=rng.normal(),
                                            to_index=rng.normal(), illustrative=True)
                                       for e in entities for y in YEARS for c in fw.codes])
    relative, effective = fw.relative_weights(), fw.effective_weights()
    _csv(folder, "weights", [dict(code=c, level=int(fw.table.at[c, "level"]), parent=fw.table.at[c, "parent"],
                                  weight=1.0, relative_weight=relative[c], effective_weight=effective[c]) for c in fw.codes])
    raw = [dict(entity=e, year=y, indicator=i, value=round(rng.uniform(1, 500), 3), unit="RMB 100m (亿元)",
                source="made up for a test", flag="illustrative" if study.illustrative else "",
                source_file="panel.csv", source_row=k + 2)
           for k, (e, y, i) in enumerate((e, y, i) for e in entities for y in YEARS for i in fw.indicators)]
    _csv(folder, "ingested", raw)
    _csv(folder, "clean", [dict(r, flag="imputed:linear") if k == 0 else r for k, r in enumerate(raw)])
    _csv(folder, "treatment_log", [dict(entity=entities[0], year=2020, indicator=fw.indicators[0], step="imputation",
                                        method="linear", before=np.nan, after=3.5)])
    _csv(folder, "checks", [dict(check="weights sum to 1 in every group", status="pass", value=0.0, detail="4 groups")])
    _csv(folder, "coverage", [dict(code=c, level=int(fw.table.at[c, "level"]), **{str(y): 0.875 for y in YEARS})
                              for c in fw.codes])
    _csv(folder, "reference_comparison", [dict(entity=entities[0], year=2021, code=fw.root, value=0.5, source="x.csv",
                                               rule="exact:3", note="", ours=0.5004, match=True)])
    (folder / "manifest.json").write_text(json.dumps({
        "study": name, "edition": 2021, "git_commit": "abc123def", "seed": study.seed, "years": YEARS,
        "methods": study.methods, "inputs": {f"seeds/{name}/study.yaml": "f" * 64}}), encoding="utf-8")
    return study, folder


@pytest.fixture
def hdi(tmp_path):
    # "NA" (Namibia) must stay an entity code, not become a missing value
    study, folder = _processed(tmp_path, "hdi", ["NA", "CHN", "NOR"])
    return study, folder, write_results_workbook(folder, study, tmp_path / "out")


@pytest.fixture
def cdht(tmp_path):
    study, folder = _processed(tmp_path, "cdht", ["CDHT"])
    return study, folder, write_results_workbook(folder, study, tmp_path / "out" / "cdht.xlsx")


NOTICES = ("ILLUSTRATIVE DATA", "示意数据")


def _sheet_frame(ws, header_rows=1) -> pd.DataFrame:
    """A table sheet as a frame: the first header row names the columns; an illustrative-data notice above
    the table is skipped."""
    rows = list(ws.iter_rows(values_only=True))
    if rows and str(rows[0][0] or "").startswith(NOTICES):
        rows = rows[1:]
    return pd.DataFrame(rows[header_rows:], columns=rows[0])


def _csv_frame(folder, name):
    return read_stage_table(folder / f"{name}.csv")  # the stage table as the pipeline reads it


def _assert_equal(sheet: pd.DataFrame, csv: pd.DataFrame, rel: float = 1e-15):
    """Equal cell by cell; ``rel``: the relative tolerance of numbers (Calc saves 15 significant digits)."""
    assert list(sheet.columns) == list(csv.columns) and len(sheet) == len(csv)
    for column in csv.columns:
        expected, got = csv[column].tolist(), sheet[column].tolist()
        for e, g in zip(expected, got):
            if (isinstance(e, float) and np.isnan(e)) or e == "":
                assert g in (None, "") or (isinstance(g, float) and np.isnan(g)), column
            elif isinstance(e, float):
                assert g == pytest.approx(e, rel=rel, abs=1e-300), column
            else:
                assert g == e, column


def test_sheets_present_in_order(hdi, cdht):
    assert openpyxl.load_workbook(hdi[2]).sheetnames == [
        "README", "Scores", "Ranks", "Weights", "Raw data matrix", "Indicators raw", "Indicators clean",
        "Treatment log", "Validation"]
    # one entity: no ranks; a base year: contributions
    assert openpyxl.load_workbook(cdht[2]).sheetnames == [
        "README", "Scores", "Contributions", "Weights", "Raw data matrix", "Indicators raw", "Indicators clean",
        "Treatment log", "Validation"]
    assert hdi[2].name == "results.xlsx" and cdht[2].name == "cdht.xlsx"


def test_frozen_headers_and_number_formats(hdi, cdht):
    wb = openpyxl.load_workbook(hdi[2])
    assert wb["Scores"].freeze_panes == "C3" and wb["Ranks"].freeze_panes == "C3"  # codes + names, entity + year
    assert wb["Indicators raw"].freeze_panes == "A2" and wb["Weights"].freeze_panes == "A2"
    assert wb["Scores"]["C3"].number_format == "0.000"  # a 0-1 scale gets a third decimal
    assert wb["Ranks"]["C3"].number_format == "0"
    weights = wb["Weights"]
    assert [weights.cell(2, j).number_format for j in (5, 6, 7)] == ["0.0000"] * 3
    titles = [row[0] for row in wb["Validation"].iter_rows(values_only=True)]
    assert {"Checks", "Data coverage: share of entities with an observed value",
            "Comparison with published values"} <= set(titles)
    coverage_cells = [c for row in wb["Validation"].iter_rows() for c in row if c.value == 0.875]
    assert coverage_cells and all(c.number_format == "0.0%" for c in coverage_cells)
    cdht_wb = openpyxl.load_workbook(cdht[2])
    # the illustrative-data notice takes the first row: the table starts one row lower
    assert cdht_wb["Scores"].freeze_panes == "C4" and cdht_wb["Weights"].freeze_panes == "A3"
    assert cdht_wb["Scores"]["D4"].number_format == "0.00"  # C4 (the index) is missing: a blank cell
    assert cdht_wb["Contributions"].cell(3, 7).number_format == "0.00"


def test_values_read_back_equal_the_csvs(hdi):
    study, folder, path = hdi
    wb = openpyxl.load_workbook(path)
    for sheet, name in (("Indicators raw", "ingested"), ("Indicators clean", "clean"), ("Treatment log", "treatment_log")):
        table = _sheet_frame(wb[sheet])
        assert table["name"].tolist() == [study.framework.name(i) for i in table["indicator"]]
        _assert_equal(table.drop(columns="name"), _csv_frame(folder, name))
    weights = _sheet_frame(wb["Weights"])
    assert weights["name"].tolist() == [study.framework.name(c) for c in weights["code"]]
    _assert_equal(weights.drop(columns="name"), _csv_frame(folder, "weights"))
    scores = _csv_frame(folder, "scores")
    wide = _sheet_frame(wb["Scores"], header_rows=2)
    assert list(wide.columns[:3]) == ["entity", "year", "hdi"] and wide.columns[-1] == "illustrative"
    assert [c.value for c in wb["Scores"][2]][2] == "Human Development Index"
    assert sorted(wide["entity"].unique()) == ["CHN", "NA", "NOR"]
    assert len(wide) == len(scores[["entity", "year"]].drop_duplicates())
    for row in scores.itertuples():
        got = wide.loc[(wide["entity"] == row.entity) & (wide["year"] == row.year), row.code].item()
        assert np.isnan(got) if np.isnan(row.value) else got == pytest.approx(row.value, rel=1e-15)


def test_ranks_one_is_best_per_year_and_node(hdi):
    study, folder, path = hdi
    scores = _csv_frame(folder, "scores")
    ranks = _sheet_frame(openpyxl.load_workbook(path)["Ranks"], header_rows=2)
    for (year, code), group in scores.groupby(["year", "code"]):
        best = group.loc[group["value"].idxmax(), "entity"]
        assert ranks.loc[(ranks["entity"] == best) & (ranks["year"] == year), code].item() == 1
        ranked = ranks.loc[ranks["year"] == year, code].dropna()
        assert sorted(ranked) == list(range(1, group["value"].notna().sum() + 1))


def test_contributions_and_illustrative_column_kept(cdht):
    study, folder, path = cdht
    wb = openpyxl.load_workbook(path)
    contributions = _sheet_frame(wb["Contributions"])
    assert contributions.columns[3] == "name"  # entity, year, code, name, ...
    _assert_equal(contributions.drop(columns="name"), _csv_frame(folder, "contributions"))
    wide = _sheet_frame(wb["Scores"], header_rows=2)
    assert wide["illustrative"].tolist() == [True, True]


def test_illustrative_notice_for_cdht_only(hdi, cdht):
    def readme(path):
        return "\n".join(str(c) for row in openpyxl.load_workbook(path)["README"].iter_rows(values_only=True)
                         for c in row if c is not None)
    text = readme(cdht[2])
    assert "ILLUSTRATIVE DATA" in text and "must not be quoted" in text
    assert "ILLUSTRATIVE DATA" not in readme(hdi[2]) and "must not be quoted" not in readme(hdi[2])
    for fact in ("abc123def", "f" * 64, "normalisation.method", "goalposts", "2021"):
        assert fact in readme(hdi[2])


def test_two_writes_are_byte_identical_and_atomic(tmp_path):
    study, folder = _processed(tmp_path, "cdht", ["CDHT"])
    a = write_results_workbook(folder, study, tmp_path / "a" / "results.xlsx")
    b = write_results_workbook(folder, study, tmp_path / "b" / "results.xlsx")
    assert a.read_bytes() == b.read_bytes()
    write_results_workbook(folder, study, a)  # overwrite in place
    assert a.read_bytes() == b.read_bytes()
    assert [p.name for p in a.parent.iterdir()] == ["results.xlsx"]
    assert openpyxl.load_workbook(a).properties.created.year == 2000


def test_column_widths_fit_content_with_cjk_counted_double(tmp_path):
    study, folder = _processed(tmp_path, "hdi", ["NA", "CHN"])
    ws = openpyxl.load_workbook(write_results_workbook(folder, study, tmp_path / "zh.xlsx", lang="zh"))["得分"]
    name = study.framework.name("gnipc", "zh")  # 人均国民总收入（2017年购买力平价美元）: 16 wide + 4 narrow
    column = next(c.column_letter for c in ws[2] if c.value == name)
    assert ws.column_dimensions[column].width >= 2 * 16 + 4
    # openpyxl groups neighbouring columns of one width under the first one's letter
    [year] = [d.width for d in ws.column_dimensions.values() if d.min <= 2 <= d.max]
    assert year < 10
