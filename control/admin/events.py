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
from dataclasses import replace
from typing import Any

from aiohttp import web

from control.admin.context import AdminContext, context_of
from control.admin.errors import ApiError, ErrorReason, bad_request
from control.admin.index import BadCursor, EventQuery
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
    values = query_parameters(request, EVENT_FILTERS)
    now = utc_now()
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
        query = EventQuery(
            source=values.get("source"), type=values.get("type"), destination=values.get("destination"),
            status=status, since=since, until=until, cursor=values.get("cursor"),
            limit=integer(values, "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT),
        )
        page = await context_of(request).index.search(query)
    except BadCursor:
        raise ApiError(ErrorReason.BAD_CURSOR, "cursor: not a next_cursor this API gave; search again without it") \
            from None
    except ValueError as error:  # the query's own checks, should they be stricter than ours
        raise bad_request(str(error)) from None
    return web.json_response({"items": page.items, "next_cursor": page.next_cursor})


async def show_event(request: web.Request) -> web.Response:
    """GET /api/v1/events/{id}: the event's document; with body=true, its body as archived."""
    event_id = path_parameter(request, "id")
    with_body = boolean(query_parameters(request, ("body",)), "body")
    context = context_of(request)
    document = await context.index.event(event_id)
    if document is None:
        raise ApiError(ErrorReason.UNKNOWN_EVENT, f"no event '{event_id}' in the index")
    if with_body:
        archived = await _archived(context, event_id)
        document = {**document, "body": None if archived is None else body_document(archived.body)}
    return web.json_response(document)


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
    context = context_of(request)
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
    return web.json_response({"event_id": event_id, "destination": destination, "resend": True}, status=202)
