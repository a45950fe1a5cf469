"""A corpus of raw files with the mistakes researchers make, each refused with its exact location.

CSV cases live in tests/data/bad_input/ (open them to see the mistake); GBK and Excel files are built
here, because their bytes are easier to read as code. Every case runs ingest on the cdht study over a
temporary raw folder holding only that file, with a fresh source record.
"""
import shutil
from pathlib import Path

import openpyxl
import pytest

from zoneindex import ingest, paths
from zoneindex.errors import InputError
from zoneindex.framework import Framework
from zoneindex.provenance import write_source_record
from zoneindex.study import Study, load_study

CORPUS = Path(__file__).parent / "data" / "bad_input"
HEADER = ["entity", "year", "indicator", "value", "unit"]
GBK_ROWS = "entity,year,indicator,value,unit\n成都高新区,2018,fdi_actual,15.5,USD 100m\n"
GBK_OFFSET = len(b"entity,year,indicator,value,unit\n")  # the first byte of 成


def gbk_csv(path):
    path.write_bytes(GBK_ROWS.encode("gbk"))


def workbook(rows, sheet="panel", merge=None):
    def build(path):
        book = openpyxl.Workbook()
        book.active.title = sheet
        for row in rows:
            book.active.append(row)
        if merge:
            book.active.merge_cells(merge)
        book.save(path)
    return build


@pytest.fixture
def run(tmp_path, monkeypatch):
    """Ingest one raw file (a corpus file name, or a builder for ``file``) with the cdht study."""
    monkeypatch.setattr(paths, "RAW", tmp_path / "raw")
    cdht = load_study("cdht")

    def ingest_file(file, build=None, spec=None, min_value=None, complete=False):
        table = cdht.framework.table.reset_index(drop=True)
        if min_value:
            table["min_value"] = table["code"].map(min_value)
        framework = Framework.from_table(table, source=cdht.framework.source)
        config = {**cdht.config, "data": [{"file": file, "format": "long", **(spec or {})}], "references": []}
        study = Study("cdht", cdht.folder, config, framework)
        study.raw_folder.mkdir(parents=True, exist_ok=True)
        target = study.raw_folder / file
        build(target) if build else shutil.copy(CORPUS / file, target)
        if complete:  # one value for every other indicator, so that the file passes as a whole
            with open(target, "a", encoding="utf-8") as handle:
                handle.writelines(f"CDHT,2018,{code},1,\n" for code in framework.indicators if code != "fdi_actual")
        write_source_record(target, title="bad input", publisher="tests", url="tests", retrieved="2026-01-01",
                            licence="CC0-1.0", illustrative=False)
        return ingest.ingest(study, 2023)[0]
    return ingest_file


# file, how to build it (None: copy from the corpus), data spec, (sheet, row, column, value), key phrase
CASES = [
    ("missing_column.csv", None, {}, (None, 1, None, None),
     "columns missing: ['year'] (columns found: ['entity', 'indicator', 'value', 'unit'])"),
    ("renamed_column.csv", None, {}, (None, 1, None, None),
     "columns missing: ['value'] (columns found: ['entity', 'year', 'indicator', 'amount', 'unit'])"),
    ("text_in_number.csv", None, {}, (None, 2, "value", "n/a"), "a blank cell for a missing value"),
    ("thousands_comma.csv", None, {}, (None, 2, "value", "1,234"), "remove the thousands separator"),
    ("thousands_space.csv", None, {}, (None, 2, "value", "1 234"), "remove the thousands separator"),
    ("thousands_unquoted.csv", None, {}, (None, 2, "F", "count"), "more cells than the header"),
    ("fullwidth_digits.csv", None, {}, (None, 2, "value", "１２３"), "never converts full-width digits silently"),
    ("fullwidth_decimal.csv", None, {}, (None, 2, "value", "１２．５"), "ASCII digits"),
    ("unit_in_cell.csv", None, {}, (None, 2, "value", "12亿元"), "unit or text ('亿元')"),
    ("blank_entity.csv", None, {}, (None, 3, "entity", ""), "cell is blank"),
    ("duplicate_rows.csv", None, {}, (None, 2, "indicator", "fdi_actual"), "more than once (again in row 4)"),
    ("unknown_indicator.csv", None, {}, (None, 2, "indicator", "fdi_inflow"), "not in the framework"),
    ("negative_count.csv", None, {}, (None, 3, "value", -3.0), "a count cannot be negative"),
    ("year_outside.csv", None, {}, (None, 2, "year", 2031.0), "outside the study range"),
    ("year_fraction.csv", None, {}, (None, 2, "year", 2018.5), "not a whole number"),
    ("empty.csv", None, {}, (None, None, None, None), "file is empty (0 bytes)"),
    ("header_only.csv", None, {}, (None, None, None, None), "header but no data rows"),
    ("blank_header.csv", None, {}, (None, 1, "D", ""), "header cell is blank"),
    ("duplicate_header.csv", None, {}, (None, 1, "E", "value"), "appears twice (columns D and E)"),
    ("gbk.csv", gbk_csv, {}, (None, 2, None, "成".encode("gbk")[:1]),
     f"file is not UTF-8 (looks like GBK/GB18030): save it as UTF-8 or declare `encoding: gb18030` in "
     f"study.yaml; first bad byte at offset {GBK_OFFSET} (line 2)"),
    ("gbk_declared_utf8.csv", gbk_csv, {"encoding": "utf-8"}, (None, 2, None, "成".encode("gbk")[:1]),
     "file is not valid utf-8; first bad byte"),
    ("wrong_sheet.xlsx", workbook([HEADER]), {"sheet": "data"}, ("data", None, None, "data"), "['panel']"),
    ("merged_header.xlsx", workbook([HEADER + [""], ["CDHT", 2018, "fdi_actual", 15.5, "USD 100m"]], merge="D1:E1"),
     {"sheet": "panel"}, ("panel", 1, "D", "D1:E1"), "header cells D1:E1 are merged"),
    ("merged_entity.xlsx", workbook([HEADER, ["CDHT", 2018, "fdi_actual", 15.5], [None, 2019, "fdi_actual", 16.1]],
                                    merge="A2:A3"), {"sheet": "panel"}, ("panel", 2, "A", "A2:A3"), "unmerge"),
    ("text_in_number.xlsx", workbook([HEADER, ["CDHT", 2018, "fdi_actual", 15.5], ["CDHT", 2019, "fdi_actual", "—"]]),
     {"sheet": "panel"}, ("panel", 3, "value", "—"), "value is not a number"),
    ("negative_count.xlsx", workbook([HEADER, ["CDHT", 2018, "new_fie", -3]]), {"sheet": "panel"},
     ("panel", 2, "value", -3.0), "a count cannot be negative"),
    ("empty_sheet.xlsx", workbook([]), {"sheet": "panel"}, ("panel", None, None, None), "sheet is empty"),
]


@pytest.mark.parametrize("file, build, spec, where, phrase", CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_refused_with_its_location(run, file, build, spec, where, phrase):
    with pytest.raises(InputError) as caught:
        run(file, build, spec)
    error = caught.value
    assert Path(error.file).name == file
    assert (error.sheet, error.row, error.column, error.value) == where
    assert phrase in str(error)


def test_a_value_below_the_framework_min_value_is_refused(run):
    with pytest.raises(InputError) as caught:
        run("below_min_value.csv", min_value={"returnee_share": 0})
    error = caught.value
    assert (Path(error.file).name, error.row, error.column, error.value) == ("below_min_value.csv", 2, "value", -0.5)
    assert "at least 0 (min_value of the framework)" in str(error)


@pytest.mark.parametrize("file, build, spec, entity, value", [
    ("good_utf8_bom.csv", None, {}, "CDHT", 15.5),             # the header is 'entity', not '\ufeffentity'
    ("good_float_year.csv", None, {}, "CDHT", 15.5),           # 2018.0 is the year 2018
    ("good_spaces.csv", None, {}, "Gao Xin  Zone", 15.5),      # outer spaces dropped, inner ones kept
    ("gbk_declared.csv", gbk_csv, {"encoding": "gb18030"}, "成都高新区", 15.5),
])
def test_harmless_variations_are_read(run, file, build, spec, entity, value):
    tidy = run(file, build, spec, complete=True)
    row = tidy[tidy["indicator"] == "fdi_actual"].iloc[0]
    assert (row["entity"], row["year"], row["value"]) == (entity, 2018, value)
