"""EventBridge event patterns, compiled to a matcher (no I/O).

This first cut supports exact values only: strings, numbers compared by value, booleans and null, with
EventBridge's rules that a leaf is a list of allowed values, that an array in the event matches when any of
its elements does, and that a field absent from the event never matches. Operators (`prefix`, `numeric`,
`anything-but`, ...) are refused with a clear error until the full language lands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

Matcher = Callable[[Mapping[str, Any]], bool]


class PatternError(ValueError):
    """An invalid pattern. `path` is where in the pattern, e.g. `body.data.amount`."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path = path
        self.problem = problem


def value_key(value: Any) -> tuple[str, Any]:
    """A comparison key that keeps JSON types apart: true is not 1, and 5 equals 5.0."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        # The number itself: Python compares int and float exactly (5 == 5.0, 2**53 + 1 != 2.0**53).
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if value is None:
        return ("null", None)
    raise TypeError("not a scalar")


def compile_pattern(pattern: Mapping[str, Any]) -> Matcher:
    """Compile a pattern (a JSON object) into a function of a match document."""
    if not isinstance(pattern, Mapping):
        raise PatternError("", "a pattern must be an object")
    if not pattern:
        raise PatternError("", "an empty pattern is not allowed (leave the filter out to match everything)")
    return _compile_object(pattern, "")


def needs_field(pattern: Mapping[str, Any], field: str) -> bool:
    """Whether the pattern looks into a top-level field (the router parses the body only when one does)."""
    return field in pattern


def _compile_object(pattern: Mapping[str, Any], path: str) -> Matcher:
    checks: list[tuple[str, Matcher | frozenset[tuple[str, Any]]]] = []
    for key, rule in pattern.items():
        where = f"{path}.{key}" if path else str(key)
        if isinstance(rule, Mapping):
            if not rule:
                raise PatternError(where, "an empty object matches nothing")
            checks.append((key, _compile_object(rule, where)))
        elif isinstance(rule, list):
            checks.append((key, _compile_values(rule, where)))
        else:
            raise PatternError(where, "a leaf must be a list of values, such as [\"invoice.paid\"]")

    def match(document: Mapping[str, Any]) -> bool:
        for key, check in checks:
            if key not in document:
                return False
            value = document[key]
            if isinstance(check, frozenset):
                if not _value_matches(value, check):
                    return False
            elif not _object_matches(value, check):
                return False
        return True

    return match


def _compile_values(rule: list[Any], where: str) -> frozenset[tuple[str, Any]]:
    if not rule:
        raise PatternError(where, "an empty list matches nothing")
    allowed = set()
    for item in rule:
        if isinstance(item, Mapping):
            operator = next(iter(item), "")
            raise PatternError(where, f"operator '{operator}' is not supported yet (exact values only)")
        if isinstance(item, list):
            raise PatternError(where, "nested lists are not allowed in a pattern")
        allowed.add(value_key(item))
    return frozenset(allowed)


def _flatten(value: list[Any]) -> Iterator[Any]:
    """The elements of an event array, nested arrays flattened, as EventBridge does."""
    for item in value:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


def _value_matches(value: Any, allowed: frozenset[tuple[str, Any]]) -> bool:
    if isinstance(value, list):
        return any(_scalar_in(item, allowed) for item in _flatten(value))
    return _scalar_in(value, allowed)


def _scalar_in(value: Any, allowed: frozenset[tuple[str, Any]]) -> bool:
    try:
        return value_key(value) in allowed
    except TypeError:  # an object where the pattern expects a value
        return False


def _object_matches(value: Any, check: Matcher) -> bool:
    if isinstance(value, Mapping):
        return check(value)
    if isinstance(value, list):  # an array of objects matches when one element does
        return any(isinstance(item, Mapping) and check(item) for item in _flatten(value))
    return False
