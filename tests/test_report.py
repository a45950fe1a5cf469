"""The methodology write-up: code hidden, outputs kept, math as MathML, self-contained, deterministic."""
from __future__ import annotations

import base64
import io
import re
import shutil

import matplotlib
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from zoneindex.errors import InputError
from zoneindex.report import (CHROMIUM_ENV, CHROMIUM_NAMES, MissingToolError, _stable_pdf, build_methodology_html,
                               build_methodology_pdf)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)

TABLE = ('<table border="1" class="dataframe"><thead><tr><th>zone</th><th>score</th></tr></thead>'
         "<tbody><tr><td>北区</td><td>1,234.5</td></tr><tr><td>南区</td><td>-0.75</td></tr></tbody></table>")


def _png() -> str:
    fig, ax = plt.subplots(figsize=(1, 1), dpi=20)
    ax.plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _tagged(cell, *tags):
    cell.metadata["tags"] = list(tags)
    return cell


def _save(path, cells):
    nb = new_notebook(cells=cells)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def notebooks(tmp_path):
    png = _png()
    first = _save(tmp_path / "01_ingest.ipynb", [
        _tagged(new_code_cell('study = "SECRET_PARAM_STUDY"'), "parameters"),
        _tagged(new_code_cell("year = 2099  # INJECTED_MARKER"), "injected-parameters"),
        new_markdown_cell("# Framework 中文标题\n\nThe index is $I_t = \\sum_k W_k D_{k,t}$ for every zone, "
                          "costs \\$5 and $10 stay text.\n\n$$\nW_k = \\frac{w_k}{\\sum_j w_j}\n$$\n\n"
                          "## Data and sources\n\n## Summary\n\n### Detail"),
        new_code_cell("df.to_html()  # CODE_MARKER_TABLE", execution_count=1, outputs=[
            new_output("execute_result", execution_count=1, data={"text/html": TABLE, "text/plain": "df"})]),
        new_code_cell("print('rows')  # CODE_MARKER_PRINT", outputs=[
            new_output("stream", name="stderr", text="WARNING_STDERR_MARKER\n"),
            new_output("stream", name="stdout", text="rows loaded: 42\n")]),
    ])
    second = _save(tmp_path / "05_visualize.ipynb", [
        new_markdown_cell("# Results\n\n## Summary"),
        new_code_cell("plt.plot(x)  # CODE_MARKER_PLOT", outputs=[
            new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})]),
        _tagged(new_code_cell("print(1)", outputs=[new_output("stream", name="stdout", text="HIDDEN_OUTPUT_MARKER")]),
                "remove-output"),
        _tagged(new_code_cell("x", outputs=[new_output("stream", name="stdout", text="REMOVED_CELL_MARKER")]),
                "remove-cell"),
    ])
    return [first, second], png


def _build(notebooks, tmp_path, name="m.html", **kw):
    kw.setdefault("title", "Zone index methodology")
    return build_methodology_html(notebooks, tmp_path / "out" / name, **kw).read_text(encoding="utf-8")


def test_code_is_hidden_and_outputs_kept(notebooks, tmp_path):
    paths, png = notebooks
    page = _build(paths, tmp_path)
    assert "CODE_MARKER" not in page and "df.to_html" not in page and "plt.plot" not in page
    assert "<table" in page and "北区" in page
    assert f'src="data:image/png;base64,{png}"' in page
    assert "rows loaded: 42" in page


def test_tagged_cells_and_stderr_are_dropped(notebooks, tmp_path):
    page = _build(notebooks[0], tmp_path)
    for marker in ("SECRET_PARAM_STUDY", "INJECTED_MARKER", "HIDDEN_OUTPUT_MARKER", "REMOVED_CELL_MARKER",
                   "WARNING_STDERR_MARKER"):
        assert marker not in page


def test_latex_becomes_mathml(notebooks, tmp_path):
    page = _build(notebooks[0], tmp_path)
    assert page.count("<math") == 2 and '<math display="block">' in page
    assert "&#x02211;" in page  # the summation sign
    assert "\\sum" not in page and "\\frac" not in page and "$I_t" not in page
    assert "costs $5 and $10 stay text" in page


def test_page_loads_nothing_from_outside(notebooks, tmp_path):
    page = _build(notebooks[0], tmp_path)
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", page, re.I)
    assert not re.search(r"<script[^>]*\ssrc\s*=", page, re.I) and "<link" not in page
    assert all(src.startswith("data:") for src in re.findall(r'\ssrc="([^"]*)"', page))
    assert not re.search(r"mathjax|require\.js|cdn", page, re.I)


def test_lang_fonts_and_print_css(notebooks, tmp_path):
    assert '<html lang="zh-CN">' in _build(notebooks[0], tmp_path, "zh.html", lang="zh")
    page = _build(notebooks[0], tmp_path)
    assert '<html lang="en">' in page
    assert '"Noto Sans CJK SC"' in page and "@media print" in page
    assert '<td class="num">1,234.5</td>' in page and '<td class="num">-0.75</td>' in page
    assert "<td>北区</td>" in page  # text stays left-aligned


def test_banner_only_when_given(notebooks, tmp_path):
    text = "This edition uses illustrative data & must not be cited."
    page = _build(notebooks[0], tmp_path, banner=text)
    assert 'class="banner"' in page and "illustrative data &amp; must not" in page
    assert page.index('class="banner"') < page.index("<header") < page.index("<main")
    assert 'class="banner"' not in _build(notebooks[0], tmp_path, "plain.html")


def test_toc_links_to_unique_heading_ids_in_notebook_order(notebooks, tmp_path):
    page = _build(notebooks[0], tmp_path)
    toc = page[page.index('<nav class="toc"'):page.index("</nav>")]
    for anchor, label in (("framework-中文标题", "Framework 中文标题"), ("data-and-sources", "Data and sources"),
                          ("summary", "Summary"), ("results", "Results"), ("summary-2", "Summary")):
        assert f'<a href="#{anchor}">{label}</a>' in toc
        assert f'id="{anchor}"' in page
    assert "Detail" not in toc  # only h1 and h2
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    assert page.index('id="framework-中文标题"') < page.index('id="results"')
    reversed_page = _build(notebooks[0][::-1], tmp_path, "rev.html")
    assert reversed_page.index('id="results"') < reversed_page.index('id="framework-中文标题"')


def test_builds_are_byte_identical_and_leave_no_temp_file(notebooks, tmp_path):
    a = build_methodology_html(notebooks[0], tmp_path / "a" / "m.html", title="T", banner="B")
    b = build_methodology_html(notebooks[0], tmp_path / "b" / "m.html", title="T", banner="B")
    assert a.read_bytes() == b.read_bytes()
    build_methodology_html(notebooks[0], a, title="T", banner="B")  # overwrite in place
    assert a.read_bytes() == b.read_bytes()
    assert [p.name for p in a.parent.iterdir()] == ["m.html"]


def test_markdown_image_next_to_notebook_is_embedded(tmp_path):
    (tmp_path / "fig.png").write_bytes(base64.b64decode(_png()))
    nb = _save(tmp_path / "n.ipynb", [new_markdown_cell("# Fig\n\n![map](fig.png)")])
    page = _build([nb], tmp_path)
    assert re.search(r'<img alt="map" src="data:image/png;base64,', page)


@pytest.mark.parametrize("cells", [
    [new_code_cell("x", outputs=[new_output("display_data", data={
        "text/html": '<script src="https://cdn.example.org/plotly.js"></script>'})])],
    [new_markdown_cell("![map](missing.png)")],
    [new_markdown_cell("$\\notacommand{x}$")],
], ids=["cdn-script", "missing-image", "unknown-latex"])
def test_what_cannot_be_self_contained_is_an_error(tmp_path, cells):
    nb = _save(tmp_path / "bad.ipynb", cells)
    with pytest.raises(InputError, match="bad.ipynb"):
        _build([nb], tmp_path)
    assert not (tmp_path / "out" / "m.html").exists()


def test_no_notebooks_is_an_error(tmp_path):
    with pytest.raises(InputError):
        build_methodology_html([], tmp_path / "m.html", title="T")


# --- print layout and the PDF ---------------------------------------------------------------------------

def _table_html(columns: int, cell: str) -> str:
    head = "".join(f"<th>c{j}</th>" for j in range(columns))
    row = "".join(f"<td>{cell}</td>" for _ in range(columns))
    return f'<table border="1" class="dataframe"><thead><tr><th></th>{head}</tr></thead><tbody>' + \
        f"<tr><th>北区</th>{row}</tr><tr><th>南区</th>{row}</tr></tbody></table>"


@pytest.fixture
def wide_notebook(tmp_path):
    """Three tables: one that fits, one that fits with a smaller font, one that needs a landscape page."""
    cells = [new_markdown_cell("# Wide tables 宽表")]
    for columns, cell in ((5, "0.25"), (16, "0.9999"), (30, "123456.789")):
        cells.append(new_code_cell("t", outputs=[new_output("display_data", data={
            "text/html": _table_html(columns, cell), "text/plain": "t"})]))
    return _save(tmp_path / "06_wide.ipynb", cells)


def test_wide_tables_get_a_smaller_print_font_or_a_landscape_page(wide_notebook, tmp_path):
    page = _build([wide_notebook], tmp_path)
    tables = re.findall(r"<table[^>]*>", page)
    assert len(tables) == 3
    assert "print-fit" not in tables[0]
    assert 'class="print-fit dataframe"' in tables[1] and "landscape" not in tables[1]
    assert 6.0 <= float(re.search(r"--print-font-size: ([\d.]+)pt", tables[1])[1]) < 8
    assert "print-landscape" in tables[2]
    assert "@page landscape" in page and "page: landscape" in page


needs_chromium = pytest.mark.skipif(not any(shutil.which(n) for n in CHROMIUM_NAMES), reason="no Chromium installed")


def _pdf(path):
    pypdfium2 = pytest.importorskip("pypdfium2")
    return pypdfium2, pypdfium2.PdfDocument(path)


@pytest.mark.slow  # Chromium prints the page
@needs_chromium
def test_pdf_has_every_page_glyph_and_image(notebooks, wide_notebook, tmp_path):
    paths, _ = notebooks
    html_page = build_methodology_html([*paths, wide_notebook], tmp_path / "m.html", title="Zone index 区域指数",
                                       lang="en", banner="Illustrative data 示意数据")
    out = build_methodology_pdf(html_page, tmp_path / "pdf" / "m.pdf")
    pypdfium2, pdf = _pdf(out)
    assert 2 <= len(pdf) <= 5
    text = "".join(p.get_textpage().get_text_range() for p in pdf)
    for words in ("中文标题", "北区", "区域指数", "示意数据", "rows loaded: 42"):
        assert words in text
    data = out.read_bytes()
    assert b"NotoSansCJK" in data  # the named CJK face, not a Kaiti fallback or missing glyphs
    images = sum(1 for p in pdf for o in p.get_objects(max_depth=5) if o.type == pypdfium2.raw.FPDF_PAGEOBJ_IMAGE)
    assert images == html_page.read_text(encoding="utf-8").count("<img")
    sizes = [p.get_size() for p in pdf]
    assert any(w > h for w, h in sizes) and any(w < h for w, h in sizes)  # the widest table is on its own landscape page
    for page, (width, _) in zip(pdf, sizes):  # nothing printed beyond the right edge: no clipped column
        textpage = page.get_textpage()
        assert all(textpage.get_charbox(i)[2] <= width - 20 for i in range(textpage.count_chars()))


@pytest.mark.slow  # Chromium prints the page
@needs_chromium
def test_pdf_is_byte_identical_with_a_fixed_date(notebooks, tmp_path):
    html_page = build_methodology_html(notebooks[0], tmp_path / "m.html", title="T")
    a = build_methodology_pdf(html_page, tmp_path / "a" / "m.pdf")
    b = build_methodology_pdf(html_page, tmp_path / "b" / "m.pdf")
    assert a.read_bytes() == b.read_bytes()
    assert b"/CreationDate (D:20000101000000+00'00')" in a.read_bytes()
    assert [p.name for p in a.parent.iterdir()] == ["m.pdf"]


def test_what_varies_between_prints_is_made_stable_without_moving_offsets():
    def pdf(first, second, when):
        return (b"<</ID (node%08d)>> <</ID (node%08d)>> /IDTree <</Names [(node%08d) 1 0 R (node%08d) 2 0 R]>> "
                b"/CreationDate (D:%s+01'00')" % (first, second, first, second, when))
    a, b = _stable_pdf(pdf(79, 80, b"20261127144623")), _stable_pdf(pdf(78, 80, b"20261127150102"))
    assert a == b and len(a) == len(pdf(79, 80, b"20261127144623"))
    assert b"(node00000001)" in a and b"(node00000002)" in a and b"D:20000101000000+00'00'" in a


def test_pdf_without_chromium_names_the_package(notebooks, tmp_path, monkeypatch):
    html_page = build_methodology_html(notebooks[0], tmp_path / "m.html", title="T")
    monkeypatch.setenv(CHROMIUM_ENV, "no-such-browser-zoneindex")
    with pytest.raises(MissingToolError, match="apt-get install chromium"):
        build_methodology_pdf(html_page, tmp_path / "m.pdf")
    assert not (tmp_path / "m.pdf").exists()
    monkeypatch.delenv(CHROMIUM_ENV)
    with pytest.raises(InputError, match="no write-up page"):
        build_methodology_pdf(tmp_path / "missing.html", tmp_path / "m.pdf")


def test_summary_numbers_come_from_the_tables():
    """The summary quotes the run's own numbers: change them and the sentence changes with them."""
    import pandas as pd

    from zoneindex.study import load_study
    from zoneindex.report import summary_markdown

    study = load_study("cdht")
    codes = study.framework.codes
    scores = pd.DataFrame({"entity": "CDHT", "year": 2023, "code": codes,
                           "level": [int(study.framework.table.at[c, "level"]) for c in codes],
                           "value": 150.0, "illustrative": True})
    scores.loc[scores["code"] == "CDHT", "value"] = 133.0
    dims = study.framework.level_codes(3)
    contributions = pd.DataFrame({"entity": "CDHT", "year": 2023, "code": dims, "level": 3, "parent": "CDHT",
                                  "change": [73.0, 10.0, 20.0, 30.0, 32.0], "to_parent": 0.0,
                                  "to_index": [14.6, 2.0, 4.0, 6.0, 6.4]})
    checks = pd.DataFrame({"check": ["a", "b"], "status": ["pass", "fail"], "value": [0, 1], "detail": ""})
    text = summary_markdown(study, {"scores": scores, "contributions": contributions, "checks": checks})
    assert "**133.0** (2018 = 100), **+33.0 points** since 2018" in text
    assert "global factor concentration (+14.6 points, 44%)" in text
    assert "grew most is global factor concentration (+73 % since 2018)" in text
    assert "1 of 2 checks passed (b)" in text and "illustrative data" in text
