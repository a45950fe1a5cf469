"""How researchers damage data-entry workbooks and CSV files, and what ingest makes of each: read, with a note in
the reading notes, when what was meant is unambiguous; otherwise refused with file, sheet, row, column, value and
what was expected. Every case is checked in-process, at the stage that must read or refuse it (ingest): the cdht
study's 2024 workbook, written by ``new-year``, filled (2023 × 1.05) and then damaged.
"""
from __future__ import annotations

import datetime
import errno
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from zoneindex import cli, ingest, newyear, paths, validate
from zoneindex.check import check_study
from zoneindex.errors import InputError
from zoneindex.framework import Framework
from zoneindex.pipeline import validated
from zoneindex.provenance import write_source_record
from zoneindex.study import Study, load_study
from tests.spreadsheets import fill_about, save_through_libreoffice, six

YEAR = 2024
NAME = f"entry_cdht_{YEAR}.xlsx"
YI, PERCENT, COUNT, BIG = "foreign_vc_pe", "fie_revenue_share", "intl_orgs", "trading_firms"  # 亿元, %, count, 1580


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """The 2024 workbook as new-year writes it, over a copy of cdht's raw folder."""
    root = tmp_path_factory.mktemp("template")
    shutil.copytree(paths.RAW / "cdht", root / "raw" / "cdht")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(paths, "RAW", root / "raw")
        draft, _ = newyear.new_year("cdht", YEAR, root / "out")
    return root / "raw", draft


class Book:
    """The filled workbook, with the cells of a series' row at hand."""

    def __init__(self, path: Path):
        self.book = openpyxl.load_workbook(path)
        self.data = self.book["data"]
        self.header = [c.value for c in self.data[1]]
        self.rows = {self.data.cell(r, 2).value: r for r in range(2, self.data.max_row + 1)}
        for code, r in self.rows.items():
            self.cell(code, "value").value = six(self.history(code) * 1.05)
            self.cell(code, "source").value = "test"
        fill_about(self.book)

    def cell(self, code: str, column: str):
        return self.data.cell(self.rows[code], self.header.index(column) + 1)

    def history(self, code: str) -> float:
        return self.cell(code, f"value_{YEAR - 1}").value

    def letter(self, column: str) -> str:
        return openpyxl.utils.get_column_letter(self.header.index(column) + 1)


@pytest.fixture
def case(template, tmp_path, monkeypatch):
    """``case(edit)``: the filled workbook, changed by ``edit(book)``, saved into a fresh raw folder and ingested;
    returns the tidy table's 2024 values by indicator and the reading notes."""
    raw, draft = template
    shutil.copytree(raw / "cdht", tmp_path / "raw" / "cdht")
    monkeypatch.setattr(paths, "RAW", tmp_path / "raw")
    folder = tmp_path / "raw" / "cdht"

    def run(edit=None, name: str = NAME, after=None, study=None):
        book = Book(draft)
        if edit:
            edit(book)
        book.book.save(folder / name)
        if after:
            after(folder / name)
        tidy, records = ingest.ingest(study or load_study("cdht"), YEAR)
        values = tidy[tidy["year"] == YEAR].set_index("indicator")["value"]
        return values, ingest.reading_notes(records), records
    run.folder = folder
    run.book = lambda: Book(draft)
    return run


def refused(run, *args, **kwargs) -> InputError:
    with pytest.raises(InputError) as caught:
        run(*args, **kwargs)
    return caught.value


def notes_of(notes: pd.DataFrame) -> str:
    return " | ".join(notes["note"])


# --- read, with a note -----------------------------------------------------------------------------------

def set_value(code, value, number_format=None):
    def edit(book):
        book.cell(code, "value").value = value(book) if callable(value) else value
        if number_format:
            book.cell(code, "value").number_format = number_format
    return edit


READ = [
    ("the row's unit typed after the number", YI, lambda b: f"{six(b.history(YI) * 1.05)}亿元",
     lambda b: six(b.history(YI) * 1.05), "typed after the number"),
    ("35% in a %-unit row", PERCENT, lambda b: f"{six(b.history(PERCENT) * 1.05)}%",
     lambda b: six(b.history(PERCENT) * 1.05), "typed as the percentage"),
    ("full-width digits", COUNT, lambda b: fullwidth(str(int(b.history(COUNT) + 2))), lambda b: b.history(COUNT) + 2,
     "full-width characters read as ASCII"),
    ("thousands separators that cannot be a decimal comma", BIG, "1,660.5", lambda b: 1660.5,
     "thousands separators dropped"),
]


@pytest.mark.parametrize("what, code, typed, expected, phrase", READ, ids=[case[0] for case in READ])
def test_an_unambiguous_value_is_read_and_noted(case, what, code, typed, expected, phrase):
    values, notes, _ = case(set_value(code, typed))
    assert values[code] == pytest.approx(expected(case.book()))
    assert phrase in notes_of(notes) and notes.iloc[0]["row"] >= 2 and notes.iloc[0]["column"] == "value"


def test_a_cell_stored_as_a_percentage_in_a_percent_row_is_the_percentage(case):
    # Excel and Calc store 31.6% as 0.316 shown as a percentage: in a %-unit row that is 31.6, never 0.316
    values, notes, _ = case(set_value(PERCENT, 0.316, "0.0%"))
    assert values[PERCENT] == pytest.approx(31.6) and "typed as the percentage 31.6 %" in notes_of(notes)


@pytest.mark.parametrize("mark", ["-", "—", "..", "n/a", "#N/A"])
def test_a_blank_looking_cell_is_a_missing_value(case, mark):
    values, notes, _ = case(set_value(COUNT, mark))
    assert COUNT not in values.index and "read as a missing value" in notes_of(notes)


def test_codes_with_spaces_or_full_width_letters_are_read(case):
    values, notes, _ = case(lambda b: setattr(b.cell(YI, "indicator"), "value", fullwidth(YI) + "  "))
    assert YI in values.index and f"code {fullwidth(YI) + '  '!r} read as {YI!r}" in notes_of(notes)


def test_hidden_deleted_and_repeated_rows_and_an_extra_sheet(case):
    def edit(book):
        book.data.row_dimensions[book.rows[COUNT]].hidden = True
        repeated = [c.value for c in book.data[book.rows[YI]]]
        book.data.delete_rows(book.rows[BIG])
        book.data.append(repeated)
        book.book.create_sheet("Sheet1")
    values, notes, _ = case(edit)
    text = notes_of(notes)
    assert COUNT in values.index and "the row is hidden in the workbook; it is read like any other" in text
    assert BIG not in values.index and "1 rows of the workbook as written are not there (CDHT trading_firms)" in text
    assert "(CDHT foreign_vc_pe, same value): read once" in text and "sheet 'Sheet1' is not read" in text


def test_a_large_change_marked_confirmed_is_read(case):
    def edit(book):
        book.cell(YI, "value").value = book.history(YI) * 1000
        book.cell(YI, "note").value = "confirmed: new fund of funds"
    values, notes, _ = case(edit)
    assert values[YI] == pytest.approx(case.book().history(YI) * 1000) and "marked confirmed" in notes_of(notes)


@pytest.mark.slow  # a LibreOffice start
def test_an_xls_saved_under_an_xlsx_name_and_a_formula_with_its_value_are_read(case, tmp_path):
    def after(path):
        xls, = save_through_libreoffice([path], "xls", tmp_path / "xls")
        shutil.copyfile(xls, path)  # the old binary format under the .xlsx name
    values, notes, _ = case(set_value(YI, lambda b: f"={b.letter(f'value_{YEAR - 1}')}{b.rows[YI]}*2"), after=after)
    assert values[YI] == pytest.approx(case.book().history(YI) * 2)
    assert "the file is an .xls workbook under an .xlsx name: read as .xls" in notes_of(notes)


def test_an_entity_written_with_one_of_its_names_is_matched(template, tmp_path, monkeypatch):
    shutil.copytree(paths.RAW / "provinces", tmp_path / "raw" / "provinces")
    monkeypatch.setattr(paths, "RAW", tmp_path / "raw")
    draft, _ = newyear.new_year("provinces", YEAR, tmp_path / "out")
    book = openpyxl.load_workbook(draft)
    sheet = book["data"]
    header = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[header.index("entity")].value == "上海" and row[header.index("value_2023")].value:
            row[header.index("entity")].value = "上   海"  # a spelling of the entity-name table
            row[header.index("value")].value = row[header.index("value_2023")].value
    fill_about(book)
    book.save(tmp_path / "raw/provinces" / draft.name)
    tidy, records = ingest.ingest(load_study("provinces"), YEAR)
    assert set(tidy.loc[tidy["year"] == YEAR, "entity"]) == {"上海"}
    assert "entity '上   海' read as '上海' (the study's names)" in notes_of(ingest.reading_notes(records))


# --- refused, naming the cell -----------------------------------------------------------------------------

REFUSED = [
    ("万元 typed where 亿元 is asked", YI, lambda b: f"{six(b.history(YI) * 1.05e4)}万元",
     "the value is typed in 万元 but this row is in RMB 100m (亿元)"),
    ("a percentage in a count row", COUNT, "35%",
     "the cell is a percentage (35%), but the unit of this row is 'count'"),
    ("a full-width comma", BIG, "1，660", "is ambiguous: 1234 with a thousands separator, or 1.234"),
    ("a date", COUNT, datetime.datetime(2024, 3, 15), "the cell holds a date or time (2024-03-15"),
    ("a formula without its computed value", COUNT, "=1+1", "the cell holds the formula =1+1 but no computed value"),
    ("a spreadsheet error typed in", COUNT, "#DIV/0!", "the cell holds the spreadsheet error #DIV/0!"),
    ("text", COUNT, "about 40", "value is not a number"),
    ("10 000 times off", YI, lambda b: six(b.history(YI) * 1.05e4), "times the entity's 2023 value"),
    ("1 000 times off", COUNT, lambda b: b.history(COUNT) * 1000, "times the entity's 2023 value"),
    ("a percentage read as a fraction", PERCENT, lambda b: b.history(PERCENT) / 100, "1/100 of the entity's 2023"),
    ("a negative count", COUNT, -3, "a count cannot be negative"),
    ("a negative share under the ratio to the base year", PERCENT, -5, "divides by the values"),
]


@pytest.mark.parametrize("what, code, typed, phrase", REFUSED, ids=[case[0] for case in REFUSED])
def test_an_ambiguous_or_wrong_value_is_refused_with_its_cell(case, what, code, typed, phrase):
    error = refused(case, set_value(code, typed))
    book = case.book()
    assert Path(error.file).name == NAME and error.sheet == "data" and error.row == book.rows[code]
    assert str(error.column).startswith("value"), error
    assert phrase in str(error), error


@pytest.mark.slow  # a LibreOffice start
def test_a_cell_whose_formula_failed_is_refused(case, tmp_path):
    def after(path):
        saved, = save_through_libreoffice([path], "xlsx", tmp_path / "saved")  # LibreOffice computes =1/0
        shutil.copyfile(saved, path)
    error = refused(case, set_value(COUNT, "=1/0"), after=after)
    assert "the cell holds the spreadsheet error #DIV/0!: a formula failed" in str(error) and error.sheet == "data"


def test_a_jump_factor_can_be_declared_per_indicator_or_for_the_study(case):
    cdht = load_study("cdht")
    table = cdht.framework.table.reset_index(drop=True).assign(jump_factor=None)
    table.loc[table["code"] == COUNT, "jump_factor"] = 1.5
    per_indicator = Study("cdht", cdht.folder, cdht.config, Framework.from_table(table, cdht.framework.source))
    twice = set_value(COUNT, lambda b: b.history(COUNT) * 2)
    assert "within 1.5 times" in str(refused(case, twice, study=per_indicator))
    study_wide = Study("cdht", cdht.folder, {**cdht.config, "entry": {"jump_factor": 1.8}}, cdht.framework)
    assert "within 1.8 times" in str(refused(case, twice, study=study_wide))
    assert case(twice)[0][COUNT] == case.book().history(COUNT) * 2  # default 10: read


def test_a_value_above_the_declared_maximum_is_refused(case):
    cdht = load_study("cdht")
    table = cdht.framework.table.reset_index(drop=True).assign(max_value=None)
    table.loc[table["code"] == PERCENT, "max_value"] = 100
    study = Study("cdht", cdht.folder, cdht.config, Framework.from_table(table, cdht.framework.source))
    error = refused(case, set_value(PERCENT, 150), study=study)
    assert "value above the indicator's maximum" in str(error) and "at most 100 (max_value" in str(error)


def test_code_and_entity_mistakes_are_refused(case):
    error = refused(case, lambda b: setattr(b.cell(YI, "indicator"), "value", "foreign_vc"))
    assert "not a series of the study (did you mean 'foreign_vc_pe'?)" in str(error) and error.column == "indicator (B)"
    error = refused(case, lambda b: setattr(b.cell(YI, "entity"), "value", "成都高新区"))
    assert "entity is not an entity of the study" in str(error) and error.value == "成都高新区"

    def twice(book):
        repeated = [c.value for c in book.data[book.rows[YI]]]
        repeated[book.header.index("value")] = 1.0
        book.data.append(repeated)
    assert "appears twice with different values" in str(refused(case, twice))


def test_workbook_level_mistakes_are_refused(case):
    assert "source field left empty" in str(refused(case, lambda b: setattr(b.book["about"]["B3"], "value", None)))
    copied = refused(case, lambda b: setattr(b.book["about"]["B8"], "value", "2023"))
    assert "the file name says 2024 but the about sheet says 2023 (a copy of another year's workbook, renamed?)" \
        in str(copied)

    def old_header(book):
        for j, name in enumerate(book.header):
            if name and name.startswith("value_"):
                book.data.cell(1, j + 1).value = f"value_{int(name[6:]) - 1}"
    assert "the history columns end with value_2022" in str(refused(case, old_header))

    def into_history(book):
        for code in book.rows:
            book.cell(code, f"value_{YEAR - 1}").value = book.cell(code, "value").value
            book.cell(code, "value").value = None
    error = refused(case, into_history)
    assert "no value for 2024 in column 'value', but 36 cells of the grey history columns differ" in str(error)

    def empty(book):
        for code in book.rows:
            book.cell(code, "value").value = None
    assert "the workbook has no value for 2024 in column 'value'" in str(refused(case, empty))


@pytest.mark.parametrize("damage, phrase", [
    (lambda p: p.write_bytes(b""), "file is empty (0 bytes)"),
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "workbook is damaged or truncated"),
    (lambda p: p.write_bytes(bytes(range(256)) * 40), "file is not a spreadsheet"),
    (lambda p: p.write_text("entity,indicator,value\nCDHT,intl_orgs,40\n", encoding="utf-8"),
     "file is a text (CSV) file under a .xlsx name, not a workbook"),
], ids=["empty", "truncated", "not a spreadsheet", "CSV under .xlsx"])
def test_a_damaged_file_is_refused_by_name(case, damage, phrase):
    error = refused(case, after=damage)
    assert Path(error.file).name == NAME and phrase in str(error)


@pytest.mark.parametrize("name, phrase", [
    ("entry_cdht_2024.csv", "a data-entry workbook saved as .csv is not read: entry workbooks are read as .xlsx, "
                            ".ods or .xls"),
    ("entry_cdht_2024.numbers", "saved as .numbers is not read"),
    ("Entry_cdht_2024.xlsx", "its name is not entry_cdht_<year>[.r<N>].xlsx|.ods|.xls"),
    ("entry_cdht_2024 (1).xlsx", "its name is not entry_cdht_<year>"),
    ("entry_hdi_2024.xlsx", "names the study 'hdi', but it is in the raw folder of 'cdht'"),
])
def test_a_misnamed_entry_file_is_refused_by_name(case, name, phrase):
    error = refused(case, name=name)
    assert Path(error.file).name == name and phrase in str(error)


def test_two_formats_of_one_workbook_are_refused(case):
    case()
    shutil.copyfile(case.folder / NAME, case.folder / "entry_cdht_2024.ods")
    assert "two data-entry workbooks for 2024 revision 1" in str(refused(case))


# --- corrections and revisions ----------------------------------------------------------------------------

def test_editing_a_submitted_workbook_is_refused_and_a_correction_supersedes_it(case):
    values, _, _ = case()  # the first run records the workbook's sha256: from now on it is immutable
    submitted = (case.folder / NAME).read_bytes()
    edited = case.book()
    edited.cell(YI, "value").value = 99.5
    edited.book.save(case.folder / NAME)
    with pytest.raises(InputError) as caught:
        ingest.ingest(load_study("cdht"), YEAR)
    assert "a submitted data-entry workbook is immutable: put the original back" in str(caught.value)
    assert "save the corrected workbook beside it as entry_cdht_2024.r2.xlsx" in str(caught.value)
    (case.folder / NAME).write_bytes(submitted)
    edited.book.save(case.folder / "entry_cdht_2024.r2.xlsx")  # the correction, beside the original
    tidy, records = ingest.ingest(load_study("cdht"), YEAR)
    assert tidy.loc[(tidy["year"] == YEAR) & (tidy["indicator"] == YI), "value"].tolist() == [99.5]
    revised = ingest.data_revisions(records)
    assert revised[["indicator", "previous", "revised", "file", "how"]].to_dict("records") == [
        {"indicator": YI, "previous": values[YI], "revised": 99.5, "file": "entry_cdht_2024.r2.xlsx",
         "how": "correction: entry_cdht_2024.r2.xlsx supersedes entry_cdht_2024.xlsx"}]
    sources = ingest.sources_table(records).set_index("file")
    assert sources.at[NAME, "superseded_by"] == "entry_cdht_2024.r2.xlsx"
    assert (case.folder / f"{NAME}.source.yaml").exists()
    assert (case.folder / "entry_cdht_2024.r2.xlsx.source.yaml").exists()


def test_a_revised_history_value_is_a_revision_of_its_year(case):
    def edit(book):
        book.cell(YI, f"value_{YEAR - 1}").value = 60.0
    values, notes, records = case(edit)
    revised = ingest.data_revisions(records)
    assert revised[["entity", "year", "indicator", "previous", "revised", "column"]].to_dict("records") == [
        {"entity": "CDHT", "year": 2023, "indicator": YI, "previous": case.book().history(YI), "revised": 60.0,
         "column": f"value_2023 ({case.book().letter('value_2023')})"}]


# --- the edition year ------------------------------------------------------------------------------------

def test_latest_is_the_newest_year_with_data_and_a_year_without_data_is_refused(case):
    assert validated("cdht", "latest", "en")[1] == 2023
    case()
    assert validated("cdht", "latest", "en")[1] == YEAR and validated("cdht", 0, "en")[1] == YEAR
    assert check_study("cdht").edition == YEAR
    with pytest.raises(InputError) as caught:
        check_study("cdht", 2031)
    assert str(caught.value).startswith("no indicator has a value for 2031 (the newest year with data is 2024)")


def test_an_index_missing_in_the_edition_year_fails_the_check():
    scores = pd.DataFrame({"entity": ["A", "A", "B", "B", "C", "C"], "year": [2023, 2024] * 3, "code": "I",
                           "value": [100, 101, 100, None, None, None]})
    check = validate.edition_year_check("I", scores)
    assert check["status"] == "fail" and "missing for 1 that have it before: B" in check["detail"]
    assert "1 never have an index: C" in check["detail"]
    assert validate.edition_year_check("I", scores.assign(value=[100, None] * 3))["status"] == "fail"


# --- CSV files, as researchers export them -----------------------------------------------------------------

@pytest.fixture
def csv_study(tmp_path, monkeypatch):
    """``csv_study(text or bytes, spec)``: the cdht study reading only that CSV panel (plus one value of every
    other indicator), ingested; returns the 2018 fdi_actual value and the reading notes."""
    monkeypatch.setattr(paths, "RAW", tmp_path / "raw")
    cdht = load_study("cdht")

    def run(content: bytes, spec: dict | None = None, name: str = "panel.csv"):
        config = {**cdht.config, "data": [{"file": name, "format": "long", **(spec or {})}], "references": []}
        study = Study("cdht", cdht.folder, config, cdht.framework)
        study.raw_folder.mkdir(parents=True, exist_ok=True)
        (study.raw_folder / name).write_bytes(content)
        write_source_record(study.raw_folder / name, title="t", publisher="t", url="t", retrieved="2026-01-01",
                            licence="CC0-1.0", illustrative=False)
        tidy, records = ingest.ingest(study, 2023)
        return tidy.set_index("indicator").loc["fdi_actual", "value"], ingest.reading_notes(records)
    return run


def panel(separator=",", value="15.5"):
    rows = [["entity", "year", "indicator", "value"], ["CDHT", "2018", "fdi_actual", value]]
    rows += [["CDHT", "2018", code, "1"] for code in load_study("cdht").framework.indicators if code != "fdi_actual"]
    return "\n".join(separator.join(row) for row in rows) + "\n"


def test_utf16_and_semicolon_csv_files_are_read_and_noted(csv_study):
    value, notes = csv_study(panel().encode("utf-16"))
    assert value == 15.5 and "the file is UTF-16 (it starts with a UTF-16 byte-order mark)" in notes_of(notes)
    value, notes = csv_study(panel(";", "15,5").encode("utf-8"))
    assert value == 15.5 and "separated by semicolons, not commas: read with semicolons and decimal commas" in \
        notes_of(notes)
    value, notes = csv_study(panel("\t").encode("utf-8"))
    assert value == 15.5 and "separated by tabs" in notes_of(notes)
    value, _ = csv_study(panel().encode("gb18030"), {"encoding": "gb18030"})
    assert value == 15.5


def test_ambiguous_or_undeclared_csv_files_are_refused(csv_study):
    error = refused(csv_study, panel(";", "1.234").encode("utf-8"))
    assert "ambiguous in a file with decimal commas" in str(error) and (error.row, error.column) == (2, "value")
    error = refused(csv_study, panel().encode("utf-16-le"))
    assert "looks like UTF-16 without a byte-order mark" in str(error)
    error = refused(csv_study, panel(value="-2").encode("utf-8"))  # negative, under the ratio to the base year
    assert (error.row, error.column, error.value) == (2, "value", -2.0) and "divides by the values" in str(error)


# --- the command line: one line, never a traceback ---------------------------------------------------------

def command(capsys, *args) -> tuple[int, str]:
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, (captured.err or captured.out).strip()


def test_command_line_mistakes_get_one_line(capsys, tmp_path, monkeypatch):
    code, text = command(capsys, "run", "--study", "cdht", "--year", "twenty")
    assert (code, text) == (1, "zoneindex: --year 'twenty' is not a year; expected a year such as 2024, or latest "
                               "(the newest year with data)")
    (tmp_path / "file").write_text("x", encoding="utf-8")
    code, text = command(capsys, "run", "--study", "cdht", "--out-root", str(tmp_path / "file"))
    assert code == 1 and text.startswith(f"zoneindex: the out-root {tmp_path / 'file'} is a file, not a folder")
    code, text = command(capsys, "new-year", "--study", "cdht", "--year", "2024", "--out-root", "/proc/zoneindex-out")
    assert code == 1 and text.startswith("zoneindex: the out-root /proc/zoneindex-out cannot be written")
    assert "\n" not in text


def test_a_full_disk_gets_one_line(capsys, tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "entry.xlsx"))
    monkeypatch.setattr(newyear, "new_year_workbook", full)
    code, text = command(capsys, "new-year", "--study", "cdht", "--year", "2024", "--out-root", str(tmp_path))
    assert (code, text) == (1, f"zoneindex: no space left on the device: {tmp_path / 'entry.xlsx'}: free some space "
                               "and run again (a failed run leaves the last good edition as it was)")


def test_new_year_keeps_what_was_typed_and_refuses_a_year_with_data(capsys, template, tmp_path, monkeypatch):
    raw, _ = template
    monkeypatch.setattr(paths, "RAW", raw)
    out = str(tmp_path)
    assert command(capsys, "new-year", "--study", "cdht", "--year", "2024", "--out-root", out)[0] == 0
    draft = tmp_path / "data/entry/cdht" / NAME
    typed = draft.read_bytes() + b""
    code, text = command(capsys, "new-year", "--study", "cdht", "--year", "2024", "--out-root", out)
    assert code == 1 and "a workbook for 2024 is there already and may hold values typed in" in text
    assert draft.read_bytes() == typed
    code, text = command(capsys, "new-year", "--study", "cdht", "--year", "2024", "--out-root", out, "--force")
    assert code == 0 and f"kept as {tmp_path / 'data/entry/cdht/entry_cdht_2024.backup-1.xlsx'}" in text
    assert (tmp_path / "data/entry/cdht/entry_cdht_2024.backup-1.xlsx").read_bytes() == typed
    code, text = command(capsys, "new-year", "--study", "cdht", "--year", "2023", "--out-root", out)
    assert code == 1 and text.startswith("zoneindex: 2023 already has data: cdht_illustrative_panel.csv (36 values)")


def test_data_entry_drafts_are_ignored_by_git():
    assert "data/entry/" in (paths.PROJECT_ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
