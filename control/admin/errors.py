"""The admin API's errors: a closed set of reasons, each with its HTTP status, and the one JSON shape every error
answer has, `{"error": reason, "detail": "what was wrong"}`.

A handler raises ApiError; the error middleware (control.admin.middleware) turns it, aiohttp's own HTTP errors
(404 for an unknown path, 405, 413) and any other exception (500 `internal_error`, logged) into that shape. The
OpenAPI document (control.admin.openapi) lists the reasons each endpoint can answer with.
"""

from __future__ import annotations

from enum import StrEnum

import orjson
from aiohttp import web


class ErrorReason(StrEnum):
    BAD_REQUEST = "bad_request"  # a query parameter, a path parameter or a body field that cannot be used
    BAD_JSON = "bad_json"  # a body that is not one JSON object
    BAD_CURSOR = "bad_cursor"  # a page cursor the index did not hand out
    UNAUTHORIZED = "unauthorized"  # no bearer token, or a wrong one
    NOT_FOUND = "not_found"  # no such endpoint
    UNKNOWN_EVENT = "unknown_event"  # the index knows no event of that id
    UNKNOWN_DESTINATION = "unknown_destination"  # the config names no such destination
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ROUTED = "not_routed"  # a resend to a destination no current route sends the event to
    ARCHIVE_OFF = "archive_off"  # a replay with `archive: off`: nothing is kept to replay
    ACTION_RUNNING = "action_running"  # a replay, dead-letter replay or purge is running: one at a time
    NO_ARCHIVE = "no_archive"  # the archive stream does not exist on the broker (yet)
    BODY_NOT_KEPT = "body_not_kept"  # the archive no longer holds the event (retention) or never did
    BODY_TOO_LARGE = "body_too_large"  # a request body over MAX_BODY_BYTES
    BROKER_UNAVAILABLE = "broker_unavailable"  # the broker cannot be reached, or did not confirm a publish
    INDEX_UNAVAILABLE = "index_unavailable"  # the index (its database) failed to answer
    INTERNAL_ERROR = "internal_error"  # a bug: logged with its traceback, never shown


#: The HTTP status each reason answers with.
STATUS: dict[ErrorReason, int] = {
    ErrorReason.BAD_REQUEST: 400,
    ErrorReason.BAD_JSON: 400,
    ErrorReason.BAD_CURSOR: 400,
    ErrorReason.UNAUTHORIZED: 401,
    ErrorReason.NOT_FOUND: 404,
    ErrorReason.UNKNOWN_EVENT: 404,
    ErrorReason.UNKNOWN_DESTINATION: 404,
    ErrorReason.METHOD_NOT_ALLOWED: 405,
    ErrorReason.NOT_ROUTED: 409,
    ErrorReason.ARCHIVE_OFF: 409,
    ErrorReason.ACTION_RUNNING: 409,
    ErrorReason.NO_ARCHIVE: 409,
    ErrorReason.BODY_NOT_KEPT: 410,
    ErrorReason.BODY_TOO_LARGE: 413,
    ErrorReason.BROKER_UNAVAILABLE: 503,
    ErrorReason.INDEX_UNAVAILABLE: 503,
    ErrorReason.INTERNAL_ERROR: 500,
}

#: Largest request body read (bytes): every body the API takes is a small JSON object.
MAX_BODY_BYTES = 64 * 1024


class ApiError(Exception):
    """An answer other than success: `reason` fixes the status, `detail` tells the caller what to change. A
    detail never holds a secret (a token, a URL's credentials) nor an event's body."""

    def __init__(self, reason: ErrorReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail

    @property
    def status(self) -> int:
        return STATUS[self.reason]


def error_response(reason: ErrorReason, detail: str, *, headers: dict[str, str] | None = None) -> web.Response:
    """The JSON answer for `reason`."""
    return web.Response(status=STATUS[reason], body=orjson.dumps({"error": reason.value, "detail": detail}),
                        content_type="application/json", headers=headers)


def bad_request(detail: str) -> ApiError:
    return ApiError(ErrorReason.BAD_REQUEST, detail)
