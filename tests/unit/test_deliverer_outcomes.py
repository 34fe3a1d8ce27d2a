"""The one mapping from what an attempt raises to its reason (deliverer.sender.failure_of)."""

from __future__ import annotations

import aiohttp

from deliverer.outcomes import AttemptReason
from deliverer.sender import failure_of
from deliverer.ssrf import BlockedAddress


def test_the_guard_s_refusal_is_blocked_address_also_inside_aiohttp_s_connection_error() -> None:
    refused = BlockedAddress("10.0.0.1 is a private address")
    assert failure_of(refused, 5) == (AttemptReason.BLOCKED_ADDRESS, "10.0.0.1 is a private address")
    wrapped = aiohttp.ClientConnectionError("cannot connect")
    wrapped.__cause__ = refused
    assert failure_of(wrapped, 5) == (AttemptReason.BLOCKED_ADDRESS, "10.0.0.1 is a private address")


def test_a_timeout_names_the_deadline_and_anything_else_is_a_connection_error() -> None:
    assert failure_of(TimeoutError(), 7.5) == (AttemptReason.TIMEOUT, "no response within 7.5s")
    assert failure_of(aiohttp.ServerTimeoutError("slow"), 2) == (AttemptReason.TIMEOUT, "no response within 2s")
    reason, message = failure_of(ConnectionRefusedError(111, "refused"), 5)
    assert (reason, message) == (AttemptReason.CONNECTION_ERROR, "ConnectionRefusedError: [Errno 111] refused")
    assert len(failure_of(OSError("x" * 1000), 5)[1]) == 500
