"""Figures of a grid or a tree: the heatmap of scores (indicators by year, or entities by component) and
the framework with its effective weights."""
from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from zoneindex.plot_text import fit_label, font_points, text_width
from zoneindex.plots.layout import finish, print_width
from zoneindex.plots.style import INDEX_COLOUR, PAGE, TEXT, WIDTH

MAX_ANNOTATED = 600  # cells: beyond that, numbers in every cell are noise
MISSING_COLOUR, MISSING_HATCH = "#E6E6E6", "#A0A0A0"


def plot_heatmap(matrix: pd.DataFrame, title: str, note: str | None = None, cmap: str = "RdYlGn",
                 center: float | None = None, lang: str = "en") -> Figure:
    """Rows = indicators (or entities), columns = years (or components); the colour bar underneath.

    One column wide unless the row labels and the cells' numbers leave too little room, then the page
    width: the choice does not depend on the language, so an English and a Chinese figure show the same
    numbers. Cells carry their values only where the numbers fit at the smallest text size; column labels
    thin out when crowded. A missing cell is drawn as missing (grey, hatched, named in a legend beside the
    colour bar), never as a colour of the scale and with no grid line through it.
    """
    size, (rows, cols) = font_points(), matrix.shape
    # Few rows have height to spare for two-line labels; with many, that would make the figure too tall.
    names = [fit_label(str(n), 0.3 * WIDTH * 72) if rows <= 12 else str(n) for n in matrix.index]
    # Columns narrower than an upright label still read as a colour strip when they are years (labels thin out);
    # where the cells can carry their numbers, a column is as wide as the widest number.
    narrowest = 0.5 * size if all(isinstance(c, (int, np.integer)) for c in matrix.columns) else 1.3 * size
    labels = text_width("\n".join(names), size) + 20  # 20 pt: tick pad and margins
    numbered = max(narrowest, text_width(_widest_number(matrix.to_numpy(float)), size) + 3)
    if matrix.size <= MAX_ANNOTATED and labels + cols * numbered <= PAGE * 72:  # numbers fit, at most page-wide
        narrowest = numbered
    width = print_width(labels + cols * narrowest)
    if width > WIDTH and rows <= 12:  # at the page width the labels may take 30 % of it: fewer lines, lower rows
        names = [fit_label(str(n), 0.3 * width * 72) for n in matrix.index]
    row_height = (1.2 * max(n.count("\n") + 1 for n in names) + 0.2) * size
    fig, ax = plt.subplots(figsize=(width, (rows * row_height + 150) / 72), layout="constrained")
    ax.grid(False)  # the theme's grid would show through the missing cells
    # Missing cells are not drawn by the colour mesh: what shows there is this hatched grey background.
    ax.set_facecolor(MISSING_COLOUR)
    ax.add_patch(Rectangle((0, 0), cols, rows, facecolor=MISSING_COLOUR, edgecolor=MISSING_HATCH, hatch="////",
                           lw=0, zorder=0))
    sns.heatmap(matrix.set_axis(names), ax=ax, cmap=cmap, center=center, linewidths=0.4, linecolor="white",
                yticklabels=True,  # "auto" would silently drop every other row label
                cbar_kws={"location": "bottom", "shrink": 0.6, "aspect": 30, "pad": 0.02})
    ax.set(xlabel="", ylabel="")
    ax.tick_params(axis="y", rotation=0)
    if matrix.isna().to_numpy().any():
        ax.collections[0].colorbar.ax.legend(
            handles=[Patch(facecolor=MISSING_COLOUR, edgecolor=MISSING_HATCH, hatch="////", lw=0,
                           label=TEXT["missing"][lang])],
            loc="center left", bbox_to_anchor=(1.03, 0.5), frameon=False, handlelength=1.5, borderaxespad=0)
    fig.draw_without_rendering()  # the column width is only known once the row labels have their room
    pitch = ax.get_window_extent().width / fig.dpi * 72 / cols
    _column_labels(ax, list(matrix.columns), pitch, size)
    _annotate_cells(ax, matrix, pitch, size)
    return finish(fig, title, note)


def _widest_number(values: np.ndarray) -> str:
    """The widest number a cell shows (the largest or, with its minus sign, the smallest)."""
    fmt = _cell_format(values)
    finite = values[np.isfinite(values)]
    return max((f"{v:{fmt}}" for v in (finite.max(), finite.min())), key=len) if finite.size else "0"


def _cell_format(values: np.ndarray) -> str:
    # Index-scale values (~100) need no decimals; small ones (ratios, z-scores) need one.
    return ".0f" if np.nanmax(np.abs(values), initial=0) >= 100 else ".1f"


def _annotate_cells(ax, matrix: pd.DataFrame, pitch: float, size: float) -> None:
    """Each cell's value, where the numbers fit the cells at the smallest text size."""
    values = matrix.to_numpy(float)
    fmt = _cell_format(values)
    if pitch < text_width(_widest_number(values), size) + 3 or values.size > MAX_ANNOTATED:
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
    return finish(fig, title, note)


def _tree_names(named: list[tuple[str, int]], indent: float) -> tuple[float, float, list[str]]:
    """Figure width, name column width (points) and the (wrapped) names of (name, depth) rows.

    One column, the names wrapped beside 90 pt for a bar and its "12.5%"; if that wraps many names, as wide
    as one-line names and 150 pt of bars need, up to the page width.
    """
    size = font_points()
    one_line = max(depth * indent + text_width(name, size) for name, depth in named)
    for width, bars in ((WIDTH, 90), (min(PAGE, (one_line + 150) / 72), 150)):
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

