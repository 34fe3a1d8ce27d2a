"""Scheme `standard-webhooks`: the Standard Webhooks spec, which Svix also sends under `svix-*` names.

Headers `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, or `svix-id`, `svix-timestamp`
and `svix-signature`; each `svix-*` header wins over its `webhook-*` twin, as the svix library decides. The
signature header is a space-separated list of `<version>,<base64>`: each `v1` is the base64 HMAC-SHA256 of
`"{id}.{timestamp}.{body}"`, other versions (`v1a`, the asymmetric variant) are skipped, and a sender rotating its
secret sends one `v1` per secret. Freshness is bounded both ways and checked before the signature, in the
standardwebhooks library's order.
"""

from __future__ import annotations

import base64
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

#: Seconds the signed timestamp may differ from our clock either way: the spec's and the libraries' 5 minutes.
DEFAULT_TOLERANCE = 300.0

#: Entries read from one signature header: one per secret the sender is rotating through, and the cap bounds the
#: work a forged header can cause.
MAX_SIGNATURES = 16

SECRET_PREFIX = "whsec_"

#: The header names, Svix's first: when both are sent, Svix's win.
ID_HEADERS = ("svix-id", "webhook-id")
TIMESTAMP_HEADERS = ("svix-timestamp", "webhook-timestamp")
SIGNATURE_HEADERS = ("svix-signature", "webhook-signature")


def signing_key(secret: str) -> bytes:
    """The HMAC key of a secret, derived as the standardwebhooks library derives it, so both ends agree on it:
    base64 after an optional `whsec_` prefix, padding added, characters outside the alphabet skipped. A secret
    without the prefix is base64 too. b"" when nothing usable decodes (that secret then never matches)."""
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX) + "==")
    except ValueError:  # bad length, or not ASCII
        return b""


def first_header(request: InboundRequest, names: tuple[str, ...]) -> str:
    """The first of `names` the request carries (Rejected as require_header would be)."""
    for name in names:
        if name in request.headers:
            return require_header(request, name)
    raise Rejected(IngestRejection.MISSING_HEADER)


def parse_signatures(value: str) -> list[bytes]:
    """The decoded `v1` signatures; Rejected('malformed_header') for an entry that is not `<version>,<value>`
    or a `v1` whose base64 cannot be decoded. The base64 is decoded as leniently as the library decodes it
    (stray characters skipped), which accepts nothing more: the 32 bytes must still match."""
    entries = value.split()
    if len(entries) > MAX_SIGNATURES:
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    signatures = []
    for entry in entries:
        version, *values = entry.split(",")
        if len(values) != 1 or not version:
            raise Rejected(IngestRejection.MALFORMED_HEADER)
        text = values[0]
        if version != "v1":
            continue
        try:
            signatures.append(base64.b64decode(text))
        except ValueError:  # binascii.Error, or not ASCII
            raise Rejected(IngestRejection.MALFORMED_HEADER) from None
    return signatures


def expected_signature(key: bytes, message_id: bytes, timestamp: int, body: bytes) -> bytes:
    mac = hmac.new(key, b"%s.%d." % (message_id, timestamp), hashlib.sha256)
    mac.update(body)
    return mac.digest()


def verify_standard_webhooks(request: InboundRequest, keys: list[bytes], tolerance: float) -> None:
    message_id = first_header(request, ID_HEADERS)
    timestamp = first_header(request, TIMESTAMP_HEADERS)
    signatures = first_header(request, SIGNATURE_HEADERS)
    signed_at = parse_timestamp(timestamp)
    check_freshness(signed_at, request.now, tolerance)
    presented = parse_signatures(signatures)
    try:
        # The id as it came over the wire: aiohttp decodes header bytes as UTF-8 with surrogateescape.
        id_bytes = message_id.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise Rejected(IngestRejection.MALFORMED_HEADER) from None
    if not matches_any(presented, [expected_signature(key, id_bytes, signed_at, request.body) for key in keys]):
        raise Rejected(IngestRejection.BAD_SIGNATURE)


def identify_standard_webhooks(request: InboundRequest) -> Identity:
    """The message id header (the same on every retry, the spec's idempotency key) and the body's `type`."""
    message_id = next((request.headers[name] for name in ID_HEADERS if name in request.headers), None)
    return message_id, request.json_text("type")


def build(config: VerifyConfig) -> Scheme:
    # A secret that decodes to no key is dropped: an empty HMAC key would let anyone sign.
    keys = [key for key in (signing_key(secret) for secret in config.secrets or ()) if key]
    tolerance = DEFAULT_TOLERANCE if config.tolerance is None else config.tolerance
    return Scheme(
        verify=lambda request: verify_standard_webhooks(request, keys, tolerance),
        reads_headers=frozenset(TIMESTAMP_HEADERS + SIGNATURE_HEADERS),
        identify=identify_standard_webhooks,
    )
