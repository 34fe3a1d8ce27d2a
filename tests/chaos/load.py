"""A provider-like load generator: closed loop, unique event ids, and retries as a webhook provider does them.

Each worker takes the next event id, POSTs it and, on a 503, a 5xx or a connection error, POSTs the same id
again after a short backoff until ingest answers 2xx (the event is then *accepted*) or the event's retry budget
runs out (it is then *given up*: never accepted, so never counted as lost). Real providers wait minutes between
retries and honour Retry-After; the backoff here is capped at a second so a run stays short, which only makes
the load harsher.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from dataclasses import dataclass, field

import aiohttp

from tests.chaos.progress import Progress

#: First wait before re-sending a refused event (s); doubles per refusal up to RETRY_MAX_DELAY.
RETRY_DELAY = 0.05
RETRY_MAX_DELAY = 1.0

#: Seconds one request may take before it counts as a failed attempt (then retried like a connection error).
REQUEST_TIMEOUT = 30.0

#: Header the chaos source takes its event id from (tests.support.pipeline's `demo` source).
ID_HEADER = "x-test-id"


@dataclass
class LoadResult:
    accepted: set[str] = field(default_factory=set)
    given_up: set[str] = field(default_factory=set)
    answers: collections.Counter[str] = field(default_factory=collections.Counter)  # status or error -> count
    started: float = 0.0
    ended: float = 0.0

    @property
    def attempts(self) -> int:
        return sum(self.answers.values())


def make_body(event_id: str, size: int) -> bytes:
    """A JSON object of `size` bytes (at least what its fields need)."""
    head = f'{{"id":"{event_id}","type":"chaos.event","pad":"'.encode()
    return head + b"x" * max(0, size - len(head) - 2) + b'"}'


class ProviderLoad:
    """Closed-loop POSTs to `url` from `concurrency` workers, ids `{id_prefix}{n:08d}`.

    Parameters:
    - url: ingest's `/ingest/{source}` URL;
    - concurrency: requests in flight (one connection each);
    - body_size: bytes per body;
    - id_prefix: makes this run's ids unique;
    - retry_for: seconds an event keeps being re-sent after refusals before it is given up.
    """

    def __init__(self, url: str, *, concurrency: int, body_size: int, id_prefix: str,
                 retry_for: float = 180.0) -> None:
        self.url = url
        self.concurrency = concurrency
        self.body_size = body_size
        self.id_prefix = id_prefix
        self.retry_for = retry_for
        self.accepted = Progress()
        self.result = LoadResult()

    async def run(self, *, events: int | None = None, duration: float | None = None) -> LoadResult:
        """Send `events` events, or as many as fit in `duration` s (then events still being retried are given
        up), whichever ends first."""
        numbers = iter(range(events)) if events is not None else itertools.count()
        stop_at = None if duration is None else time.monotonic() + duration
        connector = aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=self.concurrency)
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        self.result.started = time.monotonic()
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False,
                                         cookie_jar=aiohttp.DummyCookieJar()) as session:

            async def worker() -> None:
                for number in numbers:
                    if stop_at is not None and time.monotonic() >= stop_at:
                        return
                    await self._send_until_accepted(session, f"{self.id_prefix}{number:08d}", stop_at)

            await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        self.result.ended = time.monotonic()
        return self.result

    async def _send_until_accepted(self, session: aiohttp.ClientSession, event_id: str,
                                   stop_at: float | None) -> None:
        body = make_body(event_id, self.body_size)
        headers = {ID_HEADER: event_id, "Content-Type": "application/json"}
        give_up_at = time.monotonic() + self.retry_for
        if stop_at is not None:
            give_up_at = min(give_up_at, stop_at)
        delay = RETRY_DELAY
        while True:
            try:
                async with session.post(self.url, data=body, headers=headers) as response:
                    await response.read()
                    answer = str(response.status)
            except (aiohttp.ClientError, TimeoutError) as error:
                answer = type(error).__name__
            self.result.answers[answer] += 1
            if answer.startswith("2"):
                self.result.accepted.add(event_id)
                self.accepted.advance()
                return
            if time.monotonic() + delay >= give_up_at:
                self.result.given_up.add(event_id)
                return
            await asyncio.sleep(delay)  # a provider's backoff, not a wait for an outcome
            delay = min(delay * 2, RETRY_MAX_DELAY)

