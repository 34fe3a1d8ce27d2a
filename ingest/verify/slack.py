"""Scheme `slack`: `X-Slack-Signature: v0=<hex>` and `X-Slack-Request-Timestamp: <unix>`.

The signature is the hex HMAC-SHA256 of `"v0:{timestamp}:{body}"`, keyed with the app's signing secret (UTF-8),
with the timestamp as sent. Slack has one signing secret per app; trying every configured one lets a regenerated
secret roll without refusals. Freshness is bounded both ways and checked before the signature, in slack_sdk's
order.
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

#: Seconds the request timestamp may differ from our clock either way: slack_sdk's `60 * 5`.
DEFAULT_TOLERANCE = 300.0

SIGNATURE_HEADER = "x-slack-signature"
TIMESTAMP_HEADER = "x-slack-request-timestamp"
SIGNATURE_PREFIX = "v0="


def expected_signature(key: bytes, timestamp: str, body: bytes) -> bytes:
    mac = hmac.new(key, f"v0:{timestamp}:".encode(), hashlib.sha256)
    mac.update(body)
    return SIGNATURE_PREFIX.encode() + mac.hexdigest().encode()


def verify_slack(request: InboundRequest, keys: list[bytes], tolerance: float) -> None:
    timestamp = require_header(request, TIMESTAMP_HEADER)
    presented = require_header(request, SIGNATURE_HEADER)
    check_freshness(parse_timestamp(timestamp), request.now, tolerance)
    if not presented.startswith(SIGNATURE_PREFIX) or not presented.isascii():
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    if not matches_any([presented.encode()], [expected_signature(key, timestamp, request.body) for key in keys]):
        raise Rejected(IngestRejection.BAD_SIGNATURE)


def identify_slack(request: InboundRequest) -> Identity:
    """Events API: `event_id`, and the inner `event.type` of an `event_callback` (`app_mention`), else the body's
    `type` (`url_verification`). Form-encoded bodies (slash commands, interactivity) carry neither."""
    kind = request.json_text("type")
    if kind == "event_callback":
        kind = request.json_text("event", "type") or kind
    return request.json_text("event_id"), kind


def build(config: VerifyConfig) -> Scheme:
    # A blank secret is never a key: slack_sdk refuses one, and an empty HMAC key would let anyone sign.
    keys = [secret.encode() for secret in config.secrets or () if secret.strip()]
    tolerance = DEFAULT_TOLERANCE if config.tolerance is None else config.tolerance
    return Scheme(
        verify=lambda request: verify_slack(request, keys, tolerance),
        reads_headers=frozenset({SIGNATURE_HEADER, TIMESTAMP_HEADER}),
        identify=identify_slack,
    )
