"""The small JSON path subset the config uses: `$.a.b.c`, object keys only.

Enough to pick an event id or type out of a body, or a sub-document for a transform, with no code execution
and no surprises.
"""

from __future__ import annotations

from typing import Any

_MISSING = object()


def parse_path(path: str) -> tuple[str, ...]:
    """`$.data.object` -> ('data', 'object'); `$` -> (). Raises ValueError for anything else."""
    if path == "$":
        return ()
    if not path.startswith("$.") or any(part == "" for part in path[2:].split(".")):
        raise ValueError(f"expected a path such as $.type or $.data.object, got {path!r}")
    return tuple(path[2:].split("."))


def lookup(document: Any, keys: tuple[str, ...], default: Any = None) -> Any:
    """The value at `keys` inside nested objects, or `default` where the path does not exist."""
    node = document
    for key in keys:
        if not isinstance(node, dict):
            return default
        node = node.get(key, _MISSING)
        if node is _MISSING:
            return default
    return node
