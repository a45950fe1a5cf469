"""A new study from files only: 17 dimensions × 100 indicators, with not-applicable cells, a missing aggregate,
rules per level, an excluded entity, a passed-through indicator, data years and published-value checks. It is
written into a temporary copy of the project, run end to end by ``zoneindex run`` (every notebook, figure,
the write-up and the results pack), and its numbers are checked against hand formulas computed here from
the raw file alone."""
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from zoneindex import paths
from zoneindex.provenance import write_source_record
from tests.helpers import copy_project

pytestmark = pytest.mark.slow

DIMENSIONS = 17
SIZES = [6] * 15 + [5, 5]                      # 100 indicators
YEARS = [2020, 2021, 2022]
GROUPS = {"E1": "north", "E2": "north", "E3": "north", "E4": "north", "E5": "south", "E6": "south", "E7": "south",
          "E8": "south"}
NA_ENTITY, NA_DIMENSION, NA_INDICATOR = "E2", "D03", ("E3", "x005")   # cells that do not apply
HOLE = ("E4", 2021, "D07")                     # a whole dimension missing: imputed from the north's D07
THIN = ("E5", 2022, "D01", 3)                  # 3 of 6 indicators of D01 missing: below level 2's 0.6
SCREENED = ("E6", 2020)                        # data for 10 of 17 dimensions only: screened out at level 2
THROUGH = "x100"                               # arrives normalised (framework normalisation = none)

STUDY_YAML = """# yaml-language-server: $schema=../../docs/study.schema.json
study: synth
title: {en: Synthetic seventeen-dimension index, zh: 合成十七维指数}
years: {first: 2020, last: 2022}
base_year: null
framework: framework.csv
focus_entity: E1
entities: {exclude: [TOTAL]}
not_applicable:
  - {entity: E2, codes: [D03], reason: the third dimension does not exist for E2}
  - {entity: E3, codes: [x005], years: {first: 2020, last: 2022}, reason: a coastal indicator for a landlocked entity}
data:
  - file: panel.csv
    format: wide
    entity: entity
    year: year
    groups: [region]
    data_year_lag: 1
references:
  - file: published.csv
    entity: E1
    year_column: year
    value_column: value
    filter_column: entity
    codes: {index: SYN}
    rule: match
    decimals: 2
    rounding: half_up
    tolerance: 0.01
methods:
  imputation: {method: none}
  screening: {min_availability: 0.5, by_level: {2: 0.8}}
  outliers: {method: none}
  normalisation: {method: minmax, scale: [0, 100]}
  weights: {method: equal}
  aggregation:
    method: arithmetic
    min_availability: 0.5
    by_level: {2: {min_availability: 0.6}, 3: {min_availability: 0.9}}
    impute_missing: {levels: [2], group: region}
  rebase: false
"""


def framework() -> pd.DataFrame:
    rows = [dict(code="SYN", level=3, parent="", type="Aggregate", name_en="Synthetic index", name_zh="合成指数",
                 unit="", direction="", weight=1, normalisation="")]
    k = 0
    for d, size in enumerate(SIZES, start=1):
        rows.append(dict(code=f"D{d:02d}", level=2, parent="SYN", type="Aggregate", name_en=f"Dimension {d}",
                         name_zh=f"维度{d}", unit="", direction="", weight=1, normalisation=""))
        for _ in range(size):
            k += 1
            rows.append(dict(code=f"x{k:03d}", level=1, parent=f"D{d:02d}", type="Indicator",
                             name_en=f"Indicator {k} of dimension {d}", name_zh=f"指标{k}", unit="score",
                             direction=-1 if k % 7 == 0 else 1, weight=1,
                             normalisation="none" if f"x{k:03d}" == THROUGH else ""))
    return pd.DataFrame(rows)


def panel(fw: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(17)
    indicators = fw.loc[fw["level"] == 1, "code"].tolist()
    parent = fw.set_index("code")["parent"]
    rows = []
    for entity in [*GROUPS, "TOTAL"]:
        for year in YEARS:
            values = {c: round(float(rng.uniform(1, 99)), 3) for c in indicators}
            for c in indicators:
                if (entity == NA_ENTITY and parent[c] == NA_DIMENSION) or (entity, c) == NA_INDICATOR:
                    values[c] = None
                if (entity, year) == HOLE[:2] and parent[c] == HOLE[2]:
                    values[c] = None
                if (entity, year) == SCREENED and int(parent[c][1:]) > 10:
                    values[c] = None
            for c in [c for c in indicators if parent[c] == THIN[2]][:THIN[3]]:
                if (entity, year) == THIN[:2]:
                    values[c] = None
            rows.append({"entity": entity, "year": year, "region": GROUPS.get(entity, "all"), **values})
    return pd.DataFrame(rows)


def by_hand(fw: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """The index, computed from the raw panel with the formulas of the reference (no zoneindex code)."""
    meta = fw.set_index("code")
    indicators = meta.index[meta["level"] == 1]
    data = raw[raw["entity"] != "TOTAL"].set_index(["entity", "year"])
    data = data.drop(index=[SCREENED])                                  # screening at level 2 (10/17 < 0.8)
    x = data[indicators].astype(float)
    directed = x * meta.loc[indicators, "direction"].astype(float)
    s = 100 * (directed - directed.min()) / (directed.max() - directed.min())
    s[THROUGH] = x[THROUGH]                                             # passed through
    applies = pd.DataFrame(True, index=x.index, columns=indicators)
    applies.loc[NA_ENTITY, meta.index[meta["parent"] == NA_DIMENSION]] = False
    applies.loc[NA_INDICATOR[0], NA_INDICATOR[1]] = False
    dims = {}
    for d in meta.index[meta["level"] == 2]:
        kids = meta.index[meta["parent"] == d]
        present, applicable = s[kids].notna().sum(axis=1), applies[kids].sum(axis=1)
        value = s[kids].mean(axis=1)                                    # equal weights over present children
        value[(applicable == 0) | (present / applicable.where(applicable > 0) < 0.6)] = np.nan
        dims[d] = value
    dims = pd.DataFrame(dims)
    dim_applies = pd.DataFrame({d: applies[meta.index[meta["parent"] == d]].any(axis=1) for d in dims})
    region = data["region"]
    for d in dims:                                                     # imputed: the group's mean in the year
        means = dims[d].groupby([region, dims.index.get_level_values("year")]).transform("mean")
        dims[d] = dims[d].where(dims[d].notna() | ~dim_applies[d], means)
    available = dims.notna().sum(axis=1) / dim_applies.sum(axis=1)
    index = dims.mean(axis=1).where(available >= 0.9)
    return pd.DataFrame({"index": index, **dims})


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    project = copy_project(root / "project")
    (project / "docs").mkdir(exist_ok=True)
    seeds, raw_folder = project / "seeds" / "synth", project / "data" / "raw" / "synth"
    seeds.mkdir()
    raw_folder.mkdir()
    fw = framework()
    fw.to_csv(seeds / "framework.csv", index=False)
    (seeds / "study.yaml").write_text(STUDY_YAML, encoding="utf-8")
    raw = panel(fw)
    raw.to_csv(raw_folder / "panel.csv", index=False)
    expected = by_hand(fw, raw)
    published = expected["index"].xs("E1", level="entity").reset_index()
    # published as a statistical office prints: rounded half up to 2 decimals (0.125 -> 0.13)
    published["value"] = [float(f"{np.floor(v * 100 + 0.5) / 100:.2f}") for v in published["index"]]
    published.assign(entity="index")[["entity", "year", "value"]].to_csv(raw_folder / "published.csv", index=False)
    for name in ("panel.csv", "published.csv"):
        write_source_record(raw_folder / name, title="synthetic", publisher="tests", url="tests/test_synthetic_study.py",
                            retrieved="2026-12-01", licence="CC0-1.0", illustrative=True)
    out = root / "out"
    env = {**os.environ, "ZONEINDEX_ROOT": str(project)}
    check = subprocess.run([sys.executable, "-m", "zoneindex", "check", "--study", "synth"], capture_output=True,
                           text=True, env=env, cwd=paths.PROJECT_ROOT)
    done = subprocess.run([sys.executable, "-m", "zoneindex", "run", "--study", "synth", "--no-progress",
                           "--out-root", str(out)], capture_output=True, text=True, env=env, cwd=paths.PROJECT_ROOT)
    return out, check, done, expected, published


def test_the_check_reports_the_study(synth):
    _, check, _, _, _ = synth
    assert check.returncode == 0, check.stderr
    assert "framework: 100 indicators, 3 levels" in check.stdout and "D17 5" in check.stdout
    assert "definitions: not_applicable, impute_missing, availability_by_level, screening_by_level, entities, " \
           "passed_through, data_year, published_checks" in check.stdout


def test_a_17_dimension_study_runs_end_to_end_and_matches_the_hand_formulas(synth):
    out, _, done, expected, _ = synth
    assert done.returncode == 0, done.stderr[-4000:]
    processed = out / "data/processed/synth/2022"
    scores = pd.read_csv(processed / "scores.csv").set_index(["entity", "year", "code"])["value"]
    for code in expected.columns:
        ours = scores.xs(code if code != "index" else "SYN", level="code")
        hand = expected[code].reindex(ours.index)
        assert np.allclose(ours.to_numpy(dtype=float), hand.to_numpy(dtype=float), rtol=1e-12, atol=1e-9,
                           equal_nan=True), code
    assert not any(k[:2] == SCREENED for k in scores.index)              # screened out
    assert "TOTAL" not in set(scores.index.get_level_values("entity"))  # excluded
    figures = {p.name for p in (out / "figures/synth/2022").iterdir()}
    assert {"radar_en.png", "waterfall_en.png", "framework_en.png", "heatmap_en.png"} <= figures or \
        len([f for f in figures if f.endswith("_en.png")]) >= 4
    assert (out / "reports/synth/2022/methodology.pdf").read_bytes()[:5] == b"%PDF-"


def test_the_definitions_are_flagged_recorded_and_explained(synth):
    out, _, done, _, published = synth
    assert done.returncode == 0, done.stderr[-4000:]
    processed = out / "data/processed/synth/2022"
    flags = pd.read_csv(processed / "score_flags.csv")
    na = flags[flags["flag"] == "not-applicable"]
    assert {(NA_ENTITY, NA_DIMENSION), NA_INDICATOR} <= set(zip(na["entity"], na["code"]))
    imputed = flags[flags["flag"].str.startswith("imputed:aggregate-mean")]
    assert {(HOLE[0], HOLE[1], HOLE[2]), (THIN[0], THIN[1], THIN[2])} <= set(zip(imputed["entity"], imputed["year"],
                                                                                  imputed["code"]))
    clean = pd.read_csv(processed / "clean.csv")
    cell = clean[(clean["entity"] == NA_INDICATOR[0]) & (clean["indicator"] == NA_INDICATOR[1])]
    assert cell["flag"].str.contains("not-applicable").all() and cell["value"].isna().all()
    assert (clean["data_year"].dropna() == clean.loc[clean["data_year"].notna(), "year"] - 1).all()
    log = pd.read_csv(processed / "treatment_log.csv")
    assert ((log["entity"] == SCREENED[0]) & (log["year"] == SCREENED[1]) & log["method"].str.contains("level 2")).any()
    assert ((log["entity"] == "TOTAL") & (log["method"] == "entities: exclude")).any()
    checks = pd.read_csv(processed / "checks.csv").set_index("check")
    row = checks.loc["published values reproduced at 2 decimals (half_up, tolerance 0.01)"]
    assert row["status"] == "pass" and row["value"] == f"{len(published)}/{len(published)}"
    assert "rounded half-up to 2 decimals, within 0.01" in row["detail"]
    import json
    manifest = json.loads((processed / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["definitions"]) == {"not_applicable", "impute_missing", "availability_by_level",
                                            "screening_by_level", "entities", "passed_through", "data_year",
                                            "published_checks"}
    html = (out / "reports/synth/2022/methodology.html").read_text(encoding="utf-8")
    for phrase in ("Not applicable.", "Imputed aggregates.", "Passed through.", "Data year.", "Entities."):
        assert phrase in html, phrase
