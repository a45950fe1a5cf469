"""The figure pack of an edition: ``figures_<lang>.zip``, every figure in both languages for a report's editors.

Each figure is there as PNG at 300 dpi and as SVG whose text is text (``svg.fonttype: none``, so that
Word, Inkscape or Illustrator edit the labels; EMF is not made: matplotlib cannot write it and Inkscape,
which can convert SVG to EMF, is a 100 MB system package for one format), without the title in the image
(the report numbers and titles its figures itself), numbered in the order of the write-up of the run's
language: ``01_index_over_time_en.png``, ``01_index_over_time_zh.svg`` … ``index.csv`` (UTF-8 with a byte
order mark, so that Excel reads the Chinese) lists each figure's number, files, captions in both languages
and source note. Every entry is dated with the edition's date and written in a fixed order, so the same
figures always give the same bytes.
"""
from __future__ import annotations

import csv
import io
import os
import zipfile
from datetime import datetime
from pathlib import Path

from zoneindex.errors import InputError

LANGUAGES = ("en", "zh")
EDITABLE = "editable"  # the subfolder beside the figures where figures.py saves the live-text SVGs
INDEX_COLUMNS = ("number", "figure", "png_en", "svg_en", "png_zh", "svg_zh", "caption_en", "caption_zh",
                 "source_note_en", "source_note_zh", "formats")
FORMATS_NOTE = "PNG 300 dpi; SVG with live text (svg.fonttype none); no EMF"
SOURCE_NOTE = {"en": "{title}, edition {year}, computed by zoneindex from the study's raw data.",
               "zh": "{title}（{year}年版），由 zoneindex 根据本研究原始数据计算。"}
ILLUSTRATIVE_SOURCE = {"en": " Illustrative data, not official statistics.", "zh": "示意数据，非官方统计。"}


def pack_figures(folder: Path, order: list[str]) -> list[str]:
    """The figures of ``folder`` that exist in both languages, those of ``order`` (names without the language)
    first and in its order, then the rest by name."""
    folder = Path(folder)
    complete = sorted(name for name in {p.stem.rsplit("_", 1)[0] for p in folder.glob("*_en.png")}
                      if all((folder / f"{name}_{lang}.png").is_file() and (folder / EDITABLE / f"{name}_{lang}.svg").is_file()
                             for lang in LANGUAGES))
    return [name for name in order if name in complete] + [name for name in complete if name not in order]


def build_figure_pack(folder: Path, out: Path, *, order: list[str], study, year: int, created: datetime) -> Path:
    """Write the figure pack of the figures saved in ``folder`` to the zip ``out``; return ``out``.

    ``order`` lists figure names (without the language) in the write-up's order; ``study`` gives the title
    and whether the data are illustrative for the source note; ``created`` dates every entry.
    """
    folder, out = Path(folder), Path(out)
    names = pack_figures(folder, order)
    if not names:
        raise InputError("no figure is saved in both languages for the figure pack", file=folder,
                         expected="<figure>_en.png, <figure>_zh.png and editable/<figure>_<lang>.svg")
    width = max(2, len(str(len(names))))
    stamp = created.timetuple()[:6]
    rows, entries = [], []
    for number, name in enumerate(names, start=1):
        row = {"number": number, "figure": name, "formats": FORMATS_NOTE}
        for lang in LANGUAGES:
            for fmt, source in (("png", folder / f"{name}_{lang}.png"), ("svg", folder / EDITABLE / f"{name}_{lang}.svg")):
                entry = f"{number:0{width}d}_{name}_{lang}.{fmt}"
                row[f"{fmt}_{lang}"] = entry
                entries.append((entry, source.read_bytes()))
            caption = folder / f"{name}_{lang}.caption.txt"
            row[f"caption_{lang}"] = caption.read_text(encoding="utf-8").strip() if caption.is_file() else ""
            note = SOURCE_NOTE[lang].format(title=study.title.get(lang, study.title["en"]), year=year)
            row[f"source_note_{lang}"] = note + (ILLUSTRATIVE_SOURCE[lang] if study.illustrative else "")
        rows.append(row)
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=INDEX_COLUMNS, lineterminator="\r\n")  # Excel's own line ends
    writer.writeheader()
    writer.writerows(rows)
    entries.insert(0, ("index.csv", ("\ufeff" + text.getvalue()).encode("utf-8")))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as pack:
            for entry, data in entries:
                info = zipfile.ZipInfo(entry, date_time=stamp)
                info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
                pack.writestr(info, data, compresslevel=6)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
