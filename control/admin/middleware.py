"""The pieces around every admin API handler, outermost first: metrics (count and time each answer), errors (every
failure becomes `{"error", "detail"}` JSON, never a traceback), auth (the bearer token; only /healthz goes
without).

The web console (control.admin.console) shares the listener: metrics count its requests too, by route template;
errors and auth here handle only the API's requests (for_api), and the console's own guards the rest.

Logs name the method and the route template, never the raw path's values, a header or a body: the token and the
Authorization header can appear nowhere.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import aiormq
from aiohttp import web

from control.admin.auth import CHALLENGE, DETAILS, check_bearer
from control.admin.context import context_of
from control.admin.errors import MAX_BODY_BYTES, ApiError, ErrorReason, error_response
from hookpipe.amqp.broker import PublishFailed, describe
from hookpipe.runtime import metrics

log = logging.getLogger("control.admin")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The endpoints anyone may call: liveness probes carry no token.
OPEN_ENDPOINTS = frozenset({"/healthz"})

#: Where every API path starts; besides these and OPEN_ENDPOINTS, every path is the web console's.
API_PREFIX = "/api/"

#: The endpoint label of a request that matched no route (an unknown path, or a known one's wrong method).
UNMATCHED = "unmatched"

#: Failures of the broker (aio-pika's errors are aiormq's), or a time-out waiting on it, while an action runs:
#: 503, the caller may retry.
BROKER_FAILURES: tuple[type[BaseException], ...] = (
    PublishFailed, aiormq.exceptions.AMQPError, ConnectionError, TimeoutError,
)

#: aiohttp's HTTP errors as our reasons (a status not listed is answered as the closest one here).
HTTP_REASONS = {
    404: ErrorReason.NOT_FOUND,
    405: ErrorReason.METHOD_NOT_ALLOWED,
    413: ErrorReason.BODY_TOO_LARGE,
}


def endpoint(request: web.Request) -> str:
    """The route template the request matched (`/api/v1/events/{id}`), or UNMATCHED: a label with few values."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def for_api(request: web.Request) -> bool:
    """Whether the request is the API's (under API_PREFIX, or an OPEN_ENDPOINT), not the web console's."""
    return request.path.startswith(API_PREFIX) or request.path in OPEN_ENDPOINTS


@web.middleware
async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        name = endpoint(request)
        metrics.ADMIN_REQUESTS.labels(endpoint=name, method=request.method, status=str(status)).inc()
        metrics.ADMIN_REQUEST_SECONDS.labels(endpoint=name, method=request.method).observe(
            time.perf_counter() - started)


@web.middleware
async def answer_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not for_api(request):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as error:
        headers = {"WWW-Authenticate": CHALLENGE} if error.reason is ErrorReason.UNAUTHORIZED else None
        return error_response(error.reason, error.detail, headers=headers)
    except web.HTTPException as error:
        return _http_error(error)
    except BROKER_FAILURES as error:
        log.warning("admin API: the broker failed an action",
                    extra={"endpoint": endpoint(request), "method": request.method, "error": describe(error)})
        return error_response(ErrorReason.BROKER_UNAVAILABLE, f"the broker failed: {describe(error)}")
    except asyncio.CancelledError:
        raise  # the client went away, or the service is stopping
    except Exception:
        log.exception("admin API: internal error", extra={"endpoint": endpoint(request), "method": request.method})
        return error_response(ErrorReason.INTERNAL_ERROR, "the request failed inside hookpipe admin; see its log")


def _http_error(error: web.HTTPException) -> web.Response:
    """aiohttp's own answer (unknown path, wrong method, body too large) in our shape, its Allow header kept."""
    reason = HTTP_REASONS.get(error.status)
    if reason is None:  # aiohttp raises 400 for a request it cannot read; nothing else reaches here
        reason = ErrorReason.BAD_REQUEST if error.status < 500 else ErrorReason.INTERNAL_ERROR
    detail = {
        ErrorReason.NOT_FOUND: "no such endpoint; GET /api/v1/openapi.json lists them",
        ErrorReason.METHOD_NOT_ALLOWED: f"{error.headers.get('Allow', 'another method')} only",
        ErrorReason.BODY_TOO_LARGE: f"a request body may hold at most {MAX_BODY_BYTES} bytes",
    }.get(reason, error.reason)
    headers = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
    return error_response(reason, detail, headers=headers)


@web.middleware
async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not for_api(request) or endpoint(request) in OPEN_ENDPOINTS:
        return await handler(request)
    refusal = check_bearer(request.headers.get("Authorization"), context_of(request).token())
    if refusal is not None:
        metrics.ADMIN_UNAUTHORIZED.labels(reason=refusal).inc()
        raise ApiError(ErrorReason.UNAUTHORIZED, DETAILS[refusal])
    return await handler(request)


#: In the order aiohttp runs them, outermost first.
MIDDLEWARES = (count_requests, answer_errors, require_token)
