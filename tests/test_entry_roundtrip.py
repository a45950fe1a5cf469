"""The yearly loop for every shipped study, as a researcher runs it: ``new-year`` writes the workbook, values are
typed in, LibreOffice saves it (as .xlsx and as .ods, the two formats Calc offers), and the new edition's numbers
are the ones computed here from what was typed.

In-process (ingest, clean and score as notebooks 01-03 run them) over a copy of each study's raw folder; the
whole pipeline on a LibreOffice-saved workbook runs once, in tests/test_editions.py.
"""
from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from zoneindex import clean, entry, ingest, newyear, paths, score, validate
from zoneindex.study import load_study
from tests.spreadsheets import fill, save_through_libreoffice

pytestmark = pytest.mark.slow  # LibreOffice saves every study's workbook

NEW_YEAR = {"cdht": 2024, "provinces": 2024, "hdi": 2023, "asem": 2019}
STUDIES = sorted(NEW_YEAR)


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """A copy of every study's raw folder, which the tests read instead of data/raw."""
    folder = tmp_path_factory.mktemp("raw")
    for study in STUDIES:
        shutil.copytree(paths.RAW / study, folder / study)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(paths, "RAW", folder)
        yield folder


@pytest.fixture(scope="module")
def saved(raw, tmp_path_factory):
    """Each study's workbook written by new-year, filled in (one history value revised), and saved through
    LibreOffice as .xlsx and .ods (cdht also as .xls): {(study, format): (path, what was typed)}."""
    root = tmp_path_factory.mktemp("entry")
    typed, files = {}, []
    for study in STUDIES:
        draft, _ = newyear.new_year(study, NEW_YEAR[study], root / "out")
        typed[study] = fill(draft, root / "typed" / draft.name, growth=lambda i: 1.01 + (i % 7) / 100, revise=0)
        files.append(root / "typed" / draft.name)
    result = {}
    for fmt in ("xlsx", "ods"):
        for path in save_through_libreoffice(files, fmt, root / fmt):
            study = path.name.split("_")[1]
            result[study, fmt] = (path, typed[study])
    xls, = save_through_libreoffice([files[STUDIES.index("cdht")]], "xls", root / "xls")
    result["cdht", "xls"] = (xls, typed["cdht"])
    return result


def edition(raw, study_name: str, workbook):
    """The new edition of ``study_name`` from ``workbook`` placed in its raw folder: ingested, cleaned, scored."""
    folder = raw / study_name
    for old in folder.glob("entry_*"):
        old.unlink()
    shutil.copyfile(workbook, folder / workbook.name)
    study = load_study(study_name)
    year = NEW_YEAR[study_name]
    tidy, records = ingest.ingest(study, year)
    entities = ingest.read_entities(study)
    years = range(study.first_year, year + 1)
    cleaned, _ = clean.clean_study(study, tidy, years, entities)
    scored = score.rescore(study, tidy, years, entities)
    return study, tidy, records, cleaned, scored.scores


def expected_clean(study, typed: dict) -> dict:
    """What the clean stage must give for each typed row: the value, or numerator / denominator (× scale)."""
    fw, series = study.framework.table, entry.entry_series(study)
    out = {}
    for (entity, code), value in typed.items():
        for fed in series[code]:
            if fed not in fw.index:
                continue
            denominator = fw.at[fed, "denominator"] if "denominator" in fw else ""
            if denominator:
                scale = pd.to_numeric(fw.get("denominator_scale", pd.Series(dtype=float)).get(fed), errors="coerce")
                divisor = typed.get((entity, denominator))
                out[entity, fed] = (math.nan if divisor is None else
                                    value / divisor * (1.0 if pd.isna(scale) else float(scale)))
            else:
                out[entity, fed] = value
    return out


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
@pytest.mark.parametrize("study_name", STUDIES)
def test_a_workbook_saved_by_libreoffice_gives_the_typed_numbers(raw, saved, study_name, fmt):
    path, typed = saved[study_name, fmt]
    study, tidy, records, cleaned, scores = edition(raw, study_name, path)
    year = NEW_YEAR[study_name]
    read = tidy[(tidy["year"] == year) & (tidy["source_file"] == path.name)]
    series = entry.entry_series(study)
    got = {(e, c): v for e, c, v in zip(read["entity"], read["indicator"], read["value"])}
    assert got == {(e, fed): v for (e, c), v in typed["typed"].items() for fed in series[c]}  # exactly as typed
    # the clean stage: values (denominators divided) where nothing imputed or treated them
    plain = cleaned[(cleaned["year"] == year) & ~cleaned["flag"].str.contains("imputed|outlier|missing")]
    want = expected_clean(study, typed["typed"])
    checked = 0
    for e, c, v in zip(plain["entity"], plain["indicator"], plain["value"]):
        if (e, c) in want and not math.isnan(want[e, c]):
            assert v == pytest.approx(want[e, c], rel=1e-12), (e, c)
            checked += 1
    assert checked >= 0.5 * len([k for k in want if k[0] in set(plain["entity"])])
    level1 = scores[(scores["year"] == year) & (scores["level"] == 1)].set_index(["entity", "code"])["value"]
    method = study.methods["normalisation"]
    base = cleaned[cleaned["year"] == study.base_year].set_index(["entity", "indicator"])["value"] \
        if study.base_year else None
    for e, c, v in zip(plain["entity"], plain["indicator"], plain["value"]):
        if method["method"] == "ratio_to_base" and (e, c) in level1.index and pd.notna(level1[e, c]):
            direction = study.framework.table.at[c, "direction"]
            assert level1[e, c] == pytest.approx(100 * (v / base[e, c]) ** direction, rel=1e-12), (e, c)
        if method["method"] == "goalposts" and (e, c) in level1.index:
            low, high = (float(study.framework.table.at[c, k]) for k in ("goalpost_lo", "goalpost_hi"))
            x = np.clip(v, low, high)
            if study.framework.table.at[c, "transform"] == "log":
                x, low, high = np.log(x), np.log(low), np.log(high)
            assert level1[e, c] == pytest.approx((x - low) / (high - low), rel=1e-9), (e, c)
    assert validate.edition_year_check(study.framework.root, scores)["status"] == "pass"  # every entity's index
    # the revised history value: read as a revision of its year, listed with the old and the new value
    (entity, code, when), (old, new) = next(iter(typed["revised"].items()))
    revised = ingest.data_revisions(records)
    assert revised[["entity", "year", "indicator", "previous", "revised", "file"]].to_dict("records") == \
        [{"entity": entity, "year": when, "indicator": code, "previous": old, "revised": new, "file": path.name}]
    assert tidy[(tidy["year"] == when) & (tidy["indicator"] == code) & (tidy["entity"] == entity)]["value"] \
        .tolist() == [new]
    record = next(r for r in records if r["file"] == path.name)
    assert record["retrieved"] == "2025-03-15" and (raw / study_name / f"{path.name}.source.yaml").exists()


def test_an_xls_workbook_is_read_as_well(raw, saved):
    path, typed = saved["cdht", "xls"]
    _, tidy, _, _, _ = edition(raw, "cdht", path)
    read = tidy[(tidy["year"] == 2024)].set_index("indicator")["value"].to_dict()
    assert read == {code: value for (_, code), value in typed["typed"].items()}


def test_the_provinces_workbook_has_one_row_per_repaired_province_and_series(saved):
    path, _ = saved["provinces", "xlsx"]
    sheet = load_workbook(path)["data"]
    rows = list(sheet.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    entities = {r[header.index("entity")] for r in body}
    assert len(entities) == 31 and "上海" in entities and not any(" " in e or e in ("四藏", "江两") for e in entities)
    by_code = {r[header.index("indicator")]: r for r in body if r[header.index("entity")] == "四川"}
    assert set(by_code) == {"NPEXP", "PATV", "PATA", "SCI", "EI", "CPCIS", "NPSALES"}  # NPEXP_SH: NPEXP's row
    npexp = by_code["NPEXP"]
    assert npexp[header.index("unit")] == "万元" and "NPEXP_SH = this ÷ NPSALES" in npexp[header.index("conversion")]
    assert by_code["NPSALES"][header.index("unit")] == "万元"
    assert npexp[header.index("value_2023")] > 1e5  # the numerator's history, in 万元, as the unit says
