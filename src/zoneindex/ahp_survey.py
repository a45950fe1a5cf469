"""The expert questionnaire of expert-panel AHP (``zoneindex ahp-survey``): one bilingual workbook per study.

Sheets: ``instructions`` (中文 and English), ``scale`` (Saaty's 1–9 scale and its reciprocals with their
meaning), ``expert`` (id, name, affiliation, date) and one sheet per group of siblings of the framework, named
by the parent's code, listing every pair i < j with both names in both languages and a yellow judgment cell
that Excel and LibreOffice validate (a decimal between 1/9 and 9, shown as a fraction). The layout is the one
``zoneindex.ahp`` reads back. Written with xlsxwriter and a fixed creation date, so the same framework always
gives the same bytes.
"""
from __future__ import annotations

from pathlib import Path

import xlsxwriter

from zoneindex.ahp import (EXPERT_FIELDS, EXPERT_FIRST_ROW, EXPERT_SHEET, HEADER_ROW, INSTRUCTIONS_SHEET,
                           JUDGMENT_COLUMN, PAIR_COLUMNS, SCALE, SCALE_SHEET, judged_groups)
from zoneindex.errors import InputError
from zoneindex.export import fixed_created_date
from zoneindex.framework import Framework

MAX_SHEET_NAME = 31  # Excel's limit
INSTRUCTIONS = {
    "zh": ["专家咨询问卷：层次分析法（AHP）两两比较",
           "1. 请在“expert”工作表填写您的专家编号（必填）、姓名、工作单位和日期。",
           "2. 每个以指标代码命名的工作表是一组同级要素。每一行比较一对要素 A 与 B：请在黄色单元格中填写 A 相对于 B 的重要程度。",
           "3. A 比 B 重要时填 1–9 的整数（见“scale”工作表）；B 比 A 重要时填倒数 1/2–1/9（可输入 1/3、=1/3 或 0.33）；同等重要填 1。",
           "4. 请勿修改要素代码、增删行或重命名工作表；每对要素只需判断一次。",
           "5. 判断应尽量前后一致（如 A 比 B 重要、B 比 C 重要，则 A 应比 C 更重要）；一致性比率 CR > 0.1 的判断将按研究设定剔除或保留并予以说明。",
           "6. 填好后保存为 .xlsx 并交回；文件将连同来源记录作为原始数据保存，不会被修改。"],
    "en": ["Expert questionnaire: pairwise comparisons for the analytic hierarchy process (AHP)",
           "1. On sheet 'expert', fill in your expert id (required), name, affiliation and the date.",
           "2. Each sheet named by a code is one group of siblings. Each row compares a pair, A and B: in the yellow "
           "cell, state how much more important A is than B.",
           "3. If A is more important, type a whole number 1–9 (see sheet 'scale'); if B is more important, type the "
           "reciprocal 1/2–1/9 (as 1/3, =1/3 or 0.33); if they are equally important, type 1.",
           "4. Do not change the codes, add or delete rows, or rename sheets; judge each pair once.",
           "5. Keep your judgments consistent (if A matters more than B and B more than C, A should matter more than "
           "C); matrices with a consistency ratio CR > 0.1 are excluded or kept by the study's stated rule.",
           "6. Save as .xlsx and return it; it is kept unchanged as raw data, with a source record."],
}


def write_survey(framework: Framework, out: Path, title: dict, lang: str = "zh", answers: dict | None = None) -> Path:
    """Write the questionnaire for ``framework`` to ``out`` (a file, or a folder for ``ahp_survey.xlsx``);
    ``lang`` is the language listed first in every bilingual label. ``answers`` fills it in (the illustrative
    panel of scripts/make_illustrative_ahp.py): ``expert`` (field -> text), ``judgments`` (group -> {(A, B):
    a_AB}) and ``notice`` (written on the instructions sheet and beside every judgment)."""
    answers = answers or {}
    expert, judgments, notice = answers.get("expert", {}), answers.get("judgments", {}), answers.get("notice")
    if lang not in ("zh", "en"):
        raise InputError("unknown language", column="--lang", value=lang, expected="zh or en")
    out = Path(out)
    if out.is_dir() or not out.suffix:
        out = out / "ahp_survey.xlsx"
    groups = judged_groups(framework)
    if not groups:
        raise InputError("the framework has no group of two or more siblings to compare", file=framework.source,
                         expected="a framework with at least one aggregate of two or more children")
    long = [g for g in groups if len(g) > MAX_SHEET_NAME or any(ch in g for ch in "[]:*?/\\")]
    if long:
        raise InputError("a group code cannot name a sheet", file=framework.source, column="code", value=long[0],
                         expected=f"codes of at most {MAX_SHEET_NAME} characters without []:*?/\\")
    out.parent.mkdir(parents=True, exist_ok=True)
    order = ("zh", "en") if lang == "zh" else ("en", "zh")

    def both(zh: str, en: str) -> str:
        return " / ".join({"zh": zh, "en": en}[k] for k in order)

    book = xlsxwriter.Workbook(str(out), {"strings_to_numbers": False, "strings_to_formulas": False,
                                          "strings_to_urls": False})
    book.set_properties({"title": both(title.get("zh", title["en"]) + "：专家咨询问卷",
                                       title["en"] + ": expert questionnaire"),
                         "author": "zoneindex", "created": fixed_created_date()})
    bold = book.add_format({"bold": True})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    judgment = book.add_format({"bg_color": "#FFF2CC", "border": 1, "num_format": "# ?/?", "locked": False})
    entry = book.add_format({"bg_color": "#FFF2CC", "border": 1, "locked": False})

    sheet = book.add_worksheet(INSTRUCTIONS_SHEET)
    sheet.set_column(0, 0, 110, wrap)
    lines = [line for k in order for line in INSTRUCTIONS[k] + [""]]
    for r, line in enumerate([both(title.get("zh", title["en"]), title["en"]), notice or ""] + lines):
        sheet.write(r, 0, line, bold if r == 0 else None)

    sheet = book.add_worksheet(SCALE_SHEET)
    sheet.set_column(0, 0, 14)
    sheet.set_column(1, 2, 44)
    sheet.write_row(0, 0, ["a_ij", "含义（A 比 B）", "meaning (A compared with B)"], bold)
    scale_rows = [(str(k), zh, en) for k, (zh, en) in SCALE.items()]
    scale_rows += [(f"1/{k}", f"倒数：B 比 A {zh}", f"reciprocal: B has {en} over A") for k, (zh, en) in SCALE.items()
                   if k > 1]
    for r, row in enumerate(scale_rows, start=1):
        sheet.write_row(r, 0, row)

    sheet = book.add_worksheet(EXPERT_SHEET)
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1, 40)
    sheet.write_row(0, 0, [both("项目", "field"), both("填写", "value")], bold)
    for r, (field, zh, en) in enumerate(EXPERT_FIELDS, start=EXPERT_FIRST_ROW - 1):
        sheet.write(r, 0, both(zh, en))
        sheet.write(r, 1, expert.get(field, ""), entry)

    headers = {"first": both("要素 A 代码", "A code"), "second": both("要素 B 代码", "B code"),
               "first_zh": "要素 A", "first_en": "element A", "second_zh": "要素 B", "second_en": "element B",
               "judgment": both("判断 a_ij（A 比 B）", "judgment a_ij (A over B)"), "note": both("备注", "note")}
    for group, children in groups.items():
        sheet = book.add_worksheet(group)
        sheet.write_row(0, 0, [both("组", "group"), group, framework.name(group, "zh"), framework.name(group, "en")],
                        bold)
        sheet.write(1, 0, both(f"比较“{framework.name(group, 'zh')}”的 {len(children)} 个下级要素，共 "
                               f"{len(children) * (len(children) - 1) // 2} 对",
                               f"compare the {len(children)} elements of '{framework.name(group, 'en')}': "
                               f"{len(children) * (len(children) - 1) // 2} pairs"))
        sheet.write(2, 0, both("A 更重要填 1–9，B 更重要填 1/2–1/9（见 scale 工作表）",
                               "A more important: 1–9; B more important: 1/2–1/9 (see sheet scale)"))
        sheet.write_row(HEADER_ROW - 1, 0, [headers[c] for c in PAIR_COLUMNS], bold)
        sheet.set_column(0, 1, 14)
        sheet.set_column(2, 5, 30)
        sheet.set_column(JUDGMENT_COLUMN, JUDGMENT_COLUMN, 22)
        sheet.set_column(JUDGMENT_COLUMN + 1, JUDGMENT_COLUMN + 1, 30)
        r = HEADER_ROW
        for i, a in enumerate(children):
            for b in children[i + 1:]:
                sheet.write_row(r, 0, [a, b, framework.name(a, "zh"), framework.name(a, "en"), framework.name(b, "zh"),
                                       framework.name(b, "en")])
                value = judgments.get(group, {}).get((a, b))
                if value is None:
                    sheet.write_blank(r, JUDGMENT_COLUMN, None, judgment)
                else:
                    sheet.write_number(r, JUDGMENT_COLUMN, value, judgment)
                sheet.write(r, JUDGMENT_COLUMN + 1, notice if value is not None and notice else "", entry)
                r += 1
        sheet.data_validation(HEADER_ROW, JUDGMENT_COLUMN, r - 1, JUDGMENT_COLUMN, {
            "validate": "decimal", "criteria": "between", "minimum": 1 / 9 - 1e-6, "maximum": 9,
            "input_title": "1/9 … 9", "input_message": both("A 比 B：1–9；B 比 A：1/2–1/9", "A over B: 1–9; B over A: 1/2–1/9"),
            "error_title": both("超出标度", "off the scale"),
            "error_message": both("请输入 1–9 或 1/2–1/9", "type 1 to 9 or 1/2 to 1/9")})
        sheet.freeze_panes(HEADER_ROW, 2)
    book.close()
    return out
