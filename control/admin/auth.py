"""The admin API's one credential: `Authorization: Bearer <admin.token>` on every request but /healthz.

The token is compared with hmac.compare_digest, in time that does not depend on how much of it matches, so the
answer's timing does not leak it a byte at a time. Neither the token nor the header is ever logged or echoed: a
refusal says only which of the closed set of Refusals it was.
"""

from __future__ import annotations

import hmac
from enum import StrEnum

#: The scheme `Authorization` must name (compared without regard to case, as HTTP schemes are).
SCHEME = "bearer"

#: What a 401 answers in `WWW-Authenticate`: the scheme a client must use.
CHALLENGE = 'Bearer realm="hookpipe admin"'


class Refusal(StrEnum):
    """Why a request was refused: the `reason` label of hookpipe_admin_unauthorized_total."""

    MISSING = "missing"  # no Authorization header
    MALFORMED = "malformed"  # not `Bearer <token>`
    WRONG = "wrong"  # a bearer token that is not admin.token


#: What a 401's detail says for each refusal.
DETAILS = {
    Refusal.MISSING: "send Authorization: Bearer <admin token>",
    Refusal.MALFORMED: "the Authorization header must be Bearer <admin token>",
    Refusal.WRONG: "the bearer token is not the admin token",
}


def check_bearer(authorization: str | None, token: str) -> Refusal | None:
    """None when `authorization` (the header's value) carries `token` as a bearer token, else why not."""
    if authorization is None:
        return Refusal.MISSING
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != SCHEME or not credentials.strip():
        return Refusal.MALFORMED
    # Bytes, so any header value compares (compare_digest refuses non-ASCII str); surrogateescape keeps
    # undecodable bytes distinct instead of raising.
    given = credentials.strip().encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(given, token.encode("utf-8")):
        return Refusal.WRONG
    return None
