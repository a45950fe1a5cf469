"""Numbered table captions of the write-up (zoneindex.captions): one caption per table, above it."""
from __future__ import annotations

import re

from zoneindex.captions import Numbering


def html_output(table: str) -> dict:
    return {"output_type": "display_data", "metadata": {}, "data": {"text/html": table}}


def test_a_table_with_its_own_caption_keeps_one_numbered_caption():
    numbering = Numbering("zh", {})
    numbering.heading("## 各维度的耦合协调度")
    own = '<table class="dataframe"><caption>CDHT, 2023</caption><thead><tr><th>年份</th></tr></thead></table>'
    plain = '<table class="dataframe"><thead><tr><th>年份</th></tr></thead></table>'
    first, second = (out["data"]["text/html"] for out in numbering.apply([html_output(own), html_output(plain)]))
    assert re.findall(r"<caption>.*?</caption>", first) == [
        '<caption><span class="caption-label">表 1</span>\u3000CDHT, 2023</caption>']
    # a table without a caption of its own is titled by its section, numbered on
    assert re.findall(r"<caption>.*?</caption>", second) == [
        '<caption><span class="caption-label">表 2</span>\u3000各维度的耦合协调度</caption>']
