"""The admin API as an aiohttp application: every endpoint (ENDPOINTS, which the OpenAPI document describes one
for one), the middlewares around them (control.admin.middleware) and the request body cap; and the site
`hookpipe admin` serves, the API with the web console beside it (control.admin.console)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
from aiohttp import web

from control.admin import console, dead_letters, destinations, events, operations
from control.admin.context import CONTEXT, AdminContext
from control.admin.errors import MAX_BODY_BYTES
from control.admin.inputs import query_parameters
from control.admin.middleware import MIDDLEWARES
from control.admin.openapi import build_document

#: Where the API lives.
API = "/api/v1"


async def healthz(_: web.Request) -> web.Response:
    """GET /healthz: the process answers (no token: for liveness probes)."""
    return web.json_response({"status": "ok"})


@functools.cache
def _openapi_bytes() -> bytes:
    return orjson.dumps(build_document())


async def openapi_document(request: web.Request) -> web.Response:
    """GET /api/v1/openapi.json: the OpenAPI 3.1 document of this API."""
    query_parameters(request, ())
    return web.Response(body=_openapi_bytes(), content_type="application/json")


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]


ENDPOINTS = (
    Endpoint("GET", "/healthz", healthz),
    Endpoint("GET", f"{API}/openapi.json", openapi_document),
    Endpoint("GET", f"{API}/events", events.list_events),
    Endpoint("GET", f"{API}/events/{{id}}", events.show_event),
    Endpoint("POST", f"{API}/events/{{id}}/resend", events.resend_event),
    Endpoint("GET", f"{API}/destinations", destinations.list_destinations),
    Endpoint("POST", f"{API}/destinations/{{name}}/pause", destinations.pause_destination),
    Endpoint("POST", f"{API}/destinations/{{name}}/resume", destinations.resume_destination),
    Endpoint("GET", f"{API}/dead-letters", dead_letters.list_dead_letters),
    Endpoint("POST", f"{API}/dead-letters/replay", dead_letters.replay_dead_letters),
    Endpoint("POST", f"{API}/dead-letters/purge", dead_letters.purge_dead_letters),
    Endpoint("POST", f"{API}/replay", operations.replay),
    Endpoint("POST", f"{API}/routes/test", operations.route_test),
    Endpoint("GET", f"{API}/status", operations.status),
)


def build_app(context: AdminContext) -> web.Application:
    """The API app. Request bodies past MAX_BODY_BYTES are refused with 413 before they are read whole."""
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=MAX_BODY_BYTES)
    _add_api(app, context)
    return app


def build_site(context: AdminContext) -> web.Application:
    """What `hookpipe admin` serves on admin.listen: the API as build_app makes it, and the web console at `/`
    (its pages, forms and assets), whose own middlewares guard every path outside the API."""
    app = web.Application(middlewares=(*MIDDLEWARES, *console.MIDDLEWARES), client_max_size=MAX_BODY_BYTES)
    _add_api(app, context)
    console.add_console(app)
    return app


def _add_api(app: web.Application, context: AdminContext) -> None:
    app[CONTEXT] = context
    for endpoint in ENDPOINTS:
        app.router.add_route(endpoint.method, endpoint.path, endpoint.handler)
