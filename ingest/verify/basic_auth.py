"""Scheme `basic-auth`: `Authorization: Basic base64(username:password)` (RFC 7617).

The whole `username:password` is compared, in constant time, with `username` joined to each configured secret,
so a rotation lists the old and the new password. Credentials are UTF-8, the charset RFC 7617 recommends.
"""

from __future__ import annotations

import base64
import binascii

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import InboundRequest, Rejected, Scheme, matches_any, require_header


def verify_basic_auth(request: InboundRequest, credentials: tuple[bytes, ...]) -> None:
    kind, _, encoded = require_header(request, "authorization").partition(" ")
    encoded = encoded.strip()
    if kind.lower() != "basic" or not encoded or not encoded.isascii():
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    try:
        presented = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise Rejected(IngestRejection.MALFORMED_HEADER) from None
    if b":" not in presented:
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    if not matches_any([presented], credentials):
        raise Rejected(IngestRejection.BAD_SIGNATURE)


def build(config: VerifyConfig) -> Scheme:
    if config.username is None:
        raise ValueError("scheme basic-auth needs 'username'")
    credentials = tuple(f"{config.username}:{secret}".encode() for secret in config.secrets or () if secret)
    return Scheme(
        verify=lambda request: verify_basic_auth(request, credentials),
        reads_headers=frozenset({"authorization"}),
    )
