"""A Chinese write-up is Chinese throughout, an English one English (entity and indicator names aside).

What a reader sees is the page's text without formulas (MathML), code spans, numbers, URLs and codes (indicator,
node and entity codes, method names in code style), and without the reference list (works are cited in their
own language). In a Chinese write-up no run of three or more English words
may remain, beyond a short list of proper nouns; every heading and the table of contents are Chinese. In an English
write-up no Chinese character may appear outside the study's own names (entities, indicators and nodes, whose
Chinese names are data) and the Chinese examples of typed cells.
"""
from __future__ import annotations

import html
import re

import pytest

from zoneindex.study import load_study

# Proper nouns and names that stay in their own language in a Chinese report
PROPER_NOUNS = ("Chengdu Hi-tech", "OECD/JRC", "COINr", "Sobol", "Saltelli", "Jansen", "Pearson", "Spearman",
                "Cronbach", "Kaiser–Meyer–Olkin", "Mazziotta–Pareto", "Nelder–Mead", "Monte Carlo", "Excel", "SKEW",
                "KURT", "Z-score", "JRC", "PDF", "SVG", "PNG", "KMO", "R&D", "Global Innovation Index")
LATIN_RUN = re.compile(r"[A-Za-z][A-Za-z'’\-]*(?:[ \t]+[A-Za-z][A-Za-z'’\-]*){2,}")
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")


def visible_text(page: str) -> str:
    """The page's prose as a reader sees it, with formulas, code, URLs, numbers and codes taken out."""
    body = page[page.index("<body"):] if "<body" in page else page
    # the reference list cites works in their own language (GB/T 7714 keeps an English title English)
    body = re.sub(r'<ol class="reference-list">.*?</ol>', " ", body, flags=re.S)
    for tag in ("style", "script", "math", "code", "pre"):
        body = re.sub(rf"<{tag}\b.*?</{tag}>", " ", body, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    text = html.unescape(body)
    text = re.sub(r"https?://\S+|\b[\w./-]+\.(?:csv|xlsx|ods|xls|py|yaml|png|svg|pdf|ipynb|zip|docx)\b", " ", text)
    text = re.sub(r"\b\w*(?:_|\d)\w*\b", " ", text)        # codes: snake_case, D1_2, years, numbers
    text = re.sub(r"\b[A-Z]{2,}\b", " ", text)             # codes in capitals: CDHT, PROVINTL
    return text


def english_runs(text: str) -> list[str]:
    for noun in PROPER_NOUNS:
        text = text.replace(noun, " ")
    return [m.group(0) for m in LATIN_RUN.finditer(text)]


def headings(page: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", h)).strip()
            for h in re.findall(r"<h[1-6][^>]*>(.*?)</h[1-6]>", page, flags=re.S)]


def test_the_text_filter_finds_english_prose_and_ignores_codes():
    page = ("<body><h1>结果</h1><p>本研究采用 <code>ratio_to_base</code> 方法，D1_2 与 CDHT 为代码，"
            "<math><mi>x</mi><mi>y</mi><mi>z</mi></math>，Sobol 指数。The index grows fast.</p></body>")
    assert english_runs(visible_text(page)) == ["The index grows fast"]
    assert english_runs(visible_text("<body><p>全球 Monte Carlo 模拟与 Chengdu Hi-tech 园区</p></body>")) == []


def write_up(run, study: str) -> str:
    year = load_study(study).last_year
    return (run.out / "reports" / study / str(year) / "methodology.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("study", ["cdht", "provinces"])
def test_a_chinese_write_up_has_no_english_prose(study_run, study):
    run = study_run(study, lang="zh")
    assert run.returncode == 0, run.stderr[-2000:]
    page = write_up(run, study)
    runs = english_runs(visible_text(page))
    assert not runs, f"{len(runs)} English runs in the Chinese write-up, e.g. {runs[:15]}"
    toc = re.search(r'<nav\b.*?</nav>', page, flags=re.S)
    assert toc is not None and "目录" in toc.group(0)
    for heading in headings(page) + [html.unescape(re.sub(r"<[^>]+>", "", t)) for t in
                                     re.findall(r"<a [^>]*>(.*?)</a>", toc.group(0), flags=re.S)]:
        assert CJK.search(heading) or not heading.strip(), f"heading not in Chinese: {heading!r}"
        assert not english_runs(visible_text(heading)), heading


@pytest.mark.parametrize("study", ["cdht", "provinces"])
def test_an_english_write_up_has_no_chinese_outside_the_names(study_run, study):
    run = study_run(study)
    assert run.returncode == 0, run.stderr[-2000:]
    fw = load_study(study).framework
    text = visible_text(write_up(run, study))
    names = set(fw.table["name_zh"].dropna().astype(str)) | _entities(run, study) | _study_data(study)
    # typed-cell examples of the ingest notebook
    names |= {"亿元", "万元"}
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    left = sorted(set(re.findall(r"[\u3400-\u9fff]+", text)))
    assert not left, f"Chinese outside the names in the English write-up: {left[:20]}"


def _entities(run, study: str) -> set[str]:
    import pandas as pd

    year = load_study(study).last_year
    folder = run.out / "data" / "processed" / study / str(year)
    names = set(pd.read_csv(folder / "scores.csv", usecols=["entity"])["entity"].astype(str))
    log = folder / "treatment_log.csv"
    if log.exists():  # repaired spellings of entity names are shown in the appendix
        table = pd.read_csv(log, usecols=["before", "after", "method"], dtype=str)
        names |= set(table["before"].dropna()) | set(table["after"].dropna()) | set(table["method"].dropna())
    return names


def _study_data(study: str) -> set[str]:
    """The Chinese written in the study's own files (framework units and bases, entity-name repairs, source
    records of the raw files): data the English write-up shows as it is."""
    from zoneindex.paths import PROJECT_ROOT

    files = [*(PROJECT_ROOT / "seeds" / study).glob("*.csv"), PROJECT_ROOT / "seeds" / study / "study.yaml",
             *(PROJECT_ROOT / "data" / "raw" / study).glob("*.source.yaml")]
    return {piece for path in files for piece in re.findall(r"[\u3400-\u9fff]+", path.read_text(encoding="utf-8"))}
