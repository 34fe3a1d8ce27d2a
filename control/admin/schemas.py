"""The JSON Schemas of the admin API's bodies and answers (the OpenAPI document's `components.schemas`).

Each mirrors the code that writes or reads it: the index's documents (control.admin.index), `hookpipe status
--json` (control.status, control.inquiry, control.replicas), `hookpipe dlq` (control.dlq), `hookpipe replay`
(control.replay) and `hookpipe routes test` (control.commands.routes). Objects list every key they hold, all
required (a value the code may not know is null), and no other.
"""

from __future__ import annotations

from typing import Any

from control.replay import DRY_RUN_LISTED

Schema = dict[str, Any]

#: An event's statuses; a delivery's are the last four.
EVENT_STATUSES = ("received", "unrouted", "pending", "delivered", "failing", "dead")
DELIVERY_STATUSES = ("pending", "delivered", "failing", "dead")

#: The router's decisions (hookpipe.delivery_log.Decision).
DECISIONS = ("routed", "unmatched", "dead")

#: A breaker's states, as deliverers report them (control.inquiry.BREAKER_STATES).
BREAKER_STATES = ("closed", "open", "half_open")

#: The rows of the status document's queue table (control.status.WatchedQueue.role).
QUEUE_ROLES = ("router", "router_dead", "unrouted", "deliver", "dead", "retry")

STRING: Schema = {"type": "string"}
TIME: Schema = {"type": "string", "format": "date-time", "description": "UTC, ISO 8601 with milliseconds"}
COUNT: Schema = {"type": "integer", "minimum": 0}
MS: Schema = {"type": "integer", "description": "UTC milliseconds"}
BOOLEAN: Schema = {"type": "boolean"}
NUMBER: Schema = {"type": "number"}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], *, optional: tuple[str, ...] = ()) -> Schema:
    """An object of exactly these keys, each required unless `optional`."""
    return {"type": "object", "additionalProperties": False, "properties": properties,
            "required": [key for key in properties if key not in optional]}


def nullable(schema: Schema) -> Schema:
    """`schema` or null: a plain type gains "null" among its types, anything else (a $ref, an object) is one of
    two."""
    if isinstance(schema.get("type"), str) and schema["type"] != "object" and not {"enum", "const"} & set(schema):
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def mapping(values: Schema) -> Schema:
    """An object of any keys, each holding `values`."""
    return {"type": "object", "additionalProperties": values}


def enum(values: tuple[str, ...]) -> Schema:
    return {"type": "string", "enum": list(values)}


def nullable_enum(values: tuple[str, ...]) -> Schema:
    return {"enum": [*values, None]}


EVENTS: dict[str, Schema] = {
    "EventPage": obj({"items": array(ref("EventSummary")), "next_cursor": nullable(STRING)}),
    "EventSummary": obj({
        "id": STRING, "source": STRING, "type": nullable(STRING), "received_at": TIME,
        "status": enum(EVENT_STATUSES), "replay": BOOLEAN,
        "destinations": array(obj({"name": STRING, "status": enum(DELIVERY_STATUSES), "attempts": COUNT})),
    }),
    "Event": obj({
        "id": STRING, "source": nullable(STRING), "type": nullable(STRING), "received_at": nullable(TIME),
        "content_type": nullable(STRING), "size": nullable(COUNT), "headers": nullable(mapping(STRING)),
        "status": enum(EVENT_STATUSES), "replay": BOOLEAN, "archived": BOOLEAN,
        "routing": nullable(ref("Routing")), "deliveries": array(ref("Delivery")),
        "body": nullable(ref("ArchivedBody")),
    }, optional=("body",)),
    "Routing": obj({"decision": enum(DECISIONS), "routes": array(STRING), "destinations": array(STRING),
                    "reason": nullable(STRING), "at": TIME}),
    "Delivery": obj({"destination": STRING, "status": enum(DELIVERY_STATUSES), "attempts": array(ref("Attempt")),
                     "dead": nullable(obj({"reason": STRING, "at": TIME, "attempts": COUNT}))}),
    "Attempt": obj({
        "attempt": COUNT, "at": TIME, "duration_ms": COUNT, "delivered": BOOLEAN, "reason": STRING,
        "status": nullable({"type": "integer"}), "error": nullable(STRING), "response": nullable(STRING),
        "replay": BOOLEAN, "resend": BOOLEAN,
    }),
    "ArchivedBody": {"description": "The body as archived, at most 64 KiB of it: as text when it is UTF-8, else "
                                    "base64.", "oneOf": [obj({"text": STRING, "truncated": BOOLEAN}),
                                                         obj({"base64": STRING, "truncated": BOOLEAN})]},
    "ResendRequest": obj({"destination": STRING}),
    "Resent": obj({"event_id": STRING, "destination": STRING, "resend": {"const": True}}),
}

LAST_ERROR = nullable(obj({"reason": STRING, "status": nullable({"type": "integer"}), "error": nullable(STRING),
                           "at": MS, "event_id": nullable(STRING)}))

REPLICA_STATE = obj({
    "breaker": nullable_enum(BREAKER_STATES), "consecutive_failures": nullable(COUNT), "paused": nullable(BOOLEAN),
    "consuming": nullable(BOOLEAN), "lease": nullable(BOOLEAN), "in_flight": nullable(COUNT),
    "last_error": LAST_ERROR, "dead_lettered": nullable(mapping(COUNT)),
})

#: A destination's state merged from every replica (control.replicas.merge), as the status document has it.
MERGED_STATE: dict[str, Schema] = {
    "delivered_by": array(STRING), "breaker": nullable_enum(BREAKER_STATES),
    "consecutive_failures": nullable(COUNT), "paused": nullable(BOOLEAN), "consuming": nullable(BOOLEAN),
    "in_flight": nullable(COUNT), "last_error": LAST_ERROR, "replicas": mapping(ref("ReplicaState")),
}

DESTINATIONS: dict[str, Schema] = {
    "ReplicaState": REPLICA_STATE,
    "DestinationList": obj({"items": array(ref("Destination"))}),
    "Destination": obj({
        "name": STRING, "host": STRING, "ordering": enum(("unordered", "fifo")),
        "rate_limit": nullable({"type": "number", "description": "deliveries per second"}),
        "concurrency": COUNT, "paused_in_config": BOOLEAN, "pause_flag": nullable(BOOLEAN),
        **MERGED_STATE,
        "messages": nullable(COUNT), "consumers": nullable(COUNT), "dead_letters": nullable(COUNT),
    }),
    "NoOptions": obj({}),
    "PauseResult": obj({"destination": STRING, "paused": BOOLEAN, "deliverers_heard": BOOLEAN,
                        "paused_in_config": BOOLEAN}),
}


def scan_result(verb: str) -> Schema:
    report = obj({"destination": STRING, "queue": STRING, "exists": BOOLEAN, "depth": COUNT, "scanned": COUNT,
                  verb: COUNT, "kept": COUNT, "failed": nullable(STRING)})
    return obj({"reports": array(report), "complete": BOOLEAN})


DEAD_LETTERS: dict[str, Schema] = {
    "DeadLetters": obj({
        "queues": array(obj({"destination": STRING, "queue": STRING, "exists": BOOLEAN, "depth": COUNT,
                             "read": COUNT, "reasons": mapping(COUNT), "complete": BOOLEAN})),
        "matched": COUNT, "letters": array(ref("DeadLetter")),
    }),
    "DeadLetter": obj({
        "id": STRING, "destination": STRING, "reason": STRING, "attempts": nullable({"type": "integer"}),
        "status": nullable({"type": "integer"}), "error": STRING, "dead_at": nullable(MS),
        "age_s": nullable(NUMBER), "received_at": nullable(MS), "source": nullable(STRING), "type": nullable(STRING),
    }),
    "DeadLetterReplayRequest": obj({
        "destination": {"type": ["string", "null"], "description": "a destination, or router (default: all)"},
        "reason": nullable(STRING), "id": nullable(STRING),
        "rate": {"type": ["string", "null"], "description": "most replays per second: 20/s"},
    }, optional=("destination", "reason", "id", "rate")),
    "DeadLetterPurgeRequest": obj({"destination": STRING, "reason": nullable(STRING), "id": nullable(STRING),
                                   "confirm": {"const": True}}, optional=("reason", "id")),
    "DeadLetterReplayResult": scan_result("replayed"),
    "DeadLetterPurgeResult": scan_result("purged"),
}

OPERATIONS: dict[str, Schema] = {
    "ReplayRequest": obj({
        "since": {"type": "string", "description": "RFC 3339 (2026-11-27T08:00:00Z) or a duration back (2h)"},
        "until": {"type": ["string", "null"], "description": "default: now"},
        "source": nullable(STRING), "type": nullable(STRING), "id": nullable(STRING),
        "route": {"type": ["string", "null"], "description": "evaluate only this route (not with destination)"},
        "destination": {"type": ["string", "null"], "description": "keep only deliveries to it (not with route)"},
        "dry_run": BOOLEAN,
        "list": {"type": "integer", "minimum": 0, "maximum": 1000, "default": DRY_RUN_LISTED},
        "rate": {"type": ["string", "null"], "description": "most events published per second: 50/s"},
    }, optional=("until", "source", "type", "id", "route", "destination", "dry_run", "list", "rate")),
    "ReplaySummary": obj({
        "dry_run": BOOLEAN, "since": TIME, "until": TIME, "read": COUNT, "matched": COUNT, "published": COUNT,
        "skipped": COUNT, "failed": COUNT, "last_published_at": nullable(TIME),
        "listed": array(obj({"id": STRING, "source": STRING, "type": nullable(STRING), "received_at": TIME,
                             "destinations": array(STRING)})),
    }),
    "MatchDocument": obj({
        "id": {"type": "string", "minLength": 1}, "source": {"type": "string", "minLength": 1},
        "type": nullable(STRING), "headers": mapping(STRING), "body": {"description": "the payload, any JSON"},
        "verified": BOOLEAN,
    }, optional=("type", "headers", "verified")),
    "RouteTest": obj({
        "id": STRING, "source": STRING, "type": nullable(STRING), "routes": array(STRING),
        "deliveries": array(obj({"destination": STRING, "route": STRING, "content_type": nullable(STRING),
                                 "payload": {"description": "the payload it would get: JSON, or text"}})),
        "dead_letter": nullable(obj({"reason": STRING, "error": STRING})),
    }),
    "Health": obj({"status": {"const": "ok"}}),
}


def _status_service() -> Schema:
    return obj({"ops": STRING, "reachable": BOOLEAN, "ready": nullable(BOOLEAN), "problems": array(STRING),
                "rate": STRING, "per_s": nullable(NUMBER)})


STATUS: dict[str, Schema] = {
    "Status": obj({
        "prefix": STRING, "at": MS,
        "broker": obj({"url": STRING, "reachable": BOOLEAN, "error": nullable(STRING)}),
        "interval_s": nullable(NUMBER),
        "services": obj({service: _status_service() for service in ("ingest", "router", "deliverer")}),
        "deliverers": obj({"asked": STRING, "replicas": array(STRING), "running": nullable(COUNT),
                           "all_answered": BOOLEAN, "deadline_s": NUMBER}),
        "queues": array(obj({"name": STRING, "role": enum(QUEUE_ROLES), "destination": nullable(STRING),
                             "exists": BOOLEAN, "messages": nullable(COUNT), "consumers": nullable(COUNT),
                             "change_per_s": nullable(NUMBER)})),
        "destinations": mapping(obj({
            "messages": nullable(COUNT), "consumers": nullable(COUNT), "dead_letters": nullable(COUNT),
            **MERGED_STATE, "delivered_per_s": nullable(NUMBER), "failed_per_s": nullable(NUMBER),
        })),
    }),
}

#: Every schema the document's components hold (the error bodies are added by control.admin.openapi).
COMPONENTS: dict[str, Schema] = {**EVENTS, **DESTINATIONS, **DEAD_LETTERS, **OPERATIONS, **STATUS}
