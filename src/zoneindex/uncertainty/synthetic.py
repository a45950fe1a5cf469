"""A synthetic study, for benchmarks and tests."""
from __future__ import annotations

import numpy as np
import pandas as pd

from zoneindex.framework import Framework
from zoneindex.study import Study


def synthetic_study(entities: int = 20, indicators: int = 12, years: int = 5, groups: tuple = (3, 2),
                    seed: int = 0, base_year: int | None = None, missing: float = 0.0,
                    methods: dict | None = None, uncertainty: dict | None = None) -> tuple[Study, pd.DataFrame]:
    """An in-memory study (framework, methods, ``uncertainty:`` section) and its tidy input table.

    Indicators are grouped into ``groups[0]`` sub-pillars per pillar and ``groups[1]`` pillars under the
    index (levels 1..4), with random directions and weights; values are log-normal, a share ``missing``
    of them left out. Nothing is written to disk.
    """
    rng = np.random.default_rng(seed)
    per_sub, n_pillars = groups
    n_sub = per_sub * n_pillars
    rows = [dict(code="IDX", level=4, parent="", type="Aggregate", name_en="Index", name_zh="", unit="",
                 direction=np.nan, weight=1.0)]
    for p in range(n_pillars):
        rows.append(dict(code=f"P{p}", level=3, parent="IDX", type="Aggregate", name_en=f"Pillar {p}", name_zh="",
                         unit="", direction=np.nan, weight=1.0))
    for s in range(n_sub):
        rows.append(dict(code=f"S{s}", level=2, parent=f"P{s // per_sub}", type="Aggregate", name_en=f"Sub {s}",
                         name_zh="", unit="", direction=np.nan, weight=float(rng.integers(1, 3))))
    for j in range(indicators):
        rows.append(dict(code=f"x{j}", level=1, parent=f"S{j % n_sub}", type="Indicator", name_en=f"x{j}",
                         name_zh="", unit="u", direction=int(rng.choice([1, 1, -1])), weight=float(rng.integers(1, 4))))
    fw = Framework.from_table(pd.DataFrame(rows))
    first = 2001
    year_list = list(range(first, first + years))
    grid = pd.MultiIndex.from_product([[f"E{e:03d}" for e in range(entities)], year_list, fw.indicators],
                                      names=["entity", "year", "indicator"]).to_frame(index=False)
    grid["value"] = np.exp(rng.normal(0, 0.6, len(grid))) * (1 + 0.03 * (grid["year"] - first))
    if missing:
        grid.loc[rng.random(len(grid)) < missing, "value"] = np.nan
        grid = grid.dropna(subset=["value"])
    grid["unit"], grid["source"], grid["flag"] = "u", "synthetic", ""
    config = {"study": "synthetic", "title": {"en": "Synthetic", "zh": ""},
              "years": {"first": first, "last": year_list[-1]}, "base_year": base_year,
              "methods": methods or {"imputation": {"method": "none"}, "outliers": {"method": "none"},
                                     "normalisation": {"method": "minmax", "scale": [1, 100]},
                                     "weights": {"method": "fixed"},
                                     "aggregation": {"method": "arithmetic", "min_availability": 0.5},
                                     "rebase": base_year is not None},
              "uncertainty": uncertainty or {}}
    return Study("synthetic", None, config, fw), grid.reset_index(drop=True)
