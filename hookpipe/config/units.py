"""Parsing of the human units the config file and the commands use: durations, byte sizes, rates and moments.

Each parser takes what YAML gives (a string, or a bare number in base units) and returns base units:
seconds, bytes, events per second. A ValueError's message says what was expected, never echoing the input
beyond its shape, because config errors must not leak secrets that were put in the wrong key.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?\s*$")
_SIZE_UNITS = {
    None: 1, "B": 1,
    "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4,
    "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
}

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h)\s*$")
_RATE_PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: object) -> float:
    """`500ms`, `5s`, `2m`, `1h`, `3d` (or a bare number of seconds) -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 500ms, 5s, 2m, 1h or 3d")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError("expected a duration such as 500ms, 5s, 2m, 1h or 3d")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("a duration must be a finite, non-negative time")
    return seconds


def parse_size(value: object) -> int:
    """`256KiB`, `1MiB`, `10GiB` (or a bare number of bytes) -> bytes."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 256KiB, 1MiB or 10GiB")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError("expected a size such as 256KiB, 1MiB or 10GiB")
        size = int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])
    if size <= 0:
        raise ValueError("a size must be positive")
    return size


def parse_rate(value: object) -> float:
    """`50/s`, `1000/m`, `10000/h` -> events per second."""
    match = _RATE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError("expected a rate such as 50/s or 1000/m")
    rate = float(match.group(1)) / _RATE_PERIODS[match.group(2)]
    if rate <= 0:
        raise ValueError("a rate must be positive")
    return rate


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration for messages: 0.5 -> '500ms', 300 -> '5m'."""
    for unit, factor in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= factor and seconds % factor == 0:
            return f"{int(seconds // factor)}{unit}"
    return f"{round(seconds * 1000)}ms"


def parse_moment(text: str, now: datetime, *, naive_is_utc: bool = False) -> datetime:
    """A command's point in time, in UTC: RFC 3339 / ISO 8601 (`2026-11-27T08:00:00Z`), or a duration back from
    `now` (`2h`, `30m`, `1d`). A time without a zone is UTC if `naive_is_utc`, else refused. (Its messages
    repeat the text: a command-line time is not a secret.)"""
    try:
        return now - timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{text}' is neither an RFC 3339 time nor a duration like 2h") from None
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise ValueError(f"'{text}' has no time zone: add Z or an offset such as +02:00")
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
