"""The pipeline: a run context shared by the notebooks, and the runner that executes them in order.

``zoneindex run`` executes the six notebooks with papermill into a staging folder, builds the
methodology write-up and the run manifest there, and only when everything succeeded swaps the staged
folders in place of the previous edition's outputs. A failed run leaves the last good outputs as they were.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path

import pandas as pd

from zoneindex import paths, runguard
from zoneindex.check import check_study
from zoneindex.editions import guard_published, previous_edition, snapshot_definition
from zoneindex.errors import InputError
from zoneindex.ingest import newest_year_with_data as latest_year  # "latest": the newest year with data
from zoneindex.provenance import sha256_file
from zoneindex.runner import import_in_background, notebook_kernel
from zoneindex.scratch import ScratchReads, scratch_home
from zoneindex.study import Study, available_studies, definitions_in_use, load_study
from zoneindex.tables import CSV_OPTIONS, read_stage_table

STAGES = ("01_ingest", "02_clean", "03_score", "04_validate", "05_visualize", "06_summary")
# After this notebook no stage table changes: the results workbook is written from then on (workbook_ahead)
LAST_TO_WRITE_TABLES = "04_validate"
# After these notebooks the edition's figures are drawn ahead (zoneindex.figures.draw_ahead; its arguments from
# the run's language): after the score tables, in the background lane; after the visualize notebook, which takes
# its language's, those of the other language in every worker.
OTHER_LANGUAGE = {"en": "zh", "zh": "en"}
DRAW_AHEAD_AFTER = {"03_score": lambda lang: "",
                    "05_visualize": lambda lang: f"languages=({OTHER_LANGUAGE[lang]!r},), background=False"}
# the summary is computed last, from every stage's tables, and opens the write-up
WRITE_UP_ORDER = ("06_summary", "01_ingest", "02_clean", "03_score", "04_validate", "05_visualize")
# what publish_outputs imports (a second), imported in the background while the notebooks run
WRITE_UP_MODULES = ("nbconvert", "zoneindex.captions", "zoneindex.export", "zoneindex.figurepack", "zoneindex.report",
                    "zoneindex.worddoc")
PACKAGES = ("zoneindex", "numpy", "pandas", "scipy", "matplotlib", "seaborn", "papermill", "nbconvert",
            "nbformat", "pyyaml", "latex2mathml")


@dataclass
class RunContext:
    """What a notebook needs: the validated study, the edition year and where to read and write."""

    study: Study
    year: int
    out: paths.RunPaths
    lang: str = "en"
    previous_root: Path | None = None  # where earlier editions are (the real out-root while staging)
    timings: dict = field(default_factory=dict)
    scratch: ScratchReads | None = None  # a scratch run (see open_run): where the tables it lacks come from

    def previous_edition(self) -> paths.RunPaths | None:
        return previous_edition(paths.run_paths(self.study.name, self.year, self.previous_root))

    def earlier_figures(self) -> Path | None:
        """The figures folder of this year's edition that the run replaces (``zoneindex run``) or, run by hand,
        reads (zoneindex.scratch); None if there is none. The figures of it that nothing has changed are taken
        over (zoneindex.figure_reuse)."""
        if self.scratch is not None:
            return None if self.scratch.edition is None else self.scratch.edition.figures
        if self.previous_root is None or Path(self.previous_root) == self.out.out_root:
            return None
        return paths.run_paths(self.study.name, self.year, self.previous_root).figures

    @property
    def years(self) -> range:
        return range(self.study.first_year, self.year + 1)

    def table_path(self, name: str) -> Path:
        return self.out.processed / f"{name}.csv"

    def write(self, name: str, frame: pd.DataFrame) -> None:
        """Write a stage table as CSV (stable row order, full double precision, LF line ends). Returns
        nothing, so that a notebook cell ending with a write shows no stray output."""
        path = self.table_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, **CSV_OPTIONS)

    def has(self, name: str) -> bool:
        """Whether an earlier stage wrote the table (some are written only for some studies); a scratch run
        also finds it in the latest good edition or computes it (zoneindex.scratch)."""
        if self.scratch is not None:
            return self.scratch.provide(name, self)
        return self.table_path(name).exists()

    def read(self, name: str) -> pd.DataFrame:
        path = self.table_path(name)
        if not self.has(name):
            raise InputError(f"stage table {name}.csv is missing: run the earlier notebooks first", file=path)
        return read_stage_table(path)


def open_run(study: str, year: int | None = None, out_root: str | Path | None = None, lang: str = "en",
             previous_root: str | Path | None = None) -> RunContext:
    """Validate notebook parameters and load the study; every notebook starts with this call.

    Run by ``zoneindex run``, whose staging folder is ``out_root``, the notebook writes the edition there. Run
    any other way (by hand in JupyterLab, by nbclient or nbval, an executed copy from ``reports/`` whose
    staging folder is gone) it is a scratch run: it writes only to ``scratch/<study>/<year>/`` under the
    out-root and reads what it lacks from the latest good edition, read-only, or computes it
    (:mod:`zoneindex.scratch`). No notebook can write into an edition, let alone a published one.
    """
    root = Path(out_root) if out_root else paths.default_out_root()
    if paths.is_staging(root) and root.is_dir():
        return edition_context(study, year, root, lang, previous_root)
    definition, year = validated(study, year, lang)
    home = scratch_home(out_root, previous_root)
    out = paths.scratch_paths(study, year, home).make()
    previous = Path(previous_root) if previous_root else out.out_root
    return RunContext(definition, year, out, lang, previous, scratch=ScratchReads(definition, year, out.out_root))


def edition_context(study: str, year: int | None = None, out_root: str | Path | None = None, lang: str = "en",
                    previous_root: str | Path | None = None) -> RunContext:
    """The validated parameters and the study, with the edition's own output folders under ``out_root``
    (only ``zoneindex run`` and its staged notebooks write there)."""
    definition, year = validated(study, year, lang)
    out = paths.run_paths(study, year, out_root or None).make()
    return RunContext(definition, year, out, lang, Path(previous_root) if previous_root else out.out_root)


def validated(study: str, year: int | None, lang: str) -> tuple[Study, int]:
    """The study definition and the edition year (``0``, ``""``, ``"latest"`` or None: the newest year with data),
    or an InputError naming the bad parameter."""
    if study not in available_studies():
        raise InputError("unknown study", column="study", value=study, expected=f"one of {available_studies()}")
    definition = load_study(study)
    year = latest_year(definition) if year in (None, "", 0, "0", "latest") else int(year)
    if not definition.first_year <= year:
        raise InputError("edition year before the study's first year", column="year", value=year,
                         expected=f">= {definition.first_year}")
    if definition.base_year is not None and year < definition.base_year:
        raise InputError("edition year before the base year", column="year", value=year,
                         expected=f">= {definition.base_year}")
    if lang not in ("en", "zh"):
        raise InputError("unknown language", column="lang", value=lang, expected="en or zh")
    return definition, year


def git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.PROJECT_ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=paths.PROJECT_ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return commit + ("+uncommitted-changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def input_files(study: Study) -> list[Path]:
    """Every file that determines the numbers: study definition, raw data with records, notebooks."""
    files = sorted(study.folder.rglob("*")) + sorted(study.raw_folder.glob("*"))
    files += [paths.NOTEBOOKS / f"{stage}.ipynb" for stage in STAGES]
    return [f for f in files if f.is_file()]


def manifest(ctx: RunContext, parameters: dict, timings: dict, staged: paths.RunPaths) -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    outputs = sorted(p for folder in staged.folders() for p in folder.rglob("*") if p.is_file())
    return {
        "study": ctx.study.name, "edition": ctx.year, "parameters": parameters,
        "base_year": ctx.study.base_year, "years": [ctx.years.start, ctx.years.stop - 1],
        "methods": ctx.study.methods, "definitions": definitions_in_use(ctx.study), "seed": ctx.study.seed,
        "illustrative_inputs": ctx.study.illustrative,
        "git_commit": git_commit(), "python": platform.python_version(), "packages": versions,
        "inputs": {str(p.relative_to(paths.PROJECT_ROOT)): sha256_file(p) for p in input_files(ctx.study)},
        "outputs": {str(p.relative_to(staged.out_root)): sha256_file(p) for p in outputs
                    if p.name != "manifest.json"},
        "timings_seconds": timings,
    }


def write_manifest(ctx: RunContext, parameters: dict, timings: dict, staged: paths.RunPaths) -> Path:
    target = staged.processed / "manifest.json"
    record = manifest(ctx, parameters, timings, staged)
    target.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def swap_in(staged: paths.RunPaths, final: paths.RunPaths) -> None:
    """Replace the final output folders with the staged ones, keeping the old until the new is in place (in
    journaled steps that the next run finishes or undoes after a kill: zoneindex.runguard)."""
    runguard.swap_in(staged, final)


def keep_failed_notebook(staged: paths.RunPaths, stage: str) -> Path:
    """Keep what a failed run computed, out of the staging folder and away from the last good edition:
    ``reports/<study>/failed/<year>/`` gets every notebook executed up to the failure (the failed one
    included: the run's record of what went wrong) and, under ``tables/``, the stage tables written so far.
    Returns the failed notebook's new path."""
    out_root = staged.out_root.parent.parent  # staging lives in <out-root>/.staging/<run>
    folder = out_root / "reports" / staged.study / "failed" / str(staged.year)
    if folder.exists():
        shutil.rmtree(folder)  # one failed run's record, not a mixture of several
    folder.mkdir(parents=True)
    for notebook in sorted(staged.notebooks.glob("*.ipynb")):
        shutil.move(notebook, folder / notebook.name)
    if staged.processed.exists() and any(staged.processed.glob("*.csv")):
        shutil.copytree(staged.processed, folder / "tables")
    return folder / f"{stage}.ipynb"


def execute_notebooks(stages, parameters: dict, staged: paths.RunPaths, progress: bool, timings: dict,
                      kernel) -> None:
    import papermill as pm
    from tqdm.auto import tqdm

    bar = tqdm(stages, desc="stages", unit="notebook", disable=not progress)
    for stage in bar:
        bar.set_postfix_str(stage)
        started = time.perf_counter()
        try:
            kernel.prepare()
            pm.execute_notebook(paths.NOTEBOOKS / f"{stage}.ipynb", staged.notebooks / f"{stage}.ipynb",
                                parameters=parameters, kernel_name="python3", km=kernel.manager,
                                progress_bar={"desc": stage, "leave": False} if progress else False,
                                request_save_on_cell_execute=False, execution_timeout=1800)
        except pm.PapermillExecutionError as error:
            kept = keep_failed_notebook(staged, stage)
            raise RuntimeError(f"notebook {stage} failed at cell {error.cell_index} ({error.ename}): "
                               f"{error.evalue}\nthe failed notebook is kept as {kept}; "
                               "the outputs of the last good run were left untouched") from None
        finally:
            kernel.close_clients()
        if stage in DRAW_AHEAD_AFTER:
            kernel.run(f"from zoneindex import figures, pipeline\n"
                       f"figures.draw_ahead(pipeline.edition_context(**{parameters!r}), "
                       f"{DRAW_AHEAD_AFTER[stage](parameters['lang'])})\n")
        if stage == LAST_TO_WRITE_TABLES:
            kernel.run(f"from zoneindex import pipeline\npipeline.workbook_ahead(pipeline.edition_context(**{parameters!r}))\n")
        timings[stage] = round(time.perf_counter() - started, 3)


def workbook_ahead(ctx: RunContext) -> None:
    """Start the results workbook in a figure worker (``workers.start_ahead``): ``zoneindex run`` calls this in its
    kernel once the last notebook that writes stage tables is done; ``finish_workbook`` takes it."""
    from zoneindex import workers
    from zoneindex.export import write_results_workbook

    workers.start_ahead(f"workbook of {ctx.out.processed}", sorted(ctx.out.processed.glob("*.csv")),
                        partial(write_results_workbook, ctx.out.processed, ctx.study,
                                ctx.out.reports / "results.xlsx", lang=ctx.lang), background=False)


def finish_workbook(ctx: RunContext) -> None:
    """The results workbook written ahead from the same tables (waited for), or written now."""
    from zoneindex import workers
    from zoneindex.export import write_results_workbook

    ahead = workers.take_ahead(f"workbook of {ctx.out.processed}", lambda: sorted(ctx.out.processed.glob("*.csv")))
    if ahead is not None:
        ahead.result()  # it may have failed: then it fails here, as it would have written now
    else:
        write_results_workbook(ctx.out.processed, ctx.study, ctx.out.reports / "results.xlsx", lang=ctx.lang)


def kernel_outputs(kernel, parameters: dict):
    """Finish, in the run's kernel (idle once the notebooks are done), the results workbook (begun in a worker by
    ``workbook_ahead``) and the figure set in the language the write-up is not in (the visualize notebook drew
    the run's own; the figure pack holds both; most were drawn ahead), while this process builds the write-up.
    Returns the function that waits for both."""
    other = OTHER_LANGUAGE[parameters["lang"]]
    return kernel.submit("from zoneindex import figures, pipeline\n"
                         f"ctx = pipeline.edition_context(**{parameters!r})\n"
                         "pipeline.finish_workbook(ctx)\n"
                         f"figures.edition_figures(ctx, languages=({other!r},))\n")


def run(study: str, year: int | None = None, out_root: str | Path | None = None, lang: str = "en",
        progress: bool = True, force: bool = False, kernel=None) -> paths.RunPaths:
    """Run the whole edition and return where its outputs are.

    A published edition is refused unless ``force`` (then it is moved aside, see editions.guard_published).
    The notebooks run on ``kernel`` (a ``runner.notebook_kernel()``, which the caller then shuts down), or on
    one started now.
    """
    started = time.perf_counter()
    final_ctx = edition_context(study, year, out_root, lang)
    # one run of an edition at a time; a killed run's leftovers are tidied first (zoneindex.runguard)
    with runguard.edition_lock(final_ctx.out):
        if not force:
            guard_published(final_ctx.out, force=False)  # refused before any work, the kernel's start-up included
        with nullcontext(kernel) if kernel else notebook_kernel() as running:
            return _run_edition(final_ctx, running, lang, progress, force, started)


def _run_edition(final_ctx: RunContext, kernel, lang: str, progress: bool, force: bool, started: float
                 ) -> paths.RunPaths:
    study = final_ctx.study.name
    timings: dict = {}
    check_study(study, final_ctx.year)  # the whole definition and its raw files, in seconds, before any notebook
    timings["check"] = round(time.perf_counter() - started, 3)
    final = final_ctx.out

    staging_root = final.out_root / ".staging" / f"{study}-{final_ctx.year}-{os.getpid()}"
    if staging_root.exists():
        shutil.rmtree(staging_root)
    staged = paths.run_paths(study, final_ctx.year, staging_root).make()
    parameters = {"study": study, "year": final_ctx.year, "out_root": str(staging_root), "lang": lang,
                  "previous_root": str(final.out_root)}
    try:
        snapshot_definition(final_ctx.study, staged)
        # this process waits for the kernel meanwhile: the write-up's modules are imported by then
        import_in_background(*WRITE_UP_MODULES)
        public_parameters = {**parameters, "out_root": str(final.out_root)}
        write_manifest(final_ctx, public_parameters, timings, staged)  # the results pack quotes its inputs
        execute_notebooks(STAGES, parameters, staged, progress, timings, kernel)
        publish_outputs(final_ctx.study, staged, lang, timings, in_kernel=kernel_outputs(kernel, parameters))
        kernel.release()  # the notebooks and figures are done: it exits while the manifest is written
        timings["total"] = round(time.perf_counter() - started, 3)
        write_manifest(final_ctx, public_parameters, timings, staged)
        guard_published(final, force)
        swap_in(staged, final)
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
        if staging_root.parent.exists() and not any(staging_root.parent.iterdir()):
            staging_root.parent.rmdir()
    return final


def publish_outputs(study: Study, staged: paths.RunPaths, lang: str, timings: dict, in_kernel=None) -> None:
    """The write-up (HTML, PDF and Word) from the executed notebooks, the figure pack and the Excel results pack.

    The page comes first; then Chromium prints it and pandoc writes the Word document, each in its own process
    and side by side, while this process packs the figures. ``in_kernel`` (from ``kernel_outputs``) waits for
    the workbook and the other language's figures that the kernel makes meanwhile; without it, this process
    writes the workbook.
    """
    # imported here: a notebook kernel imports this module too and needs neither (nbconvert and nbformat,
    # through jsonschema, cost it a second)
    from zoneindex.captions import figure_order
    from zoneindex.export import write_results_workbook
    from zoneindex.figurepack import build_figure_pack
    from zoneindex.report import HIDDEN_TAGS, build_methodology_pdf, edition_date, methodology_page

    created = edition_date(staged.year)
    notebooks = [staged.notebooks / f"{s}.ipynb" for s in WRITE_UP_ORDER]
    html = staged.reports / "methodology.html"
    page = timed(timings, "methodology_html", lambda: methodology_page(
        notebooks, title=study.title[lang], lang=lang, banner=illustrative_banner(study, lang), figures=staged.figures))
    timed(timings, "methodology_html", page.write_html, html, add=True)
    with ThreadPoolExecutor(2) as pool:
        printed = pool.submit(timed, timings, "methodology_pdf", build_methodology_pdf, html,
                              staged.reports / "methodology.pdf", created=created)
        word = pool.submit(timed, timings, "report_docx", page.write_docx, staged.reports / "report.docx", created)
        if in_kernel is None:
            timed(timings, "results_xlsx", write_results_workbook, staged.processed, study,
                  staged.reports / "results.xlsx", lang=lang)
        else:  # the wait once the write-up's page is done
            timed(timings, "results_xlsx_and_other_language_figures", in_kernel)
        timed(timings, "figure_pack", build_figure_pack, staged.figures, staged.reports / f"figures_{lang}.zip",
              study=study, year=staged.year, order=figure_order(notebooks, staged.figures, lang, HIDDEN_TAGS),
              created=created)
        printed.result(), word.result()


def timed(timings: dict, name: str, step, *args, add: bool = False, **kwargs):
    """``step(*args, **kwargs)``, its wall time in seconds recorded as ``timings[name]`` (or added to it)."""
    started = time.perf_counter()
    try:
        return step(*args, **kwargs)
    finally:
        timings[name] = round(timings.get(name, 0) * add + time.perf_counter() - started, 3)


def illustrative_banner(study: Study, lang: str) -> str | None:
    if not study.illustrative:
        return None
    return study.config.get("illustrative_notice", {}).get(lang)
