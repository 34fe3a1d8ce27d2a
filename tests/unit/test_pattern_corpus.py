"""Every case of tests/corpus/eventbridge/cases.jsonl: the verdict of aws/event-ruler (match, no match, invalid)
is ours, line by line. Cases marked `quirk` (event-ruler accepted the pattern through its legacy fallback, or
crashed on it) must be refused, with a message saying what is wrong.

The corpus is part of the repository (tests/corpus/README.md): a missing file fails collection, never skips.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from router.matcher import RouteMatcher
from router.pattern import PatternError, compile_pattern

#: The EventBridge pattern cases, one JSON object a line.
CASES = Path(__file__).resolve().parents[1] / "corpus" / "eventbridge" / "cases.jsonl"


@cache
def load_cases() -> list[dict[str, Any]]:
    """Every case; raises FileNotFoundError when the corpus is missing, and refuses an empty one."""
    cases = [json.loads(line) for line in CASES.read_text().splitlines() if line.strip()]
    if not cases:
        raise LookupError(f"no case in {CASES}")
    return cases


def corpus() -> list[Any]:
    return [pytest.param(case, id=case["name"]) for case in load_cases()]


def verdict(case: dict[str, Any]) -> bool | str:
    return "invalid" if case.get("quirk") else case["expected"]


@pytest.mark.parametrize("case", corpus())
def test_verdict_agrees_with_event_ruler(case: dict[str, Any]) -> None:
    expected = verdict(case)
    if expected == "invalid":
        with pytest.raises(PatternError) as caught:
            compile_pattern(case["pattern"])
        assert caught.value.problem  # a message, not just a refusal
    else:
        assert compile_pattern(case["pattern"])(case["event"]) is expected


def test_route_matcher_over_the_whole_corpus_agrees_with_each_pattern() -> None:
    """All valid corpus patterns as routes of one matcher: each event gets exactly the routes that match it."""
    valid = [case for case in load_cases() if verdict(case) != "invalid"]
    matcher = RouteMatcher([(number, case["pattern"]) for number, case in enumerate(valid)])
    compiled = [compile_pattern(case["pattern"]) for case in valid]
    for case in valid:
        expected = [number for number, pattern in enumerate(compiled) if pattern(case["event"])]
        assert matcher.match(case["event"]) == expected, case["name"]


def test_quirks_are_refused_with_a_message_saying_what_to_write() -> None:
    quirks = [case for case in load_cases() if case.get("quirk")]
    assert quirks
    for case in quirks:
        with pytest.raises(PatternError) as caught:
            compile_pattern(case["pattern"])
        assert "$or" in caught.value.problem, case["name"]
