"""The methodology write-up of the uncertainty and sensitivity analysis: inputs, design and every formula."""
from __future__ import annotations

from zoneindex import glossary
from zoneindex.uncertainty.spec import Input, Spec

KIND_ZH = {"data": "数据处理方法", "aggregation": "加总方法", "weight_method": "赋权方法", "weight_noise": "权重扰动"}


def describe(spec: Spec, anchored: bool | None = None, lang: str = "en") -> str:
    """Markdown for the methodology write-up: the uncertain inputs, the design and every formula, in ``lang``.

    ``anchored``: the study has a base year and rebases (the rescaling is then the base-year form); None
    documents both forms."""
    if lang == "zh":
        return _describe_zh(spec, anchored)
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
            r"the sensitivity analysis the weights are one *group* factor: the rows of $\mathbf A$ and $\mathbf B$ draw noise "
            r"matrices $N_A$, $N_B$ and $\mathbf{AB}_i$ takes $N_B$ where $i$ is the weights input, $N_A$ otherwise.")
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

**Sensitivity analysis.** Two independent $N \\times d$ matrices $\\mathbf A$, $\\mathbf B$ of $U(0,1)$ inputs ($N = {spec.sobol_n}$,
{'scrambled Sobol′ points' if spec.sampler == 'sobol' else 'Monte Carlo'}) and the $d$ matrices $\\mathbf{{AB}}_i$
($\\mathbf A$ with column $i$ from $\\mathbf B$) give $N(d+2) = {spec.sobol_n * (d + 2)}$ replications. With
$f$ the target (the rescaled index value, its change since the base year, or $\\bar R$), outputs centred on
their mean and $V = \\operatorname{{Var}}[f(\\mathbf A), f(\\mathbf B)]$:
$$S_i = \\frac{{\\frac{{1}}{{N}} \\sum_{{j=1}}^{{N}} f(\\mathbf B)_j \\big(f(\\mathbf{{AB}}_i)_j - f(\\mathbf A)_j\\big)}}{{V}},$$ [@saltelli2010]
$$S_{{Ti}} = \\frac{{\\frac{{1}}{{2N}} \\sum_{{j=1}}^{{N}} \\big(f(\\mathbf A)_j - f(\\mathbf{{AB}}_i)_j\\big)^2}}{{V}}.$$ [@jansen1999]
$S_i$ is the share of the output variance due to input $i$ alone, $S_{{Ti}}$ the share in which input $i$
takes part (alone or in interaction); $S_{{Ti}} - S_i$ measures its interactions. The {spec.confidence:.0%}
intervals are percentiles of {spec.nboot} bootstrap resamples of the $N$ rows. **Convergence:** the same
estimators on the first $N/2$ design rows give $S_i^{{N/2}}$, $S_{{Ti}}^{{N/2}}$, which differ from the $N$
estimates by about one standard error once the design has converged; an estimate is converged when
$|S(N) - S(N/2)|$ is at most the width of its interval for both indices and both lie in $[0, 1]$. An
estimate outside $[0, 1]$ is noise of a design too small, reported as "outside [0, 1]: not converged" and
never quoted as a result.
"""


def _input_zh(x: Input) -> str:
    """One input's values for the Chinese table of inputs (the alternatives are method names: codes)."""
    if x.kind == "weight_noise":
        return f"权重 × U({1 - x.noise:g}, {1 + x.noise:g})，作用于第 {'、'.join(map(str, x.levels))} 层"
    if x.alternatives and all("draw" in a for a in x.alternatives):
        return f"在专家判断范围内抽取的 ahp_panel 权重（{len(x.alternatives)} 组固定种子抽样）"
    return "；".join(f"`{label}`" for label in x.labels)


def _describe_zh(spec: Spec, anchored: bool | None) -> str:
    rows = "\n".join(f"| {i + 1} | {glossary.value_text(x.name, 'zh')} | {KIND_ZH.get(x.kind, x.kind)} | "
                     f"{x.size if x.kind != 'weight_noise' else '—'} | {_input_zh(x)} |" for i, x in enumerate(spec.inputs))
    d = spec.d
    noise = [x for x in spec.inputs if x.kind == "weight_noise"]
    weight_text = ""
    if noise:
        x = noise[0]
        weight_text = (
            "\n\n**权重。** 受扰动层级上每个节点的名义权重 $w_j$ 乘以 "
            rf"$u_j \sim U(1-\varepsilon, 1+\varepsilon)$，$\varepsilon = {x.noise:g}$，各节点独立抽取，再在每组同级节点内"
            r"重新换算，$\tilde w_j = u_j w_j / \sum_{i \in k} u_i w_i$（同 COINr 的 `get_noisy_weights`）。扰动因子每次模拟"
            r"重新抽取：不确定性分析中每次模拟各有一组；敏感性分析中权重作为一个整体*组*因子：矩阵 $\mathbf A$ 与 $\mathbf B$ "
            r"的各行分别抽取扰动矩阵 $N_A$、$N_B$，当 $i$ 为权重输入时 $\mathbf{AB}_i$ 取 $N_B$，否则取 $N_A$。")
    base_form = (r"$$y' = 100 + s\,(y - 100), \qquad s = \sqrt{\frac{\sum_{e,t} (y^0_{ekt} - 100)^2}"
                 r"{\sum_{e,t} (y_{ekt} - 100)^2}}$$（基期仍为 100）")
    mean_form = (r"$$y' = m_0 + \frac{\sigma_0}{\sigma}\,(y - m)$$ 其中 $m, \sigma$ 为该次模拟中节点 $k$ 在各对象-年份上"
                 r"数值的均值与总体标准差，$m_0, \sigma_0$ 为基准方案的相应值")
    if anchored is None:
        forms = f"设有基期并做基期换算时为 {base_form}；否则为 {mean_form}"
    else:
        forms = base_form if anchored else mean_form
    sampler = "加扰 Sobol′ 序列" if spec.sampler == "sobol" else "蒙特卡洛随机抽样"
    return f"""**不确定的输入。** 同时变动 {d} 项建模选择（随机种子 {spec.seed}）：

| 序号 | 输入 | 类型 | 备选个数 | 取值 |
|---|---|---|---|---|
{rows}

含 $n$ 个备选方案的离散输入由 $u \\sim U(0,1)$ 驱动，取第 $\\lfloor u\\,n \\rfloor$ 个备选方案，因此各备选方案等可能。
每一种数据端选择（缺失值插补、异常值处理、标准化等）的组合给出一个标准化指标矩阵，只计算一次；每次模拟再用其自身的权重
和加总方法，通过与基准结果相同的计算内核重新加总。第 $r$ 次模拟的随机数由随机种子和 $r$ 所在的模拟编号块生成，因此结果
与任务如何拆分无关。{weight_text}

**换算到基准方案的尺度。** 标准化方式不同的模拟给出不同尺度上的数值（极差标准化与 Z-score 标准化），直接合并衡量的将是
尺度的变化。汇总之前，先在节点有定义的各对象-年份上，把每次模拟中节点 $k$ 的数值 $y_{{ekt}}$ 映射到基准方案的尺度：
{forms}。离散程度为 0 时不做换算，基准方案映射为其自身。该映射单调递增，因此不改变任何排名；较基期的变化、排名和
排名变动本身即可比较，不做换算。

**不确定性分析。** 共 $R = {spec.runs}$ 次模拟。对每个对象 $e$、年份 $t$ 和节点 $k$，换算后数值 $Y^{{(r)}}_{{ekt}}$ 的分布以
均值、中位数及 5% 与 95% 分位数（精确计算，线性插值）概括，并与基准值并列：区间表示选择变动时数值在基准尺度上的
移动范围。对基期 $b$，变化量 $\\Delta^{{(r)}}_{{ekt}} = Y^{{(r)}}_{{ekt}} - Y^{{(r)}}_{{ekb}}$（不做换算）同样概括，并计算
$$\\hat P(\\Delta_{{ekt}} > 0) = \\frac{{1}}{{R'}} \\sum_{{r}} \\mathbf 1\\big[\\Delta^{{(r)}}_{{ekt}} > 0\\big]$$
其中 $R'$ 为数值有定义的模拟次数（非正得分的几何平均没有定义）。多个对象时，由各次模拟的排名（1 为最高）得到排名中位数
及其 5%–95% 区间，相对于基准排名的平均绝对排名变动为
$$\\bar R^{{(r)}} = \\frac{{1}}{{M}} \\sum_{{m=1}}^{{M}} \\big| r^{{(r)}}_m - r^{{0}}_m \\big|.$$

**敏感性分析。** 两个相互独立的 $N \\times d$ 矩阵 $\\mathbf A$、$\\mathbf B$（$U(0,1)$ 输入，$N = {spec.sobol_n}$，{sampler}）
以及 $d$ 个矩阵 $\\mathbf{{AB}}_i$（$\\mathbf A$ 的第 $i$ 列换成 $\\mathbf B$ 的第 $i$ 列）共给出 $N(d+2) = {spec.sobol_n * (d + 2)}$
次模拟。记 $f$ 为目标量（换算后的指数值、较基期的变化或 $\\bar R$），输出以其均值中心化，$V = \\operatorname{{Var}}[f(\\mathbf A), f(\\mathbf B)]$：
$$S_i = \\frac{{\\frac{{1}}{{N}} \\sum_{{j=1}}^{{N}} f(\\mathbf B)_j \\big(f(\\mathbf{{AB}}_i)_j - f(\\mathbf A)_j\\big)}}{{V}},$$ [@saltelli2010]
$$S_{{Ti}} = \\frac{{\\frac{{1}}{{2N}} \\sum_{{j=1}}^{{N}} \\big(f(\\mathbf A)_j - f(\\mathbf{{AB}}_i)_j\\big)^2}}{{V}}.$$ [@jansen1999]
$S_i$ 为输入 $i$ 单独造成的输出方差份额，$S_{{Ti}}$ 为输入 $i$ 参与（单独或交互）的方差份额，$S_{{Ti}} - S_i$ 衡量其交互作用。
{spec.confidence:.0%} 区间取 $N$ 行的 {spec.nboot} 次自助重抽样的百分位数。**收敛检验：** 用前 $N/2$ 行设计样本得到同样的
估计量 $S_i^{{N/2}}$、$S_{{Ti}}^{{N/2}}$，设计收敛后它们与 $N$ 行的估计值相差约一个标准误；两个指数的 $|S(N) - S(N/2)|$ 都不超过
其区间宽度且都位于 $[0, 1]$ 之内时，估计视为收敛。超出 $[0, 1]$ 的估计是设计样本过小造成的噪声，标注为“超出 [0, 1]：未收敛”，
不作为结果引用。
"""
