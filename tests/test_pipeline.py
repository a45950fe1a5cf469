"""End to end: the CLI runs all five notebooks, is deterministic, and a failed run damages nothing.

The runs that every test here reads are the session's (``study_run`` in tests/conftest.py): one per study.
"""
import json
import re
import shutil

import pandas as pd
import pytest
import yaml

from zoneindex import clean, ingest, paths, score
from zoneindex.check import check_study
from zoneindex.errors import InputError
from zoneindex.provenance import write_source_record
from zoneindex.study import load_study
from tests import helpers
from tests.helpers import copy_project, edition_digests

pytestmark = pytest.mark.slow


def zoneindex(*args, env=None):
    return helpers.zoneindex("run", "--no-progress", *args, env=env)


@pytest.fixture
def cdht_run(study_run, tmp_path):
    """The session's cdht run, its out-root copied for this test (which may run again into it or fail there)."""
    first = study_run("cdht")
    assert first.returncode == 0, first.stderr[-3000:]
    return first.copy(tmp_path / "out"), first


def test_a_run_writes_every_output_of_the_edition(cdht_run):
    out, result = cdht_run
    processed = out / "data/processed/cdht/2023"
    for name in ("ingested", "clean", "treatment_log", "scores", "contributions", "weights", "checks",
                 "coverage", "reference_comparison"):
        assert (processed / f"{name}.csv").exists(), name
    scores = pd.read_csv(processed / "scores.csv")
    assert list(scores.columns[:5]) == ["entity", "year", "code", "level", "value"]
    assert (scores.loc[scores["year"] == 2018, "value"] == 100.0).all()
    assert scores["illustrative"].all()
    manifest = json.loads((processed / "manifest.json").read_text())
    assert manifest["parameters"]["study"] == "cdht" and manifest["edition"] == 2023
    assert manifest["seed"] == 20180 and manifest["packages"]["pandas"]
    assert "data/raw/cdht/cdht_illustrative_panel.csv" in manifest["inputs"]
    assert set(manifest["timings_seconds"]) >= {"01_ingest", "05_visualize", "total"}
    figures = {p.name for p in (out / "figures/cdht/2023").iterdir()}
    for name in ("index_over_time", "growth", "radar", "waterfall", "heatmap", "framework"):
        assert {f"{name}_{lang}.{ext}" for lang in ("en", "zh") for ext in ("png", "svg", "pdf", "caption.txt")} \
            <= figures
    assert {"uncertainty_en.png", "sobol_en.png"} <= figures
    html = (out / "reports/cdht/2023/methodology.html").read_text(encoding="utf-8")
    shown = [name for name in figures if name.endswith("_en.png")]  # the write-up shows the run's language
    assert "Illustrative data" in html and "<math" in html and html.count("<img") == len(shown) == 8
    assert (out / "reports/cdht/2023/methodology.pdf").read_bytes()[:5] == b"%PDF-"
    assert (out / "reports/cdht/2023/results.xlsx").exists()
    assert len(list((out / "reports/cdht/2023/notebooks").glob("*.ipynb"))) == 6
    assert "wall time" in result.stdout
    assert not (out / ".staging").exists()


def test_a_second_run_over_the_edition_replaces_it_with_byte_identical_tables_and_figures(study_run):
    # The session's Chinese cdht run is made into a copy of the English run's out-root (tests/conftest.py).
    first, again = study_run("cdht"), study_run("cdht", lang="zh")
    assert first.returncode == 0 and again.returncode == 0, again.stderr[-3000:]
    (tables, figures, reports), (tables_again, figures_again, reports_again) = (
        edition_digests(run.out, "cdht", 2023) for run in (first, again))
    assert {name: digest for name, digest in tables_again.items() if name != "manifest.json"} == \
        {name: digest for name, digest in tables.items() if name != "manifest.json"}
    assert figures_again == figures and len(figures) > 50  # both languages are drawn by a run in either
    assert set(reports_again) == {name.replace("_en.", "_zh.") for name in reports}  # the figure pack: figures_zh.zip
    assert reports_again["methodology.html"] != reports["methodology.html"]
    html = (again.out / "reports/cdht/2023/methodology.html").read_text(encoding="utf-8")
    assert 'lang="zh' in html and "修订的单元格 0 个（与 2023 年版 比较）" in html  # compared with the edition replaced
    manifest = json.loads((again.out / "data/processed/cdht/2023/manifest.json").read_text(encoding="utf-8"))
    assert manifest["parameters"]["lang"] == "zh"
    assert not (again.out / ".staging").exists()
    # the figures (drawn independently, byte for byte the same: tests/test_plots.py) are taken over, not drawn
    assert figures_taken_over(first.out, "taken over, not drawn") == ["no"] * 6
    assert figures_taken_over(again.out, "沿用，未重绘") == ["是"] * 6


def figures_taken_over(out, header: str) -> list[str]:
    """The column ``header`` (whether each figure was taken over from the edition replaced, not drawn) of the
    figure table in the executed visualize notebook of the cdht edition under ``out``."""
    notebook = json.loads((out / "reports/cdht/2023/notebooks/05_visualize.ipynb").read_text(encoding="utf-8"))
    cell, = [c for c in notebook["cells"] if "edition_figures(ctx)" in "".join(c["source"])]
    html = "".join(cell["outputs"][0]["data"]["text/html"])
    rows = [re.findall(r"<t[dh]>(.*?)</t[dh]>", row) for row in re.findall(r"<tr.*?</tr>", html, re.S)]
    column = rows[0].index(header)
    return [row[column] for row in rows[1:]]


def run_with_edited_panel(out, tmp_path, old: str, new: str, record: bool = False):
    """``zoneindex run`` over a copy of the project whose cdht panel has ``old`` replaced by ``new`` (and,
    with ``record``, a fresh source record, so that the edit is a legitimate new file)."""
    project = copy_project(tmp_path / "project")
    raw = project / "data/raw/cdht/cdht_illustrative_panel.csv"
    raw.write_text(raw.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    if record:
        fields = yaml.safe_load(raw.with_name(raw.name + ".source.yaml").read_text(encoding="utf-8"))
        write_source_record(raw, **{k: v for k, v in fields.items() if k not in ("sha256", "bytes", "file")})
    failed = zoneindex("--study", "cdht", "--out-root", str(out), env={"ZONEINDEX_ROOT": str(project)})
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    return failed


def test_a_changed_raw_file_is_refused_by_the_check_before_any_notebook(cdht_run, tmp_path):
    out, _ = cdht_run
    before = edition_digests(out, "cdht", 2023)
    failed = run_with_edited_panel(out, tmp_path, "CDHT,2020,fdi_actual,", "CDHT,2020,fdi_actual,9")
    assert "changed since its source record" in failed.stderr and "01_ingest" not in failed.stderr
    assert edition_digests(out, "cdht", 2023) == before
    assert not (out / "reports/cdht/failed").exists() and not (out / ".staging").exists()


def test_a_failed_run_keeps_what_it_computed_and_leaves_the_last_good_outputs_untouched(cdht_run, tmp_path):
    out, _ = cdht_run
    before = edition_digests(out, "cdht", 2023)
    # a base-year value of 0 passes the check (it is a number) and fails the ratio to the base year (score)
    failed = run_with_edited_panel(out, tmp_path, "CDHT,2018,fdi_actual,15,", "CDHT,2018,fdi_actual,0,", record=True)
    assert "03_score" in failed.stderr and "not positive" in failed.stderr
    assert edition_digests(out, "cdht", 2023) == before
    kept = out / "reports/cdht/failed/2023"
    assert sorted(p.name for p in kept.glob("*.ipynb")) == ["01_ingest.ipynb", "02_clean.ipynb", "03_score.ipynb"]
    assert {"ingested.csv", "clean.csv", "treatment_log.csv"} <= {p.name for p in (kept / "tables").glob("*.csv")}
    assert not (out / ".staging").exists()


def test_hdi_edition_reproduces_the_published_hdi(study_run):
    result = study_run("hdi", 2022)
    assert result.returncode == 0, result.stderr[-3000:]
    checks = pd.read_csv(result.out / "data/processed/hdi/2022/checks.csv").set_index("check")
    assert checks.loc["published values reproduced at 3 decimals", "value"] == "5808/5808"
    assert "Illustrative" not in (result.out / "reports/hdi/2022/methodology.html").read_text(encoding="utf-8")


def test_bad_parameters_are_refused_before_anything_runs(tmp_path):
    result = zoneindex("--study", "nonexistent", "--out-root", str(tmp_path))
    assert result.returncode == 1 and "unknown study" in result.stderr and "cdht" in result.stderr
    assert not any(tmp_path.iterdir())


BAD_INPUT = sorted(p for p in (paths.PROJECT_ROOT / "tests/data/bad_input").glob("*.csv") if not p.name.startswith("good_"))


def gbk_file(folder):
    """A GBK-encoded file where UTF-8 is expected."""
    gbk = folder / "gbk.csv"
    gbk.write_bytes("entity,year,indicator,value,unit\n成都高新区,2018,fdi_actual,15.5,USD 100m\n".encode("gbk"))
    return gbk


def put_in_place(bad, panel):
    """``bad`` as the CDHT panel, with a matching source record, so that the mistake itself is what is met."""
    shutil.copy(bad, panel)
    write_source_record(panel, title="bad input", publisher="tests", url="tests", retrieved="2026-01-01",
                        licence="CC0-1.0", illustrative=False)


def first_refusal(year: int = 2023) -> tuple[str | None, str]:
    """What ``zoneindex run`` runs, in this process, up to the stage that refuses the cdht inputs: the check,
    then ingest, clean and score as their notebooks call them; the stage and its message, or (None, "")."""
    study, state = load_study("cdht"), {}
    years = range(study.first_year, year + 1)
    stages = [("check", lambda: check_study("cdht", year)),
              ("01_ingest", lambda: state.update(tidy=ingest.ingest(study, year)[0])),
              ("02_clean", lambda: state.update(clean=clean.clean_study(study, state["tidy"], years,
                                                                        ingest.read_entities(study))[0])),
              ("03_score", lambda: score.score(study, state["clean"]))]
    for stage, step in stages:
        try:
            step()
        except InputError as error:
            return stage, f"zoneindex: {error}"  # as the command line prints it
    return None, ""


def test_every_bad_input_stops_the_run_and_leaves_the_last_good_outputs_intact(cdht_run, tmp_path, monkeypatch):
    """Each file of the bad-input corpus, put in place of the CDHT panel (with a matching source record so
    that the mistake itself is what ingest meets), fails the run with a message naming the file, and the
    previous edition stays byte for byte as it was.

    Every case is run in this process up to the stage that refuses it; one case per refusing stage goes
    through ``zoneindex run`` itself, which proves that the run stops there and damages nothing."""
    out, _ = cdht_run
    before = edition_digests(out, "cdht", 2023)
    monkeypatch.setattr(paths, "RAW", tmp_path / "raw")
    shutil.copytree(paths.PROJECT_ROOT / "data/raw/cdht", tmp_path / "raw/cdht")
    panel = tmp_path / "raw/cdht/cdht_illustrative_panel.csv"
    failures, first_by_stage = {}, {}
    for bad in [*BAD_INPUT, gbk_file(tmp_path)]:
        put_in_place(bad, panel)
        stage, message = first_refusal()
        # the message names the file at fault: the panel, or the framework table when a whole indicator is absent
        if stage is None or not re.search(r"file (cdht_illustrative_panel|framework)\.csv", message):
            failures[bad.name] = f"{stage}: {message[-500:]}"
        first_by_stage.setdefault(stage, bad)
    assert not failures
    project = copy_project(tmp_path / "project")
    for stage, bad in first_by_stage.items():
        put_in_place(bad, project / "data/raw/cdht/cdht_illustrative_panel.csv")
        result = zoneindex("--study", "cdht", "--out-root", str(out), env={"ZONEINDEX_ROOT": str(project)})
        assert result.returncode == 1 and re.search(r"file (cdht_illustrative_panel|framework)\.csv", result.stderr)
        assert (stage in result.stderr) == (stage != "check"), (stage, result.stderr[-500:])  # a notebook is named
    assert edition_digests(out, "cdht", 2023) == before
    assert len(BAD_INPUT) >= 20
