"""The methodology write-up of the uncertainty and sensitivity analysis: inputs, design and every formula."""
from __future__ import annotations

from zoneindex.uncertainty.spec import Spec


def describe(spec: Spec, anchored: bool | None = None) -> str:
    """Markdown for the methodology write-up: the uncertain inputs, the design and every formula.

    ``anchored``: the study has a base year and rebases (the rescaling is then the base-year form); None
    documents both forms."""
    rows = "\n".join(f"| {i + 1} | {x.name} | {x.kind.replace('_', ' ')} | {x.size if x.kind != 'weight_noise' else '—'} "
                     f"| {x.describe()} |" for i, x in enumerate(spec.inputs))
    d = spec.d
    noise = [x for x in spec.inputs if x.kind == "weight_noise"]
    weight_text = ""
    if noise:
        x = noise[0]
        weight_text = (
            "\n\n**Weights.** The nominal weight $w_j$ of every node at the perturbed levels is multiplied by "
            rf"$u_j \sim U(1-\varepsilon, 1+\varepsilon)$ with $\varepsilon = {x.noise:g}$, independently per "
            r"node, and the weights are rescaled within each group of siblings, "
            r"$\tilde w_j = u_j w_j / \sum_{i \in k} u_i w_i$ (COINr's `get_noisy_weights`). The factors are "
            r"drawn afresh for every replication: in the uncertainty analysis each replication has its own, and in "
            r"the sensitivity analysis the weights are one *group* factor: the rows of $A$ and $B$ draw noise "
            r"matrices $N_A$, $N_B$ and $AB_i$ takes $N_B$ where $i$ is the weights input, $N_A$ otherwise.")
    base_form = (r"$$y' = 100 + s\,(y - 100), \qquad s = \sqrt{\frac{\sum_{e,t} (y^0_{ekt} - 100)^2}"
                 r"{\sum_{e,t} (y_{ekt} - 100)^2}}$$ (the base year stays 100)")
    mean_form = (r"$$y' = m_0 + \frac{\sigma_0}{\sigma}\,(y - m)$$ with $m, \sigma$ the mean and the population "
                 r"standard deviation of the replication's values of node $k$ over its entity-years and $m_0, "
                 r"\sigma_0$ those of the nominal values")
    if anchored is None:
        forms = f"with a base year and rebasing {base_form}; otherwise {mean_form}"
    else:
        forms = base_form if anchored else mean_form
    return f"""**Uncertain inputs.** {d} modelling choices are varied simultaneously (seed {spec.seed}):

| # | input | kind | alternatives | values |
|---|---|---|---|---|
{rows}

A discrete input with $n$ alternatives is driven by $u \\sim U(0,1)$ and takes alternative
$\\lfloor u\\,n \\rfloor$, so every alternative is equally likely. Each combination of the data-side
choices (imputation, outlier treatment, normalisation …) gives one normalised indicator matrix, computed
once; each replication then re-aggregates it with its own weights and aggregation method, through the same
scoring kernel as the nominal result. The random numbers of replication $r$ come from a generator seeded
with the seed and $r$'s block of replication ids, so no result depends on how the work is split.{weight_text}

**Values on the nominal's scale.** Replications that normalise differently give values on different
scales (min-max scores against z-scores), and pooling them would measure the change of scale. Before
values are summarised, each replication's values $y_{{ekt}}$ of node $k$ are mapped onto the nominal's
scale over the node's entity-years where they are defined: {forms}. Where a spread is 0 nothing is
rescaled, and the nominal replication maps to itself. The map is increasing, so it keeps every ranking;
changes since the base year, ranks and rank shifts are comparable as they are and are not rescaled.

**Uncertainty analysis.** $R = {spec.runs}$ replications. For every entity $e$, year $t$ and node $k$ the
distribution of the rescaled value $Y^{{(r)}}_{{ekt}}$ is summarised by its mean, its median and its 5 % and
95 % quantiles (exact, with linear interpolation), beside the nominal value: the band says how far the
value moves on the nominal's scale when the choices vary. For a base year $b$ the change
$\\Delta^{{(r)}}_{{ekt}} = Y^{{(r)}}_{{ekt}} - Y^{{(r)}}_{{ekb}}$ (unrescaled) is summarised likewise, with
$$\\hat P(\\Delta_{{ekt}} > 0) = \\frac{{1}}{{R'}} \\sum_{{r}} \\mathbf 1\\big[\\Delta^{{(r)}}_{{ekt}} > 0\\big]$$
over the $R'$ replications in which the value is defined (a geometric mean of a non-positive score is not).
With several entities the replications' ranks (1 = highest) give the median rank and its 5–95 % interval,
and the mean absolute rank shift against the nominal ranking is
$$\\bar R^{{(r)}} = \\frac{{1}}{{M}} \\sum_{{m=1}}^{{M}} \\big| r^{{(r)}}_m - r^{{0}}_m \\big|.$$

**Sensitivity analysis.** Two independent $N \\times d$ matrices $A$, $B$ of $U(0,1)$ inputs ($N = {spec.sobol_n}$,
{'scrambled Sobol′ points' if spec.sampler == 'sobol' else 'Monte Carlo'}) and the $d$ matrices $AB_i$
($A$ with column $i$ from $B$) give $N(d+2) = {spec.sobol_n * (d + 2)}$ replications. With
$f$ the target (the rescaled index value, its change since the base year, or $\\bar R$), outputs centred on
their mean and $V = \\operatorname{{Var}}[f(A), f(B)]$:
$$S_i = \\frac{{\\frac{{1}}{{N}} \\sum_{{j=1}}^{{N}} f(B)_j \\big(f(AB_i)_j - f(A)_j\\big)}}{{V}} \\quad\\text{{(Saltelli et al. 2010)}},$$
$$S_{{Ti}} = \\frac{{\\frac{{1}}{{2N}} \\sum_{{j=1}}^{{N}} \\big(f(A)_j - f(AB_i)_j\\big)^2}}{{V}} \\quad\\text{{(Jansen 1999)}}.$$
$S_i$ is the share of the output variance due to input $i$ alone, $S_{{Ti}}$ the share in which input $i$
takes part (alone or in interaction); $S_{{Ti}} - S_i$ measures its interactions. The {spec.confidence:.0%}
intervals are percentiles of {spec.nboot} bootstrap resamples of the $N$ rows. **Convergence:** the same
estimators on the first $N/2$ design rows give $S_i^{{N/2}}$, $S_{{Ti}}^{{N/2}}$, which differ from the $N$
estimates by about one standard error once the design has converged; an estimate is converged when
$|S(N) - S(N/2)|$ is at most the width of its interval for both indices and both lie in $[0, 1]$. An
estimate outside $[0, 1]$ is noise of a design too small, reported as "outside [0, 1]: not converged" and
never quoted as a result.
"""
