"""Outlier treatment exactly as COINr's default ``Treat()`` (JRC): skew/kurtosis check, winsorisation, log.

Reference: ``bluefoxr/COINr`` ``R/treat.R`` (v1.1.x): ``Treat.numeric``, ``winsorise``, ``log_CT``, ``skew``,
``kurt``, ``check_SkewKurt``; defaults from ``Treat.data.frame``. Per indicator (column):

1. Check: passes if ``|skew| < 2`` OR ``kurt < 3.5`` (strict inequalities, an OR: an indicator with a large
   skew but a kurtosis under 3.5 passes). A pass leaves the indicator untouched.
2. Else winsorise, one step at a time on the side the current skew points to (skew ≥ 0 → high side): every
   point equal to the current extreme is set to the next value inward, then the check is repeated, until it
   passes or ``nwin`` reaches ``winmax`` (5).
3. If it still fails, ``log_CT`` is applied to the *original* values (to the winsorised ones if
   ``combine_treat``): x' = ln(x − min(x) + 0.01·(max(x) − min(x))). The result is kept whether or not it
   passes the check afterwards.

Where COINr's check is undefined (NA: fewer than 3 values, or no spread), COINr returns the indicator
untreated, and so does this module, with a note.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from zoneindex.cells import LOG_COLUMNS, add_flag
from zoneindex.errors import InputError

# the choices of methods.outliers.method: name -> the function whose keyword arguments are its options
# (after the wide table), or None for a choice without options; defined below ``treat``
OUTLIER_METHODS: dict = {"none": None}
SKEW_THRESH = 2.0
KURT_THRESH = 3.5
WINMAX = 5


def _finite(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return x[~np.isnan(x)]


def skew(x) -> float:
    """Sample skewness with the small-sample correction (e1071 type 2, Excel SKEW); NaN ignored.

    With d = x − mean(x) over the n non-missing values:
    g1 = √n · Σd³ / (Σd²)^{3/2},  G1 = g1 · √(n(n−1)) / (n−2).
    NaN if n < 3 or all values are equal (COINr's ``skew()`` returns NA / NaN there).
    """
    x = _finite(x)
    n = len(x)
    # exact zero spread is tested directly: x − mean(x) can leave rounding residue that would give a
    # meaningless finite skew where R's mean (long double, refined) gives exact zeros and NaN
    if n < 3 or np.ptp(x) == 0:
        return np.nan
    d = x - x.mean()
    g1 = np.sqrt(n) * np.sum(d**3) / np.sum(d**2) ** 1.5
    return float(g1 * np.sqrt(n * (n - 1)) / (n - 2))


def kurt(x) -> float:
    """Sample excess kurtosis with the small-sample correction (e1071 type 2, Excel KURT); NaN ignored.

    With d = x − mean(x) over the n non-missing values and r = n·Σd⁴ / (Σd²)²:
    G2 = ((n+1)(r−3) + 6) · (n−1) / ((n−2)(n−3)).
    NaN if n < 4 or all values are equal.
    """
    x = _finite(x)
    n = len(x)
    if n < 4 or np.ptp(x) == 0:
        return np.nan
    d = x - x.mean()
    r = n * np.sum(d**4) / np.sum(d**2) ** 2
    return float(((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3)))


def check_skew_kurt(x, skew_thresh: float = SKEW_THRESH, kurt_thresh: float = KURT_THRESH
                    ) -> tuple[bool | None, float, float]:
    """COINr ``check_SkewKurt``: (pass, skew, kurt) with pass = (|skew| < skew_thresh) OR (kurt < kurt_thresh).

    R's three-valued logic is kept: a NaN statistic gives NA for its half, NA OR TRUE is TRUE, otherwise
    NA; NA is returned as None. So with 3 values (kurtosis undefined) the skew alone decides.
    """
    sk, kt = skew(x), kurt(x)
    halves = [None if np.isnan(s) else bool(c) for s, c in ((sk, abs(sk) < skew_thresh), (kt, kt < kurt_thresh))]
    if True in halves:
        return True, sk, kt
    return (None if None in halves else False), sk, kt


def _winsorise(x: np.ndarray, winmax: int, skew_thresh: float, kurt_thresh: float, force_win: bool
               ) -> tuple[np.ndarray, int, np.ndarray, bool]:
    """COINr ``winsorise`` on a vector that failed the check: (x, nwin, tags, check_defined).

    ``nwin`` is counted as COINr does, len(last imax) + len(last imin), not as the number of steps: after k
    high-side steps every treated point sits tied at the top, so the last imax holds all of them (and any
    ties). The tags likewise mark the last imax 'winhi' and the last imin 'winlo', as COINr does.
    """
    x = x.copy()
    imax = imin = np.array([], dtype=int)
    nwin, passing = 0, False
    while (not passing or force_win) and nwin < winmax:
        hi = skew(x) >= 0  # positive skew means the outliers are high
        extreme = np.nanmax(x) if hi else np.nanmin(x)
        at = np.flatnonzero(x == extreme)  # all points tied at the extreme move together
        rest = np.delete(x, at)
        x[at] = np.nanmax(rest) if hi else np.nanmin(rest)
        if hi:
            imax = at
        else:
            imin = at
        nwin = len(imax) + len(imin)
        passing = check_skew_kurt(x, skew_thresh, kurt_thresh)[0]
        if passing is None:
            # winsorising left too few distinct values to judge; COINr stops with an error (caught by
            # Treat.data.frame) or returns the untreated vector, so the caller keeps the original
            return x, nwin, np.array([], dtype=object), False
    tags = np.full(len(x), "", dtype=object)
    tags[imax] = "winhi"
    tags[imin] = "winlo"
    return x, nwin, tags, True


def log_ct(x: np.ndarray) -> np.ndarray:
    """COINr ``log_CT``: x' = ln(x − min(x) + 0.01·(max(x) − min(x))), min and max over non-NaN values."""
    lo, hi = np.nanmin(x), np.nanmax(x)
    return np.log(x - lo + 0.01 * (hi - lo))


def treat_indicator(x, winmax: int = WINMAX, skew_thresh: float = SKEW_THRESH, kurt_thresh: float = KURT_THRESH,
                    force_win: bool = False, combine_treat: bool = False
                    ) -> tuple[np.ndarray, dict, list[tuple[int, str]]]:
    """Treat one indicator as COINr ``Treat.numeric`` with its default functions; returns (treated, details, points).

    ``details`` mirrors COINr's ``Dets_Table`` (``check_SkewKurt0/1/2.*``, ``winsorise.nwin``): ``skew_0``,
    ``kurt_0``, ``pass_0`` on the input; ``nwin``, ``skew_1``, ``kurt_1``, ``pass_1`` after winsorising;
    ``log_ct``, ``skew_2``, ``kurt_2``, ``pass_2`` after the log; ``skew_after``, ``kurt_after``,
    ``pass_after`` on what is returned; ``n`` non-missing values and a ``note``. A pass is True, False or
    None (R's NA). ``points`` lists (position, 'winhi' | 'winlo' | 'log' | 'winhi+log' | 'winlo+log') for
    every treated cell. ``force_win`` only acts once the first check has failed, as in COINr (a passing
    indicator never reaches ``winsorise``). NaN stays NaN.
    """
    x = np.asarray(x, dtype=float)
    pass0, sk0, kt0 = check_skew_kurt(x, skew_thresh, kurt_thresh)
    details = dict(n=int(np.count_nonzero(~np.isnan(x))), skew_0=sk0, kurt_0=kt0, pass_0=pass0,
                   nwin=np.nan, skew_1=np.nan, kurt_1=np.nan, pass_1=None, log_ct=False,
                   skew_2=np.nan, kurt_2=np.nan, pass_2=None, note="")

    def result(values, points, note=""):
        after = check_skew_kurt(values, skew_thresh, kurt_thresh)
        details.update(skew_after=after[1], kurt_after=after[2], pass_after=after[0], note=note)
        return values, details, points

    if pass0 is None:
        reason = "fewer than 3 values" if details["n"] < 3 else "no spread"
        return result(x.copy(), [], f"{reason}: skew/kurtosis undefined, left untreated (COINr: check is NA)")
    if pass0:
        return result(x.copy(), [])

    x1, nwin, tags, defined = _winsorise(x, winmax, skew_thresh, kurt_thresh, force_win)
    pass1, sk1, kt1 = check_skew_kurt(x1, skew_thresh, kurt_thresh) if defined else (None, np.nan, np.nan)
    details.update(nwin=nwin, skew_1=sk1, kurt_1=kt1, pass_1=pass1)
    if pass1 is None:
        return result(x.copy(), [], "winsorising left skew/kurtosis undefined: left untreated (as COINr)")
    if pass1:
        return result(x1, [(int(i), t) for i, t in enumerate(tags) if t])

    x2 = log_ct(x1 if combine_treat else x)
    pass2, sk2, kt2 = check_skew_kurt(x2, skew_thresh, kurt_thresh)
    details.update(log_ct=True, skew_2=sk2, kurt_2=kt2, pass_2=pass2)
    if pass2 is None:
        return result(x.copy(), [], "log_CT left skew/kurtosis undefined: left untreated (as COINr)")
    prefix = tags if combine_treat else np.full(len(x), "", dtype=object)
    points = [(int(i), f"{p}+log" if p else "log") for i, p in enumerate(prefix) if not np.isnan(x[i])]
    return result(x2, points, "" if pass2 else "still fails the skew/kurtosis check after log_CT (kept, as COINr)")


_METHOD = {"winhi": "winsorise:hi", "winlo": "winsorise:lo", "log": "log_CT",
           "winhi+log": "winsorise:hi+log_CT", "winlo+log": "winsorise:lo+log_CT"}


def treat(wide: pd.DataFrame, winmax: int = WINMAX, by: str = "panel", *, skew_thresh: float = SKEW_THRESH,
          kurt_thresh: float = KURT_THRESH, force_win: bool = False, combine_treat: bool = False
          ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Treat every indicator column of a wide (entity, year) × indicator table; returns (treated, log, details).

    ``by="year"`` treats each year's cross-section on its own, as COINr's ``Treat.purse`` does (one coin per
    year, same specification); ``by="panel"`` pools all rows of an indicator. The log has one row per
    treated cell (columns of :data:`zoneindex.cells.LOG_COLUMNS`, step 'outliers', method 'winsorise:hi',
    'winsorise:lo' or 'log_CT'); the details table has one row per indicator (and year), with year <NA>
    when pooled.
    """
    if by not in ("panel", "year"):
        raise InputError("unknown outlier-treatment grouping", column="by", value=by, expected="'panel' or 'year'")
    if list(wide.index.names) != ["entity", "year"]:
        raise InputError("outlier treatment needs a table indexed by (entity, year)", value=list(wide.index.names),
                         expected="index levels ['entity', 'year'] as cells.to_wide gives")
    groups = wide.groupby(level="year", sort=True) if by == "year" else [(pd.NA, wide)]
    treated = wide.astype(float)
    log, details = [], []
    for year, block in groups:
        for indicator in wide.columns:
            values, info, points = treat_indicator(block[indicator].to_numpy(dtype=float), winmax, skew_thresh,
                                                   kurt_thresh, force_win, combine_treat)
            treated.loc[block.index, indicator] = values
            details.append({"indicator": indicator, "year": year, **info})
            if points:
                at, tags = zip(*points)
                rows = block.index[list(at)]
                log.append(pd.DataFrame({"entity": rows.get_level_values("entity"),
                                         "year": rows.get_level_values("year"), "indicator": indicator,
                                         "step": "outliers", "method": [_METHOD[t] for t in tags],
                                         "before": block[indicator].to_numpy()[list(at)],
                                         "after": values[list(at)]}))
    log_frame = pd.concat(log, ignore_index=True) if log else pd.DataFrame(columns=LOG_COLUMNS)
    details_frame = pd.DataFrame(details).astype({"year": "Int64"})
    return treated, log_frame, details_frame


OUTLIER_METHODS["jrc"] = treat


def apply_to_tidy(tidy: pd.DataFrame, log: pd.DataFrame) -> pd.DataFrame:
    """Write the treated values of ``log`` into the tidy table and flag each cell 'outlier:<method>'."""
    tidy = tidy.copy()
    key = ["entity", "year", "indicator"]
    after = tidy[key].merge(log[key + ["method", "after"]], on=key, how="left").set_axis(tidy.index)
    hit = after["method"].notna()
    tidy.loc[hit, "value"] = after.loc[hit, "after"]
    for method in after.loc[hit, "method"].unique():
        tidy["flag"] = add_flag(tidy["flag"], after["method"].eq(method), f"outlier:{method}")
    return tidy


# the rule in the words and formulas of the write-up (clean.describe_methods)
OUTLIER_TEXT = (
    r"**Outliers: the JRC rule (as COINr's `Treat`).** An indicator needs treatment when "
    r"$|\text{skew}| \ge 2$ and $\text{kurtosis} \ge 3.5$ (sample skewness and excess kurtosis with the "
    r"small-sample corrections, as Excel's SKEW and KURT). While it does and fewer than {winmax} points have "
    r"been treated, every point equal to the extreme on the skewed side is set to the next value inward, and "
    r"the rule is checked again. If the indicator still fails, the untreated values are transformed instead: "
    r"$x' = \ln\big(x - \min x + 0.01(\max x - \min x)\big)$. Every treated value is flagged and logged.")
