"""Every Prometheus metric hookpipe exports, in one module (docs/observability.md lists them).

Names start with `hookpipe_` and use base units. Label values are bounded sets: configured source, route and
destination names, outcomes, reasons and status classes; never an event id, a URL or a raw status text.
"""

from __future__ import annotations

import functools
from typing import TypeVar

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

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
