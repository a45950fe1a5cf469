"""The aggregation methods: their registry, their formulas and the per-level choice.

The arithmetic of every method lives once in ``kernel.py`` (for the nominal score, the what-if and the
uncertainty analysis alike); this module names the methods and documents them.

Every aggregate is a weighted mean of its children. Weights are renormalised over the children that
are present in a row, and a row with fewer than ``min_availability`` (a share of the children) present
gets NaN. With ``rebase`` every aggregate is then expressed as 100 · A_t / A_b, so the index and every
dimension and sub-area equal 100 exactly in the base year, whatever the normalisation.

The change of a node since the base year is split exactly into its children's contributions:
arithmetic mean: c_j = w̃_jt v_jt − w̃_jb v_jb (which sums to A_t − A_b by linearity);
power mean of order p: c_j = ΔA · (w̃_jt v_jt^p − w̃_jb v_jb^p) / Σ_j(…), and for the geometric mean
(p → 0) the same with ln v. Contributions to the index are passed down the tree in proportion, so at
every node the children's contributions add up to the node's own contribution.
"""
from __future__ import annotations

from zoneindex.errors import InputError

# name -> exponent p of the weighted power mean (None = geometric, the limit p -> 0)
POWER_OF = {"arithmetic": 1.0, "geometric": None, "harmonic": -1.0}
AGGREGATORS = tuple(POWER_OF) + ("generalised", "mazziotta_pareto")
# the options of a method beyond the aggregation settings every method shares (name -> default)
OPTIONS = {"generalised": {"p": 1.0}}


FORMULAS = {
    "arithmetic": r"$$A_{k,t} = \sum_{j \in k} \tilde w_{j} v_{j,t}$$",
    "geometric": r"$$A_{k,t} = \prod_{j \in k} v_{j,t}^{\tilde w_{j}}$$",
    "harmonic": r"$$A_{k,t} = \Big(\sum_{j \in k} \tilde w_{j} / v_{j,t}\Big)^{-1}$$",
    "generalised": r"$$A_{k,t} = \Big(\sum_{j \in k} \tilde w_{j} v_{j,t}^{p}\Big)^{1/p}$$",
    "mazziotta_pareto": r"$$A_{k,t} = M_{k,t} - S_{k,t}\,\frac{S_{k,t}}{M_{k,t}}, \quad M_{k,t} = \sum_{j \in k} "
                        r"\tilde w_j v_{j,t}, \quad S_{k,t}^2 = \sum_{j \in k} \tilde w_j (v_{j,t} - M_{k,t})^2$$ "
                        r"(Mazziotta–Pareto: the mean penalised by the coefficient of variation, so that an unbalanced "
                        r"profile scores lower than a balanced one with the same mean; partially compensatory). Its "
                        r"change is attributed to the children in proportion to the change of $\tilde w_j v_j$.",
}
CHAIN_FORMULA = (
    r"**Chain-linked (NBS China Innovation Index method).** Each aggregate grows by the weighted growth "
    r"of its children between adjacent years: $$G_{k,t} = \sum_{j \in k} \tilde w_j \Big(\frac{v_{j,t}}"
    r"{v_{j,t-1}} - 1\Big), \qquad D_{k,t} = D_{k,t-1}\,(1 + G_{k,t}), \qquad D_{k,b} = 100,$$ and "
    r"backwards $D_{k,t-1} = D_{k,t}/(1 + G_{k,t})$ before the base year. Child $j$ adds "
    r"$c_{j,t} = D_{k,t-1}\tilde w_j (v_{j,t}/v_{j,t-1} - 1)$ points in year $t$; these add up to "
    r"$D_{k,t} - D_{k,t-1}$, and summed over the years since the base year to $D_{k,t} - 100$.")
REBASE_FORMULA = r"$$D_{k,t} = 100\,\frac{A_{k,t}}{A_{k,b}}$$ so that every aggregate equals 100 in the base year $b$."
DECOMPOSITION_FORMULA = (
    r"For an arithmetic mean the change of node $k$ since the base year splits exactly into "
    r"$c_{j} = s_k(\tilde w_{j,t} v_{j,t} - \tilde w_{j,b} v_{j,b})$ with $s_k = 100/A_{k,b}$ when rebased; for a "
    r"geometric mean into $c_j = \Delta D_k \,\frac{\tilde w_j \ln(v_{j,t}/v_{j,b})}{\ln(A_{k,t}/A_{k,b})}$. "
    r"A node's contribution to the index is passed on to its children in proportion to their $c_j$, "
    r"so the contributions of all indicators add up to the index change $I_t - 100$.")


def method_for_level(config: dict, level: int) -> tuple[str, float | None]:
    """Aggregation method and exponent for nodes at ``level`` (``by_level`` overrides the default)."""
    override = (config.get("by_level") or {}).get(level)
    default = {"method": config["method"], "p": config.get("p", 1.0)}
    # a level's rule may give its own method, exponent and availability: what it leaves out is the default's
    spec = ({**default, **override} if "method" not in override else override) if isinstance(override, dict) \
        else {"method": override or config["method"], "p": config.get("p", 1.0)}
    method = spec["method"]
    if method not in AGGREGATORS:
        raise InputError("unknown aggregation method", column=f"methods.aggregation (level {level})",
                         value=method, expected=f"one of {list(AGGREGATORS)}")
    if method == "mazziotta_pareto":
        return method, 1.0  # its change is attributed like the arithmetic mean's, then scaled (see FORMULAS)
    return method, float(spec.get("p", 1.0)) if method == "generalised" else POWER_OF[method]
