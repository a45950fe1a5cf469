"""The one glossary of the write-up: method terms and table headers in English and Chinese.

Every Chinese method term of the notebooks, the generated method text, the summary and the figures comes from
TERMS, so that 归一化, 权重 or 熵权法 read the same everywhere. HEADERS names every column of every table the
notebooks show; :func:`headers` renames a table's columns into the run's language and refuses a column it does
not know in Chinese (an English header in a Chinese report is a bug to fix here, not something to let through).
Codes (indicator, node and entity codes) and entity or indicator names are data and pass unchanged.
"""
from __future__ import annotations

import re

from zoneindex.errors import InputError

LANGUAGES = ("en", "zh")

# key -> (English, Chinese): the method and statistical terms, in the usage of Chinese index reports
TERMS: dict[str, tuple[str, str]] = {
    "normalisation": ("normalisation", "标准化"),
    "weights": ("weights", "权重"),
    "aggregation": ("aggregation", "加总"),
    "imputation": ("imputation", "缺失值插补"),
    "outliers": ("outlier treatment", "异常值处理"),
    "screening": ("screening", "样本筛选"),
    "arithmetic": ("arithmetic mean", "算术平均"),
    "geometric": ("geometric mean", "几何平均"),
    "harmonic": ("harmonic mean", "调和平均"),
    "generalised": ("generalised mean", "广义幂平均"),
    "mazziotta_pareto": ("Mazziotta–Pareto index", "Mazziotta–Pareto 指数"),
    "entropy": ("entropy weight method", "熵权法"),
    "critic": ("CRITIC weights", "CRITIC 赋权法"),
    "ahp": ("analytic hierarchy process", "层次分析法"),
    "pca": ("principal-component weights", "主成分赋权法"),
    "fixed": ("fixed weights", "固定权重"),
    "equal": ("equal weights", "等权重"),
    "equal_indicators": ("equal weight per indicator", "指标等权"),
    "combined": ("combination weighting", "组合赋权法"),
    "additive": ("additive combination", "线性加权组合"),
    "multiplicative": ("multiplicative combination", "乘法合成"),
    "game_theory": ("game-theory combination", "博弈论组合赋权"),
    "level_difference": ("level-difference maximisation", "级差最大化组合赋权"),
    "optimised": ("optimised weights", "优化权重"),
    "ahp_panel": ("expert-panel analytic hierarchy process", "专家群组层次分析法"),
    "topsis": ("TOPSIS (closeness to the ideal)", "TOPSIS 法（逼近理想解排序法）"),
    "grey_relational": ("grey relational analysis", "灰色关联分析"),
    "copeland": ("Copeland outranking", "Copeland 优序法"),
    "vector": ("vector normalisation", "向量归一化"),
    "benchmark": ("benchmark-value scoring", "标杆值法"),
    "ratio_to_base": ("ratio to the base year", "基期比值法"),
    "chained_growth": ("chain-linked growth", "环比链接增长"),
    "goalposts": ("fixed goalposts", "固定阈值法"),
    "minmax": ("min-max normalisation", "极差标准化（min-max）"),
    "zscore": ("z-score standardisation", "Z-score 标准化"),
    "rank": ("ranks", "排序法"),
    "percentile_rank": ("percentile ranks", "百分位排序法"),
    "distance_to_reference": ("distance to a reference", "参照对象比值法"),
    "efficacy": ("efficacy coefficient", "功效系数法"),
    "sensitivity": ("sensitivity analysis", "敏感性分析"),
    "uncertainty": ("uncertainty analysis", "不确定性分析"),
    "sobol": ("Sobol index", "Sobol 指数"),
    "contribution": ("contribution", "贡献"),
    "base_year": ("base year", "基期"),
    "nominal_weight": ("nominal weight", "名义权重"),
    "relative_weight": ("relative weight", "组内相对权重"),
    "effective_weight": ("effective weight", "有效权重"),
    "index": ("index", "指数"),
    "dimension": ("dimension", "维度"),
    "sub_area": ("sub-area", "子领域"),
    "indicator": ("indicator", "指标"),
    "entity": ("entity", "对象"),
    "rebasing": ("rebasing", "基期换算"),
    "rank_shift": ("rank shift", "排名变动"),
    "weight_noise": ("weight noise", "权重扰动"),
    "discrete": ("discrete choice", "离散选择"),
    "value": ("index value", "指数值"),
    "change": ("change since the base year", "较基期变化"),
}

# column header -> (English, Chinese) of every table the notebooks show
HEADERS: dict[str, tuple[str, str]] = {
    # framework, weights and scores
    "code": ("code", "代码"), "level": ("level", "层级"), "parent": ("parent", "上级"),
    "name_en": ("name (English)", "英文名称"), "name_zh": ("name (Chinese)", "中文名称"), "name": ("name", "名称"),
    "unit": ("unit", "单位"), "direction": ("direction", "方向"), "weight": ("nominal weight", "名义权重"),
    "source_type": ("source type", "数据来源类型"), "basis": ("basis", "依据"),
    "effective_weight_%": ("effective weight", "有效权重"), "relative_weight": ("relative weight", "组内相对权重"),
    "effective_weight": ("effective weight", "有效权重"), "entity": ("entity", "对象"), "year": ("year", "年份"),
    "indicator": ("indicator", "指标"), "value": ("value", "数值"), "raw_value": ("raw value", "原始值"),
    "normalised": ("normalised value", "标准化值"), "change": ("change", "变化（点）"),
    "to_parent": ("points of the parent's change", "对上级变化的贡献（点）"),
    "to_index": ("points of the index change", "对指数变化的贡献（点）"),
    "share_of_index_change": ("share of the index change", "占指数变化的比重"),
    "weighted_term": ("weighted term", "加权项"), "source_row": ("source row", "来源行"), "symbol": ("symbol", "符号"), "meaning": ("meaning", "含义"), "step": ("step", "步骤"),
    "formula": ("formula", "公式"), "result": ("result", "结果"), "node": ("node", "节点"),
    # raw files and what was read
    "file": ("file", "文件"), "title": ("title", "标题"), "publisher": ("publisher", "发布机构"), "url": ("address", "网址"),
    "retrieved": ("retrieved", "获取日期"), "licence": ("licence", "许可"), "illustrative": ("illustrative", "示意数据"),
    "sha256": ("sha256", "sha256 校验值"), "rows read": ("rows read", "读取行数"),
    "left out: indicator not chosen": ("left out: indicator not chosen", "舍弃：未选用的指标"),
    "left out: entity excluded": ("left out: entity excluded", "舍弃：排除的对象"),
    "entities excluded": ("entities excluded", "排除的对象"), "rows kept": ("rows kept", "保留行数"),
    "values kept": ("values kept", "保留数值个数"), "values": ("values", "数值个数"), "entities": ("entities", "对象数"),
    "indicators": ("indicators", "指标数"), "years": ("years", "年份"), "public": ("public", "公开数据"),
    "source_file": ("source file", "来源文件"), "source": ("source", "来源"), "rule": ("rule", "比对规则"),
    "decimals": ("decimals", "小数位数"), "rounding": ("rounding", "舍入方式"), "tolerance": ("tolerance", "容差"),
    "note": ("note", "说明"), "sheet": ("sheet", "工作表"), "row": ("row", "行"), "column": ("column", "列"),
    "cell": ("cell", "单元格"), "read as": ("read as", "读取为"), "how": ("how", "处理方式"),
    "typed": ("typed", "录入内容"), "previous": ("previous value", "原数值"), "revised": ("revised value", "修订值"),
    # clean
    "observed": ("observed", "观测值"), "missing": ("missing", "缺失值"), "imputed": ("imputed", "插补值"),
    "method": ("method", "方法"), "before": ("before", "处理前"), "after": ("after", "处理后"),
    # validate
    "check": ("check", "检查项"), "status": ("status", "结果"), "detail": ("detail", "说明"),
    "available": ("available", "有值比例"), "zeros": ("zeros", "零值比例"), "unique": ("distinct values", "不同取值数"),
    "mean": ("mean", "均值"), "sd": ("standard deviation", "标准差"), "min": ("minimum", "最小值"), "max": ("maximum", "最大值"),
    "skew": ("skewness", "偏度"), "kurtosis": ("kurtosis", "峰度"), "jrc_outlier_flag": ("JRC outlier flag", "JRC 异常值标记"),
    "outliers": ("outlier treatment", "异常值处理"), "denomination": ("divided by a denominator", "除以分母"),
    "steps": ("year-on-year steps", "逐年变动次数"), "same_direction": ("share moving with the parent", "与上级同向比例"),
    "against": ("against", "比较对象"), "target": ("target", "目标量"), "n": ("n", "样本数"), "pearson": ("Pearson r", "Pearson 相关系数"),
    "pearson_p": ("Pearson p", "Pearson p 值"), "spearman": ("Spearman ρ", "Spearman 相关系数"),
    "spearman_p": ("Spearman p", "Spearman p 值"), "group": ("group", "组"),
    # expert-panel AHP: each expert's consistency and priorities
    "expert": ("expert", "专家"), "lambda_max": ("λ_max", "最大特征根 λ_max"), "ci": ("CI", "一致性指标 CI"),
    "ri": ("RI", "随机一致性指标 RI"), "cr": ("CR", "一致性比率 CR"), "consistent": ("CR within the limit", "通过一致性检验"),
    "kept": ("kept", "是否保留"), "low": ("lowest expert", "专家最低值"), "high": ("highest expert", "专家最高值"), "a": ("first", "指标一"), "b": ("second", "指标二"),
    "r": ("r", "相关系数"), "children": ("children", "下级个数"), "cronbach_alpha": ("Cronbach's α", "Cronbach α 系数"),
    "pc1_share": ("variance share of the first component", "第一主成分方差贡献率"), "kmo": ("KMO", "KMO 值"),
    "nominal": ("nominal", "基准方案"), "mean_abs_rank_shift": ("mean absolute rank shift", "平均绝对排名变动"),
    "max_abs_rank_shift": ("largest absolute rank shift", "最大绝对排名变动"), "spearman_rho": ("Spearman ρ", "Spearman 相关系数"),
    # uncertainty and sensitivity
    "median": ("median", "中位数"), "q05": ("5 % quantile", "5% 分位数"), "q95": ("95 % quantile", "95% 分位数"),
    "change_nominal": ("change (nominal)", "较基期变化（基准）"), "change_median": ("change (median)", "较基期变化（中位数）"),
    "change_q05": ("change (5 %)", "较基期变化（5%）"), "change_q95": ("change (95 %)", "较基期变化（95%）"),
    "p_change_positive": ("P(change > 0)", "上升概率"), "input": ("input", "不确定输入"), "S1": ("S_i", "一阶 Sobol 指数"),
    "S1_lo": ("S_i low", "一阶指数下限"), "S1_hi": ("S_i high", "一阶指数上限"), "ST": ("S_Ti", "总 Sobol 指数"),
    "ST_lo": ("S_Ti low", "总指数下限"), "ST_hi": ("S_Ti high", "总指数上限"), "S1_half": ("S_i (N/2)", "一阶指数（半样本）"),
    "ST_half": ("S_Ti (N/2)", "总指数（半样本）"), "converged": ("converged", "已收敛"),
    "median_rank": ("median rank", "排名中位数"), "q05_rank": ("rank (5 %)", "排名（5%）"), "q95_rank": ("rank (95 %)", "排名（95%）"),
    # revisions and figures
    "previous_value": ("previous value", "上一版数值"), "current_value": ("this edition", "本版数值"),
    "framework_and_methods": ("framework and methods", "框架与方法调整"), "revised_data": ("revised data", "数据修订"),
    "new_data": ("new data", "新增数据"), "figure": ("figure", "图"), "lang": ("language", "语言"),
    "files": ("files", "文件"), "caption": ("caption", "图题"),
    "reused": ("taken over, not drawn", "沿用，未重绘"),
    "current": ("this edition", "本版数值"), "total_change": ("total change", "总变化"),
    "method_effect": ("framework and methods", "框架与方法调整的影响"), "revised_data_effect": ("revised data", "数据修订的影响"),
    "new_data_effect": ("new data", "新增数据的影响"), "compared_with": ("compared with", "比较对象"),
    "base_value": ("base-year value", "基期值"), "ratio": ("ratio", "比值"), "score": ("score", "得分"),
    "base_percentile": ("percentile of the base", "基期值百分位"), "index_value": ("index", "指数值"),
    "flag": ("flag", "标记"), "constant": ("constant", "常数指标"), "rank": ("rank", "排名"),
    "nominal_rank": ("nominal rank", "基准排名"), "method_set": ("method set", "方法组合"), "mean_rank": ("mean rank", "平均排名"), "form": ("form", "形式"),
    "deviation": ("deviation", "偏离度"), "weighted_gap": ("weighted gap", "加权差距"),
    "obstacle_pct": ("obstacle degree", "障碍度"), "grade": ("grade", "等级"), "grade_zh": ("grade (Chinese)", "等级（中文）"),
    "grade_en": ("grade (English)", "等级（英文）"), "alternative": ("alternative method set", "备选方法组合"),
}

# headers that carry a year or a code: pattern -> (English, Chinese) templates
HEADER_PATTERNS: list[tuple[str, str, str]] = [
    (r"ours_(\d{4})", r"ours (\1)", r"本研究 \1 年数值"),
    (r"U_(\w+)", r"U_\1", r"U_\1"),
]
HEADERS.update({"ours": ("ours", "本研究数值"), "ours_rounded": ("ours, rounded", "本研究数值（舍入后）"),
                "data_year": ("data year", "数据年份"), "match": ("match", "是否相符"), "imputation": ("imputed", "插补个数"), "screening": ("screened", "筛除个数"),
                "entity name": ("entity name repaired", "名称修复个数"), "conversion": ("converted", "单位换算个数")})

# cell values that are words, not data (status of a check, step of the treatment log, Sobol targets …)
VALUES: dict[str, tuple[str, str]] = {
    "pass": ("pass", "通过"), "fail": ("fail", "未通过"), "info": ("for information", "仅供参考"),
    "imputation": ("imputation", "插补"), "outliers": ("outliers", "异常值处理"), "screening": ("screening", "样本筛选"),
    "entity name": ("entity name", "对象名称修复"), "denomination": ("denomination", "除以分母"),
    "conversion": ("unit conversion", "单位换算"), "unit": ("unit conversion", "单位换算"),
    "change": ("change since the base year", "较基期变化"), "value": ("index value", "指数值"),
    "rank_shift": ("rank shift", "排名变动"), "weights": ("weights", "权重"), "aggregation": ("aggregation", "加总方法"),
    "normalisation": ("normalisation", "标准化方法"), "outlier": ("outlier treatment", "异常值处理"),
    "index": ("the index", "指数"), "parent": ("its parent", "上级"), "True": ("yes", "是"), "False": ("no", "否"),
    "outside [0, 1]: not converged": ("outside [0, 1]: not converged", "超出 [0, 1]：未收敛"),
    "directional coherence": ("directional coherence", "方向一致性"), "correlations": ("correlations", "相关分析"),
    "collinearity": ("collinearity", "共线性"), "group coherence": ("group coherence", "组内一致性"),
    "added": ("added", "新增"), "dropped": ("dropped", "删除"), "redefined": ("redefined", "重新定义"),
    "not computed: needs two or more varying children and more entities than children":
        ("not computed: needs two or more varying children and more entities than children",
         "未计算：需要至少两个有变化的下级，且对象数多于下级数"),
    "context": ("shown beside the results", "仅作对照"), "match": ("must be reproduced", "须精确复现"),
    "half_even": ("half to even", "四舍六入五成双"), "half_up": ("half up", "四舍五入"),
    "observed": ("observed", "观测值"), "missing": ("missing", "缺失"), "imputed": ("imputed", "插补"),
}

# the checks of the validate stage, by pattern (they carry numbers): English pattern -> Chinese template
CHECKS_ZH: list[tuple[str, str]] = [
    (r"weights sum to 1 in every group", "每组权重之和为 1"),
    (r"index computed for every entity in the edition year", "本版年份每个对象都有指数值"),
    (r"base year (\d+) = 100 for every node", r"基期 \1 年所有节点等于 100"),
    (r"contributions of children add up to the parent's change", "下级贡献之和等于上级变化"),
    (r"indicator contributions add up to the index change", "指标贡献之和等于指数变化"),
    (r"normalised values move with direction × raw value", "标准化值与“方向 × 原始值”同向变动"),
    (r"normalised values inside \[(.+), (.+)\]", r"标准化值位于 [\1, \2] 之内"),
    (r"published values reproduced at (\d+) decimals(.*)", r"按 \1 位小数复现公开数值\2"),
    (r"published headline figures set beside the results", "公开的主要数字（仅作对照）"),
    (r"largest \|sum - 1\| over (\d+) groups", r"\1 组中 |和 − 1| 的最大值"),
    (r"of (\d+) entities in (\d+); (\d+) never have an index: (.+)", r"\2 年共 \1 个对象；\3 个始终没有指数值：\4"),
    (r"of (\d+) entities in (\d+)", r"\2 年共 \1 个对象"),
    (r"largest \|value - 100\| over (\d+) node values", r"\1 个节点值中 |值 − 100| 的最大值"),
    (r"largest \|sum of children - parent change\| \(points\)", "|下级贡献之和 − 上级变化| 的最大值（点）"),
    (r"largest \|sum over indicators - index change\| \(points\)", "|指标贡献之和 − 指数变化| 的最大值（点）"),
    (r"year-on-year steps of one entity that move the wrong way", "逐年变动方向错误的次数"),
    (r"context only: the published index was computed from unpublished data",
     "仅作对照：公开的指数由未公开的数据计算"),
    (r"constant indicators \(one value in every entity and year\)", "常数指标（所有对象和年份取值相同）"),
    (r"no indicator has one value in every entity and year", "没有指标在所有对象和年份取值相同"),
    (r"small bases under ratio to base \(a value >= (\S+) × the base-year value\)",
     r"基期比值法下的过小基期值（某年数值不低于基期值的 \1 倍）"),
    (r"published \((\d+) release\)", r"已发布（\1 年版）"),
    (r"proposed \(methodology note (.+)\)", r"建议增设（方法说明 \1）"),
    (r"proposed", "建议增设"),
    (r"yearbook \((.+)\)", r"统计年鉴（\1）"),
    (r"latest year in report \((\d+) or (\d+); not stated\)", r"报道所述最新年份（\1 或 \2 年，未注明）"),
    (r"latest year in report", "报道所述最新年份"),
]

# pieces of the longer check details (they list indicators and entities): replaced one after the other
FRAGMENTS_ZH: list[tuple[str, str]] = [
    (r"(\S+) = (\S+) in all (\d+) values? \((\d+) entit(?:y|ies), (\d+) years?\)", r"\1 在全部 \3 个数值中均为 \2（\4 个对象，\5 年）"),
    (r": it carries no information \(the same score everywhere, 100 under ratio to base; no weight from entropy or "
     r"CRITIC; missing under min-max\); review or drop it",
     "：不含任何信息（各处得分相同，基期比值法下为 100；熵权法和 CRITIC 法赋予零权重；极差标准化下为缺失），请复核或删除"),
    (r"no indicator reaches (\S+) times its base-year value", r"没有指标达到其基期值的 \1 倍"),
    (r"(\d+) entity-indicator pairs reach (\S+) times the base-year value \(a score of (\S+) or more\) in some year: ",
     r"\1 个对象-指标组合在某年达到基期值的 \2 倍（得分不低于 \3）："),
    (r"(\S+) (\S+) ×(\S+) in (\d{4}) \(base (\S+)\)", r"\1 \2 ×\3（\4 年，基期值 \5）"),
    (r"; entities: (.+?)\. Rules against a tiny base: methods\.normalisation base_floor_quantile, base_floor_value, "
     r"form: log_ratio, or goalposts instead",
     r"；涉及对象：\1。应对过小基期值的规则：methods.normalisation 的 base_floor_quantile、base_floor_value、"
     r"form: log_ratio，或改用固定阈值法"),
    (r" \(rule in use: none, the plain ratio\)", "（所用规则：无，即直接比值）"),
    (r" \(rule in use: (.+)\)$", r"（所用规则：\1）"),
]

# units of the shipped frameworks (the framework's unit column is English); unknown units pass as they are
UNITS_ZH: dict[str, str] = {
    "USD 100m": "亿美元", "count": "个", "RMB 100m (亿元)": "亿元", "per 10k employees": "每万名从业人员",
    "%": "%", "tce per 10k RMB": "吨标准煤/万元", "hours": "小时", "share (0-1)": "比例（0–1）", "2018 = 100": "2018 = 100",
    "years": "年", "Percent": "%", "Score": "分值",
}


def unit_text(unit, lang: str) -> str:
    """The framework's unit in ``lang`` (Chinese for the units of the shipped studies)."""
    text = "" if unit is None or (isinstance(unit, float) and unit != unit) else str(unit)
    return UNITS_ZH.get(text, text) if lang == "zh" else text


def term(key: str, lang: str) -> str:
    """The glossary's term for ``key`` in ``lang``."""
    if key not in TERMS:
        raise InputError("term not in the glossary", value=key, expected=f"one of {sorted(TERMS)}")
    return TERMS[key][_language(lang)]


def header(column: str, lang: str, names: dict | None = None) -> str:
    """One column header in ``lang``: a glossary header, else a node or entity name from ``names``, else (in
    English) the column itself; in Chinese an unknown header is an error."""
    if names and column in names:
        return names[column]
    if column in HEADERS:
        return HEADERS[column][_language(lang)]
    for pattern, english, chinese in HEADER_PATTERNS:
        if (m := re.fullmatch(pattern, column)) is not None:
            return m.expand(chinese if lang == "zh" else english)
    if lang == "zh" and _has_latin_word(column):
        raise InputError("table header not in the glossary", value=column,
                         expected="a header of zoneindex.glossary.HEADERS (add it there, in both languages)")
    return column


def headers(frame, lang: str, names: dict | None = None, keep: tuple[str, ...] = ()):
    """The table with its column headers (and the index's name) in ``lang``; ``names`` maps codes to names
    (nodes, entities), ``keep`` lists columns that are data (codes, years) and stay as they are."""
    rename = {c: c if c in keep else header(str(c), lang, names) for c in frame.columns}
    out = frame.rename(columns=rename)
    if out.index.name is not None:
        out.index.name = header(str(out.index.name), lang, names)
    return out


def value_text(value, lang: str) -> str:
    """A cell that is a word (a check's status, a step of the treatment log …) in ``lang``; other cells as
    they are."""
    key = str(value)
    if key in VALUES:
        return VALUES[key][_language(lang)]
    if lang == "zh":
        for pattern, template in CHECKS_ZH:
            if (m := re.fullmatch(pattern, key)) is not None:
                return m.expand(template)
        for pattern, template in FRAGMENTS_ZH:
            key = re.sub(pattern, template, key)
    return key


def _has_latin_word(text: str) -> bool:
    """True for a header with lower-case Latin letters: a word, or a snake_case column name. Codes in capitals
    (CDHT, D1_2, NPEXP) and Chinese names are data, not headers."""
    return bool(re.search(r"[a-z]{2,}", text))


def _language(lang: str) -> int:
    if lang not in LANGUAGES:
        raise InputError("unknown language", value=lang, expected=f"one of {list(LANGUAGES)}")
    return LANGUAGES.index(lang)
