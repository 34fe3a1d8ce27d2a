"""Scheme `linear`: `Linear-Signature: <hex>`, the HMAC-SHA256 of the raw body, and the body's `webhookTimestamp`.

Linear signs the raw body with the webhook's signing secret (UTF-8) and sends the lower-case hex digest alone;
@linear/sdk's `LinearWebhookClient.verify` compares it as sent, then requires the body's `webhookTimestamp`
(Unix milliseconds, inside the signed body, so it cannot be changed) to be a number no more than 60 s from its
clock either way. The `Linear-Timestamp` header is not signed and the SDK ignores it; so do we. A signed body
without a numeric `webhookTimestamp` cannot be shown fresh and is refused as `stale_timestamp`, as the SDK
refuses it. Linear has one secret per webhook; trying every configured one lets a new secret roll in.

Identity: `Linear-Delivery` (a UUID per delivery) and the body's `type` (`Issue`, `Comment`): the value the
SDK dispatches on, and what `Linear-Event` repeats unsigned. The body's `action` (`create`, `update`,
`remove`) stays in the body for routes.
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
    hmac_keys,
    matches_any,
    require_header,
)

#: Seconds `webhookTimestamp` may be away from our clock, either way: @linear/sdk's `1000 * 60` ms.
DEFAULT_TOLERANCE = 60.0

SIGNATURE_HEADER = "linear-signature"
DELIVERY_HEADER = "linear-delivery"
TIMESTAMP_FIELD = "webhookTimestamp"


def expected_signature(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).hexdigest().encode()


def signed_time(request: InboundRequest) -> float:
    """`webhookTimestamp` in seconds; Rejected('stale_timestamp') when the body has no number there."""
    body = request.json()
    value = body.get(TIMESTAMP_FIELD) if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Rejected(IngestRejection.STALE_TIMESTAMP)
    return value / 1000


def verify_linear(request: InboundRequest, keys: list[bytes], tolerance: float) -> None:
    presented = require_header(request, SIGNATURE_HEADER)
    if not presented.isascii():
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    if not matches_any([presented.encode()], [expected_signature(key, request.body) for key in keys]):
        raise Rejected(IngestRejection.BAD_SIGNATURE)
    check_freshness(signed_time(request), request.now, tolerance)


def identify_linear(request: InboundRequest) -> Identity:
    """`Linear-Delivery` and the body's `type`."""
    return request.headers.get(DELIVERY_HEADER), request.json_text("type")


def build(config: VerifyConfig) -> Scheme:
    keys = hmac_keys(config)
    tolerance = DEFAULT_TOLERANCE if config.tolerance is None else config.tolerance
    return Scheme(
        verify=lambda request: verify_linear(request, keys, tolerance),
        reads_headers=frozenset({SIGNATURE_HEADER}),
        identify=identify_linear,
    )
