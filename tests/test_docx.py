"""report.docx: the write-up as a Word document (pandoc), checked by opening it in headless LibreOffice."""
from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import zipfile
from datetime import datetime

import matplotlib
import pytest

from zoneindex.worddoc import build_report_docx, fit_tables, reference_docx, tex_math

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)

CREATED = datetime(2024, 1, 1)


def _png() -> str:
    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=100)
    ax.plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _body(columns: int = 2) -> str:
    head = "".join(f"<th>列{j}</th>" for j in range(columns))
    row = "".join(f'<td class="num">{j}.5</td>' for j in range(columns))
    return (f'<h1 id="m">方法</h1><p>指数为 $I_t = \\sum_k W_k D_{{k,t}}$，其中 $|x|$ 为绝对值。</p>'
            f'<p>$$S_i = \\frac{{1}}{{N}} \\sum_j \\big(f(A)_j - f(B)_j\\big)^2$$</p>'
            f'<figure class="zi-figure" id="fig-a"><img src="data:image/png;base64,{_png()}" alt="图 1">'
            f'<figcaption><span class="caption-label">图 1</span>\u3000指数走势。</figcaption></figure>'
            f"<table><caption>表 1\u3000得分</caption><thead><tr>{head}</tr></thead><tbody><tr>{row}</tr></tbody></table>")


def _parts(path) -> dict[str, str]:
    with zipfile.ZipFile(path) as docx:
        return {name: docx.read(name).decode("utf-8", "replace") for name in docx.namelist() if name.endswith(".xml")}


def test_word_document_structure_and_same_bytes_twice(tmp_path):
    first = build_report_docx(_body(), tmp_path / "a.docx", title="报告", lang="zh", banner="示意数据。", created=CREATED)
    second = build_report_docx(_body(), tmp_path / "b.docx", title="报告", lang="zh", banner="示意数据。", created=CREATED)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as docx:
        assert {info.date_time for info in docx.infolist()} == {(2024, 1, 1, 0, 0, 0)}
        assert any(name.startswith("word/media/") for name in docx.namelist())  # the figure is an image
    parts = _parts(first)
    document = parts["word/document.xml"]
    assert document.count("<m:oMath>") == 3 and "<m:oMathPara>" in document  # Word equations, one displayed
    assert '<w:pStyle w:val="Heading1" />' in document and '<w:pStyle w:val="ImageCaption" />' in document
    assert '<w:pStyle w:val="TableCaption" />' in document and "<w:tbl>" in document
    assert '<w:pStyle w:val="Notice" />' in document and "示意数据。" in document
    assert '<w:instrText xml:space="preserve">TOC \\o &quot;1-2&quot;' in document  # the contents, a Word field
    assert "2024-01-01T00:00:00Z" in parts["docProps/core.xml"]
    assert "PAGE" in parts["word/footer1.xml"] and 'w:w="11906"' in document  # page numbers, A4


def test_reference_document_styles_for_chinese(tmp_path):
    parts = _parts(reference_docx("zh", tmp_path / "reference.docx"))
    styles = parts["word/styles.xml"]
    defaults = re.search(r"<w:rPrDefault>.*?</w:rPrDefault>", styles, re.S)[0]
    assert 'w:eastAsia="Noto Serif CJK SC"' in defaults  # 宋体-like body
    heading = re.search(r'w:styleId="Heading1".*?</w:style>', styles, re.S)[0]
    assert 'w:eastAsia="Noto Sans CJK SC"' in heading  # 黑体-like headings
    caption = re.search(r'w:styleId="Caption".*?</w:style>', styles, re.S)[0]
    assert '<w:jc w:val="center" />' in caption and "<w:i />" not in caption and '<w:sz w:val="18" />' in caption
    assert '<w:top w:val="single" w:sz="12"' in styles and '<w:bottom w:val="single" w:sz="12"' in styles  # three lines
    assert '<w:altName w:val="SimSun"/>' in parts["word/fontTable.xml"]


def test_wide_tables_get_a_landscape_page_and_narrow_ones_widths_from_their_content():
    def table(cells: list[str]) -> str:
        row = "".join(f'<w:tc><w:p><w:r><w:t xml:space="preserve">{c}</w:t></w:r></w:p></w:tc>' for c in cells)
        grid = "".join('<w:gridCol w:w="720" />' for _ in cells)
        return f'<w:tbl><w:tblPr><w:tblW w:type="auto" w:w="0" /></w:tblPr><w:tblGrid>{grid}</w:tblGrid><w:tr>{row}</w:tr></w:tbl>'

    narrow = fit_tables(table(["code", "a much longer description"]))
    widths = [int(w) for w in re.findall(r'<w:gridCol w:w="(\d+)" />', narrow)]
    # 0.65 em of 9 pt a character (117 twips) plus 236 twips of padding: 4 and 25 characters
    assert widths == [int(4 * 117 + 236), int(25 * 117 + 236)] and "landscape" not in narrow
    wide = fit_tables(table([f"column number {j}" for j in range(12)]))
    assert wide.count("<w:sectPr>") == 2 and 'w:orient="landscape"' in wide.split("<w:tbl>")[1]
    assert sum(int(w) for w in re.findall(r'<w:gridCol w:w="(\d+)" />', wide)) <= 16838 - 2 * 1247


@pytest.mark.parametrize("latex, word", [
    (r"|\text{skew}| \ge 2", r"$\left|\text{skew}\right| \ge 2$"),
    (r"\big(f(A)_j\big)^2", r"$\left(f\left(A\right)_j\right)^2$"),
    (r"D = \underbrace{(B - A)}_{\text{methods}}", r"$D = \underset{\text{methods}}{\left(B - A\right)}$"),
    (r"\{a\} < b", r"$\{a\} &lt; b$"),
    (r"S \quad\text{(Saltelli, 2010)} (x)", r"$S \quad\text{(Saltelli, 2010)} \left(x\right)$"),
])
def test_formulas_are_written_so_that_libreoffice_shows_them(latex, word):
    assert tex_math(latex, "inline") == word


def test_the_zh_write_up_opens_in_libreoffice_with_every_figure_table_and_equation(study_run, tmp_path):
    pdfium = pytest.importorskip("pypdfium2")
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice is missing: run scripts/ensure_system_packages.sh (libreoffice-writer-nogui)"
    run = study_run("cdht", lang="zh")
    assert run.returncode == 0, run.stderr
    reports = run.out / "reports" / "cdht" / "2023"
    page = (reports / "methodology.html").read_text(encoding="utf-8")
    document = _parts(reports / "report.docx")["word/document.xml"]
    figures, tables = page.count('<figure class="zi-figure"'), len(re.findall(r"<table\b", page))
    assert figures >= 8
    assert document.count("<pic:pic") == figures and document.count("<w:tbl>") == tables
    assert document.count("<m:oMath>") == page.count("<math")  # every formula a Word equation
    done = subprocess.run([soffice, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path),
                           str(reports / "report.docx")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    pdf = pdfium.PdfDocument(tmp_path / "report.pdf")
    text = "\n".join(p.get_textpage().get_text_range() for p in pdf)
    images = sum(len(list(p.get_objects(filter=[pdfium.raw.FPDF_PAGEOBJ_IMAGE]))) for p in pdf)
    assert 20 <= len(pdf) <= 80, len(pdf)
    assert images == figures
    assert all(f"图 {n}" in text for n in range(1, figures + 1)) and "表 1" in text  # Chinese text extractable
    assert "成都高新区国际化指数" in text and "示意数据" in text
    # the equations survived: every summation sign of the write-up, and no "¿" of a formula LibreOffice misread
    assert text.count("∑") == page.count("&#x02211;") and "¿" not in text
