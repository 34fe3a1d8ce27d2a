"""Scheme `zoom`: `x-zm-signature: v0=<hex>` and `x-zm-request-timestamp: <unix seconds>`.

Zoom's docs ("Using webhooks", Verify webhook events): the signature is `v0=` and the hex HMAC-SHA256 of
`"v0:{x-zm-request-timestamp}:{body}"`, keyed with the app's webhook *Secret Token*, compared as sent (lower-case
hex, as Zoom's own @zoom/rivet compares it): the very signature Slack makes, so slack's `expected_signature`
computes it. Zoom has one secret token per app; trying every configured one lets
a regenerated token roll without refusals.

Freshness: Zoom puts the timestamp in the signed text but publishes no window. We refuse one more than 300 s
away either way (`tolerance` changes it), the window Stripe and Slack use for the same construction, so a
captured request cannot be replayed later.

Identity: Zoom sends no event id (ingest generates one); the type is the body's `event` (`meeting.started`).

Handshake: `endpoint.url_validation` is signed like any event and is answered, after verification, with
`{"plainToken": p, "encryptedToken": hex HMAC-SHA256(secret token, p)}`, never published. The token that
answers is the one that verified the request: Zoom signs and checks the answer with the same current token,
so during a roll that is the right one whichever order the secrets are listed in.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import (
    Answer,
    Identity,
    InboundRequest,
    Rejected,
    Scheme,
    check_freshness,
    hmac_keys,
    matches_any,
    parse_timestamp,
    require_header,
)
from ingest.verify.slack import SIGNATURE_PREFIX, expected_signature

#: Seconds the signed timestamp may be away from our clock, either way: Zoom publishes none (module docstring).
DEFAULT_TOLERANCE = 300.0

SIGNATURE_HEADER = "x-zm-signature"
TIMESTAMP_HEADER = "x-zm-request-timestamp"

URL_VALIDATION_EVENT = "endpoint.url_validation"

#: The `handshake answered` log line's name for a URL validation.
URL_VALIDATION = "zoom_url_validation"


def signed_parts(request: InboundRequest) -> tuple[str, bytes]:
    """The timestamp as sent (checked to be an integer) and the presented signature."""
    timestamp = require_header(request, TIMESTAMP_HEADER)
    presented = require_header(request, SIGNATURE_HEADER)
    parse_timestamp(timestamp)
    if not presented.startswith(SIGNATURE_PREFIX) or not presented.isascii():
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    return timestamp, presented.encode()


def verify_zoom(request: InboundRequest, keys: list[bytes], tolerance: float) -> None:
    timestamp, presented = signed_parts(request)
    if not matches_any([presented], [expected_signature(key, timestamp, request.body) for key in keys]):
        raise Rejected(IngestRejection.BAD_SIGNATURE)
    check_freshness(parse_timestamp(timestamp), request.now, tolerance)


def encrypted_token(key: bytes, plain_token: str) -> str:
    """Zoom's `encryptedToken`: the hex HMAC-SHA256 of the plain token, keyed with the secret token."""
    return hmac.new(key, plain_token.encode(), hashlib.sha256).hexdigest()


def url_validation_answer(key: bytes, body: Any) -> Answer | None:
    """The answer to an `endpoint.url_validation` body (parsed JSON); None for any other body."""
    if not isinstance(body, dict) or body.get("event") != URL_VALIDATION_EVENT:
        return None
    payload = body.get("payload")
    plain = payload.get("plainToken") if isinstance(payload, dict) else None
    if not isinstance(plain, str):
        return None
    answer = {"plainToken": plain, "encryptedToken": encrypted_token(key, plain)}
    return Answer(200, orjson.dumps(answer), URL_VALIDATION)


def signing_key(request: InboundRequest, keys: list[bytes]) -> bytes | None:
    """The first configured key whose signature the request carries (the request was verified already)."""
    timestamp, presented = signed_parts(request)
    for key in keys:
        if hmac.compare_digest(presented, expected_signature(key, timestamp, request.body)):
            return key
    return None


async def answer_zoom(request: InboundRequest, keys: list[bytes]) -> Answer | None:
    if request.json_text("event") != URL_VALIDATION_EVENT:
        return None  # an event: published, and its body's signing key is not looked for again
    key = signing_key(request, keys)
    return url_validation_answer(key, request.json()) if key is not None else None


def identify_zoom(request: InboundRequest) -> Identity:
    """No id (Zoom sends none) and the body's `event`."""
    return None, request.json_text("event")


def build(config: VerifyConfig) -> Scheme:
    keys = hmac_keys(config)
    tolerance = DEFAULT_TOLERANCE if config.tolerance is None else config.tolerance

    async def answer(request: InboundRequest) -> Answer | None:
        return await answer_zoom(request, keys)

    return Scheme(
        verify=lambda request: verify_zoom(request, keys, tolerance),
        reads_headers=frozenset({SIGNATURE_HEADER, TIMESTAMP_HEADER}),
        identify=identify_zoom,
        answer=answer,
    )
