"""One error type for bad input, whose message names where the problem is and what was expected."""
from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad input: a raw file, a study definition or a parameter that the pipeline cannot use.

    The message lists every location detail that is known (file, sheet, row, column, value) and what
    was expected, so a researcher can go straight to the cell to fix.
    """

    def __init__(self, problem: str, *, file: Path | str | None = None, sheet: str | None = None,
                 row: int | None = None, column: str | None = None, value=None, expected: str | None = None):
        self.problem, self.file, self.sheet, self.row = problem, file, sheet, row
        self.column, self.value, self.expected = column, value, expected
        where = [f"file {Path(file).name if file is not None else '?'}"] if file is not None else []
        if sheet is not None:
            where.append(f"sheet {sheet!r}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        parts = [", ".join(where) + ": " + problem if where else problem]
        if value is not None:
            parts.append(f"value {value!r}")
        if expected is not None:
            parts.append(f"expected {expected}")
        super().__init__("; ".join(parts))
