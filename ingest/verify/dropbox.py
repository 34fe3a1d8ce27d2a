"""Scheme `dropbox`: `X-Dropbox-Signature: <hex HMAC-SHA256(body)>`, keyed with the app secret, and Dropbox's
verification request.

Dropbox's Webhooks reference: a notification is a POST whose `X-Dropbox-Signature` header is "the HMAC-SHA256 of
the request body, using your app secret as the key", in hex; there is no timestamp. Before it sends any, Dropbox
checks the URL with a `GET ?challenge=<value>` that the app must answer by echoing the value, with
`Content-Type: text/plain` and `X-Content-Type-Options: nosniff` (Dropbox names the reflected-XSS risk; ingest
adds nosniff to every handshake answer). That GET is unsigned and proves only that the URL answers, so it is
answered before verification (`greet`), whatever the source's `methods` say, and never published; a challenge
longer than MAX_CHALLENGE, repeated, or sent with another method is not echoed.

A notification says only which accounts changed (`list_folder.accounts`, `delta.users`): it has no event id
and no type, so ingest generates an id and dedup cannot recognise a repeated notification.
"""

from __future__ import annotations

from hookpipe.config import VerifyConfig
from ingest.verify import Answer, InboundRequest, Scheme, query_value
from ingest.verify.generic_hmac import body_hmac_settings, verify_hmac

SIGNATURE_HEADER = "x-dropbox-signature"

#: Longest challenge echoed, in characters. Dropbox's are short random strings; the bound keeps an echo from
#: being a way to make ingest answer arbitrary text of any size.
MAX_CHALLENGE = 256

#: Longest query string read for a challenge, in characters (parse_qs's work stays small).
MAX_QUERY = 2 * MAX_CHALLENGE

HANDSHAKE = "dropbox_challenge"


def greet_dropbox(request: InboundRequest) -> Answer | None:
    """The verification GET's challenge, echoed as text/plain 200; None for anything else."""
    if request.method != "GET":
        return None
    challenge = query_value(request, "challenge", max_length=MAX_CHALLENGE, max_query=MAX_QUERY)
    if challenge is None:
        return None
    return Answer(200, challenge.encode("utf-8", "replace"), HANDSHAKE, "text/plain")


def build(config: VerifyConfig) -> Scheme:
    settings = body_hmac_settings(config, header=SIGNATURE_HEADER, prefix="", algorithm="sha256", encoding="hex")
    return Scheme(
        verify=lambda request: verify_hmac(request, settings),
        reads_headers=frozenset({SIGNATURE_HEADER}),
        greet=greet_dropbox,
        greet_methods=frozenset({"GET"}),
    )
