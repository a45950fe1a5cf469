"""The method prose the notebooks print, in English or Chinese: every choice the study makes, with its
parameters and formula, the notation of the write-up, and what the effective weights are.

The formulas come from the method families' ``FORMULAS`` / ``FORMULAS_ZH``; the terms from ``glossary``.
Levels that share one aggregation rule are described once, naming them together.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from zoneindex import aggregate, clean, glossary, normalise, weight
from zoneindex.errors import InputError
from zoneindex.framework import Framework
from zoneindex.study import Study, definitions_in_use

ROUNDING_ZH = {"half_even": "四舍六入五成双", "half_up": "四舍五入"}


def formula(family, name: str, lang: str) -> str:
    """The formula of method ``name`` of a family module (normalise, weight, aggregate) in ``lang``."""
    table = family.FORMULAS_ZH if lang == "zh" else family.FORMULAS
    if name not in table:
        raise InputError(f"no {'Chinese ' if lang == 'zh' else ''}formula for this method", value=name,
                         expected=f"an entry in {family.__name__}.{'FORMULAS_ZH' if lang == 'zh' else 'FORMULAS'}")
    return table[name]


def _options(spec: dict, lang: str) -> str:
    """A method's parameters, "(a = 1, b = x)" in English, "；a = 1，b = x" inside the Chinese brackets."""
    shown = [f"{key} = {json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value}"
             for key, value in spec.items() if key != "method"]
    if not shown:
        return ""
    return ("；" + "，".join(shown)) if lang == "zh" else " (" + ", ".join(shown) + ")"


def _choice(label: str, spec: dict, lang: str) -> str:
    """The bold lead of one method choice: "**Weights: `entropy` (shift = 0.01).** " or
    "**权重：熵权法（`entropy`；shift = 0.01）。** "."""
    name = spec["method"]
    if lang == "zh":
        term = glossary.TERMS[name][1] if name in glossary.TERMS else name
        return f"**{glossary.term(label, lang)}：{term}（`{name}`{_options(spec, lang)}）。** "
    return f"**{label.capitalize()}: `{name}`{_options(spec, lang)}.** "


def availability_rule(aggregation: dict, lang: str = "en") -> str:
    share = float(aggregation.get("min_availability", 0.5))
    if lang == "zh":
        return "至少有一个下级有值" if share == 0 else "全部下级都有值" if share >= 1 else f"至少 {share:.0%} 的下级有值"
    return ("at least one of its children has one" if share == 0 else "all of its children have one" if share >= 1
            else f"at least {share:.0%} of its children have one")


def level_name(framework: Framework, level: int, lang: str) -> str:
    """What the nodes of a level are called: the index, dimensions, sub-areas (by position in the tree)."""
    top = framework.max_level
    key = "index" if level == top else "dimension" if level == top - 1 else "sub_area" if level >= 2 else "indicator"
    word = glossary.term(key, lang)
    return word if lang == "zh" else word + ("" if key == "index" else "s")


def describe_score_methods(study: Study, lang: str = "en") -> str:
    """Markdown with the formulas and parameters of exactly the scoring choices of ``study``."""
    methods, fw = study.methods, study.framework
    zh = lang == "zh"
    norm = dict(methods["normalisation"])
    weights = dict(methods["weights"])
    parts = [_choice("normalisation", norm, lang) + formula(normalise, norm["method"], lang)]
    rescale = (r"各组内权重先换算为组内相对权重 $\tilde w_j = w_j / \sum_{i \in k} w_i$；某个下级无值时将其剔除，"
               r"其余下级重新换算权重；一个节点在" + availability_rule(methods["aggregation"], lang) + "时才有值。") if zh else (
        r" Within each group the weights are rescaled to $\tilde w_j = w_j / \sum_{i \in k} w_i$; a child with "
        r"no value is left out and the others are re-weighted, and a node gets a value when "
        + availability_rule(methods["aggregation"], lang) + ".")
    parts.append(_choice("weights", weights, lang) + formula(weight, weights["method"], lang) + rescale)
    if weights["method"] in ("fixed", "equal"):
        nominal = fw.table["weight"].astype(float) if weights["method"] == "fixed" else pd.Series(1.0, index=fw.table.index)
        parts.append(effective_weights_text(fw, nominal, lang))
    if methods["aggregation"].get("chain"):
        parts.append(aggregate.CHAIN_FORMULA_ZH if zh else aggregate.CHAIN_FORMULA)
        return "\n\n".join(parts)
    rules: dict[tuple, list[int]] = {}
    for level in range(2, fw.max_level + 1):
        rules.setdefault(aggregate.method_for_level(methods["aggregation"], level), []).append(level)
    # the aggregation's own settings (availability, non-positive values …) apply at every level
    settings = _options({k: v for k, v in methods["aggregation"].items() if k not in ("method", "by_level", "p")}, lang)
    for (method, p), levels in rules.items():
        named = ("、" if zh else ", ").join(f"{level_name(fw, level, lang)}" for level in reversed(levels))
        exponent = (f"，$p = {p}$" if zh else f" with $p = {p}$") if method == "generalised" else ""
        compared = method in aggregate.CROSS_ROW  # a position among the entities, not a mean of the children
        if zh:
            parts.append(f"**{glossary.term('aggregation', lang)}（{named}）：{glossary.term(method, lang)}"
                         f"（`{method}`{settings}）{exponent}。** {named}{'均' if len(levels) > 1 else ''}由各自的下级"
                         f"{'相互比较得到' if compared else '加权平均得到'}：" + formula(aggregate, method, lang))
        else:
            subject = (named[0].upper() + named[1:]) if len(levels) > 1 or levels[0] != fw.max_level else "The index"
            verb = "is" if levels == [fw.max_level] else "are"
            parts.append(f"**Aggregation ({named}): {glossary.term(method, lang)} (`{method}`){settings}{exponent}.** "
                         f"{subject} {verb} " + (f"scored from {'its' if verb == 'is' else 'their'} weighted children "
                                                 "by comparing the entities: " if compared else
                                                 f"the weighted mean of {'its' if verb == 'is' else 'their'} children: ")
                         + formula(aggregate, method, lang))
    compared = [method for method, _ in rules if method in aggregate.CROSS_ROW]
    if methods.get("rebase") and study.base_year is not None and len(compared) < len(rules):
        parts.append(("**基期换算。** " + aggregate.REBASE_FORMULA_ZH) if zh else ("**Rebasing.** " + aggregate.REBASE_FORMULA))
    if methods.get("rebase") and compared:
        named = ("、" if zh else ", ").join(glossary.term(method, lang) for method in compared)
        parts.append(f"{named}的结果是对象之间的相对位置，不做基期换算（基期值可能为 0）。" if zh else
                     f"The scores of {named} are positions among the entities and are not rebased (a base-year "
                     "score may be 0).")
    if study.base_year is not None:
        parts.append(("**贡献分解。** " + aggregate.DECOMPOSITION_FORMULA_ZH) if zh else
                     ("**Contributions.** " + aggregate.DECOMPOSITION_FORMULA))
    parts.append(describe_definitions(study, lang))
    return "\n\n".join(p for p in parts if p).strip()


def effective_weights_text(framework: Framework, nominal: pd.Series, lang: str = "en") -> str:
    """What the nominal weights are and how the tree's shape turns them into unequal effective weights: the
    largest and the smallest effective weight of an indicator, and why."""
    zh = lang == "zh"
    effective = framework.effective_weights(nominal).reindex(framework.indicators)
    raw = nominal.reindex(framework.codes).astype(float)
    raw = raw[raw.index != framework.root]
    distinct = sorted(set(raw.round(6)))
    listed = ("、" if zh else " and ").join(f"{v:g}" for v in distinct)
    high, low = effective.idxmax(), effective.idxmin()

    def siblings(code: str) -> int:
        parent = framework.table.at[code, "parent"]
        return int((framework.table["parent"] == parent).sum())

    def place(code: str) -> str:
        parent = framework.name(framework.table.at[code, "parent"], lang)
        n = siblings(code)
        if zh:
            return f"是“{parent}”下唯一的指标" if n == 1 else f"是“{parent}”下 {n} 个指标之一"
        return f"is the only indicator of {parent}" if n == 1 else f"is one of {n} indicators of {parent}"

    ratio = effective[high] / effective[low] if effective[low] > 0 else float("inf")
    # the spread comes from the tree alone when the two indicators have the same nominal weight
    from_tree = bool(np.isclose(raw[high], raw[low]))
    odd = raw[raw.round(6) != pd.Series(raw.round(6)).mode().iloc[0]]  # the nodes off the common weight
    if zh:
        values = (f"全部相等（均为 {distinct[0]:g}）" if len(distinct) == 1 else f"取值为 {listed}" + (
            "，其中" + "、".join(f"{framework.name(c, lang)}为 {raw[c]:g}" for c in odd.index[:4])
            + ("等" if len(odd) > 4 else "") + "，其余为 " + f"{raw.mode().iloc[0]:g}" if 0 < len(odd) <= 8 else ""))
        head = (f"**{glossary.term('effective_weight', lang)}。** 框架表给出的名义权重{values}。指标在总指数中的有效权重"
                " $\\omega_j$ 是其自身及各上级组内相对权重的乘积，因此还取决于框架的结构：一组的下级越少，每个下级分得越多。")
        spread = (f"{len(effective)} 个指标中，有效权重最大的是{framework.name(high, lang)}（{effective[high]:.1%}），"
                  f"它{place(high)}；最小的是{framework.name(low, lang)}（{effective[low]:.1%}），它{place(low)}；"
                  f"前者是后者的 {ratio:.1f} 倍")
        return head + spread + (f"；两者的名义权重同为 {raw[high]:g}，这一差别完全来自框架结构。" if from_tree else "。")
    values = (f"are all equal ({distinct[0]:g})" if len(distinct) == 1 else f"take the values {listed}" + (
        " (" + ", ".join(f"{framework.name(c, lang)} {raw[c]:g}" for c in odd.index[:4])
        + (" …" if len(odd) > 4 else "") + f", the others {raw.mode().iloc[0]:g})" if 0 < len(odd) <= 8 else ""))
    head = (f"**Effective weights.** The nominal weights of the framework table {values}. An indicator's "
            "effective weight $\\omega_j$ in the index is the product of its own and its ancestors' relative weights, "
            "so it also depends on the shape of the tree: the fewer children a group has, the more each of them weighs. ")
    spread = (f"Of the {len(effective)} indicators, {framework.name(high, lang)} weighs most ({effective[high]:.1%}): "
              f"it {place(high)}; {framework.name(low, lang)} weighs least ({effective[low]:.1%}): it {place(low)}. "
              f"The first weighs {ratio:.1f} times the second")
    return head + spread + (f"; both have the nominal weight {raw[high]:g}, so the difference comes from the tree alone."
                            if from_tree else ".")


NOTATION = [  # symbol, English meaning, Chinese meaning
    (r"$x_{j,t}$", "clean raw value of indicator $j$ in year $t$ (one entity)", "指标 $j$ 在 $t$ 年的原始值（经清洗）"),
    (r"$d_j$", "direction of indicator $j$: $+1$ higher is better, $-1$ lower is better", "指标方向：$+1$ 为正向，$-1$ 为逆向"),
    (r"$b$", "base year", "基期"),
    (r"$v_{j,t}$", "normalised value of child $j$ (written $r$, $s$ or $z$ in the normalisation formulas)",
     "下级 $j$ 的标准化值（标准化公式中记为 $r$、$s$ 或 $z$）"),
    (r"$k$", r"a group: node $k$ and its children $j \in k$", r"一个组：节点 $k$ 及其下级 $j \in k$"),
    (r"$w_j$", "nominal weight of node $j$ (framework table or weighting method)", "节点 $j$ 的名义权重（框架表或赋权方法）"),
    (r"$\tilde w_j$", "relative weight of $j$ within its group (sums to 1 over siblings)", "$j$ 的组内相对权重（同组之和为 1）"),
    (r"$\omega_j$", "effective weight of $j$ in the index: the product of relative weights up the tree",
     "$j$ 在总指数中的有效权重：自身及各上级相对权重的乘积"),
    (r"$A_{k,t}$", "aggregate of node $k$ in year $t$ before rebasing", "节点 $k$ 在 $t$ 年基期换算前的加总值"),
    (r"$D_{k,t}$", "aggregate of node $k$ after rebasing ($D_{k,b} = 100$); the codes D1, D2 … name dimensions "
     "and are not this symbol", "节点 $k$ 基期换算后的值（$D_{k,b} = 100$）；代码 D1、D2 … 是维度的名称，并非此符号"),
    (r"$I_t$", "the index in year $t$ (the value of the top node)", "总指数在 $t$ 年的值（最高层节点）"),
    (r"$c_j$", "contribution of $j$ to its parent's change since the base year (points)", "$j$ 对上级较基期变化的贡献（点）"),
]


def notation(lang: str = "en") -> str:
    """The symbol table of the write-up, as a markdown table."""
    head = ("**符号说明。** 全文统一使用下列符号。\n\n| 符号 | 含义 |\n|---|---|" if lang == "zh" else
            "**Notation.** These symbols mean the same throughout the write-up.\n\n| symbol | meaning |\n|---|---|")
    return head + "\n" + "\n".join(f"| {symbol} | {zh if lang == 'zh' else en} |" for symbol, en, zh in NOTATION)


# --- the clean stage and the study's definitions in Chinese (English: clean.py and study.py) -------------

IMPUTATION_TEXT_ZH = {
    "none": "缺失值保持缺失（NaN），加总时在有值的下级之间重新换算权重。",
    "mean": r"缺失值以{over}同一指标同年的均值代替：$\hat x_{e,j,t} = \frac{1}{|G_e|}\sum_{e' \in G_e} x_{e',j,t}$，"
            r"只用观测值计算。",
    "median": r"缺失值以{over}同一指标同年的中位数代替。",
    "linear": r"对象序列内部的缺失值在最近的两个观测年份之间线性插值：$\hat x_t = x_a + (x_b - x_a)\frac{t-a}{b-a}${gap}。",
    "locf": r"缺失值取该对象最近一次的观测值（向后结转）{gap}。",
}
OUTLIER_TEXT_ZH = (
    r"**异常值处理：JRC 规则（同 COINr 的 `Treat`）。** 当 $|\text{skew}| \ge 2$ 且 $\text{kurtosis} \ge 3.5$ 时"
    r"（样本偏度与超额峰度，含小样本修正，同 Excel 的 SKEW 与 KURT），该指标需要处理。只要仍需处理且处理的点少于"
    r" {winmax} 个，就把偏斜一侧等于极值的点改为向内的下一个值，再重新检验。若仍不满足，则改为对未处理的数值作变换："
    r"$x' = \ln\big(x - \min x + 0.01(\max x - \min x)\big)$。每个处理过的数值都有标记并记入处理日志。")


def describe_clean_methods(methods: dict, lang: str = "en") -> str:
    """The clean-stage choices (imputation, screening, outliers) in ``lang``."""
    if lang != "zh":
        return clean.describe_methods(methods)
    spec = dict(methods.get("imputation") or {"method": "none"})
    name = spec.pop("method")
    if name not in IMPUTATION_TEXT_ZH:
        raise InputError("no Chinese text for this imputation method", value=name,
                         expected="an entry in zoneindex.methodtext.IMPUTATION_TEXT_ZH")
    over = f"同一 `{spec['group']}` 组内各对象" if spec.get("group") else "全部对象"
    gap = f"，最多跨越 {spec['max_gap']} 年的缺口" if spec.get("max_gap") else ""
    parts = [f"**{glossary.term('imputation', 'zh')}：`{name}`。** "
             + IMPUTATION_TEXT_ZH[name].replace("{over}", over).replace("{gap}", gap)]
    screening = methods.get("screening")
    if screening:
        counted = "插补后计数" if screening.get("count") == "present" else "按原始文件中的观测值计数"
        parts.append(f"**{glossary.term('screening', 'zh')}。** 某对象某年有值的指标少于 "
                     f"{float(screening.get('min_availability', 0)):.0%} 时剔除（{counted}；不适用的单元格不计）。"
                     + "".join(f"在第 {level} 层，有值的节点少于 {float(share):.0%} 时剔除。"
                               for level, share in (screening.get("by_level") or {}).items()))
    outliers = dict(methods.get("outliers") or {"method": "none"})
    if outliers.get("method") == "jrc":
        parts.append(OUTLIER_TEXT_ZH.replace("{winmax}", str(outliers.get("winmax", 5))))
    else:
        parts.append(f"**{glossary.term('outliers', 'zh')}。** 不做异常值处理。")
    return "\n\n".join(parts)


def describe_definitions(study: Study, lang: str = "en") -> str:
    """The study's definitions beyond the method names (not-applicable cells, imputed aggregates, …)."""
    if lang != "zh":
        return _describe_definitions_en(study)
    used, parts = definitions_in_use(study), []
    for rule in used.get("not_applicable", []):
        entities = rule["entity"] if isinstance(rule["entity"], str) else "、".join(rule["entity"])
        years = rule.get("years") or {}
        span = f"在 {years.get('first', '…')}–{years.get('last', '…')} 年" if years else ""
        parts.append(f"**不适用。** {'、'.join(rule['codes'])} 对 {entities}{span}不适用：{rule['reason']}。这些单元格记为"
                     " n/a 而非缺失：不做插补，节点的有值比例只计适用的下级，全部下级都不适用的节点本身也不适用。")
    if "impute_missing" in used:
        spec = used["impute_missing"]
        over = f"同一 `{spec['group']}` 组内各对象" if spec.get("group") else "全部对象"
        levels = "、".join(map(str, spec.get("levels") or range(2, study.framework.max_level)))
        parts.append(f"**上级指标插补。** 第 {levels} 层适用但缺失的上级指标取{over}同年该节点的均值，"
                     r"$\hat A_{k,e,t} = \frac{1}{|G_e|}\sum_{e' \in G_e} A_{k,e',t}$，在 score_flags 表中标记为 "
                     "`imputed:aggregate-mean`。")
    for level, share in (used.get("availability_by_level") or {}).items():
        parts.append(f"**第 {level} 层的有值要求。** 第 {level} 层节点需要 {float(share):.0%} 的适用下级有值。")
    if "entities" in used:
        lists = used["entities"]
        said = {"include": "纳入", "exclude": "排除"}
        parts.append("**对象。** " + "".join(f"{said[key]}：{'、'.join(lists[key])}。" for key in ("include", "exclude")
                                            if lists.get(key)))
    if "passed_through" in used:
        parts.append(f"**不做标准化。** {'、'.join(used['passed_through'])} 以原始值直接作为得分（框架表 normalisation 列为 none）。")
    for file, how in (used.get("data_year") or {}).items():
        parts.append(f"**数据年份。** {file} 中的数值" + (f"属于其使用年份之前 {how} 年" if isinstance(how, int)
                                                    else f"的年份见其 {how} 列") + "；摄取表和清洗表中数据年份与使用年份并列保存。")
    for check in used.get("published_checks") or []:
        parts.append(f"**公开数值比对（{check['file']}）。** 本研究的数值按{ROUNDING_ZH.get(check['rounding'], check['rounding'])}保留 "
                     f"{check['decimals']} 位小数后，与每个公开数值之差不得超过 {check['tolerance']:g}；逐一比对并统计相符个数。")
    return "\n\n".join(parts)


def _describe_definitions_en(study: Study) -> str:
    """Markdown, for the notebooks, of exactly the definitions of :func:`definitions_in_use` the study uses."""
    used, parts = definitions_in_use(study), []
    for rule in used.get("not_applicable", []):
        entities = rule["entity"] if isinstance(rule["entity"], str) else ", ".join(rule["entity"])
        years = rule.get("years") or {}
        span = f" in {years.get('first', '…')}–{years.get('last', '…')}" if years else ""
        parts.append(f"**Not applicable.** {', '.join(rule['codes'])} for {entities}{span}: {rule['reason']}. These "
                     "cells are n/a, not missing: they are never imputed, a node's availability counts only the "
                     "children that apply, and a node none of whose children apply is n/a itself.")
    if "impute_missing" in used:
        spec = used["impute_missing"]
        over = f"the entities of the same `{spec['group']}`" if spec.get("group") else "all entities"
        parts.append(r"**Imputed aggregates.** A missing aggregate (at levels "
                     f"{', '.join(map(str, spec.get('levels') or range(2, study.framework.max_level)))}) that applies "
                     f"is the mean of that node over {over} in the same year, "
                     r"$\hat A_{k,e,t} = \frac{1}{|G_e|}\sum_{e' \in G_e} A_{k,e',t}$, flagged "
                     "`imputed:aggregate-mean` in the table score_flags.")
    for level, share in (used.get("availability_by_level") or {}).items():
        parts.append(f"**Availability at level {level}.** A node of level {level} needs {float(share):.0%} of its "
                     "applicable children.")
    if "entities" in used:
        lists = used["entities"]
        parts.append("**Entities.** " + " ".join(
            f"{key.capitalize()}d: {', '.join(lists[key])}." for key in ("include", "exclude") if lists.get(key)))
    if "passed_through" in used:
        parts.append(f"**Passed through.** {', '.join(used['passed_through'])} enter unnormalised: their raw value "
                     "is their score (framework column normalisation = none).")
    for file, how in (used.get("data_year") or {}).items():
        parts.append(f"**Data year.** The values of {file} refer to "
                     + (f"{how} year(s) before the year they are used for" if isinstance(how, int)
                        else f"the year in its column {how}") + "; the data year is kept beside the year in the "
                     "ingested and clean tables.")
    for check in used.get("published_checks") or []:
        parts.append(f"**Published values ({check['file']}).** Ours, rounded {check['rounding'].replace('_', '-')} to "
                     f"{check['decimals']} decimals, must be within {check['tolerance']:g} of each published value; "
                     "every value is compared and the matches are counted.")
    return "\n\n".join(parts)
