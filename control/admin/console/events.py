"""The events pages: the search (`/events`, its rows alone at `/events/rows` for the live update), one event's
whole story (`/events/{id}`) and its resend to one destination (POST `/events/{id}/resend`).

Each does the work the API's handlers do (control.admin.events), and shows a problem in the page's alert with
the status the API would answer.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from control.admin.console.forms import form_fields, query_fields, required
from control.admin.console.pages import fragment, redirect, render, segment
from control.admin.context import context_of
from control.admin.errors import ApiError
from control.admin.events import archived_body, event_document, event_query, resend, search_events
from control.admin.index import Page
from control.admin.inputs import path_parameter, utc_now
from control.admin.schemas import EVENT_STATUSES

#: The fields of the filter form, in the order it shows them.
FILTERS = ("source", "type", "destination", "status", "since", "until")

#: The status filter's option that filters nothing.
ANY_STATUS = "any"

#: What the status select offers.
STATUS_OPTIONS = (ANY_STATUS, *EVENT_STATUSES)


async def events_page(request: web.Request) -> web.Response:
    """GET /events: the filter form and one page of matching events, newest first."""
    found = await _search(request)
    status = found.pop("status")
    return render(request, "events.html", status=status, section="events",
                  form={name: request.query.get(name, "") for name in FILTERS}, status_options=STATUS_OPTIONS,
                  destinations=list(context_of(request).config.destinations),
                  sources=list(context_of(request).config.sources), **found)


async def event_rows(request: web.Request) -> web.Response:
    """GET /events/rows: the table rows of the same search, for the page's live update."""
    found = await _search(request)
    return fragment("event_rows.html", status=found["status"], page=found["page"], error=found["error"])


async def _search(request: web.Request) -> dict[str, Any]:
    """The page of events the query asks for; on bad input an empty page and the problem (and its status)."""
    try:
        values = query_fields(request, (*FILTERS, "cursor"))
        if values.get("status") == ANY_STATUS:
            del values["status"]
        page = await search_events(context_of(request), event_query(values, utc_now()))
    except ApiError as error:
        return {"page": Page([], None), "error": error.detail, "status": error.status, "older": None,
                "rows_url": None, "first_page": False}
    filters = {name: value for name, value in values.items() if name != "cursor"}
    older = None if page.next_cursor is None else "/events?" + urlencode({**filters, "cursor": page.next_cursor})
    return {"page": page, "error": None, "status": 200, "older": older, "first_page": "cursor" not in values,
            "rows_url": "/events/rows" + ("?" + urlencode(filters) if filters else "")}


async def event_page(request: web.Request) -> web.Response:
    """GET /events/{id}: metadata, headers, body, routing, and every delivery with its attempts."""
    return await _event(request, path_parameter(request, "id"))


async def _event(request: web.Request, event_id: str, *, status: int = 200,
                 error: str | None = None) -> web.Response:
    context = context_of(request)
    document = await event_document(context, event_id)
    body, body_note = await _body(request, event_id)
    return render(request, "event.html", status=status, error=error, section="events", event=document,
                  body=body, body_note=body_note, destinations=list(context.config.destinations))


async def _body(request: web.Request, event_id: str) -> tuple[str | None, str | None]:
    """The body as the page shows it (JSON indented) and a note on it: why it is not shown, or what was cut."""
    context = context_of(request)
    try:
        kept = await archived_body(context, event_id)
    except ApiError as error:  # the broker is away: the rest of the page still shows
        return None, f"The body cannot be read now: {error.detail}."
    if kept is None:
        if context.config.archive is None:
            return None, "The body is not kept: the config has `archive: off`."
        return None, "The body is not kept: the archive no longer holds this event."
    cut = " (the first 64 KiB; the rest is cut)" if kept["truncated"] else ""
    if "base64" in kept:
        return kept["base64"], f"The body is not UTF-8 text: shown as base64{cut}."
    text: str = kept["text"]
    if not kept["truncated"]:
        with contextlib.suppress(orjson.JSONDecodeError):  # not JSON: shown as sent
            text = orjson.dumps(orjson.loads(text), option=orjson.OPT_INDENT_2).decode()
    return text, f"Shown{cut}." if cut else None


async def resend_to(request: web.Request) -> web.Response:
    """POST /events/{id}/resend: the archived event to one destination again; back to the event with a notice."""
    event_id = path_parameter(request, "id")
    try:
        values = await form_fields(request, ("destination",))
        destination = required(values, "destination", "choose the destination to resend the event to")
        await resend(context_of(request), event_id, destination)
    except ApiError as error:
        return await _event(request, event_id, status=error.status, error=error.detail)
    return redirect(f"/events/{segment(event_id)}",
                    notice=f"Event {event_id} resent to {destination}: it goes through the router and "
                           f"{destination}'s queue again, with the same webhook-id.")
