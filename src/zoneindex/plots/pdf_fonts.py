"""The font subsets embedded in the PDF figures: lean, and made once per machine.

matplotlib embeds in each PDF a subset of every font it draws with (only the glyphs used), made by fontTools
with fontTools' default options. Making a subset parses the whole font: a fifth of a second for Noto Sans CJK
(65,000 glyphs) however few glyphs a figure uses, and most of the time of saving a Chinese PDF. While a PDF is
saved (``lean_subsets``):

- the subsets leave out the OpenType layout tables (GSUB, GPOS, …; a PDF viewer never reads them, as
  matplotlib has placed every glyph) and have their CFF subroutines inlined (smaller, and the unused ones need
  not be searched for);
- a subset made before, of the same font file, glyphs and options, is read from the cache instead of being
  made again: the figures of an edition are drawn again with the same labels at every run. The cache is a
  folder of small files (``<sha256 of what the subset is made from>.subset``), ``paths.font_cache()``; a file
  is written whole (under a temporary name, then renamed), one that cannot be read is made again, and the
  oldest go beyond ``MAX_ENTRIES``. The PDF is the same, byte for byte, whether its subsets came from the
  cache or not.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import fontTools
import matplotlib as mpl
from fontTools import subset as font_subset
from matplotlib.backends import _backend_pdf_ps

from zoneindex import paths

LAYOUT_TABLES = ["GSUB", "GPOS", "GDEF", "BASE", "JSTF", "MATH"]
MAX_ENTRIES = 2000  # each a few kB (a cdht edition in both languages: 24 files, 0.3 MB)


@contextmanager
def lean_subsets():
    """While a PDF is saved, matplotlib's subsetting goes through ``_subset``: the cache, and the lean options
    (matplotlib has no option of its own for either)."""
    make = _backend_pdf_ps.get_glyphs_subset
    _backend_pdf_ps.get_glyphs_subset = partial(_subset, make)
    try:
        yield
    finally:
        _backend_pdf_ps.get_glyphs_subset = make


@contextmanager
def _lean_options():
    """fontTools' default options, from which matplotlib makes its own, also drop the layout tables and inline
    the subroutines."""
    drop, init = font_subset.Options._drop_tables_default, font_subset.Options.__init__

    def lean(self, **kwargs):
        init(self, **{"desubroutinize": True, **kwargs})

    font_subset.Options._drop_tables_default, font_subset.Options.__init__ = drop + LAYOUT_TABLES, lean
    try:
        yield
    finally:
        font_subset.Options._drop_tables_default, font_subset.Options.__init__ = drop, init


class _Subset:
    """A subset as the PDF backend uses one: ``font`` (which it saves, here the bytes made before) and
    ``glyph_index_map`` (glyph number in the font -> in the subset); a context manager like matplotlib's."""

    def __init__(self, data: bytes, glyph_index_map: dict[int, int]):
        self.font, self.glyph_index_map = self, glyph_index_map
        self._data = data

    def save(self, file, **_) -> None:
        file.write(self._data)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        return False


def _subset(make, fontfile, glyphs):
    """matplotlib's ``get_glyphs_subset`` (``make``) with the lean options, through the cache."""
    glyphs = sorted(int(g) for g in glyphs)
    with _lean_options():
        path = paths.font_cache() / f"{_key(fontfile, glyphs)}.subset"
        found = _read(path)
        if found is not None:
            return found
        with make(fontfile, glyphs) as made:
            data = _backend_pdf_ps.font_as_file(made.font).getvalue()
            mapping = {int(k): int(v) for k, v in made.glyph_index_map.items()}
    _write(path, data, mapping)
    return _Subset(data, mapping)


def _key(fontfile, glyphs: list[int]) -> str:
    stat = os.stat(fontfile)
    options = font_subset.Options(glyph_names=True, recommended_glyphs=True)
    made_from = [os.fspath(fontfile), getattr(fontfile, "face_index", 0), stat.st_size, stat.st_mtime_ns, glyphs,
                 fontTools.version, mpl.__version__, sorted(options.drop_tables), options.desubroutinize]
    return hashlib.sha256(json.dumps(made_from).encode()).hexdigest()


def _read(path: Path) -> _Subset | None:
    """The subset stored at ``path``: a line of JSON (the glyph map and the sha256 of the font data), then the
    font data; None if there is none or it does not check out."""
    try:
        header, data = path.read_bytes().split(b"\n", 1)
        record = json.loads(header)
        if hashlib.sha256(data).hexdigest() != record["sha256"]:
            return None
        return _Subset(data, {int(k): v for k, v in record["glyph_index_map"].items()})
    except (OSError, ValueError, KeyError):
        return None


def _write(path: Path, data: bytes, mapping: dict[int, int]) -> None:
    header = json.dumps({"sha256": hashlib.sha256(data).hexdigest(), "glyph_index_map": mapping}).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as file:
            file.write(header + b"\n" + data)
        os.replace(file.name, path)
        _prune(path.parent)
    except OSError as error:  # the PDF is still right; the next one is only slower to save
        warnings.warn(f"the font subset cache {path.parent} cannot be written ({error}): PDF figures are saved "
                      f"without it (set ${paths.FONT_CACHE_ENV} to a folder that can be written)", stacklevel=2)


def _prune(folder: Path) -> None:
    entries = list(folder.glob("*.subset"))
    if len(entries) > MAX_ENTRIES:
        entries.sort(key=lambda p: p.stat().st_mtime_ns)
        for old in entries[:len(entries) - MAX_ENTRIES]:
            old.unlink(missing_ok=True)
