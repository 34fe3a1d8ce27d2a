"""The web console of `hookpipe admin`: server-rendered pages beside the API on `admin.listen`, signed in with the
same admin token, doing the same work as the API's handlers (the index, status, dead letters, pauses, resends,
routes tests) without calling the API.

Pages are Jinja2 templates (templates/, autoescaped), with one stylesheet and one small script (static/); every
request a page makes goes to its own origin (the Content-Security-Policy says so). Pages work without
JavaScript: the script only refreshes the events list and adds small conveniences.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from control.admin.console import dead_letters, destinations, events, login, routes
from control.admin.console.guards import MIDDLEWARES
from control.admin.console.pages import STATIC, STATIC_PREFIX

__all__ = ["MIDDLEWARES", "PAGES", "add_console"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Every page and form action: (method, path, handler). `/events/rows` comes before `/events/{id}`, which would
#: take it.
PAGES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/", login.home),
    ("GET", "/login", login.login_page),
    ("POST", "/login", login.login),
    ("POST", "/logout", login.logout),
    ("GET", "/events", events.events_page),
    ("GET", "/events/rows", events.event_rows),
    ("GET", "/events/{id}", events.event_page),
    ("POST", "/events/{id}/resend", events.resend_to),
    ("GET", "/destinations", destinations.destinations_page),
    ("POST", "/destinations/{name}/pause", destinations.pause),
    ("POST", "/destinations/{name}/resume", destinations.resume),
    ("GET", "/dead-letters", dead_letters.dead_letters_page),
    ("POST", "/dead-letters/replay", dead_letters.replay),
    ("POST", "/dead-letters/purge", dead_letters.purge),
    ("GET", "/routes", routes.routes_page),
    ("POST", "/routes", routes.try_routes),
)


def add_console(app: web.Application) -> None:
    """The console's pages and static assets on `app` (whose middlewares must include MIDDLEWARES)."""
    for method, path, handler in PAGES:
        app.router.add_route(method, path, handler)
    app.router.add_static(STATIC_PREFIX, STATIC, append_version=False)
