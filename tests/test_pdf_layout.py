"""The write-up's numbered figures and tables, and the print layout: a figure and its caption share a page."""
from __future__ import annotations

import base64
import html
import io
import re
from datetime import datetime

import matplotlib
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from zoneindex.report import _stable_pdf, build_methodology_html, edition_date

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)

TABLE = ('<table border="1" class="dataframe"><thead><tr><th>zone</th><th>score</th></tr></thead>'
         "<tbody><tr><td>北区</td><td>1.5</td></tr></tbody></table>")
# A caption line of the PDF text: "图 3" + a space (Chromium extracts U+3000 as a space) or "Figure 3."
CAPTION_LINE = {"zh": re.compile(r"(?m)^图 (\d+)[\s\u3000]"), "en": re.compile(r"(?m)^Figure (\d+)\.")}


def _png(colour: str) -> bytes:
    fig, ax = plt.subplots(figsize=(1, 1), dpi=20)
    ax.plot([0, 1], [1, 0], color=colour)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


@pytest.fixture
def write_up(tmp_path):
    """Two notebooks as the pipeline leaves them: a saved figure shown with the notebook's own caption line,
    a figure that is not saved, one in a cell whose output is hidden, a table after a one-line lead-in and a
    table under a heading."""
    figures = tmp_path / "figures"
    figures.mkdir()
    saved, unsaved = _png("red"), _png("blue")
    (figures / "radar_en.png").write_bytes(saved)
    (figures / "radar_en.caption.txt").write_text("Scores of CDHT in 2018 and 2023.\n", encoding="utf-8")
    first = tmp_path / "01.ipynb"
    nbformat.write(new_notebook(cells=[
        new_markdown_cell("# Method\n\nThe radar ([@fig:radar]) follows the Handbook [@oecd_jrc2008]."),
        new_markdown_cell("## Data coverage"),
        new_code_cell("t", outputs=[new_output("execute_result", execution_count=1, data={"text/html": TABLE})]),
        new_code_cell("x", outputs=[
            new_output("display_data", data={"text/markdown": "**correlations** (1 rows)"}),
            new_output("display_data", data={"text/html": TABLE})]),
    ]), first)
    second = tmp_path / "02.ipynb"
    hidden = new_code_cell("draft", outputs=[new_output("display_data", data={"image/png": base64.b64encode(_png("green")).decode()})])
    hidden.metadata["tags"] = ["remove-output"]  # not shown, so not numbered
    nbformat.write(new_notebook(cells=[hidden, new_code_cell("show", outputs=[
        new_output("display_data", data={"image/png": base64.b64encode(unsaved).decode()}),
        new_output("display_data", data={"image/png": base64.b64encode(saved).decode()}, metadata={"image/png": {"width": 640}}),
        new_output("display_data", data={"text/markdown": "*Scores of CDHT.* (`radar_en.png`, `.svg`, `.pdf`)"}),
    ])]), second)
    page = build_methodology_html([first, second], tmp_path / "m.html", title="T", figures=figures)
    return page.read_text(encoding="utf-8")


def test_figures_are_numbered_with_the_caption_below_in_one_block(write_up):
    blocks = re.findall(r'<figure class="zi-figure" id="([^"]+)">(.*?)</figure>', write_up, re.S)
    assert [ident for ident, _ in blocks] == ["fig-figure-1", "fig-radar"]
    inner = blocks[1][1]
    assert inner.index("<img") < inner.index("<figcaption>")  # caption below the figure
    assert ('<figcaption><span class="caption-label">Figure 2.</span> Scores of CDHT in 2018 and 2023.</figcaption>'
            in inner)
    assert "radar_en.png" not in write_up  # the notebook's own caption line is replaced, not repeated
    assert 'style="width: 640px"' in inner


def test_tables_are_numbered_with_the_caption_above(write_up):
    assert ('<table border="1" class="dataframe"><caption><span class="caption-label">Table 1.</span> Data coverage'
            "</caption>") in write_up
    assert '<caption><span class="caption-label">Table 2.</span> correlations (1 rows)</caption>' in write_up
    assert "**correlations**" not in write_up  # the lead-in became the caption


def test_cross_references_and_citations_use_numbers(write_up):
    assert 'The radar (<a href="#fig-radar">Figure 2</a>) follows the Handbook [<a href="#ref-oecd_jrc2008">1</a>].' \
        in write_up
    assert '<li id="ref-oecd_jrc2008" value="1">OECD and European Commission Joint Research Centre (2008).' in write_up
    assert write_up.index('id="references"') > write_up.index('id="fig-radar"')  # the list comes last


def test_the_pdf_states_the_editions_date(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert edition_date(2023) == datetime(2024, 1, 1)
    printed = b"<< /CreationDate (D:20261202051500+00'00') /ModDate (D:20261202051501+00'00') >>"
    fixed = _stable_pdf(printed, edition_date(2023))
    assert fixed == b"<< /CreationDate (D:20240101000000+00'00') /ModDate (D:20240101000000+00'00') >>"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14T22:13:20Z
    assert edition_date(2023) == datetime(2023, 11, 14, 22, 13, 20)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_figure_shares_its_page_with_its_caption(study_run, lang):
    """Each caption line "图 N" / "Figure N." of the Chromium PDF sits on a page with an image, right below it."""
    pdfium = pytest.importorskip("pypdfium2")
    run = study_run("cdht", lang=lang)
    assert run.returncode == 0, run.stderr
    reports = run.out / "reports" / "cdht" / "2023"
    shown = len(re.findall(r'<figure class="zi-figure"', (reports / "methodology.html").read_text(encoding="utf-8")))
    pdf = pdfium.PdfDocument(reports / "methodology.pdf")
    found = []
    for page in pdf:
        text = page.get_textpage()
        images = [obj.get_bounds() for obj in page.get_objects(filter=[pdfium.raw.FPDF_PAGEOBJ_IMAGE])]
        for caption in CAPTION_LINE[lang].finditer(text.get_text_range()):
            found.append(int(caption[1]))
            top = text.get_charbox(caption.start())[3]
            # an image whose lower edge is above the caption's first line, less than 3 cm above it
            above = [bottom - top for (_, bottom, _, _) in images if -2 <= bottom - top <= 85]
            assert above, f"the caption of figure {caption[1]} is not right below a figure on its page"
    assert found == list(range(1, shown + 1)) and shown >= 8
    stamp = pdf.get_metadata_dict()["CreationDate"]
    assert stamp.startswith("D:20240101000000"), stamp  # 1 January after the 2023 edition


def test_every_saved_figure_is_shown_with_its_caption_file(study_run):
    run = study_run("cdht", lang="zh")
    page = html.unescape((run.out / "reports" / "cdht" / "2023" / "methodology.html").read_text(encoding="utf-8"))
    shown = sorted((run.out / "figures" / "cdht" / "2023").glob("*_zh.png"))
    assert len(shown) >= 8
    for png in shown:
        assert base64.b64encode(png.read_bytes()).decode() in page, png.name
        caption = png.with_name(f"{png.stem}.caption.txt").read_text(encoding="utf-8").strip()
        assert f"{caption}</figcaption>" in page, png.name
