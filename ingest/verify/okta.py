"""Scheme `okta`: Okta event hooks, authenticated by a static secret in a header, and their one-time
verification.

Okta's event hooks (Okta developer docs, "Event hooks"): the admin sets an "authentication field" (a header
name, `Authorization` here unless `header` says another) and an "authentication secret", and Okta sends that
secret as the header's whole value with every request. Nothing is signed: the secret proves the sender and TLS
protects the body. The value is compared in constant time with every configured secret (a rotation lists the
old and the new).

Before it delivers, Okta verifies the URL once: a GET carrying `X-Okta-Verification-Challenge: <value>`, to be
answered `{"verification": "<value>"}` as JSON. Okta sends the authentication header with it too, so the
challenge is echoed only to a request that carries a configured secret: a GET is answered before verification
(`greet`, with `greet_methods` GET, so a POST-only source still lets Okta's GET in), but `greet` verifies the
header itself first and refuses (missing_header, malformed_header, bad_signature) exactly as for an event.
A GET without the challenge header is left to the source's `methods`.

An event hook's body is one delivery carrying a batch of events (`data.events[]`): its `eventId` (one per
delivery) is the event's id here, and its `eventType` (`com.okta.event_hook`) the type.
"""

from __future__ import annotations

import orjson

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import (
    Answer,
    InboundRequest,
    Rejected,
    Scheme,
    hmac_keys,
    json_identity,
    matches_any,
    require_header,
)

#: Where Okta sends the secret unless the source's `header` names the admin's own authentication field.
DEFAULT_HEADER = "authorization"

CHALLENGE_HEADER = "x-okta-verification-challenge"

#: Longest challenge echoed, in characters. Okta's are short random strings; the bound keeps the answer small.
MAX_CHALLENGE = 256

HANDSHAKE = "okta_verification"


def verify_okta(request: InboundRequest, header: str, secrets: list[bytes]) -> None:
    presented = require_header(request, header)
    if not presented.isascii():
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    if not matches_any([presented.encode()], secrets):
        raise Rejected(IngestRejection.BAD_SIGNATURE)


def greet_okta(request: InboundRequest, header: str, secrets: list[bytes]) -> Answer | None:
    """The verification GET answered with its challenge, once its secret is verified; None for anything else.
    Raises Rejected for a verification GET without a configured secret."""
    if request.method != "GET" or CHALLENGE_HEADER not in request.headers:
        return None
    verify_okta(request, header, secrets)
    challenge = require_header(request, CHALLENGE_HEADER)
    if len(challenge) > MAX_CHALLENGE:
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    return Answer(200, orjson.dumps({"verification": challenge}), HANDSHAKE)


def build(config: VerifyConfig) -> Scheme:
    header = (config.header or DEFAULT_HEADER).lower()
    secrets = hmac_keys(config)  # a blank secret is never accepted: it would match an empty header
    return Scheme(
        verify=lambda request: verify_okta(request, header, secrets),
        reads_headers=frozenset({header}),
        identify=json_identity(("eventId",), ("eventType",)),
        greet=lambda request: greet_okta(request, header, secrets),
        greet_methods=frozenset({"GET"}),
    )
