"""The closed sets every hop reports by: why ingest refuses, what the router and the deliverer come to, and why
each dead-letters.

Their values are metric label values (hookpipe.runtime.metrics primes each series at 0 from these very sets),
JSON error bodies, log fields and the `x-hookpipe-dead-reason` header `hookpipe dlq` filters on: renaming a value
breaks dashboards, alerts, provider-facing answers and operators' commands, so a value never changes. The
tables of docs/observability.md and the dead-letter section of docs/operations.md list the same values.
"""

from __future__ import annotations

from enum import StrEnum


class IngestRejection(StrEnum):
    """Why ingest refuses a request: `Rejected.reason`, the answer's JSON body `{"error": reason}`, the `reason`
    of the `request refused` log line and of `hookpipe_ingest_rejections_total`."""

    UNKNOWN_SOURCE = "unknown_source"  # 404, only ever with source="_unknown"
    NOT_FOUND = "not_found"  # 404, a path outside /ingest/{source}: only ever with source="_unknown"
    METHOD_NOT_ALLOWED = "method_not_allowed"  # 405
    READ_TIMEOUT = "read_timeout"  # 408
    TOO_LARGE = "too_large"  # 413
    UNSUPPORTED_ENCODING = "unsupported_encoding"  # 415
    RATE_LIMITED = "rate_limited"  # 429
    HEADERS_TOO_LARGE = "headers_too_large"  # 431
    MISSING_HEADER = "missing_header"  # 401 from here to `replayed`: verification
    MALFORMED_HEADER = "malformed_header"
    BAD_SIGNATURE = "bad_signature"
    STALE_TIMESTAMP = "stale_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    REPLAYED = "replayed"
    UNKNOWN_TOPIC = "unknown_topic"  # 403: a signed message of a topic (SNS) the source does not accept
    MALFORMED_ID = "malformed_id"  # 400
    MALFORMED_TYPE = "malformed_type"  # 400
    MALFORMED_CONTENT_TYPE = "malformed_content_type"  # 400
    BAD_REQUEST = "bad_request"  # 400 (or aiohttp's own 4xx): HTTP ingest cannot parse
    UNSUPPORTED_EXPECTATION = "unsupported_expectation"  # 417
    CLIENT_CLOSED = "client_closed"  # 499: the client went away mid-body
    SCHEME_NOT_IMPLEMENTED = "scheme_not_implemented"  # 501
    INTERNAL_ERROR = "internal_error"  # 500: a bug, or aiohttp's 5xx
    OVERLOADED = "overloaded"  # 503 from here on, with Retry-After
    SLOW_BODIES = "slow_bodies"
    BROKER_UNAVAILABLE = "broker_unavailable"
    CERTIFICATE_UNAVAILABLE = "certificate_unavailable"  # SNS's signing certificate could not be fetched
    CONFIRMATION_FAILED = "confirmation_failed"  # SNS's subscription could not be confirmed


class RouterOutcome(StrEnum):
    """What became of an event at the router: the `outcome` of `hookpipe_router_events_total` (live events) and
    `hookpipe_router_replayed_events_total` (replayed ones)."""

    ROUTED = "routed"  # at least one route matched and every delivery was confirmed
    UNMATCHED = "unmatched"  # no route
    FAILED = "failed"  # dead-lettered


class RouterDeadLetterReason(StrEnum):
    """Why the router dead-letters an event: the `x-hookpipe-dead-reason` header in `{prefix}.router.dead`, the
    `reason` of the `event dead-lettered` log line and of `hookpipe_router_dead_letters_total`. That queue also
    holds `BrokerDeadLetterReason.POISON`, which the router never counts."""

    MALFORMED = "malformed"  # not an event hookpipe can read
    BAD_JSON = "bad_json"  # a rule needed JSON
    TRANSFORM_FAILED = "transform_failed"
    MATCH_BUDGET_EXCEEDED = "match_budget_exceeded"  # parsing, matching and transforming took over router.match_budget
    PUBLISH_FAILED = "publish_failed"  # its deliveries were not confirmed, retries included


class DeliveryOutcome(StrEnum):
    """What one delivery attempt came to: the `outcome` of `hookpipe_delivery_attempts_total` and
    `hookpipe_replayed_delivery_attempts_total`."""

    DELIVERED = "delivered"  # a 2xx
    FAILED = "failed"  # any other answer, or none


class DeadLetterReason(StrEnum):
    """Why the deliverer dead-letters a delivery: the `x-hookpipe-dead-reason` header in `{prefix}.dead.{destination}`,
    the `reason` of the `delivery failed; dead-lettered` log line and of `hookpipe_dead_letters_total`. Those queues
    also hold `BrokerDeadLetterReason.POISON`, which the deliverer never counts."""

    EXHAUSTED = "exhausted"  # every scheduled retry failed
    EXPIRED = "expired"  # older than the destination's retry.max_age, or would be by its next retry
    DEAD_LETTER_ON = "dead_letter_on"  # an answer the destination lists as final
    BLOCKED_ADDRESS = "blocked_address"  # the address will not change by waiting
    MALFORMED = "malformed"  # not an event hookpipe can read


class BrokerDeadLetterReason(StrEnum):
    """Why RabbitMQ itself dead-lettered a message, as `hookpipe dlq` shows and filters it (`--reason`): such a
    message has no `x-hookpipe-dead-reason` header, only RabbitMQ's `x-death`. No metric counts it."""

    POISON = "poison"  # crashed its consumer until the queue's delivery limit (RabbitMQ's `delivery_limit`)
