"""The pipeline-wide operations of the admin API: `POST /api/v1/replay` (`hookpipe replay`, control.replay),
`POST /api/v1/routes/test` (`hookpipe routes test`) and `GET /api/v1/status` (`hookpipe status --json`)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import Field

from control.admin.context import AdminContext, context_of
from control.admin.errors import ApiError, ErrorReason, bad_request
from control.admin.inputs import Body, body, json_object, moment, query_parameters, utc_now
from control.commands.routes import routing_report
from control.match_documents import event_from_document
from control.replay import DRY_RUN_LISTED, Replay, ReplayError, ReplayOptions, ReplaySummary
from control.status import collect_status
from hookpipe.config.units import parse_duration, parse_rate

log = logging.getLogger("control.admin")

#: Most events a dry run may list.
MAX_LISTED = 1000

#: Longest interval GET /api/v1/status may sample rates over (s): a request is not a place to wait long.
MAX_STATUS_INTERVAL = 10.0

#: The interval GET /api/v1/status samples over by default, as `hookpipe status` does.
DEFAULT_STATUS_INTERVAL = "1s"


class ReplayRequest(Body):
    """`hookpipe replay`'s options; times as RFC 3339 or a duration back from now (`2h`), rate as `50/s`."""

    since: str
    until: str | None = None
    source: str | None = None
    type: str | None = None
    id: str | None = None
    route: str | None = None
    destination: str | None = None
    dry_run: bool = False
    listed: int = Field(DRY_RUN_LISTED, ge=0, le=MAX_LISTED, alias="list")
    rate: str | None = None


def replay_options(request: ReplayRequest, now: datetime) -> ReplayOptions:
    if request.route is not None and request.destination is not None:
        raise bad_request("give route or destination, not both")
    try:
        rate = None if request.rate is None else parse_rate(request.rate)
    except ValueError as error:
        raise bad_request(f"rate: {error}") from None
    return ReplayOptions(
        since=moment(request.since, "since", now),
        until=moment(request.until, "until", now) if request.until is not None else now,
        source=request.source, type=request.type, id=request.id, route=request.route,
        destination=request.destination, dry_run=request.dry_run, rate=rate, listed=request.listed,
    )


async def replay(request: web.Request) -> web.Response:
    """POST /api/v1/replay: archived events of a time window through the current rules again; answers when the
    replay has ended (every publish confirmed), with its summary."""
    query_parameters(request, ())
    options = replay_options(await body(request, ReplayRequest), utc_now())
    context = context_of(request)
    if context.config.archive is None:
        raise ApiError(ErrorReason.ARCHIVE_OFF, "the config has `archive: off`: there is nothing to replay")
    try:
        run = Replay(context.config, options)
    except ReplayError as error:
        raise bad_request(str(error)) from None
    async with context.one_bulk_action("this replay"):
        summary = await _run(run, context)
    if not options.dry_run:
        log.info("replay done", extra={"read": summary.read, "matched": summary.matched,
                                       "published": summary.published})
    return web.json_response(summary_document(summary, options))


async def _run(run: Replay, context: AdminContext) -> ReplaySummary:
    connection = await context.connection()
    try:
        return await run.run(publisher=context.publisher, connection=connection)
    except ReplayError as error:
        if run.summary.failed:
            raise ApiError(ErrorReason.BROKER_UNAVAILABLE,
                           f"{error}; {run.summary.line(run.options.dry_run)}; events received up to "
                           f"{iso(run.summary.last_published_at)} were published") from None
        raise ApiError(ErrorReason.NO_ARCHIVE, str(error)) from None


def iso(ms: int | None) -> str | None:
    """UTC milliseconds as ISO 8601 with milliseconds and a Z, as the events API writes times."""
    if ms is None:
        return None
    seconds, millis = divmod(ms, 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


def summary_document(summary: ReplaySummary, options: ReplayOptions) -> dict[str, Any]:
    since, until = summary.window
    return {
        "dry_run": options.dry_run,
        "since": iso(since), "until": iso(until),
        "read": summary.read, "matched": summary.matched, "published": summary.published,
        "skipped": summary.skipped, "failed": summary.failed,
        "last_published_at": iso(summary.last_published_at),
        "listed": [{"id": event.id, "source": event.source, "type": event.type,
                    "received_at": iso(event.received_at), "destinations": list(event.destinations)}
                   for event in summary.listed],
    }


async def route_test(request: web.Request) -> web.Response:
    """POST /api/v1/routes/test: which current routes match a match document, and what each destination gets."""
    query_parameters(request, ())
    return web.json_response(await route_report(context_of(request), await json_object(request)))


async def route_report(context: AdminContext, document: dict[str, Any]) -> dict[str, Any]:
    """The RouteTest document of a match document (control.match_documents) against the current routes; 400 for a
    document that is not one."""
    try:
        event = event_from_document(document)
    except ValueError as error:
        raise bad_request(str(error)) from None
    # Off the loop: matching a large body against many routes can take a while (the router does the same).
    report = await asyncio.to_thread(routing_report, "request", event, context.state.routes)
    del report["input"]
    report.setdefault("dead_letter", None)
    return report


async def status(request: web.Request) -> web.Response:
    """GET /api/v1/status: what `hookpipe status --json` shows; with the broker away, what the services say."""
    values = query_parameters(request, ("interval",))
    text = values.get("interval", DEFAULT_STATUS_INTERVAL)
    try:
        interval = parse_duration(float(text) if text.replace(".", "", 1).isdigit() else text)
    except ValueError as error:
        raise bad_request(f"interval: {error}") from None
    if interval > MAX_STATUS_INTERVAL:
        raise bad_request(f"interval: at most {MAX_STATUS_INTERVAL:g}s")
    context = context_of(request)
    link = context.publisher.link
    connection = link.connection if link.is_ready else None  # else collect_status tries, and reports the outage
    return web.json_response(await collect_status(context.config, interval=interval, connection=connection))
