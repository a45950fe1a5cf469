"""The figure pack: every figure in both languages, untitled, PNG 300 dpi + live-text SVG, an index, same bytes."""
from __future__ import annotations

import csv
import io
import struct
import zipfile
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import pytest

from zoneindex.errors import InputError
from zoneindex.figurepack import EDITABLE, build_figure_pack, pack_figures
from zoneindex import figures as figures_module, workers
from zoneindex.figures import _saved
from zoneindex.plots import set_theme

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the headless backend)

CREATED = datetime(2024, 1, 1)
STUDY = SimpleNamespace(title={"en": "Zone index", "zh": "园区指数"}, illustrative=True)


def _draw(folder, name: str, lang: str) -> None:
    set_theme(lang)
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([2016, 2023], [100, 120])
    ax.set_ylabel({"en": "index", "zh": "指数"}[lang])
    fig.suptitle(f"TITLE-{name}-{lang}")
    _saved(fig, name, lang, folder, caption=f"caption of {name} ({lang})")


@pytest.fixture
def figures(tmp_path):
    """A figures folder as the figure sets leave it (the pack copies the files, it does not read them)."""
    (tmp_path / EDITABLE).mkdir()
    for name, langs in (("radar", ("en", "zh")), ("growth", ("en", "zh")), ("correlations", ("zh",))):
        for lang in langs:  # correlations: drawn in one language only
            (tmp_path / f"{name}_{lang}.png").write_bytes(f"PNG {name} {lang}".encode())
            (tmp_path / EDITABLE / f"{name}_{lang}.svg").write_bytes(f"SVG {name} {lang}".encode())
            (tmp_path / f"{name}_{lang}.caption.txt").write_text(f"caption of {name} ({lang})\n", encoding="utf-8")
    return tmp_path


def _png_dpi(data: bytes) -> float:
    """Dots per inch from the PNG's pHYs chunk (pixels per metre)."""
    at = data.index(b"pHYs")
    per_metre, = struct.unpack(">I", data[at + 4:at + 8])
    return per_metre * 0.0254


def test_saved_figures_lose_their_title_and_the_editable_svg_keeps_its_text(tmp_path):
    _draw(tmp_path, "radar", "zh")
    svg = (tmp_path / EDITABLE / "radar_zh.svg").read_text(encoding="utf-8")
    assert "<text" in svg and "指数" in svg  # live text, Chinese included
    assert "TITLE-radar-zh" not in svg  # the report titles the figure, not the image
    assert round(_png_dpi((tmp_path / "radar_zh.png").read_bytes())) == 300


def test_the_pack_holds_each_figure_in_both_languages_in_the_write_ups_order(figures, tmp_path):
    assert pack_figures(figures, ["growth"]) == ["growth", "radar"]  # correlations: no en version
    pack = build_figure_pack(figures, tmp_path / "figures_zh.zip", order=["growth", "radar"], study=STUDY,
                             year=2023, created=CREATED)
    with zipfile.ZipFile(pack) as archive:
        names = archive.namelist()
        assert names == ["index.csv", "01_growth_en.png", "01_growth_en.svg", "01_growth_zh.png", "01_growth_zh.svg",
                         "02_radar_en.png", "02_radar_en.svg", "02_radar_zh.png", "02_radar_zh.svg"]
        assert {info.date_time for info in archive.infolist()} == {(2024, 1, 1, 0, 0, 0)}
        assert archive.read("02_radar_zh.svg") == (figures / EDITABLE / "radar_zh.svg").read_bytes()
        raw = archive.read("index.csv")
    assert raw.startswith("\ufeff".encode("utf-8"))  # Excel reads UTF-8 only with the mark
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [(r["number"], r["figure"], r["png_zh"]) for r in rows] == [("1", "growth", "01_growth_zh.png"),
                                                                       ("2", "radar", "02_radar_zh.png")]
    assert rows[1]["caption_en"] == "caption of radar (en)" and rows[1]["caption_zh"] == "caption of radar (zh)"
    assert rows[0]["source_note_zh"] == "园区指数（2023年版），由 zoneindex 根据本研究原始数据计算。示意数据，非官方统计。"
    assert rows[0]["formats"].startswith("PNG 300 dpi; SVG with live text")


def test_the_pack_is_the_same_bytes_twice(figures, tmp_path):
    first = build_figure_pack(figures, tmp_path / "a.zip", order=[], study=STUDY, year=2023, created=CREATED)
    second = build_figure_pack(figures, tmp_path / "b.zip", order=[], study=STUDY, year=2023, created=CREATED)
    assert first.read_bytes() == second.read_bytes()


def test_no_figure_in_both_languages_is_an_error(tmp_path):
    with pytest.raises(InputError, match="both languages"):
        build_figure_pack(tmp_path, tmp_path / "p.zip", order=[], study=STUDY, year=2023, created=CREATED)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_run_packs_every_figure_of_the_edition_in_both_languages(study_run, lang):
    run = study_run("cdht", lang=lang)
    assert run.returncode == 0, run.stderr
    pack = run.out / "reports" / "cdht" / "2023" / f"figures_{lang}.zip"
    with zipfile.ZipFile(pack) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("index.csv").decode("utf-8-sig"))))
        names = set(archive.namelist())
        figures = [r["figure"] for r in rows]
        # the edition's figures and the validate stage's, whatever the run's language
        assert {"index_over_time", "growth", "radar", "waterfall", "heatmap", "framework", "uncertainty",
                "sobol"} <= set(figures)
        for row in rows:
            for column in ("png_en", "svg_en", "png_zh", "svg_zh"):
                assert row[column] in names
            assert row["caption_en"] and row["caption_zh"] and "Illustrative" in row["source_note_en"]
        assert round(_png_dpi(archive.read(rows[0]["png_zh"]))) == 300
        sobol = next(r for r in rows if r["figure"] == "sobol")
        svg = archive.read(sobol["svg_zh"]).decode("utf-8")
        assert "<text" in svg and "敏感性：Sobol指数" not in svg  # its title (the caption's start) is not drawn
        assert sobol["caption_zh"].startswith("相对基年的变化的敏感性：Sobol指数")
    html = (run.out / "reports" / "cdht" / "2023" / "methodology.html").read_text(encoding="utf-8")
    first_shown = html.index('<figure class="zi-figure" id="fig-')
    assert html[first_shown:].startswith(f'<figure class="zi-figure" id="fig-{figures[0]}"')  # the report's order


class _Framework:
    root = "IDX"

    def labels(self, lang):
        return {"IDX": {"en": "Index", "zh": "指数"}[lang], "D1": {"en": "Open", "zh": "开放"}[lang],
                "D2": {"en": "Talent", "zh": "人才"}[lang]}

    def name(self, code, lang):
        return self.labels(lang)[code]


def _validate_context(figures: Path, earlier: Path | None = None, lang: str = "zh"):
    """What the validate stage's figures read of a run: its framework, year, language, figures folder, scores
    (for the illustrative note) and the figures folder of the edition it replaces (``earlier``)."""
    import pandas as pd

    return SimpleNamespace(study=SimpleNamespace(framework=_Framework()), year=2023, lang=lang,
                           out=SimpleNamespace(figures=figures), earlier_figures=lambda: earlier,
                           read=lambda name: pd.DataFrame({"illustrative": [True]}))


def _correlations(off_diagonal: float = 0.4):
    import pandas as pd

    return pd.DataFrame([[1.0, off_diagonal], [off_diagonal, 1.0]], index=["D1", "D2"], columns=["D1", "D2"])


@pytest.mark.slow  # draws and saves two figures in four formats
def test_the_correlation_figure_is_drawn_in_both_languages_with_a_caption(tmp_path):
    ctx = _validate_context(tmp_path)
    rows = figures_module.validation_figures(ctx, correlations=_correlations())
    assert rows[["figure", "lang"]].values.tolist() == [["correlations", "zh"]]  # the write-up shows the run's
    assert (tmp_path / "correlations_en.caption.txt").read_text(encoding="utf-8") == (
        "Correlations (Pearson) between the components of Index, 2023. Illustrative data, not official statistics: "
        "values generated to demonstrate the method.\n")
    svg = (tmp_path / EDITABLE / "correlations_zh.svg").read_text(encoding="utf-8")
    assert "开放" in svg and "相关系数" not in svg  # labels as text, no title in the image
    assert pack_figures(tmp_path, []) == ["correlations"]


@pytest.mark.slow  # draws two figures in four formats, then two of them again
def test_a_validate_figure_is_taken_over_while_its_plot_call_caption_and_style_are_unchanged(tmp_path, monkeypatch):
    first = figures_module.validation_figures(_validate_context(tmp_path / "first"), correlations=_correlations())
    drawn = {p.name: p.read_bytes() for p in sorted((tmp_path / "first").rglob("*")) if p.is_file()}
    assert {"correlations_en.json", "correlations_zh.json"} <= set(drawn)  # the records (figure_reuse.RECORDS)
    asked, run_all = [], workers.run_all
    monkeypatch.setattr(workers, "run_all", lambda tasks: asked.append(len(tasks)) or run_all(tasks))
    again = figures_module.validation_figures(_validate_context(tmp_path / "again", tmp_path / "first"),
                                              correlations=_correlations())
    assert asked == [0] and again.equals(first)  # both copied, with the rows they were saved with
    assert {p.name: p.read_bytes() for p in sorted((tmp_path / "again").rglob("*")) if p.is_file()} == drawn
    # another value, language of the caption or style: drawn again
    figures_module.validation_figures(_validate_context(tmp_path / "moved", tmp_path / "first"),
                                      correlations=_correlations(0.4 + 1e-9))
    with matplotlib.rc_context({"hatch.linewidth": 2.5}):  # a style the house theme does not set
        figures_module.validation_figures(_validate_context(tmp_path / "styled", tmp_path / "first"),
                                          correlations=_correlations(), languages=("en",))
    assert asked[1:] == [2, 1]
