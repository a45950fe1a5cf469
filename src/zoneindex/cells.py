"""Cells of the tidy table as every cleaning method records them: flags, the treatment log, the wide view.

The tidy long table has one row per ``entity, year, indicator`` with its ``value`` and a ';'-separated
``flag``. A method that changes a cell appends a flag and writes one row of the treatment log
(:data:`LOG_COLUMNS`: entity, year, indicator, step, method, before, after). Methods that work on whole
indicators (imputation, outlier treatment) see the table wide: (entity, year) × indicator.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from zoneindex.framework import Framework

LOG_COLUMNS = ["entity", "year", "indicator", "step", "method", "before", "after"]


def add_flag(flags: pd.Series, mask, tag: str) -> pd.Series:
    """Append ``tag`` to the ';'-separated flags of the masked rows."""
    mask = pd.Series(mask, index=flags.index)
    return flags.where(~mask, np.where(flags.eq(""), tag, flags + ";" + tag))


def log_rows(rows: pd.DataFrame, step: str, method: str, before: pd.Series) -> pd.DataFrame:
    """Treatment-log rows for the changed ``rows``: their value ``before`` the step and after it."""
    return pd.DataFrame({"entity": rows["entity"], "year": rows["year"], "indicator": rows["indicator"],
                         "step": step, "method": method, "before": before, "after": rows["value"]})


def concat_log(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The parts of a log as one table; an empty log keeps the log columns."""
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=LOG_COLUMNS)


def to_wide(tidy: pd.DataFrame, framework: Framework) -> pd.DataFrame:
    """The tidy table as (entity, year) × indicator, indicators in framework order."""
    wide = tidy.pivot(index=["entity", "year"], columns="indicator", values="value")
    return wide.reindex(columns=framework.indicators).sort_index()
