"""Citations in the write-up: ``[@key]`` in prose, numbered references, and the reference list.

Prose cites a work as ``[@saltelli2010]`` or ``[@saltelli2010; @jansen1999]`` (pandoc's syntax, so a
notebook reads the same in JupyterLab). The works are kept once, in ``templates/references.yaml``; the
write-up numbers them in the order they are first cited, shows ``[1]`` or ``[1, 2]`` in the text and lists
them at the end, in English in an author–year style and in Chinese in the GB/T 7714-2015 style that Chinese
journals and reports use (Latin family names in capitals, initials without points, "等" / "et al." after
three authors, [J] [M] [EB/OL] for the kind of work). ``[@fig:<name>]`` is a cross-reference to a figure of
the write-up and becomes its number ("Figure 3", "图 3"). A key that is not defined is an error naming it.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import yaml

from zoneindex.errors import InputError

REFERENCES_FILE = Path(__file__).parent / "templates" / "references.yaml"
# [@key] or [@key1; @key2]; a key is a letter then letters, digits, "_", ":" or "-" (as in pandoc)
CITATION = re.compile(r"\[(@[A-Za-z][\w:-]*(?:\s*;\s*@[A-Za-z][\w:-]*)*)\]")
REQUIRED = {"article": {"journal"}, "book": {"publisher"}, "report": {"publisher"}, "web": {"url"}}
OPTIONAL = {"article": {"volume", "issue", "pages"}, "book": {"place", "series"}, "report": {"place", "series"},
            "web": {"accessed"}}
COMMON = {"type", "authors", "year", "title", "doi", "url"}
KIND_CODE = {"article": "J", "book": "M", "report": "R", "web": "EB/OL"}  # GB/T 7714-2015 document types
HEADING = {"en": "References", "zh": "参考文献"}
_CJK = re.compile(r"[\u3400-\u9fff]")


def load_references(path: Path = REFERENCES_FILE) -> dict[str, dict]:
    """The works that may be cited, by key, each checked: its type known, its fields those of the type."""
    path = Path(path)
    works = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(works, dict):
        raise InputError("the references file is not a mapping of keys to works", file=path)
    for key, work in works.items():
        if not isinstance(work, dict) or work.get("type") not in REQUIRED:
            raise InputError("reference without a known type", file=path, row=key,
                             value=work.get("type") if isinstance(work, dict) else work,
                             expected=f"type: one of {sorted(REQUIRED)}")
        kind = work["type"]
        if missing := sorted({"authors", "year", "title", *REQUIRED[kind]} - set(work)):
            raise InputError(f"reference lacks {', '.join(missing)}", file=path, row=key, expected=f"the fields of a {kind}")
        if unknown := sorted(set(work) - COMMON - REQUIRED[kind] - OPTIONAL[kind]):
            raise InputError(f"unknown field {', '.join(unknown)} in a reference", file=path, row=key,
                             expected=f"some of {sorted(COMMON | REQUIRED[kind] | OPTIONAL[kind])}")
    return works


class Citations:
    """Numbers the works of one write-up in the order they are first cited, and lists them."""

    def __init__(self, works: dict[str, dict], lang: str, cross_refs: dict[str, str] | None = None):
        self.works, self.lang = works, lang
        self.cross_refs = cross_refs or {}  # "fig:<name>" -> its label ("Figure 3")
        self.numbers: dict[str, int] = {}

    def replace(self, markdown: str, where: Path | str) -> str:
        """``markdown`` with every ``[@key…]`` replaced by its numbers or its figure label, as markdown links to the
        list or the figure (the notebook's markdown renderer splits inline HTML links); ``where`` (the notebook)
        names the file in the error about an unknown key."""
        def cite(m: re.Match) -> str:
            keys = [k.strip().lstrip("@") for k in m[1].split(";")]
            if all(k in self.cross_refs for k in keys):
                return (", " if self.lang == "en" else "、").join(
                    f'[{self.cross_refs[k]}](#{k.replace(":", "-")})' for k in keys)
            links = []
            for key in keys:
                if key not in self.works:
                    known = sorted(self.works) + sorted(self.cross_refs)
                    raise InputError("citation of an unknown reference", file=where, value=f"[@{key}]",
                                     expected=f"a key of {REFERENCES_FILE.name} or a figure: one of {known}")
                number = self.numbers.setdefault(key, len(self.numbers) + 1)
                links.append(f"[{number}](#ref-{key})")
            return "\\[" + ", ".join(links) + "\\]"
        return CITATION.sub(cite, markdown)

    def reference_list_html(self) -> str:
        """The numbered list of the works cited (nothing when none was)."""
        if not self.numbers:
            return ""
        items = "".join(f'<li id="ref-{key}" value="{n}">{html.escape(format_reference(self.works[key], self.lang))}</li>\n'
                        for key, n in sorted(self.numbers.items(), key=lambda kv: kv[1]))
        return (f'<section class="references">\n<h1 id="references">{HEADING[self.lang]}</h1>\n'
                f'<ol class="reference-list">\n{items}</ol>\n</section>\n')


def format_reference(work: dict, lang: str) -> str:
    """One entry of the reference list, as plain text (GB/T 7714-2015 for ``zh``, author–year for ``en``)."""
    return _gbt7714(work) if lang == "zh" else _author_year(work)


def _split(author: str) -> tuple[str, list[str]]:
    """Family name and given names ("Jansen, Michiel J. W." -> "Jansen", ["Michiel", "J", "W"])."""
    family, _, given = author.partition(",")
    return family.strip(), [g.strip(".") for g in re.split(r"[\s.]+", given) if g.strip(".")]


def _locator(work: dict, volume_sep: str) -> str:
    """"181(2)" and the pages, as far as the work gives them."""
    text = str(work.get("volume", ""))
    if "issue" in work:
        text += f"({work['issue']})"
    if "pages" in work:
        text += f"{volume_sep}{work['pages']}" if text else str(work["pages"])
    return text


def _link(work: dict, doi_prefix: str) -> str:
    if "doi" in work:
        return f"{doi_prefix}{work['doi']}"
    return work.get("url", "")


def _author_year(work: dict) -> str:
    names = []
    for author in work["authors"]:
        family, given = _split(author)
        names.append(family + (", " + " ".join(("-".join(p[0] + "." for p in g.split("-"))) for g in given) if given else ""))
    authors = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    parts = [f"{authors} ({work['year']}). {work['title']}."]
    kind = work["type"]
    if kind == "article":
        locator = _locator(work, ", ")
        parts.append(f"{work['journal']}" + (f" {locator}" if locator else "") + ".")
    elif kind in ("book", "report"):
        parts.append(". ".join(p for p in (work.get("series"), ": ".join(
            p for p in (work.get("place"), work["publisher"]) if p)) if p) + ".")
    elif "accessed" in work:
        parts.append(f"Accessed {work['accessed']}.")
    if link := _link(work, "https://doi.org/"):
        parts.append(link)
    return " ".join(parts)


def _gbt7714(work: dict) -> str:
    names = []
    for author in work["authors"][:3]:
        family, given = _split(author)
        if _CJK.search(author) or not given:
            names.append(family)
        else:  # family name in capitals, then the initials: "SALTELLI A", "HWANG C L"
            names.append(" ".join([family.upper(), *(p[0] for g in given for p in g.split("-"))]))
    cjk = bool(_CJK.search(work["title"]))
    if len(work["authors"]) > 3:
        names.append("等" if cjk else "et al")
    sep = ", "
    kind = work["type"]
    text = f"{sep.join(names)}. {work['title']}[{KIND_CODE[kind]}]. "
    if kind == "article":
        locator = _locator(work, ": ")
        text += f"{work['journal']}, {work['year']}" + (f", {locator}" if locator else "") + "."
    elif kind in ("book", "report"):
        text += (f"{work['place']}: " if "place" in work else "") + f"{work['publisher']}, {work['year']}."
    else:
        text += f"({work['year']})" + (f"[{work['accessed']}]" if "accessed" in work else "") + "."
    if "doi" in work:
        text += f" DOI:{work['doi']}."
    elif "url" in work:
        text += f" {work['url']}."
    return text
