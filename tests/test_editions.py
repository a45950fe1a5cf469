"""Editions: revision analysis by hand, the data-entry workbook, and the whole new-year cycle."""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from zoneindex import editions, paths
from zoneindex.framework import load_study
from tests.helpers import copy_project, edition_digests

STUDY_YAML = """study: toy
title: {en: Toy, zh: 玩具}
years: {first: 2018, last: %(last)d}
base_year: 2018
framework: framework.csv
data: []
methods:
  imputation: {method: none}
  outliers: {method: none}
  normalisation: {method: ratio_to_base}
  weights: {method: fixed}
  aggregation: {method: arithmetic}
  rebase: true
"""
FRAMEWORK = """code,level,parent,type,name_en,name_zh,unit,direction,weight
I,2,,Aggregate,Index,指数,,,1
x1,1,I,Indicator,One,一,count,1,%(w1)s
x2,1,I,Indicator,Two,二,count,1,1
"""


def edition(root: Path, year: int, w1: int, values: dict) -> paths.RunPaths:
    """An edition folder as the pipeline leaves it: the study definition and the ingested table."""
    out = paths.run_paths("toy", year, root)
    definition = out.processed / editions.DEFINITION / "toy"
    definition.mkdir(parents=True)
    (definition / "study.yaml").write_text(STUDY_YAML % {"last": year}, encoding="utf-8")
    (definition / "framework.csv").write_text(FRAMEWORK % {"w1": w1}, encoding="utf-8")
    rows = [{"entity": "Z", "year": y, "indicator": code, "value": v, "unit": "count", "source": "t", "flag": "",
             "source_file": "t.csv", "source_row": 2} for (code, y), v in values.items()]
    pd.DataFrame(rows).to_csv(out.processed / "ingested.csv", index=False)
    return out


def test_revision_effects_add_up_and_match_a_hand_calculation(tmp_path):
    old = edition(tmp_path, 2019, 1, {("x1", 2018): 10, ("x1", 2019): 12, ("x2", 2018): 20, ("x2", 2019): 20})
    # the new edition revises x1 in 2019 (12 -> 13), adds 2020, and weights x1 three times as much
    new = edition(tmp_path, 2020, 3, {("x1", 2018): 10, ("x1", 2019): 13, ("x1", 2020): 14,
                                      ("x2", 2018): 20, ("x2", 2019): 20, ("x2", 2020): 22})
    study = load_study("toy", seeds=new.processed / editions.DEFINITION)
    assert editions.previous_edition(new) == old
    result = editions.revision_analysis(study, new, old)
    row = result["revisions"].set_index(["year", "code"]).loc[(2019, "I")]
    # previous: (120 + 100)/2 = 110; new weights on old data: (3·120 + 100)/4 = 115; revised: (3·130 + 100)/4
    assert row["previous"] == pytest.approx(110.0) and row["current"] == pytest.approx(122.5)
    assert row["method_effect"] == pytest.approx(5.0)
    assert row["revised_data_effect"] == pytest.approx(7.5)
    assert row["new_data_effect"] == pytest.approx(0.0)
    effects = result["revisions"][["method_effect", "revised_data_effect", "new_data_effect"]].sum(axis=1)
    assert (effects - result["revisions"]["total_change"]).abs().max() < 1e-12
    changes = result["framework_changes"]
    assert changes.to_dict("records") == [{"code": "x1", "change": "redefined", "detail": "weight: 1.0 → 3.0"}]
    linked = result["linked_scores"].set_index(["year", "code"])
    # chain-linked at 2019: the old 110, then the new series scaled by 110/122.5
    assert linked.loc[(2019, "I"), "value"] == pytest.approx(110.0)
    new_2020 = (3 * 140 + 110) / 4
    assert linked.loc[(2020, "I"), "value"] == pytest.approx(new_2020 * 110.0 / 122.5)


def test_entry_workbook_has_context_validation_and_instructions(tmp_path):
    study = load_study("cdht")
    history = pd.DataFrame({"entity": "CDHT", "year": [2022, 2023], "indicator": "fdi_actual", "value": [1.5, 2.5]})
    out = editions.new_year_workbook(study, 2024, history, tmp_path / "entry.xlsx")
    book = load_workbook(out)
    assert book.sheetnames == ["data", "about", "instructions"]
    sheet = book["data"]
    header = [c.value for c in sheet[1]]
    assert header[:7] == ["entity", "indicator", "name_en", "name_zh", "unit", "direction", "source_type"]
    assert "value_2023" in header and "value" in header and header.index("value") > header.index("value_2023")
    row = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[1] == "fdi_actual")
    assert row[header.index("value_2023")] == 2.5 and row[header.index("name_zh")] == "实际使用外资"
    assert sheet.max_row == 1 + len(study.framework.indicators)
    assert len(sheet.data_validations.dataValidation) == len(study.framework.indicators)
    again = editions.new_year_workbook(study, 2024, history, tmp_path / "again.xlsx")
    assert out.read_bytes() == again.read_bytes()


def zoneindex(*args, env):
    return subprocess.run([sys.executable, "-m", "zoneindex", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, cwd=paths.PROJECT_ROOT)


def digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_the_new_year_cycle(tmp_path):
    project, out = copy_project(tmp_path / "project"), tmp_path / "out"
    env = {"ZONEINDEX_ROOT": str(project)}
    first = zoneindex("run", "--no-progress", "--study", "cdht", "--year", "2023", "--out-root", str(out), env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert zoneindex("publish", "--study", "cdht", "--year", "2023", "--out-root", str(out), env=env).returncode == 0
    frozen = edition_digests(out, "cdht", 2023)
    refused = zoneindex("run", "--no-progress", "--study", "cdht", "--year", "2023", "--out-root", str(out), env=env)
    assert refused.returncode == 1 and "published" in refused.stderr

    made = zoneindex("new-year", "--study", "cdht", "--year", "2024", "--out-root", str(out), env=env)
    assert made.returncode == 0, made.stderr[-2000:]
    workbook = out / "data/entry/cdht" / editions.entry_file_name("cdht", 2024)
    book = load_workbook(workbook)
    sheet, about = book["data"], book["about"]
    header = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        row[header.index("value")].value = row[header.index("value_2023")].value * 1.05
        row[header.index("source")].value = "test: 2023 value + 5 %"
    for cells in about.iter_rows(min_row=2):
        if cells[1].value in (None, ""):
            cells[1].value = f"test {cells[0].value}"
    book.save(project / "data/raw/cdht" / workbook.name)

    second = zoneindex("run", "--no-progress", "--study", "cdht", "--year", "2024", "--out-root", str(out), env=env)
    assert second.returncode == 0, second.stderr[-2000:]
    assert edition_digests(out, "cdht", 2023) == frozen
    assert (project / "data/raw/cdht" / (workbook.name + ".source.yaml")).exists()
    revisions = pd.read_csv(out / "data/processed/cdht/2024/revisions.csv")
    assert set(revisions["year"]) == set(range(2016, 2024))
    assert revisions["total_change"].abs().max() < 1e-9  # same data and methods for 2016-2023
    scores = pd.read_csv(out / "data/processed/cdht/2024/scores.csv")
    assert (scores.loc[scores["year"] == 2018, "value"] == 100.0).all() and 2024 in set(scores["year"])

    forced = zoneindex("run", "--no-progress", "--force", "--study", "cdht", "--year", "2023", "--out-root", str(out),
                       env=env)
    assert forced.returncode == 0, forced.stderr[-2000:]
    assert digest(out / "data/processed/cdht/2023.superseded-1") == frozen[0]
