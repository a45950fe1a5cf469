"""The reviewer's sheets of the results workbook and the workbook's words in English and Chinese.

``zoneindex.export`` writes the workbook; this module says what goes on the sheets a reviewer of a composite
index looks for beyond the scores (uncertainty, Sobol indices, alternative method sets, revisions, data
quality, the raw data as a matrix), built from the stage tables the pipeline wrote, and names the sheets,
the README's lines and the column headers in the run's language. Column headers come from the one
glossary of the package (``zoneindex.glossary``); the table itself keeps the stage table's column names
in its first header row, so that a sheet reads back equal to its CSV.
"""
from __future__ import annotations

import pandas as pd

from zoneindex.errors import InputError
from zoneindex.glossary import header as glossary_header
from zoneindex.glossary import unit_text

# sheet key -> (English name, Chinese name); Excel allows 31 characters and none of []:*?/\ in a name
SHEET_NAMES = {
    "readme": ("README", "说明"),
    "scores": ("Scores", "得分"),
    "ranks": ("Ranks", "排名"),
    "contributions": ("Contributions", "贡献"),
    "weights": ("Weights", "权重"),
    "raw_matrix": ("Raw data matrix", "原始数据矩阵"),
    "ingested": ("Indicators raw", "原始指标"),
    "clean": ("Indicators clean", "清洗后指标"),
    "treatment_log": ("Treatment log", "数据处理记录"),
    "data_quality": ("Data quality", "数据质量"),
    "uncertainty": ("Uncertainty", "不确定性分析"),
    "uncertainty_ranks": ("Uncertainty of ranks", "排名不确定性"),
    "sobol": ("Sobol indices", "Sobol指数"),
    "alternatives": ("Alternative methods", "备选方法"),
    "revisions": ("Revised cells", "修订数据"),
    "validation": ("Validation", "校验"),
}
SHEET_NOTES = {
    "scores": ("scores of every node (columns, index first) per entity and year",
               "各主体各年份每个节点的得分（列：先总指数，再逐层向下）"),
    "ranks": ("rank among entities per year and node, 1 = best (studies with more than one entity)",
              "各年份各节点在全部主体中的排名，1 为最优（仅多主体研究）"),
    "contributions": ("points each node adds to its parent's and to the index's change since the base year",
                      "各节点对上级及总指数自基期以来变化的贡献（点）"),
    "weights": ("nominal weights, relative weights (sum to 1 among siblings) and effective weights in the index",
                "名义权重、组内相对权重（同级之和为 1）及在总指数中的有效权重"),
    "raw_matrix": ("the raw indicator values as a matrix: indicators × years (one entity), or entity and year × "
                   "indicators (several entities)",
                   "原始指标值矩阵：单一主体为指标 × 年份，多主体为主体与年份 × 指标"),
    "ingested": ("indicator values as read from the raw files, with their source file and row",
                 "从原始文件读取的指标值，附来源文件与行号"),
    "clean": ("indicator values after unit harmonisation, denominators and treatment, with flags",
              "经单位统一、分母换算和数据处理后的指标值，附标记"),
    "treatment_log": ("every value changed by the cleaning stage, before and after",
                      "数据清洗阶段改动的每个数值（改动前后）"),
    "data_quality": ("per indicator: count, availability, zeros, distribution statistics and the outlier flag "
                     "(|skewness| > 2 and kurtosis > 3.5, JRC rule); collinear indicator pairs",
                     "各指标的样本量、可得率、零值、分布统计量与异常值标记（JRC 规则：|偏度| > 2 且峰度 > 3.5）；"
                     "高度共线的指标对"),
    "uncertainty": ("5–95 % bands of every score over the Monte Carlo method combinations: nominal, mean, median, "
                    "q05, q95 and, with a base year, of the change since it with P(change > 0)",
                    "蒙特卡洛方法组合下各得分的 5%–95% 区间：基准结果、均值、中位数、q05、q95；有基期时另列"
                    "相对基期变化的区间及变化为正的概率"),
    "uncertainty_ranks": ("5–95 % bands of the ranks over the method combinations",
                          "方法组合下排名的 5%–95% 区间"),
    "sobol": ("first-order (S1) and total (ST) Sobol indices of each uncertain input with bootstrap intervals "
              "and the estimates on half the design (convergence)",
              "各不确定输入的一阶（S1）与总效应（ST）Sobol 指数、自助法置信区间及半样本估计（收敛性检验）"),
    "alternatives": ("the index under each alternative method set of the study: ranks beside the nominal ranks "
                     "and the rank shift (alternative − nominal), or one entity's index by year",
                     "研究所列各备选方法组合下的指数：与基准排名并列的排名及排名变动（备选 − 基准），"
                     "或单一主体各年份的指数"),
    "revisions": ("values of earlier years this edition reads differently from the previous edition "
                  "(corrections, revisions): the previous and the revised value and where the revision came from",
                  "本版与上一版读数不同的往年数值（更正、修订）：原值、修订值及修订来源"),
    "validation": ("checks, data coverage (share of entities with an observed value) and published references",
                   "校验结果、数据覆盖率（有观测值的主体比例）及与公开数值的比较"),
}
WORDS = {
    "study": ("Study", "研究"), "edition": ("Edition", "版次"), "years": ("Years", "年份"),
    "base_year": ("Base year", "基期"), "no_base": ("none (a cross-section each year)", "无（逐年横截面）"),
    "commit": ("Git commit", "Git 提交"), "seed": ("Seed", "随机种子"), "python": ("Python", "Python"),
    "packages": ("Packages", "软件包"), "methods": ("Method choices", "方法选择"), "sources": ("Sources", "数据来源"),
    "hashes": ("Input hashes (sha256)", "输入文件哈希值（sha256）"), "sheets": ("Sheets", "工作表"),
    "illustrative": ("ILLUSTRATIVE DATA", "示意数据"),
    "checks": ("Checks", "校验"),
    "coverage": ("Data coverage: share of entities with an observed value", "数据覆盖率：有观测值的主体比例"),
    "reference_comparison": ("Comparison with published values", "与公开数值的比较"),
    "collinearity": ("Collinear indicator pairs (|r| above the study's threshold)", "高度共线的指标对"),
    "rank_summary": ("Rank shifts against the nominal ranking, per method set", "各方法组合相对基准排名的变动"),
    "no_revisions": ("No value of an earlier year differs from the previous edition.", "与上一版相比，往年数值无修订。"),
    "shift": ("shift", "变动"), "page": ("page", "页"),
}
DEFAULT_NOTICE = ("Illustrative data: the values were generated to demonstrate the method; they are not statistics.",
                  "示意数据：数值为演示方法而生成，并非统计数据。")
# headers the glossary does not hold yet (Chinese only; English shows the column name itself)
FORBIDDEN = set("[]:*?/\\")


def words(key: str, lang: str) -> str:
    return WORDS[key][lang == "zh"]


def sheet_name(key: str, lang: str) -> str:
    """The sheet's name in ``lang``, refused if Excel would refuse it (longer than 31, or one of []:*?/\\)."""
    name = SHEET_NAMES[key][lang == "zh"]
    if len(name) > 31 or FORBIDDEN & set(name):
        raise InputError("not a valid Excel sheet name", value=name, expected="at most 31 characters, none of []:*?/\\")
    return name


def sheet_notes(lang: str, keys) -> list[tuple[str, str]]:
    """(sheet name, what it holds) for the README, for the sheets written."""
    return [(sheet_name(k, lang), SHEET_NOTES[k][lang == "zh"]) for k in keys if k in SHEET_NOTES]


def column_header(column: str, lang: str, names: dict | None = None) -> str:
    """The header of ``column`` in ``lang``: a node or entity name, the glossary's header, else the column."""
    try:
        return glossary_header(str(column), lang, names)
    except InputError:  # a column the glossary does not know in Chinese (a code, a method-set name): as it is
        return str(column)


def raw_matrix(ingested: pd.DataFrame, study, lang: str) -> tuple[pd.DataFrame, list[str]]:
    """The raw indicator values as a matrix, and the columns that are indicator codes.

    One entity: one row per indicator (code, name, unit) and one column per year, which is how a statistical
    yearbook prints a series. Several entities: one row per year and entity (latest year first) and one
    column per indicator, so that one year of all entities is a block of rows. Values missing in the raw
    files stay empty cells.
    """
    fw = study.framework
    order = [i for i in fw.indicators if i in set(ingested["indicator"])]
    order += sorted(set(ingested["indicator"]) - set(order))
    if ingested["entity"].nunique() == 1:
        wide = ingested.pivot_table(index="indicator", columns="year", values="value", aggfunc="first", dropna=False)
        wide = wide.reindex(order)
        units = ingested.groupby("indicator")["unit"].first()
        table = pd.DataFrame({"indicator": order, "name": [_name(fw, i, lang) for i in order],
                              "unit": [unit_text(units.get(i), lang) for i in order]})
        for year in wide.columns:
            table[int(year)] = wide[year].to_numpy()
        return table, []
    wide = ingested.pivot_table(index=["year", "entity"], columns="indicator", values="value", aggfunc="first",
                                dropna=False).reindex(columns=order)
    wide = wide.sort_index(level=["year", "entity"], ascending=[False, True])
    return wide.reset_index().rename_axis(columns=None), order


def rank_shift_table(shifts: pd.DataFrame, lang: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ranks under each alternative method set beside the nominal ranks with each set's rank shift
    (alternative − nominal: positive = a worse rank), and per set the mean and largest absolute shift."""
    variants = [c for c in shifts.columns if c not in ("entity", "nominal")]
    table, shift = shifts.copy(), {name: f"{name} {words('shift', lang)}" for name in variants}
    for name in variants:
        table[shift[name]] = shifts[name] - shifts["nominal"]
    moved = table[list(shift.values())].abs()
    summary = pd.DataFrame({"method_set": variants, "mean_abs_rank_shift": moved.mean().to_numpy(),
                            "max_abs_rank_shift": moved.max().to_numpy()})
    return table, summary


def trajectory_table(trajectories: pd.DataFrame, lang: str) -> pd.DataFrame:
    """One entity's index by year under each method set, with each set's difference from the nominal."""
    variants = [c for c in trajectories.columns if c not in ("year", "nominal")]
    table = trajectories.copy()
    for name in variants:
        table[f"{name} − {column_header('nominal', lang)}"] = trajectories[name] - trajectories["nominal"]
    return table


def _name(fw, code, lang) -> str:
    return fw.name(code, lang) if code in fw.table.index else ""
