r"""Sampling: the Saltelli design, discrete choices from uniforms, weight noise, drawn block by block.

Every random number comes from generators seeded by the study's seed and a *block* of :data:`BLOCK`
replication ids (uncertainty mode: the streams of ``numpy.random.SeedSequence([seed, block])``, i.e. of
``default_rng([seed, block])``; the sensitivity design: ``[seed, block, 1]`` for its design rows), so a
replication's choices and weight factors depend only on its id: not on the chunk size, the memory budget,
the threads or the cluster that evaluates it, nor on how many replications there are, and never on an
array of all replications.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


BLOCK = 32768         # replication ids (or Sobol design rows) per random block
SA_STREAM = 1         # third seed word of the sensitivity design's blocks
SCRAMBLE_STREAM = (0, 2)   # seed words of the scrambled Sobol' sequence
BOOT_STREAM = (0, 3)       # seed words of the bootstrap resamples


def sobol_sample(n: int, d: int, rng: np.random.Generator, sampler: str = "random"):
    r"""The Saltelli design: matrices A, B (n × d) of U(0, 1) inputs and the d matrices AB_i.

    ``AB[i]`` is A with its column i taken from B (Saltelli et al. 2010, §2). ``sampler="random"`` draws
    A and B by plain Monte Carlo; ``"sobol"`` takes them from one scrambled Sobol' sequence in 2d
    dimensions (first d columns A, last d columns B), seeded from ``rng``. The model is evaluated at
    the n·(d + 2) points of A, B and every AB_i.
    Returns (A, B, AB) with AB of shape (d, n, d).
    """
    if sampler == "sobol":
        from scipy.stats import qmc
        points = qmc.Sobol(d=2 * d, scramble=True, rng=rng).random(n)
        A, B = points[:, :d], points[:, d:]
    else:
        A, B = rng.random((n, d)), rng.random((n, d))
    AB = np.repeat(A[None], d, axis=0)
    for i in range(d):
        AB[i, :, i] = B[:, i]
    return A, B, AB


def choices_from_uniform(u: np.ndarray, sizes) -> np.ndarray:
    r"""Map U(0, 1) inputs to discrete choices: $k = \min(\lfloor u\,n \rfloor, n - 1)$ per column."""
    sizes = np.maximum(np.asarray(sizes), 1)
    return np.minimum((u * sizes).astype(np.int64), sizes - 1)


@dataclass(frozen=True)
class Layout:
    """What drawing a design needs: per input its number of alternatives (0: weight noise), and per
    weight-noise input its column, ε and the positions (codes order) of the nodes it perturbs."""

    seed: int
    sizes: tuple
    noise: tuple          # (input column, epsilon, node positions)
    sampler: str = "random"

    @property
    def d(self) -> int:
        return len(self.sizes)


@dataclass
class Draws:
    """Replications of one block: ``ids`` (global replication ids), ``choices`` (n × d; weight-noise
    columns hold 0 for N_A and 1 for N_B in sensitivity mode, 0 in uncertainty mode) and per noise input
    the factors (n × nodes it perturbs)."""

    ids: np.ndarray
    choices: np.ndarray
    factors: list


def _streams(seed: int, block: int, count: int, *words: int) -> list[np.random.Generator]:
    """``count`` independent generators of one block: the children of ``SeedSequence([seed, block, *words])``
    (one for the choices, one per weight-noise input …), so each draws only the rows it needs and the
    first n rows of a block are the same whatever n."""
    return [np.random.default_rng(child) for child in np.random.SeedSequence([seed, block, *words]).spawn(count)]


def ua_block(layout: Layout, block: int, runs: int) -> Draws:
    r"""Uncertainty mode, replications ``block·BLOCK`` … (at most ``runs``): each draws one U(0, 1) per
    input and its own weight factors $u_{rj} \sim U(1-\varepsilon, 1+\varepsilon)$, from the streams of
    ``SeedSequence([seed, block])`` (:func:`_streams`), so that a replication's numbers depend only on its id."""
    n = min(BLOCK, runs - block * BLOCK)
    rng, *noise = _streams(layout.seed, block, 1 + len(layout.noise))
    choices = choices_from_uniform(rng.random((n, layout.d)), layout.sizes)
    factors = [g.uniform(1 - eps, 1 + eps, size=(n, len(nodes))) for g, (_, eps, nodes) in zip(noise, layout.noise)]
    for column, _, _ in layout.noise:
        choices[:, column] = 0
    return Draws(block * BLOCK + np.arange(n), choices, factors)


def sa_rows(layout: Layout, block: int, n_rows: int) -> tuple[np.ndarray, np.ndarray, list, list]:
    r"""Sensitivity mode, design rows ``block·BLOCK`` … (of ``n_rows``): the rows of A and B (U(0, 1), or
    the scrambled Sobol' sequence) and, per weight-noise input, the noise matrices N_A and N_B of those
    rows, from the streams of ``SeedSequence([seed, block, 1])``."""
    n = min(BLOCK, n_rows - block * BLOCK)
    k = len(layout.noise)
    rng_a, rng_b, *noise = _streams(layout.seed, block, 2 + 2 * k, SA_STREAM)
    A, B = rng_a.random((n, layout.d)), rng_b.random((n, layout.d))
    NA = [g.uniform(1 - eps, 1 + eps, size=(n, len(nodes))) for g, (_, eps, nodes) in zip(noise[:k], layout.noise)]
    NB = [g.uniform(1 - eps, 1 + eps, size=(n, len(nodes))) for g, (_, eps, nodes) in zip(noise[k:], layout.noise)]
    if layout.sampler == "sobol":
        from scipy.stats import qmc
        engine = qmc.Sobol(d=2 * layout.d, scramble=True, rng=np.random.default_rng([layout.seed, *SCRAMBLE_STREAM]))
        engine.fast_forward(block * BLOCK)
        with warnings.catch_warnings():       # n need not be a power of 2 (the last block of a design)
            warnings.simplefilter("ignore", UserWarning)
            points = engine.random(n)
        A, B = points[:, :layout.d], points[:, layout.d:]
    return A, B, NA, NB


def sa_block(layout: Layout, block: int, n_rows: int) -> Draws:
    r"""The replications of design rows ``block·BLOCK`` …: for each row j, A_j, B_j and every AB_{i,j}
    (A_j with input i from B_j). The weights are a group factor: a weight-noise input takes the row of
    N_B in B and in its own AB_i, and the row of N_A everywhere else. Replication ids are
    ``kind·n_rows + j`` with kind 0 = A, 1 = B, 2 + i = AB_i (the order of the replication table)."""
    A, B, NA, NB = sa_rows(layout, block, n_rows)
    n, d = A.shape
    rows = block * BLOCK + np.arange(n)
    noise_columns = [c for c, _, _ in layout.noise]
    ids, choices, factors = [], [], [[] for _ in layout.noise]
    for kind in range(d + 2):
        U = A if kind == 0 else B if kind == 1 else A.copy()
        if kind >= 2:
            U[:, kind - 2] = B[:, kind - 2]
        c = choices_from_uniform(U, layout.sizes)
        for k, column in enumerate(noise_columns):
            from_b = kind == 1 or kind == column + 2
            c[:, column] = int(from_b)
            factors[k].append(NB[k] if from_b else NA[k])
        ids.append(kind * n_rows + rows)
        choices.append(c)
    return Draws(np.concatenate(ids), np.concatenate(choices), [np.concatenate(f) for f in factors])


def noisy(raw: np.ndarray, draws: Draws, layout: Layout, copy: bool = True) -> np.ndarray:
    r"""Raw weights (n × nodes) of the replications: the nominal weights times their noise factors,
    $u_j w_j$; the engine rescales them within siblings (``kernel.relative_weights``),
    $\tilde w_j = u_j w_j / \sum_{i \in k} u_i w_i$. ``copy=False``: ``raw`` (a float array of its own) is
    changed in place."""
    raw = np.array(raw, dtype=float, copy=True) if copy else np.asarray(raw, dtype=float)
    for (_, _, nodes), factor in zip(layout.noise, draws.factors):
        raw[:, nodes] *= factor
    return raw
