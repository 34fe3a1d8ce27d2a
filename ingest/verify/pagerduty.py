"""Scheme `pagerduty` (V3 webhooks): `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]`.

PagerDuty's developer docs ("Verifying Signatures", V3 webhooks): each `v1` is the hex HMAC-SHA256 of the raw
body, keyed with the webhook subscription's secret (UTF-8); while a secret is rotated PagerDuty sends one `v1`
per active secret, and a receiver accepts the request when any of them matches. Items are split on `,` and
trimmed; entries of another version are skipped (a later version would come beside `v1`). The number of items
read is capped: a forged header cannot make us compute without bound. Every configured secret is tried too, so
the receiver's side of a roll needs no coordination. V3 signs no timestamp; a replay is caught by ingest's
dedup on the event id.

Identity: the body's `event.id` (`01DEN...`) and `event.event_type` (`incident.triggered`).
"""

from __future__ import annotations

import hashlib
import hmac

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import (
    InboundRequest,
    Rejected,
    Scheme,
    header_items,
    hmac_keys,
    json_identity,
    matches_any,
    require_header,
)

#: Items read from one header: PagerDuty sends one per active secret (two during a roll).
MAX_SIGNATURES = 8

SIGNATURE_HEADER = "x-pagerduty-signature"
SIGNATURE_VERSION = "v1"


def parse_signature_header(value: str) -> list[bytes]:
    """The `v1` signatures; Rejected('malformed_header') with none, or with more than MAX_SIGNATURES items."""
    signatures = []
    for version, text in header_items(value, MAX_SIGNATURES):
        if version == SIGNATURE_VERSION and text:
            signatures.append(text.encode())
    if not signatures:
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    return signatures


def verify_pagerduty(request: InboundRequest, keys: list[bytes]) -> None:
    presented = parse_signature_header(require_header(request, SIGNATURE_HEADER))
    expected = [hmac.new(key, request.body, hashlib.sha256).hexdigest().encode() for key in keys]
    if not matches_any(presented, expected):
        raise Rejected(IngestRejection.BAD_SIGNATURE)


def build(config: VerifyConfig) -> Scheme:
    keys = hmac_keys(config)
    return Scheme(
        verify=lambda request: verify_pagerduty(request, keys),
        reads_headers=frozenset({SIGNATURE_HEADER}),
        identify=json_identity(("event", "id"), ("event", "event_type")),
    )
