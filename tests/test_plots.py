"""House-style figures: Chinese renders with the CJK font, files are byte-stable, numbers on the figures are right,
text is legible at print size, and the visualize stage writes the figure set with captions."""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import warnings
import zlib
from pathlib import Path
from types import SimpleNamespace

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pypdfium2 as pdfium
import pytest
from fontTools.ttLib import TTFont
from matplotlib.backends import _backend_pdf_ps
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from PIL import Image

from tests.helpers import tree
from zoneindex import figure_reuse, figures, paths, plot_text, plots, workers
from zoneindex.plots import pdf_fonts
from zoneindex.errors import InputError

CODES = ["IDX", "ECO", "SOC", "ENV"]
NAMES = {"zh": {"IDX": "综合指数", "ECO": "经济发展", "SOC": "社会民生", "ENV": "生态环境质量与资源利用效率", "total": "合计"},
         "en": {"IDX": "Composite index", "ECO": "Economic development", "SOC": "Social welfare",
                "ENV": "Environmental quality and resource efficiency", "total": "Total"}}
ZH = NAMES["zh"]
NOTES = {"zh": "示意数据，非官方统计。基期年为2015年（=100），各维度等权重；数据为模拟生成，仅用于展示图表样式，不代表任何地区的真实情况。",
         "en": "Illustrative data, not official statistics. Base year 2015 (= 100), equal weights; the values were "
               "generated to show the style of the figures and describe no real place."}
NOTE = NOTES["zh"]
TITLES = {"zh": "综合指数", "en": "Composite index"}
COLOURS = plots.dimension_colours(CODES[1:])
CJK = "Noto Sans CJK SC"
MAKE_SUBSET = _backend_pdf_ps.get_glyphs_subset  # matplotlib's own, put back after every PDF
ENTITIES = [f"E{i:02d}" for i in range(12)]


@pytest.fixture(autouse=True)
def theme():
    plots.set_theme("zh")
    yield
    plt.close("all")


# --- figures with known data, in either language -----------------------------------------------------

def line_fig(lang="zh"):
    years = np.arange(2015, 2024)
    scores = pd.DataFrame([(y, c, 100 + i * (y - 2015)) for i, c in enumerate(CODES) for y in years],
                          columns=["year", "code", "value"])
    return plots.plot_index_over_time(scores, CODES, NAMES[lang], COLOURS, 2015, TITLES[lang], NOTES[lang])


def growth_fig(lang="zh"):
    changes = pd.Series([12.0, -3.5, 30.2, 9.1], index=CODES)
    return plots.plot_growth(changes, NAMES[lang], COLOURS, TITLES[lang], NOTES[lang])


def radar_fig(lang="zh"):
    values = pd.DataFrame({2018: [98.0, 104.0, 101.0], 2023: [110.0, 99.0, 120.0]}, index=CODES[1:])
    return plots.plot_radar(values, NAMES[lang], TITLES[lang], NOTES[lang])


def waterfall_fig(contributions=pd.Series([3.2, -1.4, 2.1], index=CODES[1:]), start=100.0, lang="zh"):
    return plots.plot_waterfall(contributions, start, NAMES[lang], COLOURS, TITLES[lang], NOTES[lang])


def heatmap_fig(rows=12, years=range(2015, 2024), lang="zh"):
    names = [f"指标{i:02d} 人均可支配收入" if lang == "zh" else f"Indicator {i:02d}, disposable income per head"
             for i in range(rows)]
    matrix = pd.DataFrame(np.random.default_rng(0).normal(100, 10, (rows, len(years))).round(1),
                          index=names, columns=list(years))
    return plots.plot_heatmap(matrix, TITLES[lang], NOTES[lang], center=100)


def framework_table(subs=2, indicators=6):
    """Four levels: the index, three dimensions, ``subs`` sub-areas each, ``indicators`` indicators each."""
    rows, names = [("IDX", "", 1.0)], {"zh": dict(ZH), "en": dict(NAMES["en"])}
    for d in CODES[1:]:
        rows.append((d, "IDX", 1 / 3))
        for s in range(subs):
            rows.append((f"{d}{s}", d, 1 / 3 / subs))
            names["zh"][f"{d}{s}"], names["en"][f"{d}{s}"] = f"{ZH[d]}分项{s}", f"{NAMES['en'][d]}, part {s}"
            for i in range(indicators):
                code = f"{d}{s}_{i}"
                rows.append((code, f"{d}{s}", 1 / 3 / subs / indicators))
                names["zh"][code] = f"{ZH[d]}第{s}分项的第{i}项指标（人均）"
                names["en"][code] = f"{NAMES['en'][d]}, indicator {s}.{i} per head"
    return pd.DataFrame(rows, columns=["code", "parent", "effective_weight"]), names


def framework_fig(lang="zh"):
    weights, names = framework_table()
    return plots.plot_framework(weights, names[lang], COLOURS, TITLES[lang], NOTES[lang])


def totals():
    points = pd.DataFrame(np.random.default_rng(1).uniform(5, 30, (len(ENTITIES), 3)), index=ENTITIES,
                          columns=CODES[1:])
    return points, points.sum(axis=1)


def ranked_fig(lang="zh", kind="score"):
    points, total = totals()
    if kind == "score":
        intervals = pd.DataFrame({"entity": ENTITIES, "q05": total - 3, "q95": total + 2})
    else:
        rank = total.rank(ascending=False)
        intervals = pd.DataFrame({"entity": ENTITIES, "q05": (rank - 2).clip(lower=1), "q95": rank + 1})
    return plots.plot_ranked_bars(points, NAMES[lang], COLOURS, TITLES[lang], "E03", NOTES[lang], intervals=intervals,
                                  interval_kind=kind, lang=lang)


def band_summary():
    years = np.arange(2015, 2024)
    median = 100 + 3.0 * (years - 2015)
    return pd.DataFrame({"year": years, "nominal": median + 0.5, "median": median,
                         "q05": median - 4 - (years - 2015), "q95": median + 3 + (years - 2015)})


def bands_fig(lang="zh"):
    return plots.plot_uncertainty_bands(band_summary(), TITLES[lang], lang=lang, note=NOTES[lang])


def entity_summary():
    nominal = np.linspace(80, 20, len(ENTITIES))
    return pd.DataFrame({"entity": ENTITIES[::-1], "nominal": nominal, "median": nominal - 1,
                         "q05": nominal - 8, "q95": nominal + 6})


def entity_bands_fig(lang="zh"):
    return plots.plot_uncertainty_bands(entity_summary(), TITLES[lang], lang=lang, note=NOTES[lang])


SOBOL = pd.DataFrame({"input": ["weights", "normalisation", "aggregation", "outliers"],
                      "S1": [0.15, 0.45, 0.02, 0.20], "ST": [0.20, 0.60, 0.05, 0.30]})
SOBOL = SOBOL.assign(S1_low=SOBOL["S1"] - 0.05, S1_high=SOBOL["S1"] + 0.04, ST_low=SOBOL["ST"] - 0.06,
                     ST_high=SOBOL["ST"] + 0.05)
INPUTS = {"zh": {"weights": "权重", "normalisation": "标准化方法", "aggregation": "加总方法", "outliers": "异常值处理"},
          "en": {"weights": "weights", "normalisation": "normalisation", "aggregation": "aggregation",
                 "outliers": "outlier treatment"}}


def sobol_fig(lang="zh", indices=SOBOL):
    return plots.plot_sobol(indices, TITLES[lang], lang=lang, note=NOTES[lang], names=INPUTS[lang])


def rank_shifts_fig(lang="zh"):
    nominal = np.arange(1, len(ENTITIES) + 1)
    ranks = pd.DataFrame({"nominal": nominal, "geometric": np.roll(nominal, 1), "zscore": nominal[::-1]},
                         index=ENTITIES)
    return plots.plot_rank_shifts(ranks, TITLES[lang], NOTES[lang], lang=lang)


FIGURES = [line_fig, growth_fig, radar_fig, waterfall_fig, heatmap_fig, framework_fig, ranked_fig, bands_fig,
           entity_bands_fig, sobol_fig, rank_shifts_fig]
NEW = [growth_fig, framework_fig, ranked_fig, bands_fig, entity_bands_fig, sobol_fig]


def texts(fig) -> list[Text]:
    fig.draw_without_rendering()
    return fig.findobj(lambda a: isinstance(a, Text) and a.get_visible() and a.get_text().strip())


def footnote(fig) -> Text:
    [note] = [t for t in fig.texts if t.get_text() == fig.get_supxlabel()]
    return note


# --- fonts ----------------------------------------------------------------------------------------

@pytest.mark.slow  # whole figures in every format, seconds each
@pytest.mark.parametrize("make", FIGURES)
def test_chinese_renders_with_cjk_font_and_no_missing_glyph(make, tmp_path):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Glyph .* missing")
        fig = make()
        families = plots.resolved_font_families(fig)
        plots.save_figure(fig, tmp_path / "fig")  # every renderer, under the filter
    assert CJK in families
    assert families <= {CJK}, f"some characters fell back: {families}"


def test_fallback_is_detected_when_the_cjk_font_is_not_first():
    # The check above must be able to fail: with DejaVu alone, Chinese is tofu and both signals fire.
    with mpl.rc_context({"font.family": ["DejaVu Sans"], "font.sans-serif": ["DejaVu Sans"]}):
        fig, ax = plt.subplots()
        ax.set_title("综合指数")
        with pytest.warns(UserWarning, match="Glyph .* missing"):
            assert "<missing>" in plots.resolved_font_families(fig)


def embedded_fonts(pdf: Path) -> set[str]:
    """Names of the fonts embedded in a PDF: a /FontName whose descriptor carries a font file."""
    data = pdf.read_bytes()
    assert b"/FontFile" in data or not re.search(rb"/FontName", data)
    return {m.decode() for m in re.findall(rb"/FontName\s*/(?:[A-Z]{6}\+)?([\w-]+)", data)}


def test_chinese_pdf_embeds_the_cjk_font_and_a_latin_font_pdf_does_not(tmp_path):
    [pdf] = plots.save_figure(waterfall_fig(), tmp_path / "zh", ("pdf",))
    assert any(name.startswith("NotoSansCJK") for name in embedded_fonts(pdf))
    with mpl.rc_context({"font.family": ["DejaVu Sans"]}):  # the check must be able to fail
        fig, ax = plt.subplots()
        ax.set_title("Composite index")
        [latin] = plots.save_figure(fig, tmp_path / "en", ("pdf",))
    assert embedded_fonts(latin) and not any(n.startswith("NotoSansCJK") for n in embedded_fonts(latin))


def embedded_font_files(pdf: Path) -> list[TTFont]:
    """The font programs embedded in a PDF (its Flate-compressed streams that hold a TrueType or CFF font)."""
    fonts = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf.read_bytes(), flags=re.S):
        try:
            data = zlib.decompress(stream)
        except zlib.error:
            continue
        if data[:4] in (b"\x00\x01\x00\x00", b"OTTO", b"true"):
            fonts.append(TTFont(io.BytesIO(data)))
    return fonts


def test_pdf_fonts_are_embedded_without_layout_tables_and_the_text_stays_searchable(tmp_path):
    from fontTools.subset import Options

    defaults = Options().drop_tables
    fig = plots.plot_growth(pd.Series([3.0, 1.0], index=["四川", "Beijing"]), {}, {}, "Growth by province")
    [pdf] = plots.save_figure(fig, tmp_path / "mixed", ("pdf",))
    fonts = embedded_font_files(pdf)
    assert len(fonts) >= 2  # DejaVu Sans and Noto Sans CJK
    for font in fonts:
        assert not {"GSUB", "GPOS", "GDEF"} & set(font.keys()) and {"glyf", "CFF "} & set(font.keys())
        if "CFF " in font:  # subroutines inlined: none left to prune
            cff = font["CFF "].cff
            assert not len(cff.GlobalSubrs) and all(not getattr(fd.Private, "Subrs", None)
                                                    for fd in getattr(cff.topDictIndex[0], "FDArray", []))
    text = pdfium.PdfDocument(pdf)[0].get_textpage().get_text_range()
    assert all(word in text for word in ("四川", "Beijing", "Growth by province"))
    assert Options().drop_tables == defaults and not Options().desubroutinize  # fontTools is left as it was
    assert _backend_pdf_ps.get_glyphs_subset is MAKE_SUBSET  # and so is matplotlib


def mixed_pdf(folder: Path) -> bytes:
    fig = plots.plot_growth(pd.Series([3.0, 1.0], index=["四川", "Beijing"]), {}, {}, "各维度变化 Growth")
    return plots.save_figure(fig, folder / "mixed", ("pdf",))[0].read_bytes()


def test_a_font_subset_made_once_is_read_from_the_cache_and_gives_the_same_pdf(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.FONT_CACHE_ENV, str(tmp_path / "cache"))
    made = mixed_pdf(tmp_path / "made")
    stored = sorted((tmp_path / "cache").glob("*.subset"))
    assert len(stored) >= 2  # Noto Sans CJK and DejaVu Sans

    def refuse(*_):
        raise AssertionError("a subset was made again although the cache has it")

    monkeypatch.setattr(_backend_pdf_ps, "get_glyphs_subset", refuse)
    assert mixed_pdf(tmp_path / "cached") == made
    assert sorted((tmp_path / "cache").glob("*.subset")) == stored


def test_a_damaged_or_unwritable_font_cache_still_gives_the_same_pdf(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.FONT_CACHE_ENV, str(tmp_path / "cache"))
    made = mixed_pdf(tmp_path / "made")
    stored = sorted((tmp_path / "cache").glob("*.subset"))
    for path in stored:  # one cut short, the others with a byte changed: each is made again
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2] if path == stored[0] else data[:-1] + bytes([data[-1] ^ 1]))
    assert mixed_pdf(tmp_path / "again") == made
    assert {p: p.read_bytes() for p in stored} == {p: p.read_bytes() for p in sorted((tmp_path / "cache").glob("*"))}
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder")
    monkeypatch.setenv(paths.FONT_CACHE_ENV, str(blocked / "cache"))
    with pytest.warns(UserWarning, match=r"font subset cache .*a file/cache cannot be written"):
        assert mixed_pdf(tmp_path / "uncached") == made


def test_the_font_cache_keeps_the_newest_entries(tmp_path, monkeypatch):
    monkeypatch.setattr(pdf_fonts, "MAX_ENTRIES", 3)
    for age in range(5):
        path = tmp_path / f"{age}.subset"
        path.write_bytes(b"x")
        os.utime(path, ns=(10**18 + age, 10**18 + age))
    pdf_fonts._prune(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2.subset", "3.subset", "4.subset"]


def test_english_figures_draw_latin_with_dejavu_and_chinese_names_with_the_cjk_font(tmp_path):
    """English text with DejaVu Sans, so that an English PDF embeds (and parses) no CJK font; a Chinese name on an
    English figure (the provinces) falls back to Noto Sans CJK glyph by glyph instead of being tofu."""
    plots.set_theme("en")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Glyph .* missing")
        latin = growth_fig("en")
        assert plots.resolved_font_families(latin) == {"DejaVu Sans"}
        [pdf] = plots.save_figure(latin, tmp_path / "latin", ("pdf",))
        mixed = plots.plot_growth(pd.Series([3.0, 1.0], index=["四川", "北京"]), {}, {}, "Growth by province")
        assert plots.resolved_font_families(mixed) == {"DejaVu Sans", CJK}
        [both] = plots.save_figure(mixed, tmp_path / "mixed", ("png", "pdf"))[1:]
    assert not any(n.startswith("NotoSansCJK") for n in embedded_fonts(pdf))
    assert any(n.startswith("NotoSansCJK") for n in embedded_fonts(both)) and "DejaVuSans" in embedded_fonts(both)


@pytest.mark.parametrize("make", NEW + [rank_shifts_fig])
def test_new_figures_render_in_both_languages_with_no_english_in_the_chinese_one(make, tmp_path):
    # Codes (entities, method sets) and the proper name stay as they are.
    codes = set(CODES) | set(ENTITIES) | {"geometric", "zscore", "S1", "ST", "Sobol"}
    words = {}
    for lang in ("en", "zh"):
        plots.set_theme(lang)
        fig = make(lang=lang)
        words[lang] = {w for t in texts(fig) for w in re.findall(r"[A-Za-z][A-Za-z0-9]*", t.get_text())} - codes
        assert plots.save_figure(fig, tmp_path / lang, ("png",))[0].stat().st_size > 0
    assert words["zh"] == set(), f"English left in the Chinese figure: {words['zh']}"
    assert len(words["en"]) > 3


def test_rank_shifts_speaks_the_language_asked_for():
    labels = [t.get_text() for t in texts(rank_shifts_fig("zh"))]
    assert plots.TEXT["rank"]["zh"] in labels and plots.TEXT["nominal"]["zh"] in labels


# --- files ----------------------------------------------------------------------------------------

@pytest.mark.slow  # whole figures in every format, seconds each
def test_save_twice_is_byte_identical_with_caption(tmp_path):
    for make in (line_fig, framework_fig, sobol_fig):
        first = plots.save_figure(make(), tmp_path / "a" / make.__name__, caption="图1 综合指数")
        second = plots.save_figure(make(), tmp_path / "b" / make.__name__, caption="图1 综合指数")
        assert [p.name for p in first] == [f"{make.__name__}.{ext}" for ext in ("png", "svg", "pdf", "caption.txt")]
        for a, b in zip(first, second):
            assert a.read_bytes() == b.read_bytes(), a.name
    svg = first[1].read_text()
    assert "<dc:date>" not in svg and "<text" not in svg  # no timestamp; glyphs drawn as outlines
    assert b"CreationDate" not in first[2].read_bytes()


def test_caption_file_is_utf8_text(tmp_path):
    caption = "CDHT国际化指数及其5个维度，2016—2023年（2018年 = 100）。示意数据。"
    paths = plots.save_figure(radar_fig(), tmp_path / "radar_zh", ("png",), caption=caption)
    assert paths[-1] == tmp_path / "radar_zh.caption.txt"
    assert paths[-1].read_bytes() == (caption + "\n").encode("utf-8")


@pytest.mark.slow  # whole figures in every format, seconds each
def test_reruns_in_new_processes_are_byte_identical(tmp_path):
    """A pipeline rerun is a new interpreter: hash seeds and ids must not leak into the files."""
    script = ("import sys, pandas as pd; from pathlib import Path; from zoneindex import plots\n"
              "plots.set_theme('zh')\n"
              "fig = plots.plot_waterfall(pd.Series([1.5, -0.5], index=['A', 'B']), 100, {'A': '经济', 'B': '社会'},"
              " plots.dimension_colours(['A', 'B']), '标题', '示意数据')\n"
              "plots.save_figure(fig, Path(sys.argv[1]) / 'wf', caption='说明')\n")
    src = str(Path(plots.__file__).resolve().parents[2])  # plots/__init__.py -> src
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": src}
        env.pop("SOURCE_DATE_EPOCH", None)  # the fixed dates must come from save_figure itself
        subprocess.run([sys.executable, "-c", script, str(tmp_path / seed)], check=True, env=env)
    for ext in ("png", "svg", "pdf", "caption.txt"):
        assert (tmp_path / "1" / f"wf.{ext}").read_bytes() == (tmp_path / "2" / f"wf.{ext}").read_bytes(), ext


def test_png_is_300_dpi_and_folder_is_created_and_figure_closed(tmp_path):
    fig = radar_fig()
    paths = plots.save_figure(fig, tmp_path / "deep" / "er" / "radar.v1")
    assert paths == [tmp_path / "deep" / "er" / f"radar.v1.{ext}" for ext in ("png", "svg", "pdf")]
    assert not plt.fignum_exists(fig.number)
    with Image.open(paths[0]) as png:
        assert png.info["dpi"] == pytest.approx((300, 300), abs=0.01)


def test_unknown_format_is_refused_before_writing(tmp_path):
    with pytest.raises(InputError, match="unsupported figure format"):
        plots.save_figure(line_fig(), tmp_path / "x", ("png", "jpg"))
    assert not list(tmp_path.iterdir())


# --- legible at print size -------------------------------------------------------------------------

COLUMN_CM, PAGE_CM = 8.5, 17.0


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("make", FIGURES)
def test_text_is_at_least_7_pt_at_print_size_and_nothing_sticks_out(make, lang, tmp_path):
    plots.set_theme(lang)
    fig = make(lang=lang)
    smallest = min(t.get_fontsize() for t in texts(fig))
    sticks_out = fig.get_tightbbox().padded(-0.01).extents - fig.bbox_inches.extents
    [png] = plots.save_figure(fig, tmp_path / "f", ("png",))
    with Image.open(png) as image:
        width_cm = image.width / 300 * 2.54
    # Column figures print at 8.5 cm, the others at their own width, at most the page: as drawn.
    assert width_cm <= COLUMN_CM + 0.05 or make in (heatmap_fig, framework_fig) and width_cm <= PAGE_CM + 0.05
    assert smallest >= 7.0
    assert sticks_out[0] >= 0 and sticks_out[1] >= 0 and sticks_out[2] <= 0 and sticks_out[3] <= 0


def test_title_and_note_wrap_at_the_figure_width():
    fig = plots.plot_growth(pd.Series([1.0, 2.0], index=CODES[1:3]), ZH, COLOURS, "很长的标题" * 12, NOTE)
    fig.draw_without_rendering()
    assert "\n" in fig.get_suptitle() and plots.figure_title(fig) == "很长的标题" * 12
    assert plot_text.unwrap("Composite index of\nthe zone") == "Composite index of the zone"


@pytest.mark.parametrize("make", FIGURES)
def test_note_is_wrapped_inside_the_figure_and_below_everything(make):
    fig = make()
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    note = footnote(fig)
    assert note.get_text().replace("\n", "") == NOTE and "\n" in note.get_text()
    box = note.get_window_extent(renderer)
    assert 0 <= box.x0 and box.x1 <= fig.bbox.x1
    # Tight boxes include tick labels, titles and the legend: all must sit above the footnote.
    assert box.y1 <= min(ax.get_tightbbox(renderer).y0 for ax in fig.axes if ax.get_visible()) + 1


# --- the numbers on the figures --------------------------------------------------------------------

@pytest.mark.parametrize("steps", [[3.2, -1.4, 2.1], [-2.0, -0.5, 1.0]])
def test_waterfall_bars_step_from_start_and_total_ends_at_start_plus_sum(steps):
    contributions = pd.Series(steps, index=CODES[1:])
    ax = waterfall_fig(contributions, start=100.0).axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == len(steps) + 1
    ends = np.array([b.get_x() + b.get_width() for b in bars])
    starts = np.array([b.get_x() for b in bars])
    cumulative = 100.0 + np.cumsum(steps)
    np.testing.assert_allclose(ends[:-1], cumulative)
    np.testing.assert_allclose(starts[:-1], np.append(100.0, cumulative[:-1]))
    assert ends[-1] == pytest.approx(100.0 + sum(steps)) and starts[-1] == pytest.approx(100.0)
    printed = [t.get_text() for t in ax.texts]
    assert f"{100 + sum(steps):.1f}" in printed and f"{steps[1]:+.1f}" in printed
    ax.figure.draw_without_rendering()
    low, high = ax.get_xlim()
    assert low < min(100.0, *cumulative) and high > max(100.0, *cumulative)  # labels of extreme bars stay inside


def test_growth_bars_are_sorted_with_the_index_black():
    ax = growth_fig().axes[0]
    bars = sorted(ax.patches, key=lambda b: b.get_y())  # top of the chart first (inverted y axis)
    widths = [b.get_width() for b in bars]
    assert widths == sorted(widths, reverse=True) == [30.2, 12.0, 9.1, -3.5]
    colours = [mpl.colors.to_hex(b.get_facecolor()) for b in bars]
    assert colours == [COLOURS["SOC"].lower(), plots.INDEX_COLOUR, COLOURS["ENV"].lower(), COLOURS["ECO"].lower()]
    assert [t.get_text() for t in ax.texts] == ["+30.2%", "+12.0%", "+9.1%", "-3.5%"]


def test_dimension_colours_are_stable_distinct_and_positional():
    five = plots.dimension_colours(list("abcde"))
    assert five == plots.dimension_colours(list("abcde"))
    assert len(set(five.values())) == 5 and plots.INDEX_COLOUR not in five.values()
    assert plots.dimension_colours(list("abc")) == {k: five[k] for k in "abc"}
    with pytest.raises(InputError):
        plots.dimension_colours(["a", "a"])
    many = plots.dimension_colours([str(i) for i in range(40)])   # any number of dimensions gets distinct colours
    assert len(set(many.values())) == 40 and plots.INDEX_COLOUR not in many.values()
    assert list(many.values())[:len(plots.PALETTE)] == plots.PALETTE


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


def shown_labels(labels) -> list[Text]:
    return [t for t in labels if t.get_visible() and t.get_text()]


def overlapping(labels) -> list[tuple[str, str]]:
    boxes = [(t.get_text(), t.get_window_extent()) for t in labels]
    return [(a, b) for i, (a, box) in enumerate(boxes) for b, other in boxes[i + 1:] if box.overlaps(other)]


def test_heatmap_keeps_every_row_label():
    ax = heatmap_fig(rows=40).axes[0]
    assert len(shown_labels(ax.get_yticklabels())) == 40


@pytest.mark.parametrize("rows, years", [(4, range(1990, 2023)), (36, range(2016, 2024)), (12, range(2015, 2024))])
def test_heatmap_column_labels_never_overlap(rows, years):
    fig = heatmap_fig(rows=rows, years=years)
    fig.draw_without_rendering()
    labels = shown_labels(fig.axes[0].get_xticklabels())
    assert not overlapping(labels)
    shown = [int(t.get_text()) for t in labels]
    assert shown == list(years) or all(y % 5 == 0 for y in shown) or all(y % 2 == 0 for y in shown)
    assert len(shown) >= 4


def test_heatmap_writes_values_only_where_they_fit():
    matrix = pd.DataFrame([[101.0, 99.0, 120.0], [87.0, 100.0, 140.0]], index=["经济", "社会"], columns=[2021, 2022, 2023])
    ax = plots.plot_heatmap(matrix, "t").axes[0]
    assert sorted(t.get_text() for t in ax.texts) == sorted(f"{v:.0f}" for v in matrix.to_numpy().ravel())
    assert not heatmap_fig(rows=4, years=range(1990, 2023)).axes[0].texts  # 33 columns: too narrow for numbers


def test_framework_shows_every_node_with_its_effective_weight():
    weights, names = framework_table()
    fig = plots.plot_framework(weights, names["zh"], COLOURS, "t")
    ax = fig.axes[0]
    drawn = [plot_text.unwrap(t.get_text()) for t in texts(fig)]
    assert all(names["zh"][code] in drawn for code in weights["code"])  # 1 + 3 + 6 + 36 nodes, 4 levels
    bars = [b for b in ax.patches if b.get_visible()]
    assert len(bars) == len(weights) - 1  # every node but the index, which is 100 %
    expected = 100 * weights["effective_weight"].iloc[1:].to_numpy()
    assert sorted(b.get_width() for b in bars) == pytest.approx(sorted(expected))
    assert f"{100 / 3 / 2 / 6:.3g}%" in drawn and f"{100 / 3:.3g}%" in drawn
    # An indicator's bar has its dimension's colour (lighter), an aggregate's the full colour.
    by_y = {round(b.get_y() + b.get_height() / 2, 3): b for b in bars}
    rows = [t for t in ax.texts if plot_text.unwrap(t.get_text()) in (names["zh"]["SOC1_0"], names["zh"]["SOC"])]
    colours = {plot_text.unwrap(t.get_text()): by_y[round(t.xy[1], 3)].get_facecolor() for t in rows}
    assert mpl.colors.to_hex(colours[names["zh"]["SOC"]]) == COLOURS["SOC"].lower()
    assert colours[names["zh"]["SOC1_0"]][:3] == pytest.approx(mpl.colors.to_rgb(COLOURS["SOC"]))
    assert colours[names["zh"]["SOC1_0"]][3] < 1


def whisker_ends(ax) -> list[float]:
    """Left and right ends of each whisker, flat, top row first."""
    [lines] = [c for c in ax.collections if isinstance(c, LineCollection)]
    return [x for seg in lines.get_segments() for x in (seg[0][0], seg[1][0])]


def test_ranked_bars_draw_score_intervals_over_the_bar_ends_in_rank_order():
    points, total = totals()
    ax = ranked_fig(kind="score").axes[0]
    order = total.sort_values(ascending=False)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(order.index)
    assert whisker_ends(ax) == pytest.approx([x for v in order for x in (v - 3, v + 2)])


def test_ranked_bars_draw_rank_intervals_in_their_own_panel():
    fig = ranked_fig(kind="rank")
    bars, panel = fig.axes[:2]
    assert not [c for c in bars.collections if isinstance(c, LineCollection)]
    assert panel.get_xlabel() == plots.TEXT["rank_band"]["zh"]
    rank = totals()[1].rank(ascending=False).sort_values()
    assert whisker_ends(panel) == pytest.approx([x for r in rank for x in (max(r - 2, 1), r + 1)])


def test_uncertainty_band_spans_q05_to_q95_and_contains_the_median_line():
    summary = band_summary()
    ax = bands_fig().axes[0]
    [band] = [c for c in ax.collections if isinstance(c, PolyCollection)]
    [median] = [ln for ln in ax.lines if ln.get_label() == plots.TEXT["median"]["zh"]]
    path = band.get_paths()[0]
    points = np.column_stack(median.get_data())
    points[[0, -1], 0] += [0.01, -0.01]  # the first and last points lie on the band's edge: test just inside
    assert len(points) == len(summary) and path.contains_points(points).all()
    above = np.column_stack([summary["year"], summary["q95"] + 0.5])
    below = np.column_stack([summary["year"], summary["q05"] - 0.5])
    assert not path.contains_points(above).any() and not path.contains_points(below).any()
    nominal = [ln for ln in ax.lines if ln.get_label() == plots.TEXT["nominal"]["zh"]]
    assert nominal and list(nominal[0].get_ydata()) == list(summary["nominal"])


def test_uncertainty_by_entity_is_sorted_with_whiskers_from_q05_to_q95():
    summary = entity_summary()
    ax = entity_bands_fig().axes[0]
    ordered = summary.sort_values("nominal", ascending=False)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(ordered["entity"])
    assert whisker_ends(ax) == pytest.approx([x for lo, hi in zip(ordered["q05"], ordered["q95"]) for x in (lo, hi)])


def test_uncertainty_summary_without_its_columns_is_refused():
    with pytest.raises(InputError, match="q95"):
        plots.plot_uncertainty_bands(band_summary().drop(columns="q95"), "t")


@pytest.mark.parametrize("suffixes", [("low", "high"), ("lo", "hi")])
def test_sobol_bars_are_sorted_by_total_index_with_both_indices_and_whiskers(suffixes):
    indices = SOBOL.rename(columns=lambda c: c.replace("_low", f"_{suffixes[0]}").replace("_high", f"_{suffixes[1]}"))
    ax = sobol_fig(indices=indices).axes[0]
    order = SOBOL.sort_values("ST", ascending=False)
    assert [t.get_text() for t in ax.get_yticklabels()] == [INPUTS["zh"][i] for i in order["input"]]
    by_series = {}
    for bar in ax.patches:
        by_series.setdefault(bar.get_facecolor(), []).append((bar.get_y(), bar.get_width()))
    assert len(by_series) == 2
    widths = {tuple(w for _, w in sorted(bars)) for bars in by_series.values()}
    assert widths == {tuple(order["ST"]), tuple(order["S1"])}  # top to bottom: largest ST first
    caps = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert sum(len(c.get_segments()) for c in caps) == 2 * len(SOBOL)


def test_unknown_language_is_refused():
    with pytest.raises(InputError):
        plots.set_theme("fr")


# --- the visualize stage ----------------------------------------------------------------------------

class FakeRun:
    """What edition_figures reads from a run: the study, the stage tables, the figures folder, the language."""

    def __init__(self, folder: Path, lang: str, years=range(2015, 2021), base_year: int | None = 2015):
        fw = tree([[1.0, 1.0], [1.0, 2.0], [1.0]])
        self.study = SimpleNamespace(framework=fw, base_year=base_year, config={"focus_entity": "Z1"},
                                     methods={"aggregation": {"method": "arithmetic"}, "rebase": False})
        self.lang, self.out = lang, SimpleNamespace(figures=folder)
        self.earlier = None  # the figures folder of the edition this run replaces
        level = fw.table["level"]
        scores = pd.DataFrame([(e, y, c, level[c], 100 + (k + 1) * (y - 2015) + 5 * i, True)
                               for i, e in enumerate(["Z1", "Z2", "Z3"]) for y in years
                               for k, c in enumerate(fw.codes)],
                              columns=["entity", "year", "code", "level", "value", "illustrative"])
        effective = fw.effective_weights()
        contributions = scores.assign(to_index=lambda s: (s["value"] - 100) * s["code"].map(effective))
        self.tables = {"scores": scores, "contributions": contributions,
                       "weights": fw.table[["code", "level", "parent", "weight"]].assign(
                           relative_weight=fw.relative_weights(), effective_weight=effective)}

    def has(self, name: str) -> bool:
        return name in self.tables

    def earlier_figures(self) -> Path | None:
        return self.earlier

    def read(self, name: str) -> pd.DataFrame:
        return self.tables[name].copy()


class FakeStagedRun(FakeRun):
    """A FakeRun whose tables are files, as a run's are: drawing ahead checks their digests."""

    def __init__(self, folder: Path, lang: str, **options):
        super().__init__(folder / "figures", lang, **options)
        self.processed = folder / "processed"
        self.processed.mkdir(parents=True)
        for name in self.tables:
            self.write(name)

    def table_path(self, name: str) -> Path:
        return self.processed / f"{name}.csv"

    def write(self, name: str) -> None:
        self.tables[name].to_csv(self.table_path(name), index=False)


def figure_files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow  # four figure sets
def test_figures_drawn_ahead_are_the_figures_and_are_taken_only_while_their_tables_are_unchanged(tmp_path):
    plain = FakeStagedRun(tmp_path / "plain", "en")
    figures.edition_figures(plain, languages=("en", "zh"))
    ahead = FakeStagedRun(tmp_path / "ahead", "en")
    figures.draw_ahead(ahead)
    assert {key.split(" ")[1] for key in workers._AHEAD if str(ahead.out.figures) in key} == {
        f"{name}_{lang}" for lang in ("en", "zh") for name in ("index_over_time", "growth", "radar", "waterfall",
                                                                "heatmap", "framework")}  # no ranked bars: need ranks
    assert set(figures.edition_figures(ahead)["lang"]) == {"en"}  # the visualize notebook: the run's language
    figures.draw_ahead(ahead, languages=("zh",), background=False)  # what waits moves to every worker
    figures.edition_figures(ahead, languages=("zh",))
    assert not workers._AHEAD and figure_files(ahead.out.figures) == figure_files(plain.out.figures)

    changed = FakeStagedRun(tmp_path / "changed", "en")
    figures.draw_ahead(changed, languages=("en",))
    for run in (changed, expected := FakeStagedRun(tmp_path / "expected", "en")):
        run.tables["scores"]["value"] += 10.0 * (run.tables["scores"]["entity"] == "Z1")
        run.write("scores")
    figures.edition_figures(changed)
    figures.edition_figures(expected)
    assert not workers._AHEAD and figure_files(changed.out.figures) == figure_files(expected.out.figures)
    assert figure_files(changed.out.figures)["heatmap_en.png"] != figure_files(ahead.out.figures)["heatmap_en.png"]


@pytest.mark.slow  # whole figures in every format, seconds each
def test_edition_draws_the_full_set_in_the_run_language_with_captions(tmp_path):
    saved = figures.edition_figures(FakeRun(tmp_path, "zh"))
    assert set(saved["lang"]) == {"zh"}
    assert list(saved["figure"]) == ["index_over_time", "growth", "radar", "waterfall", "heatmap", "ranked_bars",
                                     "framework"]
    for row in saved.itertuples():
        for ext in ("png", "svg", "pdf", "caption.txt"):
            assert (tmp_path / f"{row.figure}_zh.{ext}").is_file()
        caption = (tmp_path / f"{row.figure}_zh.caption.txt").read_text(encoding="utf-8")
        assert caption.strip() == row.caption and figures.ILLUSTRATIVE_NOTE["zh"] in caption
        assert not set(re.findall(r"[A-Za-z][A-Za-z0-9]*", caption + row.title)) - {"Z1"}, caption  # codes only
    captions = saved.set_index("figure")["caption"]
    assert "2015—2020年" in captions["index_over_time"] and "2015—2020" in captions["waterfall"]
    assert "2020年" in captions["ranked_bars"] and "3个主体" in captions["ranked_bars"]


@pytest.mark.slow  # whole figures in every format, seconds each
def test_edition_draws_both_languages_when_asked_and_no_note_without_illustrative_data(tmp_path):
    run = FakeRun(tmp_path, "zh", base_year=None)
    run.tables["scores"]["illustrative"] = False
    saved = figures.edition_figures(run, languages=("en", "zh"))
    assert set(saved["lang"]) == {"en", "zh"} and "waterfall" not in set(saved["figure"])
    en = saved[saved["lang"] == "en"].set_index("figure")["caption"]
    assert en["growth"].startswith("Change of each dimension of Index for Z1 from 2015 to 2020")
    assert not any(figures.ILLUSTRATIVE_NOTE[lang] in c for lang in ("en", "zh") for c in saved["caption"])
    assert sorted(p.name for p in tmp_path.glob("framework_*")) == [
        f"framework_{lang}.{ext}" for lang in ("en", "zh") for ext in ("caption.txt", "pdf", "png", "svg")]


@pytest.mark.slow  # whole figures in every format, seconds each
def test_edition_of_a_cross_section_gets_ranked_bars_radar_against_the_median_and_entity_heatmap(tmp_path):
    saved = figures.edition_figures(FakeRun(tmp_path, "en", years=[2020], base_year=None))
    assert list(saved["figure"]) == ["radar", "heatmap", "ranked_bars", "framework"]
    assert "median of all 3 entities" in saved.set_index("figure").at["radar", "caption"]


def staged_edition(root: Path, replaces: Path | None = None) -> FakeRun:
    """A FakeRun writing the edition of the out-root ``root``, replacing that of the out-root ``replaces``."""
    run = FakeRun(paths.run_paths("fake", 2020, root).figures, "en")
    run.earlier = replaces and paths.run_paths("fake", 2020, replaces).figures
    return run


@pytest.mark.slow  # a figure set and one figure again
def test_a_run_replacing_an_edition_copies_each_figure_whose_record_and_files_still_match(tmp_path, monkeypatch):
    first = staged_edition(tmp_path / "first")
    drawn = figures.edition_figures(first)
    assert not drawn["reused"].any()
    old = first.out.figures
    records = sorted(p.name for p in (old / figure_reuse.RECORDS).iterdir())
    assert records == sorted(f"{name}_en.json" for name in drawn["figure"])
    as_drawn = figure_files(old)
    # a figure is copied, not drawn: one whose file was replaced along with its record comes over as it is now
    radar = old / figure_reuse.RECORDS / "radar_en.json"
    record = json.loads(radar.read_text(encoding="utf-8"))
    (old / "radar_en.png").write_bytes(b"replaced")
    record["files"]["radar_en.png"] = hashlib.sha256(b"replaced").hexdigest()
    radar.write_text(json.dumps(record), encoding="utf-8")
    # a figure with a file edited since its record was written is drawn again
    (old / "heatmap_en.svg").write_bytes(as_drawn["heatmap_en.svg"] + b"<!-- edited -->")

    again = staged_edition(tmp_path / "again", replaces=tmp_path / "first")
    asked, run_all = [], workers.run_all
    monkeypatch.setattr(workers, "run_all", lambda tasks: asked.append(len(tasks)) or run_all(tasks))
    saved = figures.edition_figures(again)
    assert asked == [1]  # the figures taken over are copied before the workers are asked: only one is drawn
    assert dict(zip(saved["figure"], saved["reused"])) == {name: name != "heatmap" for name in drawn["figure"]}
    pd.testing.assert_frame_equal(saved.drop(columns="reused"), drawn.drop(columns="reused"))
    assert figure_files(again.out.figures) == {**as_drawn, "radar_en.png": b"replaced",
                                               f"{figure_reuse.RECORDS}/radar_en.json": radar.read_bytes()}


def test_a_figure_fingerprint_changes_with_its_tables_definition_language_and_style_and_not_with_display(tmp_path):
    run = FakeRun(tmp_path, "en")
    digest = figure_reuse.data_digest(run.tables, run.study)

    def mark(tables=run.tables, study=run.study, name="radar", lang="en"):
        return figure_reuse.fingerprint(figure_reuse.data_digest(tables, study), name, lang)

    copies = {name: table.copy() for name, table in run.tables.items()}
    assert mark() == figure_reuse.fingerprint(digest, "radar", "en") == mark(copies)
    moved = {**run.tables, "scores": run.tables["scores"].assign(value=lambda s: s["value"] + 1e-9 * (s.index == 3))}
    as_float = {**run.tables, "scores": run.tables["scores"].astype({"year": float})}
    reweighted = SimpleNamespace(**{**vars(run.study), "framework": tree([[1.0, 1.0], [1.0, 3.0], [1.0]])})
    focused = SimpleNamespace(**{**vars(run.study), "config": {"focus_entity": "Z2"}})
    rebased = SimpleNamespace(**{**vars(run.study), "methods": {**run.study.methods, "rebase": True}})
    based = SimpleNamespace(**{**vars(run.study), "base_year": 2016})
    without = {k: v for k, v in run.tables.items() if k != "contributions"}
    marks = [mark(), mark(moved), mark(as_float), mark(study=reweighted), mark(study=focused), mark(study=rebased),
             mark(study=based), mark(without), mark(name="heatmap"), mark(lang="zh")]
    with mpl.rc_context({"lines.linewidth": 2.5}):
        marks.append(mark())
    assert len(set(marks)) == len(marks)
    with mpl.rc_context({"interactive": not mpl.rcParams["interactive"], "keymap.save": ["ctrl+s"]}):
        assert mark() == marks[0]  # where a figure is shown is not what its files hold
