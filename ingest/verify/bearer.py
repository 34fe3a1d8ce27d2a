"""Scheme `bearer`: `Authorization: Bearer <token>`, the token one of the configured secrets."""

from __future__ import annotations

import hmac

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Rejected, Scheme


def verify_bearer(request: InboundRequest, tokens: list[bytes]) -> None:
    header = request.headers.get("authorization")
    if header is None:
        raise Rejected("missing_header")
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise Rejected("malformed_header")
    presented = token.strip().encode()
    # Compare against every token, without stopping early, so timing says nothing about which one matched.
    matched = False
    for expected in tokens:
        matched |= hmac.compare_digest(presented, expected)
    if not matched:
        raise Rejected("bad_signature")


def build(config: VerifyConfig) -> Scheme:
    tokens = [secret.encode() for secret in config.secrets or ()]
    return Scheme(verify=lambda request: verify_bearer(request, tokens), reads_headers=frozenset({"authorization"}))
