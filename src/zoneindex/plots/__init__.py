"""One house style for the publication figures of a composite index, with English or Chinese labels.

Every plot function is pure: it takes pandas data and returns a Figure; ``save_figure`` writes it with
its caption. Figures are drawn at their print size, one column of a two-column page (8.5 cm) or, when
their labels cannot fit a column, the full page width (17 cm), so a font size set here is the size on
paper and no figure has to be shrunk to fit. Text is measured and wrapped at print size by
``zoneindex.plot_text``; the figure sets of an edition (titles, captions, which figures a study gets) are
``zoneindex.figures``.

The modules: ``style`` (theme, colours, saving), ``layout`` (shared layout), ``lines`` (one entity over
time), ``grids`` (heatmap, framework tree) and ``ranked`` (entities side by side).
"""
from zoneindex.plots.grids import plot_framework, plot_heatmap
from zoneindex.plots.lines import plot_growth, plot_index_over_time, plot_radar, plot_waterfall
from zoneindex.plots.ranked import plot_rank_shifts, plot_ranked_bars, plot_sobol, plot_uncertainty_bands
from zoneindex.plots.style import (EXTENDED, FONTS, FORMATS, INDEX_COLOUR, PALETTE, REF_COLOUR, TEXT,
                                   dimension_colours, figure_title, palette, resolved_font_families, save_figure,
                                   set_theme)

__all__ = ["EXTENDED", "FONTS", "FORMATS", "INDEX_COLOUR", "PALETTE", "REF_COLOUR", "TEXT", "dimension_colours",
           "figure_title", "palette", "plot_framework", "plot_growth", "plot_heatmap", "plot_index_over_time",
           "plot_radar", "plot_rank_shifts", "plot_ranked_bars", "plot_sobol", "plot_uncertainty_bands",
           "resolved_font_families", "save_figure", "set_theme"]
