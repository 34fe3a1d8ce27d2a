"""The routes page: a match document in, which current routes match it and what each destination would get
(as POST /api/v1/routes/test and `hookpipe routes test`); every route of the config listed, matched or not."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from control.admin.console.forms import form_fields
from control.admin.console.pages import render
from control.admin.context import context_of
from control.admin.errors import ApiError, bad_request
from control.admin.operations import route_report
from control.match_documents import MATCH_DOCUMENT


def example(request: web.Request) -> str:
    """The document the form starts with: one of the config's sources, an empty body."""
    sources = list(context_of(request).config.sources)
    document: dict[str, Any] = {"id": "evt-test-1", "source": sources[0] if sources else "demo", "type": None,
                                "headers": {}, "body": {}}
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()


async def routes_page(request: web.Request) -> web.Response:
    """GET /routes: the form, filled with an example."""
    return _page(request, example(request))


def _page(request: web.Request, text: str, *, report: dict[str, Any] | None = None, status: int = 200,
          error: str | None = None) -> web.Response:
    routes = context_of(request).config.routes
    matched = set(report["routes"]) if report is not None else set()
    listed = [{"name": route.name, "sources": route.sources, "to": route.to, "filter": route.filter,
               "matched": route.name in matched} for route in routes]
    return render(request, "routes.html", status=status, error=error, section="routes", text=text,
                  report=report, routes=listed, match_document=MATCH_DOCUMENT)


async def try_routes(request: web.Request) -> web.Response:
    """POST /routes: the result of the document in the textarea; a document that is not one is 400."""
    text = ""
    try:
        text = (await form_fields(request, ("event",), free_text=("event",))).get("event", "")
        report = await route_report(context_of(request), parse_document(text))
    except ApiError as error:
        return _page(request, text, status=error.status, error=error.detail)
    return _page(request, text, report=report)


def parse_document(text: str) -> dict[str, Any]:
    """The textarea's JSON object; 400 naming the field `event` when it is empty, not JSON or not an object."""
    if not text.strip():
        raise bad_request(f"event: paste a match document, {MATCH_DOCUMENT}")
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise bad_request(f"event: not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise bad_request(f"event: must be a JSON object, a match document {MATCH_DOCUMENT}")
    return document
