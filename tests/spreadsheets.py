"""Filling a data-entry workbook as a researcher would, and saving it through LibreOffice (headless soffice)."""
from __future__ import annotations

import datetime
import shutil
import subprocess
import tempfile
from pathlib import Path

import openpyxl

FILTERS = {"xlsx": "xlsx:Calc MS Excel 2007 XML", "ods": "ods", "xls": "xls:MS Excel 97"}


def soffice() -> str:
    """The LibreOffice program; scripts/ensure_system_packages.sh installs it with the project's set-up."""
    program = shutil.which("soffice") or shutil.which("libreoffice")
    assert program, "LibreOffice (soffice) is missing: bash scripts/ensure_system_packages.sh installs it"
    return program


def save_through_libreoffice(files: list[Path], fmt: str, outdir: Path) -> list[Path]:
    """Open each file in LibreOffice and save it as ``fmt`` (xlsx, ods or xls) into ``outdir``, as a user
    saving from Calc does (one soffice start for all of them, with a profile of its own)."""
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="zoneindex-lo-") as profile:
        done = subprocess.run([soffice(), f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
                               "--convert-to", FILTERS[fmt], "--outdir", str(outdir), *map(str, files)],
                              capture_output=True, text=True, timeout=600)
    saved = [outdir / f"{Path(f).stem}.{fmt}" for f in files]
    missing = [p for p in saved if not p.exists()]
    assert not missing, f"LibreOffice did not save {missing}: {done.stdout} {done.stderr}"
    return saved


def six(value: float) -> float:
    """A number as a person types it: six significant digits."""
    return float(f"{value:.6g}")


def header(sheet) -> list[str]:
    return [c.value for c in sheet[1]]


def fill_about(book, retrieved=datetime.date(2025, 3, 15)) -> None:
    for cells in book["about"].iter_rows(min_row=2):
        if cells[1].value in (None, ""):
            cells[1].value = retrieved if cells[0].value == "retrieved" else f"test {cells[0].value}"


def fill(path: Path, target: Path, growth=lambda i: 1.05, revise: int | None = None) -> dict:
    """Type a value for every row that has history (its latest earlier value × growth(i), six digits), a source,
    the about sheet; with ``revise`` = i, also a revision (× 1.1) of row i's latest history value. Returns what
    was typed: {(entity, series): value} and, under key 'revised', {(entity, series, year): (old, new)}."""
    book = openpyxl.load_workbook(path)
    sheet = book["data"]
    names = header(sheet)
    history = [name for name in names if name and name.startswith("value_")]
    typed, revised = {}, {}
    for i, row in enumerate(sheet.iter_rows(min_row=2)):
        cell = {name: row[j] for j, name in enumerate(names)}
        known = [(name, cell[name].value) for name in history if cell[name].value is not None]
        if not known:
            continue
        name, last = known[-1]
        if revise == i:
            new = six(last * 1.1)
            revised[cell["entity"].value, cell["indicator"].value, int(name[6:])] = (last, new)
            cell[name].value = last = new
        value = six(last * growth(i))
        cell["value"].value = value
        cell["source"].value = "test: the latest value, grown"
        typed[cell["entity"].value, cell["indicator"].value] = value
    fill_about(book)
    target.parent.mkdir(parents=True, exist_ok=True)
    book.save(target)
    return {"typed": typed, "revised": revised}
