"""The match budget stops the work itself: the matcher gives up within a few checks of its deadline, wherever it is.

Time is not measured: the budget's clock is a counter that advances one second at each read, so a budget of
`s` seconds allows `s` checks after the first, each every CHECK_EVERY elements visited.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

import orjson
import pytest

from hookpipe.event import Event
from router.budget import CHECK_EVERY, UNLIMITED, MatchBudget, MatchBudgetExceeded
from router.matcher import RouteMatcher
from router.pattern import compile_pattern
from router.rules import Route, RouteTable

#: The adversarial body: each element holds one of the two fields the pattern needs under the same element.
N = 8_000
PATTERN = {"body": {"items": {"sku": ["A"], "qty": [2]}}}
BODY = {"items": [{"qty": 2}] * N + [{"sku": "A"}] * N}


class CountingBudget(MatchBudget):
    """A budget on a clock that advances one second per read, counting the elements spent from it."""

    def __init__(self, seconds: float) -> None:
        self.reads = 0
        self.spent = 0
        self.spent_at_reads: list[int] = []

        def clock() -> float:
            self.reads += 1
            self.spent_at_reads.append(self.spent)
            return float(self.reads)

        super().__init__(seconds, clock=clock)

    def spend(self, steps: int = 1) -> None:
        self.spent += steps
        super().spend(steps)


def document() -> dict[str, Any]:
    return {"id": "e1", "source": "shop", "type": None, "headers": {}, "body": orjson.loads(orjson.dumps(BODY))}


def full_work() -> int:
    """The elements a match of the adversarial body spends when nothing stops it."""
    unlimited = CountingBudget(math.inf)
    assert RouteMatcher([(0, PATTERN)]).match(document(), budget=unlimited) == []
    return unlimited.spent


@pytest.mark.parametrize("seconds", [0.5, 3.0])
def test_matcher_stops_at_the_first_check_past_its_deadline(seconds: float) -> None:
    budget = CountingBudget(seconds)
    with pytest.raises(MatchBudgetExceeded):
        RouteMatcher([(0, PATTERN)]).match(document(), budget=budget)
    # the first read starts the clock; the first one more than `seconds` later stops the match, there and then
    assert budget.reads == math.floor(seconds) + 2
    assert budget.spent == budget.spent_at_reads[-1]
    assert budget.spent < full_work()
    # the clock is read at least every CHECK_EVERY elements, plus one loop's batch (an array: at most 2N)
    between = [later - earlier for earlier, later in pairwise([0, *budget.spent_at_reads])]
    assert max(between) <= CHECK_EVERY + 2 * N


def test_a_budget_that_is_not_exceeded_changes_no_match() -> None:
    body = {"items": [{"qty": 2}] * N + [{"sku": "A", "qty": 2}]}
    matched = {"id": "e1", "source": "shop", "type": None, "headers": {}, "body": body}
    assert RouteMatcher([(0, PATTERN)]).match(matched, budget=CountingBudget(1e9)) == [0]
    assert RouteMatcher([(0, PATTERN)]).match(matched, budget=UNLIMITED) == [0]


def test_route_table_stops_within_its_budget_and_charges_the_parse() -> None:
    event = Event(id="e1", source="shop", type=None, received_at=0, verified=True, content_type="application/json",
                  body=orjson.dumps(BODY), headers={})
    table = RouteTable([Route("items", None, compile_pattern(PATTERN), ("warehouse",))])
    budget = CountingBudget(0.5)
    budget.start()  # the clock starts before the parse: the check after it is the second read
    with pytest.raises(MatchBudgetExceeded):
        table.match(event, budget)
    assert budget.reads == 2  # stopped at the check after the parse, before any matching
    assert budget.spent == 0


def test_a_clock_started_at_the_first_check_leaves_small_events_unclocked() -> None:
    budget = CountingBudget(0.001)
    small = {"id": "e1", "source": "shop", "type": None, "headers": {},
             "body": {"items": [{"qty": 2}, {"sku": "A"}]}}
    assert RouteMatcher([(0, PATTERN)]).match(small, budget=budget) == []
    assert budget.reads == 0
