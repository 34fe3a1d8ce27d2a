"""Plain-text output of the operations commands: aligned tables, ages and times a terminal reader can scan."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

#: Shown for a value a service that did not answer would have given.
UNKNOWN = "unknown"

#: Shown for a value that does not apply (no error, no rate without a second sample).
NONE = "-"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Lines of a table whose columns are left-aligned and two spaces apart (the last one unpadded)."""
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]


def format_age(seconds: float | None) -> str:
    """`42s`, `5m`, `3h`, `2d`: the largest whole unit, for how long ago something happened."""
    if seconds is None:
        return NONE
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def format_time(ms: int | None) -> str:
    """UTC milliseconds as ISO 8601 with milliseconds and a Z."""
    if ms is None:
        return NONE
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_rate(value: float | None) -> str:
    return NONE if value is None else f"{value:.1f}"


def clip(text: str, width: int) -> str:
    """One line of at most `width` characters (an ellipsis marks a cut)."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
