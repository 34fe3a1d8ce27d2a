"""Scheme `hmac`: a configurable HMAC signature, for providers without a scheme of their own.

Configured by `header` (where the signature is), `prefix` (text before it, such as `sha256=`), `algorithm`
(sha1, sha256, sha512), `encoding` (hex, compared case-insensitively, or base64), `signed` (what is signed: a
template where `{body}` stands for the raw body bytes and `{timestamp}` for the value of `timestamp_header`)
and `tolerance` (how far that timestamp may be from our clock, either way; 300 s unless set). The header holds
one signature; rotation is the receiver's: every configured secret is tried.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import (
    InboundRequest,
    Rejected,
    Scheme,
    check_freshness,
    hmac_keys,
    matches_any,
    parse_timestamp,
    require_header,
)

#: Seconds a signed timestamp may be away from ours, either way, unless `tolerance` says otherwise: the
#: window Stripe, Slack and Standard Webhooks use.
DEFAULT_TOLERANCE = 300.0

BODY_FIELD = "{body}"
TIMESTAMP_FIELD = "{timestamp}"


@dataclass(frozen=True, slots=True)
class HmacSettings:
    keys: tuple[bytes, ...]
    header: str
    prefix: str
    algorithm: str
    encoding: str
    around_body: tuple[bytes, ...]  # the template's pieces between the `{body}`s, `{timestamp}` still in them
    timestamp_header: str | None
    tolerance: float


def signed_bytes(settings: HmacSettings, body: bytes, timestamp: bytes) -> bytes:
    """The template with the raw body (never decoded) and the timestamp put in."""
    return body.join(piece.replace(TIMESTAMP_FIELD.encode(), timestamp) for piece in settings.around_body)


def encode_digest(digest: bytes, encoding: str) -> bytes:
    return digest.hex().encode() if encoding == "hex" else base64.b64encode(digest)


def verify_hmac(request: InboundRequest, settings: HmacSettings) -> None:
    value = require_header(request, settings.header)
    if not value.isascii() or not value.startswith(settings.prefix):
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    presented = value.removeprefix(settings.prefix).strip()
    if settings.encoding == "hex":
        presented = presented.lower()
    timestamp = b""
    if settings.timestamp_header is not None:
        text = require_header(request, settings.timestamp_header)
        check_freshness(parse_timestamp(text), request.now, settings.tolerance)
        timestamp = text.encode()  # parse_timestamp admitted only ASCII digits
    signed = signed_bytes(settings, request.body, timestamp)
    expected = [
        encode_digest(hmac.new(key, signed, settings.algorithm).digest(), settings.encoding) for key in settings.keys
    ]
    if not matches_any([presented.encode()], expected):
        raise Rejected(IngestRejection.BAD_SIGNATURE)


def body_hmac_settings(
    config: VerifyConfig, *, header: str, prefix: str, algorithm: str, encoding: str
) -> HmacSettings:
    """The settings for a provider that signs the raw body alone, with no timestamp, in a header of its own (the
    presets, dropbox, woocommerce)."""
    return HmacSettings(
        keys=tuple(hmac_keys(config)),
        header=header,
        prefix=prefix,
        algorithm=algorithm,
        encoding=encoding,
        around_body=(b"", b""),  # the template `{body}`: nothing before or after it
        timestamp_header=None,
        tolerance=float("inf"),
    )


def build(config: VerifyConfig) -> Scheme:
    if config.header is None:
        raise ValueError("scheme hmac needs 'header'")
    signs_timestamp = TIMESTAMP_FIELD in config.signed
    if signs_timestamp != (config.timestamp_header is not None):
        # A timestamp that is checked but not signed could be changed by anyone; one signed but not sent
        # cannot be put in.
        raise ValueError("scheme hmac: 'signed' has {timestamp} exactly when 'timestamp_header' is set")
    if config.tolerance is not None and config.timestamp_header is None:
        raise ValueError("scheme hmac: 'tolerance' needs a 'timestamp_header' to check")
    timestamp_header = config.timestamp_header.lower() if config.timestamp_header else None
    settings = HmacSettings(
        keys=tuple(secret.encode() for secret in config.secrets or () if secret),
        header=config.header.lower(),
        prefix=config.prefix,
        algorithm=config.algorithm,
        encoding=config.encoding,
        around_body=tuple(piece.encode() for piece in config.signed.split(BODY_FIELD)),
        timestamp_header=timestamp_header,
        tolerance=DEFAULT_TOLERANCE if config.tolerance is None else config.tolerance,
    )
    read = {settings.header} | ({timestamp_header} if timestamp_header else set())
    return Scheme(verify=lambda request: verify_hmac(request, settings), reads_headers=frozenset(read))
