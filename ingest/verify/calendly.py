"""Scheme `calendly`: `Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex>`.

Calendly's developer docs ("Webhook signatures"): `v1` is the hex HMAC-SHA256 of `"{t}.{body}"`, keyed with
the webhook subscription's signing key (UTF-8), and a receiver should refuse a `t` older than 3 minutes to
stop replays. The header is split on `,` and each item on its first `=`, as Calendly's sample does; a `t`
ahead of our clock by more than the same window is refused too (hookpipe's choice: the docs bound only the
past, and a clock that far ahead is a fault worth seeing). A signing key belongs to one subscription, so
rotation is ours: every configured secret is tried, and the `v1`s of one header (Calendly sends one) are read up
to a cap.

Identity: Calendly sends no event id (ingest generates one); the type is the body's `event`
(`invitee.created`, `invitee.canceled`).
"""

from __future__ import annotations

import hashlib
import hmac

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import (
    Identity,
    InboundRequest,
    Rejected,
    Scheme,
    check_freshness,
    header_items,
    hmac_keys,
    matches_any,
    parse_timestamp,
    require_header,
)

#: Seconds `t` may be away from our clock, either way: the 3 minutes of Calendly's docs.
DEFAULT_TOLERANCE = 180.0

#: Items (`t=` and `v1=`) read from one header: Calendly sends two; the cap bounds the work a forged header causes.
MAX_ITEMS = 8

SIGNATURE_HEADER = "calendly-webhook-signature"


def parse_signature_header(value: str) -> tuple[str, list[bytes]]:
    """`t` as sent (an integer) and the `v1` signatures; Rejected('malformed_header') without both, or with
    more than MAX_ITEMS items."""
    timestamp: str | None = None
    signatures: list[bytes] = []
    for key, text in header_items(value, MAX_ITEMS):
        if key == "t" and timestamp is None:
            timestamp = text
        elif key == "v1" and text:
            signatures.append(text.encode())
    if timestamp is None or not signatures:
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    parse_timestamp(timestamp)
    return timestamp, signatures


def expected_signature(key: bytes, timestamp: str, body: bytes) -> bytes:
    mac = hmac.new(key, f"{timestamp}.".encode(), hashlib.sha256)
    mac.update(body)
    return mac.hexdigest().encode()


def verify_calendly(request: InboundRequest, keys: list[bytes], tolerance: float) -> None:
    timestamp, presented = parse_signature_header(require_header(request, SIGNATURE_HEADER))
    if not matches_any(presented, [expected_signature(key, timestamp, request.body) for key in keys]):
        raise Rejected(IngestRejection.BAD_SIGNATURE)
    check_freshness(parse_timestamp(timestamp), request.now, tolerance)


def identify_calendly(request: InboundRequest) -> Identity:
    """No id (Calendly sends none) and the body's `event`."""
    return None, request.json_text("event")


def build(config: VerifyConfig) -> Scheme:
    keys = hmac_keys(config)
    tolerance = DEFAULT_TOLERANCE if config.tolerance is None else config.tolerance
    return Scheme(
        verify=lambda request: verify_calendly(request, keys, tolerance),
        reads_headers=frozenset({SIGNATURE_HEADER}),
        identify=identify_calendly,
    )
