"""Matching a pattern against arrays costs at most (conditions x body size), never combinations of elements.

Work is counted, not timed: the lines of router/pattern_events.py executed for one match (sys.settrace), with
a budget per array element past which the count stops the match. Before the search was memoised, two fields
under one array of 2N elements cost about N x N steps, so these events exhausted any budget linear in N.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from router.pattern import compile_pattern
from router.pattern_events import DocumentFields

#: Elements in each adversarial array (a 440 KiB body for two fields under one array).
N = 20_000
#: Lines of router/pattern_events.py one match may execute per condition of the pattern and array element of the
#: body (the memoised search takes 10 to 33; the backtracking one took about N).
STEPS_PER_CONDITION_AND_ELEMENT = 60

EVENTS_MODULE = str(Path(__file__).resolve().parents[2] / "router" / "pattern_events.py")


class BudgetExceeded(Exception):
    pass


def steps_to_match(pattern: Mapping[str, Any], document: Mapping[str, Any], budget: int) -> tuple[bool, int]:
    """Whether the pattern matches, and the lines of router/pattern_events.py that took (BudgetExceeded past
    `budget`). Field values are extracted before counting: only the matching is measured."""
    compiled = compile_pattern(pattern)
    fields = DocumentFields(document)
    for alternative in compiled.alternatives:
        for item in alternative:
            fields.leaves(item.condition.path)
    steps = 0

    def count(frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        nonlocal steps
        if event == "line":
            steps += 1
            if steps > budget:
                raise BudgetExceeded(f"more than {budget} steps")
        return count

    def calls(frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        return count if frame.f_code.co_filename == EVENTS_MODULE else None

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        matched = compiled.matches(fields)
    finally:
        sys.settrace(previous)
    return matched, steps


def array_elements(value: Any) -> int:
    """The elements of every array in a JSON value, nested ones included."""
    if isinstance(value, dict):
        return sum(array_elements(child) for child in value.values())
    if isinstance(value, list):
        return len(value) + sum(array_elements(child) for child in value)
    return 0


def conditions(pattern: Mapping[str, Any]) -> int:
    return sum(conditions(value) if isinstance(value, dict) else 1 for value in pattern.values())


def items(*elements: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(element) for element in elements for _ in range(N)]


CASES: dict[str, tuple[dict[str, Any], dict[str, Any], bool]] = {
    # two fields under one array, no element has both: every element is a dead end for the other field
    "two fields, one array": ({"body": {"items": {"sku": ["A"], "qty": [2]}}},
                              {"body": {"items": items({"qty": 2}, {"sku": "A"})}}, False),
    "two fields, one array, the first element matches": (
        {"body": {"items": {"sku": ["A"], "qty": [2]}}},
        {"body": {"items": [{"sku": "A", "qty": 2}, *items({"qty": 2}, {"sku": "A"})]}}, True),
    "three fields, one array": ({"body": {"items": {"sku": ["A"], "qty": [2], "tax": [{"numeric": [">", 0]}]}}},
                                {"body": {"items": items({"qty": 2, "sku": "A"}, {"sku": "A", "tax": 1})}}, False),
    "two arrays of two fields each": (
        {"body": {"a": {"x": [1], "y": [2]}, "b": {"x": [1], "y": [2]}}},
        {"body": {"a": [{"x": 1, "y": 2}, *items({"x": 1})], "b": items({"x": 1}, {"y": 2})}}, False),
    "nested arrays": (
        {"body": {"orders": {"id": [{"exists": True}], "lines": {"sku": ["A"], "qty": [2]}}}},
        {"body": {"orders": [{"id": n, "lines": [{"qty": 2}, {"sku": "A"}]} for n in range(N)]}}, False),
    "exists false and anything-but": (
        {"body": {"items": {"qty": [2], "sku": [{"exists": False}], "tag": [{"anything-but": ["x"]}]}}},
        {"body": {"items": items({"qty": 2, "sku": "A", "tag": "y"}, {"qty": 2, "tag": "x"})}}, False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_array_matching_work_grows_linearly_with_the_array(case: str) -> None:
    pattern, document, expected = CASES[case]
    budget = STEPS_PER_CONDITION_AND_ELEMENT * conditions(pattern) * array_elements(document)
    matched, steps = steps_to_match(pattern, document, budget)
    assert matched is expected
    assert steps > 0  # the count saw the matching
