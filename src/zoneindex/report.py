"""The methodology write-up: one self-contained HTML page built from the executed notebooks.

Code inputs are hidden and only their outputs kept. LaTeX becomes MathML at build time and every
image is embedded as a data URI, so the page needs no network, no JavaScript and no CDN (the stock
nbconvert templates load MathJax and require.js from one, see design/ecosystem.md §3). The same
notebooks always give the same bytes, so the write-up can be diffed and checked into a release.
``build_methodology_pdf`` prints the page to A4 with headless Chromium (the page's print stylesheet does
the layout; WeasyPrint cannot render MathML, design/ecosystem.md §3).
"""
from __future__ import annotations

import html
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import jinja2
import pandas as pd
from latex2mathml.converter import convert as latex_to_mathml
from markupsafe import Markup

from zoneindex import captions, citations, glossary
from zoneindex.errors import InputError

TEMPLATE_DIR = Path(__file__).parent / "templates" / "methodology"
DROP_CELL_TAGS = frozenset({"parameters", "injected-parameters", "remove-cell"})
DROP_OUTPUT_TAG = "remove-output"
HIDDEN_TAGS = DROP_CELL_TAGS | {DROP_OUTPUT_TAG}  # cells whose outputs the write-up does not show
LANG_TAG_PREFIX = "lang-"  # prose cells come in pairs, tagged lang-en and lang-zh: the write-up keeps its own


def in_language(nb, lang: str):
    """The notebook without the prose cells of other languages (tagged ``lang-<code>`` with another code)."""
    own = LANG_TAG_PREFIX + lang
    nb.cells = [cell for cell in nb.cells if not any(tag.startswith(LANG_TAG_PREFIX) and tag != own
                                                     for tag in cell.metadata.get("tags", []))]
    return nb

# A bare "zh" leaves the script to the browser, which may pick a Kaiti or a traditional face.
LANG_CODES = {"zh": "zh-CN"}
TOC_LABELS = {"zh-CN": "目录"}
MATHML_XMLNS = ' xmlns="http://www.w3.org/1998/Math/MathML"'  # implied for <math> in HTML5

# Code spans and fences are kept verbatim, so a `$` inside them is never read as math.
_CODE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.S)
_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)
# Pandoc's rule: no space just inside the dollars and no digit right after, so "$5 and $10" stays text.
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?=\S)([^$\n]+?)(?<=\S)\$(?!\d)")
# Formulas go through the markdown renderer as inert tokens, so that `_` or `*` in MathML is never
# taken for emphasis; the tokens are swapped for the MathML afterwards.
_TOKEN = re.compile(r"ZIMATH(\d+)Z")
_UNKNOWN_TEX = re.compile(r">\\[A-Za-z]+<")  # latex2mathml passes unknown commands through as text
_HEADING = re.compile(r"<h([1-6])([^>]*)>(.*?)</h\1>", re.S)
_NUMBER_CELL = re.compile(r"<td((?:(?!class=)[^>])*)>(\s*[-+−]?[\d.,]*\d[\d.,]*\s*%?\s*)</td>")
# Anything the page would fetch: a src that is not a data URI (a CDN script, or an image file that
# was not found and so not embedded), a <link> stylesheet, or a CSS url()/@import to the web.
_EXTERNAL = re.compile(
    r"""<[a-z][^>]*\ssrc\s*=\s*(?!["']?data:)|<link\b[^>]*\shref\s*=|"""
    r"""url\(\s*["']?https?:|@import\s""", re.I)


def build_methodology_html(notebooks: list[Path], out: Path, *, title: str, lang: str = "en",
                           banner: str | None = None, figures: Path | None = None, docx: Path | None = None,
                           created: datetime | None = None) -> Path:
    """Merge the executed notebooks, in the given order, into one page at ``out`` (see ``methodology_page``)
    and, with ``docx``, the same content into that Word document (zoneindex.worddoc), dated ``created``;
    return ``out``."""
    page = methodology_page(notebooks, title=title, lang=lang, banner=banner, figures=figures)
    if docx is not None:
        page.write_docx(docx, created)
    return page.write_html(Path(out))


@dataclass(frozen=True)
class MethodologyPage:
    """The write-up of some notebooks: the HTML page, and the body the Word document is made of (formulas as TeX)."""

    html: str
    word_body: str
    title: str
    lang: str
    banner: str | None

    def write_html(self, out: Path) -> Path:
        return _write_atomically(out, self.html)

    def write_docx(self, out: Path, created: datetime | None = None) -> Path:
        from zoneindex import worddoc

        return worddoc.build_report_docx(self.word_body, out, title=self.title, lang=self.lang, banner=self.banner,
                                         created=created)


def methodology_page(notebooks: list[Path], *, title: str, lang: str = "en", banner: str | None = None,
                     figures: Path | None = None) -> MethodologyPage:
    """Merge the executed notebooks, in the given order, into one page.

    Dropped: every code input, cells tagged parameters / injected-parameters / remove-cell, the
    outputs of cells tagged remove-output, and stderr streams (warnings are not methodology).
    ``banner`` puts a coloured notice at the very top, e.g. for an edition with illustrative data.
    Figures saved in ``figures`` (with their caption files) and tables are numbered (zoneindex.captions),
    ``[@key]`` citations become numbers with the reference list at the end (zoneindex.citations).
    """
    if not notebooks:
        raise InputError("no notebooks to build the methodology from", expected="at least one executed notebook")
    from nbconvert import HTMLExporter  # here: the summary notebook imports this module, and nbconvert costs ~1 s

    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, exclude_anchor_links=True, embed_images=True)
    import nbformat

    nodes = [(Path(path), in_language(nbformat.read(path, as_version=4), lang)) for path in notebooks]
    numbering = captions.Numbering(lang, captions.saved_figures(figures))
    for _, nb in nodes:
        numbering.count(nb, HIDDEN_TAGS)
    cites = citations.Citations(citations.load_references(), lang, numbering.cross_refs())
    formulas: list[tuple[str, str, str]] = []
    body = "\n".join(_render(exporter, path, nb, index, formulas, numbering, cites)
                     for index, (path, nb) in enumerate(nodes)) + cites.reference_list_html()
    from zoneindex import worddoc

    word_body = _TOKEN.sub(lambda m: worddoc.tex_math(*formulas[int(m[1])][1:]), body)
    body, toc = _anchor_headings(_fit_tables_for_print(_TOKEN.sub(lambda m: formulas[int(m[1])][0], body)))
    code = LANG_CODES.get(lang, lang)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                             keep_trailing_newline=True)
    page = env.get_template("page.html.j2").render(
        lang=code, title=title, banner=banner, toc=toc, toc_label=TOC_LABELS.get(code, "Contents"),
        css=Markup((TEMPLATE_DIR / "methodology.css").read_text(encoding="utf-8")), body=Markup(body))
    return MethodologyPage(page, word_body, title, lang, banner)


def _render(exporter: HTMLExporter, path: Path, nb, index: int, formulas: list, numbering, cites) -> str:
    """The HTML of one notebook's kept cells (no page around it), its formulas as tokens into ``formulas``."""
    import nbformat

    kept = []
    for number, cell in enumerate(nb.cells):
        tags = set(cell.metadata.get("tags", []))
        if tags & DROP_CELL_TAGS:
            continue
        if cell.cell_type == "markdown":
            numbering.heading(cell.source)
            cell.source = _math_to_tokens(cites.replace(cell.source, path), formulas, path)
        elif cell.cell_type == "code":
            cell.outputs = [] if DROP_OUTPUT_TAG in tags else [
                out for out in cell.outputs if not (out.output_type == "stream" and out.name == "stderr")]
            if not cell.outputs:
                continue  # with its input hidden it would only leave an empty box
            cell.outputs = [nbformat.from_dict(out) for out in numbering.apply(cell.outputs)]
            for out in cell.outputs:
                if "text/markdown" in out.get("data", {}):
                    out.data["text/markdown"] = _math_to_tokens(cites.replace(out.data["text/markdown"], path),
                                                                formulas, path)
        # Cell ids are unique within one notebook only; on the merged page they become element ids.
        cell.id = f"nb{index}-{number}"
        kept.append(cell)
    nb.cells = kept
    # Each notebook is exported on its own so that its images are found next to it.
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"path": str(path.parent)}})
    body = _NUMBER_CELL.sub(r'<td class="num"\1>\2</td>', body)
    if found := _EXTERNAL.search(body):
        raise InputError("the write-up would load a resource from outside the page", file=path,
                         value=body[found.start():found.start() + 120],
                         expected="images saved next to the notebook (they are embedded) and no CDN scripts or stylesheets")
    return body


def _math_to_tokens(markdown: str, formulas: list[str], path: Path) -> str:
    """Replace ``$$...$$`` and ``$...$`` with tokens and append (MathML, LaTeX, display) to ``formulas``."""
    def store(latex: str, display: str) -> str:
        try:
            mathml = latex_to_mathml(latex.strip(), display=display)
        except Exception as exc:  # latex2mathml has a dozen unrelated error classes and no common base
            raise InputError(f"LaTeX that cannot be converted to MathML ({exc!r})", file=path, value=latex) from exc
        if _UNKNOWN_TEX.search(mathml):
            raise InputError("LaTeX command that latex2mathml does not know", file=path, value=latex,
                             expected="standard LaTeX math commands")
        formulas.append((mathml.replace(MATHML_XMLNS, "", 1), latex.strip(), display))
        return f"ZIMATH{len(formulas) - 1}Z"

    parts = _CODE.split(markdown)
    for k in range(0, len(parts), 2):  # odd items are the code spans themselves
        parts[k] = _DISPLAY_MATH.sub(lambda m: store(m[1], "block"), parts[k])
        parts[k] = _INLINE_MATH.sub(lambda m: store(m[1], "inline"), parts[k])
    return "".join(parts)


def _anchor_headings(body: str) -> tuple[str, list[tuple[int, str, str]]]:
    """Give every heading a stable unique id; return the body and the (level, id, text) of h1/h2.

    Ids come from the heading text, numbered on repeats ("results", "results-2"), because each
    notebook may well have its own "Results" section.
    """
    toc: list[tuple[int, str, str]] = []
    seen: set[str] = set()

    def anchor(m: re.Match) -> str:
        level, attrs, inner = int(m[1]), m[2], m[3]
        text = html.unescape(re.sub(r"<[^>]+>", "", inner)).strip()
        if given := re.search(r'\sid="([^"]+)"', attrs):
            slug = given[1]
        else:
            base = slug = re.sub(r"\W+", "-", text.lower()).strip("-") or "section"
            n = 1
            while slug in seen:
                n += 1
                slug = f"{base}-{n}"
            attrs += f' id="{slug}"'  # only word characters and "-": nothing to escape
        seen.add(slug)
        if level <= 2:
            toc.append((level, slug, text))
        return f"<h{level}{attrs}>{inner}</h{level}>"

    return _HEADING.sub(anchor, body), toc


# Print layout of wide tables (A4 with 16 mm side margins, as in methodology.css). The width a table needs
# is estimated from its cells in em: numbers never wrap, headers wrap between words and text anywhere.
# A table too wide at 8 pt gets a smaller font (var --print-font-size); one that would need less than
# 6 pt on a portrait page goes on a landscape page; one too wide even at 5 pt there may wrap its numbers.
PRINT_WIDTH_PT = {"portrait": 504.0, "landscape": 751.0}
PRINT_FONT_PT, MIN_FONT_PT = 8.0, {"portrait": 6.0, "landscape": 5.0}
_TABLE = re.compile(r"<table\b([^>]*)>(.*?)</table>", re.S)
_ROW = re.compile(r"<tr\b[^>]*>(.*?)</tr>", re.S)
_CELL = re.compile(r"<t([hd])\b([^>]*)>(.*?)</t[hd]>", re.S)


def _table_width_em(inner: str) -> float:
    widths: dict[int, float] = {}
    for row in _ROW.findall(inner):
        for j, (kind, attrs, content) in enumerate(_CELL.findall(row)):
            text = html.unescape(re.sub(r"<[^>]+>", "", content)).strip()
            words = [sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in w) for w in text.split()] or [0]
            chars = sum(words) + len(words) - 1 if 'class="num"' in attrs else max(words) if kind == "h" else min(max(words), 12)
            widths[j] = max(widths.get(j, 0.0), 0.55 * chars + 0.8)  # ~0.55 em a character, + padding and rules
    return sum(widths.values())


def _fit_tables_for_print(body: str) -> str:
    def fit(m: re.Match) -> str:
        need = _table_width_em(m[2]) * PRINT_FONT_PT  # points at the normal print size
        if need <= PRINT_WIDTH_PT["portrait"]:
            return m[0]
        page = "portrait" if need * MIN_FONT_PT["portrait"] / PRINT_FONT_PT <= PRINT_WIDTH_PT["portrait"] else "landscape"
        size = min(PRINT_FONT_PT, max(MIN_FONT_PT[page], PRINT_FONT_PT * PRINT_WIDTH_PT[page] / need))
        classes = "print-fit" + (" print-landscape" if page == "landscape" else "")
        classes += " print-squeeze" if need * MIN_FONT_PT[page] / PRINT_FONT_PT > PRINT_WIDTH_PT[page] else ""
        attrs = m[1]
        if 'class="' in attrs:
            attrs = attrs.replace('class="', f'class="{classes} ', 1)
        else:
            attrs += f' class="{classes}"'
        return f'<table{attrs} style="--print-font-size: {int(size * 10) / 10}pt">{m[2]}</table>'
    return _TABLE.sub(fit, body)


class MissingToolError(RuntimeError):
    """A system program the step needs is not installed."""


CHROMIUM_ENV = "ZONEINDEX_CHROMIUM"  # a browser to use instead of the first of CHROMIUM_NAMES on the PATH
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--no-pdf-header-footer")
# What varies between two prints of the same page by the same Chromium (checked with Chromium 156):
# the print time in the document information, and, on a busy machine, the DOM node numbers that name
# the table header cells in the tagged-PDF structure tree (/ID (node00000079)).
_PDF_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:(\d{14})([^)]*)\)")
_PDF_NODE_ID = re.compile(rb"\(node(\d+)\)")


def find_chromium() -> str:
    """The Chromium to print with: $ZONEINDEX_CHROMIUM, else the first of CHROMIUM_NAMES on the PATH."""
    names = [os.environ[CHROMIUM_ENV]] if os.environ.get(CHROMIUM_ENV) else CHROMIUM_NAMES
    for name in names:
        if found := shutil.which(name):
            return found
    raise MissingToolError(
        f"no Chromium found (looked for {', '.join(names)}): the PDF of the write-up is printed by headless "
        "Chromium. Install the Debian package 'chromium' (sudo apt-get install chromium, or run "
        f"scripts/ensure_system_packages.sh), or set {CHROMIUM_ENV} to a Chromium or Chrome executable.")


def build_methodology_pdf(html: Path, out: Path, *, timeout: float = 180, created: datetime | None = None) -> Path:
    """Print the write-up page ``html`` to an A4 PDF at ``out`` with headless Chromium; return ``out``.

    The page's print stylesheet does the layout (MathML is rendered natively, wide tables are shrunk or
    set on landscape pages). What Chromium varies from one print to the next (the print time and the
    node numbers of the tagged-PDF structure) is fixed afterwards, so the same page gives the same bytes
    with the same Chromium and fonts; another Chromium version or other fonts give other bytes.
    ``created`` is the date the PDF states (the edition's date, see ``edition_date``).
    """
    page, out = Path(html).resolve(), Path(out)
    if not page.is_file():
        raise InputError("no write-up page to print", file=page, expected="an HTML file built by build_methodology_html")
    browser = find_chromium()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with tempfile.TemporaryDirectory(prefix="zoneindex-chromium-") as profile:
            # A fresh profile each time (nothing cached or remembered), and its own process group so
            # that a hung browser can be stopped with every helper process it started.
            proc = subprocess.Popen([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={tmp}",
                                     page.as_uri()], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
            try:
                _, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                raise RuntimeError(f"Chromium did not finish printing {page.name} within {timeout:.0f} s") from None
        data = tmp.read_bytes() if tmp.exists() else b""
        if proc.returncode != 0 or not data.startswith(b"%PDF-"):
            detail = err.decode(errors="replace").strip().splitlines()[-5:]
            raise RuntimeError(f"Chromium could not print {page} (exit code {proc.returncode}): " + " | ".join(detail))
        tmp.write_bytes(_stable_pdf(data, created))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def edition_date(year: int) -> datetime:
    """The date an edition's documents state (PDF, Word, archives): SOURCE_DATE_EPOCH if set
    (reproducible-builds.org), else 1 January after the edition year, the first day its data year is complete."""
    if epoch := os.environ.get("SOURCE_DATE_EPOCH"):
        return datetime.fromtimestamp(int(epoch), timezone.utc).replace(tzinfo=None)
    return datetime(int(year) + 1, 1, 1)


def _stable_pdf(data: bytes, created: datetime | None = None) -> bytes:
    """Replace what varies between prints, byte for byte the same length so that no offset moves.

    The print time becomes ``created`` (UTC), else SOURCE_DATE_EPOCH, else 2000-01-01. The node ids are
    renumbered 1, 2, … in their own order, which keeps them unique and keeps the sorted /IDTree sorted.
    """
    if created is None:
        created = datetime.fromtimestamp(int(os.environ.get("SOURCE_DATE_EPOCH") or 946684800), timezone.utc)
    stamp = created.strftime("%Y%m%d%H%M%S").encode()

    def fixed_date(m: re.Match) -> bytes:
        zone = b"+00'00'" if len(m[3]) == 7 else m[3]
        return b"/" + m[1] + b" (D:" + stamp + zone + b")"

    ids = sorted({m[1] for m in _PDF_NODE_ID.finditer(data)}, key=int)
    # the k-th smallest id is at least k, so k padded to the old width never makes the file longer
    rank = {old: str(k).encode().zfill(len(old)) for k, old in enumerate(ids, start=1)}
    data = _PDF_NODE_ID.sub(lambda m: b"(node" + rank.get(m[1], m[1]) + b")", data)
    return _PDF_DATE.sub(fixed_date, data)


def _write_atomically(out: Path, text: str) -> Path:
    """Write via a temporary file and a rename, so a reader never sees a half-written page."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:  # "\n" on every OS: same bytes
            fh.write(text)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


# --- the summary that opens the write-up: every number comes from the run's tables ------------------

SUMMARY_TEXT = {
    "en": {
        "level": "In {last} {subject} stands at **{value:.1f}** ({base} = 100), "
                 "**{change:+.1f} points** since {base}.",
        "drivers": "The largest contributions to that change came from {parts}.",
        "part": "{name} ({points:+.1f} points, {share:.0%})",
        "growth": "The dimension that grew most is {name} ({growth:+.0f} % since {base}).",
        "ranking": "In {last}, {count} of {total} entities have a value of the {index}: the highest is {top} "
                   "({top_value:.3g}), the lowest {bottom} ({bottom_value:.3g}); {entity} scores {value:.3g} "
                   "(rank {rank:.0f}).",
        "ranking_growth": "In {last}, {count} of {total} entities have a value of the {index}. Every entity's index "
                          "is 100 in {base}, so the ranking is one of growth since {base}, not of levels: the fastest "
                          "growth is {top}'s ({top_value:.3g}), the slowest {bottom}'s ({bottom_value:.3g}); "
                          "{entity} scores {value:.3g} (rank {rank:.0f} for growth).",
        "band": "Across {runs} combinations of the uncertain modelling choices, the {last} value of {entity} lies "
                "between {q05:.3g} and {q95:.3g} (5–95 %){rise}.",
        "rise": ", and it rose since {base} in {p:.0%} of them",
        "rank_band": "Across {runs} combinations of the uncertain modelling choices, {entity}'s rank lies between "
                     "{q05:.0f} and {q95:.0f} (5–95 %).",
        "sobol": "The result depends most on the choice of {input} (total Sobol index {st:.2f}).",
        "sobol_open": "The Sobol estimate for {input} is outside [0, 1]: not converged (more design rows are needed).",
        "shift": "Under the alternative method sets, entities move by {low:.1f} to {high:.1f} ranks on average.",
        "checks": "Validation: {passed} of {checks} checks passed{failed}.",
        "reference": " Published values reproduced: {value}.",
        "illustrative": "*These numbers rest on illustrative data and must not be quoted as statistics.*",
    },
    "zh": {
        "level": "{last}年，{subject}为 **{value:.1f}**（{base}年 = 100），较{base}年 **{change:+.1f} 点**。",
        "drivers": "对这一变化贡献最大的是{parts}。",
        "part": "{name}（{points:+.1f} 点，{share:.0%}）",
        "growth": "增长最快的维度是{name}（较{base}年 {growth:+.0f}%）。",
        "ranking": "{last}年，{total}个对象中有{count}个有{index}值：最高为{top}（{top_value:.3g}），最低为{bottom}"
                   "（{bottom_value:.3g}）；{entity}为{value:.3g}（第{rank:.0f}位）。",
        "ranking_growth": "{last}年，{total}个对象中有{count}个有{index}值。各对象的指数在{base}年均为 100，因此以下比较的是"
                          "较{base}年的增长，而非发展水平：增长最快的是{top}（{top_value:.3g}），最慢的是{bottom}"
                          "（{bottom_value:.3g}）；{entity}为{value:.3g}（增长排名第{rank:.0f}位）。",
        "band": "在{runs}种不确定的方法选择组合下，{entity}{last}年的数值位于{q05:.3g}至{q95:.3g}之间（5%–95%）{rise}。",
        "rise": "，其中{p:.0%}的组合显示其较{base}年上升",
        "rank_band": "在{runs}种不确定的方法选择组合下，{entity}的排名位于第{q05:.0f}至第{q95:.0f}位之间（5%–95%）。",
        "sobol": "结果对{input}的选择最为敏感（总 Sobol 指数 {st:.2f}）。",
        "sobol_open": "{input}的 Sobol 指数估计值超出 [0, 1]：尚未收敛（需要更多设计样本）。",
        "shift": "在各备选方法组合下，对象的平均排名变动为{low:.1f}至{high:.1f}位。",
        "checks": "验证：{checks}项检查中{passed}项通过{failed}。",
        "reference": "已复现的公开数值：{value}。",
        "illustrative": "*以上数字基于示意数据，不得作为统计数据引用。*",
    },
}


def summary_markdown(study, tables: dict, lang: str = "en") -> str:
    """The write-up's opening summary, written from the run's tables (``tables``: name → DataFrame, as the
    stages wrote them: scores, contributions, checks, rank_shifts, uncertainty_summary, uncertainty_ranks,
    sobol_indices). No number in it is typed by hand."""
    text, fw = SUMMARY_TEXT[lang], study.framework
    scores = tables["scores"]
    entity = study.config.get("focus_entity") or scores["entity"].iloc[0]
    root = scores[scores["code"] == fw.root].dropna(subset=["value"])
    last = int(root["year"].max())
    names = fw.labels(lang)
    shown = _entity_names(tables.get("entities"), lang)
    index_name, entity_name = names[fw.root], shown.get(entity, entity)
    # "the CDHT Internationalization Index of CDHT" names the entity twice: once is enough where the index does
    subject = ((f"the {index_name}" if entity_name in index_name else f"the {index_name} of {entity_name}")
               if lang == "en" else index_name if entity_name in index_name else f"{entity_name}的{index_name}")
    facts = {"index": index_name, "entity": entity_name, "subject": subject, "last": last, "base": study.base_year,
             "lang": lang}
    own = root[(root["entity"] == entity) & (root["year"] == last)]["value"]
    lines = []
    if study.base_year is not None and len(own):
        lines.append(text["level"].format(value=own.iloc[0], change=own.iloc[0] - 100, **facts))
        parts = tables.get("contributions")
        if parts is not None and len(parts):
            dims = parts[(parts["entity"] == entity) & (parts["year"] == last) & (parts["level"] == fw.max_level - 1)]
            dims = dims.sort_values("to_index", ascending=False)
            total = dims["to_index"].sum()
            listed = [text["part"].format(name=names[r.code], points=r.to_index, share=r.to_index / total if total else 0)
                      for r in dims.head(2).itertuples()]
            lines.append(text["drivers"].format(parts=("、" if lang == "zh" else " and ").join(listed)))
            best = dims.sort_values("change", ascending=False).iloc[0]
            lines.append(text["growth"].format(name=names[best["code"]], growth=best["change"], **facts))
    if root["entity"].nunique() > 1:
        latest = root[root["year"] == last].sort_values("value", ascending=False)
        ranks = latest["value"].rank(ascending=False, method="min")
        mine = latest["entity"] == entity
        # with a base year every entity is 100 there: the order is one of growth, and the text says so
        lines.append(text["ranking" if study.base_year is None else "ranking_growth"].format(
            count=len(latest), total=scores[scores["year"] == last]["entity"].nunique(),
            top=shown.get(latest["entity"].iloc[0], latest["entity"].iloc[0]), top_value=latest["value"].iloc[0],
            bottom=shown.get(latest["entity"].iloc[-1], latest["entity"].iloc[-1]), bottom_value=latest["value"].iloc[-1],
            value=latest.loc[mine, "value"].iloc[0], rank=ranks[mine].iloc[0], **facts))
    runs = (study.config.get("uncertainty") or {}).get("runs")
    lines += _uncertainty_sentences(tables, text, fw, entity, last, facts, runs)
    checks = tables.get("checks")
    if checks is not None and len(checks):
        judged = checks[checks["status"] != "info"]
        failed = [glossary.value_text(name, lang) for name in judged[judged["status"] == "fail"]["check"]]
        line = text["checks"].format(passed=int((judged["status"] == "pass").sum()), checks=len(judged),
                                     failed=f" ({'; '.join(failed)})" if failed else "")
        reproduced = checks[checks["check"].str.startswith("published values reproduced")]
        lines.append(line + "".join(text["reference"].format(value=v) for v in reproduced["value"]))
    if bool(scores["illustrative"].any()):
        lines.append(text["illustrative"])
    return "\n\n".join(lines)


def _entity_names(entities, lang: str) -> dict:
    """entity -> its display name from the entities table (English names, as the figures use them)."""
    if lang != "en" or entities is None or "name" not in entities:
        return {}
    return entities.set_index("entity")["name"].dropna().astype(str).to_dict()


def _uncertainty_sentences(tables, text, fw, entity, last, facts, runs) -> list[str]:
    lines = []
    shifts = tables.get("rank_shifts")
    if shifts is not None and len(shifts) and "nominal" in shifts:
        moved = shifts.drop(columns=["entity", "nominal"], errors="ignore").sub(shifts["nominal"], axis=0).abs().mean()
        lines.append(text["shift"].format(low=moved.min(), high=moved.max()))
    summary, ranks = tables.get("uncertainty_summary"), tables.get("uncertainty_ranks")
    if summary is not None and len(summary):
        own = summary[(summary["entity"] == entity) & (summary["code"] == fw.root) & (summary["year"] == last)]
        if ranks is not None and len(ranks) and summary["year"].nunique() == 1:
            mine = ranks[(ranks["entity"] == entity) & (ranks["code"] == fw.root) & (ranks["year"] == last)]
            if len(mine):
                lines.append(text["rank_band"].format(runs=runs, q05=mine["q05_rank"].iloc[0],
                                                      q95=mine["q95_rank"].iloc[0], **facts))
        elif len(own):
            row = own.iloc[0]
            rise = text["rise"].format(p=row["p_change_positive"], **facts) if "p_change_positive" in own and \
                pd.notna(row.get("p_change_positive")) else ""
            lines.append(text["band"].format(runs=runs, q05=row["q05"], q95=row["q95"], rise=rise, **facts))
    indices = tables.get("sobol_indices")
    if indices is not None and len(indices):
        target = next(t for t in ("change", "rank_shift", "value") if t in set(indices["target"]))
        top = indices[indices["target"] == target].sort_values("ST", ascending=False).iloc[0]
        if 0 <= top["ST"] <= 1 and 0 <= top["S1"] <= 1:                 # outside [0, 1]: never a headline
            lines.append(text["sobol"].format(input=glossary.value_text(top["input"], facts.get("lang", "en")), st=top["ST"]))
        else:
            lines.append(text["sobol_open"].format(input=glossary.value_text(top["input"], facts.get("lang", "en"))))
    return lines
