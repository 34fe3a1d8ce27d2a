"""Scheme `bearer`: `Authorization: Bearer <token>`, the token one of the configured secrets."""

from __future__ import annotations

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import InboundRequest, Rejected, Scheme, matches_any, require_header


def verify_bearer(request: InboundRequest, tokens: list[bytes]) -> None:
    kind, _, token = require_header(request, "authorization").partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    # surrogateescape: aiohttp passes undecodable header bytes as surrogates; they must compare, not crash.
    if not matches_any([token.strip().encode("utf-8", "surrogateescape")], tokens):
        raise Rejected(IngestRejection.BAD_SIGNATURE)


def build(config: VerifyConfig) -> Scheme:
    tokens = [secret.encode() for secret in config.secrets or ()]
    return Scheme(verify=lambda request: verify_bearer(request, tokens), reads_headers=frozenset({"authorization"}))
