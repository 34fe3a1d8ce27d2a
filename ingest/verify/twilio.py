"""Scheme `twilio`: `X-Twilio-Signature`, base64 HMAC of the URL Twilio called plus the form parameters.

What is signed (twilio-python 9.13 `RequestValidator`): the full URL, then for each POST parameter sorted by
name, and for a repeated one each distinct value sorted, `name + value`. A JSON body is not signed itself:
Twilio adds `bodySHA256=<hex sha256 of the body>` to the query and signs the URL alone, so the body's hash is
checked too. The key is the account's auth token (primary and secondary: the configured secrets), or a
SharedKey secret when `X-Twilio-Webhooks-Signature-Settings: key=...,algorithm=HMAC_SHA256` names the
algorithm; without that header the algorithm is HMAC-SHA1. Twilio signs no time, so there is no freshness
check; `I-Twilio-Idempotency-Token` is the id to deduplicate on.

The signed URL is `public_url` (the URL configured at Twilio; its own query, if any, is replaced) followed by
`?` and the query string as received. Like the library, the URL is tried with and without its port (Twilio
signs either form depending on the product).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import WIRE, Identity, InboundRequest, Rejected, Scheme, matches_any, require_header

SIGNATURE_HEADER = "x-twilio-signature"
SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
IDEMPOTENCY_HEADER = "i-twilio-idempotency-token"

#: Query parameter carrying the hex SHA-256 of a JSON body.
BODY_HASH_PARAMETER = "bodySHA256"

#: Algorithms Twilio names in the settings header; none named means the legacy auth-token HMAC-SHA1.
ALGORITHMS: dict[str, Callable[..., Any]] = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}
DEFAULT_ALGORITHM = "HMAC_SHA1"

DEFAULT_PORTS = {"https": 443, "http": 80}

#: Form parameters past which a body is refused unparsed. Twilio sends a few dozen (a message with ten media
#: items about 50); parsing and sorting a 1 MiB body of tiny parameters would hold the event loop ~0.4 s.
MAX_FORM_PARAMETERS = 1000


@dataclass(frozen=True, slots=True)
class TwilioSettings:
    keys: tuple[bytes, ...]
    url_forms: tuple[str, ...]  # the configured URL without query, with and without its port


def signature_algorithm(settings_header: str | None) -> str:
    """The algorithm named in `X-Twilio-Webhooks-Signature-Settings` (as twilio-python reads it)."""
    for part in (settings_header or "").split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip() == "algorithm" and value.strip():
            return value.strip().upper()
    return DEFAULT_ALGORITHM


def url_forms(public_url: str) -> tuple[str, ...]:
    """The configured URL without its query, with the default port added and with any port removed.

    ValueError when it is not an absolute http(s) URL.
    """
    parts = urlsplit(public_url.split("?", 1)[0])
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("twilio public_url must be an absolute http:// or https:// URL")
    port = parts.port  # ValueError for a port that is not a number in range
    if port is None:
        host_only = parts.netloc
        with_port = f"{parts.netloc}:{DEFAULT_PORTS[parts.scheme]}"
    else:
        host_only = parts.netloc[: parts.netloc.rindex(":")]
        with_port = parts.netloc
    forms = (parts._replace(netloc=with_port).geturl(), parts._replace(netloc=host_only).geturl())
    return tuple(dict.fromkeys(forms))


def signed_parameters(body: bytes) -> str:
    """The form parameters as Twilio signs them: sorted names, each followed by its sorted distinct values."""
    pairs = parse_qsl(body.decode(*WIRE), keep_blank_values=True, encoding="utf-8", errors="surrogateescape")
    values: dict[str, set[str]] = {}
    for name, value in pairs:
        values.setdefault(name, set()).add(value)
    return "".join(name + value for name in sorted(values) for value in sorted(values[name]))


def verify_twilio(request: InboundRequest, settings: TwilioSettings) -> None:
    presented = require_header(request, SIGNATURE_HEADER)
    if not presented.isascii():
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    digest = ALGORITHMS.get(signature_algorithm(request.headers.get(SETTINGS_HEADER)))
    if digest is None:
        # An algorithm Twilio added after this code: refuse, never guess.
        raise Rejected(IngestRejection.MALFORMED_HEADER)

    query = request.query_string
    suffix = f"?{query}" if query else ""
    body_hashes = parse_qs(query, keep_blank_values=True).get(BODY_HASH_PARAMETER)
    if body_hashes is not None:
        # A JSON body: the URL (with the body's hash in it) is signed, and the body must match that hash.
        body_matches = hmac.compare_digest(
            hashlib.sha256(request.body).hexdigest().encode(), body_hashes[0].encode(*WIRE)
        )
        parameters = ""
    elif request.body.count(b"&") + 1 > MAX_FORM_PARAMETERS:
        raise Rejected(IngestRejection.BAD_SIGNATURE)  # no request Twilio signs has that many parameters
    else:
        body_matches = True
        parameters = signed_parameters(request.body)

    expected = [
        base64.b64encode(hmac.new(key, (url + suffix + parameters).encode(*WIRE), digest).digest())
        for key in settings.keys
        for url in settings.url_forms
    ]
    signature_matches = matches_any([presented.encode()], expected)
    if not (signature_matches and body_matches):
        raise Rejected(IngestRejection.BAD_SIGNATURE)


def identify_twilio(request: InboundRequest) -> Identity:
    # Twilio documents no event type for its webhooks; MessageSid/CallSid name a resource, not a delivery.
    return request.headers.get(IDEMPOTENCY_HEADER), None


def build(config: VerifyConfig) -> Scheme:
    if config.public_url is None:
        raise ValueError("scheme twilio needs 'public_url'")
    settings = TwilioSettings(
        keys=tuple(secret.encode() for secret in config.secrets or () if secret),
        url_forms=url_forms(config.public_url),
    )
    return Scheme(
        verify=lambda request: verify_twilio(request, settings),
        reads_headers=frozenset({SIGNATURE_HEADER, SETTINGS_HEADER}),
        identify=identify_twilio,
    )
