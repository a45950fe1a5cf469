"""Sobol estimators (Saltelli 2010 first order, Jansen 1999 total) and their bootstrap intervals."""
from __future__ import annotations

import warnings

import numpy as np


def sobol_indices(f_A: np.ndarray, f_B: np.ndarray, f_AB: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""First-order and total Sobol indices from the model outputs on A, B and AB_i.

    With the outputs centred on the mean of f(A) and f(B) (as SALib and SciPy do) and
    $V = \operatorname{Var}[f(A), f(B)]$ (the population variance of the 2n outputs):

    $$S_i = \frac{\frac1n \sum_{j=1}^n f(B)_j\,\big(f(AB_i)_j - f(A)_j\big)}{V}$$  (Saltelli et al. 2010, Table 2 b)

    $$S_{Ti} = \frac{\frac1{2n} \sum_{j=1}^n \big(f(A)_j - f(AB_i)_j\big)^2}{V}$$  (Jansen 1999; Saltelli 2010, Table 2 f)

    Shapes: f_A and f_B (..., n), f_AB (d, ..., n); returns S1 and ST of shape (..., d). A constant output
    (V = 0) gives NaN.
    """
    f_A, f_B, f_AB = (np.asarray(a, dtype=float) for a in (f_A, f_B, f_AB))
    mean = (f_A.mean(axis=-1) + f_B.mean(axis=-1)) / 2
    a, b = f_A - mean[..., None], f_B - mean[..., None]
    ab = f_AB - mean[..., None]
    var = np.concatenate([a, b], axis=-1).var(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        first = np.mean(b * (ab - a), axis=-1) / var
        total = 0.5 * np.mean((a - ab) ** 2, axis=-1) / var
    return np.moveaxis(first, 0, -1), np.moveaxis(total, 0, -1)


def sobol_bootstrap(f_A, f_B, f_AB, nboot: int, rng: np.random.Generator, confidence: float = 0.9) -> dict:
    r"""Point estimates and percentile-bootstrap intervals of $S_i$ and $S_{Ti}$.

    Each of the ``nboot`` resamples draws the n rows with replacement (counts $c_j$ of n uniform draws,
    $\sum_j c_j = n$; the rows of f(A), f(B) and every f(AB_i) stay matched) and recomputes the
    estimators of :func:`sobol_indices` on it. All three estimators are means of per-row terms, so a
    resample is one weighted mean per term, $\frac1n \sum_j c_j t_j$, for every resample at once:
    with $m = \frac{1}{2n}\sum_j c_j (a_j + b_j)$,
    $V = \frac{1}{2n}\sum_j c_j (a_j^2 + b_j^2) - m^2$,
    $S_i = \big[\frac1n \sum_j c_j b_j (ab_{ij} - a_j) - m \frac1n \sum_j c_j (ab_{ij} - a_j)\big] / V$ and
    $S_{Ti} = \frac{1}{2n}\sum_j c_j (a_j - ab_{ij})^2 / V$ (outputs first centred on their overall mean).
    The interval is the ((1 − c)/2, (1 + c)/2) quantile pair of the resampled estimates (c = ``confidence``;
    0.9 gives COINr's 5 %–95 %). Returns arrays S1, ST, S1_lo, S1_hi, ST_lo, ST_hi of length d.
    """
    f_A, f_B, f_AB = (np.asarray(a, dtype=float) for a in (f_A, f_B, f_AB))
    s1, st = sobol_indices(f_A, f_B, f_AB)
    out = {"S1": s1, "ST": st}
    lo, hi = (1 - confidence) / 2, (1 + confidence) / 2
    nan = np.full(len(s1), np.nan)
    if not nboot or not np.isfinite(f_A).all() or not np.isfinite(f_B).all() or not np.isfinite(f_AB).all():
        out.update(S1_lo=nan, S1_hi=nan, ST_lo=nan, ST_hi=nan)
        return out
    n = f_A.shape[-1]
    centre = (f_A.mean() + f_B.mean()) / 2
    a, b, ab = f_A - centre, f_B - centre, f_AB - centre
    diff = ab - a                                                        # (d, n)
    terms = np.concatenate([((a + b) / 2)[None], ((a * a + b * b) / 2)[None], b * diff, diff, diff * diff / 2])
    picks = rng.integers(0, n, size=(nboot, n)) + (np.arange(nboot) * n)[:, None]  # n rows drawn per resample
    counts = np.bincount(picks.ravel(), minlength=nboot * n).reshape(nboot, n).astype(float)   # (nboot, n)
    means = counts @ terms.T / n                                         # (nboot, 2 + 3d)
    d = len(s1)
    m, second = means[:, 0], means[:, 1]
    var = second - m * m
    with np.errstate(invalid="ignore", divide="ignore"):
        b1 = (means[:, 2:2 + d] - m[:, None] * means[:, 2 + d:2 + 2 * d]) / var[:, None]
        bt = means[:, 2 + 2 * d:] / var[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out.update(S1_lo=np.nanquantile(b1, lo, axis=0), S1_hi=np.nanquantile(b1, hi, axis=0),
                   ST_lo=np.nanquantile(bt, lo, axis=0), ST_hi=np.nanquantile(bt, hi, axis=0))
    return out


NOTE_RANGE = "outside [0, 1]: not converged"
NOTE_HALF = "N/2 and N differ by more than the interval width: not converged"


def sobol_table(f_A, f_B, f_AB, names, nboot: int, rng: np.random.Generator, confidence: float = 0.9) -> dict:
    r"""Estimates with bootstrap intervals and a convergence check, one entry per input.

    Beside $S_i$ and $S_{Ti}$ from all N design rows (with their intervals from :func:`sobol_bootstrap`)
    the same estimators on the first N/2 rows give ``S1_half`` and ``ST_half``. Once the design has
    converged, the N/2 estimate differs from the N estimate by about one standard error of the latter
    (the N/2 rows are half of the N), so an estimate is ``converged`` when both $|S_i(N) - S_i(N/2)|$ and
    $|S_{Ti}(N) - S_{Ti}(N/2)|$ are at most the width of their intervals, $hi - lo$ (about 3.3 standard
    errors at 90 % confidence: a larger difference says the estimate still moves with N), and both
    estimates lie in [0, 1]; ``note`` says why not (an estimate outside [0, 1] is never a result to quote:
    more design rows are needed).
    ``f_*`` hold only the valid design rows, in design-row order.
    """
    stats = sobol_bootstrap(f_A, f_B, f_AB, nboot, rng, confidence)
    n = np.asarray(f_A).shape[-1]
    half = n // 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        s1_half, st_half = sobol_indices(np.asarray(f_A)[..., :half], np.asarray(f_B)[..., :half],
                                         np.asarray(f_AB)[..., :half])
    width1 = stats["S1_hi"] - stats["S1_lo"]
    widtht = stats["ST_hi"] - stats["ST_lo"]
    close = (np.abs(stats["S1"] - s1_half) <= width1 + 1e-12) & (np.abs(stats["ST"] - st_half) <= widtht + 1e-12)
    inside = (stats["S1"] >= 0) & (stats["S1"] <= 1) & (stats["ST"] >= 0) & (stats["ST"] <= 1)
    notes = np.where(~inside, NOTE_RANGE, np.where(~close, NOTE_HALF, ""))
    return {"input": list(names), "S1": stats["S1"], "S1_lo": stats["S1_lo"], "S1_hi": stats["S1_hi"],
            "ST": stats["ST"], "ST_lo": stats["ST_lo"], "ST_hi": stats["ST_hi"], "S1_half": s1_half,
            "ST_half": st_half, "converged": close & inside, "note": notes}
