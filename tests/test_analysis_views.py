"""The sections of the analyses beside the index as the score and validate notebooks show them, on the
session's cdht and provinces runs: what is selected, in which language, and that the numbers are the run's."""
from __future__ import annotations

import pandas as pd
import pytest

from zoneindex import analysis_views, present
from zoneindex.study import load_study
from zoneindex.tables import read_stage_table

VALIDATE_TABLES = ("checks", "coupling", "obstacles", "top_obstacles", "small_bases")


def run_tables(run, study: str, year: int) -> dict:
    folder = run.out / "data/processed" / study / str(year)
    return {name: read_stage_table(folder / f"{name}.csv") for name in VALIDATE_TABLES
            if (folder / f"{name}.csv").exists()}


def tables_of(items) -> list[pd.DataFrame]:
    return [item.frame for item in items if isinstance(item, present.Table)]


@pytest.fixture(scope="module")
def cdht(study_run):
    return load_study("cdht"), run_tables(study_run("cdht"), "cdht", 2023), study_run("cdht")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_coupling_of_one_zone_is_shown_for_every_year_and_form(cdht, lang):
    study, tables, _ = cdht
    shown = tables_of(analysis_views.coupling(study, tables, lang, 2023))
    assert len(shown) == 1 and len(shown[0]) == len(tables["coupling"])  # every year in both forms
    header = "耦合协调度 D" if lang == "zh" else "coordination D"
    expected = tables["coupling"]["D"].map(lambda d: present.number(d, 3))
    assert shown[0][header].tolist() == expected.tolist()


def test_the_obstacles_of_the_focus_zone_are_its_top_ones_and_its_gap_by_year(cdht):
    study, tables, _ = cdht
    top, by_year = tables_of(analysis_views.obstacles(study, tables, "en", 2023))
    mine = tables["top_obstacles"].query("entity == 'CDHT' and year == 2023")
    assert len(top) == len(mine) and top["code"].tolist() == mine["code"].tolist()
    dimensions = study.framework.level_codes(study.framework.max_level - 1)
    assert len(by_year) == tables["obstacles"]["year"].nunique()
    assert [study.framework.name(code) for code in dimensions] == list(by_year.columns[2:])


def test_the_constant_indicator_of_cdht_is_named(cdht):
    study, tables, _ = cdht
    text = analysis_views.small_bases(study, tables, "en")[0].markdown
    assert text.startswith("**Constant indicators**: ") and "intl_coop_parks" in text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_combined_weights_and_the_expert_panel_of_cdht_are_shown(cdht, lang):
    study, _, run = cdht
    clean = read_stage_table(run.out / "data/processed/cdht/2023/clean.csv")
    items = analysis_views.combined_and_expert_weights(study, clean, lang)
    texts = [item.markdown for item in items if isinstance(item, present.Text)]
    assert any(t.startswith("**ahp_panel_entropy_combined**") for t in texts)
    assert any(("示意数据" if lang == "zh" else "Illustrative") in t for t in texts)  # generated questionnaires
    combination, consistency, spread = tables_of(items)
    assert len(combination) == len(study.framework.codes) - 1  # every node below the index
    # the illustrative panel's third expert is inconsistent on the index's group, so the study's rule excludes it
    expert, group, kept, cr = (consistency.columns[i] for i in (0, 2, -1, -3))
    excluded = consistency[consistency[kept] == ("否" if lang == "zh" else "no")]
    assert excluded[[expert, group]].values.tolist() == [["E03", "CDHT"]] and float(excluded[cr].iloc[0]) > 0.1
    # each group's panel weights sum to 1 and lie within the kept experts' range
    low, high, panel = (spread[c].astype(float) for c in spread.columns[[-2, -1, -3]])
    assert ((low <= panel + 1e-4) & (panel <= high + 1e-4)).all()
    assert spread.assign(w=panel).groupby(spread.columns[0])["w"].sum().round(3).eq(1.0).all()


def test_a_study_without_combined_or_expert_weights_says_so():
    study = load_study("hdi")
    items = analysis_views.combined_and_expert_weights(study, pd.DataFrame(), "zh")
    assert len(items) == 1 and "均未采用" in items[0].markdown


def test_the_small_bases_of_the_provinces_are_listed_with_their_ratio(study_run):
    study = load_study("provinces")
    tables = run_tables(study_run("provinces"), "provinces", study.last_year)
    items = analysis_views.small_bases(study, tables, "zh")
    listed = tables_of(items)[0]
    assert len(listed) == len(tables["small_bases"]) > 0
    assert set(tables["small_bases"]["ratio"]) and (tables["small_bases"]["ratio"] >= 10).all()
