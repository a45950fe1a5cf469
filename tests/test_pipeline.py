"""End to end: the CLI runs all five notebooks, is deterministic, and a failed run damages nothing."""
import json
import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from zoneindex import paths
from tests.helpers import copy_project, edition_digests

pytestmark = pytest.mark.slow


def zoneindex(*args, env=None):
    return subprocess.run([sys.executable, "-m", "zoneindex", "run", "--no-progress", *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=paths.PROJECT_ROOT)


@pytest.fixture(scope="module")
def cdht_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    first = zoneindex("--study", "cdht", "--out-root", str(out))
    assert first.returncode == 0, first.stderr[-3000:]
    scores = (out / "data/processed/cdht/2023/scores.csv").read_bytes()
    return out, first, scores


def test_a_run_writes_every_output_of_the_edition(cdht_run):
    out, result, _ = cdht_run
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


def test_the_same_command_twice_gives_byte_identical_scores(cdht_run):
    out, _, scores = cdht_run
    again = zoneindex("--study", "cdht", "--out-root", str(out))
    assert again.returncode == 0, again.stderr[-3000:]
    assert (out / "data/processed/cdht/2023/scores.csv").read_bytes() == scores
    for name in ("index_over_time_zh.svg", "waterfall_en.svg"):
        assert (out / "figures/cdht/2023" / name).stat().st_size > 0


def test_a_failed_run_leaves_the_last_good_outputs_untouched(cdht_run, tmp_path):
    out, _, _ = cdht_run
    before = edition_digests(out, "cdht", 2023)
    project = copy_project(tmp_path / "project")
    raw = project / "data/raw/cdht/cdht_illustrative_panel.csv"
    raw.write_text(raw.read_text(encoding="utf-8").replace("CDHT,2020,fdi_actual,", "CDHT,2020,fdi_actual,9"),
                   encoding="utf-8")
    failed = zoneindex("--study", "cdht", "--out-root", str(out), env={"ZONEINDEX_ROOT": str(project)})
    assert failed.returncode == 1
    assert "changed since its source record" in failed.stderr and "01_ingest" in failed.stderr
    assert edition_digests(out, "cdht", 2023) == before
    assert (out / "reports/cdht/failed/2023/01_ingest.ipynb").exists()  # the record of what went wrong
    assert not (out / ".staging").exists()


def test_hdi_edition_reproduces_the_published_hdi(tmp_path):
    result = zoneindex("--study", "hdi", "--year", "2022", "--out-root", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    checks = pd.read_csv(tmp_path / "data/processed/hdi/2022/checks.csv").set_index("check")
    assert checks.loc["published values reproduced at 3 decimals", "value"] == "5808/5808"
    assert "Illustrative" not in (tmp_path / "reports/hdi/2022/methodology.html").read_text(encoding="utf-8")


def test_bad_parameters_are_refused_before_anything_runs(tmp_path):
    result = zoneindex("--study", "nonexistent", "--out-root", str(tmp_path))
    assert result.returncode == 1 and "unknown study" in result.stderr and "cdht" in result.stderr
    assert not any(tmp_path.iterdir())


BAD_INPUT = sorted(p for p in (paths.PROJECT_ROOT / "tests/data/bad_input").glob("*.csv") if not p.name.startswith("good_"))


def test_every_bad_input_stops_the_run_and_leaves_the_last_good_outputs_intact(cdht_run, tmp_path):
    """Each file of the bad-input corpus, put in place of the CDHT panel (with a matching source record so
    that the mistake itself is what ingest meets), fails the run with a message naming the file, and the
    previous edition stays byte for byte as it was."""
    from zoneindex.provenance import write_source_record

    out, _, _ = cdht_run
    before = edition_digests(out, "cdht", 2023)
    project = copy_project(tmp_path / "project")
    panel = project / "data/raw/cdht/cdht_illustrative_panel.csv"
    gbk = tmp_path / "gbk.csv"  # a GBK-encoded file where UTF-8 is expected
    gbk.write_bytes("entity,year,indicator,value,unit\n成都高新区,2018,fdi_actual,15.5,USD 100m\n".encode("gbk"))
    failures = {}
    for bad in [*BAD_INPUT, gbk]:
        shutil.copy(bad, panel)
        write_source_record(panel, title="bad input", publisher="tests", url="tests", retrieved="2026-01-01",
                            licence="CC0-1.0", illustrative=False)
        result = zoneindex("--study", "cdht", "--out-root", str(out), env={"ZONEINDEX_ROOT": str(project)})
        # the message names the file at fault: the panel, or the framework table when a whole indicator is absent
        if result.returncode != 1 or not re.search(r"file (cdht_illustrative_panel|framework)\.csv", result.stderr):
            failures[bad.name] = result.stderr[-500:]
    assert not failures
    assert edition_digests(out, "cdht", 2023) == before
    assert len(BAD_INPUT) >= 20
