"""Scheme `gitlab`: `X-Gitlab-Token` carries the webhook's secret token as it is, compared in constant time.

GitLab signs nothing: the token proves who sent the request but not what, so a source using it should be
reached over TLS only. The id GitLab keeps across retries and manual resends is `Idempotency-Key` (recent
versions). `X-Gitlab-Event-UUID` is no delivery id: it is shared by every hook one request triggers, and taken
from the triggering API request when that carries one. Older GitLab versions send only the per-attempt
`X-Gitlab-Webhook-UUID`, which at least never merges two events.
"""

from __future__ import annotations

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import Identity, InboundRequest, Rejected, Scheme, matches_any, require_header

TOKEN_HEADER = "x-gitlab-token"
EVENT_HEADER = "x-gitlab-event"

#: Where the event id is, best first: stable across retries, then unique per attempt.
ID_HEADERS = ("idempotency-key", "x-gitlab-webhook-uuid")


def verify_gitlab(request: InboundRequest, tokens: tuple[bytes, ...]) -> None:
    # Header text is UTF-8 decoded with surrogateescape: encoding it back gives the bytes sent, and never raises.
    presented = require_header(request, TOKEN_HEADER).encode("utf-8", "surrogateescape")
    if not matches_any([presented], tokens):
        raise Rejected(IngestRejection.BAD_SIGNATURE)


def identify_gitlab(request: InboundRequest) -> Identity:
    event_id = next((request.headers[name] for name in ID_HEADERS if request.headers.get(name)), None)
    return event_id, request.headers.get(EVENT_HEADER)


def build(config: VerifyConfig) -> Scheme:
    tokens = tuple(secret.encode() for secret in config.secrets or () if secret)
    return Scheme(
        verify=lambda request: verify_gitlab(request, tokens),
        reads_headers=frozenset({TOKEN_HEADER}),
        identify=identify_gitlab,
    )
