"""The one scoring kernel reproduces the nominal tables of every shipped study byte for byte.

``tests/data/score_digests.json`` holds the sha256 of ``scores.csv``, ``contributions.csv`` and
``weights.csv`` as the code before the kernel wrote them (with, under ``by_cpu``, those that the same code
writes otherwise on a CPU where NumPy dispatches its SIMD loops to another target). The stages run in-process here exactly as the
notebooks run them (ingest → stage table → clean → stage table → score), through the run context's own
CSV writer and reader, so a changed digest means a changed number.
"""
import hashlib
import json
from pathlib import Path

import pytest
from numpy._core._multiarray_umath import __cpu_features__

from zoneindex import clean, ingest, score
from zoneindex.pipeline import open_run

RECORDED = json.loads((Path(__file__).parent / "data" / "score_digests.json").read_text())
TARGET = next((t for t in ("X86_V4", "X86_V3") if __cpu_features__.get(t)), "other")
DIGESTS = {edition: {**tables, **RECORDED["by_cpu"].get(TARGET, {}).get(edition, {})}
           for edition, tables in RECORDED["digests"].items()}


def stage_tables(study: str, year: int, out_root: Path) -> dict[str, bytes]:
    ctx = open_run(study, year, out_root)
    tidy, _ = ingest.ingest(ctx.study, ctx.year)
    ctx.write("ingested", tidy)
    entities = ingest.read_entities(ctx.study)
    if entities is not None:
        ctx.write("entities", entities)
    cleaned, _ = clean.clean_study(ctx.study, ctx.read("ingested"), ctx.years,
                                   ctx.read("entities") if ctx.has("entities") else None)
    ctx.write("clean", cleaned)
    result = score.score(ctx.study, ctx.read("clean"))
    fw = ctx.study.framework
    ctx.write("scores", score.sorted_for_output(result.scores, fw))
    ctx.write("weights", result.weights)
    if result.contributions is not None:
        ctx.write("contributions", score.sorted_for_output(result.contributions, fw))
    return {name: ctx.table_path(name).read_bytes() for name in ("scores", "contributions", "weights")
            if ctx.has(name)}


@pytest.mark.parametrize("edition", sorted(DIGESTS))
def test_nominal_tables_are_byte_identical_to_the_code_before_the_kernel(edition, tmp_path):
    study, year = edition.split("/")
    tables = stage_tables(study, int(year), tmp_path)
    assert sorted(tables) == sorted(DIGESTS[edition]), f"{edition}: tables written differ from the recorded ones"
    changed = [f"{edition}/{name}.csv" for name, content in tables.items()
               if hashlib.sha256(content).hexdigest() != DIGESTS[edition][name]]
    assert not changed, f"these tables changed: {changed} (digests for NumPy's SIMD target {TARGET}: " \
                        f"X86_V4 as recorded, {sorted(RECORDED['by_cpu'])} where they differ)"
