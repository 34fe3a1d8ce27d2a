"""Scheme `github`: `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw body.

GitHub signs with one secret and sends one signature; rotation is ours, trying every configured secret (as
`verifyWithFallback` in @octokit/webhooks-methods does). The legacy `X-Hub-Signature` (HMAC-SHA1) alone is not
enough. There is no timestamp, so replays are only caught by ingest's dedup on `X-GitHub-Delivery`. The comparison
is of the whole `sha256=<lower-case hex>` text, as @octokit/webhooks-methods compares it.
"""

from __future__ import annotations

import hashlib
import hmac

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import Identity, InboundRequest, Rejected, Scheme, matches_any, require_header

SIGNATURE_HEADER = "x-hub-signature-256"

#: GitHub's legacy HMAC-SHA1 signature of the same body with the same secret. Never checked, but stripped with
#: the other: a signature is not kept with an event.
LEGACY_SIGNATURE_HEADER = "x-hub-signature"

SIGNATURE_PREFIX = "sha256="


def expected_signature(key: bytes, body: bytes) -> bytes:
    return SIGNATURE_PREFIX.encode() + hmac.new(key, body, hashlib.sha256).hexdigest().encode()


def verify_github(request: InboundRequest, keys: list[bytes]) -> None:
    presented = require_header(request, SIGNATURE_HEADER)
    if not presented.startswith(SIGNATURE_PREFIX) or not presented.isascii():
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    if not request.body:
        # GitHub always sends a body, and the official verifier refuses an empty one.
        raise Rejected(IngestRejection.BAD_SIGNATURE)
    if not matches_any([presented.encode()], [expected_signature(key, request.body) for key in keys]):
        raise Rejected(IngestRejection.BAD_SIGNATURE)


def identify_github(request: InboundRequest) -> Identity:
    """`X-GitHub-Delivery` (a GUID, the same on a redelivery) and `X-GitHub-Event` (`push`, `pull_request`)."""
    return request.headers.get("x-github-delivery"), request.headers.get("x-github-event")


def build(config: VerifyConfig) -> Scheme:
    # A blank secret is never a key: an empty HMAC key would let anyone sign.
    keys = [secret.encode() for secret in config.secrets or () if secret.strip()]
    return Scheme(
        verify=lambda request: verify_github(request, keys),
        reads_headers=frozenset({SIGNATURE_HEADER, LEGACY_SIGNATURE_HEADER}),
        identify=identify_github,
    )
