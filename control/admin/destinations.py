"""`/api/v1/destinations`: every destination's settings and state (control.status, which asks every deliverer
replica through control.inquiry), and pausing or resuming one (as `hookpipe destination pause|resume`)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from control.admin.context import AdminContext, context_of
from control.admin.errors import ApiError, ErrorReason
from control.admin.inputs import Body, body, path_parameter, query_parameters
from control.commands.destination import set_paused
from control.status import collect_status
from hookpipe.amqp.broker import queue_state
from hookpipe.config import Config
from hookpipe.config.schema import DestinationConfig

log = logging.getLogger("control.admin")


def url_host(url: str) -> str:
    """The host of a destination's URL, with its port when the URL names one: never credentials, path or query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port is not None else host


def destination_document(name: str, settings: DestinationConfig, state: dict[str, Any],
                         pause_flag: bool | None) -> dict[str, Any]:
    """One destination as GET /api/v1/destinations lists it: its settings, then its state as `hookpipe status`
    gives it (`state`: one entry of its `destinations`)."""
    return {
        "name": name,
        "host": url_host(settings.url),
        "ordering": settings.ordering,
        "rate_limit": settings.rate_limit,
        "concurrency": settings.concurrency,
        "paused_in_config": settings.paused,
        "pause_flag": pause_flag,
        "paused": state["paused"],
        "breaker": state["breaker"],
        "consecutive_failures": state["consecutive_failures"],
        "consuming": state["consuming"],
        "delivered_by": state["delivered_by"],
        "in_flight": state["in_flight"],
        "last_error": state["last_error"],
        "replicas": state["replicas"],
        "messages": state["messages"],
        "consumers": state["consumers"],
        "dead_letters": state["dead_letters"],
    }


async def list_destinations(request: web.Request) -> web.Response:
    """GET /api/v1/destinations: every configured destination, in config order."""
    query_parameters(request, ())
    return web.json_response({"items": await destination_documents(context_of(request))})


async def destination_documents(context: AdminContext) -> list[dict[str, Any]]:
    """Every configured destination as destination_document gives it, in config order (503 without the broker)."""
    config = context.config
    connection = await context.connection()
    status = await collect_status(config, interval=0, connection=connection)
    flags = {name: await queue_state(connection, context.names.pause_flag(name)) is not None
             for name in config.destinations}
    return [destination_document(name, settings, status["destinations"][name], flags[name])
            for name, settings in config.destinations.items()]


class NoBody(Body):
    """An action that takes no options: an empty body, or `{}`."""


async def pause_destination(request: web.Request) -> web.Response:
    """POST /api/v1/destinations/{name}/pause."""
    return await _set_paused(request, paused=True)


async def resume_destination(request: web.Request) -> web.Response:
    """POST /api/v1/destinations/{name}/resume."""
    return await _set_paused(request, paused=False)


async def _set_paused(request: web.Request, *, paused: bool) -> web.Response:
    name = path_parameter(request, "name")
    query_parameters(request, ())
    await body(request, NoBody)
    return web.json_response(await set_destination_paused(context_of(request), name, paused=paused))


async def set_destination_paused(context: AdminContext, name: str, *, paused: bool) -> dict[str, Any]:
    """Pause or resume `name` as `hookpipe destination pause|resume` does (control.commands.destination); the
    PauseResult document. 404 for a destination the config does not name."""
    config = context.config
    _known(config, name)
    heard = await set_paused(await context.connection(), context.names, name, paused=paused)
    log.info("destination paused" if paused else "destination resumed",
             extra={"destination": name, "deliverers_heard": heard})
    return {"destination": name, "paused": paused, "deliverers_heard": heard,
            "paused_in_config": config.destinations[name].paused}


def _known(config: Config, name: str) -> None:
    if name not in config.destinations:
        raise ApiError(ErrorReason.UNKNOWN_DESTINATION, f"no destination '{name}' in the config; destinations: "
                                                        f"{', '.join(config.destinations) or 'none'}")
