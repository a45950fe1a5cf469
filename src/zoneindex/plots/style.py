"""The house style of the figures: fonts, text sizes in print points, colours, and byte-stable saving.

Fonts and byte-stable output follow ecosystem.md §2.3 and §5.4; ``TEXT`` is the fixed wording drawn on the
figures themselves in English and Chinese.
"""
from __future__ import annotations

import colorsys
from contextlib import nullcontext
from pathlib import Path

import matplotlib as mpl
import matplotlib.font_manager as fm
import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.text import Text

from zoneindex.errors import InputError
from zoneindex.plot_text import unwrap
from zoneindex.plots.pdf_fonts import lean_subsets

FONTS = {"en": ["DejaVu Sans", "Noto Sans CJK SC"], "zh": ["Noto Sans CJK SC", "DejaVu Sans"]}
# Paul Tol's "muted" scheme: colour-blind safe, and none of its colours is black, which marks the overall index.
PALETTE = ["#332288", "#CC6677", "#117733", "#88CCEE", "#DDCC77", "#AA4499", "#44AA99", "#882255", "#999933"]
INDEX_COLOUR, REF_COLOUR = "#000000", "#777777"
FORMATS = ("png", "svg", "pdf")  # bitmap for screens, editable vector, vector for print
# Figure-level metadata that would otherwise embed the save time and break byte-identical reruns.
_METADATA = {"png": {}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
_PAD = 0.05  # inches of white space around a saved figure
_DPI = 300  # of the PNG
# Widths in inches such that the saved file, padding included, is 8.5 cm (one column) or 17 cm (full width).
WIDTH = 8.5 / 2.54 - 2 * _PAD
PAGE = 17 / 2.54 - 2 * _PAD
# Smallest text in points at print size (journals ask for 6-8 pt); CJK strokes need a little more.
_SMALLEST = {"en": 7.5, "zh": 8.0}


def set_theme(lang: str = "en") -> None:
    """Apply the house style: white grid, the language's font first (CJK for Chinese), text sizes in print points."""
    if lang not in _SMALLEST:
        raise InputError("unknown figure language", value=lang, expected='"en" or "zh"')
    small = _SMALLEST[lang]
    sizes = {"font.size": small + 0.5, "axes.labelsize": small + 0.5, "axes.titlesize": small + 1.5,
             "figure.titlesize": small + 1.5, "legend.title_fontsize": small,
             "xtick.labelsize": small, "ytick.labelsize": small, "legend.fontsize": small}
    # The language's font first, the other for the glyphs it lacks (so a PDF embeds CJK only where Chinese is drawn),
    # through rc= (set_theme() resets fonts) and as font.family: matplotlib falls back only along that list.
    sns.set_theme(style="whitegrid", context="paper", font="sans-serif",
                  rc={"font.family": FONTS[lang], "font.sans-serif": FONTS[lang], **sizes,
                      "axes.unicode_minus": False,  # ASCII minus, like the "+1.2"/"-0.8" labels printed on bars
                      "svg.hashsalt": "zoneindex",  # fixed clip-path/marker ids instead of random ones
                      "svg.fonttype": "path",  # glyphs as outlines: Chinese shows even where the font is absent
                      # Embedded font subsets: searchable text, and publishers reject Type 3. Noto CJK is CFF, which
                      # matplotlib writes as FontFile2 (matplotlib#20870); PDFium reads it fine, strict checkers may not.
                      # ps.fonttype: PDF font subsets are sized by it (3: 256 glyphs), each a parse of Noto CJK
                      "pdf.fonttype": 42, "ps.fonttype": 42})


EXTENDED = ["#77AADD", "#EE8866", "#EEDD88", "#FFAABB", "#99DDFF", "#44BB99", "#BBCC33", "#AAAA00"]


def palette(n: int) -> list[str]:
    """``n`` distinct colours, none black: the nine muted, Tol's "light" (no pale grey), then golden-angle hues."""
    colours, k = (PALETTE + EXTENDED)[:n], 0
    while len(colours) < n:
        r, g, b = colorsys.hls_to_rgb((0.61803398875 * k) % 1.0, 0.45 if k % 2 else 0.65, 0.55)
        colours += [c for c in [f"#{round(255 * r):02X}{round(255 * g):02X}{round(255 * b):02X}"] if c not in colours]
        k += 1
    return colours


def dimension_colours(codes: list[str]) -> dict[str, str]:
    """Colour by position, so the same ordered codes get the same colours in every figure, for any number."""
    if len(set(codes)) != len(codes):
        raise InputError("dimension codes must be unique for distinct colours", value=list(codes),
                         expected="each code once")
    return dict(zip(codes, palette(len(codes))))


def save_figure(fig: Figure, stem: Path, formats=FORMATS, caption: str | None = None,
                editable: Path | None = None) -> list[Path]:
    """Write ``stem.<format>`` for each format (PNG at 300 dpi), byte-identical across reruns, and the caption
    as ``stem.caption.txt`` (UTF-8); close the figure. Returns the figure files, then the caption file. With
    ``editable``, also ``editable.svg`` with its text as text (as Word and Inkscape edit it), not listed.

    The figure is laid out and cropped once, as for the PNG, and every format is drawn with that geometry:
    ``bbox_inches="tight"`` would lay it out and draw it twice for each format.
    """
    if unknown := set(formats) - set(_METADATA):
        raise InputError("unsupported figure format", value=sorted(unknown), expected=f"some of {sorted(_METADATA)}")
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    # stem.parent / name rather than with_suffix(): a stem like "fig_v1.2" must keep its dot.
    paths = [stem.parent / f"{stem.name}.{fmt}" for fmt in formats]
    try:
        crop = _fixed_layout(fig)
        if editable is not None:
            editable.parent.mkdir(parents=True, exist_ok=True)
            with mpl.rc_context({"svg.fonttype": "none"}):
                _save(fig, editable.parent / f"{editable.name}.svg", "svg", crop)
        for path, fmt in zip(paths, formats):
            _save(fig, path, fmt, crop)
    finally:
        plt.close(fig)
    if caption is not None:
        paths.append(stem.parent / f"{stem.name}.caption.txt")
        paths[-1].write_text(caption.strip() + "\n", encoding="utf-8", newline="\n")
    return paths


def _fixed_layout(fig: Figure):
    """Lay ``fig`` out at the PNG's resolution, keep that layout for every later draw, and return the crop
    (the tight box around what is drawn, padded) in inches."""
    dpi = fig.dpi
    fig.set_dpi(_DPI)
    try:
        fig.draw_without_rendering()
        crop = fig.get_tightbbox().padded(_PAD)
    finally:
        fig.set_dpi(dpi)
    # no engine at all ("none" leaves a placeholder, for which savefig would lay out and draw twice); None means
    # that unless the rc asks for a layout
    with mpl.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        fig.set_layout_engine(None)
    return crop


def _save(fig: Figure, path: Path, fmt: str, crop) -> None:
    with lean_subsets() if fmt == "pdf" else nullcontext():  # the font subsets a PDF embeds (plots.pdf_fonts)
        fig.savefig(path, format=fmt, dpi=_DPI, bbox_inches=crop, metadata=_METADATA[fmt])


def figure_title(fig: Figure) -> str:
    """The title drawn by the plot functions of this module, unwrapped."""
    return unwrap(fig.get_suptitle())


def resolved_font_families(fig: Figure) -> set[str]:
    """Family names of the fonts that render the characters of every text; "<missing>" for tofu.

    Mirrors matplotlib's per-glyph fallback: each character goes to the first font of the family list
    that has it, so a set without "DejaVu Sans" proves no character fell back.
    """
    fig.draw_without_rendering()  # tick labels only get their text during a draw
    families: set[str] = set()
    for text in fig.findobj(lambda a: isinstance(a, Text) and a.get_visible() and a.get_text().strip()):
        fonts = [fm.get_font(path) for path in _font_chain(text.get_fontproperties())]
        for ch in set(text.get_text()) - set(" \n\t"):
            families.add(next((f.family_name for f in fonts if ord(ch) in f.get_charmap()), "<missing>"))
    return families


def _font_chain(prop: fm.FontProperties) -> list:
    """Font files in fallback order for one text, as the renderers look them up."""
    generic = {"sans-serif", "serif", "monospace", "cursive", "fantasy"}
    names = [n for fam in prop.get_family() for n in (mpl.rcParams[f"font.{fam}"] if fam in generic else [fam])]
    chain = []
    for name in names:
        p = prop.copy()
        p.set_family(name)
        try:
            chain.append(fm.findfont(p, fallback_to_default=False))
        except ValueError:  # a listed family that is not installed is skipped, as matplotlib does
            pass
    return chain or [fm.findfont(prop)]


# Fixed wording on the figures themselves (everything else comes from the framework or the caller).
TEXT = {
    "total": {"en": "Total", "zh": "合计"},
    "median_all": {"en": "median of all", "zh": "全部中位数"},
    "nominal": {"en": "nominal", "zh": "基准结果"},
    "median": {"en": "median", "zh": "中位数"},
    "band": {"en": "5–95 % range", "zh": "5%–95%区间"},
    "rank": {"en": "rank (1 = best)", "zh": "排名（1 = 最优）"},
    "rank_band": {"en": "rank, 5–95 % range", "zh": "排名（5%–95%区间）"},
    "S1": {"en": "first-order (S1)", "zh": "一阶效应（S1）"},
    "ST": {"en": "total (ST)", "zh": "总效应（ST）"},
    "sobol": {"en": "Sobol sensitivity index", "zh": "Sobol敏感性指数"},
    "no_value": {"en": "no value", "zh": "无数据"},
    "missing": {"en": "no data", "zh": "无数据"},
    "rebased_value": {
        "en": "index, {base} = 100 for every entity: growth since {base}, not level",
        "zh": "指数（各主体{base}年=100）：反映{base}年以来的增长，而非水平高低"},
}

