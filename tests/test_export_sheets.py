"""The reviewer's sheets of the results workbook: present, equal to the stage tables, named and explained in
the run's language, labelled illustrative where the data are, set up for print, and unchanged by a
LibreOffice round trip."""
from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd
import pytest

from tests.spreadsheets import save_through_libreoffice, soffice
from tests.test_export import NOTICES, _assert_equal, _csv, _csv_frame, _processed, _sheet_frame
from zoneindex.errors import InputError
from zoneindex.export import write_results_workbook
from zoneindex.export_sheets import FORBIDDEN, SHEET_NAMES, rank_shift_table, sheet_name

ENTITIES = ["NA", "CHN", "NOR"]


def _reviewer_tables(folder, study, entities):
    """The validate stage's tables, shaped as a run writes them, with made-up numbers."""
    fw, rng = study.framework, np.random.default_rng(11)
    nodes = [c for c in fw.codes if c not in fw.indicators]
    _csv(folder, "uncertainty_summary", [
        dict(entity=e, year=y, code=c, level=int(fw.table.at[c, "level"]), nominal=v, mean=v + 0.01, median=v,
             q05=v - 0.05, q95=v + 0.05, n=500, change_nominal=np.nan, change_median=np.nan, change_q05=np.nan,
             change_q95=np.nan, p_change_positive=np.nan)
        for e in entities for y in (2020, 2021) for c in nodes for v in [rng.uniform(0.3, 0.9)]])
    _csv(folder, "uncertainty_ranks", [
        dict(entity=e, year=2021, code=fw.root, level=int(fw.table.at[fw.root, "level"]), nominal_rank=k + 1,
             mean_rank=k + 1.25, median_rank=k + 1, q05_rank=max(k, 1), q95_rank=k + 2) for k, e in enumerate(entities)])
    _csv(folder, "sobol_indices", [dict(target="rank_shift", input=name, S1=s1, S1_lo=s1 - 0.1, S1_hi=s1 + 0.1,
                                        ST=s1 + 0.05, ST_lo=s1 - 0.05, ST_hi=s1 + 0.15, S1_half=s1, ST_half=s1,
                                        converged=True, note="")
                                   for name, s1 in (("weights", 0.21), ("normalisation", 0.64))])
    # NA: 1st nominally, 3rd under geometric (shift +2) and 1st under zscore; CHN 2 -> 1 and 3; NOR 3 -> 2 and 2
    _csv(folder, "rank_shifts", dict(entity=entities, nominal=[1.0, 2.0, 3.0], geometric=[3.0, 1.0, 2.0],
                                     zscore=[1.0, 3.0, 2.0]))
    _csv(folder, "indicator_statistics", [dict(indicator=i, values=6, available=5 / 6, observed=5 / 6, zeros=0.0,
                                               unique=5, mean=12.5, sd=3.25, min=8.0, max=17.0, skew=2.4, kurtosis=6.1,
                                               jrc_outlier_flag=True, imputation=1, outliers=0, denomination=0)
                                          for i in fw.indicators])
    _csv(folder, "collinearity", [dict(group=fw.root, a=fw.indicators[0], b=fw.indicators[1], r=0.93)])
    _csv(folder, "revised_cells", [dict(entity=entities[0], year=2020, indicator=fw.indicators[0], previous=1.5,
                                        revised=1.75, change=0.25, file="panel.csv", sheet="", row=7, column="value",
                                        how="corrected", compared_with=2020)])


@pytest.fixture
def hdi_full(tmp_path):
    study, folder = _processed(tmp_path, "hdi", ENTITIES)
    _reviewer_tables(folder, study, ENTITIES)
    return study, folder, write_results_workbook(folder, study, tmp_path / "en.xlsx"), \
        write_results_workbook(folder, study, tmp_path / "zh.xlsx", lang="zh")


@pytest.fixture
def cdht_small(tmp_path):
    study, folder = _processed(tmp_path, "cdht", ["CDHT"])
    _csv(folder, "alternative_trajectories", dict(year=[2020, 2021], nominal=[100.0, 104.5],
                                                  entropy_weights=[100.0, 103.0]))
    _csv(folder, "revised_cells", pd.DataFrame(columns=["entity", "year", "indicator", "previous", "revised"]))
    return study, folder, write_results_workbook(folder, study, tmp_path / "cdht.xlsx"), \
        write_results_workbook(folder, study, tmp_path / "cdht_zh.xlsx", lang="zh")


def test_every_reviewer_sheet_is_present_in_both_languages(hdi_full):
    en, zh = (openpyxl.load_workbook(p).sheetnames for p in hdi_full[2:])
    assert en == ["README", "Scores", "Ranks", "Weights", "Raw data matrix", "Indicators raw", "Indicators clean",
                  "Treatment log", "Data quality", "Uncertainty", "Uncertainty of ranks", "Sobol indices",
                  "Alternative methods", "Revised cells", "Validation"]
    assert zh == ["说明", "得分", "排名", "权重", "原始数据矩阵", "原始指标", "清洗后指标", "数据处理记录", "数据质量",
                  "不确定性分析", "排名不确定性", "Sobol指数", "备选方法", "修订数据", "校验"]


def test_sheet_names_are_valid_excel_names_and_bad_ones_are_refused(monkeypatch):
    for key, (en, zh) in SHEET_NAMES.items():
        for name in (en, zh):
            assert len(name) <= 31 and not FORBIDDEN & set(name), name
    monkeypatch.setitem(SHEET_NAMES, "scores", ("Scores", "得分/排名"))
    with pytest.raises(InputError, match="sheet name"):
        sheet_name("scores", "zh")


def test_uncertainty_sobol_quality_and_revisions_equal_their_tables(hdi_full):
    study, folder, en, _ = hdi_full
    wb = openpyxl.load_workbook(en)
    summary = _csv_frame(folder, "uncertainty_summary")
    sheet = _sheet_frame(wb["Uncertainty"])
    assert sheet["name"].tolist() == [study.framework.name(c) for c in sheet["code"]]
    _assert_equal(sheet.drop(columns="name"), summary.reset_index(drop=True))
    _assert_equal(_sheet_frame(wb["Uncertainty of ranks"]).drop(columns="name"), _csv_frame(folder, "uncertainty_ranks"))
    _assert_equal(_sheet_frame(wb["Sobol indices"]), _csv_frame(folder, "sobol_indices"))
    quality = list(wb["Data quality"].iter_rows(values_only=True))
    assert quality[0][0] == "Data quality"
    stats = pd.DataFrame(quality[2:2 + len(study.framework.indicators)], columns=quality[1])
    _assert_equal(stats.drop(columns="name").dropna(axis=1, how="all"), _csv_frame(folder, "indicator_statistics"))
    assert stats["jrc_outlier_flag"].tolist() == [True] * len(stats)
    pairs_at = next(i for i, row in enumerate(quality) if str(row[0]).startswith("Collinear"))
    assert quality[pairs_at + 1][:4] == ("group", "a", "b", "r")
    assert quality[pairs_at + 2][:4] == (study.framework.root, *study.framework.indicators[:2], 0.93)
    revisions = list(wb["Revised cells"].iter_rows(values_only=True))
    assert revisions[0][0] == "Revised cells"
    revised = pd.DataFrame(revisions[2:], columns=revisions[1])
    _assert_equal(revised.drop(columns="name"), _csv_frame(folder, "revised_cells"))


def test_rank_shifts_are_alternative_minus_nominal_with_a_hand_worked_summary(hdi_full):
    rows = list(openpyxl.load_workbook(hdi_full[2])["Alternative methods"].iter_rows(values_only=True))
    table = pd.DataFrame(rows[2:5], columns=rows[1]).set_index("entity")
    assert table["geometric shift"].tolist() == [2, -1, -1] and table["zscore shift"].tolist() == [0, 1, -1]
    summary_at = next(i for i, r in enumerate(rows) if r[0] and str(r[0]).startswith("Rank shifts"))
    summary = pd.DataFrame([r[:3] for r in rows[summary_at + 2:summary_at + 4]], columns=rows[summary_at + 1][:3])
    # |2|+|-1|+|-1| = 4 over 3 entities; |0|+|1|+|-1| = 2 over 3
    assert summary.set_index("method_set")["mean_abs_rank_shift"].to_dict() == pytest.approx(
        {"geometric": 4 / 3, "zscore": 2 / 3})
    assert summary.set_index("method_set")["max_abs_rank_shift"].to_dict() == {"geometric": 2, "zscore": 1}


def test_rank_shift_headers_follow_the_language():
    shifts = pd.DataFrame({"entity": ["A", "B"], "nominal": [1.0, 2.0], "pca": [2.0, 1.0]})
    assert list(rank_shift_table(shifts, "zh")[0].columns) == ["entity", "nominal", "pca", "pca 变动"]


def test_raw_data_matrix_of_several_entities_is_entity_and_year_by_indicator(hdi_full):
    study, folder, en, _ = hdi_full
    rows = list(openpyxl.load_workbook(en)["Raw data matrix"].iter_rows(values_only=True))
    assert rows[0][:2] == ("year", "entity") and list(rows[0][2:]) == study.framework.indicators
    assert rows[1][2] == study.framework.name(study.framework.indicators[0])  # names under the codes
    matrix = pd.DataFrame(rows[2:], columns=rows[0])
    assert matrix["year"].tolist() == [2021] * 3 + [2020] * 3  # latest year first, a block per year
    raw = _csv_frame(folder, "ingested")
    for r in raw.itertuples():
        got = matrix.loc[(matrix["year"] == r.year) & (matrix["entity"] == r.entity), r.indicator].item()
        assert got == pytest.approx(r.value, rel=1e-15)
    assert len(matrix) * len(study.framework.indicators) == len(raw)


def test_raw_data_matrix_of_one_entity_is_indicator_by_year_with_units(cdht_small):
    study, folder, en, zh = cdht_small
    matrix = _sheet_frame(openpyxl.load_workbook(en)["Raw data matrix"])
    assert list(matrix.columns) == ["indicator", "name", "unit", "2020", "2021"]  # headers are text
    assert matrix["indicator"].tolist() == study.framework.indicators
    raw = _csv_frame(folder, "ingested").set_index(["indicator", "year"])["value"]
    for row in matrix.itertuples(index=False):
        assert [row[3], row[4]] == [raw[(row[0], 2020)], raw[(row[0], 2021)]]
    assert set(matrix["unit"]) == {"RMB 100m (亿元)"}
    assert set(_sheet_frame(openpyxl.load_workbook(zh)["原始数据矩阵"], header_rows=2)["unit"]) == {"亿元"}


def test_one_entity_gets_its_index_under_each_method_set_and_a_no_revisions_line(cdht_small):
    wb = openpyxl.load_workbook(cdht_small[2])
    table = _sheet_frame(wb["Alternative methods"])
    assert table["entropy_weights − nominal"].tolist() == pytest.approx([0.0, -1.5])
    lines = [r[0] for r in wb["Revised cells"].iter_rows(values_only=True) if r[0]]
    assert lines[-1] == "No value of an earlier year differs from the previous edition."


def test_chinese_workbook_has_chinese_readme_and_a_chinese_header_row(hdi_full):
    wb = openpyxl.load_workbook(hdi_full[3])
    readme = [str(c) for row in wb["说明"].iter_rows(values_only=True) for c in row if c is not None]
    for word in ("研究", "版次", "方法选择", "数据来源", "工作表", "排名不确定性", "Sobol 指数"):
        assert any(word in line for line in readme), word
    for english in ("Study", "Edition", "Method choices", "Sheets"):
        assert english not in readme
    sobol = list(wb["Sobol指数"].iter_rows(values_only=True, max_row=2))
    assert sobol[0][:3] == ("target", "input", "S1")  # the stage table's names, then the glossary's
    assert sobol[1][:3] == ("目标量", "不确定输入", "一阶 Sobol 指数")
    uncertainty = list(wb["不确定性分析"].iter_rows(values_only=True, max_row=2))
    assert uncertainty[1][:2] == ("对象", "年份") and "5% 分位数" in uncertainty[1]
    assert wb["不确定性分析"].freeze_panes == "A3"


def test_illustrative_notice_on_every_sheet_and_in_every_page_header(cdht_small, hdi_full):
    for path in cdht_small[2:]:
        wb = openpyxl.load_workbook(path)
        for ws in wb.worksheets[1:]:
            assert str(ws["A1"].value).startswith(NOTICES), ws.title
            assert NOTICES[path.stem.endswith("_zh")] in ws.oddHeader.left.text, ws.title
    for ws in openpyxl.load_workbook(hdi_full[2]).worksheets:
        assert not str(ws["A1"].value).startswith(NOTICES) and not (ws.oddHeader.left.text or "")


def _print_settings(ws) -> dict:
    setup = ws.page_setup
    return {"paper": str(setup.paperSize), "orientation": setup.orientation,
            "fit": bool(ws.sheet_properties.pageSetUpPr and ws.sheet_properties.pageSetUpPr.fitToPage),
            "across": setup.fitToWidth, "down": setup.fitToHeight, "scale": setup.scale,
            "titles": ws.print_title_rows, "footer": ws.oddFooter.center.text}


def test_every_sheet_is_set_up_for_print(hdi_full, cdht_small):
    for path in (*hdi_full[2:], *cdht_small[2:]):
        wb = openpyxl.load_workbook(path)
        for ws in wb.worksheets:
            got = _print_settings(ws)
            assert got["paper"] == "9" and got["footer"] == "&P / &N", (path.name, ws.title)
            # fitted to one page across (openpyxl reads the default 1 as None), any number down; a sheet too
            # wide for that at a legible size prints at 63 % with its key columns repeated on every page
            assert ((got["fit"] and got["across"] in (None, 1) and got["down"] == 0)
                    or (not got["fit"] and got["scale"] == 63 and ws.print_title_cols)), (path.name, ws.title)
        tables = [ws for ws in wb.worksheets if ws.freeze_panes]  # one table per sheet: headers repeat on print
        assert tables and all(ws.print_title_rows for ws in tables)
    wide = openpyxl.load_workbook(hdi_full[2])["Indicators raw"]
    assert wide.page_setup.orientation == "landscape"
    assert openpyxl.load_workbook(hdi_full[2])["README"].page_setup.orientation == "portrait"
    scores = openpyxl.load_workbook(cdht_small[2])["Scores"]
    assert scores.print_title_rows == "$2:$3"  # codes + names, under the notice
    # the names (the index: "Internationalization Index of …") wrap in their number-wide column: a taller row
    assert scores.row_dimensions[3].height >= 30 and scores.row_dimensions[2].height is None


@pytest.mark.slow  # one LibreOffice start (about 10 s)
def test_a_libreoffice_round_trip_keeps_values_and_print_settings(hdi_full, tmp_path):
    study, folder, en, zh = hdi_full
    saved = save_through_libreoffice([en, zh], "xlsx", tmp_path / "calc")
    for original, through in zip((en, zh), saved):
        before, after = openpyxl.load_workbook(original), openpyxl.load_workbook(through)
        assert after.sheetnames == before.sheetnames
        for ws in before.worksheets:
            back = after[ws.title]
            assert _print_settings(back)["paper"] == "9" and back.page_setup.orientation == ws.page_setup.orientation
            # (frozen panes are a view setting, which headless LibreOffice does not save)
            assert back.print_title_rows == ws.print_title_rows, ws.title
            assert bool(back.sheet_properties.pageSetUpPr.fitToPage) == bool(ws.sheet_properties.pageSetUpPr.fitToPage)
    wb = openpyxl.load_workbook(saved[0], data_only=True)  # Calc saves TRUE as the formula =TRUE() with its value
    _assert_equal(_sheet_frame(wb["Sobol indices"]), _csv_frame(folder, "sobol_indices"), rel=1e-14)
    _assert_equal(_sheet_frame(wb["Uncertainty"]).drop(columns="name"), _csv_frame(folder, "uncertainty_summary"),
                  rel=1e-14)
    _assert_equal(_sheet_frame(wb["Indicators raw"]).drop(columns="name"), _csv_frame(folder, "ingested"), rel=1e-14)


@pytest.mark.slow  # one LibreOffice start (about 10 s)
def test_the_workbook_prints_on_few_pages(hdi_full, tmp_path):
    """Printed (LibreOffice to PDF), each sheet of this small edition takes one page: fitted to the width,
    and no sheet spills a column onto pages of its own."""
    import pypdfium2
    import subprocess
    out = tmp_path / "pdf"
    subprocess.run([soffice(), f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless", "--norestore",
                    "--convert-to", "pdf", "--outdir", str(out), str(hdi_full[2])], check=True, capture_output=True,
                   timeout=600)
    pages = len(pypdfium2.PdfDocument(out / "en.pdf"))
    assert pages == len(openpyxl.load_workbook(hdi_full[2]).sheetnames)
