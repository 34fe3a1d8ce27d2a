"""Scheme `mailgun`: the signature travels in the JSON body, not in a header.

Body: `{"signature": {"timestamp", "token", "signature"}, "event-data": {...}}`, where `signature` is the hex
HMAC-SHA256, keyed with the webhook signing key, of `timestamp + token` (the timestamp exactly as sent). It
does not cover `event-data`: within the freshness window a captured request could be replayed with other event
data, so the token is the scheme's nonce, which ingest remembers (ingest/replays.py), as Mailgun advises. The
mailgun 1.10.0 SDK (`SecurityGuard.verify_webhook`) refuses a timestamp more than 900 s away in either direction.

A body that is not a JSON object with a `signature` member reads as a missing signature; one whose `signature`
is not an object of three strings (the timestamp an integer) as a malformed one.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import (
    Identity,
    InboundRequest,
    Nonce,
    Rejected,
    Scheme,
    check_freshness,
    matches_any,
    parse_timestamp,
)

#: Seconds the signed time may be away from ours, either way: the SDK's default `max_age_seconds`.
DEFAULT_TOLERANCE = 900.0


@dataclass(frozen=True, slots=True)
class MailgunSettings:
    keys: tuple[bytes, ...]
    tolerance: float


def signature_fields(request: InboundRequest) -> tuple[str, str, str]:
    """The body's (timestamp, token, signature), the timestamp as text exactly as it was signed."""
    document = request.json()
    if not isinstance(document, dict) or "signature" not in document:
        raise Rejected(IngestRejection.MISSING_HEADER)
    block = document["signature"]
    if not isinstance(block, dict):
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    timestamp, token, signature = block.get("timestamp"), block.get("token"), block.get("signature")
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        timestamp = str(timestamp)
    if not (isinstance(timestamp, str) and isinstance(token, str) and isinstance(signature, str)):
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    if not token or not signature.isascii():
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    return timestamp, token, signature


def verify_mailgun(request: InboundRequest, settings: MailgunSettings) -> None:
    timestamp, token, signature = signature_fields(request)
    check_freshness(parse_timestamp(timestamp), request.now, settings.tolerance)
    signed = (timestamp + token).encode("utf-8", "surrogatepass")
    expected = [hmac.new(key, signed, hashlib.sha256).hexdigest().encode() for key in settings.keys]
    if not matches_any([signature.encode()], expected):
        raise Rejected(IngestRejection.BAD_SIGNATURE)


def identify_mailgun(request: InboundRequest) -> Identity:
    return request.json_text("event-data", "id"), request.json_text("event-data", "event")


def nonce_mailgun(request: InboundRequest, settings: MailgunSettings) -> Nonce:
    """The token of a verified request, fresh until its timestamp plus the tolerance."""
    timestamp, token, _ = signature_fields(request)
    return Nonce(token, parse_timestamp(timestamp) + settings.tolerance)


def build(config: VerifyConfig) -> Scheme:
    settings = MailgunSettings(
        keys=tuple(secret.encode() for secret in config.secrets or () if secret),
        tolerance=DEFAULT_TOLERANCE if config.tolerance is None else config.tolerance,
    )
    return Scheme(verify=lambda request: verify_mailgun(request, settings), identify=identify_mailgun,
                  nonce=lambda request: nonce_mailgun(request, settings))
