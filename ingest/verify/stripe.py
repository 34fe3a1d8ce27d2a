"""Scheme `stripe`: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...][,v0=<hex>]`.

Each `v1` is the hex HMAC-SHA256 of `"{t}.{body}"`, keyed with the endpoint secret exactly as written (the whole
`whsec_...` string, UTF-8). While a secret is being rolled Stripe sends one `v1` per active secret, and one match
is enough. `v0` (test-mode) entries and keys we do not know are ignored, as stripe-python does. Only the past is
bounded: a `t` ahead of our clock is accepted, as stripe-python accepts it. The signature is checked before the
timestamp, in stripe-python's order.
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
    matches_any,
    parse_timestamp,
    require_header,
)

#: Seconds a signed `t` may lie in the past: stripe-python's `Webhook.DEFAULT_TOLERANCE`.
DEFAULT_TOLERANCE = 300.0

#: `v1` entries read from one header. Stripe sends one per active secret (two during a roll); the cap bounds the
#: work a forged header can cause.
MAX_SIGNATURES = 8

SIGNATURE_HEADER = "stripe-signature"


def parse_signature_header(value: str) -> tuple[int, list[bytes]]:
    """The signed timestamp and the `v1` signatures, read as stripe-python reads them: items are split on `,`
    with nothing trimmed, the first `t` counts, and a value ends at its next `=`. Rejected('malformed_header')
    without an integer `t` or any `v1`.
    """
    timestamps: list[str] = []
    signatures: list[bytes] = []
    for item in value.split(","):
        key, _, text = item.partition("=")
        text = text.partition("=")[0]
        if key == "t":
            timestamps.append(text)
        elif key == "v1":
            if not text.isascii():
                raise Rejected(IngestRejection.MALFORMED_HEADER)
            signatures.append(text.encode())
    if not timestamps or not signatures or len(signatures) > MAX_SIGNATURES:
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    return parse_timestamp(timestamps[0]), signatures


def expected_signature(key: bytes, timestamp: int, body: bytes) -> bytes:
    mac = hmac.new(key, b"%d." % timestamp, hashlib.sha256)
    mac.update(body)
    return mac.hexdigest().encode()


def verify_stripe(request: InboundRequest, keys: list[bytes], tolerance: float) -> None:
    timestamp, presented = parse_signature_header(require_header(request, SIGNATURE_HEADER))
    if not matches_any(presented, [expected_signature(key, timestamp, request.body) for key in keys]):
        raise Rejected(IngestRejection.BAD_SIGNATURE)
    check_freshness(timestamp, request.now, tolerance, future=False)


def identify_stripe(request: InboundRequest) -> Identity:
    """The event's `id` (`evt_...`) and `type` (`invoice.paid`) from the JSON body."""
    return request.json_text("id"), request.json_text("type")


def build(config: VerifyConfig) -> Scheme:
    # A blank secret is never a key: stripe-python refuses one, and an empty HMAC key would let anyone sign.
    keys = [secret.encode() for secret in config.secrets or () if secret.strip()]
    tolerance = DEFAULT_TOLERANCE if config.tolerance is None else config.tolerance
    return Scheme(
        verify=lambda request: verify_stripe(request, keys, tolerance),
        reads_headers=frozenset({SIGNATURE_HEADER}),
        identify=identify_stripe,
    )
