"""Tables as the write-up shows them: headers and word cells in the run's language, numbers for people.

A stage table keeps its full precision and its column names; what a reader sees is made here: a residual of
3.55e-14 reads "< 1e-12", a share reads as a percentage, a missing value as "—", a pandas index is never shown
(a meaningful index becomes a named column first), and the framework, too wide for an A4 page, is split into
one table per dimension.
"""
from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from zoneindex import glossary
from zoneindex.framework import Framework

TINY = 1e-12  # below this a residual of an exact identity is rounding noise, shown as "< 1e-12"
MISSING = "—"


class Table:
    """A table ready for display: every cell already text. Jupyter shows its HTML (no index column)."""

    def __init__(self, frame: pd.DataFrame, caption: str | None = None):
        self.frame, self.caption = frame, caption

    def _repr_html_(self) -> str:
        body = self.frame.to_html(index=False, border=0, escape=True)
        if self.caption:
            body = body.replace("<thead>", f"<caption>{html.escape(self.caption)}</caption>\n  <thead>", 1)
        return body

    def __repr__(self) -> str:
        return self.frame.to_string(index=False)

    def __len__(self) -> int:
        return len(self.frame)


def number(value, decimals: int = 3, percent: bool = False) -> str:
    """One number for people: "—" when missing, "< 1e-12" for a residual of an identity, a share as %,
    integers without decimals and other numbers rounded to ``decimals`` (never in e-notation)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        return str(value)
    x = float(value)
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if percent:
        return f"{100 * x:.{max(decimals - 2, 0)}f} %".replace("-", "−")
    if x != 0 and abs(x) < TINY:
        return "< 1e-12"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):d}".replace("-", "−")
    if abs(x) >= 1e6:
        return f"{x:,.0f}".replace("-", "−")
    text = f"{x:.{decimals}f}"
    if float(text) == 0 and x != 0:  # too small for the decimals but real: give it its own digits
        text = f"{x:.{decimals}g}" if abs(x) >= 1e-4 else f"{x:.2e}"
    return text.replace("-", "−")


def table(frame: pd.DataFrame, lang: str, names: dict | None = None, keep: tuple[str, ...] = (),
          percent: tuple[str, ...] = (), decimals: int | dict = 3, caption: str | None = None) -> Table:
    """``frame`` as the write-up shows it in ``lang``.

    ``names`` maps codes in the headers (nodes, entities) to names, ``keep`` lists columns whose cells are data
    shown as they are (codes, names), ``percent`` the columns that are shares, ``decimals`` the decimals of the others (one
    number, or column -> decimals). A named index becomes the first column(s), an unnamed one is dropped."""
    out = frame.copy()
    if any(n is not None for n in out.index.names):
        out = out.reset_index()
    else:  # an unnamed index is row numbers (of a filtered table): never shown
        out = out.reset_index(drop=True)
    columns = list(out.columns)
    for column in columns:
        series = out[column]
        if column in keep:
            out[column] = series.map(lambda v: MISSING if _missing(v) else str(v))
            continue
        digits = decimals.get(column, 3) if isinstance(decimals, dict) else decimals
        if pd.api.types.is_bool_dtype(series):
            out[column] = series.map(lambda v: glossary.value_text(str(bool(v)), lang))
        elif pd.api.types.is_numeric_dtype(series):
            out[column] = series.map(lambda v: number(v, digits, column in percent))
        else:
            out[column] = series.map(lambda v: _cell(v, lang, digits, column in percent))
    out.columns = [glossary.header(str(c), lang, names) for c in columns]
    return Table(out.reset_index(drop=True), caption)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _cell(value, lang: str, digits: int, percent: bool) -> str:
    if _missing(value):
        return MISSING
    if isinstance(value, bool):
        return glossary.value_text(str(value), lang)
    if isinstance(value, (int, float)):
        return number(value, digits, percent)
    return glossary.value_text(value, lang)


def framework_tables(framework: Framework, lang: str, weights: pd.Series | None = None) -> list[tuple[str, Table]]:
    """The framework split by dimension for an A4 page: per dimension (the level below the index) its
    sub-areas and indicators with level, name, unit, direction, nominal and effective weight."""
    overview = framework.overview(weights)
    name_column = "name_zh" if lang == "zh" else "name_en"
    names = overview[name_column].where(overview[name_column] != "", overview["name_en"])
    shown = pd.DataFrame({"code": overview.index, "level": overview["level"].astype(int), "name": names,
                          "unit": overview["unit"].map(lambda u: glossary.unit_text(u, lang)),
                          "direction": overview["direction"], "weight": overview["weight"],
                          "effective_weight_%": overview["effective_weight_%"] / 100})
    shown.index = overview.index.rename(None)
    if "basis" in overview:
        shown["basis"] = overview["basis"].map(lambda b: glossary.value_text(b, lang))
    top = framework.max_level - 1
    dimensions = framework.level_codes(top) if top >= 2 else [framework.root]
    parts = []
    for dimension in dimensions:
        members = [c for c in shown.index if c != framework.root and (c == dimension or dimension in framework.ancestors(c))]
        parts.append((framework.name(dimension, lang), table(shown.loc[members].reset_index(drop=True), lang,
                                                             keep=("code", "name"),
                                                             percent=("effective_weight_%",), decimals=3)))
    return parts


class Text:
    """Markdown for display (Jupyter renders it like a markdown cell)."""

    def __init__(self, markdown: str):
        self.markdown = markdown

    def _repr_markdown_(self) -> str:
        return self.markdown

    def __repr__(self) -> str:
        return self.markdown


# Columns of a source record that are bibliographic text in the publisher's language: the Chinese write-up
# leaves them to the record (`<file>.source.yaml`) instead of mixing an English title into Chinese prose.
BIBLIOGRAPHIC = ("title", "publisher", "licence")
# Columns of the reference values that quote the publication (English quotations in the CDHT study).
QUOTED = ("note",)


def sources_table(frame: pd.DataFrame, lang: str) -> Table:
    """The raw files and their source records (``ingest.sources_table``) for display."""
    shown = frame.drop(columns=[c for c in BIBLIOGRAPHIC if c in frame]) if lang == "zh" else frame
    return table(shown, lang, keep=("file", "title", "publisher", "url", "licence", "sha256", "entities excluded"))


def references_table(frame: pd.DataFrame, lang: str) -> Table:
    """The published reference values (``ingest.read_references``) for display."""
    shown = frame.drop(columns=[c for c in QUOTED if c in frame]) if lang == "zh" else frame
    return table(shown, lang, keep=("entity", "code", "source", "note"), decimals=3)


def worked_example(example, study, lang: str) -> list:
    """The worked example (``score.worked_example``) for display: the indicator's raw and normalised values,
    then each aggregate above it with its children, their relative weights and the arithmetic written out."""
    fw, zh = study.framework, lang == "zh"
    code, year, base = example.indicator, example.year, study.base_year
    name = fw.name(code, lang)
    # a short line before a table becomes its caption, as plain text: names only (codes lose their "_" there)
    out = [Text(f"{name}的原始值与标准化值（{example.entity}）" if zh else
                f"Raw and normalised values of {name}, {example.entity}")]
    out.append(table(example.raw, lang, decimals={"raw_value": 3, "normalised": 3}, keep=("year",)))
    row = example.raw.set_index("year")
    method = study.methods["normalisation"]["method"]
    if method == "ratio_to_base" and base is not None and base in row.index:
        x_t, x_b, v = row.at[year, "raw_value"], row.at[base, "raw_value"], row.at[year, "normalised"]
        flip = float(fw.table.at[code, "direction"]) < 0
        ratio = f"{number(x_b)} / {number(x_t)}" if flip else f"{number(x_t)} / {number(x_b)}"
        out.append(Text(f"标准化：$v = 100 \\times {ratio} = {number(v)}$。" if zh else
                        f"Normalised: $v = 100 \\times {ratio} = {number(v)}$."))
    for step in example.steps:
        kids = step.children.assign(name=step.children["code"].map(fw.labels(lang)))
        shown = kids[["code", "name", "value", "relative_weight", "term"]].rename(columns={"term": "weighted_term"})
        mean = _mean_text(step, lang)
        if step.base_mean is not None:
            rebased = (f"$D = 100 \\times {number(step.mean)} / {number(step.base_mean)} = {number(step.value)}$")
            mean += ("，基期换算 " if zh else "; rebased, ") + rebased
        check = (f"（本次计算结果：{number(step.scored)}）" if zh else f" (the run's value: {number(step.scored)})")
        # the short line before a table is its caption in the write-up: the name there, the arithmetic after it
        out.append(Text(f"{fw.name(step.code, lang)}的下级（{glossary.term(step.method, lang)}）" if zh else
                        f"The children of {fw.name(step.code, lang)} ({glossary.term(step.method, lang)})"))
        out.append(table(shown, lang, keep=("code", "name"), decimals=4))
        out.append(Text(f"{fw.name(step.code, lang)}（`{step.code}`）：" + mean + check + "。" if zh else
                        f"{fw.name(step.code, lang)} (`{step.code}`): " + mean + check + "."))
    return out


def _mean_text(step, lang: str) -> str:
    """The aggregate's mean of its children written out with the numbers of the table beside it."""
    if step.method == "geometric":
        return f"$A = \\prod_j v_j^{{\\tilde w_j}} = {number(step.mean)}$"
    if step.method == "arithmetic":
        return f"$A = \\sum_j \\tilde w_j v_j = {number(step.mean)}$"
    return f"$A = {number(step.mean)}$"


def raw_values_table(clean: pd.DataFrame, study, year: int, entity: str, lang: str, others: int = 5) -> Table:
    """The clean raw value of every indicator: for one entity in the base year and ``year``; with several
    entities in ``year``, ``entity`` and the ``others`` entities with the highest index beside it."""
    fw = study.framework
    rows = clean[clean["indicator"].isin(fw.indicators)]
    entities = list(dict.fromkeys(rows["entity"]))
    frame = pd.DataFrame({"code": fw.indicators, "name": [fw.name(c, lang) for c in fw.indicators],
                          "unit": [glossary.unit_text(fw.table.at[c, "unit"], lang) for c in fw.indicators]})
    if len(entities) == 1:
        years = [y for y in (study.base_year, year) if y is not None]
        for when in dict.fromkeys(years):
            own = rows[rows["year"] == when].set_index("indicator")["value"]
            frame[str(when)] = own.reindex(fw.indicators).to_numpy()
    else:
        chosen = [entity] + [e for e in entities if e != entity][:others]
        latest = rows[rows["year"] == year]
        for who in chosen:
            own = latest[latest["entity"] == who].set_index("indicator")["value"]
            frame[str(who)] = own.reindex(fw.indicators).to_numpy()
    return table(frame, lang, keep=("code", "name", "unit"), decimals=3)
