"""Every Prometheus metric hookpipe exports, in one module (docs/observability.md lists them).

Names start with `hookpipe_` and use base units. Label values are bounded sets: configured source, route and
destination names, outcomes, reasons and status classes; never an event id, a URL or a raw status text.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from hookpipe.outcomes import DeadLetterReason, DeliveryOutcome, IngestRejection, RouterDeadLetterReason, RouterOutcome

if TYPE_CHECKING:
    from hookpipe.config import Config

M = TypeVar("M", bound=MetricWrapperBase)


@functools.lru_cache(maxsize=4096)
def labelled(metric: M, *values: str) -> M:
    """`metric.labels(*values)` (label values in the order the metric names them), remembered: `labels()` takes a
    lock and builds its key on every call, several times per event on the hot paths. Label values come from the
    config (sources, routes, destinations) and small closed sets, so the cache stays small."""
    return metric.labels(*values)

#: Latency buckets (s) from sub-millisecond broker confirms up to a slow receiver's time-out.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

#: End-to-end buckets (s): from a quick pass through three hops to events that waited out retries for hours.
END_TO_END_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600)

# --- ingest ---
INGEST_REQUESTS = Counter(
    "hookpipe_ingest_requests_total", "Webhook requests answered, by source and HTTP status.", ["source", "status"]
)
INGEST_REJECTIONS = Counter(
    "hookpipe_ingest_rejections_total", "Webhook requests refused, by source and reason.", ["source", "reason"]
)
INGEST_PUBLISH_SECONDS = Histogram(
    "hookpipe_ingest_publish_seconds", "Time from publish to broker confirm at ingest.", buckets=LATENCY_BUCKETS
)
INGEST_DUPLICATES = Counter(
    "hookpipe_ingest_duplicates_total", "Repeated event ids answered without publishing again.", ["source"]
)

# --- router ---
ROUTER_EVENTS = Counter(
    "hookpipe_router_events_total", "Events consumed by the router, by outcome (routed, unmatched, failed).",
    ["outcome"],
)
ROUTE_MATCHES = Counter("hookpipe_route_matches_total", "Events matched, per route.", ["route"])
ROUTER_DELIVERIES = Counter(
    "hookpipe_router_deliveries_total", "Delivery messages published, per destination.", ["destination"]
)
ROUTER_REPLAYED_EVENTS = Counter(
    "hookpipe_router_replayed_events_total",
    "Replayed events (hookpipe replay) consumed by the router, by outcome; not in hookpipe_router_events_total.",
    ["outcome"],
)
ROUTER_DEAD_LETTERS = Counter(
    "hookpipe_router_dead_letters_total", "Events the router dead-lettered, by reason.", ["reason"]
)

# --- deliverer ---
DELIVERY_ATTEMPTS = Counter(
    "hookpipe_delivery_attempts_total",
    "Outbound delivery attempts, by destination, outcome and status class (2xx..5xx, or none).",
    ["destination", "outcome", "status_class"],
)
REPLAYED_DELIVERY_ATTEMPTS = Counter(
    "hookpipe_replayed_delivery_attempts_total",
    "Delivery attempts of replayed events, by destination and outcome; not in hookpipe_delivery_attempts_total.",
    ["destination", "outcome"],
)
DELIVERY_ATTEMPT_SECONDS = Histogram(
    "hookpipe_delivery_attempt_seconds", "Duration of one outbound HTTP attempt.", ["destination"],
    buckets=LATENCY_BUCKETS,
)
END_TO_END_SECONDS = Histogram(
    "hookpipe_end_to_end_seconds", "From ingest accepting an event to its successful delivery.", ["destination"],
    buckets=END_TO_END_BUCKETS,
)
RETRIES_SCHEDULED = Counter(
    "hookpipe_retries_scheduled_total", "Failed attempts sent to a retry rung, per destination.", ["destination"]
)
DEAD_LETTERS = Counter(
    "hookpipe_dead_letters_total", "Deliveries dead-lettered, by destination and reason.", ["destination", "reason"]
)
DELIVERY_GONE = Counter(
    "hookpipe_delivery_gone_total",
    "Deliveries a destination refused with 410 Gone: its receiver wants no more.", ["destination"],
)
BREAKER_STATE = Gauge(
    "hookpipe_breaker_state", "Circuit breaker per destination: 0 closed, 1 open, 2 half-open.", ["destination"]
)
DESTINATION_PAUSED = Gauge("hookpipe_destination_paused", "1 while a destination is paused.", ["destination"])
DESTINATION_LEASE_HELD = Gauge(
    "hookpipe_destination_lease_held",
    "1 on the deliverer replica holding the destination's lease (the one delivering it), 0 on the others.",
    ["destination"],
)
DELIVERIES_IN_FLIGHT = Gauge(
    "hookpipe_deliveries_in_flight", "Outbound requests in progress, per destination.", ["destination"]
)

# --- every service ---
CONFIG_RELOADS = Counter(
    "hookpipe_config_reloads_total", "Configuration reloads, by result (ok, error).", ["result"]
)
CONFIG_LAST_RELOAD_SUCCESSFUL = Gauge(
    "hookpipe_config_last_reload_successful",
    "1 if the config in force is the last one read (at start or on reload), 0 if the last reload was refused.",
)
BROKER_CONNECTED = Gauge(
    "hookpipe_broker_connected", "1 while the named broker link is connected and set up.", ["link"]
)

# --- admin: index ---
ADMIN_INDEX_RECORDS = Counter(
    "hookpipe_admin_index_records_total",
    "Records written to the admin index, by kind (archived, routed, attempt, dead).", ["kind"],
)
ADMIN_INDEX_MALFORMED = Counter(
    "hookpipe_admin_index_malformed_messages_total",
    "Stream messages the admin index skipped as unreadable, by stream (archive, delivery_log).", ["stream"],
)
ADMIN_INDEX_LAG = Gauge(
    "hookpipe_admin_index_lag_seconds",
    "Age of the oldest stream message received but not yet in the admin index; 0 when it has read everything.",
)
ADMIN_INDEX_LAST_BATCH_SECONDS = Gauge(
    "hookpipe_admin_index_last_batch_seconds", "Time the admin index took to write its last batch (one transaction).",
)
ADMIN_INDEX_ACTIVE = Gauge(
    "hookpipe_admin_index_active",
    "1 on the hookpipe admin replica that indexes the streams (the others share its PostgreSQL index), else 0.",
)


# --- series that exist before their first event ---------------------------------------------------------
#
# A labelled counter has no series until its first increment, so a dashboard panel reads "No data" and
# `rate()`/`increase()` miss that first event. Each service calls its `prime_*` at start and after every
# reload, creating at 0 every series whose labels the config or a closed set below fixes. Series of names a
# reload removed stay (their last value); label values are never event ids or URLs. The closed sets
# come from hookpipe.outcomes.

#: Reject reasons ingest counts per configured source: every one but those only a request to no configured
#: source can get, which only ever have `source="_unknown"`.
INGEST_REJECT_REASONS = tuple(
    reason for reason in IngestRejection
    if reason not in (IngestRejection.UNKNOWN_SOURCE, IngestRejection.NOT_FOUND)
)

#: (outcome, status class) pairs an attempt can count: success is a 2xx; a failure is any other answer
#: (a redirect not followed, 4xx, 5xx) or none at all.
ATTEMPT_RESULTS = (
    (DeliveryOutcome.DELIVERED, "2xx"), (DeliveryOutcome.FAILED, "3xx"), (DeliveryOutcome.FAILED, "4xx"),
    (DeliveryOutcome.FAILED, "5xx"), (DeliveryOutcome.FAILED, "none"),
)


def prime_ingest(config: Config) -> None:
    """Requests answered with each source's configured success status, its rejections and its duplicates."""
    for name, source in config.sources.items():
        INGEST_REQUESTS.labels(source=name, status=str(source.response.status))
        INGEST_DUPLICATES.labels(source=name)
        for reason in INGEST_REJECT_REASONS:
            INGEST_REJECTIONS.labels(source=name, reason=reason)


def prime_router(config: Config) -> None:
    """Outcomes (live and replayed), dead letters by reason, matches per route and deliveries per destination."""
    for outcome in RouterOutcome:
        ROUTER_EVENTS.labels(outcome=outcome)
        ROUTER_REPLAYED_EVENTS.labels(outcome=outcome)
    for reason in RouterDeadLetterReason:
        ROUTER_DEAD_LETTERS.labels(reason=reason)
    for route in config.routes:
        ROUTE_MATCHES.labels(route=route.name)
    for destination in config.destinations:
        ROUTER_DELIVERIES.labels(destination=destination)


def prime_deliverer(config: Config) -> None:
    """Per destination: attempts (live and replayed), retries, dead letters by reason, 410s and requests in flight.

    Histograms are left to their first observation: a latency quantile of no request is undefined, not 0.
    """
    for destination in config.destinations:
        for outcome, status_class in ATTEMPT_RESULTS:
            DELIVERY_ATTEMPTS.labels(destination=destination, outcome=outcome, status_class=status_class)
        for outcome in DeliveryOutcome:
            REPLAYED_DELIVERY_ATTEMPTS.labels(destination=destination, outcome=outcome)
        RETRIES_SCHEDULED.labels(destination=destination)
        for reason in DeadLetterReason:
            DEAD_LETTERS.labels(destination=destination, reason=reason)
        DELIVERY_GONE.labels(destination=destination)
        DELIVERIES_IN_FLIGHT.labels(destination=destination)
        DESTINATION_LEASE_HELD.labels(destination=destination)


# --- admin ---
ADMIN_REQUESTS = Counter(
    "hookpipe_admin_requests_total",
    "Admin API requests answered, by endpoint (the route template, such as /api/v1/events/{id}), method and status.",
    ["endpoint", "method", "status"],
)
ADMIN_REQUEST_SECONDS = Histogram(
    "hookpipe_admin_request_seconds", "Time the admin API took to answer a request, by endpoint and method.",
    ["endpoint", "method"],
)
ADMIN_UNAUTHORIZED = Counter(
    "hookpipe_admin_unauthorized_total",
    "Admin API requests refused with 401, by reason: missing (no Authorization), malformed (not Bearer), wrong.",
    ["reason"],
)


#: What the admin index counts: archived events, and each kind of delivery-log record (hookpipe.delivery_log).
INDEXED_KINDS = ("archived", "routed", "attempt", "dead")

#: The streams the admin index reads, as its malformed-message counter names them.
INDEXED_STREAMS = ("archive", "delivery_log")


def prime_admin() -> None:
    """The admin API's refusals by reason, and the index's records by kind and malformed messages by stream
    (closed sets), so a panel or an alert on their rate sees a zero first. Requests by endpoint, method and
    status are not primed: a zero for every combination would be hundreds of series."""
    for reason in ("missing", "malformed", "wrong"):
        ADMIN_UNAUTHORIZED.labels(reason=reason)
    for kind in INDEXED_KINDS:
        ADMIN_INDEX_RECORDS.labels(kind=kind)
    for stream in INDEXED_STREAMS:
        ADMIN_INDEX_MALFORMED.labels(stream=stream)
