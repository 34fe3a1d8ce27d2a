"""The pieces around every console handler, outermost first: answers (every failure becomes a page with an alert,
never a traceback; the security headers on every answer), the session (the admin token in its cookie, else a
redirect to the login) and the cross-site guard (every POST from the console's own origin, carrying its CSRF
value).

Each passes the API's requests (control.admin.middleware.for_api) straight on: the API's own middlewares answer
those. Logs name the method and the route template, never a value of the request.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from control.admin.auth import Refusal
from control.admin.console.pages import STATIC_PREFIX, render, secure
from control.admin.console.session import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    csrf_matches,
    login_csrf_matches,
    login_location,
    same_origin,
    session_token,
    token_refusal,
)
from control.admin.context import context_of
from control.admin.errors import MAX_BODY_BYTES, ApiError
from control.admin.middleware import BROKER_FAILURES, Handler, endpoint, for_api
from hookpipe.amqp.broker import describe
from hookpipe.runtime import metrics

log = logging.getLogger("control.admin")

#: Pages anyone may open: the login, and the assets every page (the login too) loads.
OPEN_PATHS = ("/login",)

#: Methods that change nothing: no CSRF value asked.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: The heading of an error page, by status.
TITLES = {
    400: "Bad request", 403: "Refused", 404: "Not found", 405: "Method not allowed", 409: "Conflict",
    410: "Gone", 413: "Too large", 500: "Internal error", 503: "Unavailable",
}

#: What a 403 from the cross-site guard says.
CROSS_SITE = ("refused: this form was sent from another site, or without the console's security token (a page "
              "left open since the admin token changed sends an old one); open the page again and resend it")


def error_page(request: web.Request, status: int, detail: str) -> web.Response:
    """A page with `status` whose alert says `detail`."""
    title = TITLES.get(status, "Error" if status < 500 else "Internal error")
    return render(request, "error.html", status=status, title=title, error=detail)


def _http_detail(error: web.HTTPException) -> str:
    if error.status == 404:
        return "not found: the console has no such page"
    if error.status == 405:
        return f"method not allowed: {error.headers.get('Allow', 'another method')} only"
    if error.status == 413:
        return f"too large: a form may send at most {MAX_BODY_BYTES // 1024} KiB"
    return error.reason


@web.middleware
async def console_answers(request: web.Request, handler: Handler) -> web.StreamResponse:
    if for_api(request):
        return await handler(request)
    try:
        response = await handler(request)
    except ApiError as error:
        response = error_page(request, error.status, error.detail)
    except web.HTTPException as error:  # aiohttp's own: no route, a wrong method, a body too large
        response = error_page(request, error.status, _http_detail(error))
    except BROKER_FAILURES as error:
        log.warning("admin console: the broker failed an action",
                    extra={"endpoint": endpoint(request), "method": request.method, "error": describe(error)})
        response = error_page(request, 503, f"unavailable: the broker failed: {describe(error)}")
    except asyncio.CancelledError:
        raise  # the browser went away, or the service is stopping
    except Exception:
        log.exception("admin console: internal error",
                      extra={"endpoint": endpoint(request), "method": request.method})
        response = error_page(request, 500, "internal error: the request failed inside hookpipe admin; see its log")
    secure(request, response)
    return response


def _open(request: web.Request) -> bool:
    return request.path in OPEN_PATHS or request.path.startswith(STATIC_PREFIX + "/")


@web.middleware
async def require_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    if for_api(request) or _open(request):
        return await handler(request)
    refusal = token_refusal(session_token(request.cookies.get(SESSION_COOKIE)), context_of(request).token())
    if refusal is not None:
        if refusal is Refusal.WRONG:  # a stale or forged cookie is a refused token; no cookie is a first visit
            metrics.ADMIN_UNAUTHORIZED.labels(reason=refusal).inc()
        back = request.path_qs if request.method in SAFE_METHODS else None
        return web.Response(status=303, headers={"Location": login_location(back)})
    return await handler(request)


@web.middleware
async def refuse_cross_site(request: web.Request, handler: Handler) -> web.StreamResponse:
    if for_api(request) or request.method in SAFE_METHODS:
        return await handler(request)
    if not same_origin(request.headers.get("Origin"), request.host):
        log.warning("admin console: a request from another origin refused",
                    extra={"endpoint": endpoint(request), "method": request.method})
        return error_page(request, 403, CROSS_SITE)
    given = (await request.post()).get(CSRF_FIELD)  # aiohttp keeps the form: the handler reads it again
    text = given if isinstance(given, str) else None
    if request.path in OPEN_PATHS:
        accepted = login_csrf_matches(text, request.cookies.get(LOGIN_CSRF_COOKIE))
    else:
        accepted = csrf_matches(text, context_of(request).token())
    if not accepted:
        log.warning("admin console: a form without its security token refused",
                    extra={"endpoint": endpoint(request), "method": request.method})
        return error_page(request, 403, CROSS_SITE)
    return await handler(request)


#: In the order aiohttp runs them, after the API's (control.admin.middleware.MIDDLEWARES).
MIDDLEWARES = (console_answers, require_session, refuse_cross_site)
