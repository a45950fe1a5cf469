"""Editions: revision analysis by hand, the data-entry workbook, publishing, and the whole new-year cycle as a
researcher runs it (a workbook saved by LibreOffice, a revised value, a run killed, two runs at once)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from zoneindex import editions, newyear, paths, pipeline
from zoneindex.errors import InputError
from zoneindex.revisions import revision_analysis, revised_cells
from zoneindex.study import load_study
from tests import helpers
from tests.helpers import copy_project, edition_digests
from tests.spreadsheets import fill, save_through_libreoffice

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
    result = revision_analysis(study, new, old)
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
    out = newyear.new_year_workbook(study, 2024, history, tmp_path / "entry.xlsx")
    book = load_workbook(out)
    assert book.sheetnames == ["data", "about", "instructions", "written"]
    assert book["written"].sheet_state == "hidden"
    sheet = book["data"]
    header = [c.value for c in sheet[1]]
    assert header[:8] == ["entity", "indicator", "name_en", "name_zh", "unit", "framework_unit", "conversion",
                          "allowed"]
    assert "value_2023" in header and "value" in header and header.index("value") > header.index("value_2023")
    row = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[1] == "fdi_actual")
    assert row[header.index("value_2023")] == 2.5 and row[header.index("name_zh")] == "实际使用外资"
    assert sheet.max_row == 1 + len(study.framework.indicators)
    assert len(sheet.data_validations.dataValidation) == len(study.framework.indicators)
    instructions = [row for row in book["instructions"].iter_rows(values_only=True)]
    assert instructions[0] == ("English", "中文") and all(en and zh for en, zh in instructions)
    again = newyear.new_year_workbook(study, 2024, history, tmp_path / "again.xlsx")
    assert out.read_bytes() == again.read_bytes()


def edition_folder(root: Path, year: int, text: str) -> paths.RunPaths:
    out = paths.run_paths("toy", year, root)
    for folder in out.folders():
        folder.mkdir(parents=True)
        (folder / "file.txt").write_text(text, encoding="utf-8")
    (out.processed / "manifest.json").write_text("{}", encoding="utf-8")
    return out


def test_publishing_twice_leaves_the_record_and_a_forced_run_keeps_the_published_edition_aside(tmp_path):
    out = edition_folder(tmp_path, 2023, "published")
    marker = editions.publish(out, when="2026-01-02")
    record = marker.read_bytes()
    with pytest.raises(Exception, match="already published \\(on 2026-01-02\\)"):
        editions.publish(out, when="2026-02-03")
    assert marker.read_bytes() == record
    with pytest.raises(Exception, match="frozen; run with --force"):
        editions.guard_published(out, force=False)
    editions.guard_published(out, force=True)
    aside = tmp_path / "data/processed/toy/2023.superseded-1"
    assert (aside / "file.txt").read_text(encoding="utf-8") == "published" and not out.processed.exists()
    assert (tmp_path / "reports/toy/2023.superseded-1" / editions.PUBLISHED).read_bytes() == record


def test_a_run_over_a_published_edition_is_refused_before_the_notebook_kernel_starts(tmp_path, monkeypatch):
    out = paths.run_paths("cdht", 2023, tmp_path).make()
    (out.processed / "manifest.json").write_text("{}", encoding="utf-8")
    editions.publish(out, when="2026-01-02")

    def no_kernel():
        raise AssertionError("the notebook kernel was started for a refused run")

    monkeypatch.setattr(pipeline, "notebook_kernel", no_kernel)
    with pytest.raises(InputError, match="published on 2026-01-02 and is frozen"):
        pipeline.run("cdht", 2023, tmp_path, progress=False)
    assert not (tmp_path / paths.STAGING).exists()


def test_the_revised_cells_against_the_previous_edition_name_the_file_that_revised_them(tmp_path):
    old = edition(tmp_path, 2023, 1, {("x1", 2022): 10, ("x1", 2023): 12, ("x2", 2023): 20})
    new = edition(tmp_path, 2024, 1, {("x1", 2022): 10, ("x1", 2023): 13, ("x2", 2023): 20, ("x1", 2024): 14})
    ingested = pd.read_csv(new.processed / "ingested.csv")
    ingested.loc[(ingested["year"] == 2023) & (ingested["indicator"] == "x1"), "source_file"] = "entry_toy_2024.xlsx"
    described = pd.DataFrame([{"entity": "Z", "year": 2023, "indicator": "x1", "previous": 12.0, "revised": 13.0,
                               "file": "entry_toy_2024.xlsx", "sheet": "data", "row": 2, "column": "value_2023 (K)",
                               "how": "typed over the 2023 value in a history column"}])
    study = load_study("toy", seeds=new.processed / editions.DEFINITION)
    cells = revised_cells(study, ingested, [old], described)
    assert cells[["entity", "year", "indicator", "previous", "revised", "file", "column", "how", "compared_with"]] \
        .to_dict("records") == [{"entity": "Z", "year": 2023, "indicator": "x1", "previous": 12.0, "revised": 13.0,
                                 "file": "entry_toy_2024.xlsx", "column": "value_2023 (K)",
                                 "how": "typed over the 2023 value in a history column",
                                 "compared_with": "edition 2023"}]
    first = revised_cells(study, ingested, [], described)  # no earlier edition: what this ingest revised
    assert first[["previous", "revised", "change"]].to_dict("records") == [{"previous": 12.0, "revised": 13.0,
                                                                           "change": 1.0}]


# --- the whole cycle, end to end ------------------------------------------------------------------------

def run(*args, project: Path, out: Path, wait: bool = True):
    command = [sys.executable, "-m", "zoneindex", "run", "--no-progress", *args, "--out-root", str(out)]
    env = {**os.environ, "ZONEINDEX_ROOT": str(project)}
    if wait:
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=paths.PROJECT_ROOT)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=paths.PROJECT_ROOT)


def wait_for_notebook(out: Path, process, table: str, timeout: float = 400) -> None:
    """Until the run's staging folder holds the stage table ``table``: its notebook is running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (out / f".staging/cdht-2024-{process.pid}/data/processed/cdht/2024/{table}.csv").exists():
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    raise AssertionError(f"{table} was not written")


@pytest.fixture(scope="module")
def cycle(study_run, tmp_path_factory):
    """Edition 2023 (the session's run) published; the 2024 workbook filled, with a revised 2023 value, and
    saved by LibreOffice as .ods into the raw folder of a project copy; a 2024 run SIGKILLed in a notebook;
    one refused because another is running, which is SIGTERMed; then the 2024 run that succeeds."""
    base = study_run("cdht")
    assert base.returncode == 0, base.stderr[-3000:]
    root = tmp_path_factory.mktemp("cycle")
    project, out = copy_project(root / "project"), base.copy(root / "out")
    env = {"ZONEINDEX_ROOT": str(project)}
    steps = {"publish": helpers.zoneindex("publish", "--study", "cdht", "--year", "2023", "--out-root", str(out),
                                          env=env)}
    steps["publish again"] = helpers.zoneindex("publish", "--study", "cdht", "--year", "2023", "--out-root",
                                               str(out), env=env)
    steps["frozen"] = edition_digests(out, "cdht", 2023)
    steps["refused"] = run("--study", "cdht", "--year", "2023", project=project, out=out)
    steps["new-year"] = helpers.zoneindex("new-year", "--study", "cdht", "--year", "2024", "--out-root", str(out),
                                          env=env)
    draft = out / "data/entry/cdht/entry_cdht_2024.xlsx"
    steps["filled"] = fill(draft, root / "typed" / draft.name, revise=0)
    ods, = save_through_libreoffice([root / "typed" / draft.name], "ods", root / "saved")
    (project / "data/raw/cdht" / ods.name).write_bytes(ods.read_bytes())

    killed = run("--study", "cdht", "--year", "2024", project=project, out=out, wait=False)
    try:
        wait_for_notebook(out, killed, "clean")  # in the clean notebook
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=60)  # read to the end: nothing the run started holds its pipes any more
    steps["after SIGKILL"] = {"digests": edition_digests(out, "cdht", 2023),
                              "staging": sorted(p.name for p in (out / ".staging").iterdir())}
    first = run("--study", "cdht", "--year", "2024", project=project, out=out, wait=False)
    try:
        wait_for_notebook(out, first, "ingested")  # in the ingest notebook
        steps["second at once"] = run("--study", "cdht", "--year", "2024", project=project, out=out)
        wait_for_notebook(out, first, "scores")  # in the score notebook
        first.send_signal(signal.SIGTERM)
        steps["SIGTERMed"] = (first.wait(timeout=120), first.communicate(timeout=60)[1])
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    steps["after SIGTERM"] = edition_digests(out, "cdht", 2023)
    (out / "reports/cdht/failed/2024").mkdir(parents=True)  # a failed run's record, gone after a good run
    steps["run"] = run("--study", "cdht", "--year", "2024", project=project, out=out)
    return project, out, steps


@pytest.mark.slow
def test_publishing_twice_says_so(cycle):
    _, out, steps = cycle
    assert steps["publish"].returncode == 0 and steps["publish again"].returncode == 0
    assert steps["publish again"].stdout.startswith("edition 2023 of cdht is already published (on ")
    refused = steps["refused"]
    assert refused.returncode == 1 and "published" in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.slow
def test_new_year_says_where_to_move_the_workbook(cycle):
    project, out, steps = cycle
    made = steps["new-year"]
    assert made.returncode == 0, made.stderr
    assert f"mv {out / 'data/entry/cdht/entry_cdht_2024.xlsx'} {project / 'data/raw/cdht'}/" in made.stdout


@pytest.mark.slow
def test_a_killed_run_leaves_the_edition_and_no_lock_behind(cycle):
    _, out, steps = cycle
    assert steps["after SIGKILL"]["digests"] == steps["frozen"]
    assert any(name.startswith("cdht-2024-") for name in steps["after SIGKILL"]["staging"])  # left by the kill
    second = steps["second at once"]
    assert second.returncode == 1 and second.stderr.startswith("zoneindex: file cdht-2024.lock: another zoneindex "
                                                               "run of cdht 2024 is running on this out-root (pid ")
    code, stderr = steps["SIGTERMed"]
    assert code == 130 and stderr.strip().splitlines()[-1].startswith("zoneindex: interrupted (SIGTERM)"), stderr
    assert "Traceback" not in stderr and steps["after SIGTERM"] == steps["frozen"], stderr


@pytest.mark.slow
def test_the_new_edition_has_the_typed_values_and_lists_the_revised_cell(cycle):
    project, out, steps = cycle
    done = steps["run"]
    assert done.returncode == 0, done.stderr[-3000:]
    assert edition_digests(out, "cdht", 2023) == steps["frozen"]  # a published edition never changes
    assert not (out / ".staging").exists() and not (out / "reports/cdht/failed/2024").exists()
    processed = out / "data/processed/cdht/2024"
    study = load_study("cdht")
    scores = pd.read_csv(processed / "scores.csv").set_index(["year", "code"])["value"]
    clean = pd.read_csv(processed / "clean.csv").set_index(["year", "indicator"])["value"]
    for (entity, code), value in steps["filled"]["typed"].items():
        direction = study.framework.table.at[code, "direction"]
        expected = 100 * (value / clean[2018, code]) ** direction
        assert scores[2024, code] == pytest.approx(expected, rel=1e-12), code
    (entity, code, year), (old, new) = next(iter(steps["filled"]["revised"].items()))
    cells = pd.read_csv(processed / "revised_cells.csv")
    assert cells[["entity", "year", "indicator", "previous", "revised", "file", "compared_with"]].to_dict("records") \
        == [{"entity": entity, "year": year, "indicator": code, "previous": old, "revised": new,
             "file": "entry_cdht_2024.ods", "compared_with": "edition 2023"}]
    book = load_workbook(out / "reports/cdht/2024/results.xlsx")
    assert "Revised cells" in book.sheetnames
    validate = json.loads((out / "reports/cdht/2024/notebooks/04_validate.ipynb").read_text(encoding="utf-8"))
    shown = json.dumps(validate)
    assert "1 revised cells (compared with edition 2023)." in shown and "entry_cdht_2024.ods" in shown
    checks = pd.read_csv(processed / "checks.csv").set_index("check")
    assert checks.at["index computed for every entity in the edition year", "status"] == "pass"
    record = (project / "data/raw/cdht/entry_cdht_2024.ods.source.yaml").read_text(encoding="utf-8")
    assert "retrieved: '2025-03-15'" in record
