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
import time
import unicodedata
from pathlib import Path

import jinja2
import nbformat
from latex2mathml.converter import convert as latex_to_mathml
from markupsafe import Markup
from nbconvert import HTMLExporter

from zoneindex.errors import InputError

TEMPLATE_DIR = Path(__file__).parent / "templates" / "methodology"
DROP_CELL_TAGS = frozenset({"parameters", "injected-parameters", "remove-cell"})
DROP_OUTPUT_TAG = "remove-output"
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
                           banner: str | None = None) -> Path:
    """Merge the executed notebooks, in the given order, into one page at ``out``; return ``out``.

    Dropped: every code input, cells tagged parameters / injected-parameters / remove-cell, the
    outputs of cells tagged remove-output, and stderr streams (warnings are not methodology).
    ``banner`` puts a coloured notice at the very top, e.g. for an edition with illustrative data.
    """
    if not notebooks:
        raise InputError("no notebooks to build the methodology from", expected="at least one executed notebook")
    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, exclude_anchor_links=True, embed_images=True)
    body = "\n".join(_render(exporter, Path(path), index) for index, path in enumerate(notebooks))
    body, toc = _anchor_headings(_fit_tables_for_print(body))
    lang = LANG_CODES.get(lang, lang)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                             keep_trailing_newline=True)
    page = env.get_template("page.html.j2").render(
        lang=lang, title=title, banner=banner, toc=toc, toc_label=TOC_LABELS.get(lang, "Contents"),
        css=Markup((TEMPLATE_DIR / "methodology.css").read_text(encoding="utf-8")), body=Markup(body))
    return _write_atomically(Path(out), page)


def _render(exporter: HTMLExporter, path: Path, index: int) -> str:
    """The HTML of one notebook's kept cells (no page around it)."""
    nb = nbformat.read(path, as_version=4)
    formulas: list[str] = []
    kept = []
    for number, cell in enumerate(nb.cells):
        tags = set(cell.metadata.get("tags", []))
        if tags & DROP_CELL_TAGS:
            continue
        if cell.cell_type == "markdown":
            cell.source = _math_to_tokens(cell.source, formulas, path)
        elif cell.cell_type == "code":
            cell.outputs = [] if DROP_OUTPUT_TAG in tags else [
                out for out in cell.outputs if not (out.output_type == "stream" and out.name == "stderr")]
            if not cell.outputs:
                continue  # with its input hidden it would only leave an empty box
            for out in cell.outputs:
                if "text/markdown" in out.get("data", {}):
                    out.data["text/markdown"] = _math_to_tokens(out.data["text/markdown"], formulas, path)
        # Cell ids are unique within one notebook only; on the merged page they become element ids.
        cell.id = f"nb{index}-{number}"
        kept.append(cell)
    nb.cells = kept
    # Each notebook is exported on its own so that its images are found next to it.
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"path": str(path.parent)}})
    body = _TOKEN.sub(lambda m: formulas[int(m[1])], body)
    body = _NUMBER_CELL.sub(r'<td class="num"\1>\2</td>', body)
    if found := _EXTERNAL.search(body):
        raise InputError("the write-up would load a resource from outside the page", file=path,
                         value=body[found.start():found.start() + 120],
                         expected="images saved next to the notebook (they are embedded) and no CDN scripts or stylesheets")
    return body


def _math_to_tokens(markdown: str, formulas: list[str], path: Path) -> str:
    """Replace ``$$...$$`` and ``$...$`` with tokens and append their MathML to ``formulas``."""
    def store(latex: str, display: str) -> str:
        try:
            mathml = latex_to_mathml(latex.strip(), display=display)
        except Exception as exc:  # latex2mathml has a dozen unrelated error classes and no common base
            raise InputError(f"LaTeX that cannot be converted to MathML ({exc!r})", file=path, value=latex) from exc
        if _UNKNOWN_TEX.search(mathml):
            raise InputError("LaTeX command that latex2mathml does not know", file=path, value=latex,
                             expected="standard LaTeX math commands")
        formulas.append(mathml.replace(MATHML_XMLNS, "", 1))
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


def build_methodology_pdf(html: Path, out: Path, *, timeout: float = 180) -> Path:
    """Print the write-up page ``html`` to an A4 PDF at ``out`` with headless Chromium; return ``out``.

    The page's print stylesheet does the layout (MathML is rendered natively, wide tables are shrunk or
    set on landscape pages). What Chromium varies from one print to the next (the print time and the
    node numbers of the tagged-PDF structure) is fixed afterwards, so the same page gives the same bytes
    with the same Chromium and fonts; another Chromium version or other fonts give other bytes.
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
        tmp.write_bytes(_stable_pdf(data))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _stable_pdf(data: bytes) -> bytes:
    """Replace what varies between prints, byte for byte the same length so that no offset moves.

    The print time becomes SOURCE_DATE_EPOCH, else 2000-01-01. The node ids are renumbered 1, 2, …
    in their own order, which keeps them unique and keeps the sorted /IDTree sorted.
    """
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or 946684800)  # 2000-01-01T00:00:00Z
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(epoch)).encode()

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
