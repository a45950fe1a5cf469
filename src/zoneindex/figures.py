"""The figure sets of an edition: what the visualize and validate stages draw, with titles and captions.

Each set reads the edition's stage tables through the run context, chooses the figures the study calls
for (a time series or a single-year cross-section), draws them with the house style of
``zoneindex.plots`` in English or Chinese, and saves each with its caption; the illustrative-data note
goes on every figure an illustrative input reaches.

Each figure is drawn once and saved in every format by one of the worker processes of
``zoneindex.workers`` (one per CPU): the same files, in the same order, as drawn one after another here.
"""
from __future__ import annotations

from functools import partial

import matplotlib as mpl
import pandas as pd
from matplotlib.figure import Figure

from zoneindex import figure_reuse, workers
from zoneindex.aggregate import method_for_level
from zoneindex.figurepack import EDITABLE  # the subfolder of the live-text SVGs
from zoneindex.plots import (TEXT, dimension_colours, figure_title, plot_framework, plot_growth, plot_heatmap,
                             plot_index_over_time, plot_radar, plot_rank_shifts, plot_ranked_bars, plot_sobol,
                             plot_uncertainty_bands,
                             plot_waterfall, save_figure, set_theme)

FIGURE_TITLES = {
    "index_over_time": {"en": "{index} and its dimensions", "zh": "{index}及各维度"},
    "growth": {"en": "Change {base}–{last} by dimension", "zh": "{base}—{last}年各维度变化"},
    "radar": {"en": "{entity}: {a} and {b}", "zh": "{entity}：{a}与{b}"},
    "radar_entities": {"en": "{entity} and the median of all entities, {last}",
                       "zh": "{entity}与全部主体中位数（{last}年）"},
    "waterfall": {"en": "Contributions to the change {base}–{last} (points)", "zh": "{base}—{last}年变化的贡献（点）"},
    "heatmap": {"en": "{entity}: normalised indicator scores", "zh": "{entity}：各指标标准化得分"},
    "heatmap_entities": {"en": "Scores by entity, {last}", "zh": "各主体得分（{last}年）"},
    "ranked_bars": {"en": "{index}, {last}", "zh": "{index}（{last}年）"},
    "framework": {"en": "{index}: framework and effective weights", "zh": "{index}：指标体系与有效权重"},
}
CAPTIONS = {
    "index_over_time": {"en": "{index} of {entity} and its {n} dimensions, {start}–{last}{rebased}.",
                        "zh": "{entity}{index}及其{n}个维度，{start}—{last}年{rebased}。"},
    "growth": {"en": "Change of each dimension of {index} for {entity} from {base} to {last}, in per cent of its "
                     "{base} value; the overall index in black.",
               "zh": "{entity}{index}各维度{base}—{last}年的变化，以{base}年数值的百分比表示；黑色为总指数。"},
    "radar": {"en": "Scores of {entity} on the components of {index} in {a} (light) and {b} (dark).",
              "zh": "{entity}{index}各组成部分{a}年（浅色）与{b}年（深色）的得分。"},
    "radar_entities": {"en": "Scores of {entity} on the components of {index} in {last} (dark), against the median "
                             "of all {entities} entities (light).",
                       "zh": "{last}年{entity}{index}各组成部分的得分（深色）与全部{entities}个主体的中位数（浅色）。"},
    "waterfall": {"en": "Contribution of each dimension to the change of {index} for {entity} from {base} to {last}, "
                        "in index points; the black bar runs from the {base} value to the {last} value.",
                  "zh": "{entity}{index}{base}—{last}年变化中各维度的贡献（指数点）；黑色柱为{base}年至{last}年的总变化。"},
    "heatmap": {"en": "Normalised scores of the {indicators} indicators of {index} for {entity}, "
                      "{start}–{last}{rebased}.",
                "zh": "{entity}{index}{indicators}项指标的标准化得分，{start}—{last}年{rebased}。"},
    "heatmap_entities": {"en": "Scores of all {entities} entities on the components of {index} in {last}, entities "
                               "ordered by the index.",
                         "zh": "{last}年全部{entities}个主体在{index}各组成部分上的得分，按指数高低排列。"},
    "ranked_bars": {"en": "{index} of all {entities} entities in {last}, ranked{stacked}; {entity} in bold.",
                    "zh": "{last}年全部{entities}个主体的{index}排名{stacked}；{entity}以粗体标出。"},
    "framework": {"en": "Framework of {index}: {indicators} indicators in {levels} levels; each bar is the node's "
                        "effective weight in the index (%).",
                  "zh": "{index}指标体系：共{levels}层、{indicators}项指标；条形为各节点在指数中的有效权重（%）。"},
}
CAPTION_PARTS = {
    "rebased": {"en": " ({base} = 100)", "zh": "（{base}年 = 100）"},
    "stacked": {"en": ", each bar split into the points each dimension contributes",
                "zh": "，每根柱按各维度贡献的分值分段"},
}
ILLUSTRATIVE_NOTE = {"en": "Illustrative data, not official statistics: values generated to demonstrate the method.",
                     "zh": "示意数据，非官方统计：数值为演示方法而生成。"}


def edition_figures(ctx, languages=None) -> pd.DataFrame:
    """Draw and save the figure set of an edition, in the run's language unless ``languages`` are given;
    one row per figure and language, with its title, files and caption.

    A time series (several years) gets the index and its dimensions over time, the growth of each dimension
    since the base (or first) year, a radar of that year and the latest, the contribution waterfall when
    there is a base year, and a heatmap of indicator scores by year. A single-year cross-section gets a
    radar of the focus entity against the median and a heatmap of the level below the index by entity.
    Both get the framework diagram and, with 2 to 80 entities, the ranked bar chart.
    A figure of the edition the run replaces or reads whose inputs are unchanged is copied instead of drawn
    (zoneindex.figure_reuse); the column ``reused`` says which.
    """
    edition = _Edition(ctx)
    wanted = [(name, lang) for lang in languages or (ctx.lang,) for name in edition.figure_names()]
    ahead = {key: workers.take_ahead(_ahead_key(ctx, *key), partial(_inputs, ctx)) for key in wanted}
    # taken over here, without a worker (a notebook run by hand starts none when nothing is to be drawn)
    drawn = {key: row for key in wanted if ahead[key] is None
             and (row := _taken_over(edition, *key, ctx.out.figures)) is not None}
    now = _slowest_first([key for key in wanted if ahead[key] is None and key not in drawn], ctx.lang)
    drawn.update(zip(now, workers.run_all([partial(_edition_figure, edition, name, lang, ctx.out.figures)
                                           for name, lang in now])))
    return pd.DataFrame([drawn[key] if ahead[key] is None else ahead[key].result() for key in wanted])


def draw_ahead(ctx, languages=("en", "zh"), background: bool = True) -> None:
    """Start drawing the edition's figure set ahead of need (``workers.start_ahead``), but for the figures that
    need a later stage's tables (``LATER_INPUTS``); ``edition_figures`` takes each one it is asked for if the
    tables it is drawn from are still the same. ``zoneindex run`` calls this once the score notebook is done, in
    the background lane (one CPU, the other runs the validate notebook), and again for the other language once
    the visualize notebook is done, in every worker (``background=False``)."""
    edition, inputs = _Edition(ctx), _inputs(ctx)
    for name, lang in _slowest_first([(name, lang) for lang in languages for name in edition.figure_names()
                                      if name not in LATER_INPUTS], ctx.lang):
        task = partial(_edition_figure, edition, name, lang, ctx.out.figures)
        if not workers.start_ahead(_ahead_key(ctx, name, lang), inputs, task, background):
            return


def _slowest_first(keys: list[tuple[str, str]], lang: str) -> list[tuple[str, str]]:
    """(figure, language) pairs, those in ``lang`` (the run's, needed first) before the others, and the slowest
    to draw first (many labels; Chinese PDFs embed a CJK font subset): then the workers finish together, and
    what is left when drawing ahead stops is quick to draw."""
    return sorted(keys, key=lambda key: (key[1] != lang, SLOWEST.index(key[0]) if key[0] in SLOWEST else len(SLOWEST)))


def _ahead_key(ctx, name: str, lang: str) -> str:
    return f"figure {name}_{lang} in {ctx.out.figures}"


def _inputs(ctx) -> list:
    """The stage tables an edition figure may be drawn from (all of ``_Edition``'s but those of ``LATER_INPUTS``)."""
    return [ctx.table_path(name) for name in ("scores", "weights", "contributions", "entities") if ctx.has(name)]


# The figures drawn with the validate stage's uncertainty ranks (their 5-95 % rank ranges): never drawn ahead
LATER_INPUTS = {"ranked_bars"}
SLOWEST = ("framework", "heatmap", "ranked_bars")  # to draw, measured (benchmarks/pipeline.py)


def _edition_figure(edition: "_Edition", name: str, lang: str, folder) -> dict:
    """Figure ``name`` in ``lang`` saved into ``folder``: taken over from the edition the run replaces or reads
    when nothing it is drawn from has changed (zoneindex.figure_reuse), else drawn; its row, ``reused`` saying
    which."""
    mark = _fingerprint(edition, name, lang)
    if (row := _taken_over(edition, name, lang, folder, mark)) is not None:
        return row
    set_theme(lang)
    fig, caption = edition.draw(name, lang)
    row, files = _saved(fig, name, lang, folder, caption)
    row = {"figure": name, "lang": lang, "title": row["title"], "illustrative": edition.illustrative,
           "files": row["files"], "caption": caption}
    figure_reuse.remember(folder, f"{name}_{lang}", mark, row, files)
    return {**row, "reused": False}


def _taken_over(edition: "_Edition", name: str, lang: str, folder, mark: str | None = None) -> dict | None:
    """The row of figure ``name`` in ``lang`` copied into ``folder`` from the earlier edition, if it can be
    (zoneindex.figure_reuse; ``mark``: its fingerprint, when known); None: it is to be drawn."""
    if edition.earlier is None:
        return None
    mark = mark or _fingerprint(edition, name, lang)
    row = figure_reuse.reuse(edition.earlier, folder, f"{name}_{lang}", mark)
    return None if row is None else {**row, "reused": True}


def _fingerprint(edition: "_Edition", name: str, lang: str) -> str:
    """figure_reuse.fingerprint of the figure with the house style of ``lang`` in force (the caller's style is
    left as it was)."""
    with mpl.rc_context():
        set_theme(lang)
        return figure_reuse.fingerprint(edition.data[name in LATER_INPUTS], name, lang)


def _saved(fig: Figure, name: str, lang: str, folder, caption: str) -> tuple[dict, list]:
    """Save ``fig`` as ``<name>_<lang>.*`` with its caption, and as ``editable/<name>_<lang>.svg`` with its text
    as text (for editors: the figure pack); the row that lists it, and every file saved.

    The title is taken off the image first: the write-up, the Word document and the figure pack number and
    caption every figure outside it (zoneindex.captions), as a report does; the row keeps it.
    """
    title = figure_title(fig)
    fig.suptitle("")
    editable = folder / EDITABLE / f"{name}_{lang}"
    files = save_figure(fig, folder / f"{name}_{lang}", caption=caption, editable=editable)
    row = {"figure": name, "lang": lang, "title": title, "files": ", ".join(p.name for p in files)}
    return row, [*files, editable.parent / f"{editable.name}.svg"]


class _Edition:
    """The stage tables of one edition, read once, and one method per figure returning (figure, caption)."""

    def __init__(self, ctx):
        self.study, self.fw = ctx.study, ctx.study.framework
        self.scores = ctx.read("scores")
        self.weights = ctx.read("weights")
        self.contributions = ctx.read("contributions") if self.study.base_year is not None else None
        self.entity = self.study.config.get("focus_entity") or self.scores["entity"].iloc[0]
        self.own = self.scores[self.scores["entity"] == self.entity]
        self.dimensions = self.fw.level_codes(self.fw.max_level - 1)
        self.axes = _radar_level(self.fw)
        self.colours = dimension_colours(self.dimensions)  # the one colour map of every figure
        self.years = sorted(self.own.loc[self.own["code"] == self.fw.root].dropna(subset=["value"])["year"])
        self.base = self.study.base_year if self.study.base_year is not None else self.years[0]
        self.last = self.years[-1]
        self.latest = self.scores[self.scores["year"] == self.last]
        self.illustrative = bool(self.scores["illustrative"].any())
        # the validate stage's 5-95 % rank ranges, drawn beside the ranked bars of a cross-section
        self.rank_ranges = ctx.read("uncertainty_ranks") if ctx.has("uncertainty_ranks") else None
        # entity names of the study's entity table (asem: English country names), for the English figures
        self.entity_names = (ctx.read("entities").set_index("entity")["name"].dropna().astype(str).to_dict()
                             if ctx.has("entities") and "name" in ctx.read("entities") else {})
        # the digest of what the figures are drawn from, keyed by whether a figure is one of LATER_INPUTS (drawn
        # from the rank ranges too; the others are drawn ahead, before those exist), and the figures of the
        # edition the run replaces or reads: each is taken over while what it is drawn from is unchanged
        drawn_from = {"scores": self.scores, "weights": self.weights, "contributions": self.contributions,
                      "entity_names": pd.DataFrame({"name": self.entity_names})}
        ranked = {**drawn_from, "uncertainty_ranks": self.rank_ranges}
        self.data = {False: figure_reuse.data_digest(drawn_from, self.study),
                     True: figure_reuse.data_digest(ranked, self.study)}
        self.earlier = ctx.earlier_figures()

    def figure_names(self) -> list[str]:
        series, entities = len(self.years) > 1, self.latest["entity"].nunique()
        wanted = {"index_over_time": series, "growth": series, "radar": True,
                  "waterfall": self.contributions is not None, "heatmap": True, "ranked_bars": 1 < entities <= 80,
                  "framework": True}
        return [name for name, ok in wanted.items() if ok]

    def draw(self, name: str, lang: str) -> tuple[Figure, str]:
        labels = {**self.fw.labels(lang), "total": TEXT["total"][lang], "median": TEXT["median_all"][lang]}
        base = self.study.base_year
        text = {"index": labels[self.fw.root], "entity": self.entity, "start": self.years[0], "last": self.last,
                "base": self.base, "a": self.base, "b": self.last, "n": len(self.dimensions),
                "entities": self.latest["entity"].nunique(), "indicators": len(self.fw.indicators),
                "levels": self.fw.max_level, "stacked": "",
                "rebased": CAPTION_PARTS["rebased"][lang].format(base=base) if base is not None else ""}
        note = ILLUSTRATIVE_NOTE[lang] if self.illustrative else None
        fig, key = getattr(self, f"_{name}")(labels, text, lang, note)
        caption = CAPTIONS[key][lang].format(**text)
        return fig, caption + ("" if note is None else ("" if lang == "zh" else " ") + note)

    def _index_over_time(self, labels, text, lang, note):
        title = FIGURE_TITLES["index_over_time"][lang].format(**text)
        return plot_index_over_time(self.own, [self.fw.root, *self.dimensions], labels, self.colours,
                                    self.study.base_year, title, note), "index_over_time"

    def _growth(self, labels, text, lang, note):
        codes = [self.fw.root, *self.dimensions]
        wide = self.own[self.own["code"].isin(codes)].pivot(index="year", columns="code", values="value")
        changes = 100 * (wide.loc[self.last, codes] / wide.loc[self.base, codes] - 1)
        return plot_growth(changes, labels, self.colours, FIGURE_TITLES["growth"][lang].format(**text), note), "growth"

    def _radar(self, labels, text, lang, note):
        if len(self.years) > 1:
            values = self.own[self.own["code"].isin(self.axes) & self.own["year"].isin([self.base, self.last])].pivot(
                index="code", columns="year", values="value").loc[self.axes]
            key = "radar"
        else:
            wide = self.latest[self.latest["code"].isin(self.axes)].pivot(index="code", columns="entity",
                                                                           values="value").loc[self.axes]
            # The entity last, so it is drawn darkest, as "now" is in the time series.
            values = pd.DataFrame({labels["median"]: wide.median(axis=1), self.entity: wide[self.entity]})
            key = "radar_entities"
        return plot_radar(values, labels, FIGURE_TITLES[key][lang].format(**text), note), key

    def _waterfall(self, labels, text, lang, note):
        change = self.contributions[(self.contributions["entity"] == self.entity)
                                    & (self.contributions["year"] == self.last)].set_index("code")
        start = self.own[(self.own["code"] == self.fw.root) & (self.own["year"] == self.base)]["value"].iloc[0]
        title = FIGURE_TITLES["waterfall"][lang].format(**text)
        return plot_waterfall(change.loc[self.dimensions, "to_index"], start, labels, self.colours, title,
                              note), "waterfall"

    def _heatmap(self, labels, text, lang, note):
        center = 100.0 if self.study.base_year is not None else None
        if len(self.years) > 1:
            matrix = self.own[self.own["level"] == 1].pivot(index="code", columns="year", values="value")
            matrix, key = matrix.loc[self.fw.indicators].rename(index=labels), "heatmap"
        else:  # entities down the side, ordered by the index: 50+ entities fit a column only as rows
            order = self.latest[self.latest["code"] == self.fw.root].sort_values("value", ascending=False)["entity"]
            matrix = self.latest[self.latest["code"].isin(self.axes)].pivot(index="entity", columns="code",
                                                                             values="value")
            matrix, key = matrix.loc[order, self.axes].rename(columns=labels), "heatmap_entities"
            matrix = matrix.rename(index=self.entity_names if lang == "en" else {})
        return plot_heatmap(matrix, FIGURE_TITLES[key][lang].format(**text), note, center=center, lang=lang), key

    def _ranked_bars(self, labels, text, lang, note):
        wide = self.latest.pivot(index="entity", columns="code", values="value")
        relative = self.weights.set_index("code")["relative_weight"]
        # Dimension points add up to the index only for an arithmetic top level on unrebased scores.
        stacked = (aggregate_method(self.study, self.fw.max_level) == "arithmetic"
                   and not self.study.methods.get("rebase"))
        values = wide[self.dimensions] * relative[self.dimensions] if stacked else wide[[self.fw.root]]
        text["stacked"] = CAPTION_PARTS["stacked"][lang] if stacked else ""
        title = FIGURE_TITLES["ranked_bars"][lang].format(**text)
        intervals = None
        if self.rank_ranges is not None and len(self.rank_ranges):
            ranges = self.rank_ranges[(self.rank_ranges["code"] == self.fw.root) & (self.rank_ranges["year"] == self.last)]
            intervals = ranges.rename(columns={"q05_rank": "q05", "q95_rank": "q95"})[["entity", "q05", "q95"]]
        return plot_ranked_bars(values, labels, self.colours, title, self.entity, note, intervals=intervals,
                                interval_kind="rank", lang=lang, names=self.entity_names if lang == "en" else None,
                                base_year=self.study.base_year if self.study.methods.get("rebase") else None,
                                ), "ranked_bars"

    def _framework(self, labels, text, lang, note):
        title = FIGURE_TITLES["framework"][lang].format(**text)
        return plot_framework(self.weights, labels, self.colours, title, note), "framework"


def _radar_level(framework) -> list[str]:
    """The highest level below the index with at least three nodes (a radar needs three axes)."""
    for level in range(framework.max_level - 1, 0, -1):
        if len(framework.level_codes(level)) >= 3:
            return framework.level_codes(level)
    return framework.indicators


def aggregate_method(study, level: int) -> str:
    """The aggregation method of ``level``."""
    return method_for_level(study.methods["aggregation"], level)[0]


UNCERTAINTY_TEXT = {
    "bands_time": {"en": "{index}, {entity}: 5–95 % range over {runs} method combinations",
                   "zh": "{index}（{entity}）：{runs}种方法组合下的5%–95%区间"},
    "bands_ranks": {"en": "{index} ranks, {year}: 5–95 % range over {runs} method combinations",
                    "zh": "{index}排名（{year}年）：{runs}种方法组合下的5%–95%区间"},
    "sobol": {"en": "What the {target} depends on: Sobol indices", "zh": "{target}的敏感性：Sobol指数"},
    "target": {"value": {"en": "index value", "zh": "指数值"}, "change": {"en": "change since the base year",
               "zh": "相对基年的变化"}, "rank_shift": {"en": "mean rank shift", "zh": "平均排名变动"}},
}


def uncertainty_figures(ctx, summary: pd.DataFrame, ranks: pd.DataFrame | None, indices: pd.DataFrame,
                        runs: int, languages=None) -> pd.DataFrame:
    """The validate stage's figures: the uncertainty range of the index (over the years for the focus
    entity, or of every entity's rank for a cross-section) and the Sobol indices of the main target
    (the change since the base year, else the mean rank shift, else the index value).

    Drawn in both languages (the figure pack holds every figure in both) unless ``languages`` are given;
    the rows returned are those of the run's language, the figures the write-up shows."""
    study, fw = ctx.study, ctx.study.framework
    entity = study.config.get("focus_entity") or summary["entity"].iloc[0]
    years = sorted(summary["year"].unique())
    target = next(t for t in ("change", "rank_shift", "value") if t in set(indices["target"]))
    note_needed = bool(ctx.read("scores")["illustrative"].any())
    tasks = []
    for lang in languages or ("en", "zh"):
        note = ILLUSTRATIVE_NOTE[lang] if note_needed else None
        text = {"index": fw.name(fw.root, lang), "entity": entity, "runs": runs, "year": years[-1],
                "target": UNCERTAINTY_TEXT["target"][target][lang]}
        if len(years) > 1 or ranks is None or ranks.empty:
            own = summary[(summary["entity"] == entity) & (summary["code"] == fw.root)]
            title = UNCERTAINTY_TEXT["bands_time"][lang].format(**text)
            bands = partial(plot_uncertainty_bands, own, title, lang=lang, note=note)
        else:
            latest = ranks[(ranks["code"] == fw.root) & (ranks["year"] == years[-1])]
            latest = latest.rename(columns={"nominal_rank": "nominal", "median_rank": "median",
                                            "q05_rank": "q05", "q95_rank": "q95"})
            title = UNCERTAINTY_TEXT["bands_ranks"][lang].format(**text)
            bands = partial(plot_uncertainty_bands, latest, title, lang=lang, note=note, ascending=True)
        sobol_title = UNCERTAINTY_TEXT["sobol"][lang].format(**text)
        sobol = partial(plot_sobol, indices[indices["target"] == target], sobol_title, lang=lang, note=note)
        for name, plot, title in (("uncertainty", bands, title), ("sobol", sobol, sobol_title)):
            caption = title + ({"en": ". ", "zh": "。"}[lang] + note if note else "")
            tasks.append((plot, name, lang, title, caption))
    drawn = pd.DataFrame(_plotted_figures(ctx, tasks))
    return drawn if languages else drawn[drawn["lang"] == ctx.lang].reset_index(drop=True)


VALIDATION_TEXT = {
    "correlations": {"en": "Correlations (Pearson) between the components of {index}, {year}",
                     "zh": "{index}各组成部分之间的相关系数（Pearson，{year}年）"},
    "rank_shifts": {"en": "{index}: ranks under the alternative method sets, {year}",
                    "zh": "{index}：各备选方法组合下的排名（{year}年）"},
}


def validation_figures(ctx, correlations: pd.DataFrame | None = None, rank_shifts: pd.DataFrame | None = None,
                       languages=None) -> pd.DataFrame:
    """The validate stage's cross-section figures: the correlation matrix of the components (``correlations``,
    codes on both axes) and every entity's rank under each alternative method set (``rank_shifts``, as
    score.rank_shifts gives it), in both languages unless ``languages`` are given, each saved with its caption
    as ``correlations_<lang>`` / ``rank_shifts_<lang>``; the rows returned are those of the run's language."""
    fw = ctx.study.framework
    note_needed = bool(ctx.read("scores")["illustrative"].any())
    tasks = []
    for lang in languages or ("en", "zh"):
        note = ILLUSTRATIVE_NOTE[lang] if note_needed else None
        text = {"index": fw.name(fw.root, lang), "year": ctx.year}
        labels = fw.labels(lang)
        drawn = []
        if correlations is not None:
            title = VALIDATION_TEXT["correlations"][lang].format(**text)
            drawn.append(("correlations", title, partial(plot_heatmap, correlations.rename(index=labels, columns=labels),
                                                         title, note, center=0.0, cmap="RdBu_r", lang=lang)))
        if rank_shifts is not None:
            title = VALIDATION_TEXT["rank_shifts"][lang].format(**text)
            drawn.append(("rank_shifts", title, partial(plot_rank_shifts, rank_shifts, title, note, lang=lang)))
        for name, title, plot in drawn:
            caption = title + ({"en": ". ", "zh": "。"}[lang] + note if note else "")
            tasks.append((plot, name, lang, title, caption))
    rows = pd.DataFrame(_plotted_figures(ctx, tasks), columns=["figure", "lang", "title", "files"])
    return rows if languages else rows[rows["lang"] == ctx.lang].reset_index(drop=True)


def _plotted_figures(ctx, tasks: list[tuple]) -> list[dict]:
    """The rows of the figures ``tasks`` (plot, name, language, title, caption) saved into the run's figures
    folder: each taken over from the edition the run replaces or reads when its plot call, caption and style
    are unchanged (zoneindex.figure_reuse.call_digest), the others drawn in the workers."""
    folder, earlier = ctx.out.figures, ctx.earlier_figures()
    marks = []
    for plot, name, lang, _, caption in tasks:
        with mpl.rc_context():
            set_theme(lang)
            marks.append(figure_reuse.fingerprint(figure_reuse.call_digest(plot, caption), name, lang))
    rows = {i: row for i, ((_, name, lang, _, _), mark) in enumerate(zip(tasks, marks))
            if (row := figure_reuse.reuse(earlier, folder, f"{name}_{lang}", mark)) is not None}
    now = [i for i in range(len(tasks)) if i not in rows]
    rows.update(zip(now, workers.run_all([partial(_plotted, folder, marks[i], *tasks[i]) for i in now])))
    return [rows[i] for i in range(len(tasks))]


def _plotted(folder, mark: str, plot, name: str, lang: str, title: str, caption: str) -> dict:
    set_theme(lang)
    row, files = _saved(plot(), name, lang, folder, caption)
    row = {**row, "title": title}
    figure_reuse.remember(folder, f"{name}_{lang}", mark, row, files)
    return row
