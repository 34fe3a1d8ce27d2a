"""Scheme `msgraph`: Microsoft Graph change notifications, authenticated by the subscription's `clientState`,
and Graph's subscription validation.

Microsoft Graph docs ("Receive change notifications through webhooks"):
- Validation: when a subscription is created (or its notification URL changed), Graph POSTs to the URL with
  `?validationToken=<opaque token, URL-encoded>` and expects, within 10 seconds, 200 with `Content-Type:
  text/plain` and the URL-decoded token as the body. The request is unsigned and proves only that the URL
  answers, so it is answered before verification (`greet`) and never published. A token longer than
  MAX_VALIDATION_TOKEN, or given twice, is not echoed: the request is then verified as a notification.
- Notifications: a POST whose JSON body is `{"value": [notification, ...]}`; each notification carries the
  `clientState` the subscription was created with, a secret only Graph and the receiver know. Nothing is
  signed (TLS protects the body), so every notification's `clientState` must equal one of the configured
  secrets (compared in constant time; a rotation lists the old and the new), or the whole request is refused
  (bad_signature), as is a body that is not such a batch. At most MAX_NOTIFICATIONS are looked at.
- Lifecycle notifications (`lifecycleEvent`: `reauthorizationRequired`, `subscriptionRemoved`, `missed`) have
  the same shape and `clientState`; they are verified and published like the others, for a consumer to act on.

A request is a batch of notifications: it has no single id or type, so ingest generates an id (and dedup
cannot recognise a redelivered batch). The `clientState` stays in the stored body: only headers are stripped.
Rich notifications' `validationTokens` (JWTs over encrypted resource data) are not checked here.
"""

from __future__ import annotations

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import Answer, InboundRequest, Rejected, Scheme, hmac_keys, matches_any, query_value

#: Most notifications one request may carry. Graph batches a few hundred at most; the bound caps the
#: comparisons a hostile body can cause.
MAX_NOTIFICATIONS = 1000

#: Longest validation token echoed, in characters (decoded). Graph's are about 150.
MAX_VALIDATION_TOKEN = 1024

#: Longest query string read for a validation token, in characters: every character percent-encoded, and room
#: for other parameters.
MAX_QUERY = 3 * MAX_VALIDATION_TOKEN + 256

HANDSHAKE = "msgraph_validation"


def greet_msgraph(request: InboundRequest) -> Answer | None:
    """The subscription validation's token, decoded and echoed as text/plain 200; None for anything else."""
    if request.method != "POST":
        return None
    token = query_value(request, "validationToken", max_length=MAX_VALIDATION_TOKEN, max_query=MAX_QUERY)
    if token is None:
        return None
    return Answer(200, token.encode("utf-8", "replace"), HANDSHAKE, "text/plain")


def verify_msgraph(request: InboundRequest, secrets: list[bytes]) -> None:
    document = request.json()
    notifications = document.get("value") if isinstance(document, dict) else None
    if not isinstance(notifications, list) or not notifications or len(notifications) > MAX_NOTIFICATIONS:
        raise Rejected(IngestRejection.BAD_SIGNATURE)
    for notification in notifications:
        state = notification.get("clientState") if isinstance(notification, dict) else None
        if not isinstance(state, str) or not matches_any([state.encode()], secrets):
            raise Rejected(IngestRejection.BAD_SIGNATURE)


def build(config: VerifyConfig) -> Scheme:
    secrets = hmac_keys(config)  # a blank secret is never accepted: it would match an empty clientState
    return Scheme(verify=lambda request: verify_msgraph(request, secrets), greet=greet_msgraph)
