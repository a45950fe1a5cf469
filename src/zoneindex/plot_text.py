"""Text on figures at print size: measured with the fonts that draw it, and wrapped where Latin or Chinese may break.

Matplotlib's own ``wrap=True`` only breaks at spaces, so never inside Chinese; and a size set in the rc
parameters is only known in points once measured. These helpers serve the figure functions of
``zoneindex.plots``, which draw every figure at its print size.
"""
from __future__ import annotations

import functools
import re
import unicodedata

import matplotlib as mpl
import matplotlib.font_manager as fm
import numpy as np
from matplotlib.textpath import text_to_path


def font_points(key: str = "xtick.labelsize") -> float:
    """An rc font size in points; the default is the smallest text of the theme (tick labels)."""
    return fm.FontProperties(size=mpl.rcParams[key]).get_size_in_points()


def text_width(text: str, size: float) -> float:
    """Width of the widest line of ``text`` in points, measured with the fonts (and glyph fallback) that draw it."""
    font = tuple(tuple(value) if isinstance(value, list) else value for value in
                 (mpl.rcParams[f"font.{key}"] for key in _FONT_KEYS))
    return max(_line_width(line, size, font) for line in text.split("\n"))


_FONT_KEYS = ("family", "sans-serif", "serif", "monospace", "style", "variant", "weight", "stretch")


@functools.lru_cache(maxsize=8192)  # wrap() measures each line again with every word it adds
def _line_width(line: str, size: float, font: tuple) -> float:
    """Width in points of one line in the font the rc parameters ``font`` (values of _FONT_KEYS) choose."""
    return text_to_path.get_text_width_height_descent(line, fm.FontProperties(size=size), ismath=False)[0]


def _wide(ch: str) -> bool:
    """A full-width (CJK) character: lines may break before or after it without a space."""
    return unicodedata.east_asian_width(ch) in "WF"


def wrap(text: str, width: float, size: float) -> str:
    """Wrap to ``width`` points: matplotlib's own wrap=True only breaks at spaces, so never inside Chinese."""
    lines, line = [], ""
    for token in _tokens(text):
        if line and text_width(line + token, size) > width:
            lines.append(line.rstrip())
            line, token = "", token.lstrip()
        line += token
    return "\n".join(lines + [line])


def _tokens(text: str) -> list[str]:
    """Break points: each CJK character is a token, Latin words keep their leading space, and CJK
    closing punctuation sticks to the character before it (a line never starts with "，")."""
    wide = [_wide(ch) for ch in text]
    tokens: list[str] = []
    for i, ch in enumerate(text):
        if i and ((not wide[i] and not wide[i - 1] and ch != " ") or ch in "，。；：、！？）》」"):
            tokens[-1] += ch
        else:
            tokens.append(ch)
    return tokens


def fit_label(text: str, width: float, size: float | None = None) -> str:
    """A label at most ``width`` points wide, in lines of about equal length (no lone word on the last line)."""
    size = size or font_points()
    total = text_width(text, size)
    return wrap(text, total / np.ceil(total / width) + size, size)  # + 1 em: slack for the break points


def unwrap(text: str) -> str:
    """Undo the line breaks of ``wrap``: a break between Latin words took a space, one by a CJK character not."""
    return re.sub(r"(.)\n(?=(.))", lambda m: m[1] + (" " if not (_wide(m[1]) or _wide(m[2])) else ""), text)
