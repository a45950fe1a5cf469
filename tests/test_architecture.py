"""The package is a house of layers: modules import only downwards, never in a circle, and stay small.

Read statically with ``ast`` (nothing of the package is imported): every import of every module counts,
at module level or inside a function, in each of its forms (``import zoneindex.x``, ``from zoneindex
import x``, ``from zoneindex.x import y``, relative imports). A subpackage such as ``zoneindex/uncertainty/``
counts as one module: its ``__init__`` and all its files.

A new module must be given its layer in LAYERS below; the README's "Architecture" section says which.
"""
from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "zoneindex"
MAX_LINES = 600

# module -> layer: a module may import modules of its own layer (without a cycle) or of lower layers
LAYERS = {
    # 1 foundation: the framework as a pure data model, errors, paths, provenance, raw files and stage tables
    "errors": 1, "paths": 1, "provenance": 1, "framework": 1, "rawfiles": 1, "typedcells": 1, "tables": 1,
    "glossary": 1,  # the one table of method terms and table headers, English and Chinese
    # 2 methods: each owns the registry of its named methods; they see the framework, never a study
    "cells": 2, "impute": 2, "treat": 2, "normalise": 2, "weight": 2, "aggregate": 2, "kernel": 2,
    "crossrow": 2,   # the aggregators that compare rows (TOPSIS, grey relational, Copeland), called by kernel
    "weight_combined": 2, "weight_optimised": 2,  # combination rules; COINr's optimised weights (uses kernel)
    "streaming": 2,  # exact streaming quantiles and rank counts, pure NumPy (the uncertainty summaries)
    "coordination": 2,  # coupling coordination and obstacle degree: analyses of a scored study (validate)
    "ahp": 2,  # expert-panel AHP: the experts' questionnaires read as raw files, AIJ/AIP (a weights method)
    # 3 the study definition: configuration and method choices, checked against the registries
    "study": 3, "schema": 3, "scaffold": 3,
    # 4 stages, from raw files to checked scores
    "entry": 4, "newyear": 4, "check": 4, "ingest": 4, "clean": 4, "score": 4, "validate": 4, "uncertainty": 4,
    "methodtext": 4,  # the method prose of the clean and score notebooks, in English and Chinese
    # 5 editions and outputs: publishing, revisions, what-if rescoring, the results pack, write-up, figures
    "editions": 5, "revisions": 5, "runguard": 5, "export": 5, "export_sheets": 5, "report": 5, "plot_text": 5, "plots": 5, "figures": 5,
    "figure_reuse": 5, "illustrative": 5, "whatif": 5, "scratch": 5, "explore": 5, "workers": 5,
    "citations": 5, "captions": 5, "worddoc": 5, "figurepack": 5,  # the write-up's numbering, Word, figure pack
    "ahp_survey": 5,  # the expert questionnaire workbook of expert-panel AHP (zoneindex ahp-survey)
    "present": 5, "analysis_views": 5,  # tables as the write-up shows them: headers in the run's language, numbers for people
    # 6 the pipeline, which runs the stages and builds the outputs (nothing above it but the command line)
    "pipeline": 6, "runner": 6,
    # 7 the front doors: the command line, and the package itself (its __init__ offers the what-if API)
    "cli": 7, "__main__": 7, "__init__": 7, "lab": 7,
}


def module_of(path: Path) -> str:
    """The module a file belongs to: its top-level name below the package (a subpackage as a whole)."""
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def imports_in(source: str, parts: tuple[str, ...]) -> set[str]:
    """The zoneindex modules that the source of the file ``zoneindex/<parts…>.py`` imports, wherever in the
    file (module level or in a function) and in whichever form."""
    package = ("zoneindex", *parts[:-1])  # where relative imports start from
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            base += node.module.split(".") if node.module else []
            # "from zoneindex import x" names module x; "from zoneindex.x import y" names x
            names = [base + [alias.name] for alias in node.names] if len(base) == 1 else [base]
        else:
            continue
        found.update(name[1] for name in names if len(name) > 1 and name[0] == "zoneindex")
    return found


@functools.cache  # parsed once, when a test first asks (not while the tests are collected)
def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_of(path)
        found = imports_in(path.read_text(encoding="utf-8"), path.relative_to(PACKAGE).with_suffix("").parts)
        graph.setdefault(module, set()).update(found - {module})
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, …, a], or None: a depth-first search that meets a module on its own path."""
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if target in path:
                return path[path.index(target):] + [target]
            if target not in done and (cycle := visit(target)):
                return cycle
        path.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        if module not in done and (cycle := visit(module)):
            return cycle
    return None


LINES: dict[str, dict[str, int]] = {}
for _path in sorted(PACKAGE.rglob("*.py")):
    LINES.setdefault(module_of(_path), {})[str(_path.relative_to(PACKAGE))] = len(_path.read_text(encoding="utf-8").splitlines())


def test_every_form_of_import_is_seen():
    source = """
import numpy, zoneindex
import zoneindex.a
import zoneindex.b.inner as alias
from zoneindex import c, d as e
from zoneindex.f import g
from . import h
from .i import j
from .. import k
from ..l import m

def later():
    from zoneindex.n import o
"""
    assert imports_in(source, ("pkg", "mod")) == {"a", "b", "c", "d", "f", "pkg", "k", "l", "n"}
    assert imports_in(source.replace("from .. import k\nfrom ..l import m\n", ""), ("mod",)) == \
        {"a", "b", "c", "d", "f", "h", "i", "n"}


def test_the_cycle_finder_names_the_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"b"}}) == ["b", "b"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_a_subpackage_is_one_module():
    assert not any("." in module or "/" in module for module in import_graph())
    assert all(module not in targets for module, targets in import_graph().items())


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_module_has_a_layer():
    unplaced = sorted(set(import_graph()) - set(LAYERS))
    assert not unplaced, (f"modules without a layer: {unplaced}; place each in LAYERS of {Path(__file__).name} "
                          "(the Architecture section of README.md says which layer is which)")


def test_imports_only_go_downwards():
    upward = [f"{module} (layer {LAYERS[module]}) imports {target} (layer {LAYERS[target]})"
              for module, targets in sorted(import_graph().items()) for target in sorted(targets)
              if module in LAYERS and target in LAYERS and LAYERS[target] > LAYERS[module]]
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_the_framework_is_a_pure_data_model():
    extra = sorted(import_graph()["framework"] - {"errors"})
    assert not extra, f"framework imports {extra}: it may import nothing of zoneindex but errors"


@pytest.mark.parametrize("module", sorted(LINES))
def test_module_files_stay_small(module):
    long = {name: n for name, n in LINES[module].items() if n > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines: " + ", ".join(f"{name} ({n})" for name, n in long.items())
