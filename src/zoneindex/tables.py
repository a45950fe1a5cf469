"""Stage tables on disk: how every stage writes its CSV tables and how any later step reads them back.

A stage table is one CSV per table under ``data/processed/<study>/<year>/`` (``RunContext.write``):
stable row order, full double precision, LF line ends. Reading it back keeps text columns as text and
treats only empty cells as missing ("NA" is Namibia's ISO code, not a missing value).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

CSV_OPTIONS = {"index": False, "lineterminator": "\n"}
TEXT_COLUMNS = ("entity", "code", "parent", "indicator", "check", "source", "flag", "unit", "note", "group")


def read_stage_table(path: Path) -> pd.DataFrame:
    """A stage table as written by RunContext.write. Only empty cells are missing ("NA" is Namibia's ISO
    code, not a missing value); text columns stay text; an empty table reads as an empty frame."""
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""],
                            dtype={column: str for column in TEXT_COLUMNS})
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    for column in TEXT_COLUMNS:
        if column in frame:
            frame[column] = frame[column].fillna("")
    return frame
