r"""Combination weighting (组合赋权): one weight vector from L basic ones, within one group of siblings.

The four rules compared by the CASISD authors (李刚、李建平、孙晓蕾、赵萌,《管理评论》; 李刚 et al. 2017,
《中国管理科学》 25(12)). Each basic vector $w_k$ is the group's relative weights by one method (they sum to 1);
the result sums to 1 too. The registry entry that applies them group by group is ``weight.WEIGHTERS
["combined"]``; this module is the arithmetic only, so that it can be checked by hand.
"""
from __future__ import annotations

import numpy as np

from zoneindex.errors import InputError

OPTION = "methods.weights"
RULES = ("additive", "multiplicative", "game_theory", "level_difference")


def additive_coefficients(alpha, count: int) -> np.ndarray:
    """α_k of the additive rule: None = equal shares; a number α with two methods = (α, 1 − α); else a
    list of ``count`` numbers >= 0 that sum to 1."""
    column = f"{OPTION}.alpha"
    if alpha is None:
        return np.full(count, 1.0 / count)
    if isinstance(alpha, (int, float)) and not isinstance(alpha, bool):
        if count != 2 or not 0 <= alpha <= 1:
            raise InputError("a single alpha needs exactly two methods and lies in [0, 1]", column=column,
                             value=alpha, expected="0 <= alpha <= 1 with two methods under of:, or a list")
        return np.array([float(alpha), 1.0 - float(alpha)])
    values = np.array(alpha, dtype=float) if isinstance(alpha, list) and all(
        isinstance(a, (int, float)) and not isinstance(a, bool) for a in alpha) else None
    if values is None or len(values) != count or (values < 0).any() or not np.isclose(values.sum(), 1.0):
        raise InputError("alpha must give one share >= 0 per method under of:, summing to 1", column=column,
                         value=alpha, expected=f"a list of {count} numbers summing to 1")
    return values


def game_theory_coefficients(vectors: np.ndarray) -> np.ndarray:
    r"""α*: solve $\sum_k \alpha_k\, w_l \cdot w_k = w_l \cdot w_l$ (l = 1..L), then $\alpha^*_k = |\alpha_k| /
    \sum_k |\alpha_k|$ (博弈论组合赋权)."""
    gram = vectors @ vectors.T
    try:
        alpha = np.linalg.solve(gram, np.diag(gram).copy())
    except np.linalg.LinAlgError:
        raise InputError("game-theory combination is undefined: two basic weight vectors are linearly "
                         "dependent", column=f"{OPTION}.rule", value="game_theory",
                         expected="basic methods that give different weights, or another rule") from None
    return np.abs(alpha) / np.abs(alpha).sum()


def level_difference_coefficients(vectors: np.ndarray, data: np.ndarray) -> np.ndarray:
    r"""θ* of level-difference maximisation (级差最大化): the combination $w = \sum_k \theta_k w_k$ that spreads
    the composite scores $y = Z w$ of the group's standardised data $Z$ the most, $\max_\theta \theta^\top
    (V Z^\top Z V^\top)\, \theta$ with $\|\theta\| = 1$ (郭亚军's 拉开档次 criterion applied to the
    coefficients; $V$ holds the basic vectors as rows), i.e. the principal eigenvector, rescaled to sum to 1."""
    scores = data @ vectors.T                                  # (rows, L): the composite under each vector
    spread = scores.T @ scores
    values, eigenvectors = np.linalg.eigh(spread)
    theta = eigenvectors[:, int(np.argmax(values))]
    theta = theta * np.sign(theta.sum()) if theta.sum() != 0 else theta
    if (theta < -1e-12).any() or not theta.sum() > 0:
        raise InputError("level-difference maximisation gives a negative coefficient for this group",
                         column=f"{OPTION}.rule", value=[round(float(t), 4) for t in theta],
                         expected="basic weights whose composites are not opposed, or another rule")
    theta = theta.clip(min=0.0)
    return theta / theta.sum()


def combine(vectors: np.ndarray, rule: str, alpha=None, data: np.ndarray | None = None) -> tuple[np.ndarray,
                                                                                                  np.ndarray]:
    """(combined weights, coefficients) of the L basic vectors (rows of ``vectors``, each summing to 1).

    ``data`` (rows × children, standardised) is needed by ``level_difference`` only. The coefficients of
    ``multiplicative`` are NaN: it has none.
    """
    count = len(vectors)
    if rule != "additive" and alpha is not None:
        raise InputError(f"alpha is set by the {rule} rule itself", column=f"{OPTION}.alpha", value=alpha,
                         expected="no alpha (it applies to rule: additive)")
    if rule == "additive":
        coefficients = additive_coefficients(alpha, count)
    elif rule == "game_theory":
        coefficients = game_theory_coefficients(vectors)
    elif rule == "level_difference":
        coefficients = level_difference_coefficients(vectors, data)
    elif rule == "multiplicative":
        product = np.prod(vectors, axis=0)
        if not product.sum() > 0:
            raise InputError("multiplicative combination is undefined: every child has a zero basic weight",
                             column=f"{OPTION}.rule", value=rule, expected="basic weights > 0, or another rule")
        return product / product.sum(), np.full(count, np.nan)
    else:
        raise InputError("unknown combination rule", column=f"{OPTION}.rule", value=rule,
                         expected=f"one of {list(RULES)}")
    return coefficients @ vectors, coefficients
