"""`/api/v1/events`: search the delivery-log index, show one event (its body read back from the archive on
request), and resend one event to one destination.

A resend publishes the archived event to the router's queue as a replay restricted to that destination and
marked `resend` (hookpipe.event.Event.resend): the router sends it only there, through the destination's queue
and its retries, with the same event id, which receivers see as the same `webhook-id`.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from aiohttp import web

from control.admin.context import AdminContext, context_of
from control.admin.errors import ApiError, ErrorReason, bad_request
from control.admin.index import BadCursor, EventQuery, Page
from control.admin.inputs import Body, body, boolean, integer, moment_ms, path_parameter, query_parameters, utc_now
from control.admin.schemas import DELIVERY_STATUSES, EVENT_STATUSES
from hookpipe.amqp.codec import encode_event
from hookpipe.event import Event
from router.rules import UnparsableBody
from router.transform import TransformError

log = logging.getLogger("control.admin")

#: The query parameters of GET /api/v1/events.
EVENT_FILTERS = ("source", "type", "destination", "status", "since", "until", "cursor", "limit")

#: Events per page: by default, and at most.
DEFAULT_LIMIT = 50
MAX_LIMIT = 500

#: Most bytes of a body GET /api/v1/events/{id}?body=true shows (the rest is cut, `truncated: true`).
MAX_BODY_SHOWN = 64 * 1024

#: Bytes a UTF-8 character may take: a cut within the last few bytes may split one.
UTF8_MAX_CHAR = 4


async def list_events(request: web.Request) -> web.Response:
    """GET /api/v1/events: one page of matching events, newest first."""
    query = event_query(query_parameters(request, EVENT_FILTERS), utc_now())
    page = await search_events(context_of(request), query)
    return web.json_response({"items": page.items, "next_cursor": page.next_cursor})


def event_query(values: Mapping[str, str], now: datetime) -> EventQuery:
    """The search `values` ask for (EVENT_FILTERS, clean text; times as moments or durations back from `now`);
    its first problem a 400 naming the parameter. Used by the API and the console alike."""
    since = moment_ms(values["since"], "since", now) if "since" in values else None
    until = moment_ms(values["until"], "until", now) if "until" in values else None
    if since is not None and until is not None and since > until:
        raise bad_request("since must not be after until")
    status = values.get("status")
    allowed = DELIVERY_STATUSES if "destination" in values else EVENT_STATUSES
    if status is not None and status not in allowed:
        kind = "a delivery status (with destination)" if "destination" in values else "an event status"
        raise bad_request(f"status must be {kind}: one of {', '.join(allowed)}")
    try:
        return EventQuery(
            source=values.get("source"), type=values.get("type"), destination=values.get("destination"),
            status=status, since=since, until=until, cursor=values.get("cursor"),
            limit=integer(values, "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT),
        )
    except ValueError as error:  # the query's own checks, should they be stricter than ours
        raise bad_request(str(error)) from None


async def search_events(context: AdminContext, query: EventQuery) -> Page:
    """One page of the index's answer; a cursor it did not hand out is 400 bad_cursor."""
    try:
        return await context.index.search(query)
    except BadCursor:
        raise ApiError(ErrorReason.BAD_CURSOR, "cursor: not a next_cursor this API gave; search again without it") \
            from None
    except ValueError as error:  # the query's own checks, should they be stricter than ours
        raise bad_request(str(error)) from None


async def show_event(request: web.Request) -> web.Response:
    """GET /api/v1/events/{id}: the event's document; with body=true, its body as archived."""
    event_id = path_parameter(request, "id")
    with_body = boolean(query_parameters(request, ("body",)), "body")
    context = context_of(request)
    document = await event_document(context, event_id)
    if with_body:
        document = {**document, "body": await archived_body(context, event_id)}
    return web.json_response(document)


async def event_document(context: AdminContext, event_id: str) -> dict[str, Any]:
    """Everything the index knows of the event (control.admin.index); 404 unknown_event when it knows nothing."""
    document = await context.index.event(event_id)
    if document is None:
        raise ApiError(ErrorReason.UNKNOWN_EVENT, f"no event '{event_id}' in the index")
    return document


async def archived_body(context: AdminContext, event_id: str) -> dict[str, Any] | None:
    """The event's body as body_document gives it, read back from the archive; None when it is not kept."""
    archived = await _archived(context, event_id)
    return None if archived is None else body_document(archived.body)


def body_document(data: bytes) -> dict[str, Any]:
    """`{"text": ..., "truncated": ...}` for a body that is UTF-8 (as far as it is shown), else `{"base64": ...}`;
    at most MAX_BODY_SHOWN bytes either way. A cut that splits a character shows the text before it."""
    shown = data[:MAX_BODY_SHOWN]
    truncated = len(data) > len(shown)
    try:
        return {"text": shown.decode("utf-8"), "truncated": truncated}
    except UnicodeDecodeError as error:
        split = truncated and error.reason == "unexpected end of data" and error.start > len(shown) - UTF8_MAX_CHAR
        if split:
            return {"text": shown[: error.start].decode("utf-8"), "truncated": True}
    return {"base64": base64.b64encode(shown).decode("ascii"), "truncated": truncated}


async def _archived(context: AdminContext, event_id: str) -> Event | None:
    """The event as the archive holds it; None when the archive is off or no longer has it."""
    if context.config.archive is None:
        return None
    offset = await context.index.archive_offset(event_id)
    if offset is None:
        return None
    connection = await context.connection()
    return await context.read_archived(connection, context.names, offset, event_id)


class Resend(Body):
    destination: str


async def resend_event(request: web.Request) -> web.Response:
    """POST /api/v1/events/{id}/resend: the archived event to one destination again, as a resend."""
    event_id = path_parameter(request, "id")
    query_parameters(request, ())
    destination = (await body(request, Resend)).destination
    await resend(context_of(request), event_id, destination)
    return web.json_response({"event_id": event_id, "destination": destination, "resend": True}, status=202)


async def resend(context: AdminContext, event_id: str, destination: str) -> None:
    """Publish the archived event to the router's queue as a resend to `destination` alone; returns once the
    broker confirmed it. ApiError: 404 for an unknown destination or event, 410 when the body is not kept, 409
    when no current route sends the event there."""
    state = context.state
    if destination not in state.config.destinations:
        raise ApiError(ErrorReason.UNKNOWN_DESTINATION,
                       f"no destination '{destination}' in the config; destinations: "
                       f"{', '.join(state.config.destinations) or 'none'}")
    if await context.index.event(event_id) is None:
        raise ApiError(ErrorReason.UNKNOWN_EVENT, f"no event '{event_id}' in the index")
    archived = await _archived(context, event_id)
    if archived is None:
        raise ApiError(ErrorReason.BODY_NOT_KEPT, f"the archive no longer holds event '{event_id}'"
                       if state.config.archive is not None else "the config has `archive: off`: no body is kept")
    event = replace(archived, replay=True, replay_destination=destination, resend=True)
    try:
        _, deliveries = await asyncio.to_thread(state.routes.match, event)  # a large body is matched off the loop
    except (UnparsableBody, TransformError) as error:
        raise ApiError(ErrorReason.NOT_ROUTED, f"the current routes cannot route it: {error}") from None
    if not any(delivery.destination == destination for delivery in deliveries):
        raise ApiError(ErrorReason.NOT_ROUTED, f"no current route sends event '{event_id}' to '{destination}'")
    await context.publisher.publish(encode_event(event), exchange="", routing_key=context.names.router_queue)
    log.info("event resent", extra={"event_id": event_id, "destination": destination})
