"""The schema's building blocks: a section that refuses unknown keys with a did-you-mean, and the
translation of pydantic's findings into the project's one error type, naming the file and the key path.
"""
from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from zoneindex.errors import InputError

UNKNOWN = "unknown_key"


def did_you_mean(word, candidates) -> str | None:
    """The candidate closest to ``word`` (difflib's ratio, at least 0.5), or None."""
    words = [str(c) for c in candidates]
    match = difflib.get_close_matches(str(word), words, n=1, cutoff=0.5)
    return match[0] if match else None


def _closeness(word, candidates) -> float:
    return max((difflib.SequenceMatcher(None, str(word), str(c)).ratio() for c in candidates), default=0.0)


def unknown_key(key, known, at: tuple = (), what: str = "key") -> PydanticCustomError:
    """The error of a key that is not one of ``known`` (``at``: the path below the section to it)."""
    return PydanticCustomError(UNKNOWN, "unknown {what}", {"key": key, "known": sorted(map(str, known)),
                                                            "suggestion": did_you_mean(key, known),
                                                            "at": list(at), "what": what})


class Section(BaseModel):
    """One mapping of study.yaml: its keys are the fields, every other key is refused with the nearest one."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    key_noun: ClassVar[str] = "key"   # how an unknown key is called in the message ("uncertainty option" …)

    @classmethod
    def keys(cls) -> list[str]:
        return [field.alias or name for name, field in cls.model_fields.items()]

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_keys(cls, data):
        if isinstance(data, dict):
            known = cls.keys()
            unknown = [key for key in data if key not in known]
            if unknown:  # the likeliest misspelling first: the unknown key closest to a known one
                raise unknown_key(max(unknown, key=lambda key: _closeness(key, known)), known, what=cls.key_noun)
        return data


EXPECTED = {"int_type": "a whole number", "int_parsing": "a whole number", "float_type": "a number",
            "float_parsing": "a number", "bool_type": "true or false", "bool_parsing": "true or false",
            "string_type": "text", "dict_type": "a mapping (key: value)", "list_type": "a list",
            "model_type": "a mapping (key: value)", "model_attributes_type": "a mapping (key: value)",
            "tuple_type": "a list", "missing": "this key"}


def _walk(data, loc) -> tuple[list, object]:
    """The readable key path of ``loc`` in ``data`` and the value there. pydantic's location also holds
    the names of union members and tags, which are not keys of the data: those are skipped."""
    path, node = [], data
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
    return path, node


def key_path(parts) -> str:
    """``methods.normalisation.scale``, ``data[0].columns``: keys joined by dots, list items as [i]."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (("." if text else "") + str(part))
    return text


def _finding(error: dict, data, prefix: tuple) -> dict:
    path, value = _walk(data, error["loc"])
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == UNKNOWN:
        path += ctx.get("at", []) + [ctx["key"]]
        hint = f" (did you mean {ctx['suggestion']!r}?)" if ctx.get("suggestion") else ""
        return {"path": path, "problem": f"unknown {ctx.get('what', 'key')} {ctx['key']!r}{hint}",
                "value": None, "expected": f"one of {ctx['known']}"}
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = re.findall(r"method=([^',]+)", str(ctx.get("expected_tags", "")))
        name = value.get("method") if isinstance(value, dict) else None
        misspelt = [k for k in value if did_you_mean(k, ["method"])] if isinstance(value, dict) else []
        if name is None and misspelt:
            return {"path": path + [misspelt[0]], "problem": f"unknown key {misspelt[0]!r} (did you mean 'method'?)",
                    "value": None, "expected": f"a method: key, one of {tags}"}
        if name is None:
            return {"path": path + ["method"], "problem": "the method is not named", "value": None,
                    "expected": f"a method: key, one of {tags}"}
        hint = f" (did you mean {did_you_mean(name, tags)!r}?)" if did_you_mean(name, tags) else ""
        step = str(path[-1]) if path else "method"
        return {"path": path + ["method"], "problem": f"unknown {step} method{hint}", "value": name,
                "expected": f"one of {tags}"}
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'|(\b\d+\b)", str(ctx.get("expected", "")))
        allowed = [a or b for a, b in allowed]
        hint = did_you_mean(value, allowed) if isinstance(value, str) else None
        return {"path": path, "problem": "not one of the allowed values" + (f" (did you mean {hint!r}?)" if hint else ""),
                "value": value, "expected": f"one of {allowed}"}
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "missing":
        return {"path": path + [error["loc"][-1]], "problem": "required key missing", "value": None,
                "expected": EXPECTED["missing"]}
    if kind in EXPECTED:
        return {"path": path, "problem": "wrong type of value", "value": value, "expected": EXPECTED[kind]}
    return {"path": path, "problem": message, "value": value if not isinstance(value, (dict, list)) else None,
            "expected": None}


def to_input_error(error: ValidationError, data, file: Path | None, prefix: tuple = (), drop=None) -> InputError:
    """One InputError for everything pydantic found: the first finding in full, each further one on a line
    (``drop``: a first key of the paths that the prefix already names)."""
    findings = [_finding(e, data, prefix) for e in error.errors(include_url=False)]
    for f in findings:
        if drop is not None and f["path"][:1] == [drop]:
            f["path"] = f["path"][1:]
    # where a union tried several types, the finding deepest inside the value is the one that explains it
    deeper = [f for f in findings if not any(len(g["path"]) > len(f["path"]) and g["path"][:len(f["path"])] == f["path"]
                                             for g in findings)]
    findings = deeper or findings
    seen, unique = set(), []
    for f in findings:
        key = (key_path(list(prefix) + f["path"]), f["problem"])
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return error_at(unique[0], file, prefix, more=unique[1:])


def error_at(finding: dict, file, prefix: tuple = (), more: list | None = None) -> InputError:
    error = InputError(finding["problem"], file=file, column=key_path(list(prefix) + finding["path"]) or None,
                       value=finding["value"], expected=finding["expected"])
    if more:
        lines = [f"  also {key_path(list(prefix) + f['path'])!r}: {f['problem']}"
                 + (f"; value {f['value']!r}" if f["value"] is not None else "")
                 + (f"; expected {f['expected']}" if f["expected"] else "") for f in more]
        error.args = (str(error) + "\n" + "\n".join(lines),)
    return error


def fail(problem: str, file, path, value=None, expected: str | None = None):
    """Raise an InputError for a check across keys, at ``path`` (a list of keys and indices)."""
    raise InputError(problem, file=file, column=key_path(path) or None, value=value, expected=expected)
