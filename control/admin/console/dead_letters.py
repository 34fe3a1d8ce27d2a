"""The dead-letters page: each dead queue's letters read in place, by destination, with its counts by reason
(as GET /api/v1/dead-letters), and replaying or purging them (POST `/dead-letters/replay|purge`, as `hookpipe
dlq replay|purge`: nothing is removed before what replaces it is confirmed)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from control.admin.console.forms import form_fields, query_fields, required
from control.admin.console.pages import redirect, render
from control.admin.context import context_of
from control.admin.dead_letters import (
    MAX_LIMIT,
    PurgeDeadLetters,
    ReplayDeadLetters,
    dead_letter_listing,
    purge_letters,
    replay_letters,
)
from control.admin.errors import ApiError, bad_request
from control.admin.inputs import describe_validation

#: The fields of the filter form.
FILTERS = ("destination", "reason")

#: What the purge's checkbox says: a purge deletes, so the form asks.
CONFIRM_LABEL = "Yes, delete these dead letters"

#: The value the purge's checkbox sends when ticked.
CONFIRMED = "yes"


async def dead_letters_page(request: web.Request) -> web.Response:
    """GET /dead-letters: per destination, its counts by reason, its letters and the replay and purge forms."""
    return await _page(request)


async def _page(request: web.Request, *, status: int = 200, error: str | None = None) -> web.Response:
    form = {name: request.query.get(name, "") for name in FILTERS}
    sections: list[dict[str, Any]] = []
    try:
        filters = query_fields(request, FILTERS)
        listing = await dead_letter_listing(context_of(request), filters.get("destination"), filters.get("reason"),
                                            MAX_LIMIT)
        sections = sections_of(listing)
    except ApiError as failure:
        status, error = (status, error) if error else (failure.status, failure.detail)
    return render(request, "dead_letters.html", status=status, error=error, section="dead-letters", form=form,
                  sections=sections, reason=form["reason"].strip() or None, confirm_label=CONFIRM_LABEL,
                  confirmed=CONFIRMED, destinations=[*context_of(request).config.destinations, "router"])


def sections_of(listing: dict[str, Any]) -> list[dict[str, Any]]:
    """The listing (a DeadLetters document) as one section per dead queue, each with the letters shown of it."""
    letters: dict[str, list[dict[str, Any]]] = {}
    for letter in listing["letters"]:
        letters.setdefault(letter["destination"], []).append(letter)
    return [{**queue, "letters": letters.get(queue["destination"], [])} for queue in listing["queues"]]


async def replay(request: web.Request) -> web.Response:
    """POST /dead-letters/replay: a destination's dead letters (of one reason, or one event) back to it."""
    try:
        values = await form_fields(request, ("destination", "reason", "id"))
        options = _options(ReplayDeadLetters, values)
        result = await replay_letters(context_of(request), options)
    except ApiError as error:
        return await _page(request, status=error.status, error=error.detail)
    return redirect("/dead-letters", notice=_summary(result, "replayed"))


async def purge(request: web.Request) -> web.Response:
    """POST /dead-letters/purge: a destination's dead letters deleted; only with its box ticked."""
    try:
        values = await form_fields(request, ("destination", "reason", "id", "confirm"))
        if values.pop("confirm", None) != CONFIRMED:
            raise bad_request(f"confirm: tick “{CONFIRM_LABEL}” to purge; nothing was deleted")
        options = _options(PurgeDeadLetters, {**values, "confirm": True})
        result = await purge_letters(context_of(request), options)
    except ApiError as error:
        return await _page(request, status=error.status, error=error.detail)
    return redirect("/dead-letters", notice=_summary(result, "purged"))


def _options(model: type[ReplayDeadLetters] | type[PurgeDeadLetters], values: dict[str, Any]) -> Any:
    required(values, "destination", "choose the destination whose dead letters to act on")
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise bad_request(describe_validation(error)) from None


def _summary(result: dict[str, Any], verb: str) -> str:
    """One line per queue: how many were replayed or purged, kept, and why a scan stopped early."""
    lines = []
    for report in result["reports"]:
        line = f"{report['destination']}: {report[verb]} dead letter{'s' * (report[verb] != 1)} {verb}"
        if report["kept"]:
            line += f", {report['kept']} kept"
        if report["failed"]:
            line += f"; stopped early: {report['failed']} (nothing was lost: run it again)"
        lines.append(line)
    return "; ".join(lines) + "."
