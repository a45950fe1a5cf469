"""Layout shared by the figures: print widths, the legend row under the panels, title and footnote,
row labels that never run into each other, year axes."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from zoneindex.errors import InputError
from zoneindex.plot_text import fit_label, font_points, text_width, wrap
from zoneindex.plots.style import PAGE, WIDTH

LEGEND_ENTRY = 4.8  # em of an entry beside its label: handle, the gap to the label and the gap to the next


def print_width(needed: float) -> float:
    """One column when ``needed`` points of content fit it, else the full page width."""
    return WIDTH if needed <= WIDTH * 72 else PAGE


def with_legend_row(figsize: tuple[float, float], projection: str | None = None, width_ratios=(1,)):
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


def legend_below(fig: Figure, axes: list) -> None:
    """One legend for all ``axes`` in the row under them, in as many columns as fit the figure width.

    A label wider than the figure (a long index name) is wrapped to it: unwrapped, the legend would be
    wider than the figure and constrained layout would squeeze the panels into a sliver to make room.
    """
    handles, names = [sum(pair, []) for pair in zip(*(ax.get_legend_handles_labels() for ax in axes))]
    size = font_points("legend.fontsize")
    room = fig.get_figwidth() * 72 - LEGEND_ENTRY * size  # points left for one label beside its handle
    names = [fit_label(n, room, size) if text_width(n, size) > room else n for n in names]
    # As many columns as fit the figure width; an entry is its label plus LEGEND_ENTRY em of handle and gaps.
    per_row = int(fig.get_figwidth() * 72 // (max(text_width(n, size) for n in names) + LEGEND_ENTRY * size))
    columns = min(len(names), max(1, per_row))
    holder = fig.add_subplot(axes[0].get_subplotspec().get_gridspec()[1, :])
    holder.axis("off")
    holder.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 1), ncols=columns, frameon=False)
    # a long legend (many dimensions, wrapped names) adds its own height: lines of the tallest entry per row
    lines = sum(max(n.count("\n") + 1 for n in names[i::columns]) for i in range(columns)) if columns == 1 else \
        -(-len(names) // columns) * max(n.count("\n") + 1 for n in names)
    fig.set_figheight(fig.get_figheight() + max(0, lines - 3) * 1.35 * size / 72)


def finish(fig: Figure, title: str, note: str | None, rows=None) -> Figure:
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
        fit_rows(fig, rows)
    return fig


def fit_rows(fig: Figure, ax) -> None:
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


def row_labels(ax, y, names: list[str], share: float = 0.4) -> None:
    """Category labels on the y axis, wrapped to ``share`` of the figure width."""
    ax.set_yticks(y, [fit_label(n, share * ax.figure.get_figwidth() * 72) for n in names])
    ax.grid(axis="y", visible=False)


def top_down(ax, rows: int) -> None:
    """Rows 0, 1, … from the top, without the empty margin rows that autoscaling adds at both ends."""
    ax.set_ylim(rows - 0.5, -0.5)


def year_axis(ax, years) -> None:
    """Year ticks every 1, 2, 5, 10 … years: the smallest step whose labels fit the axis side by side.

    Years are integers: without fixed ticks they read 2019.5 or an offset like "+2.01e3". The axis width
    is only known after layout; the figure width less 40 pt (y tick labels and margins) estimates it for
    the one-panel figures that have a year axis.
    """
    years = sorted({int(y) for y in years})
    size = font_points("xtick.labelsize")
    room = ax.figure.get_figwidth() * 72 - 40
    label = text_width(str(years[-1]), size) + size / 2  # half an em between neighbours
    fits = max(int(room // label), 2)
    step = next((s for s in (1, 2, 5, 10, 20, 50) if (years[-1] - years[0]) // s + 1 <= fits), 100)
    ticks = [y for y in years if y % step == 0] or years[:1]
    ax.set_xticks(ticks, [str(y) for y in ticks])
    if step > 1:  # every year still marked, by a minor tick
        ax.set_xticks(years, minor=True)
        ax.tick_params(axis="x", which="minor", bottom=True, length=2, width=0.5)


def require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    if missing := [c for c in columns if c not in frame]:
        raise InputError(f"{what} lacks columns", column=missing[0], value=missing, expected=", ".join(columns))
