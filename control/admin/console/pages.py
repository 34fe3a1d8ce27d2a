"""Rendering the console: its Jinja2 templates (autoescaped, every variable required), what every page knows
(signed in or not, the CSRF value of its forms, a notice left by the action before), the headers every console
answer carries, and the cookies it sets.

A template never sees the admin token: only its CSRF value, an HMAC of it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import jinja2
import orjson
from aiohttp import web

from control.admin.console.session import NOTICE_COOKIE, SESSION_COOKIE, csrf_token, session_token, token_refusal
from control.admin.context import context_of
from control.admin.index.query import iso_time

#: The page templates and the static assets (package data: pyproject's [tool.setuptools.package-data]).
TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")

#: Where the static assets are served.
STATIC_PREFIX = "/static"

#: Every request a page makes goes to its own origin; nothing inline runs, nothing frames the console.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

#: The headers of every console answer (pages, fragments, redirects, static assets, errors).
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

#: Pages show live state and carry a CSRF value: never stored. Static assets are revalidated (ETag,
#: Last-Modified), so an upgrade's new CSS or JS is picked up at once.
PAGE_CACHE = "no-store"
STATIC_CACHE = "no-cache"

#: Longest notice carried across a redirect (characters): a cookie is no place for more.
MAX_NOTICE = 300

#: Every console cookie: out of reach of scripts, sent over TLS only (browsers treat localhost as secure), and
#: never on a request another site starts.
COOKIE_ATTRIBUTES: dict[str, Any] = {"httponly": True, "secure": True, "samesite": "Strict", "path": "/"}


def when(iso: str | None) -> str:
    """An ISO 8601 UTC time from the index (`2026-12-04T06:50:00.123Z`) as a page shows it."""
    if not iso:
        return "-"
    return iso.replace("T", " ").removesuffix("Z") + " UTC"


def when_ms(ms: int | None) -> str:
    """UTC milliseconds (as dead letters carry them) as a page shows a time."""
    return when(iso_time(ms))


def segment(value: str) -> str:
    """`value` as one path segment of a link (every reserved character escaped, `/` too)."""
    return quote(value, safe="")


def pretty(value: Any) -> str:
    """A JSON value indented for reading (text stays as it is)."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()


@functools.cache
def environment() -> jinja2.Environment:
    """The templates, autoescaped: no value a page shows (an event's headers, a dead letter's error) is markup."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(when=when, when_ms=when_ms, segment=segment, pretty=pretty)
    return env


def render(request: web.Request, template: str, *, status: int = 200, **values: Any) -> web.Response:
    """A whole page: the template with `values`, what every page knows (the header's links and sign-out form
    when the browser is signed in) and the notice the last action left (shown once: its cookie is deleted)."""
    token = context_of(request).token()
    signed_in = token_refusal(session_token(request.cookies.get(SESSION_COOKIE)), token) is None
    notice = _notice(request)
    values.setdefault("error", None)
    values.setdefault("section", None)
    html = environment().get_template(template).render(
        signed_in=signed_in, csrf=csrf_token(token) if signed_in else "", notice=notice,
        **values)
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    if notice is not None:
        forget_cookie(response, NOTICE_COOKIE)
    return response


def fragment(template: str, *, status: int = 200, **values: Any) -> web.Response:
    """A piece of a page (the events table's rows, for the live update): no notice is taken."""
    html = environment().get_template(template).render(**values)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def _notice(request: web.Request) -> str | None:
    text = request.cookies.get(NOTICE_COOKIE)
    return unquote(text)[:MAX_NOTICE] if text else None


def redirect(location: str, *, notice: str | None = None) -> web.Response:
    """303 to `location` (a path of the console), with `notice` for the page there to show once."""
    response = web.Response(status=303, headers={"Location": location})
    if notice is not None:
        set_cookie(response, NOTICE_COOKIE, quote(notice[:MAX_NOTICE], safe=""))
    return response


def set_cookie(response: web.StreamResponse, name: str, value: str) -> None:
    response.set_cookie(name, value, **COOKIE_ATTRIBUTES)


def forget_cookie(response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, **COOKIE_ATTRIBUTES)


def secure(request: web.Request, response: web.StreamResponse) -> None:
    """The headers every console answer carries (before it is sent)."""
    response.headers.update(SECURITY_HEADERS)
    static = request.path.startswith(STATIC_PREFIX + "/")
    response.headers["Cache-Control"] = STATIC_CACHE if static else PAGE_CACHE
