"""One house style for the publication figures of a composite index, with English or Chinese labels.

Every plot function is pure: it takes pandas data and returns a Figure; ``save_figure`` writes it with
its caption. Figures are drawn at their print size, one column of a two-column page (8.5 cm) or, when
their labels cannot fit a column, the full page width (17 cm), so a font size set here is the size on
paper and no figure has to be shrunk to fit. Fonts and byte-stable output follow ecosystem.md §2.3 and §5.4.
Text is measured and wrapped at print size by ``zoneindex.plot_text``; the figure sets of an edition
(titles, captions, which figures a study gets) are ``zoneindex.figures``.
"""
from __future__ import annotations

import colorsys
from pathlib import Path

import matplotlib as mpl
import matplotlib.font_manager as fm
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

from zoneindex.errors import InputError
from zoneindex.plot_text import fit_label, font_points, text_width, unwrap, wrap

FONTS = {"en": ["DejaVu Sans", "Noto Sans CJK SC"], "zh": ["Noto Sans CJK SC", "DejaVu Sans"]}
# Paul Tol's "muted" scheme: colour-blind safe, and none of its colours is black, which marks the overall index.
PALETTE = ["#332288", "#CC6677", "#117733", "#88CCEE", "#DDCC77", "#AA4499", "#44AA99", "#882255", "#999933"]
INDEX_COLOUR, REF_COLOUR = "#000000", "#777777"
FORMATS = ("png", "svg", "pdf")  # bitmap for screens, editable vector, vector for print
# Figure-level metadata that would otherwise embed the save time and break byte-identical reruns.
_METADATA = {"png": {}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
_PAD = 0.05  # inches of white space around a saved figure
# Widths in inches such that the saved file, padding included, is 8.5 cm (one column) or 17 cm (full width).
_WIDTH = 8.5 / 2.54 - 2 * _PAD
_PAGE = 17 / 2.54 - 2 * _PAD
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


def save_figure(fig: Figure, stem: Path, formats=FORMATS, caption: str | None = None) -> list[Path]:
    """Write ``stem.<format>`` for each format (PNG at 300 dpi), byte-identical across reruns, and the caption
    as ``stem.caption.txt`` (UTF-8); close the figure. Returns the figure files, then the caption file."""
    if unknown := set(formats) - set(_METADATA):
        raise InputError("unsupported figure format", value=sorted(unknown), expected=f"some of {sorted(_METADATA)}")
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    # stem.parent / name rather than with_suffix(): a stem like "fig_v1.2" must keep its dot.
    paths = [stem.parent / f"{stem.name}.{fmt}" for fmt in formats]
    try:
        for path, fmt in zip(paths, formats):
            fig.savefig(path, format=fmt, dpi=300, bbox_inches="tight", pad_inches=_PAD, metadata=_METADATA[fmt])
    finally:
        plt.close(fig)
    if caption is not None:
        paths.append(stem.parent / f"{stem.name}.caption.txt")
        paths[-1].write_text(caption.strip() + "\n", encoding="utf-8", newline="\n")
    return paths


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


# --- shared layout -------------------------------------------------------------------------------------

def _print_width(needed: float) -> float:
    """One column when ``needed`` points of content fit it, else the full page width."""
    return _WIDTH if needed <= _WIDTH * 72 else _PAGE


def _with_legend_row(figsize: tuple[float, float], projection: str | None = None, width_ratios=(1,)):
    """Figure whose panels (sharing the y axis) sit above a flat, invisible row that will hold the legend.

    Constrained layout counts an axes' legend as part of that axes, so the legend gets its own space under
    the tick labels and the footnote (supxlabel) goes under the legend. A figure-level "outside" legend
    would not: it is pinned to the figure edge and overlaps the footnote.
    """
    fig = plt.figure(figsize=figsize, layout="constrained")
    grid = fig.add_gridspec(2, len(width_ratios), height_ratios=[1, 1e-3], width_ratios=width_ratios)
    axes = [fig.add_subplot(grid[0, 0], projection=projection)]
    axes += [fig.add_subplot(grid[0, i], sharey=axes[0]) for i in range(1, len(width_ratios))]
    return fig, axes


def _legend_below(fig: Figure, axes: list) -> None:
    handles, names = [sum(pair, []) for pair in zip(*(ax.get_legend_handles_labels() for ax in axes))]
    size = font_points("legend.fontsize")
    # As many columns as fit the figure width; an entry is its label plus 4.8 em of handle and gaps.
    per_row = int(fig.get_figwidth() * 72 // (max(text_width(n, size) for n in names) + 4.8 * size))
    holder = fig.add_subplot(axes[0].get_subplotspec().get_gridspec()[1, :])
    holder.axis("off")
    holder.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 1), ncols=min(len(names), max(1, per_row)),
                  frameon=False)
    rows = -(-len(names) // min(len(names), max(1, per_row)))  # a long legend (many dimensions) adds its own height
    fig.set_figheight(fig.get_figheight() + max(0, rows - 3) * 1.35 * size / 72)


def _finish(fig: Figure, title: str, note: str | None, rows=None) -> Figure:
    """Bold title over the whole figure and, under everything, the footnote, both left-aligned and wrapped;
    then, for a chart with category ``rows`` (an axes with one label per unit of y), room for their labels.

    Figure-level texts, not the axes title: a long title then wraps at the figure edge instead of starting
    where the axes starts (after the row labels) and running off the page. 5% spare width, as screen renderers
    round each glyph advance up to whole pixels (wider than the measured outline).
    """
    width = fig.get_figwidth() * 72 * 0.95
    fig.suptitle(wrap(title, width, font_points("figure.titlesize")), x=0.01, ha="left", fontweight="bold")
    if note:
        # supxlabel, not fig.text: constrained layout reserves room for it under the legend.
        fig.supxlabel(wrap(note, width, font_points()), x=0.01, ha="left", fontsize=font_points(), color="#444444")
    if rows is not None:
        _fit_rows(fig, rows)
    return fig


def _fit_rows(fig: Figure, ax) -> None:
    """Make the figure taller where the rows of ``ax`` are closer than their labels are high.

    Figure heights are estimates: the title, legend and footnote take what they need and the plot gets the
    rest, so with many rows or a long legend the row labels would run into each other.
    """
    lines = max(t.get_text().count("\n") + 1 for t in ax.get_yticklabels())
    need = abs(np.diff(ax.get_ylim())[0]) * (1.2 * lines + 0.1) * font_points() / 72  # inches
    fig.draw_without_rendering()
    have = ax.get_window_extent().height / fig.dpi
    if have < need:
        fig.set_figheight(fig.get_figheight() + need - have)


def _row_labels(ax, y, names: list[str], share: float = 0.4) -> None:
    """Category labels on the y axis, wrapped to ``share`` of the figure width."""
    ax.set_yticks(y, [fit_label(n, share * ax.figure.get_figwidth() * 72) for n in names])
    ax.grid(axis="y", visible=False)


def _top_down(ax, rows: int) -> None:
    """Rows 0, 1, … from the top, without the empty margin rows that autoscaling adds at both ends."""
    ax.set_ylim(rows - 0.5, -0.5)


def _year_axis(ax) -> None:
    # Years are integers: without this, ticks read 2019.5 or an offset like "+2.01e3"; "auto" spaces them
    # by the axis length, so 33 years on a column-wide axis are not crammed.
    ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True, steps=[1, 2, 5, 10]))
    ax.xaxis.set_major_formatter("{x:.0f}")


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    if missing := [c for c in columns if c not in frame]:
        raise InputError(f"{what} lacks columns", column=missing[0], value=missing, expected=", ".join(columns))


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
}


# --- the figures -------------------------------------------------------------------------------------

def plot_index_over_time(scores: pd.DataFrame, codes: list[str], labels: dict[str, str], colours: dict[str, str],
                         base_year: int | None, title: str, note: str | None = None) -> Figure:
    """One line per code over the years; the overall index (``codes[0]``) thick and black."""
    wide = scores.pivot(index="year", columns="code", values="value").sort_index()
    if missing := [c for c in codes if c not in wide.columns]:
        raise InputError("codes without scores", column="code", value=missing, expected="a row per code and year")
    fig, [ax] = _with_legend_row((_WIDTH, 3.2))
    for i, code in enumerate(codes):
        ax.plot(wide.index, wide[code], label=labels.get(code, code), marker="o", markersize=2.5,
                color=INDEX_COLOUR if i == 0 else colours[code], lw=2.2 if i == 0 else 1.2, zorder=3 if i == 0 else 2)
    if base_year is not None:
        ax.axvline(base_year, color=REF_COLOUR, ls="--", lw=0.8, zorder=1)
        ax.axhline(100, color=REF_COLOUR, ls=":", lw=0.8, zorder=1)
        # Language-neutral marker of the normalisation, so no translated string is needed.
        ax.annotate(f"{base_year} = 100", (base_year, 1), xycoords=("data", "axes fraction"), xytext=(3, -3),
                    textcoords="offset points", ha="left", va="top", fontsize=font_points(), color=REF_COLOUR)
    _year_axis(ax)
    _legend_below(fig, [ax])
    return _finish(fig, title, note)


def plot_growth(changes: pd.Series, labels: dict[str, str], colours: dict[str, str], title: str,
                note: str | None = None) -> Figure:
    """Per cent change of each code (e.g. between the base and the latest year) as horizontal bars, largest
    on top; a code without a colour of its own (the overall index) is black, as in every figure."""
    changes = changes.sort_values(ascending=False)
    y = np.arange(len(changes))
    fig, ax = plt.subplots(figsize=(_WIDTH, 0.9 + 0.32 * len(y)), layout="constrained")
    bars = ax.barh(y, changes, height=0.65, color=[colours.get(c, INDEX_COLOUR) for c in changes.index], zorder=2)
    ax.bar_label(bars, labels=[f"{v:+.1f}%" for v in changes], padding=2, fontsize=font_points())
    ax.axvline(0, color=REF_COLOUR, lw=0.8, zorder=1)
    _row_labels(ax, y, [labels.get(c, c) for c in changes.index])
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter("{x:.0f}%")
    # Bars pin the axis to their ends (sticky edges), which would cut off the value labels.
    ax.use_sticky_edges = False
    ax.margins(x=0.2)
    return _finish(fig, title, note, rows=ax)


def plot_radar(values: pd.DataFrame, labels: dict[str, str], title: str, note: str | None = None) -> Figure:
    """One closed polygon per column (e.g. per year) over the dimensions in the index of ``values``."""
    if values.shape[1] < 2 or len(values) < 3:
        raise InputError("a radar needs at least three dimensions and two columns to compare",
                         value=values.shape, expected="(dimensions >= 3, columns >= 2)")
    angles = np.linspace(0, 2 * np.pi, len(values), endpoint=False)
    closed = np.append(angles, angles[0])
    fig, [ax] = _with_legend_row((_WIDTH, 0.8 * _WIDTH + 0.6), projection="polar")
    ax.set_theta_offset(np.pi / 2)  # first dimension at the top, then clockwise as in print
    ax.set_theta_direction(-1)
    # Later columns darker: the eye reads the darkest polygon as "now".
    shades = mpl.colormaps["Blues"](np.linspace(0.45, 0.95, values.shape[1]))
    for (name, col), shade in zip(values.items(), shades):
        r = np.append(col.to_numpy(float), col.iloc[0])
        ax.plot(closed, r, color=shade, lw=1.4, label=str(name))
        ax.fill(closed, r, color=shade, alpha=0.12)
    # A fifth of the width per label leaves the circle about half the figure; beyond 12 spokes, the short codes.
    ax.set_xticks(angles, [fit_label(labels.get(c, c) if len(values) <= 12 else str(c), 0.2 * _WIDTH * 72)
                           for c in values.index])
    # Labels left/right of the circle grow outwards instead of over the polygons.
    for tick, a in zip(ax.get_xticklabels(), np.sin(angles)):
        tick.set_horizontalalignment("left" if a > 0.1 else "right" if a < -0.1 else "center")
    ax.set_ylim(min(0, np.nanmin(values.to_numpy(float))), None)  # radius from 0 so areas are comparable
    ax.yaxis.set_major_locator(MaxNLocator(4))  # few rings: their labels sit across the polygons
    ax.set_rlabel_position(180 / len(values))  # radius labels between the first two spokes, off the lines
    ax.tick_params(axis="x", pad=3)
    ax.tick_params(axis="y", labelcolor=REF_COLOUR)
    for tick in ax.get_yticklabels():  # a white halo keeps the radius labels legible where rings and polygons cross
        tick.set_path_effects([patheffects.withStroke(linewidth=2, foreground="white")])
    _legend_below(fig, [ax])
    return _finish(fig, title, note)


def plot_waterfall(contributions: pd.Series, start: float, labels: dict[str, str], colours: dict[str, str],
                   title: str, note: str | None = None) -> Figure:
    """Contribution bars stepping from ``start`` (top to bottom), then a net-change bar from ``start`` to
    ``start + sum``. Horizontal, so that long dimension names fit a column.

    The total is drawn from ``start`` rather than from 0, so it is on the same scale as the steps; its
    row label is ``labels["total"]`` (e.g. "Total" / "合计").
    """
    steps = contributions.to_numpy(float)
    ends = start + np.cumsum(steps)
    y = np.arange(len(steps) + 1)
    widths, lefts = np.append(steps, ends[-1] - start), np.append(ends - steps, start)
    fig, ax = plt.subplots(figsize=(_WIDTH, 0.9 + 0.32 * len(y)), layout="constrained")
    bars = ax.barh(y, widths, left=lefts, height=0.65, zorder=2,
                   color=[colours[c] for c in contributions.index] + [INDEX_COLOUR])
    ax.bar_label(bars, labels=[f"{h:+.1f}" for h in steps] + [f"{ends[-1]:.1f}"], padding=2, fontsize=font_points())
    # Dashed connectors show where the next bar starts.
    ax.vlines(ends, y[:-1] + 0.325, y[1:] - 0.325, color=REF_COLOUR, lw=0.8, ls="--", zorder=1)
    ax.axvline(start, color=REF_COLOUR, lw=0.8, ls=":", zorder=1)
    _row_labels(ax, y, [labels.get(c, c) for c in contributions.index] + [labels.get("total", "Σ")])
    ax.invert_yaxis()
    # Bars pin the axis to their ends (sticky edges), which would cut the labels off the extreme bars.
    ax.use_sticky_edges = False
    ax.margins(x=0.15)
    return _finish(fig, title, note, rows=ax)


def plot_heatmap(matrix: pd.DataFrame, title: str, note: str | None = None, cmap: str = "RdYlGn",
                 center: float | None = None) -> Figure:
    """Rows = indicators (or entities), columns = years (or components); the colour bar underneath.

    One column wide unless the row labels leave too little room, then the page width. Cells carry their
    values only where the numbers fit at the smallest text size; column labels thin out when crowded.
    """
    size, (rows, cols) = font_points(), matrix.shape
    # Few rows have height to spare for two-line labels; with many, that would make the figure too tall.
    names = [fit_label(str(n), 0.3 * _WIDTH * 72) if rows <= 12 else str(n) for n in matrix.index]
    # Columns narrower than an upright label still read as a colour strip when they are years (labels thin out).
    narrowest = 0.5 * size if all(isinstance(c, (int, np.integer)) for c in matrix.columns) else 1.3 * size
    width = _print_width(text_width("\n".join(names), size) + 20 + cols * narrowest)  # 20 pt: tick pad and margins
    row_height = (1.2 * max(n.count("\n") + 1 for n in names) + 0.2) * size
    fig, ax = plt.subplots(figsize=(width, (rows * row_height + 150) / 72), layout="constrained")
    sns.heatmap(matrix.set_axis(names), ax=ax, cmap=cmap, center=center, linewidths=0.4, linecolor="white",
                yticklabels=True,  # "auto" would silently drop every other row label
                cbar_kws={"location": "bottom", "shrink": 0.6, "aspect": 30, "pad": 0.02})
    ax.set(xlabel="", ylabel="")
    ax.tick_params(axis="y", rotation=0)
    fig.draw_without_rendering()  # the column width is only known once the row labels have their room
    pitch = ax.get_window_extent().width / fig.dpi * 72 / cols
    _column_labels(ax, list(matrix.columns), pitch, size)
    _annotate_cells(ax, matrix, pitch, size)
    return _finish(fig, title, note)


def _annotate_cells(ax, matrix: pd.DataFrame, pitch: float, size: float) -> None:
    """Each cell's value, where the numbers fit the cells at the smallest text size."""
    values = matrix.to_numpy(float)
    # Index-scale values (~100) need no decimals; small ones (ratios, z-scores) need one.
    fmt = ".0f" if np.nanmax(np.abs(values), initial=0) >= 100 else ".1f"
    if pitch < text_width(f"{np.nanmax(values):{fmt}}", size) + 3 or values.size > 600:
        return
    mesh = ax.collections[0]
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):  # dark text on light cells and light text on dark ones, as seaborn does
            light = sns.utils.relative_luminance(mesh.cmap(mesh.norm(value))) > 0.408
            ax.text(j + 0.5, i + 0.5, f"{value:{fmt}}", ha="center", va="center", fontsize=size,
                    color="#262626" if light else "white")


def _column_labels(ax, columns: list, pitch: float, size: float) -> None:
    """Labels on top of a grid's columns: all if they fit level or upright, else every 2nd/5th/10th one (years:
    the round ones). ``pitch`` is the column width in points."""
    texts = [str(c) for c in columns]
    widest = max(text_width(t, size) for t in texts) + size / 2  # half an em between neighbours
    steps = (1, 2, 5, 10, 20, 50)
    flat, upright = (next((k for k in steps if k * pitch >= span), 100) for span in (widest, 1.3 * size))
    step = min(flat, upright)  # whichever shows more labels; level, when that shows as many
    years = all(isinstance(c, (int, np.integer)) for c in columns)
    keep = [i for i, c in enumerate(columns) if (c % step == 0 if years else i % step == 0)]
    ax.set_xticks([i + 0.5 for i in keep], [texts[i] for i in keep], rotation=0 if flat == step else 90)
    ax.tick_params(axis="x", top=False, bottom=False, labeltop=True, labelbottom=False)


def plot_framework(weights: pd.DataFrame, labels: dict[str, str], colours: dict[str, str], title: str,
                   note: str | None = None) -> Figure:
    """The hierarchy as an indented tree, one row per node, each with a bar of its effective weight (%).

    ``weights`` has the columns code, parent ("" for the index) and effective_weight, as the weights stage
    table. A node takes the colour of its nearest ancestor in ``colours`` (its dimension), the index black;
    aggregates are named in bold and their bars solid, indicators' bars lighter.
    """
    parents = weights.set_index("code")["parent"].fillna("")
    nodes = _tree_order(parents)
    size, indent = font_points(), font_points()  # one em per level
    width, room, names = _tree_names([(labels.get(c, c), d) for c, d in nodes], indent)
    lines = np.array([n.count("\n") + 1 for n in names])
    y = np.cumsum(lines) - lines / 2  # row centres, in lines from the top
    percent = 100 * weights.set_index("code").loc[[c for c, _ in nodes], "effective_weight"].to_numpy(float)
    fig, ax = plt.subplots(figsize=(width, (lines.sum() * 1.3 * size + 70) / 72), layout="constrained")
    colour = [_branch_colour(c, parents, colours) for c, _ in nodes]
    leaf = [c not in set(parents) for c, _ in nodes]
    bars = ax.barh(y, percent, height=0.7,
                   color=[mpl.colors.to_rgba(k, 0.55 if is_leaf else 1) for k, is_leaf in zip(colour, leaf)])
    bars[0].set_visible(False)  # the index is 100 %: its bar would dwarf all others
    ax.bar_label(bars, labels=[f"{p:.3g}%" for p in percent], padding=2, fontsize=size)
    for (_, depth), name, row, is_leaf in zip(nodes, names, y, leaf):
        ax.annotate(name, (0, row), xycoords=("axes fraction", "data"), xytext=(depth * indent - room - 4, 0),
                    textcoords="offset points", ha="left", va="center", fontsize=size,
                    fontweight="normal" if is_leaf else "bold")
    ax.set_xlim(0, 1.25 * np.max(percent[1:], initial=1))  # room for the labels of the widest bars
    ax.set_ylim(lines.sum(), 0)
    ax.axis("off")
    return _finish(fig, title, note)


def _tree_names(named: list[tuple[str, int]], indent: float) -> tuple[float, float, list[str]]:
    """Figure width, name column width (points) and the (wrapped) names of (name, depth) rows.

    One column, the names wrapped beside 90 pt for a bar and its "12.5%"; if that wraps many names, as wide
    as one-line names and 150 pt of bars need, up to the page width.
    """
    size = font_points()
    one_line = max(depth * indent + text_width(name, size) for name, depth in named)
    for width, bars in ((_WIDTH, 90), (min(_PAGE, (one_line + 150) / 72), 150)):
        room = min(one_line, width * 72 - bars)
        names = [fit_label(name, room - depth * indent) for name, depth in named]
        if sum(n.count("\n") + 1 for n in names) <= 1.15 * len(named):
            break
    return width, room, names


def _tree_order(parents: pd.Series) -> list[tuple[str, int]]:
    """(code, depth) depth-first from the root, children in table order."""
    children: dict[str, list[str]] = {}
    for code, parent in parents.items():
        children.setdefault(parent, []).append(code)
    order, stack = [], [(code, 0) for code in reversed(children.get("", []))]
    while stack:
        code, depth = stack.pop()
        order.append((code, depth))
        stack += [(child, depth + 1) for child in reversed(children.get(code, []))]
    return order


def _branch_colour(code: str, parents: pd.Series, colours: dict[str, str]) -> str:
    while code and code not in colours:
        code = parents.get(code, "")
    return colours.get(code, INDEX_COLOUR)


def plot_ranked_bars(values: pd.DataFrame, labels: dict[str, str], colours: dict[str, str], title: str,
                     highlight: str | None = None, note: str | None = None, intervals: pd.DataFrame | None = None,
                     interval_kind: str = "score", lang: str = "en") -> Figure:
    """Entities ranked by their total, one horizontal bar each, stacked by component when there are several
    columns (each column is that component's points of the total); the highlighted entity is named in bold.

    ``intervals`` (columns entity, q05, q95) adds the 5-95 % range of each entity's uncertain result: as
    whiskers over the bar ends for scores, or for ranks (``interval_kind="rank"``) in a panel on the right
    with the nominal rank as a dot.
    """
    values = values.loc[values.sum(axis=1).sort_values(ascending=False).index]
    ranks = intervals is not None and interval_kind == "rank"
    fig, axes = _with_legend_row((_WIDTH, 1.3 + 0.13 * len(values)), width_ratios=(3, 1) if ranks else (1,))
    ax, y, left = axes[0], np.arange(len(values)), np.zeros(len(values))
    for column in values.columns:
        ax.barh(y, values[column], left=left, color=colours.get(column, REF_COLOUR), label=labels.get(column, column),
                height=0.8)
        left += values[column].fillna(0).to_numpy()
    ax.set_yticks(y, values.index)
    ax.grid(axis="y", visible=False)
    for tick in ax.get_yticklabels():
        tick.set_fontweight("bold" if tick.get_text() == highlight else "normal")
    _top_down(ax, len(y))
    if intervals is not None:
        band = intervals.set_index("entity").reindex(values.index)
        _whiskers(axes[-1], band["q05"], band["q95"], y, TEXT["band"][lang])
    if ranks:
        axes[1].plot(y + 1, y, "o", markersize=2.5, color=INDEX_COLOUR, label=TEXT["nominal"][lang])
        axes[1].set_xlabel(TEXT["rank_band"][lang])
        axes[1].tick_params(axis="y", labelleft=False)
        axes[1].xaxis.set_major_locator(MaxNLocator(3, integer=True))
    if values.shape[1] > 1 or intervals is not None:
        _legend_below(fig, axes)
    return _finish(fig, title, note, rows=ax)


def _whiskers(ax, low, high, y, label: str) -> None:
    """5-95 % ranges as thin horizontal lines with end caps."""
    ax.hlines(y, low, high, color=INDEX_COLOUR, lw=0.8, label=label, zorder=3)
    ax.plot(np.r_[low, high], np.r_[y, y], "|", markersize=3, color=INDEX_COLOUR, zorder=3)


def plot_rank_shifts(ranks: pd.DataFrame, title: str, note: str | None = None, lang: str = "en") -> Figure:
    """Rank of every entity (rows, ordered by the nominal rank) under each method set (columns).

    The nominal rank is a black bar-free marker; each alternative is a coloured dot joined to it by a thin
    line, so long lines show the entities whose rank depends most on the method.
    """
    ranks = ranks.sort_values("nominal")
    fig, [ax] = _with_legend_row((_WIDTH, 1.5 + 0.13 * len(ranks)))
    y = np.arange(len(ranks))
    alternatives = [c for c in ranks.columns if c != "nominal"]
    colours = dimension_colours(alternatives)
    for name in alternatives:
        ax.hlines(y, ranks["nominal"], ranks[name], color=colours[name], linewidth=0.6, alpha=0.6)
        ax.plot(ranks[name], y, "o", markersize=2.5, color=colours[name], label=name)
    ax.plot(ranks["nominal"], y, "|", markersize=6, color=INDEX_COLOUR, label=TEXT["nominal"][lang])
    ax.set_yticks(y, ranks.index)
    _top_down(ax, len(y))
    ax.set_xlabel(TEXT["rank"][lang])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend_below(fig, [ax])
    return _finish(fig, title, note, rows=ax)


def plot_uncertainty_bands(summary: pd.DataFrame, title: str, *, lang: str = "en", note: str | None = None,
                           names: dict[str, str] | None = None, ascending: bool = False) -> Figure:
    """The 5-95 % range of an uncertain result (columns nominal, median, q05, q95).

    Over the years (a ``year`` column, one entity and node): a shaded band with the median line and the
    nominal result. For a cross-section (an ``entity`` column with several entities): per entity a median
    dot with whiskers and the nominal value as a tick, sorted by the nominal value, largest first
    (``ascending=True`` for ranks, 1 first). ``names`` maps entity codes to display names.
    """
    _require(summary, ["nominal", "median", "q05", "q95"], "an uncertainty summary")
    if "entity" in summary and summary["entity"].nunique() > 1:
        return _bands_by_entity(summary, title, lang, note, names or {}, ascending)
    _require(summary, ["year"], "an uncertainty summary over time")
    data = summary.sort_values("year")
    fig, [ax] = _with_legend_row((_WIDTH, 2.8))
    ax.fill_between(data["year"], data["q05"], data["q95"], color=PALETTE[0], alpha=0.2, lw=0,
                    label=TEXT["band"][lang])
    ax.plot(data["year"], data["median"], color=PALETTE[0], lw=1.4, label=TEXT["median"][lang])
    ax.plot(data["year"], data["nominal"], color=INDEX_COLOUR, lw=0.9, ls="--", marker="o", markersize=2,
            label=TEXT["nominal"][lang])
    _year_axis(ax)
    _legend_below(fig, [ax])
    return _finish(fig, title, note)


def _bands_by_entity(summary, title, lang, note, names, ascending) -> Figure:
    data = summary.sort_values("nominal", ascending=ascending)
    y = np.arange(len(data))
    fig, [ax] = _with_legend_row((_WIDTH, 1.3 + 0.13 * len(data)))
    ax.hlines(y, data["q05"], data["q95"], color=PALETTE[0], lw=1.2, label=TEXT["band"][lang])
    ax.plot(data["median"], y, "o", markersize=2.5, color=PALETTE[0], label=TEXT["median"][lang])
    ax.plot(data["nominal"], y, "|", markersize=5, color=INDEX_COLOUR, label=TEXT["nominal"][lang])
    ax.set_yticks(y, [names.get(e, e) for e in data["entity"]])
    ax.grid(axis="y", visible=False)
    _top_down(ax, len(y))
    _legend_below(fig, [ax])
    return _finish(fig, title, note, rows=ax)


def plot_sobol(indices: pd.DataFrame, title: str, *, lang: str = "en", note: str | None = None,
               names: dict[str, str] | None = None) -> Figure:
    """First-order (S1) and total (ST) Sobol indices of each uncertain input, paired horizontal bars with
    their confidence intervals as whiskers, the input with the largest ST on top.

    Columns: input, S1, S1_low, S1_high, ST, ST_low, ST_high (the ``_lo``/``_hi`` suffixes of
    ``uncertainty.run_sensitivity`` are accepted too). ``names`` maps inputs to display names.
    """
    short = {f"{s}_{a}": f"{s}_{b}" for s in ("S1", "ST") for a, b in (("lo", "low"), ("hi", "high"))}
    data = indices.rename(columns=short)
    _require(data, ["input", "S1", "S1_low", "S1_high", "ST", "ST_low", "ST_high"], "a table of Sobol indices")
    data = data.sort_values("ST", ascending=False, kind="stable")
    y = np.arange(len(data))
    fig, [ax] = _with_legend_row((_WIDTH, 1.3 + 0.34 * len(data)))
    for offset, key, colour in ((-0.2, "S1", PALETTE[3]), (0.2, "ST", PALETTE[0])):
        ax.barh(y + offset, data[key], height=0.38, color=colour, label=TEXT[key][lang], zorder=2)
        # An interval need not contain its estimate (bootstrap percentiles), and error bars cannot be negative.
        spread = np.clip([data[key] - data[f"{key}_low"], data[f"{key}_high"] - data[key]], 0, None)
        ax.errorbar(data[key], y + offset, xerr=spread, fmt="none", ecolor=INDEX_COLOUR, elinewidth=0.7,
                    capsize=1.5, zorder=3)
    _row_labels(ax, y, [(names or {}).get(i, str(i)) for i in data["input"]])
    ax.invert_yaxis()
    ax.axvline(0, color=REF_COLOUR, lw=0.8, zorder=1)
    ax.set_xlabel(TEXT["sobol"][lang])
    _legend_below(fig, [ax])
    return _finish(fig, title, note, rows=ax)
