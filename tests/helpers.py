"""Small frameworks and panels built in memory, for tests that need exact hand-checkable numbers."""
from __future__ import annotations

import numpy as np
import pandas as pd

from zoneindex.framework import Framework


def tree(dimensions: list[list[float]], directions: list[int] | None = None,
         dimension_weights: list[float] | None = None) -> Framework:
    """Index 'I' over dimensions 'D0'…, each over indicators 'x0_0'…; weights as given."""
    rows = [dict(code="I", level=3, parent="", type="Aggregate", name_en="Index", name_zh="指数", unit="",
                 direction=np.nan, weight=1.0)]
    k = 0
    for d, weights in enumerate(dimensions):
        rows.append(dict(code=f"D{d}", level=2, parent="I", type="Aggregate", name_en=f"Dim {d}",
                         name_zh=f"维度{d}", unit="", direction=np.nan,
                         weight=(dimension_weights or [1.0] * len(dimensions))[d]))
        for i, w in enumerate(weights):
            direction = (directions or [1] * 1000)[k]
            rows.append(dict(code=f"x{d}_{i}", level=1, parent=f"D{d}", type="Indicator", name_en=f"x{d}_{i}",
                             name_zh=f"指标{d}{i}", unit="count", direction=direction, weight=w))
            k += 1
    return Framework.from_table(pd.DataFrame(rows))


def panel(framework: Framework, values: np.ndarray, years: list[int], entities: list[str] | None = None) -> pd.DataFrame:
    """Wide matrix (rows = entity-year, columns = indicators) from an array (entities·years × indicators)."""
    entities = entities or ["Z"]
    index = pd.MultiIndex.from_product([entities, years], names=["entity", "year"])
    return pd.DataFrame(values, index=index, columns=framework.indicators)


def assert_batch_equals_alone(x: pd.DataFrame, framework: Framework, tree, plan, rows, rng, replications: int) -> None:
    """The kernel's batch of ``replications`` random weight sets gives, for each, bit for bit what that weight set
    gives alone (results must not depend on the batch they were computed in)."""
    from zoneindex import kernel

    raw = framework.table["weight"].reindex(list(tree.codes)).to_numpy() * rng.uniform(0.5, 1.5,
                                                                                      (replications, len(tree.codes)))
    weights = kernel.relative_weights(raw, tree)
    batch = kernel.aggregate(x.to_numpy(), weights, tree, plan, rows).values
    for r in range(len(weights)):
        alone = kernel.aggregate(x.to_numpy(), weights[r:r + 1], tree, plan, rows).values[:, :, 0]
        assert np.array_equal(batch[:, :, r], alone, equal_nan=True)


def zoneindex(*args, env=None):
    """``python -m zoneindex <args>`` from the project root, as a researcher runs it (``env`` added to the
    environment); the completed process, its output as text."""
    import os
    import subprocess
    import sys

    from zoneindex import paths

    return subprocess.run([sys.executable, "-m", "zoneindex", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=paths.PROJECT_ROOT)


def copy_project(target):
    """The project's inputs (study definitions, notebooks, raw data) copied to ``target``: runs pointed at it
    with ZONEINDEX_ROOT may change inputs without touching the real ones."""
    import shutil

    from zoneindex import paths

    for folder in ("seeds", "notebooks", "data/raw"):
        shutil.copytree(paths.PROJECT_ROOT / folder, target / folder)
    return target


def use_project_copy(target, monkeypatch):
    """``copy_project(target)``, and this process's paths pointed at the copy (as ZONEINDEX_ROOT points a new
    process at it): a command may then be checked by ``cli.main`` here, without starting Python again."""
    from zoneindex import paths

    project = copy_project(target)
    for name, path in (("PROJECT_ROOT", project), ("SEEDS", project / "seeds"), ("RAW", project / "data" / "raw"),
                       ("NOTEBOOKS", project / "notebooks")):
        monkeypatch.setattr(paths, name, path)
    return project


def run_cli(capsys, *args):
    """``zoneindex <args>`` run by ``cli.main`` in this process: its exit code, standard output and error."""
    from zoneindex import cli

    code = cli.main(list(args))
    done = capsys.readouterr()
    return code, done.out, done.err


def edition_digests(out, study: str, year: int) -> list[dict]:
    """sha256 of every file of one edition's output folders (processed data, figures, reports)."""
    import hashlib

    folders = [out / "data/processed" / study / str(year), out / "figures" / study / str(year),
               out / "reports" / study / str(year)]
    return [{str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(folder.rglob("*")) if p.is_file()} for folder in folders]
