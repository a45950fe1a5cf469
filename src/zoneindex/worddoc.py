"""The write-up as an editable Word document (``report.docx``), converted by pandoc.

The input is the write-up's own HTML body (report.build_methodology_html), with each formula as TeX
(``$…$``, ``$$…$$``) instead of MathML, so that pandoc writes it as a native Word equation (OMML); figures
with their numbered captions, real tables with their captions and the reference list come through as
they are on the page. Pandoc is the one of the ``pypandoc-binary`` wheel (a pinned dependency, no system
package). The styles come from a reference document made here from pandoc's own default: A4, Chinese body
text in a serif CJK face and headings in a sans CJK face (SimSun and SimHei named as the faces Word uses
where Noto is not installed), captions small and centred (SSAP report rules, design/chinese-methods.md §5),
three-line tables, and the page number in the footer.

Pandoc dates the document by SOURCE_DATE_EPOCH; the archive is then rewritten with every entry dated
``created`` too, so that the same write-up always gives the same bytes.
"""
from __future__ import annotations

import base64
import html
import io
import itertools
import os
import re
import subprocess
import tempfile
import unicodedata
import zipfile
from datetime import datetime, timezone
from pathlib import Path

# Word's own style ids of pandoc's reference document; the CJK faces with the Windows face Word falls back to
FONTS = {"zh": {"body": ("Noto Serif CJK SC", "SimSun"), "heading": ("Noto Sans CJK SC", "SimHei")},
         "en": {"body": ("Noto Serif", "Cambria"), "heading": ("Noto Sans", "Calibri")}}
LANG_TAGS = {"zh": "zh-CN", "en": "en-GB"}
TOC_TITLE = {"zh": "目录", "en": "Contents"}
A4_SECTION = ('<w:sectPr><w:footerReference w:type="default" r:id="rIdZiFooter"/>'
              '<w:pgSz w:w="11906" w:h="16838"/>'
              '<w:pgMar w:top="1440" w:right="1247" w:bottom="1440" w:left="1247" w:header="720" w:footer="720" '
              'w:gutter="0"/><w:footnotePr><w:numRestart w:val="eachSect"/></w:footnotePr></w:sectPr>')
LANDSCAPE_SECTION = A4_SECTION.replace('<w:pgSz w:w="11906" w:h="16838"/>',
                                       '<w:pgSz w:w="16838" w:h="11906" w:orient="landscape"/>')
# Text width in twips (1/20 pt) of a portrait and a landscape A4 page with the margins above, and the width
# of one character of a table cell (9 pt Compact style; 0.65 em, the width of a digit of DejaVu Sans, which
# LibreOffice sets Latin text in: at 0.55 em a year wrapped as 201/6; a CJK character counts twice) and its padding.
TEXT_WIDTH = {"portrait": 11906 - 2 * 1247, "landscape": 16838 - 2 * 1247}
CHAR_TWIPS, CELL_PADDING_TWIPS, MAX_CELL_CHARS = 0.65 * 9 * 20, 2 * 108 + 20, 28
_TABLE = re.compile(r'(<w:p><w:pPr><w:pStyle w:val="TableCaption" /></w:pPr>.*?</w:p>\s*)?<w:tbl>.*?</w:tbl>', re.S)
_ROW, _CELL = re.compile(r"<w:tr>.*?</w:tr>", re.S), re.compile(r"<w:tc>.*?</w:tc>", re.S)
_TEXT = re.compile(r"<w:t[^>]*>([^<]*)</w:t>")
_DATA_PNG = re.compile(r'src="data:image/png;base64,([^"]+)"')
FOOTER = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<w:ftr xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
          'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
          '<w:p><w:pPr><w:pStyle w:val="Footer"/><w:jc w:val="center"/></w:pPr>'
          '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r>'
          '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>1</w:t></w:r>'
          '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p></w:ftr>\n')
RELATIONSHIP = ('<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer" '
                'Id="rIdZiFooter" Target="footer1.xml" />')
CONTENT_TYPE = ('<Override PartName="/word/footer1.xml" '
                'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml" />')


def pandoc() -> str:
    """The pandoc executable of the pypandoc-binary wheel."""
    import pypandoc

    return pypandoc.get_pandoc_path()


# LibreOffice's import of pandoc's OMML shows "¿" for a bare "|", for a superscript on a bare ")" and for
# \underbrace, and renders \left( … \right), \left| … \right| and \underset as Word does. So for the Word
# document the size hints (\big( \Bigr| …, Word sizes delimiters to their content) are dropped, paired
# parentheses and bars become \left … \right pairs and \underbrace{x}_{y} becomes \underset{y}{x}.
_SIZED_DELIMITER = re.compile(r"\\[Bb]igg?[lrm]?(?=\s*(?:[()\[\]|./]|\\[{}|]|\\[lr]?[vV]ert|\\[lr]angle))")
_UNDERBRACE = re.compile(r"\\underbrace\s*(\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\})\s*_\s*(\{(?:[^{}]|\{[^{}]*\})*\})")


def tex_math(latex: str, display: str) -> str:
    """A formula as pandoc reads it from HTML with tex_math_dollars: ``$…$`` inline, ``$$…$$`` on its own,
    written so that LibreOffice shows it too (see above)."""
    fence = "$$" if display == "block" else "$"
    latex = _UNDERBRACE.sub(r"\\underset\2\1", _SIZED_DELIMITER.sub("", latex))
    return f"{fence}{html.escape(_paired_delimiters(latex), quote=False)}{fence}"


_TEXT_COMMANDS = {"text", "textrm", "textit", "textbf", "mbox", "mathrm", "operatorname"}


def _group_end(latex: str, start: int) -> int:
    """The index just after the brace group that opens at ``start``."""
    depth = 0
    for k in range(start, len(latex)):
        if latex[k] == "\\":
            continue
        if latex[k] == "{" and (k == 0 or latex[k - 1] != "\\"):
            depth += 1
        elif latex[k] == "}" and latex[k - 1] != "\\":
            depth -= 1
            if depth == 0:
                return k + 1
    return len(latex)


def _paired_delimiters(latex: str) -> str:
    """``(…)`` and ``|…|`` pairs within one brace group as ``\\left( … \\right)``, ``\\left| … \\right|``."""
    opened: list[list[tuple[str, int]]] = [[]]  # per brace depth: the open "(" and "|" and their positions
    pairs: dict[int, str] = {}
    k = 0
    while k < len(latex):
        c = latex[k]
        if c == "\\":
            j = k + 1
            if j < len(latex) and latex[j].isalpha():
                while j < len(latex) and latex[j].isalpha():
                    j += 1
                word = latex[k + 1:j]
                while j < len(latex) and latex[j] == " ":
                    j += 1
                if word in ("left", "right"):  # already a pair: skip the delimiter it sizes
                    j += 2 if latex[j:j + 1] == "\\" else 1
                elif word in _TEXT_COMMANDS and latex[j:j + 1] == "{":  # text, not math: left as it is
                    j = _group_end(latex, j)
            else:
                j += 1  # an escaped character: \{ \| \,
            k = j
            continue
        if c == "{":
            opened.append([])
        elif c == "}" and len(opened) > 1:
            opened.pop()
        elif c == "(":
            opened[-1].append(("(", k))
        elif c == ")" and opened[-1] and opened[-1][-1][0] == "(":
            pairs[opened[-1].pop()[1]], pairs[k] = r"\left(", r"\right)"
        elif c == "|":
            if opened[-1] and opened[-1][-1][0] == "|":
                pairs[opened[-1].pop()[1]], pairs[k] = r"\left|", r"\right|"
            else:
                opened[-1].append(("|", k))
        k += 1
    return "".join(pairs.get(k, c) for k, c in enumerate(latex))


def build_report_docx(body: str, out: Path, *, title: str, lang: str, banner: str | None = None,
                      created: datetime | None = None) -> Path:
    """Write the write-up ``body`` (HTML, formulas as TeX) to the Word document ``out``; return ``out``."""
    out = Path(out)
    created = created or datetime(2000, 1, 1)
    notice = f'<div data-custom-style="Notice"><p>{html.escape(banner)}</p></div>\n' if banner else ""
    page = (f'<!DOCTYPE html><html lang="{LANG_TAGS[lang]}"><head><meta charset="utf-8"><title>{html.escape(title)}'
            f"</title></head><body>\n{notice}{body}\n</body></html>\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="zoneindex-docx-") as work:
        work = Path(work)
        reference = reference_docx(lang, work / "reference.docx")
        source, target = work / "write-up.html", work / "report.docx"
        source.write_text(_images_to_files(page, work), encoding="utf-8")
        epoch = int(created.replace(tzinfo=timezone.utc).timestamp())
        subprocess.run([pandoc(), "--from", "html+tex_math_dollars", "--to", "docx", "--standalone",
                        f"--reference-doc={reference}", "--toc", "--toc-depth=2",
                        "--metadata", f"toc-title={TOC_TITLE[lang]}", "--metadata", f"lang={LANG_TAGS[lang]}",
                        "--output", str(target), str(source)],
                       check=True, capture_output=True, cwd=work, env={**os.environ, "SOURCE_DATE_EPOCH": str(epoch)})
        data = fixed_zip(target.read_bytes(), created, {"word/document.xml": fit_tables})
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _images_to_files(page: str, folder: Path) -> str:
    """``page`` with each embedded PNG written to ``folder`` and named by its file: pandoc decodes a file in a
    fraction of the time it takes for the same image as a data URI (2.4 s of 3.4 s for a write-up's figures)."""
    numbers = itertools.count(1)

    def save(m: re.Match) -> str:
        name = f"figure-{next(numbers)}.png"
        (folder / name).write_bytes(base64.b64decode(m[1]))
        return f'src="{name}"'
    return _DATA_PNG.sub(save, page)


def reference_docx(lang: str, out: Path) -> Path:
    """Pandoc's default reference document with the project's styles for ``lang`` (see the module notes)."""
    default = subprocess.run([pandoc(), "--print-default-data-file", "reference.docx"], check=True,
                             capture_output=True).stdout
    parts = {}
    with zipfile.ZipFile(io.BytesIO(default)) as source:
        for info in source.infolist():
            parts[info.filename] = source.read(info)
    parts["word/styles.xml"] = _styles(parts["word/styles.xml"].decode("utf-8"), lang).encode("utf-8")
    parts["word/fontTable.xml"] = _font_table(parts["word/fontTable.xml"].decode("utf-8"), lang).encode("utf-8")
    document = parts["word/document.xml"].decode("utf-8")
    parts["word/document.xml"] = re.sub(r"<w:sectPr>.*?</w:sectPr>", A4_SECTION, document, flags=re.S).encode("utf-8")
    parts["word/footer1.xml"] = FOOTER.encode("utf-8")
    rels = parts["word/_rels/document.xml.rels"].decode("utf-8")
    parts["word/_rels/document.xml.rels"] = rels.replace("</Relationships>", RELATIONSHIP + "</Relationships>").encode()
    types = parts["[Content_Types].xml"].decode("utf-8")
    parts["[Content_Types].xml"] = types.replace("</Types>", CONTENT_TYPE + "</Types>").encode("utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    Path(out).write_bytes(buffer.getvalue())
    return Path(out)


def _fonts(face: tuple[str, str]) -> str:
    """One face for every script: the CJK faces have their own Latin letters and digits."""
    return f'<w:rFonts w:ascii="{face[0]}" w:hAnsi="{face[0]}" w:eastAsia="{face[0]}" w:cs="{face[0]}" />'


def _style(styles: str, style_id: str, ppr: str = "", rpr: str = "") -> str:
    """``styles`` with ``ppr`` / ``rpr`` put first into the pPr / rPr of one style (added if missing)."""
    found = re.search(rf'<w:style [^>]*w:styleId="{style_id}".*?</w:style>', styles, re.S)
    if found is None:
        raise KeyError(f"pandoc's reference document has no style {style_id}")
    block = found[0]
    for tag, extra in (("pPr", ppr), ("rPr", rpr)):
        if not extra:
            continue
        if f"<w:{tag}>" in block:
            block = block.replace(f"<w:{tag}>", f"<w:{tag}>{extra}", 1)
        elif f"<w:{tag} />" in block:
            block = block.replace(f"<w:{tag} />", f"<w:{tag}>{extra}</w:{tag}>", 1)
        else:
            block = block.replace("</w:style>", f"<w:{tag}>{extra}</w:{tag}></w:style>", 1)
    return styles[:found.start()] + block + styles[found.end():]


def _styles(styles: str, lang: str) -> str:
    body, heading = FONTS[lang]["body"], FONTS[lang]["heading"]
    # the theme fonts would win over the named faces: the defaults and the headings name them directly
    styles = re.sub(r"<w:rFonts [^>]*w:asciiTheme=\"minorHAnsi\"[^>]*/>", _fonts(body), styles, count=1)
    styles = re.sub(r"<w:rFonts w:asciiTheme=\"majorHAnsi\"\s+w:eastAsiaTheme=\"majorEastAsia\"\s+"
                    r"w:hAnsiTheme=\"majorHAnsi\"\s+w:cstheme=\"majorBidi\" />", _fonts(heading), styles)
    styles = styles.replace('<w:sz w:val="24" />\n        <w:szCs w:val="24" />', '<w:sz w:val="21" />\n        <w:szCs w:val="21" />', 1)
    # captions: 小五号 (9 pt) in the heading face, bold, centred, upright (pandoc's are italic)
    styles = re.sub(r'(w:styleId="Caption">.*?)<w:i />', r"\1", styles, count=1, flags=re.S)
    small_bold = f'{_fonts(heading)}<w:b /><w:sz w:val="18" /><w:szCs w:val="18" />'
    styles = _style(styles, "Caption", ppr='<w:jc w:val="center" />', rpr=small_bold)
    styles = _style(styles, "ImageCaption", ppr='<w:spacing w:before="60" w:after="240" />')
    styles = _style(styles, "TableCaption", ppr='<w:spacing w:before="240" w:after="60" />')
    styles = _style(styles, "CaptionedFigure", ppr='<w:jc w:val="center" />')
    styles = _style(styles, "Compact", rpr='<w:sz w:val="18" /><w:szCs w:val="18" />')
    # three-line table: a heavy rule above and below the table, a light one under the header row
    rules = ('<w:tblBorders><w:top w:val="single" w:sz="12" w:space="0" w:color="000000" />'
             '<w:bottom w:val="single" w:sz="12" w:space="0" w:color="000000" /></w:tblBorders>')
    styles = styles.replace('<w:tblInd w:w="0" w:type="dxa" />', '<w:tblInd w:w="0" w:type="dxa" />' + rules, 1)
    styles = styles.replace('<w:bottom w:val="single"/>', '<w:bottom w:val="single" w:sz="6" w:space="0" w:color="000000"/>', 1)
    notice = ('<w:style w:type="paragraph" w:customStyle="1" w:styleId="Notice"><w:name w:val="Notice" />'
              '<w:basedOn w:val="BodyText" /><w:pPr><w:pBdr><w:left w:val="single" w:sz="24" w:space="4" w:color="BF8700" />'
              '</w:pBdr><w:shd w:val="clear" w:color="auto" w:fill="FFF4CE" /></w:pPr><w:rPr><w:b /></w:rPr></w:style>')
    return styles.replace("</w:styles>", notice + "</w:styles>", 1)


def _font_table(table: str, lang: str) -> str:
    """Declare the faces with the Windows face Word substitutes when they are not installed."""
    entries = "".join(f'<w:font w:name="{name}"><w:altName w:val="{alt}"/><w:charset w:val="86"/>'
                      f'<w:family w:val="{"roman" if kind == "body" else "swiss"}"/></w:font>'
                      for kind, (name, alt) in FONTS[lang].items())
    return table.replace("</w:fonts>", entries + "</w:fonts>", 1)


def fit_tables(document: str) -> str:
    """Give each table of ``document.xml`` column widths from its content (pandoc gives every column half an
    inch, so that a dozen columns break their words letter by letter), and a landscape page to a table too wide
    for a portrait one, with its caption."""
    def fit(m: re.Match) -> str:
        widths: dict[int, float] = {}
        for row in _ROW.findall(m[0]):
            for j, cell in enumerate(_CELL.findall(row)):
                text = html.unescape("".join(_TEXT.findall(cell)))
                chars = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
                widths[j] = max(widths.get(j, 0.0), min(chars, MAX_CELL_CHARS) * CHAR_TWIPS + CELL_PADDING_TWIPS)
        need = sum(widths.values())
        page = "portrait" if need <= TEXT_WIDTH["portrait"] else "landscape"
        scale = min(1.0, TEXT_WIDTH[page] / need) if need else 1.0
        grid = "".join(f'<w:gridCol w:w="{int(widths[j] * scale)}" />' for j in sorted(widths))
        table = re.sub(r"<w:tblGrid>.*?</w:tblGrid>", f"<w:tblGrid>{grid}</w:tblGrid>", m[0], count=1, flags=re.S)
        table = table.replace('<w:tblW w:type="auto" w:w="0" />',
                              f'<w:tblW w:type="dxa" w:w="{int(need * scale)}" /><w:tblLayout w:type="fixed" />', 1)
        if page == "portrait":
            return table
        # a section ends at the paragraph that holds its sectPr: portrait up to here, landscape for the table
        return (f"<w:p><w:pPr>{A4_SECTION}</w:pPr></w:p>{table}<w:p><w:pPr>{LANDSCAPE_SECTION}</w:pPr></w:p>")
    return _TABLE.sub(fit, document)


def fixed_zip(data: bytes, created: datetime, rewrite: dict | None = None) -> bytes:
    """The same archive with every entry dated ``created`` and deflated, in the same order; the text of the
    entries named in ``rewrite`` goes through its function first."""
    stamp = created.timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type, entry.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            content = source.read(info)
            if rewrite and info.filename in rewrite:
                content = rewrite[info.filename](content.decode("utf-8")).encode("utf-8")
            target.writestr(entry, content, compresslevel=9)
    return buffer.getvalue()
