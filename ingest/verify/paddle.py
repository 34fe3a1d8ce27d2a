"""Scheme `paddle` (Paddle Billing): `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>...]`.

Each `h1` is the hex HMAC-SHA256, keyed with the notification destination's secret key, of `"<ts>:<raw body>"`
(paddle-python-sdk 1.16.1 `PaddleSignature`, https://developer.paddle.com/webhooks/signature-verification).
Paddle sends one `h1` per active secret while one is rotated; any match with any configured secret is enough.
The SDK refuses a key other than `ts` and `h1`, and a timestamp more than 5 s away in either direction.
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
    Rejected,
    Scheme,
    check_freshness,
    matches_any,
    parse_timestamp,
    require_header,
)

SIGNATURE_HEADER = "paddle-signature"

#: Seconds the signed time may be away from ours, either way: the SDK's `Verifier` default `maximum_variance`.
DEFAULT_TOLERANCE = 5.0


@dataclass(frozen=True, slots=True)
class PaddleSettings:
    keys: tuple[bytes, ...]
    tolerance: float


def parse_signature_header(value: str) -> tuple[int, list[bytes]]:
    """The timestamp and the `h1` signatures; Rejected('malformed_header') for anything else."""
    timestamp: str | None = None
    signatures: list[bytes] = []
    for part in value.split(";"):
        if not part.strip():
            continue
        key, separator, item = part.partition("=")
        key, item = key.strip(), item.strip()
        if not separator or not item or "=" in item or not item.isascii():  # the SDK splits a pair on "="
            raise Rejected(IngestRejection.MALFORMED_HEADER)
        if key == "ts" and timestamp is None:
            timestamp = item
        elif key == "h1":
            signatures.append(item.encode())
        else:  # an unknown key, or a second `ts`
            raise Rejected(IngestRejection.MALFORMED_HEADER)
    if timestamp is None or not signatures:
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    return parse_timestamp(timestamp), signatures


def verify_paddle(request: InboundRequest, settings: PaddleSettings) -> None:
    timestamp, presented = parse_signature_header(require_header(request, SIGNATURE_HEADER))
    check_freshness(timestamp, request.now, settings.tolerance)
    signed = f"{timestamp}:".encode() + request.body
    expected = [hmac.new(key, signed, hashlib.sha256).hexdigest().encode() for key in settings.keys]
    if not matches_any(presented, expected):
        raise Rejected(IngestRejection.BAD_SIGNATURE)


def identify_paddle(request: InboundRequest) -> Identity:
    return request.json_text("event_id"), request.json_text("event_type")


def build(config: VerifyConfig) -> Scheme:
    settings = PaddleSettings(
        keys=tuple(secret.encode() for secret in config.secrets or () if secret),
        tolerance=DEFAULT_TOLERANCE if config.tolerance is None else config.tolerance,
    )
    return Scheme(
        verify=lambda request: verify_paddle(request, settings),
        reads_headers=frozenset({SIGNATURE_HEADER}),
        identify=identify_paddle,
    )
