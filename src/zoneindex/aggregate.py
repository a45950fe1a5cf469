"""The aggregation methods: their registry, their formulas and the per-level choice.

The arithmetic of every method lives once in ``kernel.py`` (for the nominal score, the what-if and the
uncertainty analysis alike); this module names the methods and documents them.

Every aggregate is a weighted mean of its children, except the methods that compare rows
(``CROSS_ROW``: TOPSIS, grey relational analysis, Copeland; their arithmetic is in ``crossrow.py``), whose
value for an entity-year depends on the other entities of the year (or of the panel). Weights are renormalised over the children that
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
# methods whose value for a row compares it with the other rows of its year (or of the panel)
CROSS_ROW = ("topsis", "grey_relational", "copeland")
AGGREGATORS = tuple(POWER_OF) + ("generalised", "mazziotta_pareto") + CROSS_ROW
# the options of a method beyond the aggregation settings every method shares (name -> default)
OPTIONS = {"generalised": {"p": 1.0},
           "topsis": {"ideals": "year"},
           "grey_relational": {"rho": 0.5, "reference": "ideal", "scaling": "mean", "over": "year"},
           "copeland": {"over": "year"}}
# the allowed values of the text options (``reference`` also takes ``entity:<code>``)
CHOICES = {"ideals": ("year", "panel"), "over": ("year", "panel"), "scaling": ("mean", "initial", "minmax"),
           "reference": ("ideal", "base_year", "entity:<code>")}


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
    "topsis": r"$$A_{i} = 100\,\frac{D_i^-}{D_i^+ + D_i^-}, \quad D_i^\pm = \Big(\sum_{j \in k} (v_{ij} - "
              r"A_j^\pm)^2\Big)^{1/2}, \quad v_{ij} = \tilde w_j r_{ij}, \quad A_j^+ = \max_{i'} v_{i'j}, \; "
              r"A_j^- = \min_{i'} v_{i'j}$$ (TOPSIS, Hwang & Yoon 1981: the closeness of row $i$ to the positive "
              r"ideal), the ideals taken over the entities of the same year (`ideals: year`) or over every "
              r"entity-year of the panel (`ideals: panel`). The children $r_{ij}$ are already direction-corrected "
              r"(higher is better), so the positive ideal is the maximum of every child; for a negative indicator "
              r"this is the textbook minimum of the cost criterion. At every level it is a hierarchical TOPSIS (the "
              r"closeness of the children's closeness); the textbook TOPSIS of all indicators at once is a "
              r"framework whose index stands directly over its indicators. A lone row (no other row to compare) has no "
              r"value. Its change is attributed to the children in proportion to the change of $\tilde w_j v_j$ "
              r"(by the weights where that is nil: the other rows moved); it is never rebased.",
    "grey_relational": r"$$A_{i} = 100 \sum_{j \in k} \tilde w_j \xi_{ij}, \quad \xi_{ij} = \frac{\Delta_{\min} + "
                       r"\rho\,\Delta_{\max}}{\Delta_{ij} + \rho\,\Delta_{\max}}, \quad \Delta_{ij} = "
                       r"|y_{0j} - y_{ij}|$$ (grey relational analysis, Deng 1982) with the resolution coefficient "
                       r"$\rho$ (0.5), $\Delta_{\min}, \Delta_{\max}$ the smallest and largest $\Delta$ over the "
                       r"rows compared (the year, or the panel with `over: panel`) and all children, and the "
                       r"reference sequence $y_0$: the best value of each child among those rows (`ideal`), the "
                       r"entity's own base-year row (`base_year`) or a chosen entity in the same year "
                       r"(`entity:<code>`). The children are first made dimensionless: divided by their mean over "
                       r"the rows compared (`scaling: mean`), by the reference value (`initial`: the reference then "
                       r"equals 1) or rescaled to [0, 1] over those rows (`minmax`). $\xi = 1$ where every row "
                       r"equals the reference. Its change is attributed to the children in proportion to the change "
                       r"of $\tilde w_j v_j$ (by the weights where that is nil: the other rows moved); it is never "
                       r"rebased.",
    "copeland": r"$$A_{i} = \sum_{i' \ne i} \operatorname{sign}\big(S_{ii'} - \tfrac12\big), \quad S_{ii'} = "
                r"\frac{\sum_{j} w_j \big([v_{ij} > v_{i'j}] + \tfrac12 [v_{ij} = v_{i'j}]\big)}{\sum_j w_j}$$ "
                r"(Copeland outranking, as COINr's `a_copeland`): $S$ is the weighted share of the children in "
                r"which row $i$ beats row $i'$ (ties count half), over the children both rows have; a row wins "
                r"(+1), loses (−1) or draws (0) each comparison with the other rows of the year (or of the panel, "
                r"`over: panel`), and its score is the sum, between $-(n-1)$ and $n-1$ (not a 0–100 scale, and never "
                r"rebased). Its change is attributed to the children in proportion to the change of "
                r"$\tilde w_j v_j$ (by the weights where that is nil: the other rows moved).",
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

# The same text for Chinese readers (same keys as FORMULAS).
FORMULAS_ZH = {
    "arithmetic": r"$$A_{k,t} = \sum_{j \in k} \tilde w_{j} v_{j,t}$$（加权算术平均）",
    "geometric": r"$$A_{k,t} = \prod_{j \in k} v_{j,t}^{\tilde w_{j}}$$（加权几何平均）",
    "harmonic": r"$$A_{k,t} = \Big(\sum_{j \in k} \tilde w_{j} / v_{j,t}\Big)^{-1}$$（加权调和平均）",
    "generalised": r"$$A_{k,t} = \Big(\sum_{j \in k} \tilde w_{j} v_{j,t}^{p}\Big)^{1/p}$$（广义幂平均）",
    "mazziotta_pareto": r"$$A_{k,t} = M_{k,t} - S_{k,t}\,\frac{S_{k,t}}{M_{k,t}}, \quad M_{k,t} = \sum_{j \in k} "
                        r"\tilde w_j v_{j,t}, \quad S_{k,t}^2 = \sum_{j \in k} \tilde w_j (v_{j,t} - M_{k,t})^2$$ "
                        r"（Mazziotta–Pareto 指数：以变异系数对均值作惩罚，均值相同时结构不均衡的得分低于均衡的，"
                        r"属部分补偿型加总）。其变化按 $\tilde w_j v_j$ 的变化比例分配给各下级。",
    "topsis": r"$$A_{i} = 100\,\frac{D_i^-}{D_i^+ + D_i^-}, \quad D_i^\pm = \Big(\sum_{j \in k} (v_{ij} - "
              r"A_j^\pm)^2\Big)^{1/2}, \quad v_{ij} = \tilde w_j r_{ij}$$（TOPSIS 逼近理想解法，Hwang & Yoon 1981："
              r"加权标准化矩阵中评价对象与正理想解 $A^+$（各指标最大值）、负理想解 $A^-$（各指标最小值）的欧氏距离，"
              r"相对贴近度乘以 100）。理想解取同一年份的各评价对象（`ideals: year`）或全部年份的面板（`ideals: panel`）。"
              r"各指标已按方向统一为越大越好，故负向指标的正理想解即其原值的最小值。用于各层时为分层 TOPSIS（对下级贴近度再求贴近度）；"
              r"对全部指标一次计算的教科书形式，对应指数直接由指标构成的两层框架。仅有一个评价对象时无法比较，结果缺失。"
              r"其变化按 $\tilde w_j v_j$ 的变化比例分配给各下级（该变化为零而得分变化时，即其他评价对象变化所致，按权重分配）；不做基期换算。",
    "grey_relational": r"$$A_{i} = 100 \sum_{j \in k} \tilde w_j \xi_{ij}, \quad \xi_{ij} = \frac{\Delta_{\min} + "
                       r"\rho\,\Delta_{\max}}{\Delta_{ij} + \rho\,\Delta_{\max}}, \quad \Delta_{ij} = "
                       r"|y_{0j} - y_{ij}|$$（灰色关联分析，邓聚龙 1982）：分辨系数 $\rho$ 默认 0.5；两级最小差 "
                       r"$\Delta_{\min}$ 与两级最大差 $\Delta_{\max}$ 取自参与比较的行（同一年份，或 `over: panel` "
                       r"时的全部面板）与全部指标；参考序列 $y_0$ 为各指标的最优值（`ideal`）、本评价对象的基期"
                       r"（`base_year`）或同年的标杆对象（`entity:<代码>`）。先作无量纲化：均值化（`mean`）、初值化"
                       r"（除以参考序列，参考序列为 1，`initial`）或极差标准化（`minmax`）。灰色关联度为关联系数按权重 "
                       r"$\tilde w_j$ 的加权平均，乘以 100；各行都与参考序列相同时 $\xi = 1$。"
                       r"其变化按 $\tilde w_j v_j$ 的变化比例分配给各下级（该变化为零而得分变化时，即其他评价对象变化所致，按权重分配）；不做基期换算。",
    "copeland": r"$$A_{i} = \sum_{i' \ne i} \operatorname{sign}\big(S_{ii'} - \tfrac12\big), \quad S_{ii'} = "
                r"\frac{\sum_{j} w_j \big([v_{ij} > v_{i'j}] + \tfrac12 [v_{ij} = v_{i'j}]\big)}{\sum_j w_j}$$"
                r"（Copeland 级别优先法，同 COINr 的 `a_copeland`）：$S$ 为评价对象 $i$ 优于 $i'$ 的指标权重之和"
                r"（相等记一半，只计两者都有数据的指标）；两两比较胜记 +1、负记 −1、平记 0，得分为其和，介于 "
                r"$-(n-1)$ 与 $n-1$ 之间（不是 0–100 的标度，不做基期换算）。"
                r"其变化按 $\tilde w_j v_j$ 的变化比例分配给各下级（该变化为零而得分变化时，即其他评价对象变化所致，按权重分配）。",
}
CHAIN_FORMULA_ZH = (
    r"**环比链接（国家统计局中国创新指数方法）。** 每个上级指数按其下级在相邻两年间的加权增长率增长："
    r"$$G_{k,t} = \sum_{j \in k} \tilde w_j \Big(\frac{v_{j,t}}{v_{j,t-1}} - 1\Big), \qquad "
    r"D_{k,t} = D_{k,t-1}\,(1 + G_{k,t}), \qquad D_{k,b} = 100,$$ 基期以前则反向推算 "
    r"$D_{k,t-1} = D_{k,t}/(1 + G_{k,t})$。下级 $j$ 在 $t$ 年贡献 $c_{j,t} = D_{k,t-1}\tilde w_j (v_{j,t}/v_{j,t-1} - 1)$ "
    r"点，各下级之和等于 $D_{k,t} - D_{k,t-1}$，自基期起逐年累计等于 $D_{k,t} - 100$。")
REBASE_FORMULA_ZH = r"$$D_{k,t} = 100\,\frac{A_{k,t}}{A_{k,b}}$$ 因此每个上级指数在基期 $b$ 都等于 100。"
DECOMPOSITION_FORMULA_ZH = (
    r"算术平均时，节点 $k$ 较基期的变化可精确分解为 "
    r"$c_{j} = s_k(\tilde w_{j,t} v_{j,t} - \tilde w_{j,b} v_{j,b})$，基期换算时 $s_k = 100/A_{k,b}$；"
    r"几何平均时分解为 $c_j = \Delta D_k \,\frac{\tilde w_j \ln(v_{j,t}/v_{j,b})}{\ln(A_{k,t}/A_{k,b})}$。"
    r"节点对总指数的贡献再按各下级 $c_j$ 的比例向下分配，因此全部指标的贡献之和恰好等于指数变化 $I_t - 100$。")


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
    if method == "mazziotta_pareto" or method in CROSS_ROW:
        return method, 1.0  # its change is attributed like the arithmetic mean's, then scaled (see FORMULAS)
    return method, float(spec.get("p", 1.0)) if method == "generalised" else POWER_OF[method]


def method_options(config: dict, level: int) -> dict | None:
    """The checked options of a row-comparing method at ``level`` (None for a weighted mean): the study's
    own options when the level uses the study's method, else the method's defaults (a ``by_level`` rule
    names a method and its availability only)."""
    method, _ = method_for_level(config, level)
    if method not in CROSS_ROW:
        return None
    if config.get("chain"):
        raise InputError(f"{method} compares rows and cannot be chain-linked", column="methods.aggregation.chain",
                         value=True, expected=f"chain: false with {method}")
    given = {k: config[k] for k in OPTIONS[method] if k in config} if method == config["method"] else {}
    options = {**OPTIONS[method], **given}
    column = f"methods.aggregation (level {level}, {method})"
    for name, value in options.items():
        if name == "rho":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                raise InputError("the resolution coefficient is not in (0, 1]", column=f"{column}.rho", value=value,
                                 expected="0 < rho <= 1 (0.5 is the usual choice)")
            options[name] = float(value)
        elif name == "reference":
            entity = isinstance(value, str) and value.startswith("entity:") and value[len("entity:"):].strip()
            if value not in ("ideal", "base_year") and not entity:
                raise InputError("unknown reference sequence", column=f"{column}.reference", value=value,
                                 expected="ideal, base_year or entity:<code>")
        elif value not in CHOICES[name]:
            raise InputError(f"unknown {name} choice", column=f"{column}.{name}", value=value,
                             expected=f"one of {list(CHOICES[name])}")
    return options
