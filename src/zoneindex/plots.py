"""One house style for the publication figures of a composite index, with English or Chinese labels.

Every plot function is pure: it takes pandas data and returns a Figure; ``save_figure`` writes it.
Fonts and byte-stable output follow docs ecosystem.md §2.3 and §5.4.
"""
from __future__ import annotations

import unicodedata
from pathlib import Path

import matplotlib as mpl
import matplotlib.font_manager as fm
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.textpath import text_to_path
from matplotlib.ticker import MaxNLocator

from zoneindex.errors import InputError

FONTS = ["Noto Sans CJK SC", "DejaVu Sans"]
# Paul Tol's "muted" scheme: colour-blind safe, and none of its colours is black, which marks the overall index.
PALETTE = ["#332288", "#CC6677", "#117733", "#88CCEE", "#DDCC77", "#AA4499", "#44AA99", "#882255", "#999933"]
INDEX_COLOUR, REF_COLOUR = "#000000", "#777777"
# Figure-level metadata that would otherwise embed the save time and break byte-identical reruns.
_METADATA = {"png": {}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
_WIDTH = 6.5  # inches: one text column of an A4 report


def set_theme(lang: str = "en") -> None:
    """Apply the house style. Chinese labels get a slightly larger scale: CJK strokes blur at 8-9 pt."""
    if lang not in ("en", "zh"):
        raise InputError("unknown figure language", value=lang, expected='"en" or "zh"')
    # The font must go through rc=: set_theme() resets font.sans-serif, so setting it earlier gives tofu.
    sns.set_theme(style="whitegrid", context="paper", font="sans-serif", font_scale=1.1 if lang == "zh" else 1.0,
                  rc={"font.sans-serif": FONTS,
                      "axes.unicode_minus": False,  # ASCII minus, like the "+1.2"/"-0.8" labels printed on bars
                      "svg.hashsalt": "zoneindex",  # fixed clip-path/marker ids instead of random ones
                      "svg.fonttype": "path",  # glyphs as outlines: Chinese shows even where the font is absent
                      # Embedded font subsets: searchable text, and publishers reject Type 3. Noto CJK is CFF, which
                      # matplotlib writes as FontFile2 (matplotlib#20870); PDFium reads it fine, strict checkers may not.
                      "pdf.fonttype": 42})


def dimension_colours(codes: list[str]) -> dict[str, str]:
    """Colour by position, so the same ordered codes get the same colours in every figure."""
    if len(set(codes)) != len(codes) or len(codes) > len(PALETTE):
        raise InputError("dimension codes must be unique and few enough for distinct colours", value=list(codes),
                         expected=f"at most {len(PALETTE)} distinct codes")
    return dict(zip(codes, PALETTE))


def save_figure(fig: Figure, stem: Path, formats=("png", "svg")) -> list[Path]:
    """Write ``stem.<format>`` for each format (PNG at 300 dpi), byte-identical across reruns; close the figure."""
    if unknown := set(formats) - set(_METADATA):
        raise InputError("unsupported figure format", value=sorted(unknown), expected=f"some of {sorted(_METADATA)}")
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    # stem.parent / name rather than with_suffix(): a stem like "fig_v1.2" must keep its dot.
    paths = [stem.parent / f"{stem.name}.{fmt}" for fmt in formats]
    try:
        for path, fmt in zip(paths, formats):
            fig.savefig(path, format=fmt, dpi=300, bbox_inches="tight", pad_inches=0.05, metadata=_METADATA[fmt])
    finally:
        plt.close(fig)
    return paths


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


def _points(text: str, size: float) -> float:
    """Width of ``text`` in points, measured with the fonts (and glyph fallback) that will draw it."""
    return text_to_path.get_text_width_height_descent(text, fm.FontProperties(size=size), ismath=False)[0]


def _wrap(text: str, width: float, size: float) -> str:
    """Wrap to ``width`` points: matplotlib's own wrap=True only breaks at spaces, so never inside Chinese."""
    lines, line = [], ""
    for token in _tokens(text):
        if line and _points(line + token, size) > width:
            lines.append(line.rstrip())
            line, token = "", token.lstrip()
        line += token
    return "\n".join(lines + [line])


def _tokens(text: str) -> list[str]:
    """Break points: each CJK character is a token, Latin words keep their leading space, and CJK
    closing punctuation sticks to the character before it (a line never starts with "，")."""
    wide = [unicodedata.east_asian_width(ch) in "WF" for ch in text]
    tokens: list[str] = []
    for i, ch in enumerate(text):
        if i and ((not wide[i] and not wide[i - 1] and ch != " ") or ch in "，。；：、！？）》」"):
            tokens[-1] += ch
        else:
            tokens.append(ch)
    return tokens


def _label(text: str, width: float = 72) -> str:
    """Tick label in lines of about equal length, so no lone character is left on the last line.

    72 pt (one inch) is the slot of one bar when ~6 bars share a 6.5 in figure.
    """
    size = fm.FontProperties(size=mpl.rcParams["xtick.labelsize"]).get_size_in_points()
    total = _points(text, size)
    return _wrap(text, total / np.ceil(total / width) + size, size)  # + 1 em: slack for the break points


def _with_legend_row(figsize: tuple[float, float], projection: str | None = None):
    """Figure whose plot sits above a flat, invisible row that will hold the legend.

    Constrained layout counts an axes' legend as part of that axes, so the legend gets its own space under
    the tick labels and the footnote (supxlabel) goes under the legend. A figure-level "outside" legend
    would not: it is pinned to the figure edge and overlaps the footnote.
    """
    fig = plt.figure(figsize=figsize, layout="constrained")
    grid = fig.add_gridspec(2, 1, height_ratios=[1, 1e-3])
    return fig, fig.add_subplot(grid[0], projection=projection)


def _legend_below(fig: Figure, ax) -> None:
    handles, names = ax.get_legend_handles_labels()
    size = fm.FontProperties(size=mpl.rcParams["legend.fontsize"]).get_size_in_points()
    # As many columns as fit the figure width; an entry is its label plus 4.8 em of handle and gaps.
    per_row = int(fig.get_figwidth() * 72 // (max(_points(n, size) for n in names) + 4.8 * size))
    holder = fig.add_subplot(ax.get_subplotspec().get_gridspec()[1])
    holder.axis("off")
    holder.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 1), ncols=min(len(names), max(1, per_row)),
                  frameon=False)


def _finish(fig: Figure, ax, title: str, note: str | None) -> Figure:
    """Left-aligned bold title and, under everything, the footnote wrapped to the figure width."""
    ax.set_title(title, loc="left", fontweight="bold")
    if note:
        size = mpl.rcParams["font.size"] * 0.8
        # supxlabel, not fig.text: constrained layout reserves room for it under the legend. 5% spare width,
        # as screen renderers round each glyph advance up to whole pixels (wider than the measured outline).
        fig.supxlabel(_wrap(note, fig.get_figwidth() * 72 * 0.95, size), x=0.01, ha="left", fontsize=size,
                      color="#444444")
    return fig


def plot_index_over_time(scores: pd.DataFrame, codes: list[str], labels: dict[str, str], colours: dict[str, str],
                         base_year: int | None, title: str, note: str | None = None) -> Figure:
    """One line per code over the years; the overall index (``codes[0]``) thick and black."""
    wide = scores.pivot(index="year", columns="code", values="value").sort_index()
    if missing := [c for c in codes if c not in wide.columns]:
        raise InputError("codes without scores", column="code", value=missing, expected="a row per code and year")
    fig, ax = _with_legend_row((_WIDTH, 4.2))
    for i, code in enumerate(codes):
        ax.plot(wide.index, wide[code], label=labels.get(code, code), marker="o", markersize=3,
                color=INDEX_COLOUR if i == 0 else colours[code], lw=2.6 if i == 0 else 1.4, zorder=3 if i == 0 else 2)
    if base_year is not None:
        ax.axvline(base_year, color=REF_COLOUR, ls="--", lw=0.9, zorder=1)
        ax.axhline(100, color=REF_COLOUR, ls=":", lw=0.9, zorder=1)
        # Language-neutral marker of the normalisation, so no translated string is needed.
        ax.annotate(f"{base_year} = 100", (base_year, 1), xycoords=("data", "axes fraction"), xytext=(3, -3),
                    textcoords="offset points", ha="left", va="top", fontsize="small", color=REF_COLOUR)
    # Years are integers: without these, ticks read 2019.5 or an offset like "+2.01e3".
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter("{x:.0f}")
    _legend_below(fig, ax)
    return _finish(fig, ax, title, note)


def plot_radar(values: pd.DataFrame, labels: dict[str, str], title: str, note: str | None = None) -> Figure:
    """One closed polygon per column (e.g. per year) over the dimensions in the index of ``values``."""
    if values.shape[1] < 2 or len(values) < 3:
        raise InputError("a radar needs at least three dimensions and two columns to compare",
                         value=values.shape, expected="(dimensions >= 3, columns >= 2)")
    angles = np.linspace(0, 2 * np.pi, len(values), endpoint=False)
    closed = np.append(angles, angles[0])
    fig, ax = _with_legend_row((5.2, 5.0), projection="polar")
    ax.set_theta_offset(np.pi / 2)  # first dimension at the top, then clockwise as in print
    ax.set_theta_direction(-1)
    # Later columns darker: the eye reads the darkest polygon as "now".
    shades = mpl.colormaps["Blues"](np.linspace(0.45, 0.95, values.shape[1]))
    for (name, col), shade in zip(values.items(), shades):
        r = np.append(col.to_numpy(float), col.iloc[0])
        ax.plot(closed, r, color=shade, lw=1.6, label=str(name))
        ax.fill(closed, r, color=shade, alpha=0.12)
    ax.set_xticks(angles, [_label(labels.get(c, c)) for c in values.index])
    # Labels left/right of the circle grow outwards instead of over the polygons.
    for tick, a in zip(ax.get_xticklabels(), np.sin(angles)):
        tick.set_horizontalalignment("left" if a > 0.1 else "right" if a < -0.1 else "center")
    ax.set_ylim(min(0, np.nanmin(values.to_numpy(float))), None)  # radius from 0 so areas are comparable
    ax.set_rlabel_position(180 / len(values))  # radius labels between the first two spokes, off the lines
    ax.tick_params(axis="x", pad=6)
    ax.tick_params(axis="y", labelsize="small", labelcolor=REF_COLOUR)
    _legend_below(fig, ax)
    return _finish(fig, ax, title, note)


def plot_waterfall(contributions: pd.Series, start: float, labels: dict[str, str], colours: dict[str, str],
                   title: str, note: str | None = None) -> Figure:
    """Contribution bars stepping from ``start``, then a net-change bar from ``start`` to ``start + sum``.

    The total is drawn from ``start`` rather than from 0, so it is on the same scale as the steps; its
    tick label is ``labels["total"]`` (e.g. "Total" / "合计").
    """
    steps = contributions.to_numpy(float)
    ends = start + np.cumsum(steps)
    x = np.arange(len(steps) + 1)
    heights, bottoms = np.append(steps, ends[-1] - start), np.append(ends - steps, start)
    fig, ax = plt.subplots(figsize=(_WIDTH, 3.8), layout="constrained")
    bars = ax.bar(x, heights, bottom=bottoms, width=0.65, zorder=2,
                  color=[colours[c] for c in contributions.index] + [INDEX_COLOUR])
    ax.bar_label(bars, labels=[f"{h:+.1f}" for h in steps] + [f"{ends[-1]:.1f}"], padding=2, fontsize="small")
    # Dashed connectors show where the next bar starts.
    ax.hlines(ends, x[:-1] + 0.325, x[1:] - 0.325, color=REF_COLOUR, lw=0.8, ls="--", zorder=1)
    ax.axhline(start, color=REF_COLOUR, lw=0.9, ls=":", zorder=1)
    names = [labels.get(c, c) for c in contributions.index] + [labels.get("total", "Σ")]
    ax.set_xticks(x, [_label(n) for n in names])
    ax.grid(axis="x", visible=False)
    # Bars pin the axis to their bottoms (sticky edges), which would cut the labels off the extreme bars.
    ax.use_sticky_edges = False
    ax.margins(y=0.15)
    return _finish(fig, ax, title, note)


def plot_heatmap(matrix: pd.DataFrame, title: str, note: str | None = None, cmap: str = "RdYlGn",
                 center: float | None = None) -> Figure:
    """Rows = indicators, columns = years; cells annotated when the grid is small enough to read."""
    rows, cols = matrix.shape
    # Height grows per row so ~40 indicators stay legible; width leaves room for long row labels.
    fig, ax = plt.subplots(figsize=(min(_WIDTH, 3.2 + 0.6 * cols), 1.4 + 0.24 * rows), layout="constrained")
    # Index-scale values (~100) need no decimals; small ones (ratios, z-scores) need one.
    fmt = ".0f" if np.nanmax(np.abs(matrix.to_numpy(float)), initial=0) >= 100 else ".1f"
    # Beyond ~12 columns or 600 cells the numbers no longer fit their cells at a legible size.
    sns.heatmap(matrix, ax=ax, cmap=cmap, center=center, annot=rows * cols <= 600 and cols <= 12, fmt=fmt,
                annot_kws={"fontsize": 6.5}, linewidths=0.4, linecolor="white",
                xticklabels=True, yticklabels=True,  # "auto" would silently drop every other row label
                cbar_kws={"shrink": min(1.0, 10 / max(rows, 1)), "pad": 0.02})  # a short bar beside a tall grid
    ax.set(xlabel="", ylabel="")
    ax.tick_params(axis="x", rotation=0, top=False, labeltop=True, labelbottom=False)
    ax.tick_params(axis="y", rotation=0)
    return _finish(fig, ax, title, note)



def plot_rank_shifts(ranks: pd.DataFrame, title: str, note: str | None = None) -> Figure:
    """Rank of every entity (rows, ordered by the nominal rank) under each method set (columns).

    The nominal rank is a black bar-free marker; each alternative is a coloured dot joined to it by a thin
    line, so long lines show the entities whose rank depends most on the method.
    """
    ranks = ranks.sort_values("nominal")
    fig, ax = _with_legend_row((6.5, max(3.0, 0.16 * len(ranks) + 1.5)))
    y = np.arange(len(ranks))
    alternatives = [c for c in ranks.columns if c != "nominal"]
    colours = dimension_colours(alternatives)
    for name in alternatives:
        ax.hlines(y, ranks["nominal"], ranks[name], color=colours[name], linewidth=0.6, alpha=0.6)
        ax.plot(ranks[name], y, "o", markersize=3.2, color=colours[name], label=name)
    ax.plot(ranks["nominal"], y, "|", markersize=7, color="black", label="nominal")
    ax.set_yticks(y, ranks.index, fontsize=mpl.rcParams["font.size"] * 0.7)
    ax.invert_yaxis()
    ax.set_xlabel("rank (1 = best)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend_below(fig, ax)
    return _finish(fig, ax, title, note)

# --- the visualize stage: the figure set of one edition -------------------------------------------

FIGURE_TITLES = {
    "index_over_time": {"en": "{index} and its dimensions", "zh": "{index}及各维度"},
    "radar": {"en": "{entity}: {a} and {b}", "zh": "{entity}：{a}与{b}"},
    "waterfall": {"en": "Contributions to the change {base}–{last} (points)", "zh": "{base}—{last}年变化的贡献（点）"},
    "heatmap": {"en": "Normalised scores", "zh": "标准化得分"},
    "ranked_bars": {"en": "{index}, {last}", "zh": "{index}（{last}年）"},
}
MEDIAN_LABEL = {"en": "median of all", "zh": "全部中位数"}
TOTAL_LABEL = {"en": "Total", "zh": "合计"}
ILLUSTRATIVE_NOTE = {"en": "Illustrative data, not official statistics: values generated to demonstrate the method.",
                     "zh": "示意数据，非官方统计：数值为演示方法而生成。"}


def plot_ranked_bars(values: pd.DataFrame, labels: dict[str, str], colours: dict[str, str], title: str,
                     highlight: str | None = None, note: str | None = None) -> Figure:
    """Entities ranked by their total, one horizontal bar each, stacked by component when there are several
    columns (each column is that component's points of the total); the highlighted entity is named in bold."""
    values = values.loc[values.sum(axis=1).sort_values(ascending=False).index]
    fig, ax = _with_legend_row((6.5, max(3.0, 0.15 * len(values) + 1.5)))
    y = np.arange(len(values))
    left = np.zeros(len(values))
    for column in values.columns:
        ax.barh(y, values[column], left=left, color=colours.get(column, "#4c72b0"), label=labels.get(column, column),
                height=0.8)
        left += values[column].fillna(0).to_numpy()
    ax.set_yticks(y, values.index, fontsize=mpl.rcParams["font.size"] * 0.7)
    for tick in ax.get_yticklabels():
        tick.set_fontweight("bold" if tick.get_text() == highlight else "normal")
    ax.invert_yaxis()
    if values.shape[1] > 1:
        _legend_below(fig, ax)
    return _finish(fig, ax, title, note)


def _radar_level(framework) -> list[str]:
    """The highest level below the index with at least three nodes (a radar needs three axes)."""
    for level in range(framework.max_level - 1, 0, -1):
        if len(framework.level_codes(level)) >= 3:
            return framework.level_codes(level)
    return framework.indicators


def edition_figures(ctx, languages=("en", "zh")) -> pd.DataFrame:
    """Draw and save the figure set of an edition in each language; one row per figure and language.

    A time series (several years) gets the index and its dimensions over time, a radar of the first (or
    base) and latest year, a heatmap of indicator scores by year, and with a base year the waterfall of
    contributions. A single-year cross-section gets the ranked bar chart with the dimensions stacked, a
    radar of the focus entity against the median, and a heatmap of the level below the index by entity.
    """
    study, fw = ctx.study, ctx.study.framework
    scores = ctx.read("scores")
    entity = study.config.get("focus_entity") or scores["entity"].iloc[0]
    own = scores[scores["entity"] == entity]
    dimensions = fw.level_codes(fw.max_level - 1)
    axes = _radar_level(fw)
    colours = {**dimension_colours(dimensions), **(dimension_colours(axes) if axes != dimensions else {})}
    years = sorted(own.loc[own["code"] == fw.root].dropna(subset=["value"])["year"])
    first = study.base_year if study.base_year is not None else years[0]
    last = years[-1]
    latest = scores[scores["year"] == last]
    contributions = ctx.read("contributions") if study.base_year is not None else None
    weights = ctx.read("weights").set_index("code")["relative_weight"]
    arithmetic_root = aggregate_method(study, fw.max_level) == "arithmetic" and not study.methods.get("rebase")
    rows = []
    for lang in languages:
        set_theme(lang)
        labels = {**fw.labels(lang), "total": TOTAL_LABEL[lang], "median": MEDIAN_LABEL[lang]}
        note = ILLUSTRATIVE_NOTE[lang] if scores["illustrative"].any() else None
        text = {"index": labels[fw.root], "last": last, "base": study.base_year, "entity": entity}
        figures = {}
        if len(years) > 1:
            figures["index_over_time"] = (plot_index_over_time(own, [fw.root, *dimensions], labels, colours,
                                          study.base_year, FIGURE_TITLES["index_over_time"][lang].format(**text), note))
            radar = own[own["code"].isin(axes) & own["year"].isin([first, last])].pivot(
                index="code", columns="year", values="value").loc[axes]
            text.update(a=first, b=last)
            matrix = own[own["level"] == 1].pivot(index="code", columns="year", values="value").loc[fw.indicators]
        else:
            radar = latest[latest["code"].isin(axes)].pivot(index="code", columns="entity", values="value")
            radar = pd.DataFrame({entity: radar[entity], labels["median"]: radar.median(axis=1)}).loc[axes]
            text.update(a=entity, b=labels["median"])
            matrix = latest[latest["code"].isin(axes)].pivot(index="code", columns="entity", values="value").loc[axes]
            matrix = matrix[latest[latest["code"] == fw.root].sort_values("value", ascending=False)["entity"]]
        figures["radar"] = plot_radar(radar, labels, FIGURE_TITLES["radar"][lang].format(**text), note)
        figures["heatmap"] = plot_heatmap(matrix.rename(index=labels), FIGURE_TITLES["heatmap"][lang], note,
                                          center=100.0 if study.base_year is not None else None)
        if latest["entity"].nunique() > 1 and latest["entity"].nunique() <= 80:
            wide = latest.pivot(index="entity", columns="code", values="value")
            stacked = (wide[dimensions] * weights[dimensions]) if arithmetic_root else wide[[fw.root]]
            figures["ranked_bars"] = plot_ranked_bars(stacked, labels, colours,
                                                      FIGURE_TITLES["ranked_bars"][lang].format(**text), entity, note)
        if contributions is not None:
            change = contributions[(contributions["entity"] == entity) & (contributions["year"] == last)]
            figures["waterfall"] = plot_waterfall(change.set_index("code").loc[dimensions, "to_index"], 100.0,
                                                  labels, colours, FIGURE_TITLES["waterfall"][lang].format(**text), note)
        for name, fig in figures.items():
            title = fig.axes[0].get_title(loc="left")
            files = save_figure(fig, ctx.out.figures / f"{name}_{lang}")
            rows.append({"figure": name, "lang": lang, "title": title, "illustrative": note is not None,
                         "files": ", ".join(p.name for p in files)})
    return pd.DataFrame(rows)


def aggregate_method(study, level: int) -> str:
    from zoneindex.aggregate import method_for_level
    return method_for_level(study.methods["aggregation"], level)[0]
