"""Scheme `hubspot` (HubSpot signature v3): `X-HubSpot-Signature-v3`, the base64 HMAC-SHA256 of
method + URI + raw body + `X-HubSpot-Request-Timestamp`.

What is signed (hubspot-api-client 12.0.0 `hubspot.utils.signature.Signature.get_signature(..., "v3")`): the
method, the request URI, the body and the timestamp header's text, concatenated, keyed with the app's client
secret (UTF-8). The library is handed the URI by its caller; HubSpot's "Validating requests" page says it is the
full URL called (scheme and host included) with these escapes decoded first: %3A %2F %3F %40 %21 %24 %27 %28 %29
%2A %2C %3B (`: / ? @ ! $ ' ( ) * , ;`). So the URI is `public_url` (the URL entered at HubSpot; its own query,
if any, is replaced) followed by `?` and the query string as received, with those twelve escapes decoded in one
pass (case-insensitively: `%3a` is the same octet) and every other escape kept as sent.

Freshness, as the library checks it (`Signature.is_valid`): the timestamp is Unix milliseconds, read in whole
seconds, and the request is refused unless it is less than 300 s old ("Reject the request if the timestamp is
older than 5 minutes", HubSpot's page), before the signature is looked at. A timestamp ahead of our clock is
accepted, as the library accepts it. `tolerance` changes the window (`none`: no bound).

One signature per request; rotation is ours, trying every configured secret. The legacy `X-HubSpot-Signature`
(v1/v2, no timestamp) is never checked, but stripped with its version header. A webhook body is a JSON array of
up to 100 events, each with its own `eventId` and `subscriptionType`, so the request has no one id or type:
ingest generates the id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
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
    matches_any,
    require_header,
)

SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
LEGACY_SIGNATURE_HEADER = "x-hubspot-signature"
LEGACY_VERSION_HEADER = "x-hubspot-signature-version"

#: Seconds a signed timestamp may lie in the past: hubspot-api-client's `Signature.MAX_ALLOWED_TIMESTAMP`.
DEFAULT_TOLERANCE = 300.0

#: A base64 HMAC-SHA256 is 44 characters; anything else is refused before any HMAC is computed.
SIGNATURE_LENGTH = 44

#: Digits of a millisecond timestamp we read: 13 today, 16 is past the year 2200. Bounds the parse of a forged one.
MAX_TIMESTAMP_DIGITS = 16

#: The escapes HubSpot decodes in the URI before signing (its "Validating requests" page).
_DECODED_ESCAPES = re.compile(r"%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class HubSpotSettings:
    keys: tuple[bytes, ...]
    url: str  # the configured URL without its query
    tolerance: float



def signed_uri(url: str, query: str) -> str:
    """The URI as HubSpot signs it: the URL and the query as received, HubSpot's twelve escapes decoded."""
    uri = url + (f"?{query}" if query else "")
    return _DECODED_ESCAPES.sub(lambda escape: chr(int(escape.group(1), 16)), uri)


def parse_millis(text: str) -> int:
    """Unix milliseconds from the timestamp header; Rejected('malformed_header') unless a plain integer."""
    if not text.isascii() or not text.isdigit() or len(text) > MAX_TIMESTAMP_DIGITS:
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    return int(text)


def expected_signature(key: bytes, signed: bytes) -> bytes:
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())


def verify_hubspot(request: InboundRequest, settings: HubSpotSettings) -> None:
    presented = require_header(request, SIGNATURE_HEADER)
    timestamp = require_header(request, TIMESTAMP_HEADER)
    if len(presented) != SIGNATURE_LENGTH or not presented.isascii():
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    try:
        base64.b64decode(presented, validate=True)
    except binascii.Error:
        raise Rejected(IngestRejection.MALFORMED_HEADER) from None
    # The library's test: whole seconds of age, refused from 300 on; the future is not bounded.
    if request.now - parse_millis(timestamp) // 1000 >= settings.tolerance:
        raise Rejected(IngestRejection.STALE_TIMESTAMP)
    signed = b"".join((
        request.method.encode(*WIRE),
        signed_uri(settings.url, request.query_string).encode(*WIRE),
        request.body,
        timestamp.encode(),
    ))
    if not matches_any([presented.encode()], [expected_signature(key, signed) for key in settings.keys]):
        raise Rejected(IngestRejection.BAD_SIGNATURE)


def build(config: VerifyConfig) -> Scheme:
    if config.public_url is None:
        raise ValueError("scheme hubspot needs 'public_url'")
    settings = HubSpotSettings(
        keys=tuple(hmac_keys(config)),
        url=configured_url(config.public_url, "hubspot"),
        tolerance=DEFAULT_TOLERANCE if config.tolerance is None else config.tolerance,
    )
    return Scheme(
        verify=lambda request: verify_hubspot(request, settings),
        reads_headers=frozenset({SIGNATURE_HEADER, TIMESTAMP_HEADER, LEGACY_SIGNATURE_HEADER, LEGACY_VERSION_HEADER}),
    )
