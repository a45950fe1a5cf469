"""Figures of an earlier edition, copied instead of drawn again when everything they are drawn from is
unchanged (as OWID's etl skips a step whose inputs' checksums have not changed).

Running an edition again (in the other language, or after a change that reaches no figure), or its visualize
notebook by hand, would draw every figure again, byte for byte the same (figures are deterministic:
tests/test_plots.py). Each figure a run saves gets a record beside it, ``.drawn/<figure>_<lang>.json``: a
fingerprint of what it was drawn from and the sha256 of every file saved. A figure of the earlier edition (the
one ``zoneindex run`` replaces, or the one a notebook run by hand reads: ``RunContext.earlier_figures``) is
taken over if its record has the fingerprint the new figure would have and its files are still the files
recorded (a file edited since is drawn again).

The fingerprint covers
- the data: the stage tables the figure set reads, as read, and what it reads of the study definition (the
  framework, the settings, the methods and the base year); for the validate stage's figures, the plot function
  and every argument it is called with (``call_digest``);
- the language and the style: every rc parameter once the house theme is set (a user's matplotlibrc included);
- the code: every file of the ``zoneindex`` package;
- the tools: the versions of matplotlib, seaborn, NumPy, pandas, Pillow and fontTools, and every font file
  matplotlib knows (real path, size, modification time).
A change to any of them draws the figure again.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from functools import cache, partial
from importlib.metadata import version
from pathlib import Path

import matplotlib as mpl
import pandas as pd
from matplotlib import font_manager

from zoneindex.provenance import sha256_file

RECORDS = ".drawn"  # the subfolder of an edition's figures folder that holds the records
TOOLS = ("matplotlib", "seaborn", "numpy", "pandas", "pillow", "fonttools")
# rc parameters that choose where a figure is shown, not what a saved file holds
_DISPLAY_RC = ("backend", "backend_fallback", "interactive", "toolbar")
_DISPLAY_RC_PREFIXES = ("keymap.", "webagg.")


def data_digest(frames: dict[str, pd.DataFrame | None], definition) -> str:
    """The digest of the tables a figure set is drawn from (None: not there) and of what the figures read of the
    study ``definition``: its framework, settings, methods and base year."""
    digest = hashlib.sha256()
    for name, frame in sorted(frames.items()):
        digest.update(name.encode())
        if frame is not None:
            _add_frame(digest, frame)
    digest.update(definition.framework.table.to_csv().encode())
    settings = {"config": definition.config, "methods": definition.methods, "base_year": definition.base_year}
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def call_digest(plot: partial, *texts: str) -> str:
    """The digest of a figure drawn by ``plot()`` (a plot function with every argument bound) and saved with
    ``texts`` (its caption): the function, and each argument (a table by its columns, types and values, as
    ``data_digest``; anything else by its repr). The validate stage's figures are drawn this way, from tables
    that already hold the labels they show."""
    digest = hashlib.sha256(f"{plot.func.__module__}.{plot.func.__qualname__}".encode())
    for key, value in [*enumerate(plot.args), *sorted(plot.keywords.items())]:
        digest.update(repr(key).encode())
        if isinstance(value, (pd.DataFrame, pd.Series)):
            _add_frame(digest, pd.DataFrame(value))
        else:
            digest.update(repr(value).encode())
    digest.update(repr(texts).encode())
    return digest.hexdigest()


def _add_frame(digest, frame: pd.DataFrame) -> None:
    """A table into ``digest``: its column names and types, then its index and values."""
    digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())


def fingerprint(data: str, name: str, lang: str) -> str:
    """The fingerprint of figure ``name`` in ``lang`` drawn from data of digest ``data``, with the rc parameters
    in force now (call it once the theme is set)."""
    style = sorted((key, repr(value)) for key, value in mpl.rcParams.items()
                   if key not in _DISPLAY_RC and not key.startswith(_DISPLAY_RC_PREFIXES))
    return hashlib.sha256(json.dumps([data, name, lang, style, _code_and_tools()]).encode()).hexdigest()


@cache
def _code_and_tools() -> str:
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    digest.update(repr([version(tool) for tool in TOOLS]).encode())
    for font in sorted({os.path.realpath(entry.fname) for entry in font_manager.fontManager.ttflist}):
        stat = os.stat(font) if os.path.exists(font) else None
        digest.update(repr((font, stat and stat.st_size, stat and stat.st_mtime_ns)).encode())
    return digest.hexdigest()


def reuse(earlier: Path | None, folder: Path, stem: str, mark: str) -> dict | None:
    """The figure ``stem`` (``<figure>_<lang>``) of an earlier edition's figures folder ``earlier``, copied
    into ``folder`` with its record, if that record has the fingerprint ``mark`` and its files are the ones
    recorded: the figure's row as it was saved. None (draw it) otherwise."""
    if earlier is None or not (source := earlier / RECORDS / f"{stem}.json").is_file():
        return None
    try:
        record = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("fingerprint") != mark or not all(
            (earlier / name).is_file() and sha256_file(earlier / name) == sha256
            for name, sha256 in record["files"].items()):
        return None
    for name in [*record["files"], f"{RECORDS}/{stem}.json"]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(earlier / name, folder / name)
    return record["row"]


def remember(folder: Path, stem: str, mark: str, row: dict, files: list[Path]) -> None:
    """Record the figure ``stem`` just saved in ``folder`` as ``files``, drawn with fingerprint ``mark``."""
    record = {"fingerprint": mark, "row": row, "files": {str(p.relative_to(folder)): sha256_file(p) for p in files}}
    target = Path(folder) / RECORDS / f"{stem}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
