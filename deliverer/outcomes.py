"""The closed sets only the delivery hop knows: what an attempt came to, and why a delivery waits without one.

What an attempt counts as (hookpipe.outcomes.DeliveryOutcome) and why a delivery is dead-lettered
(hookpipe.outcomes.DeadLetterReason) are metric label values the core primes, so they live in hookpipe.outcomes.
These values appear in log lines and in the deliverer's status (`last_error.reason`): a value never changes.
"""

from __future__ import annotations

from enum import StrEnum


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
