"""`/api/v1/dead-letters`: read dead letters in place, replay them to their destination, purge them: the work of
`hookpipe dlq show|replay|purge` (control.dlq), with its guarantees: reading removes nothing, and a replay or
purge removes a message only after what replaces it is confirmed, so a failure loses nothing (run it again)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import web

from control import dlq
from control.admin.context import AdminContext, context_of
from control.admin.errors import ApiError, ErrorReason, bad_request
from control.admin.inputs import Body, body, integer, query_parameters
from hookpipe.config import Config
from hookpipe.config.units import parse_rate

log = logging.getLogger("control.admin")

#: The query parameters of GET /api/v1/dead-letters.
DEAD_LETTER_FILTERS = ("destination", "reason", "limit")

#: Dead letters listed: by default, and at most (every one read counts in `matched` and `reasons`).
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def dead_queues(config: Config, destination: str | None) -> list[dlq.DeadQueue]:
    """Every dead queue, or the one of `destination` (a configured destination, or `router`); else 404."""
    try:
        return dlq.dead_queues(config, destination)
    except dlq.UnknownDestination:
        raise ApiError(ErrorReason.UNKNOWN_DESTINATION,
                       f"no destination '{destination}' in the config; destinations: "
                       f"{', '.join(config.destinations) or 'none'}, or `{dlq.ROUTER}` for the router's dead "
                       "letters") from None


async def list_dead_letters(request: web.Request) -> web.Response:
    """GET /api/v1/dead-letters: each dead queue's depth and reasons, and the first matching dead letters."""
    values = query_parameters(request, DEAD_LETTER_FILTERS)
    limit = integer(values, "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
    return web.json_response(await dead_letter_listing(context_of(request), values.get("destination"),
                                                       values.get("reason"), limit))


async def dead_letter_listing(context: AdminContext, destination: str | None, reason: str | None,
                              limit: int) -> dict[str, Any]:
    """The DeadLetters document: the dead queues of `destination` (None: every one), each with its depth and
    reasons, and up to `limit` of the letters of `reason` (None: any), all read in place."""
    queues = dead_queues(context.config, destination)
    showing = await dlq.show(await context.connection(), queues, dlq.Selection(reason=reason), limit)
    document = showing.document()
    for row, found in zip(document["queues"], showing.peeks, strict=True):
        row["reasons"] = dict(sorted(Counter(letter.reason for letter in found.letters).items()))
        row["complete"] = found.complete
    return document


class Selected(Body):
    """Which dead letters an action takes: of one destination (default: every one), one reason, one event."""

    destination: str | None = None
    reason: str | None = None
    id: str | None = None


class ReplayDeadLetters(Selected):
    rate: str | None = None  # such as 20/s: most replays per second


class PurgeDeadLetters(Body):
    """A purge names the queue it empties, and says it means it."""

    destination: str
    reason: str | None = None
    id: str | None = None
    confirm: Literal[True]


#: What a scan does to one queue: replay or purge its selected dead letters.
Act = Callable[[dlq.DeadQueue, dlq.Selection], Awaitable[dlq.ScanReport]]


async def replay_dead_letters(request: web.Request) -> web.Response:
    """POST /api/v1/dead-letters/replay: the selected dead letters back to their destination, attempts reset."""
    options = await body(request, ReplayDeadLetters)
    query_parameters(request, ())
    return web.json_response(await replay_letters(context_of(request), options))


async def purge_dead_letters(request: web.Request) -> web.Response:
    """POST /api/v1/dead-letters/purge: the selected dead letters of one destination deleted."""
    options = await body(request, PurgeDeadLetters)
    query_parameters(request, ())
    return web.json_response(await purge_letters(context_of(request), options))


async def replay_letters(context: AdminContext, options: ReplayDeadLetters) -> dict[str, Any]:
    """Replay the selected dead letters (`hookpipe dlq replay`); the DeadLetterReplayResult document."""
    try:
        rate = None if options.rate is None else parse_rate(options.rate)
    except ValueError as error:
        raise bad_request(f"rate: {error}") from None

    async def act(queue: dlq.DeadQueue, selection: dlq.Selection) -> dlq.ScanReport:
        return await dlq.replay(context.publisher, await context.connection(), queue, selection, rate=rate)

    return await _scan(context, options, act, "replayed")


async def purge_letters(context: AdminContext, options: PurgeDeadLetters) -> dict[str, Any]:
    """Delete the selected dead letters (`hookpipe dlq purge`); the DeadLetterPurgeResult document."""

    async def act(queue: dlq.DeadQueue, selection: dlq.Selection) -> dlq.ScanReport:
        return await dlq.purge(context.publisher, await context.connection(), queue, selection)

    return await _scan(context, options, act, "purged")


async def _scan(context: AdminContext, options: Selected | PurgeDeadLetters, act: Act, verb: str) -> dict[str, Any]:
    queues = dead_queues(context.config, options.destination)
    selection = dlq.Selection(reason=options.reason, id=options.id)
    await context.connection()  # 503 now, before any queue is touched, when the broker is away
    async with context.one_bulk_action("this dead-letter " + {"replayed": "replay", "purged": "purge"}[verb]):
        reports: list[dlq.ScanReport] = [await act(queue, selection) for queue in queues]
    for report in reports:
        log.info(f"dead letters {verb}", extra={"destination": report.queue.destination, verb: report.selected,
                                                "kept": report.kept, "failed": report.failed or None})
    return {
        "reports": [report_document(report, verb) for report in reports],
        "complete": not any(report.failed for report in reports),
    }


def report_document(report: dlq.ScanReport, verb: str) -> dict[str, Any]:
    """One queue's report, as `hookpipe dlq replay|purge --json` gives it."""
    return {"destination": report.queue.destination, "queue": report.queue.queue, "exists": report.exists,
            "depth": report.depth, "scanned": report.scanned, verb: report.selected, "kept": report.kept,
            "failed": report.failed or None}
