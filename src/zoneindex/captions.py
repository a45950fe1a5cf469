"""Numbered figures and tables in the write-up: 图 1 … / 表 1 … (zh), Figure 1 … / Table 1 … (en).

A notebook shows a saved figure with ``display(Image(filename=...))``; its output holds the PNG's bytes,
which is how the figure is recognised among the edition's saved figures (``<name>.png`` beside
``<name>.caption.txt``, written by ``plots.save_figure``). Each figure becomes one HTML ``<figure>``: the
image with its numbered caption BELOW it, one block that print never splits (a caption printed as a
separate output used to stay with the figure that followed it, at the top of the next page). A markdown
output of the same cell that names the figure's file is the notebook's own caption line and is dropped.
Each table (an HTML table output) gets its numbered caption ABOVE it: a short markdown output right before
it in the same cell (e.g. "**correlations** (12 rows)"), else the heading of the section it is in.
"""
from __future__ import annotations

import base64
import hashlib
import html
import re
from pathlib import Path

FIGURE_LABEL = {"en": "Figure {n}.", "zh": "图 {n}"}
TABLE_LABEL = {"en": "Table {n}.", "zh": "表 {n}"}
LABEL_GAP = {"en": " ", "zh": "\u3000"}  # a full-width space after 图 1, as Chinese typesetting has it
CROSS_REF = {"en": "Figure {n}", "zh": "图 {n}"}
_HEADING_LINE = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_MARKUP = re.compile(r"[*_`]|\[([^\]]*)\]\([^)]*\)")
_OWN_CAPTION = re.compile(r"\s*<caption>(.*?)</caption>", re.S)  # a caption the table brought (present.table)


def saved_figures(folder: Path | None) -> dict[str, tuple[str, str]]:
    """sha256 of each saved PNG → (figure stem, caption) for the figures in ``folder`` that have a caption file."""
    found: dict[str, tuple[str, str]] = {}
    if folder is None or not Path(folder).is_dir():
        return found
    for png in sorted(Path(folder).glob("*.png")):
        caption = png.with_name(f"{png.stem}.caption.txt")
        if caption.is_file():
            found[hashlib.sha256(png.read_bytes()).hexdigest()] = (png.stem, caption.read_text(encoding="utf-8").strip())
    return found


def figure_order(notebooks: list[Path], folder: Path, lang: str, hidden_tags: frozenset = frozenset()) -> list[str]:
    """The names (without the language) of the saved figures in ``folder``, in the order the notebooks show them
    (cells with one of ``hidden_tags`` are not shown)."""
    import nbformat

    numbering = Numbering(lang, saved_figures(folder))
    for path in notebooks:
        numbering.count(nbformat.read(path, as_version=4), hidden_tags)
    return [stem.removesuffix(f"_{lang}") for stem in numbering.figure_numbers]


def _png_digest(output) -> str | None:
    data = output.get("data", {}).get("image/png") if output.get("output_type") in ("display_data", "execute_result") else None
    return hashlib.sha256(base64.b64decode(data)).hexdigest() if data else None


def _plain(markdown: str) -> str:
    return _MARKUP.sub(lambda m: m[1] or "", markdown).strip()


class Numbering:
    """Figure and table numbers of one write-up, in document order.

    ``count`` first walks every notebook (so that a reference to a figure further on knows its number),
    then ``apply`` rewrites each code cell's outputs in the same order.
    """

    def __init__(self, lang: str, figures: dict[str, tuple[str, str]]):
        self.lang, self.figures = lang, figures
        self.figure_numbers: dict[str, int] = {}  # figure stem -> number
        self.sequence: list[str] = []  # the stem of every figure output, in document order
        self.tables = 0
        self.shown = 0  # figure outputs rewritten so far
        self.section = ""

    def count(self, notebook, hidden_tags: frozenset = frozenset()) -> None:
        """Number the figures of ``notebook``, except in cells with one of ``hidden_tags`` (not shown)."""
        for cell in notebook.cells:
            shown = cell.cell_type == "code" and not set(cell.metadata.get("tags", [])) & hidden_tags
            for output in cell.get("outputs", []) if shown else []:
                if (digest := _png_digest(output)) is not None:  # a figure not saved is named by its number
                    stem = self.figures.get(digest, (f"figure-{len(self.figure_numbers) + 1}", ""))[0]
                    self.figure_numbers.setdefault(stem, len(self.figure_numbers) + 1)
                    self.sequence.append(stem)

    def cross_refs(self) -> dict[str, str]:
        """``fig:<name>`` (the stem without its language, e.g. ``fig:radar``) → "Figure 3" / "图 3"."""
        refs = {}
        for stem, n in self.figure_numbers.items():
            refs[f"fig:{stem.removesuffix('_' + self.lang)}"] = CROSS_REF[self.lang].format(n=n)
        return refs

    def heading(self, markdown: str) -> None:
        """Remember the last heading of a markdown cell: the caption of a table without one of its own."""
        if found := _HEADING_LINE.findall(markdown):
            self.section = _plain(found[-1])

    def apply(self, outputs: list) -> list:
        """The outputs of one code cell with its figures and tables numbered and captioned."""
        kept: list = []
        drop_caption_of = None
        for k, output in enumerate(outputs):
            data = output.get("data", {})
            if (digest := _png_digest(output)) is not None:
                stem = self.sequence[self.shown]
                self.shown += 1
                kept.append(self._figure(output, stem, self.figures.get(digest, (stem, ""))[1]))
                drop_caption_of = stem
                continue
            if "text/markdown" in data and drop_caption_of and f"{drop_caption_of}.png" in data["text/markdown"]:
                drop_caption_of = None  # the notebook's own caption line: the figure block has it now
                continue
            drop_caption_of = None
            if "text/html" in data and "<table" in data["text/html"]:
                before = kept[-1].get("data", {}).get("text/markdown") if kept else None
                if before is not None and len(before) < 200 and "\n\n" not in before.strip():
                    kept.pop()  # a one-line lead-in becomes the table's caption
                    title = _plain(before)
                else:
                    title = self.section
                output = _with_data(output, {"text/html": self._captioned_table(data["text/html"], title)})
            kept.append(output)
        return kept

    def _figure(self, output, stem: str, caption: str):
        number = self.figure_numbers[stem]
        label = FIGURE_LABEL[self.lang].format(n=number)
        png = output["data"]["image/png"].replace("\n", "")
        width = output.get("metadata", {}).get("image/png", {}).get("width")
        size = f' style="width: {int(width)}px"' if width else ""
        ident = f"fig-{stem.removesuffix('_' + self.lang)}"
        block = (f'<figure class="zi-figure" id="{ident}"><img src="data:image/png;base64,{png}" alt="{html.escape(label)}"{size}>'
                 f'<figcaption><span class="caption-label">{label}</span>{LABEL_GAP[self.lang]}{html.escape(caption)}'
                 "</figcaption></figure>")
        return {"output_type": "display_data", "metadata": {}, "data": {"text/html": block}}

    def _captioned_table(self, table_html: str, title: str) -> str:
        """The table with one numbered caption: its own caption (a table has at most one) as the title when
        it has one, else ``title``."""
        self.tables += 1
        label = TABLE_LABEL[self.lang].format(n=self.tables)
        own = _OWN_CAPTION.search(table_html)
        if own:
            table_html, title = table_html[:own.start()] + table_html[own.end():], html.unescape(own[1]).strip()
        caption = (f'<caption><span class="caption-label">{label}</span>{LABEL_GAP[self.lang] if title else ""}'
                   f"{html.escape(title)}</caption>")
        return re.sub(r"(<table\b[^>]*>)", lambda m: m[1] + caption, table_html, count=1)


def _with_data(output, data: dict):
    """A copy of a display output whose data is ``data`` alone (its text/plain twin is not shown beside HTML)."""
    copy = dict(output)
    copy["data"] = data
    return copy
