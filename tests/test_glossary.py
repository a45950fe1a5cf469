"""The glossary, the bilingual method text and the tables as the write-up shows them.

Every method of every registry has its Chinese formula (a new method of any family must bring one); a table
header the glossary does not know fails in Chinese instead of passing through in English; numbers are shown
for people; the worked example's arithmetic is redone here by hand from the clean table and the weights.
"""
from __future__ import annotations

import re

import nbformat
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, strategies as st

from zoneindex import aggregate, glossary, methodtext, normalise, present, score, weight
from zoneindex.clean import clean_study
from zoneindex.errors import InputError
from zoneindex.impute import IMPUTATION_TEXT, IMPUTERS
from zoneindex.ingest import ingest, read_entities
from zoneindex.paths import NOTEBOOKS
from zoneindex.report import in_language
from zoneindex.study import load_study

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("family, registry", [(normalise, normalise.NORMALISERS), (weight, weight.WEIGHTERS),
                                              (aggregate, dict.fromkeys(aggregate.AGGREGATORS))])
def test_every_registered_method_has_a_chinese_formula(family, registry):
    missing = sorted(set(registry) - set(family.FORMULAS_ZH))
    assert not missing, f"{family.__name__}.FORMULAS_ZH lacks {missing}"
    assert set(family.FORMULAS_ZH) == set(family.FORMULAS)
    for name, text in family.FORMULAS_ZH.items():
        assert CJK.search(re.sub(r"\$.*?\$", "", text, flags=re.S)), f"{name}: the Chinese text has no Chinese"


@pytest.mark.parametrize("registry", [normalise.NORMALISERS, weight.WEIGHTERS, aggregate.AGGREGATORS])
def test_every_registered_method_has_a_term_in_both_languages(registry):
    # the method prose names a study's choices through glossary.term, which refuses an unknown key
    missing = sorted(set(registry) - set(glossary.TERMS))
    assert not missing, f"glossary.TERMS lacks {missing}"
    for name in registry:
        assert CJK.search(glossary.term(name, "zh")) and not CJK.search(glossary.term(name, "en")), name


def test_every_imputation_method_has_chinese_text():
    assert set(IMPUTATION_TEXT) <= set(methodtext.IMPUTATION_TEXT_ZH) | {"none"}
    assert set(IMPUTERS) <= set(methodtext.IMPUTATION_TEXT_ZH)
    for text in (aggregate.CHAIN_FORMULA_ZH, aggregate.REBASE_FORMULA_ZH, aggregate.DECOMPOSITION_FORMULA_ZH):
        assert CJK.search(text)


def test_the_glossary_uses_the_standard_chinese_terms():
    expected = {"weights": "权重", "arithmetic": "算术平均", "geometric": "几何平均", "entropy": "熵权法",
                "sensitivity": "敏感性分析", "sobol": "Sobol 指数", "uncertainty": "不确定性分析",
                "contribution": "贡献", "base_year": "基期", "effective_weight": "有效权重", "normalisation": "标准化"}
    assert {key: glossary.term(key, "zh") for key in expected} == expected
    assert glossary.term("entropy", "en") == "entropy weight method"
    with pytest.raises(InputError):
        glossary.term("no such term", "zh")


def test_an_unknown_header_fails_in_chinese_but_codes_and_names_pass():
    frame = pd.DataFrame({"check": ["weights sum to 1 in every group"], "D1_2": [1.0], "四川": [2.0],
                          "fdi_actual": [3.0], "made_up_column": [4.0]})
    with pytest.raises(InputError, match="made_up_column"):
        glossary.headers(frame, "zh", names={"fdi_actual": "实际使用外资"})
    shown = glossary.headers(frame.drop(columns="made_up_column"), "zh", names={"fdi_actual": "实际使用外资"})
    assert list(shown.columns) == ["检查项", "D1_2", "四川", "实际使用外资"]
    # in English an unknown header is shown as it is
    assert list(glossary.headers(frame, "en").columns)[-1] == "made_up_column"


def test_check_names_and_word_cells_are_translated():
    assert glossary.value_text("base year 2018 = 100 for every node", "zh") == "基期 2018 年所有节点等于 100"
    assert glossary.value_text("largest |sum - 1| over 17 groups", "zh") == "17 组中 |和 − 1| 的最大值"
    assert glossary.value_text("pass", "zh") == "通过"
    assert glossary.value_text("CDHT", "zh") == "CDHT"   # data pass unchanged
    assert glossary.value_text("pass", "en") == "pass"


def test_numbers_are_formatted_for_people():
    assert present.number(3.552713678800501e-14) == "< 1e-12"
    assert present.number(-2.1e-14) == "< 1e-12"
    assert present.number(0.0) == "0.000"
    assert present.number(np.int64(288)) == "288"
    assert present.number(0.146075, percent=True) == "14.6 %"
    assert present.number(float("nan")) == "—"
    assert present.number(123.456789, 2) == "123.46"
    assert present.number(-1.5) == "−1.500"
    assert present.number(0.00001234) == "1.23e−05"


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False))
def test_a_shown_number_never_uses_e_notation_unless_it_is_tiny(x):
    text = present.number(x)
    if x == 0 or abs(x) >= 1e-4:
        assert "e" not in text
    value = float(text.replace("−", "-").replace(",", "")) if "<" not in text else 0.0
    assert abs(value - x) <= max(0.0005, 1e-12) + (0.5 if abs(x) >= 1e6 else 0)


def test_a_table_hides_the_index_and_translates_headers_and_words():
    checks = pd.DataFrame({"check": ["weights sum to 1 in every group"], "status": ["pass"], "value": [3.55e-14],
                           "detail": ["largest |sum - 1| over 3 groups"]})
    html = present.table(checks, "zh")._repr_html_()
    assert "<th>检查项</th>" in html and "<td>通过</td>" in html and "&lt; 1e-12" in html
    assert "3.55e-14" not in html
    indexed = pd.DataFrame({"values": [288]}, index=pd.Index(["a.csv"], name="source_file"))
    shown = present.table(indexed, "zh")
    assert list(shown.frame.columns) == ["来源文件", "数值个数"]
    assert "<th></th>" not in shown._repr_html_()   # no unnamed index column


def test_the_framework_is_split_by_dimension():
    study = load_study("cdht")
    parts = present.framework_tables(study.framework, "zh")
    assert [name for name, _ in parts] == [study.framework.name(c, "zh") for c in study.framework.level_codes(3)]
    shown = sum(len(t) for _, t in parts)
    assert shown == len(study.framework.codes) - 1               # every node but the index, once
    first = parts[0][1].frame
    assert list(first.columns[:4]) == ["代码", "层级", "名称", "单位"]
    assert "亿美元" in set(first["单位"])                          # USD 100m
    assert first["有效权重"].iloc[0] == "20.0 %"                  # D1: one of five equal dimensions


def test_effective_weights_are_explained_with_the_largest_and_smallest():
    study = load_study("cdht")
    text = methodtext.effective_weights_text(study.framework, study.framework.table["weight"].astype(float), "en")
    fw = study.framework
    effective = fw.effective_weights(fw.table["weight"].astype(float)).reindex(fw.indicators)
    assert fw.name("foreign_rd_centres") in text and f"{effective.max():.1%}" in text and f"{effective.min():.1%}" in text
    assert "only indicator" in text and "4.0 times" in text and "from the tree alone" in text
    assert "expert judgement" not in score.describe_methods(study)
    zh = methodtext.effective_weights_text(fw, fw.table["weight"].astype(float), "zh")
    assert "唯一的指标" in zh and "4.0 倍" in zh


def test_levels_that_share_a_rule_are_described_once():
    text = score.describe_methods(load_study("cdht"), "en")
    assert text.count("**Aggregation") == 1 and "index, dimensions, sub-areas" in text
    hdi = score.describe_methods(load_study("hdi"), "zh")
    assert hdi.count("**加总") == 2 and "几何平均" in hdi and "算术平均" in hdi


def test_every_method_choice_is_printed_with_its_parameters():
    study = load_study("hdi")
    text = score.describe_methods(study, "zh")
    assert "（`goalposts`；scale = [0, 1]，cap = True）" in text
    assert "**Normalisation: `goalposts` (scale = [0, 1], cap = True).**" in score.describe_methods(study)


def test_the_notation_gives_each_symbol_one_meaning():
    symbols = [row[0] for row in methodtext.NOTATION]
    assert len(symbols) == len(set(symbols))
    for lang in ("en", "zh"):
        table = methodtext.notation(lang)
        assert table.count("\n| $") == len(symbols)


@pytest.fixture(scope="module")
def cdht_scored():
    study = load_study("cdht")
    tidy, _ = ingest(study, study.last_year)
    clean, _ = clean_study(study, tidy, range(study.first_year, study.last_year + 1), read_entities(study))
    return study, clean, score.score(study, clean)


def test_the_worked_example_is_redone_by_hand(cdht_scored):
    study, clean, result = cdht_scored
    example = score.worked_example(study, clean, result.scores, result.weights, "foreign_rd_centres", 2023, "CDHT")
    raw = clean[clean["indicator"] == "foreign_rd_centres"].set_index("year")["value"]
    # ratio to the base year by hand: 100 · x_2023 / x_2018
    assert example.raw.set_index("year").at[2023, "normalised"] == pytest.approx(100 * raw[2023] / raw[2018])
    assert [step.code for step in example.steps] == ["D1_3", "D1", "CDHT"]
    # D1_3 has one child: its value is the indicator's; D1 is the mean of its three sub-areas (weights 1, 1, 1)
    assert example.steps[0].value == pytest.approx(100 * raw[2023] / raw[2018])
    wide = result.wide.loc[("CDHT", 2023)]
    assert example.steps[1].mean == pytest.approx((wide["D1_1"] + wide["D1_2"] + wide["D1_3"]) / 3)
    # the index: five dimensions with equal weight, every aggregate 100 in 2018 (ratio to base: A_b = 100)
    assert example.steps[2].value == pytest.approx(sum(wide[f"D{k}"] for k in range(1, 6)) / 5)
    for step in example.steps:
        assert step.value == pytest.approx(step.scored, rel=1e-12)
        assert step.children["relative_weight"].sum() == pytest.approx(1.0)
    shown = present.worked_example(example, study, "zh")
    assert any("标准化：$v = 100" in getattr(part, "markdown", "") for part in shown)


def test_the_example_indicator_is_the_largest_contributor(cdht_scored):
    study, _, result = cdht_scored
    code = score.example_indicator(study, result.contributions, "CDHT", 2023)
    own = result.contributions[(result.contributions["year"] == 2023) & (result.contributions["level"] == 1)]
    assert code == own.loc[own["to_index"].abs().idxmax(), "code"]


def test_every_notebook_has_its_prose_in_both_languages():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cells = nb.cells
        for k, cell in enumerate(cells):
            tags = set(cell.metadata.get("tags", []))
            if cell.cell_type != "markdown" or "remove-cell" in tags:
                continue
            assert tags & {"lang-en", "lang-zh"}, f"{path.name}: untagged prose cell {cell.id}"
            if "lang-en" in tags:
                twin = cells[k + 1]
                assert "lang-zh" in twin.metadata.get("tags", []) and twin.id == f"{cell.id}-zh", (path.name, cell.id)
                assert CJK.search(twin.source) and not CJK.search(re.sub(r"`[^`]*`", "", cell.source)), cell.id
        for lang in ("en", "zh"):
            kept = in_language(nbformat.read(path, as_version=4), lang).cells
            other = "lang-zh" if lang == "en" else "lang-en"
            assert not any(other in c.metadata.get("tags", []) for c in kept)


def test_every_check_of_the_validate_stage_reads_in_chinese(cdht_scored):
    """The checks table's names and details are English sentences with numbers: each one the validate stage
    writes for the CDHT study has its Chinese form (a new or reworded check fails here first)."""
    from zoneindex.ingest import read_references
    from zoneindex.validate import validate

    study, clean, result = cdht_scored
    checks = validate(study, clean, result.scores, result.weights, result.contributions, read_references(study))["checks"]
    for text in [*checks["check"], *checks["detail"]]:
        shown = glossary.value_text(text, "zh")
        words = re.sub(r"\b\w*(?:_|\d)\w*\b|\b[A-Z]{2,}\b", " ", shown)
        assert CJK.search(shown) and not re.search(r"[A-Za-z]+(?:\s+[A-Za-z]+){2,}", words), (text, shown)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("methods", [{"aggregation": {"method": name}} for name in aggregate.AGGREGATORS]
                         + [{"normalisation": {"method": "vector"}}, {"weights": {"method": "equal_indicators"}},
                            {"weights": {"method": "combined", "of": ["equal", "entropy"], "rule": "additive"}}])
def test_the_method_prose_describes_every_aggregation_and_the_new_choices(methods, lang):
    variant = score.with_methods(load_study("cdht"), methods)
    text = score.describe_methods(variant, lang)
    method = next(iter(methods.values()))["method"]
    assert glossary.term(method, lang) in text or f"`{method}`" in text, (method, text[:400])
