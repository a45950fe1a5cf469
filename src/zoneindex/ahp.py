r"""Expert-panel AHP: one pairwise-comparison matrix per expert per group, read from filled questionnaires.

Each expert fills in the questionnaire workbook of ``zoneindex ahp-survey`` (one sheet per group of
siblings of the framework, one row per pair i < j, Saaty's 1–9 scale); the filled workbooks are raw data
(``data/raw/<study>/ahp/*.xlsx``, each with its ``.source.yaml`` record, checked like every raw file).
``weights: {method: ahp_panel}`` then derives, per group:

* each expert's priority vector by the eigenvector method (特征向量法), the row geometric mean (方根法) or
  the column-normalised row mean (和积法), with λ_max = (1/n) Σ_i (A w)_i / w_i, CI = (λ_max − n)/(n − 1)
  and CR = CI / RI_n, RI from the table in ``data/ahp_random_index.csv`` (Saaty 1980, the table of the
  Chinese textbooks; Saaty 2005; Donegan & Dodd 1991);
* experts above the CR limit listed, and excluded or kept by the study's explicit rule;
* the panel's priorities by AIJ (the element-wise weighted geometric mean of the judgments, which keeps
  the matrix reciprocal, then its priority vector) or AIP (the weighted geometric or arithmetic mean of the
  experts' priorities), Forman & Peniwati (1998), *EJOR* 108(1):165–169.

A bad entry is refused with the file, sheet, cell and what was expected.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter

from zoneindex import paths
from zoneindex.errors import InputError
from zoneindex.framework import Framework
from zoneindex.provenance import read_source_record
from zoneindex.rawfiles import open_workbook

OPTION = "methods.weights"
PRIORITY_METHODS = ("eigenvector", "geometric_mean", "sum_product")
RI_TABLES = ("saaty_1980", "saaty_2005", "donegan_dodd_1991")
RI_SOURCES = {
    "saaty_1980": "Saaty (1980) The Analytic Hierarchy Process, McGraw-Hill (n ≤ 10; the table of the Chinese "
                  "textbooks)",
    "saaty_2005": "Saaty (2005) Theory and Applications of the Analytic Network Process, RWS, p. 31",
    "donegan_dodd_1991": "Donegan & Dodd (1991) Mathematical and Computer Modelling 15(10):135–137",
}
# Saaty's scale: the odd grades have names, the even ones lie between their neighbours; 1/k says the second
# element of the pair is k times as important as the first.
SCALE = {1: ("同等重要", "equal importance"), 2: ("介于同等与稍微重要之间", "between equal and moderate"),
         3: ("稍微重要", "moderate importance"), 4: ("介于稍微与明显重要之间", "between moderate and strong"),
         5: ("明显重要", "strong importance"), 6: ("介于明显与强烈重要之间", "between strong and very strong"),
         7: ("强烈重要", "very strong importance"), 8: ("介于强烈与极端重要之间", "between very strong and extreme"),
         9: ("极端重要", "extreme importance")}
SCALE_VALUES = np.array(sorted({float(k) for k in SCALE} | {1.0 / k for k in SCALE}))
# A reciprocal typed as a decimal rounded to two places (0.33 for 1/3, 0.11 for 1/9) is that reciprocal;
# 0.0051 keeps the neighbours 1/8 and 1/9 (0.0139 apart) distinct.
SCALE_TOLERANCE = 0.0051
SCALE_TEXT = "a value of Saaty's scale: 1 to 9, or 1/2 to 1/9 (typed as 1/3, =1/3 or 0.33)"

# --- the questionnaire layout, shared with the writer (zoneindex.ahp_survey) ---------------------------
INSTRUCTIONS_SHEET, SCALE_SHEET, EXPERT_SHEET = "instructions", "scale", "expert"
OTHER_SHEETS = (INSTRUCTIONS_SHEET, SCALE_SHEET, EXPERT_SHEET)
EXPERT_FIELDS = (("expert_id", "专家编号", "expert id"), ("name", "姓名", "name"),
                 ("affiliation", "工作单位", "affiliation"), ("date", "填写日期", "date"))
EXPERT_FIRST_ROW = 2             # expert sheet: row 1 is the header, then one row per field; values in column B
HEADER_ROW = 4                   # group sheets: rows 1–3 name the group and say what to do
PAIR_COLUMNS = ("first", "second", "first_zh", "first_en", "second_zh", "second_en", "judgment", "note")
JUDGMENT_COLUMN = PAIR_COLUMNS.index("judgment")


def judged_groups(framework: Framework) -> dict[str, list[str]]:
    """Every group of siblings an expert compares (a parent with at least two children), in framework order."""
    groups = {}
    for parent in framework.table.index[framework.table["type"] == "Aggregate"]:
        children = framework.children(parent)
        if len(children) >= 2:
            groups[parent] = children
    return groups


# --- the maths of one matrix ----------------------------------------------------------------------------

@lru_cache(maxsize=1)
def random_index_table() -> pd.DataFrame:
    """The random consistency index RI_n by table (columns, see ``RI_SOURCES``) for n = 1, 2, …."""
    with resources.files("zoneindex").joinpath("data/ahp_random_index.csv").open(encoding="utf-8") as handle:
        return pd.read_csv(handle, index_col="n")


def random_index(n: int, table: str = "saaty_1980") -> float:
    if table not in RI_TABLES:
        raise InputError("unknown random-index table", column=f"{OPTION}.ri_table", value=table,
                         expected=f"one of {list(RI_TABLES)}")
    column = random_index_table()[table].dropna()
    if n not in column.index:
        raise InputError(f"the {table} random-index table stops at n = {column.index.max()}",
                         column=f"{OPTION}.ri_table", value=n,
                         expected=f"a group of at most {column.index.max()} elements, or another ri_table")
    return float(column[n])


def priority_vector(a: np.ndarray, method: str = "eigenvector") -> np.ndarray:
    """The priority vector (summing to 1) of a positive reciprocal matrix by the named method."""
    if method == "eigenvector":
        values, vectors = np.linalg.eig(a)
        # the Perron vector of a positive matrix has one sign; abs() undoes the arbitrary sign of eig()
        w = np.abs(vectors[:, np.argmax(values.real)].real)
    elif method == "geometric_mean":
        w = np.exp(np.log(a).mean(axis=1))
    elif method == "sum_product":
        w = (a / a.sum(axis=0)).mean(axis=1)
    else:
        raise InputError("unknown priority method", column=f"{OPTION}.priority", value=method,
                         expected=f"one of {list(PRIORITY_METHODS)}")
    return w / w.sum()


@dataclass(frozen=True)
class Consistency:
    """Saaty's consistency check of one matrix: λ_max, CI = (λ_max − n)/(n − 1), RI_n and CR = CI/RI_n."""

    lambda_max: float
    ci: float
    ri: float
    cr: float


def consistency(a: np.ndarray, w: np.ndarray, table: str = "saaty_1980") -> Consistency:
    """λ_max = mean((A w)_i / w_i) (the principal eigenvalue when w is the eigenvector), CI, RI and CR."""
    n = len(a)
    ri = random_index(n, table)
    lam = float(np.mean(a @ w / w))
    ci = max((lam - n) / (n - 1), 0.0) if n > 1 else 0.0  # λ_max ≥ n in exact arithmetic
    return Consistency(lam, ci, ri, ci / ri if ri > 0 else 0.0)


def aij(matrices: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Element-wise weighted geometric mean Π_e a_ij^(e)^λ_e of the experts' matrices (λ summing to 1)."""
    logs = np.stack([np.log(m) for m in matrices])
    return np.exp(np.tensordot(np.asarray(weights) / np.sum(weights), logs, axes=1))


def aip(priorities: list[np.ndarray], weights: np.ndarray, mean: str = "geometric") -> np.ndarray:
    """Weighted geometric (or arithmetic) mean of the experts' priority vectors, normalised to sum 1."""
    lam = np.asarray(weights) / np.sum(weights)
    stacked = np.stack(priorities)
    w = np.exp(lam @ np.log(stacked)) if mean == "geometric" else lam @ stacked
    return w / w.sum()


# --- reading a filled questionnaire ----------------------------------------------------------------------

@dataclass(frozen=True)
class Questionnaire:
    """One expert's filled workbook: judgment matrices per group (rows in the framework's order of children)."""

    file: Path
    expert: str
    matrices: dict
    illustrative: bool


def scale_value(raw, where: dict) -> float:
    """A judgment cell as a value of Saaty's scale, or an InputError naming the cell."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise InputError("judgment is missing", value="", expected=SCALE_TEXT, **where)
    if isinstance(raw, bool):
        raise InputError("judgment is not a number", value=raw, expected=SCALE_TEXT, **where)
    if isinstance(raw, (datetime.date, datetime.time)):
        raise InputError("judgment is a date: the spreadsheet read a fraction such as 1/3 as a day of the year",
                         value=str(raw), expected="the reciprocal typed as =1/3 or 0.33 (or the cell formatted as a "
                                                  "fraction first)", **where)
    if isinstance(raw, str) and not raw.isascii():  # full-width digits are never read silently as numbers
        raise InputError("judgment is not a number: it holds non-ASCII characters (full-width digits?)", value=raw,
                         expected=SCALE_TEXT, **where)
    try:
        value = float(raw) if isinstance(raw, (int, float)) else float(Fraction(str(raw).strip().lstrip("=")))
    except (ValueError, ZeroDivisionError):
        raise InputError("judgment is not a number", value=raw, expected=SCALE_TEXT, **where) from None
    if value == 0:
        raise InputError("judgment is 0: a pair cannot be 0 times as important (no element is unimportant in "
                         "AHP)", value=raw, expected=SCALE_TEXT, **where)
    nearest = SCALE_VALUES[np.argmin(np.abs(SCALE_VALUES - value))]
    if not np.isfinite(value) or abs(nearest - value) > SCALE_TOLERANCE:
        raise InputError("judgment is off Saaty's 1–9 scale", value=raw, expected=SCALE_TEXT, **where)
    return float(nearest)


def _cell(row: int, column: int) -> str:
    return f"{get_column_letter(column + 1)}{row}"


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


def read_expert_id(book, path: Path) -> str:
    if EXPERT_SHEET not in book.sheet_names:
        raise InputError("sheet missing", file=path, sheet=EXPERT_SHEET, value=book.sheet_names,
                         expected=f"the questionnaire's sheet {EXPERT_SHEET!r} with the expert id in B{EXPERT_FIRST_ROW}")
    rows = book.get_sheet_by_name(EXPERT_SHEET).to_python(skip_empty_area=False)
    row = rows[EXPERT_FIRST_ROW - 1] if len(rows) >= EXPERT_FIRST_ROW else []
    expert = _text(row[1]) if len(row) > 1 else ""
    if not expert:
        raise InputError(f"expert id is blank (cell B{EXPERT_FIRST_ROW})", file=path, sheet=EXPERT_SHEET,
                         row=EXPERT_FIRST_ROW, column="B", value="", expected="the expert's id, e.g. E01")
    return expert


def read_group_sheet(rows: list, path: Path, group: str, children: list[str]) -> np.ndarray:
    """The full reciprocal matrix of one group sheet; every pair i < j needed once (or with its exact
    reciprocal typed as j, i)."""
    position = {code: k for k, code in enumerate(children)}
    n = len(children)
    a = np.ones((n, n))
    typed: dict[tuple[int, int], tuple[float, str]] = {}
    for r, row in enumerate(rows[HEADER_ROW:], start=HEADER_ROW + 1):
        row = list(row) + [None] * (len(PAIR_COLUMNS) - len(row))
        first, second = _text(row[0]), _text(row[1])
        if not first and not second and _text(row[JUDGMENT_COLUMN]) == "":
            continue
        for k, code in ((0, first), (1, second)):
            if code not in position:
                raise InputError(f"cell {_cell(r, k)} names no element of group {group!r}", file=path, sheet=group,
                                 row=r, column=get_column_letter(k + 1), value=code,
                                 expected=f"one of {children}")
        if first == second:
            raise InputError(f"cell {_cell(r, 0)}: an element compared with itself", file=path, sheet=group, row=r,
                             column="A", value=first, expected="two different elements (a_ii = 1 always)")
        where = dict(file=path, sheet=group, row=r, column=get_column_letter(JUDGMENT_COLUMN + 1))
        try:
            value = scale_value(row[JUDGMENT_COLUMN], where)
        except InputError as error:
            raise InputError(f"cell {_cell(r, JUDGMENT_COLUMN)} ({first} vs {second}): {error.problem}",
                             value=error.value, expected=error.expected, **where) from None
        i, j = position[first], position[second]
        key, oriented = ((i, j), value) if i < j else ((j, i), 1.0 / value)
        if key in typed:
            earlier, earlier_cell = typed[key]
            if abs(earlier - oriented) > 1e-9 * max(earlier, oriented):
                raise InputError(f"cell {_cell(r, JUDGMENT_COLUMN)}: the pair {children[key[0]]} vs "
                                 f"{children[key[1]]} is typed twice and the two are not reciprocal (cell "
                                 f"{earlier_cell} says {earlier:.4g} for {children[key[0]]} vs {children[key[1]]})",
                                 value=row[JUDGMENT_COLUMN], expected=f"one judgment per pair (typed again, this "
                                 f"row must say {1 / earlier if i > j else earlier:.4g})", **where)
            continue
        typed[key] = (oriented, _cell(r, JUDGMENT_COLUMN))
        a[key], a[key[::-1]] = oriented, 1.0 / oriented
    missing = [(children[i], children[j]) for i in range(n) for j in range(i + 1, n) if (i, j) not in typed]
    if missing:
        raise InputError(f"pair(s) without a judgment: {', '.join(f'{x} vs {y}' for x, y in missing)}", file=path,
                         sheet=group, value=len(missing), expected=f"a row with a judgment for every one of the "
                                                                   f"{n * (n - 1) // 2} pairs of the group")
    return a


def read_questionnaire(path: Path, framework: Framework) -> Questionnaire:
    """One filled questionnaire, checked against its source record and the framework."""
    record = read_source_record(path)
    book, _ = open_workbook(path)
    expert = read_expert_id(book, path)
    groups = judged_groups(framework)
    unknown = [s for s in book.sheet_names if s not in groups and s not in OTHER_SHEETS]
    if unknown:
        raise InputError("sheet names no group of the framework", file=path, sheet=unknown[0], value=unknown[0],
                         expected=f"one sheet per group {list(groups)} besides {list(OTHER_SHEETS)}")
    matrices = {}
    for group, children in groups.items():
        if group not in book.sheet_names:
            raise InputError(f"sheet missing: the judgments of group {group!r} ({', '.join(children)})", file=path,
                             sheet=group, value=book.sheet_names,
                             expected="the sheet as written by zoneindex ahp-survey for this framework")
        matrices[group] = read_group_sheet(book.get_sheet_by_name(group).to_python(skip_empty_area=False),
                                           path, group, children)
    return Questionnaire(path, expert, matrices, bool(record.get("illustrative")))


_PANELS: dict = {}


def read_questionnaires(folder: Path, framework: Framework) -> list[Questionnaire]:
    """Every filled questionnaire (.xlsx, .ods, .xls) of ``folder``, in file-name order; kept while the files
    and the groups are unchanged, because the uncertainty analysis asks for the same panel many times."""
    files = sorted(p for p in Path(folder).glob("*") if p.suffix.lower() in (".xlsx", ".xlsm", ".ods", ".xls")
                   and not p.name.startswith(("~$", ".~lock")))
    if not files:
        raise InputError("no filled questionnaires", file=folder,
                         expected="the experts' workbooks (written by zoneindex ahp-survey) with their .source.yaml")
    key = (str(folder), tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files),
           tuple((g, tuple(c)) for g, c in judged_groups(framework).items()))
    if key not in _PANELS:
        panel = [read_questionnaire(p, framework) for p in files]
        seen = {}
        for q in panel:
            if q.expert in seen:
                raise InputError(f"expert id {q.expert!r} appears in two files ({seen[q.expert]} and {q.file.name})",
                                 file=q.file, sheet=EXPERT_SHEET, row=EXPERT_FIRST_ROW, column="B", value=q.expert,
                                 expected="one questionnaire per expert, each with its own id")
            seen[q.expert] = q.file.name
        _PANELS.clear()  # one panel at a time: an edited file makes the old one useless
        _PANELS[key] = panel
    return _PANELS[key]


# --- the panel ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Panel:
    """The panel's results: ``consistency`` (expert × group: n, λ_max, CI, RI, CR, kept), ``priorities``
    (long: expert, group, code, priority, kept), ``weights`` (code -> panel weight of the judged groups) and
    ``ranges`` (code: min and max over the kept experts' priorities)."""

    consistency: pd.DataFrame
    priorities: pd.DataFrame
    weights: pd.Series
    ranges: pd.DataFrame
    illustrative: bool


def experts_folder(framework: Framework, experts: str | None) -> Path:
    if experts is not None:
        return paths.PROJECT_ROOT / experts
    if framework.source is None:
        raise InputError("ahp_panel needs the experts' folder", column=f"{OPTION}.experts", value=None,
                         expected="a folder such as data/raw/<study>/ahp")
    return paths.RAW / Path(framework.source).parent.name / "ahp"


def _expert_weights(experts: list[str], expert_weights: dict | None) -> dict[str, float]:
    if expert_weights is None:
        return dict.fromkeys(experts, 1.0)
    if not isinstance(expert_weights, dict):
        raise InputError("expert_weights must map expert ids to weights", column=f"{OPTION}.expert_weights",
                         value=expert_weights, expected="{E01: 2, E02: 1, …}")
    unknown = sorted(set(map(str, expert_weights)) - set(experts))
    missing = sorted(set(experts) - set(map(str, expert_weights)))
    if unknown or missing:
        raise InputError("expert_weights must name every expert of the panel, and no one else",
                         column=f"{OPTION}.expert_weights", value=unknown or missing,
                         expected=f"the ids {experts}")
    weights = {str(k): v for k, v in expert_weights.items()}
    bad = [k for k, v in weights.items() if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0]
    if bad:
        raise InputError("an expert weight must be a number > 0", column=f"{OPTION}.expert_weights.{bad[0]}",
                         value=weights[bad[0]], expected="e.g. 1 or 2")
    return {k: float(v) for k, v in weights.items()}


def expert_panel(framework: Framework, experts: str | None = None, priority: str = "eigenvector",
                 aggregation: str = "aij", aip_mean: str = "geometric", expert_weights: dict | None = None,
                 inconsistent: str = "exclude", cr_limit: float = 0.1, ri_table: str = "saaty_1980") -> Panel:
    """Read the panel's questionnaires and combine them group by group (see :func:`ahp_panel`)."""
    for name, value, allowed in (("priority", priority, PRIORITY_METHODS), ("aggregation", aggregation, ("aij", "aip")),
                                 ("aip_mean", aip_mean, ("geometric", "arithmetic")),
                                 ("inconsistent", inconsistent, ("exclude", "keep")), ("ri_table", ri_table, RI_TABLES)):
        if value not in allowed:
            raise InputError(f"unknown {name}", column=f"{OPTION}.{name}", value=value, expected=f"one of {list(allowed)}")
    if isinstance(cr_limit, bool) or not isinstance(cr_limit, (int, float)) or not 0 < cr_limit < 1:
        raise InputError("cr_limit must be a number in (0, 1)", column=f"{OPTION}.cr_limit", value=cr_limit,
                         expected="0.1 (Saaty's rule)")
    panel = read_questionnaires(experts_folder(framework, experts), framework)
    lam = _expert_weights([q.expert for q in panel], expert_weights)
    checks, priorities, weights, ranges = [], [], {}, []
    for group, children in judged_groups(framework).items():
        own = {q.expert: (q.matrices[group], priority_vector(q.matrices[group], priority)) for q in panel}
        kept = []
        for q in panel:
            a, w = own[q.expert]
            c = consistency(a, w, ri_table)
            keep = c.cr <= cr_limit or inconsistent == "keep"
            kept += [q.expert] if keep else []
            checks.append(dict(expert=q.expert, file=q.file.name, group=group, n=len(children), lambda_max=c.lambda_max,
                               ci=c.ci, ri=c.ri, cr=c.cr, consistent=c.cr <= cr_limit, kept=keep))
            priorities += [dict(expert=q.expert, group=group, code=code, priority=p, kept=keep)
                           for code, p in zip(children, w)]
        if not kept:
            raise InputError(f"every expert's judgments of group {group!r} are inconsistent (CR > {cr_limit}), so no "
                             "one is left to weigh it", column=f"{OPTION}.inconsistent", value=inconsistent,
                             expected="revised questionnaires, or inconsistent: keep (stated in the write-up)")
        lams = np.array([lam[e] for e in kept])
        if aggregation == "aij":
            combined = aij([own[e][0] for e in kept], lams)
            w = priority_vector(combined, priority)
            c = consistency(combined, w, ri_table)
            checks.append(dict(expert="panel (AIJ)", file="", group=group, n=len(children), lambda_max=c.lambda_max,
                               ci=c.ci, ri=c.ri, cr=c.cr, consistent=c.cr <= cr_limit, kept=True))
        else:
            w = aip([own[e][1] for e in kept], lams, aip_mean)
        stacked = np.stack([own[e][1] for e in kept])
        for code, value, low, high in zip(children, w, stacked.min(axis=0), stacked.max(axis=0)):
            weights[code] = float(value)
            ranges.append(dict(code=code, group=group, weight=float(value), low=float(low), high=float(high)))
    return Panel(pd.DataFrame(checks), pd.DataFrame(priorities), pd.Series(weights, name="weight"),
                 pd.DataFrame(ranges).set_index("code"), any(q.illustrative for q in panel))


def ahp_panel(framework: Framework, normalised=None, experts: str | None = None,
              priority: Literal["eigenvector", "geometric_mean", "sum_product"] = "eigenvector",
              aggregation: Literal["aij", "aip"] = "aij", aip_mean: Literal["geometric", "arithmetic"] = "geometric",
              expert_weights: dict | None = None, inconsistent: Literal["exclude", "keep"] = "exclude",
              cr_limit: float = 0.1, ri_table: Literal["saaty_1980", "saaty_2005", "donegan_dodd_1991"] = "saaty_1980",
              draw: int | None = None) -> pd.Series:
    """Expert-panel AHP: every group of siblings weighed by the experts' filled questionnaires (AIJ or AIP);
    ``experts``: the folder of the filled workbooks, relative to the project root (default
    ``data/raw/<study>/ahp``); ``priority``: eigenvector (特征向量法), geometric_mean (方根法) or
    sum_product (和积法); ``aggregation``: aij (judgments) or aip (priorities, by ``aip_mean``);
    ``expert_weights``: expert id -> weight (default equal); ``inconsistent``: exclude or keep an expert's
    matrix of a group whose CR exceeds ``cr_limit``; ``ri_table``: which random-index table; ``draw``: an
    integer k gives instead the k-th seeded draw within the experts' range, per group a random mixture
    (Dirichlet(1, …, 1) shares) of the kept experts' priority vectors, so every weight lies between the lowest
    and the highest priority an expert gives it and each group still sums to 1: the uncertainty analysis's
    ``weights: {from_experts: …}`` pool. Groups with one child keep their framework weight.
    """
    result = expert_panel(framework, experts, priority, aggregation, aip_mean, expert_weights, inconsistent,
                          cr_limit, ri_table)
    weights = framework.table["weight"].astype(float)
    if draw is None:
        weights[list(result.weights.index)] = result.weights.to_numpy()
        return weights
    if isinstance(draw, bool) or not isinstance(draw, int) or draw < 0:
        raise InputError("draw must be a whole number >= 0", column=f"{OPTION}.draw", value=draw, expected="e.g. 7")
    rng = np.random.default_rng(draw)
    kept = result.priorities[result.priorities["kept"]]
    for _, group in kept.groupby("group", sort=False):
        by_expert = group.pivot(index="expert", columns="code", values="priority")[group["code"].unique()]
        mixture = rng.dirichlet(np.ones(len(by_expert))) @ by_expert.to_numpy()
        weights[list(by_expert.columns)] = mixture / mixture.sum()  # sums to 1 already, up to rounding
    return weights


FORMULAS = {
    "ahp_panel": r"For every group of $n$ siblings and every expert $e$: the judgment matrix $A^{(e)}$ "
                 r"(Saaty's 1–9 scale, $a_{ji} = 1/a_{ij}$), its priority vector $w^{(e)}$ (eigenvector "
                 r"$A w = \lambda_{\max} w$, row geometric mean $w_i \propto (\prod_j a_{ij})^{1/n}$, or column-"
                 r"normalised row mean $w_i = \frac{1}{n}\sum_j a_{ij}/\sum_k a_{kj}$), "
                 r"$\lambda_{\max} = \frac{1}{n}\sum_i (A w)_i / w_i$, "
                 r"$\mathrm{CR} = \frac{(\lambda_{\max} - n)/(n - 1)}{\mathrm{RI}_n}$; experts with "
                 r"$\mathrm{CR} > 0.1$ excluded (or kept, as the study states). Panel: AIJ "
                 r"$a^{G}_{ij} = \prod_e (a^{(e)}_{ij})^{\lambda_e}$, then the priority of $A^{G}$; or AIP "
                 r"$w^{G}_i \propto \prod_e (w^{(e)}_i)^{\lambda_e}$ (or $\sum_e \lambda_e w^{(e)}_i$), with expert "
                 r"weights $\sum_e \lambda_e = 1$ (Forman & Peniwati 1998).",
}
FORMULAS_ZH = {
    "ahp_panel": r"对每个含 $n$ 个同级要素的组和每位专家 $e$：判断矩阵 $A^{(e)}$（Saaty 1–9 标度，"
                 r"$a_{ji} = 1/a_{ij}$），其权重向量 $w^{(e)}$ 由特征向量法（$A w = \lambda_{\max} w$）、"
                 r"方根法（$w_i \propto (\prod_j a_{ij})^{1/n}$，行几何平均）或和积法"
                 r"（$w_i = \frac{1}{n}\sum_j a_{ij}/\sum_k a_{kj}$，列归一化后按行算术平均）求得；"
                 r"$\lambda_{\max} = \frac{1}{n}\sum_i (A w)_i / w_i$，一致性比率 "
                 r"$\mathrm{CR} = \frac{(\lambda_{\max} - n)/(n - 1)}{\mathrm{RI}_n}$，$\mathrm{CR} > 0.1$ "
                 r"的专家按研究设定剔除（或保留）。群组集结：AIJ（判断矩阵集结）"
                 r"$a^{G}_{ij} = \prod_e (a^{(e)}_{ij})^{\lambda_e}$（加权几何平均，保持互反性），再求 $A^{G}$ 的权重；"
                 r"或 AIP（权重集结）$w^{G}_i \propto \prod_e (w^{(e)}_i)^{\lambda_e}$（或算术平均 "
                 r"$\sum_e \lambda_e w^{(e)}_i$），专家权重 $\sum_e \lambda_e = 1$（Forman 与 Peniwati，1998）。",
}
