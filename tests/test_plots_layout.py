"""Figures a report can print, for any study: any number of dimensions, many entities, long names, missing
cells, rebased indices; text measured from the renderer's bounding boxes."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle

from tests.test_plots import overlapping, shown_labels
from zoneindex import plots
from zoneindex.plot_text import unwrap

PROVINCES = ["海南", "青海", "贵州", "山西", "山东", "江西", "宁夏", "吉林", "浙江", "内蒙古", "河北", "广西", "北京", "江苏",
             "广东", "云南", "重庆", "湖北", "福建", "河南", "辽宁", "黑龙江", "四川", "陕西", "安徽", "湖南", "上海", "甘肃",
             "天津", "新疆", "西藏"]
LONG_INDEX = "International Orientation Index of Provincial High-tech Industry and Science"


@pytest.fixture(autouse=True)
def theme():
    plots.set_theme("en")
    yield
    plt.close("all")


def _dimensions(n):
    codes = [f"D{i + 1:02d}" for i in range(n)]
    return codes, {c: f"Dimension {i + 1} of a wide framework" for i, c in enumerate(codes)}


def test_seventeen_dimensions_get_seventeen_distinct_colours_in_every_figure():
    codes, labels = _dimensions(17)
    colours = plots.dimension_colours(codes)
    assert len({to_hex(c) for c in colours.values()}) == 17 and "#000000" not in colours.values()
    years = np.arange(2015, 2024)
    scores = pd.DataFrame([(y, c, 100 + i + (y - 2015)) for i, c in enumerate(["IDX", *codes]) for y in years],
                          columns=["year", "code", "value"])
    fig = plots.plot_index_over_time(scores, ["IDX", *codes], {**labels, "IDX": "Index"}, colours, 2015, "Index")
    drawn = {to_hex(line.get_color()) for line in fig.axes[0].get_lines() if line.get_label() in labels.values()}
    assert len(drawn) == 17
    points = pd.DataFrame(np.random.default_rng(2).uniform(1, 5, (6, 17)), index=list("ABCDEF"), columns=codes)
    bars = plots.plot_ranked_bars(points, labels, colours, "Ranked", "C")
    assert len({to_hex(p.get_facecolor()) for p in bars.axes[0].patches}) == 17
    growth = plots.plot_growth(pd.Series(np.arange(17.0), index=codes), labels, colours, "Growth")
    assert len({to_hex(p.get_facecolor()) for p in growth.axes[0].patches}) == 17
    wide = pd.DataFrame({2018: np.arange(17.0) + 50, 2023: np.arange(17.0) + 60}, index=codes)
    assert len(plots.plot_radar(wide, labels, "Radar").axes[0].get_xticklabels()) == 17


def _ranked_provinces(lang="zh", base_year=2018, names=None):
    plots.set_theme(lang)
    total = pd.Series(np.linspace(560, 110, len(PROVINCES)), index=PROVINCES)
    total[["新疆", "西藏"]] = np.nan  # no index value in the latest year
    rank = total.rank(ascending=False)
    intervals = pd.DataFrame({"entity": PROVINCES, "q05": (rank - 3).clip(lower=1), "q95": rank + 4})
    return plots.plot_ranked_bars(total.to_frame("IDX"), {"IDX": LONG_INDEX}, {}, "Ranked", "四川",
                                  intervals=intervals, interval_kind="rank", lang=lang, names=names,
                                  base_year=base_year)


def _drawn_ticks(ax):
    """The x tick labels drawn: those of ticks inside the axis limits (the others are listed, not drawn)."""
    low, high = sorted(ax.get_xlim())
    return [t for t in shown_labels(ax.get_xticklabels()) if low <= t.get_position()[0] <= high]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_rank_panel_of_31_provinces_has_room_and_no_tick_labels_run_together(lang):
    fig = _ranked_provinces(lang)
    bars, panel = fig.axes[:2]
    fig.draw_without_rendering()
    assert panel.get_window_extent().width >= 0.2 * fig.bbox.width  # a panel, not a sliver (it was 4 %)
    ticks = _drawn_ticks(bars) + _drawn_ticks(panel)
    assert not overlapping(ticks)  # never "01530"
    assert [t.get_text() for t in shown_labels(panel.get_xticklabels())] == ["1", "29"]
    rows = shown_labels(bars.get_yticklabels())
    assert len(rows) == 31 and not overlapping(rows)
    assert [t.get_text() for t in rows if t.get_fontweight() == "bold"] == ["四川"]


def test_entities_without_a_value_get_no_bar_no_rank_and_say_so():
    fig = _ranked_provinces("zh")
    bars, panel = fig.axes[:2]
    [dots] = [line for line in panel.get_lines() if line.get_marker() == "o"]
    ranks = np.asarray(dots.get_xdata(), float)
    assert np.isnan(ranks[-2:]).all() and ranks[:-2].tolist() == list(range(1, 30))
    assert [t.get_text() for t in bars.texts] == [plots.TEXT["no_value"]["zh"]] * 2


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_ranked_rebased_indices_say_that_growth_is_ranked_not_level(lang):
    label = unwrap(_ranked_provinces(lang).axes[0].get_xlabel())
    assert ("2018 = 100" in label and "growth" in label) if lang == "en" else ("2018年=100" in label and "增长" in label)
    assert _ranked_provinces(lang, base_year=None).axes[0].get_xlabel() == ""
    fig = _ranked_provinces(lang)
    fig.draw_without_rendering()
    assert not overlapping([fig.axes[0].xaxis.label, fig.axes[1].xaxis.label])


def test_ranked_bars_show_entity_names_and_bold_the_highlight_by_code():
    points = pd.DataFrame({"IDX": [3.0, 2.0, 1.0]}, index=["CHE", "CHN", "NLD"])
    fig = plots.plot_ranked_bars(points, {}, {}, "Ranked", "CHN",
                                 names={"CHE": "Switzerland", "CHN": "China", "NLD": "Netherlands"})
    labels = fig.axes[0].get_yticklabels()
    assert [t.get_text() for t in labels] == ["Switzerland", "China", "Netherlands"]
    assert [t.get_fontweight() for t in labels] == ["normal", "bold", "normal"]


def test_a_long_legend_entry_wraps_instead_of_squeezing_the_plot():
    years = np.arange(2010, 2024)
    scores = pd.DataFrame([(y, c, 100.0 + i) for i, c in enumerate(["IDX", "MKT", "SCI"]) for y in years],
                          columns=["year", "code", "value"])
    labels = {"IDX": LONG_INDEX, "MKT": "International market and technology orientation",
              "SCI": "International science orientation"}
    fig = plots.plot_index_over_time(scores, ["IDX", "MKT", "SCI"], labels, plots.dimension_colours(["MKT", "SCI"]),
                                     2018, "Index")
    fig.draw_without_rendering()
    ax = fig.axes[0]
    assert ax.get_window_extent().width >= 0.7 * fig.bbox.width
    [legend] = [a.get_legend() for a in fig.axes if a.get_legend()]
    assert legend.get_window_extent().x1 <= fig.bbox.x1 + 1 and legend.get_window_extent().x0 >= -1
    assert "\n" in legend.get_texts()[0].get_text()  # the long name wrapped


@pytest.mark.parametrize("first, last", [(2010, 2023), (1990, 2022), (2016, 2023)])
def test_year_ticks_are_whole_round_years_that_never_overlap(first, last):
    years = np.arange(first, last + 1)
    scores = pd.DataFrame([(y, c, 1.0 + i) for i, c in enumerate(["IDX", "A"]) for y in years],
                          columns=["year", "code", "value"])
    fig = plots.plot_index_over_time(scores, ["IDX", "A"], {}, plots.dimension_colours(["A"]), None, "Index")
    fig.draw_without_rendering()
    ticks = shown_labels(fig.axes[0].get_xticklabels())
    assert not overlapping(ticks) and len(ticks) >= 2
    shown = [int(t.get_text()) for t in ticks]
    step = np.diff(shown)
    assert (step == step[0]).all() and step[0] in (1, 2, 5, 10) and all(y % step[0] == 0 for y in shown)
    if len(years) <= 8:  # eight years fit a column side by side: every one labelled
        assert shown == years.tolist()
    minor = fig.axes[0].get_xticks(minor=True)  # when labels thin out, every other year has a minor tick
    assert set(minor) | set(shown) == set(years) if step[0] > 1 else len(minor) == 0


def _heatmap_with_gaps(lang="en"):
    plots.set_theme(lang)
    matrix = pd.DataFrame(np.arange(28.0).reshape(4, 7) + 80, index=[f"Indicator {i}" for i in range(4)],
                          columns=list(range(2017, 2024)))
    matrix.iloc[0, :3] = np.nan
    return plots.plot_heatmap(matrix, "Heatmap", center=100, lang=lang), matrix


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_missing_heatmap_cells_are_drawn_as_missing_with_a_legend_entry(lang):
    fig, matrix = _heatmap_with_gaps(lang)
    ax = fig.axes[0]
    mesh = ax.collections[0]
    assert np.ma.getmaskarray(mesh.get_array()).reshape(matrix.shape).tolist() == matrix.isna().to_numpy().tolist()
    [background] = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_hatch()]
    assert background.get_zorder() < mesh.get_zorder() and background.get_width() == matrix.shape[1]
    assert not any(line.get_visible() for line in ax.get_xgridlines() + ax.get_ygridlines())
    entries = [t.get_text() for a in fig.axes if a.get_legend() for t in a.get_legend().get_texts()]
    assert entries == [plots.TEXT["missing"][lang]]
    # a number in every observed cell, none in a missing one
    cells = {(round(t.get_position()[1] - 0.5), round(t.get_position()[0] - 0.5)) for t in ax.texts}
    assert cells == {(i, j) for i, j in zip(*np.nonzero(matrix.notna().to_numpy()))}


def test_a_full_heatmap_has_no_missing_entry():
    plots.set_theme("en")
    fig = plots.plot_heatmap(pd.DataFrame(np.ones((2, 3)), index=["a", "b"], columns=[2021, 2022, 2023]), "H")
    assert not [a for a in fig.axes if a.get_legend()]


def test_the_chinese_heatmap_carries_the_same_numbers_as_the_english_one():
    rng = np.random.default_rng(5)
    values = rng.uniform(60, 230, (36, 8)).round(1)
    figures = {}
    for lang, prefix in (("en", "Foreign and cross-border venture capital invested in zone firms no. "),
                         ("zh", "境外及跨境创投与私募股权投资额")):
        plots.set_theme(lang)
        matrix = pd.DataFrame(values, index=[f"{prefix}{i}" for i in range(36)], columns=list(range(2016, 2024)))
        figures[lang] = plots.plot_heatmap(matrix, "H", center=100, lang=lang)
    drawn = {lang: sorted(t.get_text() for t in fig.axes[0].texts) for lang, fig in figures.items()}
    assert drawn["en"] == drawn["zh"] and len(drawn["zh"]) == values.size
    years = {lang: [t.get_text() for t in shown_labels(fig.axes[0].get_xticklabels())] for lang, fig in figures.items()}
    assert years["en"] == years["zh"] == [str(y) for y in range(2016, 2024)]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_radar_labels_stay_clear_of_the_circle(lang):
    plots.set_theme(lang)
    names = {"en": ["High-tech industry new-product export sales (CNY 10k)", "Export share of high-tech sales",
                    "Valid invention patents", "Invention patent applications accepted", "Papers indexed in SCI",
                    "Papers indexed in EI", "Papers indexed in CPCI-S (conference proceedings)"],
             "zh": ["高技术产业新产品出口销售收入", "高技术产业新产品出口占新产品销售收入比重", "国内有效发明专利数",
                    "国内发明专利申请受理量", "SCI收录科技论文数", "EI收录科技论文数", "CPCI-S收录科技论文数"]}[lang]
    codes = [f"I{i}" for i in range(7)]
    values = pd.DataFrame({2018: np.full(7, 100.0), 2023: np.linspace(60, 260, 7)}, index=codes)
    fig = plots.plot_radar(values, dict(zip(codes, names)), "Radar")
    fig.draw_without_rendering()
    ax = fig.axes[0]
    box = ax.get_window_extent()
    centre, radius = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2]), min(box.width, box.height) / 2
    for label in shown_labels(ax.get_xticklabels()):
        b = label.get_window_extent()
        nearest = np.clip(centre, [b.x0, b.y0], [b.x1, b.y1])  # the point of the label's box nearest the centre
        assert np.hypot(*(nearest - centre)) >= radius - 1, label.get_text()


def test_sobol_inputs_that_are_method_families_take_the_glossary_term():
    plots.set_theme("zh")
    indices = pd.DataFrame({"input": ["normalisation", "weights", "my_choice"], "S1": [0.6, 0.2, 0.1],
                            "S1_low": [0.5, 0.1, 0.0], "S1_high": [0.7, 0.3, 0.2], "ST": [0.7, 0.3, 0.1],
                            "ST_low": [0.6, 0.2, 0.0], "ST_high": [0.8, 0.4, 0.2]})
    fig = plots.plot_sobol(indices, "Sobol", lang="zh", names={"my_choice": "自定义选择"})
    assert [unwrap(t.get_text()) for t in fig.axes[0].get_yticklabels()] == ["标准化", "权重", "自定义选择"]
