"""Signing in and out: GET and POST /login, POST /logout, and `/`, which opens the events.

The login form posts the admin token; the right one is kept in the `hookpipe_session` cookie, a wrong one
answers the form again with 401, counted in hookpipe_admin_unauthorized_total. The token is never logged, and
never written into a page.
"""

from __future__ import annotations

import logging

from aiohttp import web

from control.admin.console.forms import form_fields, query_fields
from control.admin.console.pages import forget_cookie, redirect, render, set_cookie
from control.admin.console.session import (
    HOME,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    login_csrf_usable,
    login_csrf_value,
    safe_next,
    session_value,
    token_refusal,
)
from control.admin.context import context_of
from hookpipe.runtime import metrics

log = logging.getLogger("control.admin")

#: What the login's alert says, by refusal.
REFUSED = {
    "missing": "Enter the admin token: the field is empty.",
    "wrong": "That token is wrong: it is not the admin token this hookpipe admin was started with.",
}


async def home(_: web.Request) -> web.Response:
    """GET /: the events."""
    return redirect(HOME)


async def login_page(request: web.Request) -> web.Response:
    """GET /login: the form, and the `hookpipe_csrf` cookie its csrf field must match (kept when it has one)."""
    page = query_fields(request, ("next",)).get("next")
    return _form(request, page)


def _form(request: web.Request, page: str | None, *, status: int = 200, error: str | None = None) -> web.Response:
    csrf = request.cookies.get(LOGIN_CSRF_COOKIE)
    if csrf is None or not login_csrf_usable(csrf):
        csrf = login_csrf_value()
    response = render(request, "login.html", status=status, error=error, login_csrf=csrf,
                      next=safe_next(page), section="login")
    set_cookie(response, LOGIN_CSRF_COOKIE, csrf)
    return response


async def login(request: web.Request) -> web.Response:
    """POST /login: the right token signs the browser in (303 to `next`); a wrong or empty one is 401."""
    values = await form_fields(request, ("token", "next"))
    page = values.get("next")
    refusal = token_refusal(values.get("token"), context_of(request).token())
    if refusal is not None:
        metrics.ADMIN_UNAUTHORIZED.labels(reason=refusal).inc()
        log.warning("admin console: sign-in refused", extra={"reason": refusal.value})
        return _form(request, page, status=401, error=REFUSED[refusal.value])
    response = redirect(safe_next(page))
    set_cookie(response, SESSION_COOKIE, session_value(context_of(request).token()))
    log.info("admin console: signed in")
    return response


async def logout(_: web.Request) -> web.Response:
    """POST /logout: the session cookie deleted; the login page."""
    response = redirect("/login")
    forget_cookie(response, SESSION_COOKIE)
    return response
