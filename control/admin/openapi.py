"""The OpenAPI 3.1 document of the admin API, built here and kept beside it as control/admin/openapi.json.

`python -m control.admin.openapi` writes the file; tests/unit/test_admin_openapi.py checks that the file is what
this module builds, that it is valid OpenAPI 3.1, and that it lists exactly the app's endpoints. The API serves
the same document at /api/v1/openapi.json. Every request body forbids unknown keys, and every answer, errors
included, has its exact schema.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from control.admin import schemas
from control.admin.errors import MAX_BODY_BYTES, STATUS, ErrorReason
from hookpipe import __version__

#: Where the document is kept in the repository.
DOCUMENT = Path(__file__).with_name("openapi.json")

Schema = dict[str, Any]

#: The reasons each error status answers with, in the document's components (`Error400`, ...).
ERROR_STATUSES = sorted(set(STATUS.values()))

#: What each error status means, for its response's description.
ERROR_DESCRIPTIONS = {
    400: "A parameter or body that cannot be used: `detail` names it.",
    401: "No bearer token, or a wrong one.",
    404: "No such event, destination or endpoint.",
    405: "The path takes another method (see `Allow`).",
    409: "The action cannot apply now.",
    410: "The archive no longer holds the event's body.",
    413: f"The request body is over {MAX_BODY_BYTES} bytes.",
    500: "A bug in hookpipe admin (logged); never expected.",
    503: "The broker or the index cannot be reached now; retry later.",
}


def error_schema(status: int) -> Schema:
    reasons = [reason.value for reason in ErrorReason if STATUS[reason] == status]
    return schemas.obj({"error": {"type": "string", "enum": reasons}, "detail": {"type": "string"}})


def error_response(status: int) -> Schema:
    response: Schema = {"description": ERROR_DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": schemas.ref(f"Error{status}")}}}
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {"description": "The scheme to use: Bearer.",
                                                    "schema": {"type": "string"}}}
    return response


def ok(description: str, schema: Schema, status: int = 200) -> dict[str, Schema]:
    return {str(status): {"description": description, "content": {"application/json": {"schema": schema}}}}


#: Text a query or path parameter may hold: no control character (control.admin.inputs refuses them with 400).
TEXT: Schema = {"type": "string", "pattern": r"^[^\u0000-\u001f\u007f]*$"}


def query(name: str, description: str, schema: Schema | None = None, *, example: object = None) -> Schema:
    parameter = {"name": name, "in": "query", "required": False, "description": description,
                 "schema": schema or TEXT}
    return parameter if example is None else {**parameter, "example": example}


def path(name: str, description: str, example: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "description": description, "example": example,
            "schema": {"type": "string", "pattern": r"^[^\u0000-\u001f\u007f]+$"}}


def json_body(schema_name: str, *, required: bool, example: Schema | None = None) -> Schema:
    media: Schema = {"schema": schemas.ref(schema_name)}
    if example is not None:
        media["example"] = example
    return {"required": required, "content": {"application/json": media}}


def operation(summary: str, responses: dict[str, Schema], errors: tuple[int, ...], *,
              parameters: list[Schema] | None = None, body: Schema | None = None, open_: bool = False) -> Schema:
    """One operation; every authenticated one may also answer 400 (an unknown query parameter), 401 and 500."""
    statuses = set(errors) if open_ else {*errors, 400, 401, 500}
    if body is not None:
        statuses |= {400, 413}
    described: Schema = {"summary": summary, "parameters": parameters or [],
                         "responses": {**responses, **{str(status): {"$ref": f"#/components/responses/Error{status}"}
                                                       for status in sorted(statuses)}}}
    if body is not None:
        described["requestBody"] = body
    if open_:
        described["security"] = []
    return described


EVENT_ID = path("id", "The event id: the provider's delivery id, or hookpipe's UUIDv7.", "evt_123")
DESTINATION = path("name", "A destination of the config.", "billing")
LIMIT = {"type": "integer", "minimum": 1, "maximum": 500}


def paths() -> Schema:
    return {
        "/healthz": {"get": operation("The process answers (no token needed).", ok("Alive.", schemas.ref("Health")),
                                      (), open_=True)},
        "/api/v1/openapi.json": {"get": operation(
            "This document.", ok("The OpenAPI 3.1 document.", {"type": "object"}), ())},
        "/api/v1/events": {"get": operation(
            "Search the delivery-log index, newest first, one page at a time.",
            ok("One page; `next_cursor` continues it (null on the last page).", schemas.ref("EventPage")),
            (503,), parameters=event_filters())},
        "/api/v1/events/{id}": {"get": operation(
            "One event: its metadata, routing decision and every delivery attempt.",
            ok("The event.", schemas.ref("Event")), (404, 503), parameters=[EVENT_ID, query(
                "body", "true: add `body`, read back from the archive (null when no longer kept).",
                {"type": "boolean", "default": False})])},
        "/api/v1/events/{id}/resend": {"post": operation(
            "Send the archived event again to one destination, through its queue and retries, same webhook-id.",
            ok("Published to the router's queue.", schemas.ref("Resent"), 202), (404, 409, 410, 503),
            parameters=[EVENT_ID], body=json_body("ResendRequest", required=True, example={"destination": "billing"}))},
        "/api/v1/destinations": {"get": operation(
            "Every destination: settings, breaker per replica, queue depth, dead letters, pause.",
            ok("The destinations, in config order.", schemas.ref("DestinationList")), (503,))},
        "/api/v1/destinations/{name}/pause": {"post": pause_operation("Stop delivering; events wait in the queue.")},
        "/api/v1/destinations/{name}/resume": {"post": pause_operation("Deliver again.")},
        "/api/v1/dead-letters": {"get": operation(
            "Dead letters read in place (nothing is removed): each queue's depth and reasons, then the first "
            "matching ones.", ok("Dead letters.", schemas.ref("DeadLetters")), (404, 503), parameters=[
                query("destination", "A destination, or `router` for the router's dead letters (default: all)."),
                query("reason", "Only dead letters of this reason (exhausted, expired, dead_letter_on, ...)."),
                query("limit", "Most dead letters listed (default 50); the counts cover every one read.", LIMIT)])},
        "/api/v1/dead-letters/replay": {"post": operation(
            "Send dead letters back to their destination's queue, attempts reset; each removed once its replay "
            "is confirmed.", ok("What was done to each queue.", schemas.ref("DeadLetterReplayResult")),
            (404, 409, 503), body=json_body("DeadLetterReplayRequest", required=False,
                                       example={"destination": "billing", "reason": "exhausted", "rate": "20/s"}))},
        "/api/v1/dead-letters/purge": {"post": operation(
            "Delete dead letters of one destination (those a filter does not select are kept).",
            ok("What was done to the queue.", schemas.ref("DeadLetterPurgeResult")), (404, 409, 503),
            body=json_body("DeadLetterPurgeRequest", required=True,
                           example={"destination": "billing", "reason": "expired", "confirm": True}))},
        "/api/v1/replay": {"post": operation(
            "Send the archived events of a time window through the current rules again; answers once done.",
            ok("The replay's summary.", schemas.ref("ReplaySummary")), (409, 503),
            body=json_body("ReplayRequest", required=True,
                           example={"since": "2h", "route": "paid-invoices", "dry_run": True}))},
        "/api/v1/routes/test": {"post": operation(
            "Which current routes match an event, and what each destination would receive.",
            ok("The routing.", schemas.ref("RouteTest")), (), body=json_body("MatchDocument", required=True, example={
                "id": "evt_1", "source": "stripe", "type": "invoice.paid", "headers": {},
                "body": {"data": {"object": {"amount_paid": 900}}}}))},
        "/api/v1/status": {"get": operation(
            "What `hookpipe status --json` shows: queues, rates, replicas and every destination's state.",
            ok("The status (with the broker away, what the services say).", schemas.ref("Status")), (503,),
            parameters=[query("interval", "Time between the two samples rates come from (default 1s, at most "
                                          "10s; 0: no rates).", {"type": "string"}, example="0s")])},
    }


def event_filters() -> list[Schema]:
    statuses = {"type": "string", "enum": list(schemas.EVENT_STATUSES)}
    return [
        query("source", "Only events from this source."),
        query("type", "Only events of this type."),
        query("destination", "Only events routed to this destination (status is then its delivery's)."),
        query("status", "The event's status; with destination, that delivery's (pending, delivered, failing, "
                        "dead).", statuses),
        query("since", "Received at or after: RFC 3339 (2026-11-27T08:00:00Z) or a duration back from now (2h).",
              {"type": "string"}, example="2h"),
        query("until", "Received before: RFC 3339 or a duration back from now.", {"type": "string"},
              example="2026-11-27T08:00:00Z"),
        query("cursor", "The previous page's next_cursor."),
        query("limit", "Events per page (default 50).", LIMIT, example=50),
    ]


def pause_operation(summary: str) -> Schema:
    return operation(summary + " Recorded for deliverers that start later too.",
                     ok("Done.", schemas.ref("PauseResult")), (404, 503), parameters=[DESTINATION],
                     body=json_body("NoOptions", required=False))


def build_document() -> Schema:
    """The whole OpenAPI 3.1 document."""
    components = dict(schemas.COMPONENTS)
    components.update({f"Error{status}": error_schema(status) for status in ERROR_STATUSES})
    return {
        "openapi": "3.1.0",
        "info": {"title": "hookpipe admin API", "version": __version__,
                 "description": "Operate a hookpipe pipeline: look events up in the delivery log, resend them, "
                                "replay the archive, pause destinations, handle dead letters. Every endpoint but "
                                "/healthz needs `Authorization: Bearer <admin.token>`. Errors are "
                                "`{\"error\": reason, \"detail\": text}`."},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths(),
        "components": {"schemas": dict(sorted(components.items())),
                       "responses": {f"Error{status}": error_response(status) for status in ERROR_STATUSES},
                       "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "admin.token from the config."}}},
    }


def render() -> bytes:
    """The document as kept in the repository: indented, keys in a stable order, a final newline."""
    return orjson.dumps(build_document(), option=orjson.OPT_INDENT_2) + b"\n"


def main() -> int:
    DOCUMENT.write_bytes(render())
    print(f"wrote {DOCUMENT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
