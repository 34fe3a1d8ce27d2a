"""Signature schemes: one module per scheme, pure functions of the request, no I/O.

A verifier raises Rejected with a reason from a closed set; ingest turns it into a status, a JSON body
`{"error": reason}`, a counter and a log line. Secrets are compared in constant time (`hmac.compare_digest`)
and never appear in a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hookpipe.config import VerifyConfig


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """What a scheme may look at. `headers` keys are lower-case; repeated headers are joined with ', '."""

    method: str
    url: str  # as received, with its query string
    query_string: str
    headers: Mapping[str, str]
    body: bytes
    now: float  # Unix seconds, injectable for tests of freshness windows


class Rejected(Exception):
    """The request is refused. `reason` is one of the documented reject reasons; `status` the HTTP status."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


Verify = Callable[[InboundRequest], None]


@dataclass(frozen=True, slots=True)
class Scheme:
    """A configured scheme: the check to run, and the headers it reads (stripped before the event is stored)."""

    verify: Verify
    reads_headers: frozenset[str] = field(default_factory=frozenset)


def build_scheme(config: VerifyConfig) -> Scheme:
    """The scheme for a source's `verify` block."""
    from ingest.verify import bearer, none

    builders: dict[str, Callable[[VerifyConfig], Scheme]] = {
        "none": none.build,
        "bearer": bearer.build,
    }
    builder = builders.get(config.scheme, _not_implemented)
    return builder(config)


def _not_implemented(config: VerifyConfig) -> Scheme:
    # The config accepts every scheme of DESIGN.md §3; the ones not built yet refuse every request rather
    # than let unverified input through.
    def verify(_: InboundRequest) -> None:
        raise Rejected("scheme_not_implemented", status=501)

    return Scheme(verify=verify)
