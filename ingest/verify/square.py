"""Scheme `square`: `x-square-hmacsha256-signature`, the base64 HMAC-SHA256 of the notification URL + the raw body.

What is signed (squareup 46.0.0 `square.utils.webhooks_helper.verify_signature`): the notification URL exactly as
it is defined for the webhook subscription in the Square Developer Console, followed by the body, keyed with the
subscription's signature key (UTF-8). The library is handed that URL by its caller and reads nothing of the
request but its body, so the URL is ours to rebuild: `public_url` (the URL as entered at Square; its own query,
if any, is replaced) followed by `?` and the query string as received, percent-encoding untouched, as the Twilio
scheme does. A URL entered with a query is called with that query, so the two agree.

One signature per request; rotation is ours, trying every configured key (a subscription's key can be replaced
in the console). The library refuses an empty body, and so do we. Square signs no time, so there is no
freshness check; a retried notification keeps its `event_id`, which ingest deduplicates on. The legacy
`x-square-signature` (HMAC-SHA1) is never checked, but stripped with the other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import (
    WIRE,
    InboundRequest,
    Rejected,
    Scheme,
    configured_url,
    hmac_keys,
    json_identity,
    matches_any,
    require_header,
)

SIGNATURE_HEADER = "x-square-hmacsha256-signature"
LEGACY_SIGNATURE_HEADER = "x-square-signature"

#: A base64 HMAC-SHA256 is 44 characters; anything else is refused before any HMAC is computed.
SIGNATURE_LENGTH = 44


@dataclass(frozen=True, slots=True)
class SquareSettings:
    keys: tuple[bytes, ...]
    notification_url: str  # the configured URL without its query



def signed_url(settings: SquareSettings, query: str) -> bytes:
    return (settings.notification_url + (f"?{query}" if query else "")).encode(*WIRE)


def expected_signature(key: bytes, url: bytes, body: bytes) -> bytes:
    return base64.b64encode(hmac.new(key, url + body, hashlib.sha256).digest())


def verify_square(request: InboundRequest, settings: SquareSettings) -> None:
    presented = require_header(request, SIGNATURE_HEADER)
    if len(presented) != SIGNATURE_LENGTH or not presented.isascii():
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    try:
        base64.b64decode(presented, validate=True)
    except binascii.Error:
        raise Rejected(IngestRejection.MALFORMED_HEADER) from None
    if not request.body:
        raise Rejected(IngestRejection.BAD_SIGNATURE)  # Square always sends a body; the library refuses none
    url = signed_url(settings, request.query_string)
    expected = [expected_signature(key, url, request.body) for key in settings.keys]
    if not matches_any([presented.encode()], expected):
        raise Rejected(IngestRejection.BAD_SIGNATURE)


def build(config: VerifyConfig) -> Scheme:
    if config.public_url is None:
        raise ValueError("scheme square needs 'public_url'")
    settings = SquareSettings(
        keys=tuple(hmac_keys(config)), notification_url=configured_url(config.public_url, "square")
    )
    return Scheme(
        verify=lambda request: verify_square(request, settings),
        reads_headers=frozenset({SIGNATURE_HEADER, LEGACY_SIGNATURE_HEADER}),
        # Square's documented envelope: `event_id` (the same on a retry) and `type` (`payment.updated`).
        identify=json_identity(("event_id",), ("type",)),
    )
