"""The methodology write-up: one self-contained HTML page built from the executed notebooks.

Code inputs are hidden and only their outputs kept. LaTeX becomes MathML at build time and every
image is embedded as a data URI, so the page needs no network, no JavaScript and no CDN (the stock
nbconvert templates load MathJax and require.js from one, see design/ecosystem.md §3). The same
notebooks always give the same bytes, so the write-up can be diffed and checked into a release.
"""
from __future__ import annotations

import html
import os
import re
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
    body, toc = _anchor_headings(body)
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
