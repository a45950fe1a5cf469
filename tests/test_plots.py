"""House-style figures: Chinese renders with the CJK font, files are byte-stable, numbers on the figures are right."""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import Rectangle
from PIL import Image

from zoneindex import plots
from zoneindex.errors import InputError

CODES = ["IDX", "ECO", "SOC", "ENV"]
ZH = {"IDX": "综合指数", "ECO": "经济发展", "SOC": "社会民生", "ENV": "生态环境质量与资源利用效率", "total": "合计"}
NOTE = "示意数据，非官方统计。基期年为2015年（=100），各维度等权重；数据为模拟生成，仅用于展示图表样式，不代表任何地区的真实情况。"
CJK = "Noto Sans CJK SC"


@pytest.fixture(autouse=True)
def theme():
    plots.set_theme("zh")
    yield
    plt.close("all")


def line_fig():
    years = np.arange(2015, 2024)
    scores = pd.DataFrame([(y, c, 100 + i * (y - 2015)) for i, c in enumerate(CODES) for y in years],
                          columns=["year", "code", "value"])
    return plots.plot_index_over_time(scores, CODES, ZH, plots.dimension_colours(CODES[1:]), 2015, "综合指数", NOTE)


def radar_fig():
    values = pd.DataFrame({2018: [98.0, 104.0, 101.0], 2023: [110.0, 99.0, 120.0]}, index=CODES[1:])
    return plots.plot_radar(values, ZH, "各维度得分", NOTE)


def waterfall_fig(contributions=pd.Series([3.2, -1.4, 2.1], index=CODES[1:]), start=100.0):
    return plots.plot_waterfall(contributions, start, ZH, plots.dimension_colours(CODES[1:]), "维度贡献", NOTE)


def heatmap_fig(rows=12):
    matrix = pd.DataFrame(np.random.default_rng(0).normal(100, 10, (rows, 9)).round(1),
                          index=[f"指标{i:02d} 人均可支配收入" for i in range(rows)], columns=range(2015, 2024))
    return plots.plot_heatmap(matrix, "各指标得分", NOTE, center=100)


FIGURES = [line_fig, radar_fig, waterfall_fig, heatmap_fig]


@pytest.mark.parametrize("make", FIGURES)
def test_chinese_renders_with_cjk_font_and_no_missing_glyph(make, tmp_path):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Glyph .* missing")
        fig = make()
        families = plots.resolved_font_families(fig)
        plots.save_figure(fig, tmp_path / "fig", ("png", "svg", "pdf"))  # every renderer, under the filter
    assert CJK in families
    assert families <= {CJK}, f"some characters fell back: {families}"


def test_fallback_is_detected_when_the_cjk_font_is_not_first():
    # The check above must be able to fail: with DejaVu alone, Chinese is tofu and both signals fire.
    with mpl.rc_context({"font.sans-serif": ["DejaVu Sans"]}):
        fig, ax = plt.subplots()
        ax.set_title("综合指数")
        with pytest.warns(UserWarning, match="Glyph .* missing"):
            assert "<missing>" in plots.resolved_font_families(fig)


def test_save_twice_is_byte_identical(tmp_path):
    first = plots.save_figure(line_fig(), tmp_path / "a" / "line", ("png", "svg", "pdf"))
    second = plots.save_figure(line_fig(), tmp_path / "b" / "line", ("png", "svg", "pdf"))
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name
    svg = first[1].read_text()
    assert "<dc:date>" not in svg and "<text" not in svg  # no timestamp; glyphs drawn as outlines
    assert b"CreationDate" not in first[2].read_bytes()


def test_reruns_in_new_processes_are_byte_identical(tmp_path):
    """A pipeline rerun is a new interpreter: hash seeds and ids must not leak into the files."""
    script = ("import sys, pandas as pd; from pathlib import Path; from zoneindex import plots\n"
              "plots.set_theme('zh')\n"
              "fig = plots.plot_waterfall(pd.Series([1.5, -0.5], index=['A', 'B']), 100, {'A': '经济', 'B': '社会'},"
              " plots.dimension_colours(['A', 'B']), '标题', '示意数据')\n"
              "plots.save_figure(fig, Path(sys.argv[1]) / 'wf', ('png', 'svg', 'pdf'))\n")
    src = str(Path(plots.__file__).resolve().parents[1])
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": src}
        env.pop("SOURCE_DATE_EPOCH", None)  # the fixed dates must come from save_figure itself
        subprocess.run([sys.executable, "-c", script, str(tmp_path / seed)], check=True, env=env)
    for ext in ("png", "svg", "pdf"):
        assert (tmp_path / "1" / f"wf.{ext}").read_bytes() == (tmp_path / "2" / f"wf.{ext}").read_bytes(), ext


def test_png_is_300_dpi_and_folder_is_created_and_figure_closed(tmp_path):
    fig = radar_fig()
    paths = plots.save_figure(fig, tmp_path / "deep" / "er" / "radar.v1")
    assert paths == [tmp_path / "deep" / "er" / "radar.v1.png", tmp_path / "deep" / "er" / "radar.v1.svg"]
    assert not plt.fignum_exists(fig.number)
    with Image.open(paths[0]) as png:
        assert png.info["dpi"] == pytest.approx((300, 300), abs=0.01)


def test_unknown_format_is_refused_before_writing(tmp_path):
    with pytest.raises(InputError, match="unsupported figure format"):
        plots.save_figure(line_fig(), tmp_path / "x", ("png", "jpg"))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("steps", [[3.2, -1.4, 2.1], [-2.0, -0.5, 1.0]])
def test_waterfall_bars_step_from_start_and_total_tops_at_start_plus_sum(steps):
    contributions = pd.Series(steps, index=CODES[1:])
    ax = waterfall_fig(contributions, start=100.0).axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == len(steps) + 1
    tops = np.array([b.get_y() + b.get_height() for b in bars])
    bottoms = np.array([b.get_y() for b in bars])
    ends = 100.0 + np.cumsum(steps)
    np.testing.assert_allclose(tops[:-1], ends)
    np.testing.assert_allclose(bottoms[:-1], np.append(100.0, ends[:-1]))
    assert tops[-1] == pytest.approx(100.0 + sum(steps)) and bottoms[-1] == pytest.approx(100.0)
    printed = [t.get_text() for t in ax.texts]
    assert f"{100 + sum(steps):.1f}" in printed and f"{steps[1]:+.1f}" in printed
    ax.figure.draw_without_rendering()
    low, high = ax.get_ylim()
    assert low < min(100.0, *ends) and high > max(100.0, *ends)  # labels of extreme bars stay inside


def test_dimension_colours_are_stable_distinct_and_positional():
    five = plots.dimension_colours(list("abcde"))
    assert five == plots.dimension_colours(list("abcde"))
    assert len(set(five.values())) == 5 and plots.INDEX_COLOUR not in five.values()
    assert plots.dimension_colours(list("abc")) == {k: five[k] for k in "abc"}
    with pytest.raises(InputError):
        plots.dimension_colours(["a", "a"])
    with pytest.raises(InputError):
        plots.dimension_colours([str(i) for i in range(len(plots.PALETTE) + 1)])


def test_index_over_time_has_integer_year_ticks_and_base_year_marks():
    fig = line_fig()
    ax = fig.axes[0]
    fig.draw_without_rendering()
    ticks = ax.get_xticks()
    shown = ticks[(ticks >= ax.get_xlim()[0]) & (ticks <= ax.get_xlim()[1])]
    assert len(shown) >= 3 and np.array_equal(shown, np.round(shown))  # never 2019.5
    assert [ax.xaxis.get_major_formatter()(t) for t in shown[:2]] == [f"{shown[0]:.0f}", f"{shown[1]:.0f}"]
    refs = [ln.get_xdata() for ln in ax.lines if ln.get_linestyle() == "--"] + \
           [ln.get_ydata() for ln in ax.lines if ln.get_linestyle() == ":"]
    assert [list(r) for r in refs] == [[2015, 2015], [100, 100]]
    overall = ax.lines[0]
    assert overall.get_color() == plots.INDEX_COLOUR and overall.get_linewidth() > ax.lines[1].get_linewidth()


def test_index_over_time_names_missing_codes():
    scores = pd.DataFrame({"year": [2015], "code": ["IDX"], "value": [100.0]})
    with pytest.raises(InputError, match="ECO"):
        plots.plot_index_over_time(scores, ["IDX", "ECO"], ZH, {"ECO": "#000"}, 2015, "t")


@pytest.mark.parametrize("make", FIGURES)
def test_note_is_wrapped_inside_the_figure_and_below_everything(make):
    fig = make()
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    [note] = fig.texts  # supxlabel is the figure's only text
    assert note.get_text().replace("\n", "") == NOTE and "\n" in note.get_text()
    box = note.get_window_extent(renderer)
    assert 0 <= box.x0 and box.x1 <= fig.bbox.x1
    # Tight boxes include tick labels, titles and the legend: all must sit above the footnote.
    assert box.y1 <= min(ax.get_tightbbox(renderer).y0 for ax in fig.axes) + 1


def test_heatmap_keeps_every_row_label_and_annotates_small_grids():
    fig = heatmap_fig(rows=40)
    ax = fig.axes[0]
    assert len([t for t in ax.get_yticklabels() if t.get_text()]) == 40
    assert len(ax.texts) == 40 * 9


def test_unknown_language_is_refused():
    with pytest.raises(InputError):
        plots.set_theme("fr")
