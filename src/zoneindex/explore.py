"""The what-if explorer behind ``notebooks/explore.ipynb``: the notebook only wires ipywidgets to it.

    explorer = Explorer(zi.load("cdht"))       # the nominal result, the choices the drop-downs offer
    view = explorer.view(weights={"D3": 2.0}, normalisation="efficacy", aggregation="geometric")
    view.figure, view.shift, view.headline      # redrawn on every change, in well under a second
    explorer.save("heavier_innovation", view)   # an ``alternatives:`` entry to paste into study.yaml

Per change it re-scores the cached clean data (``whatif.WhatIf.score``) and draws one figure: for a study
with a base year the focus entity's index over time and the dimensions' contributions to its change since
the base year, nominal beside the variant; for a cross-section the ranking and the largest rank shifts.
The shift against the nominal is ``whatif.compare``'s table.

The drop-downs offer the study's own choice, the choices its ``alternatives:`` and ``uncertainty:`` sections
name, and the registry's methods that need no settings, each kept only if it scores this study's data.
"""
from __future__ import annotations

import html
import io
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from zoneindex.aggregate import AGGREGATORS
from zoneindex.errors import InputError
from zoneindex.figures import ILLUSTRATIVE_NOTE
from zoneindex.normalise import NORMALISERS
from zoneindex.plot_text import text_width
from zoneindex.plots import FONTS, INDEX_COLOUR, PALETTE
from zoneindex.whatif import Result, WhatIf, compare, load

STEPS = ("normalisation", "aggregation")
# registry methods offered without settings (the others need options a study has to choose)
PLAIN = {"normalisation": [m for m in ("minmax", "zscore", "rank", "percentile_rank", "chained_growth", "efficacy")
                           if m in NORMALISERS],
         "aggregation": [m for m in AGGREGATORS if m != "generalised"]}
NOMINAL_COLOUR, VARIANT_COLOUR = "#999999", PALETTE[0]
TOP = 15  # entities drawn in a ranking
SIZE, DPI, FONT = (11.0, 3.8), 90, 9.0  # the figure on screen: inches, dots per inch, points
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Slider:
    """One dimension's raw weight (siblings are rescaled to sum to 1), as a slider shows it."""

    code: str
    label: str
    value: float
    max: float
    step: float
    min: float = 0.0


@dataclass
class View:
    """What the notebook shows after a change: the figure (and its PNG), the shift table, one headline line,
    and the seconds it all took, drawing included."""

    result: Result | None
    figure: Figure | None
    png: bytes
    shift: pd.DataFrame | None
    headline: str
    seconds: float
    overrides: dict

    def table_html(self) -> str:
        return "" if self.shift is None else self.shift.round(3).to_html(index=False, border=0)

    def headline_html(self) -> str:
        return f"<b>{html.escape(self.headline)}</b> <small>(re-scored and drawn in {self.seconds:.2f} s)</small>"


def _cjk(text: str) -> bool:
    return any("\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\uffef" for ch in text)


class Explorer:
    """A study loaded for what-if (``zoneindex.load``), its nominal result, and what the widgets offer."""

    def __init__(self, session: WhatIf, lang: str = "en", scratch: str | Path | None = None):
        self.session, self.lang = session, lang
        self.study, self.fw = session.study, session.study.framework
        self.scratch = Path(scratch) if scratch else None
        self.nominal = session.score()
        self.dimensions = self.fw.level_codes(self.fw.max_level - 1)
        scores = self.nominal.scores
        self.entity = self.study.config.get("focus_entity") or scores["entity"].iloc[0]
        if self.entity not in set(scores["entity"]):
            self.entity = scores["entity"].iloc[0]
        self.series = self.nominal.contributions is not None
        self.labels = self.fw.labels(lang)
        # the CJK font only where a Chinese name is drawn: its glyph fallback makes every text slower
        chinese = any(_cjk(name) for name in [*self.labels.values(), *map(str, scores["entity"].unique())])
        self.fonts = FONTS[lang] if lang == "zh" or chinese else FONTS["en"][:1]
        self.choices = {step: self._choices(step) for step in STEPS}

    @classmethod
    def from_context(cls, ctx) -> "Explorer":
        """For a notebook's run context (``pipeline.open_run``): the latest good edition of its year under the
        out-root (else the raw files), its language, and its scratch folder for saved alternatives."""
        return cls(load(ctx.study.name, ctx.year, out_root=ctx.out.out_root), ctx.lang, getattr(ctx.out, "folder", None))

    # --- what the widgets offer ------------------------------------------------------------------

    def sliders(self) -> list[Slider]:
        weights = self.nominal.weights.set_index("code")["weight"]
        top = max(float(weights[self.dimensions].max()), 1e-9)
        return [Slider(code, self.labels[code], float(weights[code]), round(3 * top, 6), round(top / 20, 6))
                for code in self.dimensions]

    def nominal_choice(self, step: str) -> str:
        return next(iter(self.choices[step]))

    def _choices(self, step: str) -> dict[str, dict]:
        """label -> method setting, the study's own first; only settings that score this study's data."""
        candidates = [self.study.methods[step]]
        for overrides in (self.study.config.get("alternatives") or {}).values():
            candidates.append(overrides.get(step))
        inputs = ((self.study.config.get("uncertainty") or {}).get("inputs") or {}).get(step)
        candidates += [c for c in inputs if isinstance(c, dict) and "with" not in c] if isinstance(inputs, list) else []
        candidates += [{"method": m} for m in PLAIN[step] if m not in {c.get("method") for c in candidates if c}]
        choices, seen = {}, set()
        for spec in candidates:
            if not isinstance(spec, dict):
                continue
            effective = self._effective(step, spec)
            key = json.dumps(effective, sort_keys=True, default=str)
            if key in seen or (choices and not self._scores(step, effective)):
                continue
            seen.add(key)
            choices[("" if choices else "nominal: ") + self._label(step, effective)] = effective
        return choices

    def _effective(self, step: str, spec: dict) -> dict:
        """The whole setting a step gets from ``spec`` (aggregation keeps the study's rules for missing children)."""
        nominal = self.study.methods[step]
        if step == "aggregation" or "method" not in spec:
            return {**nominal, **spec}
        return dict(spec)

    def _label(self, step: str, spec: dict) -> str:
        nominal = self.study.methods[step] if step == "aggregation" else {}
        method = spec.get("method", self.study.methods[step].get("method"))
        options = [f"{k} {v}" for k, v in spec.items() if k != "method" and nominal.get(k, object()) != v]
        return method + (f" ({', '.join(options)})" if options else "")

    def _scores(self, step: str, spec: dict) -> bool:
        try:
            result = self.session.score(**{step: spec})
        except (InputError, ValueError, ZeroDivisionError, FloatingPointError):
            return False
        root = self._index(result).loc[result.year]
        usable = root.notna() & (root > 0 if self.study.methods.get("rebase") else root.notna())
        return bool(usable.any()) and bool(np.isfinite(root.dropna()).all())

    # --- one change ---------------------------------------------------------------------------------

    def overrides(self, weights: dict | None = None, normalisation: str | None = None,
                  aggregation: str | None = None) -> dict:
        """The method overrides for ``WhatIf.score`` from the widgets' values (labels of ``choices``)."""
        overrides = {}
        for step, label in (("normalisation", normalisation), ("aggregation", aggregation)):
            if label is not None and label != self.nominal_choice(step):
                if label not in self.choices[step]:
                    raise InputError(f"not a {step} choice of the explorer", value=label,
                                     expected=f"one of {list(self.choices[step])}")
                overrides[step] = self.choices[step][label]
        nominal = {s.code: s.value for s in self.sliders()}
        changed = {code: round(float(w), 4) for code, w in (weights or {}).items()
                   if abs(float(w) - nominal[code]) > 1e-9}
        if changed:
            spec = dict(self.study.methods["weights"])
            if spec.get("method") in ("fixed", "equal"):  # as study.yaml writes them
                overrides["weights"] = {**spec, "nodes": {**(spec.get("nodes") or {}), **changed}}
            else:
                overrides["weights"] = changed
        return overrides

    def view(self, weights: dict | None = None, normalisation: str | None = None,
             aggregation: str | None = None) -> View:
        """Re-score with the widgets' values and draw; a refused choice gives its message as the headline."""
        started = time.perf_counter()
        overrides = self.overrides(weights, normalisation, aggregation)
        try:
            result = self.session.score(**overrides)
        except InputError as error:
            return View(None, None, b"", None, f"refused: {error}", time.perf_counter() - started, overrides)
        shift = compare(self.nominal, result, lang=self.lang)
        if self.series:
            shift = shift[(shift["entity"] == self.entity) & (shift["level"] >= self.fw.max_level - 1)]
            shift = shift[["code", "name", "before", "after", "change"]]
        else:
            shift = shift[shift["code"] == self.fw.root]
            shift = shift.reindex(shift["rank_shift"].abs().sort_values(ascending=False).index)
            shift = shift[["entity", "before", "after", "rank_before", "rank_after", "rank_shift"]].head(TOP)
        # the fonts by name (not "sans-serif"): matplotlib caches what a generic family resolved to
        with mpl.rc_context({"font.family": self.fonts, "font.size": FONT, "axes.titlesize": FONT + 1}):
            figure = self._series_figure(result) if self.series else self._ranking_figure(result)
            if self.study.illustrative:
                figure.text(0.01, 0.01, ILLUSTRATIVE_NOTE[self.lang], fontsize=FONT - 1, color="#444444")
            png = io.BytesIO()
            figure.savefig(png, format="png", dpi=DPI)
        return View(result, figure, png.getvalue(), shift.reset_index(drop=True), self._headline(result),
                    time.perf_counter() - started, overrides)

    def _canvas(self, left: list[str], right: list[str]):
        """A figure of two panels side by side, with room measured for their row labels (no layout engine:
        it would draw the figure twice)."""
        figure = Figure(figsize=SIZE)
        width, height = SIZE
        room = [max((text_width(str(t), FONT) for t in labels), default=0.0) / 72 + 0.35 for labels in (left, right)]
        panel = (width - sum(room) - 0.5) / 2
        x = room[0]
        axes = []
        for k in range(2):
            axes.append(figure.add_axes((x / width, 0.55 / height, panel / width, (height - 0.95) / height)))
            x += panel + 0.25 + (room[1] if k == 0 else 0)
        return figure, axes

    def _index(self, result: Result) -> pd.DataFrame:
        """The index by year (rows) and entity (columns); an infinite value (a rebase on 0) as missing."""
        scores = result.scores
        table = scores[scores["code"] == self.fw.root].pivot(index="year", columns="entity", values="value")
        return table.replace([np.inf, -np.inf], np.nan)

    def _headline(self, result: Result) -> str:
        year, name = result.year, self.labels[self.fw.root]
        before, after = self._index(self.nominal).loc[year], self._index(result).loc[year]
        if self.series:
            b, a = before[self.entity], after[self.entity]
            illustrative = f" [{ILLUSTRATIVE_NOTE[self.lang]}]" if self.study.illustrative else ""
            return f"{name}, {self.entity} {year}: {b:.2f} (nominal) → {a:.2f} ({a - b:+.2f}){illustrative}"
        shifts = (before.rank(ascending=False, method="min") - after.rank(ascending=False, method="min")).abs()
        rho = before.corr(after, method="spearman")
        return (f"{name} {year}: mean |rank shift| {shifts.mean():.2f}, largest {shifts.max():.0f} "
                f"({shifts.idxmax()}), Spearman ρ {rho:.3f} against the nominal")

    def _series_figure(self, result: Result) -> Figure:
        figure, (over_time, parts) = self._canvas(["1000.0"], [self.labels[d] for d in self.dimensions])
        for label, res, colour, style in (("nominal", self.nominal, NOMINAL_COLOUR, "--"),
                                          ("variant", result, VARIANT_COLOUR, "-")):
            series = self._index(res)[self.entity]
            over_time.plot(series.index, series.to_numpy(), style, color=colour, label=label, marker="o", ms=3)
        over_time.set_title(f"{self.labels[self.fw.root]} ({self.entity})")
        over_time.legend()
        year = result.year
        rows = []
        for res in (self.nominal, result):
            c = res.contributions
            c = c[(c["entity"] == self.entity) & (c["year"] == year)].set_index("code")["to_index"]
            rows.append(c.reindex(self.dimensions).replace([np.inf, -np.inf], np.nan).fillna(0.0).to_numpy())
        y = range(len(self.dimensions))
        parts.barh([v + 0.2 for v in y], rows[0], height=0.4, color=NOMINAL_COLOUR, label="nominal")
        parts.barh([v - 0.2 for v in y], rows[1], height=0.4, color=VARIANT_COLOUR, label="variant")
        parts.set_yticks(list(y), [self.labels[d] for d in self.dimensions])
        parts.invert_yaxis()
        parts.axvline(0, color=INDEX_COLOUR, lw=0.8)
        parts.set_title(f"points of the change since {self.study.base_year}, {year}")
        parts.legend()
        return figure

    def _ranking_figure(self, result: Result) -> Figure:
        year = result.year
        after, before = self._index(result).loc[year].dropna(), self._index(self.nominal).loc[year]
        top = after.sort_values(ascending=False).head(TOP)
        shift = (before.rank(ascending=False, method="min") - after.rank(ascending=False, method="min")).dropna()
        largest = shift.reindex(shift.abs().sort_values(ascending=False).index).head(TOP)
        figure, (ranking, moves) = self._canvas(list(top.index), list(largest.index))
        y = range(len(top))
        ranking.barh(list(y), top.to_numpy(), color=VARIANT_COLOUR, label="variant")
        ranking.plot(before[top.index].to_numpy(), list(y), "o", color=INDEX_COLOUR, ms=4, label="nominal")
        ranking.set_yticks(list(y), list(top.index))
        ranking.invert_yaxis()
        ranking.set_title(f"{self.labels[self.fw.root]}, top {len(top)} in {year}")
        ranking.legend()
        moves.barh(list(range(len(largest))), largest.to_numpy(),
                   color=[VARIANT_COLOUR if v >= 0 else PALETTE[1] for v in largest])
        moves.set_yticks(list(range(len(largest))), list(largest.index))
        moves.invert_yaxis()
        moves.axvline(0, color=INDEX_COLOUR, lw=0.8)
        moves.set_title("largest rank shifts (+ = moved up)")
        return figure

    # --- the button ---------------------------------------------------------------------------------

    def save(self, name: str, view: View) -> str:
        """The chosen variant as an ``alternatives:`` entry (text to paste under ``alternatives:`` in the
        study's study.yaml), also written to ``<scratch>/alternatives/<name>.yaml``."""
        if not NAME.match(name or ""):
            raise InputError("an alternative's name is a word of letters, digits and _", value=name,
                             expected="e.g. heavier_innovation")
        if view.result is None:
            raise InputError("this variant was refused: nothing to save", value=view.headline)
        folder = self.study.folder.relative_to(self.study.folder.parents[1])
        text = (f"# paste under alternatives: in {folder / 'study.yaml'}\n"
                f"  {view.result.alternative_entry(name)}\n")
        if self.scratch is not None:
            target = self.scratch / "alternatives" / f"{name}.yaml"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        return text
