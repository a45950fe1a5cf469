"""Figures of one entity: the index over time, growth and contributions by dimension, the radar."""
from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from zoneindex.errors import InputError
from zoneindex.plot_text import fit_label, font_points
from zoneindex.plots.layout import finish, legend_below, row_labels, with_legend_row, year_axis
from zoneindex.plots.style import INDEX_COLOUR, REF_COLOUR, WIDTH


def plot_index_over_time(scores: pd.DataFrame, codes: list[str], labels: dict[str, str], colours: dict[str, str],
                         base_year: int | None, title: str, note: str | None = None) -> Figure:
    """One line per code over the years; the overall index (``codes[0]``) thick and black."""
    wide = scores.pivot(index="year", columns="code", values="value").sort_index()
    if missing := [c for c in codes if c not in wide.columns]:
        raise InputError("codes without scores", column="code", value=missing, expected="a row per code and year")
    fig, [ax] = with_legend_row((WIDTH, 3.2))
    for i, code in enumerate(codes):
        ax.plot(wide.index, wide[code], label=labels.get(code, code), marker="o", markersize=2.5,
                color=INDEX_COLOUR if i == 0 else colours[code], lw=2.2 if i == 0 else 1.2, zorder=3 if i == 0 else 2)
    if base_year is not None:
        ax.axvline(base_year, color=REF_COLOUR, ls="--", lw=0.8, zorder=1)
        ax.axhline(100, color=REF_COLOUR, ls=":", lw=0.8, zorder=1)
        # Language-neutral marker of the normalisation, so no translated string is needed.
        ax.annotate(f"{base_year} = 100", (base_year, 1), xycoords=("data", "axes fraction"), xytext=(3, -3),
                    textcoords="offset points", ha="left", va="top", fontsize=font_points(), color=REF_COLOUR)
    year_axis(ax, wide.index)
    legend_below(fig, [ax])
    return finish(fig, title, note)


def plot_growth(changes: pd.Series, labels: dict[str, str], colours: dict[str, str], title: str,
                note: str | None = None) -> Figure:
    """Per cent change of each code (e.g. between the base and the latest year) as horizontal bars, largest
    on top; a code without a colour of its own (the overall index) is black, as in every figure."""
    changes = changes.sort_values(ascending=False)
    y = np.arange(len(changes))
    fig, ax = plt.subplots(figsize=(WIDTH, 0.9 + 0.32 * len(y)), layout="constrained")
    bars = ax.barh(y, changes, height=0.65, color=[colours.get(c, INDEX_COLOUR) for c in changes.index], zorder=2)
    ax.bar_label(bars, labels=[f"{v:+.1f}%" for v in changes], padding=2, fontsize=font_points())
    ax.axvline(0, color=REF_COLOUR, lw=0.8, zorder=1)
    row_labels(ax, y, [labels.get(c, c) for c in changes.index])
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter("{x:.0f}%")
    # Bars pin the axis to their ends (sticky edges), which would cut off the value labels.
    ax.use_sticky_edges = False
    ax.margins(x=0.2)
    return finish(fig, title, note, rows=ax)


def plot_radar(values: pd.DataFrame, labels: dict[str, str], title: str, note: str | None = None) -> Figure:
    """One closed polygon per column (e.g. per year) over the dimensions in the index of ``values``."""
    if values.shape[1] < 2 or len(values) < 3:
        raise InputError("a radar needs at least three dimensions and two columns to compare",
                         value=values.shape, expected="(dimensions >= 3, columns >= 2)")
    angles = np.linspace(0, 2 * np.pi, len(values), endpoint=False)
    closed = np.append(angles, angles[0])
    fig, [ax] = with_legend_row((WIDTH, 0.8 * WIDTH + 0.6), projection="polar")
    ax.set_theta_offset(np.pi / 2)  # first dimension at the top, then clockwise as in print
    ax.set_theta_direction(-1)
    # Later columns darker: the eye reads the darkest polygon as "now".
    shades = mpl.colormaps["Blues"](np.linspace(0.45, 0.95, values.shape[1]))
    for (name, col), shade in zip(values.items(), shades):
        r = np.append(col.to_numpy(float), col.iloc[0])
        ax.plot(closed, r, color=shade, lw=1.4, label=str(name))
        ax.fill(closed, r, color=shade, alpha=0.12)
    # A fifth of the width per label leaves the circle about half the figure; beyond 12 spokes, the short codes.
    # A label at the top or bottom spoke has the width over the circle; wrapped as narrow as the side ones,
    # it would take five lines and shrink the circle.
    ax.set_xticks(angles, [fit_label(labels.get(c, c) if len(values) <= 12 else str(c),
                                     (0.45 if abs(np.sin(a)) < 0.1 else 0.2) * WIDTH * 72)
                           for c, a in zip(values.index, angles)])
    # Labels grow away from the circle instead of over it: those left/right of it outwards, those at the
    # top upwards and at the bottom downwards (a centred three-line label would reach across the rim).
    for tick, a in zip(ax.get_xticklabels(), angles):
        tick.set_horizontalalignment("left" if np.sin(a) > 0.1 else "right" if np.sin(a) < -0.1 else "center")
        tick.set_verticalalignment("bottom" if np.cos(a) > 0.5 else "top" if np.cos(a) < -0.5 else "center")
    ax.set_ylim(min(0, np.nanmin(values.to_numpy(float))), None)  # radius from 0 so areas are comparable
    ax.yaxis.set_major_locator(MaxNLocator(4))  # few rings: their labels sit across the polygons
    ax.set_rlabel_position(180 / len(values))  # radius labels between the first two spokes, off the lines
    ax.tick_params(axis="x", pad=3)
    ax.tick_params(axis="y", labelcolor=REF_COLOUR)
    for tick in ax.get_yticklabels():  # a white halo keeps the radius labels legible where rings and polygons cross
        tick.set_path_effects([patheffects.withStroke(linewidth=2, foreground="white")])
    legend_below(fig, [ax])
    return finish(fig, title, note)


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
    fig, ax = plt.subplots(figsize=(WIDTH, 0.9 + 0.32 * len(y)), layout="constrained")
    bars = ax.barh(y, widths, left=lefts, height=0.65, zorder=2,
                   color=[colours[c] for c in contributions.index] + [INDEX_COLOUR])
    ax.bar_label(bars, labels=[f"{h:+.1f}" for h in steps] + [f"{ends[-1]:.1f}"], padding=2, fontsize=font_points())
    # Dashed connectors show where the next bar starts.
    ax.vlines(ends, y[:-1] + 0.325, y[1:] - 0.325, color=REF_COLOUR, lw=0.8, ls="--", zorder=1)
    ax.axvline(start, color=REF_COLOUR, lw=0.8, ls=":", zorder=1)
    row_labels(ax, y, [labels.get(c, c) for c in contributions.index] + [labels.get("total", "Σ")])
    ax.invert_yaxis()
    # Bars pin the axis to their ends (sticky edges), which would cut the labels off the extreme bars.
    ax.use_sticky_edges = False
    ax.margins(x=0.15)
    return finish(fig, title, note, rows=ax)

