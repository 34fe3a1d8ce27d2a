"""The closed sets of the delivery hop: what an attempt came to, and why a delivery is dead-lettered.

Their values are metric label values (hookpipe.runtime.metrics primes the same sets) and the dead-letter header's value:
renaming a value breaks dashboards, alerts and `hookpipe dlq` filters, so a value never changes.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """An attempt's `outcome` label (hookpipe.runtime.metrics.DELIVERY_OUTCOMES)."""

    DELIVERED = "delivered"
    FAILED = "failed"


class AttemptReason(StrEnum):
    """What an attempt came to (`AttemptResult.reason`; a failed one is the status's `last_error.reason`)."""

    OK = "ok"  # delivered: a 2xx
    HTTP_STATUS = "http_status"  # an answer other than 2xx (a 3xx only when redirects are not followed)
    REDIRECT = "redirect"  # a redirect not followed: to a bad URL, another scheme, or one hop too many
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    BLOCKED_ADDRESS = "blocked_address"  # the SSRF guard refused the address


class Parked(StrEnum):
    """Why a delivery went to a retry rung without an attempt (the retry log's `reason`)."""

    BREAKER_OPEN = "breaker_open"  # prefetched before its destination's breaker opened


class DeadLetterReason(StrEnum):
    """Why a delivery is dead-lettered: the `x-hookpipe-dead-reason` header (see
    hookpipe.runtime.metrics.DEAD_LETTER_REASONS)."""

    EXHAUSTED = "exhausted"  # every scheduled retry failed
    EXPIRED = "expired"  # older than the destination's retry.max_age, or would be by its next retry
    DEAD_LETTER_ON = "dead_letter_on"  # an answer the destination lists as final
    BLOCKED_ADDRESS = "blocked_address"  # the address will not change by waiting
    MALFORMED = "malformed"  # not an event hookpipe can read
