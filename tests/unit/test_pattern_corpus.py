"""Every case of shared/corpus/eventbridge/cases.jsonl: the verdict of aws/event-ruler (match, no match, invalid)
is ours, line by line. Cases marked `quirk` (event-ruler accepted the pattern through its legacy fallback, or
crashed on it) must be refused, with a message saying what is wrong.

The corpus is resolved as `<repo>/../shared/corpus/eventbridge/cases.jsonl`, where CI lays a copy of shared/
beside the clone; without it the test is a single skipped case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from router.matcher import RouteMatcher
from router.pattern import PatternError, compile_pattern

CASES = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "eventbridge" / "cases.jsonl"


def corpus() -> list[Any]:
    if not CASES.exists():
        return [pytest.param(None, id="corpus-missing", marks=pytest.mark.skip(reason=f"no corpus at {CASES}"))]
    cases = [json.loads(line) for line in CASES.read_text().splitlines() if line.strip()]
    return [pytest.param(case, id=case["name"]) for case in cases]


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


@pytest.mark.skipif(not CASES.exists(), reason=f"no corpus at {CASES}")
def test_route_matcher_over_the_whole_corpus_agrees_with_each_pattern() -> None:
    """All valid corpus patterns as routes of one matcher: each event gets exactly the routes that match it."""
    cases = [json.loads(line) for line in CASES.read_text().splitlines() if line.strip()]
    valid = [case for case in cases if verdict(case) != "invalid"]
    matcher = RouteMatcher([(number, case["pattern"]) for number, case in enumerate(valid)])
    compiled = [compile_pattern(case["pattern"]) for case in valid]
    for case in valid:
        expected = [number for number, pattern in enumerate(compiled) if pattern(case["event"])]
        assert matcher.match(case["event"]) == expected, case["name"]


@pytest.mark.skipif(not CASES.exists(), reason=f"no corpus at {CASES}")
def test_quirks_are_refused_with_a_message_saying_what_to_write() -> None:
    quirks = [json.loads(line) for line in CASES.read_text().splitlines() if '"quirk": true' in line]
    assert quirks
    for case in quirks:
        with pytest.raises(PatternError) as caught:
            compile_pattern(case["pattern"])
        assert "$or" in caught.value.problem, case["name"]
