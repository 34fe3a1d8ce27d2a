"""How ingest says no: a JSON `{"error": reason}`, a counter and a log line for every refusal.

That includes the requests that never reach ingest's handler, which aiohttp would otherwise answer itself in
plain text, uncounted: HTTP it cannot parse (a bad request line, broken chunked framing, a header line past
8 KiB), paths no route matches, and `Expect` values other than `100-continue`.
"""

from __future__ import annotations

import logging

from aiohttp import HttpVersion11, web
from aiohttp.typedefs import Handler

from hookpipe.outcomes import IngestRejection
from hookpipe.runtime import metrics
from ingest.verify import Rejected

log = logging.getLogger("ingest")

#: Label used for requests to a source that is not configured, so the label set stays bounded.
UNKNOWN_SOURCE_LABEL = "_unknown"

#: Characters of aiohttp's description of an unparsable request kept in the log line (it quotes the bytes).
MAX_DETAIL = 200


def refuse(request: web.BaseRequest, label: str, rejection: Rejected, *, detail: str | None = None) -> web.Response:
    """The answer to a refused request, counted and logged (503s, which come in floods, are counted only)."""
    metrics.INGEST_REJECTIONS.labels(source=label, reason=rejection.reason).inc()
    metrics.INGEST_REQUESTS.labels(source=label, status=str(rejection.status)).inc()
    if rejection.status != 503:
        extra = {"source": label, "reason": rejection.reason, "status": rejection.status, "remote": request.remote}
        if detail:
            extra["detail"] = detail[:MAX_DETAIL]
        log.info("request refused", extra=extra)
    headers = {"Retry-After": str(rejection.retry_after)} if rejection.retry_after is not None else {}
    if rejection.status in (408, 413) or rejection.reason == IngestRejection.SLOW_BODIES:
        # The rest of the body is never read: close rather than drain it.
        headers["Connection"] = "close"
    return web.json_response({"error": rejection.reason}, status=rejection.status, headers=headers or None)


@web.middleware
async def json_route_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own refusals on the routing path (a path no route matches: 404 `not_found`) as JSON."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        if error.status == 404:
            return refuse(request, UNKNOWN_SOURCE_LABEL, Rejected(IngestRejection.NOT_FOUND, status=404))
        return refuse(request, UNKNOWN_SOURCE_LABEL, Rejected(IngestRejection.BAD_REQUEST, status=error.status))


async def expect_continue(request: web.Request, label: str) -> web.StreamResponse | None:
    """Answer `Expect: 100-continue` as aiohttp does; refuse any other expectation (417) as JSON."""
    if request.version != HttpVersion11:
        return None  # HTTP/1.0 has no expectations (RFC 9110 §10.1.1)
    if request.headers.get("Expect", "").lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the interim answer is not the response: errors may still be sent
        return None
    return refuse(request, label, Rejected(IngestRejection.UNSUPPORTED_EXPECTATION, status=417))


class JsonErrorHandler(web.RequestHandler):
    """aiohttp's connection handler, answering what its HTTP parser refuses in ingest's voice."""

    def handle_error(
        self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp: an answer is under way, only closing is left
            raise ConnectionError("a response was started; no error answer can follow")
        if status >= 500:
            log.error("unexpected error handling a request", exc_info=exc)
        if status >= 500:
            rejection = Rejected(IngestRejection.INTERNAL_ERROR, status=status)
        else:  # the parser's refusals: bad request line, broken framing, a line too long...
            rejection = Rejected(IngestRejection.BAD_REQUEST, status=status)
        # Only the kind of error: aiohttp's messages quote the offending bytes (a header line with a credential).
        detail = type(exc).__name__ if exc is not None else None
        response = refuse(request, UNKNOWN_SOURCE_LABEL, rejection, detail=detail)
        response.force_close()  # the connection's framing is lost
        return response


class JsonErrorServer(web.Server):
    """web.Server whose connections are JsonErrorHandlers."""

    def __call__(self) -> web.RequestHandler:
        return JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class IngestRunner(web.AppRunner):
    """web.AppRunner serving its application through a JsonErrorServer."""

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()
        return JsonErrorServer(
            plain.request_handler, request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation, loop=plain._loop, **plain._kwargs,
        )
