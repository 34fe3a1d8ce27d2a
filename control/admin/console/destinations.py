"""The destinations page: every destination's settings and state (as GET /api/v1/destinations gives them), and
pausing or resuming one (POST `/destinations/{name}/pause|resume`, as `hookpipe destination pause|resume`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from control.admin.console.forms import form_fields
from control.admin.console.pages import redirect, render
from control.admin.context import context_of
from control.admin.destinations import destination_documents, set_destination_paused
from control.admin.errors import ApiError
from control.admin.inputs import path_parameter


def shown_paused(destination: dict[str, Any]) -> bool:
    """Whether the page shows a destination paused: as its deliverers say; when none answered, as its pause
    flag (an operator's pause) or its config say."""
    if destination["paused"] is not None:
        return bool(destination["paused"])
    return bool(destination["pause_flag"] or destination["paused_in_config"])


async def destinations_page(request: web.Request) -> web.Response:
    """GET /destinations: the table of destinations, each with its pause or resume form."""
    return await _page(request)


async def _page(request: web.Request, *, status: int = 200, error: str | None = None) -> web.Response:
    try:
        destinations = await destination_documents(context_of(request))
    except ApiError as failure:  # the broker is away: say so (unless a problem of the form comes first)
        destinations = []
        status, error = (status, error) if error else (failure.status, failure.detail)
    rows = [{**destination, "shown_paused": shown_paused(destination)} for destination in destinations]
    return render(request, "destinations.html", status=status, error=error, section="destinations",
                  destinations=rows)


async def pause(request: web.Request) -> web.Response:
    """POST /destinations/{name}/pause."""
    return await _set_paused(request, paused=True)


async def resume(request: web.Request) -> web.Response:
    """POST /destinations/{name}/resume."""
    return await _set_paused(request, paused=False)


async def _set_paused(request: web.Request, *, paused: bool) -> web.Response:
    try:
        name = path_parameter(request, "name")
        await form_fields(request, ())
        result = await set_destination_paused(context_of(request), name, paused=paused)
    except ApiError as error:
        return await _page(request, status=error.status, error=error.detail)
    where = "on every running deliverer" if result["deliverers_heard"] else "(no deliverer is running now)"
    later = ""
    if not paused and result["paused_in_config"]:
        later = "; the config's `paused: true` pauses it again whenever a deliverer starts"
    return redirect("/destinations", notice=f"{name} {'paused' if paused else 'resumed'} {where}{later}.")
