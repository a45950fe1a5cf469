"""Figures of entities side by side: ranked bars, rank shifts under other method sets, uncertainty
ranges and Sobol indices."""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from zoneindex.glossary import TERMS, term
from zoneindex.plot_text import fit_label, font_points
from zoneindex.plots.layout import finish, legend_below, require, row_labels, top_down, with_legend_row, year_axis
from zoneindex.plots.style import INDEX_COLOUR, PALETTE, REF_COLOUR, TEXT, WIDTH, dimension_colours

RANK_RATIO = 2.4  # the bars' panel this many times as wide as the rank panel beside it


def plot_ranked_bars(values: pd.DataFrame, labels: dict[str, str], colours: dict[str, str], title: str,
                     highlight: str | None = None, note: str | None = None, intervals: pd.DataFrame | None = None,
                     interval_kind: str = "score", lang: str = "en", names: dict[str, str] | None = None,
                     base_year: int | None = None) -> Figure:
    """Entities ranked by their total, one horizontal bar each, stacked by component when there are several
    columns (each column is that component's points of the total); the highlighted entity is named in bold.

    ``intervals`` (columns entity, q05, q95) adds the 5-95 % range of each entity's uncertain result: as
    whiskers over the bar ends for scores, or for ranks (``interval_kind="rank"``) in a panel on the right
    with the nominal rank as a dot. ``names`` maps entity codes to display names. ``base_year`` says that
    the values are indices rebased to 100 for every entity in that year, so the bars rank growth since then,
    not levels: the value axis says so. An entity without a total has no bar and no rank, and reads "no value".
    """
    totals = values.sum(axis=1, min_count=1)  # all components missing: no total (a plain sum would give 0)
    values = values.loc[totals.sort_values(ascending=False, na_position="last").index]
    totals = totals.loc[values.index]
    ranks = intervals is not None and interval_kind == "rank"
    fig, axes = with_legend_row((WIDTH, 1.3 + 0.13 * len(values)), width_ratios=(RANK_RATIO, 1) if ranks else (1,))
    ax, y, left = axes[0], np.arange(len(values)), np.zeros(len(values))
    for column in values.columns:
        ax.barh(y, values[column], left=left, color=colours.get(column, REF_COLOUR), label=labels.get(column, column),
                height=0.8)
        left += values[column].fillna(0).to_numpy()
    ax.set_yticks(y, [(names or {}).get(e, str(e)) for e in values.index])
    ax.grid(axis="y", visible=False)
    for tick, entity in zip(ax.get_yticklabels(), values.index):
        tick.set_fontweight("bold" if entity == highlight else "normal")
    for row in y[totals.isna().to_numpy()]:
        ax.annotate(TEXT["no_value"][lang], (0, row), xytext=(3, 0), textcoords="offset points", ha="left",
                    va="center", fontsize=font_points(), color=REF_COLOUR)
    top_down(ax, len(y))
    if base_year is not None:
        # Beside the rank panel, whose label (centred under it) is wider than the panel: from the left end of
        # the bars' axis, wrapped 30 pt short of its right end (the axis: its share of the width less 45 pt of
        # row labels).
        room = (fig.get_figwidth() * 72 - 45) * (RANK_RATIO / (RANK_RATIO + 1) if ranks else 1) - (30 if ranks else 0)
        ax.set_xlabel(fit_label(TEXT["rebased_value"][lang].format(base=base_year), room), loc="left")
    if intervals is not None:
        band = intervals.set_index("entity").reindex(values.index)
        _whiskers(axes[-1], band["q05"], band["q95"], y, TEXT["band"][lang])
    if ranks:
        _rank_panel(axes[1], totals, y, lang)
    if values.shape[1] > 1 or intervals is not None:
        legend_below(fig, axes)
    return finish(fig, title, note, rows=ax)


def _rank_panel(ax, totals: pd.Series, y, lang: str) -> None:
    """The nominal rank of each total (1 = largest; none without a total) as a dot, on an axis that labels
    only the best and the worst rank: a narrow panel has no room for more labels side by side."""
    nominal = totals.rank(ascending=False, method="min").to_numpy()
    ax.plot(nominal, y, "o", markersize=2.5, color=INDEX_COLOUR, label=TEXT["nominal"][lang])
    ax.set_xlabel(TEXT["rank_band"][lang])
    ax.tick_params(axis="y", labelleft=False)
    worst = max(int(np.nanmax(nominal, initial=1)), 2)
    ax.set_xticks([1, worst], ["1", str(worst)])
    ax.set_xlim(0, worst + 1)


def _whiskers(ax, low, high, y, label: str) -> None:
    """5-95 % ranges as thin horizontal lines with end caps."""
    ax.hlines(y, low, high, color=INDEX_COLOUR, lw=0.8, label=label, zorder=3)
    ax.plot(np.r_[low, high], np.r_[y, y], "|", markersize=3, color=INDEX_COLOUR, zorder=3)


def plot_rank_shifts(ranks: pd.DataFrame, title: str, note: str | None = None, lang: str = "en",
                     names: dict[str, str] | None = None) -> Figure:
    """Rank of every entity (rows, ordered by the nominal rank) under each method set (columns).

    The nominal rank is a black bar-free marker; each alternative is a coloured dot joined to it by a thin
    line, so long lines show the entities whose rank depends most on the method. ``names`` maps entity
    codes to display names.
    """
    ranks = ranks.sort_values("nominal")
    fig, [ax] = with_legend_row((WIDTH, 1.5 + 0.13 * len(ranks)))
    y = np.arange(len(ranks))
    alternatives = [c for c in ranks.columns if c != "nominal"]
    colours = dimension_colours(alternatives)
    for name in alternatives:
        ax.hlines(y, ranks["nominal"], ranks[name], color=colours[name], linewidth=0.6, alpha=0.6)
        ax.plot(ranks[name], y, "o", markersize=2.5, color=colours[name], label=name)
    ax.plot(ranks["nominal"], y, "|", markersize=6, color=INDEX_COLOUR, label=TEXT["nominal"][lang])
    ax.set_yticks(y, [(names or {}).get(e, str(e)) for e in ranks.index])
    top_down(ax, len(y))
    ax.set_xlabel(TEXT["rank"][lang])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    legend_below(fig, [ax])
    return finish(fig, title, note, rows=ax)


def plot_uncertainty_bands(summary: pd.DataFrame, title: str, *, lang: str = "en", note: str | None = None,
                           names: dict[str, str] | None = None, ascending: bool = False) -> Figure:
    """The 5-95 % range of an uncertain result (columns nominal, median, q05, q95).

    Over the years (a ``year`` column, one entity and node): a shaded band with the median line and the
    nominal result. For a cross-section (an ``entity`` column with several entities): per entity a median
    dot with whiskers and the nominal value as a tick, sorted by the nominal value, largest first
    (``ascending=True`` for ranks, 1 first). ``names`` maps entity codes to display names.
    """
    require(summary, ["nominal", "median", "q05", "q95"], "an uncertainty summary")
    if "entity" in summary and summary["entity"].nunique() > 1:
        return _bands_by_entity(summary, title, lang, note, names or {}, ascending)
    require(summary, ["year"], "an uncertainty summary over time")
    data = summary.sort_values("year")
    fig, [ax] = with_legend_row((WIDTH, 2.8))
    ax.fill_between(data["year"], data["q05"], data["q95"], color=PALETTE[0], alpha=0.2, lw=0,
                    label=TEXT["band"][lang])
    ax.plot(data["year"], data["median"], color=PALETTE[0], lw=1.4, label=TEXT["median"][lang])
    ax.plot(data["year"], data["nominal"], color=INDEX_COLOUR, lw=0.9, ls="--", marker="o", markersize=2,
            label=TEXT["nominal"][lang])
    year_axis(ax, data["year"])
    legend_below(fig, [ax])
    return finish(fig, title, note)


def _bands_by_entity(summary, title, lang, note, names, ascending) -> Figure:
    data = summary.sort_values("nominal", ascending=ascending)
    y = np.arange(len(data))
    fig, [ax] = with_legend_row((WIDTH, 1.3 + 0.13 * len(data)))
    ax.hlines(y, data["q05"], data["q95"], color=PALETTE[0], lw=1.2, label=TEXT["band"][lang])
    ax.plot(data["median"], y, "o", markersize=2.5, color=PALETTE[0], label=TEXT["median"][lang])
    ax.plot(data["nominal"], y, "|", markersize=5, color=INDEX_COLOUR, label=TEXT["nominal"][lang])
    ax.set_yticks(y, [names.get(e, e) for e in data["entity"]])
    ax.grid(axis="y", visible=False)
    top_down(ax, len(y))
    legend_below(fig, [ax])
    return finish(fig, title, note, rows=ax)


def plot_sobol(indices: pd.DataFrame, title: str, *, lang: str = "en", note: str | None = None,
               names: dict[str, str] | None = None) -> Figure:
    """First-order (S1) and total (ST) Sobol indices of each uncertain input, paired horizontal bars with
    their confidence intervals as whiskers, the input with the largest ST on top.

    Columns: input, S1, S1_low, S1_high, ST, ST_low, ST_high (the ``_lo``/``_hi`` suffixes of
    ``uncertainty.run_sensitivity`` are accepted too). ``names`` maps inputs to display names.
    """
    short = {f"{s}_{a}": f"{s}_{b}" for s in ("S1", "ST") for a, b in (("lo", "low"), ("hi", "high"))}
    data = indices.rename(columns=short)
    require(data, ["input", "S1", "S1_low", "S1_high", "ST", "ST_low", "ST_high"], "a table of Sobol indices")
    data = data.sort_values("ST", ascending=False, kind="stable")
    y = np.arange(len(data))
    fig, [ax] = with_legend_row((WIDTH, 1.3 + 0.34 * len(data)))
    for offset, key, colour in ((-0.2, "S1", PALETTE[3]), (0.2, "ST", PALETTE[0])):
        ax.barh(y + offset, data[key], height=0.38, color=colour, label=TEXT[key][lang], zorder=2)
        # An interval need not contain its estimate (bootstrap percentiles), and error bars cannot be negative.
        spread = np.clip([data[key] - data[f"{key}_low"], data[f"{key}_high"] - data[key]], 0, None)
        ax.errorbar(data[key], y + offset, xerr=spread, fmt="none", ecolor=INDEX_COLOUR, elinewidth=0.7,
                    capsize=1.5, zorder=3)
    # an input without a given name that is a method family (normalisation, weights …): the glossary's term
    row_labels(ax, y, [(names or {}).get(i) or (term(i, lang) if i in TERMS else str(i)) for i in data["input"]])
    ax.invert_yaxis()
    ax.axvline(0, color=REF_COLOUR, lw=0.8, zorder=1)
    ax.set_xlabel(TEXT["sobol"][lang])
    legend_below(fig, [ax])
    return finish(fig, title, note, rows=ax)
