"""The work one event may cost the router: a CPU-time budget that matching spends as it goes, and stops at.

Matching is linear in the body, but a large body times many routes is still a lot of work, and the router must
never spend unbounded time on one event (docs/configuration.md, `router.match_budget`). The loops that grow with
the body (router/pattern_events.py) call `spend` with the elements they are about to visit;
every CHECK_EVERY elements the budget reads the clock and raises MatchBudgetExceeded past its limit, so the
work stops where it is, in whichever thread runs it, instead of running on after its caller gave up.

How far past its budget an event can run: the array search spends per element; reading a field's values out of
the body spends a whole array at once (cheaper on the hot path), so one pass over the body's arrays may run
between two checks (about 20 ms for 400 KiB of them); and a garbage-collection pause cannot be interrupted (tens
of ms on such a body). For a budget of seconds, a few percent.

The clock is the CPU time of the thread doing the work (`time.thread_time`): an event is charged for its own
work, not for the time other threads or processes held the core, so a busy machine does not turn ordinary
events into dead letters. The clock starts with `start()`, or else at the first check: an event that visits fewer
than CHECK_EVERY elements (almost every event) then never reads it, and one that does is charged from there, so
it may overrun its budget by up to CHECK_EVERY elements' work (a few milliseconds). The router starts the
clock of a large body before parsing it, so its parse is charged too.

Pure and per event: a MatchBudget is used by one thread at a time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

#: Elements visited between two reads of the clock: one read costs about 0.2 µs, a visit 0.3 to 3 µs, so the clock
#: costs under 0.1% of the work.
CHECK_EVERY = 1000


class MatchBudgetExceeded(Exception):
    """An event's parse, match and transform took more CPU time than its budget allows."""


class MatchBudget:
    """`seconds` of CPU time for one event; `clock` (seconds, for tests) defaults to this thread's CPU time."""

    __slots__ = ("_clock", "_deadline", "_left", "seconds")

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.thread_time) -> None:
        self.seconds = seconds
        self._clock = clock
        self._deadline = math.nan  # set at the first check
        self._left = CHECK_EVERY

    def start(self) -> None:
        """Start the clock now (else the first check starts it)."""
        self._deadline = self._clock() + self.seconds

    def spend(self, steps: int = 1) -> None:
        """Account for `steps` elements about to be visited; raises MatchBudgetExceeded once over budget."""
        self._left -= steps
        if self._left <= 0:
            self.check()

    def check(self) -> None:
        """Read the clock now (after work no loop counts, such as parsing); raises MatchBudgetExceeded past it."""
        self._left = CHECK_EVERY
        now = self._clock()
        if self._deadline != self._deadline:  # nan: the first check starts the clock
            self._deadline = now + self.seconds
        elif now > self._deadline:
            raise MatchBudgetExceeded(f"parsing, matching and transforming took over {self.seconds:g}s of CPU time")


class _Unlimited(MatchBudget):
    """No budget: for callers that bound the work themselves (tools, benchmarks, tests)."""

    __slots__ = ()

    def start(self) -> None:
        pass

    def spend(self, steps: int = 1) -> None:
        pass

    def check(self) -> None:
        pass


#: The budget of a match given none: unlimited, shared (it keeps no state).
UNLIMITED: MatchBudget = _Unlimited(math.inf)
