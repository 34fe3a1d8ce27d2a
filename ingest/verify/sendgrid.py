"""Scheme `sendgrid` (Twilio SendGrid Event Webhook): ECDSA P-256 / SHA-256 over `timestamp + raw body`.

`X-Twilio-Email-Event-Webhook-Signature` carries the base64 of a DER-encoded ECDSA signature, and
`X-Twilio-Email-Event-Webhook-Timestamp` the signed timestamp, used as sent (sendgrid 6.12.5
`EventWebhook.verify_signature`). The receiver holds only SendGrid's public key (`public_key`: the base64 DER
SubjectPublicKeyInfo shown in SendGrid's settings), parsed once when the scheme is built.

SendGrid's library checks no freshness, so by default neither do we; an explicit `tolerance` bounds the
timestamp both ways. A body is a batch of events, each with its own `sg_event_id`, so there is no one event
id or type to extract.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_public_key

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import InboundRequest, Rejected, Scheme, check_freshness, parse_timestamp, require_header

SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"

#: No freshness bound unless configured: SendGrid's own verifier has none.
DEFAULT_TOLERANCE = float("inf")

_ALGORITHM = ec.ECDSA(hashes.SHA256())


@dataclass(frozen=True, slots=True)
class SendGridSettings:
    public_key: ec.EllipticCurvePublicKey
    tolerance: float


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """SendGrid's verification key from its base64 DER form; ValueError unless it is a P-256 public key."""
    try:
        der = base64.b64decode("".join(text.split()), validate=True)
        key = load_der_public_key(der)
    except (binascii.Error, ValueError, UnsupportedAlgorithm):
        raise ValueError("sendgrid public_key must be the base64 DER of an ECDSA P-256 public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("sendgrid public_key must be an ECDSA P-256 public key")
    return key


def verify_sendgrid(request: InboundRequest, settings: SendGridSettings) -> None:
    encoded = require_header(request, SIGNATURE_HEADER)
    timestamp = require_header(request, TIMESTAMP_HEADER)
    if not (encoded.isascii() and timestamp.isascii()):
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    if settings.tolerance != float("inf"):
        check_freshness(parse_timestamp(timestamp), request.now, settings.tolerance)
    try:
        signature = base64.b64decode(encoded, validate=True)
        decode_dss_signature(signature)  # only to tell a malformed signature from a wrong one
    except (binascii.Error, ValueError):
        raise Rejected(IngestRejection.MALFORMED_HEADER) from None
    try:
        settings.public_key.verify(signature, timestamp.encode() + request.body, _ALGORITHM)
    except InvalidSignature:
        raise Rejected(IngestRejection.BAD_SIGNATURE) from None


def build(config: VerifyConfig) -> Scheme:
    if config.public_key is None:
        raise ValueError("scheme sendgrid needs 'public_key'")
    settings = SendGridSettings(
        public_key=load_public_key(config.public_key),
        tolerance=DEFAULT_TOLERANCE if config.tolerance is None else config.tolerance,
    )
    return Scheme(
        verify=lambda request: verify_sendgrid(request, settings),
        reads_headers=frozenset({SIGNATURE_HEADER, TIMESTAMP_HEADER}),
    )
