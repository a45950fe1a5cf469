"""Citations: [@key] numbered in order of first citation, the reference list in GB/T 7714 (zh) and author–year (en)."""
from __future__ import annotations

import pytest

from zoneindex.citations import REFERENCES_FILE, Citations, format_reference, load_references
from zoneindex.errors import InputError

WORKS = load_references()


def test_the_shipped_references_hold_every_work_the_methods_cite():
    assert {"saltelli2010", "jansen1999", "oecd_jrc2008", "forman1998", "hwang1981", "deng1982", "wang2021ccd",
            "casisd_combination", "spssau", "saaty1980"} <= set(WORKS)


# Written out by hand from the GB/T 7714-2015 rules (capitalised Latin family names, initials without points,
# "et al." / "等" after three authors, [J] [M] [EB/OL]) and from the articles' own title pages.
@pytest.mark.parametrize("key, lang, expected", [
    ("saltelli2010", "zh", "SALTELLI A, ANNONI P, AZZINI I, et al. Variance based sensitivity analysis of model output. "
                           "Design and estimator for the total sensitivity index[J]. Computer Physics Communications, "
                           "2010, 181(2): 259–270. DOI:10.1016/j.cpc.2009.09.018."),
    ("saltelli2010", "en", "Saltelli, A., Annoni, P., Azzini, I., Campolongo, F., Ratto, M. and Tarantola, S. (2010). "
                           "Variance based sensitivity analysis of model output. Design and estimator for the total "
                           "sensitivity index. Computer Physics Communications 181(2), 259–270. "
                           "https://doi.org/10.1016/j.cpc.2009.09.018"),
    ("wang2021ccd", "zh", "王淑佳, 孔伟, 任亮, 等. 国内耦合协调度模型的误区及修正[J]. 自然资源学报, 2021, 36(3): 793–810. "
                          "https://www.jnr.ac.cn/article/2021/1000-3037/1000-3037-36-3-793.shtml."),
    ("hwang1981", "zh", "HWANG C L, YOON K. Multiple Attribute Decision Making: Methods and Applications[M]. "
                        "Berlin: Springer, 1981. DOI:10.1007/978-3-642-48318-9."),
    ("hwang1981", "en", "Hwang, C.-L. and Yoon, K. (1981). Multiple Attribute Decision Making: Methods and Applications. "
                        "Lecture Notes in Economics and Mathematical Systems 186. Berlin: Springer. "
                        "https://doi.org/10.1007/978-3-642-48318-9"),
    ("oecd_jrc2008", "zh", "OECD, European Commission Joint Research Centre. Handbook on Constructing Composite "
                           "Indicators: Methodology and User Guide[M]. Paris: OECD Publishing, 2008. "
                           "DOI:10.1787/9789264043466-en."),
    ("jansen1999", "en", "Jansen, M. J. W. (1999). Analysis of variance designs for model output. Computer Physics "
                         "Communications 117(1–2), 35–43. https://doi.org/10.1016/S0010-4655(98)00154-4"),
    ("spssau", "zh", "SPSSAU. 熵值法、熵权TOPSIS、灰色关联分析帮助手册[EB/OL]. (2024)[2026-12-01]. "
                     "https://www.spssau.net/helps/entropy.html."),
])
def test_reference_styles(key, lang, expected):
    assert format_reference(WORKS[key], lang) == expected


def test_works_are_numbered_in_the_order_they_are_first_cited():
    cites = Citations(WORKS, "en")
    first = cites.replace("The total index [@jansen1999] …", "a.ipynb")
    second = cites.replace("first order [@saltelli2010; @jansen1999], again [@jansen1999].", "a.ipynb")
    assert first == r"The total index \[[1](#ref-jansen1999)\] …"
    assert second == r"first order \[[2](#ref-saltelli2010), [1](#ref-jansen1999)\], again \[[1](#ref-jansen1999)\]."
    listed = cites.reference_list_html()
    assert listed.index('id="ref-jansen1999" value="1"') < listed.index('id="ref-saltelli2010" value="2"')
    assert '<h1 id="references">References</h1>' in listed


def test_a_figure_reference_becomes_its_number():
    cites = Citations(WORKS, "zh", {"fig:radar": "图 3"})
    assert cites.replace("见[@fig:radar]。", "b.ipynb") == "见[图 3](#fig-radar)。"
    assert cites.reference_list_html() == ""  # a cross-reference cites no work


def test_an_unknown_key_is_an_error_naming_it_and_the_notebook():
    with pytest.raises(InputError, match=r"\[@saltelli2011\]") as caught:
        Citations(WORKS, "en").replace("as shown [@saltelli2011]", "notebooks/04_validate.ipynb")
    assert "04_validate.ipynb" in str(caught.value)


@pytest.mark.parametrize("entry, message", [
    ("x:\n  type: article\n  authors: [A]\n  year: 2000\n  title: T\n  journal: J\n  pages: 1-2\n  edition: 2\n",
     "unknown field edition"),
    ("x:\n  type: thesis\n  authors: [A]\n  year: 2000\n  title: T\n", "known type"),
    ("x:\n  type: book\n  authors: [A]\n  year: 2000\n  title: T\n", "lacks publisher"),
])
def test_a_bad_reference_file_is_an_error_naming_the_entry(tmp_path, entry, message):
    path = tmp_path / REFERENCES_FILE.name
    path.write_text(entry, encoding="utf-8")
    with pytest.raises(InputError, match=message) as caught:
        load_references(path)
    assert "x" in str(caught.value) and str(path.name) in str(caught.value)
