"""Notebooks run by hand are safe: they write only to scratch/, read the latest good edition, and never touch a
published one; the notebooks follow the parameters-cell rules and are committed clean."""
import ast
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from zoneindex import lab, paths, pipeline
from zoneindex.errors import InputError
from zoneindex.figure_reuse import RECORDS
from zoneindex.scratch import NOTE
from zoneindex.study import load_study
from zoneindex.tables import read_stage_table
from tests.helpers import edition_digests

STAGE_NOTEBOOKS = ["01_ingest", "02_clean", "03_score", "04_validate", "05_visualize"]
ALL_NOTEBOOKS = sorted(paths.NOTEBOOKS.glob("*.ipynb"))


def zoneindex(*args):
    done = subprocess.run([sys.executable, "-m", "zoneindex", *args], capture_output=True, text=True,
                          cwd=paths.PROJECT_ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def published(tmp_path_factory, study_run):
    """One published cdht edition under its own out-root: a copy of the session's cdht run, published."""
    out = study_run("cdht").copy(tmp_path_factory.mktemp("published") / "out")
    zoneindex("publish", "--study", "cdht", "--year", "2023", "--out-root", str(out))
    return out


def tree_digests(root: Path, skip: str = paths.SCRATCH) -> dict[str, str]:
    """sha256 of every file under ``root`` except those under ``root/skip``."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).parts[0] != skip}


def run_by_hand(notebook: Path, out_root: Path, monkeypatch, cwd: Path = paths.NOTEBOOKS):
    """Execute a notebook as JupyterLab would, with its defaults: nbclient on the notebook's own kernel, no
    papermill, the out-root only through the environment (as a researcher's shell would set it)."""
    monkeypatch.setenv(paths.OUT_ROOT_ENV, str(out_root))
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=900, resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def test_notebooks_run_by_hand_never_touch_a_published_edition(published, monkeypatch):
    edition = edition_digests(published, "cdht", 2023)
    everything = tree_digests(published)
    assert (published / "reports/cdht/2023/PUBLISHED.json").exists()
    executed = {stage: run_by_hand(paths.NOTEBOOKS / f"{stage}.ipynb", published, monkeypatch)
                for stage in STAGE_NOTEBOOKS}
    # an executed copy from reports/ runs again too: its staging out-root is gone, so it is a scratch run
    record = published / "reports/cdht/2023/notebooks"
    copy = run_by_hand(record / "03_score.ipynb", published, monkeypatch, cwd=record)
    assert any("invariants hold" in out.get("text", "") for cell in copy.cells for out in cell.get("outputs", []))
    assert edition_digests(published, "cdht", 2023) == edition
    assert tree_digests(published) == everything, "a notebook run by hand wrote outside scratch/"
    scratch = published / "scratch/cdht/2023"
    assert {"ingested.csv", "clean.csv", "scores.csv", "checks.csv"} <= {p.name for p in (scratch / "data").iterdir()}
    # the edition's figures, unchanged, are taken over (copied: zoneindex.figure_reuse), not drawn again
    figures = [p.relative_to(scratch / "figures") for p in sorted((scratch / "figures").rglob("*")) if p.is_file()]
    taken = ("index_over_time", "growth", "radar", "waterfall", "heatmap", "framework")
    validate = [f"{name}_{lang}" for name in ("uncertainty", "sobol") for lang in ("en", "zh")]  # both languages
    assert sorted(p.name for p in figures if p.parts[0] == RECORDS) == sorted(
        f"{stem}.json" for stem in [*(f"{name}_en" for name in taken), *validate])
    assert [p for p in figures
            if (scratch / "figures" / p).read_bytes() != (published / "figures/cdht/2023" / p).read_bytes()] == []
    shown, = [out for cell in executed["05_visualize"].cells if "edition_figures(ctx)" in cell.source
              for out in cell.outputs]
    assert shown["data"]["text/html"].count("<td>yes</td>") == 6 and "<td>no</td>" not in shown["data"]["text/html"]
    # what the scratch run computed again from the same inputs equals the edition, byte for byte
    for table in ("clean", "scores", "contributions"):
        assert (scratch / "data" / f"{table}.csv").read_bytes() == \
            (published / "data/processed/cdht/2023" / f"{table}.csv").read_bytes()


def test_a_scratch_run_reads_the_latest_good_edition(published, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(published / "data", home / "data")
    ctx = pipeline.open_run("cdht", 0, str(home))
    assert isinstance(ctx.out, paths.ScratchPaths) and ctx.out.processed == home / "scratch/cdht/2023/data"
    assert ctx.scratch.edition.processed == home / "data/processed/cdht/2023"
    assert ctx.read("checks").equals(read_stage_table(home / "data/processed/cdht/2023/checks.csv"))
    assert (ctx.out.processed / "checks.csv").exists()  # copied: the scratch run keeps what it used
    # a scratch table older than the edition is stale and replaced; a newer one is the scratch run's own
    stale = ctx.table_path("scores")
    stale.write_text("entity,year,code,level,value\nX,2023,CDHT,4,1\n", encoding="utf-8")
    os.utime(stale, (0, 0))
    again = pipeline.open_run("cdht", 0, str(home))
    assert again.read("scores")["entity"].eq("CDHT").all()
    stale.write_text("entity,year,code,level,value\nX,2023,CDHT,4,1\n", encoding="utf-8")
    assert pipeline.open_run("cdht", 0, str(home)).read("scores")["entity"].tolist() == ["X"]
    # a table no earlier stage could write is missing, as in a run
    with pytest.raises(InputError, match="run the earlier notebooks first"):
        again.read("no_such_table")


def test_without_an_edition_a_scratch_run_computes_what_it_needs(published, tmp_path):
    ctx = pipeline.open_run("cdht", 0, str(tmp_path))
    assert ctx.scratch.edition is None and "computed from the raw files" in ctx.scratch.describe()
    ctx.read("contributions")
    for table in ("ingested", "clean", "treatment_log", "scores", "weights", "contributions"):
        assert ctx.table_path(table).read_bytes() == \
            (published / "data/processed/cdht/2023" / f"{table}.csv").read_bytes(), table
    assert not ctx.has("entities")  # cdht has no entity-name table: nothing to compute
    assert sorted(p.name for p in tmp_path.iterdir()) == [paths.SCRATCH]


def test_only_a_staging_folder_of_zoneindex_run_gets_the_edition_folders(tmp_path):
    staging = tmp_path / paths.STAGING / "cdht-2023-1"
    staging.mkdir(parents=True)
    ctx = pipeline.open_run("cdht", 2023, str(staging), "en", str(tmp_path))
    assert type(ctx.out) is paths.RunPaths and ctx.out.processed == staging / "data/processed/cdht/2023"
    assert ctx.scratch is None and ctx.previous_root == tmp_path
    shutil.rmtree(staging)
    for previous in (str(tmp_path), ""):  # an executed copy run again: the run's out-root, given or implied
        ctx = pipeline.open_run("cdht", 2023, str(staging), "en", previous)
        assert isinstance(ctx.out, paths.ScratchPaths) and ctx.out.out_root == tmp_path
        assert not staging.exists()
    ctx = pipeline.open_run("cdht", 2023, str(tmp_path))  # an out-root given by hand: still a scratch run
    assert ctx.out.processed == tmp_path / "scratch/cdht/2023/data"
    with pytest.raises(InputError, match="unknown study"):
        pipeline.open_run("nope", 0, str(tmp_path))


def test_the_scratch_area_is_ignored_by_git():
    ignored = (paths.PROJECT_ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert f"{paths.SCRATCH}/" in ignored


def test_the_what_if_notebook_is_neither_a_stage_nor_in_the_write_up():
    assert "explore" not in pipeline.STAGES and "explore" not in pipeline.WRITE_UP_ORDER
    assert paths.NOTEBOOKS / "explore.ipynb" not in pipeline.input_files(load_study("cdht"))
    assert {p.stem for p in ALL_NOTEBOOKS} == set(pipeline.STAGES) | {"explore"}


def code_of(cell) -> ast.Module:
    return ast.parse(cell.source)


@pytest.mark.parametrize("notebook", ALL_NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_says_so_first_and_follows_the_parameters_cell_rules(notebook):
    nb = nbformat.read(notebook, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source == NOTE
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    tagged = [i for i, cell in enumerate(code) if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged parameters"
    parameters = []
    for statement in code_of(code[tagged[0]]).body:  # name: type = literal, nothing else
        assert isinstance(statement, ast.AnnAssign) and isinstance(statement.value, ast.Constant), \
            ast.unparse(statement)
        parameters.append(statement.target.id)
    assert parameters[:4] == ["study", "year", "out_root", "lang"]
    calls = [node for node in ast.walk(code_of(code[tagged[0] + 1])) if isinstance(node, ast.Call)
             and getattr(node.func, "id", None) == "open_run"]
    assert calls and [a.id for a in calls[0].args] == parameters, "the next cell validates them with open_run"
    for cell in code[:tagged[0]] + code[tagged[0] + 1:]:  # no other cell sets a parameter
        targets = {t.id for node in ast.walk(code_of(cell)) if isinstance(node, (ast.Assign, ast.AnnAssign))
                   for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                   if isinstance(t, ast.Name)}
        assert not targets & set(parameters), cell.source


@pytest.mark.parametrize("notebook", ALL_NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_committed_clean_on_the_project_kernel(notebook):
    text = notebook.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    assert nb.metadata["kernelspec"] == lab.KERNELSPEC
    assert nbformat.writes(lab.clean_notebook(nbformat.reads(text, as_version=4))) + "\n" == text, \
        f"{notebook.name} has outputs or extra metadata: python -m zoneindex.lab --clean-notebooks"
