"""Signature schemes: one module per scheme, pure functions of the request, no I/O.

Each module has `build(config: VerifyConfig) -> Scheme`. A scheme's `verify(request)` returns when the request
is authentic and raises Rejected otherwise, with a reason from a closed set; ingest turns that into a status, a
JSON body `{"error": reason}`, a counter and a log line. Secrets are compared in constant time and never appear
in a reason. `identify(request)` gives the provider's own event id and type where the scheme knows them.

A scheme may also answer a provider's handshake (a request that proves the endpoint is ours rather than carries
an event): `greet` before verification, for the unsigned ones, and `answer` after it, for the signed ones. A
scheme whose verification needs I/O (SNS fetches its signing certificate) does it in `prepare`, so `verify`
itself stays pure.
"""

from __future__ import annotations

import hmac
import importlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection

_NOT_PARSED = object()


class InboundRequest:
    """What a scheme may look at.

    `headers`: lower-case names; a repeated header's values joined with ', '. `query_string`: raw, as sent.
    No URL: behind a proxy the request's own URL is not what the provider signed (Twilio's scheme uses its
    configured `public_url`). `now`: Unix seconds, injectable so freshness windows can be tested.
    """

    __slots__ = ("_json", "body", "headers", "method", "now", "query_string")

    def __init__(
        self, *, method: str, query_string: str, headers: Mapping[str, str], body: bytes, now: float
    ) -> None:
        self.method = method
        self.query_string = query_string
        self.headers = headers
        self.body = body
        self.now = now
        self._json: Any = _NOT_PARSED

    def json(self) -> Any:
        """The body parsed as JSON (once), or None when it is not JSON."""
        if self._json is _NOT_PARSED:
            try:
                self._json = orjson.loads(self.body)
            except orjson.JSONDecodeError:
                self._json = None
        return self._json

    def json_text(self, *keys: str) -> str | None:
        """A string or integer at `keys` inside the JSON body, as text; None when absent or not JSON."""
        node = self.json()
        for key in keys:
            if not isinstance(node, dict):
                return None
            node = node.get(key)
        if isinstance(node, bool) or not isinstance(node, str | int):
            return None
        return str(node)


class Rejected(Exception):
    """The request is refused: `reason` says why (its value is the answer's `error`), `status` the HTTP status."""

    def __init__(self, reason: IngestRejection, status: int = 401, *, retry_after: int | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after  # seconds, sent as Retry-After (429 and 503)


#: The provider's event id and type, either possibly unknown.
Identity = tuple[str | None, str | None]


def no_identity(_: InboundRequest) -> Identity:
    return None, None


@dataclass(frozen=True, slots=True)
class Nonce:
    """A single-use value a signature covers, and the Unix time until which that signature stays fresh."""

    value: str
    fresh_until: float


@dataclass(frozen=True, slots=True)
class Answer:
    """A handshake's answer: sent at once, never published. `reason` names the handshake in the `handshake
    answered` log line."""

    status: int
    body: bytes
    reason: str
    content_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class Scheme:
    """A configured scheme.

    - verify: raises Rejected unless the request is authentic and fresh;
    - reads_headers: the headers it reads (signatures, tokens, timestamps), stripped before the event is stored;
    - identify: the provider's event id and type (a source's `id`/`type` settings take precedence);
    - nonce: for a scheme whose signature does not cover the body, the verified request's single-use value, so
      ingest can refuse that signature with another body (ingest/replays.py); None when the body is signed;
    - greet: an unsigned handshake (Dropbox's `?challenge=`, Okta's verification GET), answered before
      verification. It must answer only what proves nothing but that the URL is reachable (an echo), never
      accept an event. It returns None for a request that is not its handshake, and may raise Rejected (Okta
      signs nothing, but its verification GET must carry the shared secret). `greet_methods`: methods it may
      answer beyond the source's `methods`;
    - answer: a signed handshake (Discord's PING, Twitch's callback verification), answered after verification
      instead of publishing;
    - prepare: what `verify` needs fetched first (SNS: the signing certificate); raises Rejected.
    """

    verify: Callable[[InboundRequest], None]
    reads_headers: frozenset[str] = field(default_factory=frozenset)
    identify: Callable[[InboundRequest], Identity] = no_identity
    nonce: Callable[[InboundRequest], Nonce] | None = None
    greet: Callable[[InboundRequest], Answer | None] | None = None
    greet_methods: frozenset[str] = field(default_factory=frozenset)
    answer: Callable[[InboundRequest], Awaitable[Answer | None]] | None = None
    prepare: Callable[[InboundRequest], Awaitable[None]] | None = None


#: Scheme name (the config's `verify.scheme`) -> module under ingest.verify that builds it.
SCHEME_MODULES = {
    "none": "none",
    "bearer": "bearer",
    "basic-auth": "basic_auth",
    "gitlab": "gitlab",
    "hmac": "generic_hmac",
    "stripe": "stripe",
    "standard-webhooks": "standard_webhooks",
    "github": "github",
    "shopify": "shopify",
    "slack": "slack",
    "twilio": "twilio",
    "paddle": "paddle",
    "sendgrid": "sendgrid",
    "mailgun": "mailgun",
    # presets: an HMAC (or a token) with the provider's header, id, type and handshake built in
    "zoom": "zoom",
    "linear": "linear",
    "intercom": "presets",
    "vercel": "presets",
    "typeform": "presets",
    "pagerduty": "pagerduty",
    "calendly": "calendly",
    "okta": "okta",
    "bitbucket": "presets",
    "atlassian": "presets",
    "dropbox": "dropbox",
    "twitch": "twitch",
    "woocommerce": "woocommerce",
    # schemes that are not an HMAC of the body
    "discord": "discord",
    "square": "square",
    "hubspot": "hubspot",
    "sns": "sns",
    "msgraph": "msgraph",
}


def build_scheme(config: VerifyConfig) -> Scheme:
    """The scheme for a source's `verify` block."""
    try:
        module = importlib.import_module(f"ingest.verify.{SCHEME_MODULES[config.scheme]}")
    except ModuleNotFoundError:
        return _not_implemented(config)
    builder: Callable[[VerifyConfig], Scheme] = module.build
    return builder(config)


def _not_implemented(_: VerifyConfig) -> Scheme:
    # The config accepts every scheme of hookpipe.config.VERIFY_KEYS; one not built yet refuses every request
    # rather than let unverified input through.
    def verify(_: InboundRequest) -> None:
        raise Rejected(IngestRejection.SCHEME_NOT_IMPLEMENTED, status=501)

    return Scheme(verify=verify)


# --- helpers every scheme uses ---------------------------------------------------------------------------


def matches_any(presented: Iterable[bytes], expected: Iterable[bytes]) -> bool:
    """Whether any presented signature equals any expected one.

    Every pair is compared in constant time and none stops the loop early, so the timing tells nothing about
    which secret or which signature matched.
    """
    expected = list(expected)
    matched = False
    for candidate in presented:
        for value in expected:
            matched |= hmac.compare_digest(candidate, value)
    return matched


def require_header(request: InboundRequest, name: str) -> str:
    """The header's value; Rejected('missing_header') when absent, 'malformed_header' when blank."""
    value = request.headers.get(name)
    if value is None:
        raise Rejected(IngestRejection.MISSING_HEADER)
    if not value.strip():
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    return value.strip()


def parse_timestamp(text: str) -> int:
    """Unix seconds from a header; Rejected('malformed_header') unless it is a plain integer."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    return int(text)


def query_value(request: InboundRequest, name: str, *, max_length: int, max_query: int) -> str | None:
    """The one non-empty value of query parameter `name`, decoded, at most `max_length` characters; None when it
    is absent, repeated, blank or longer, or when the query is over `max_query` characters (so parsing it stays
    cheap). What an unsigned handshake echoes (Dropbox's challenge, Graph's validation token) is read by this."""
    query = request.query_string
    if not query or len(query) > max_query:
        return None
    values = parse_qs(query, keep_blank_values=True).get(name, [])
    if len(values) != 1 or not values[0] or len(values[0]) > max_length:
        return None
    return values[0]


def header_items(value: str, max_items: int) -> list[tuple[str, str]]:
    """A `k=v,k=v` signature header (Calendly's, PagerDuty's) as (key, value) pairs, each item trimmed and split
    on its first `=`; Rejected('malformed_header') when it is not ASCII or has more than `max_items` items, so a
    forged header cannot make us compute without bound."""
    items = value.split(",", max_items)
    if len(items) > max_items or not value.isascii():
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    pairs = []
    for item in items:
        key, _, text = item.strip().partition("=")
        pairs.append((key, text))
    return pairs


def header_identity(id_header: str | None, type_header: str | None) -> Callable[[InboundRequest], Identity]:
    """An `identify` reading the id and the type from two headers (either may be None: unknown)."""

    def identify(request: InboundRequest) -> Identity:
        return (request.headers.get(id_header) if id_header else None,
                request.headers.get(type_header) if type_header else None)

    return identify


def json_identity(
    id_path: tuple[str, ...] | None, type_path: tuple[str, ...] | None
) -> Callable[[InboundRequest], Identity]:
    """An `identify` reading the id and the type at two key paths of the JSON body (either may be None)."""

    def identify(request: InboundRequest) -> Identity:
        return (request.json_text(*id_path) if id_path else None,
                request.json_text(*type_path) if type_path else None)

    return identify


#: Text from the wire is decoded by aiohttp as UTF-8 with surrogateescape: encoding it back the same way gives
#: the bytes that were sent, and never raises.
WIRE = ("utf-8", "surrogateescape")


def configured_url(public_url: str, scheme: str) -> str:
    """The URL a provider signs, as configured at the provider, without its query (ingest appends the query it
    receives); ValueError unless it is an absolute http(s) URL."""
    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"scheme {scheme}: public_url must be the absolute http:// or https:// URL configured "
                         "at the provider")
    return public_url.split("?", 1)[0].split("#", 1)[0]


def hmac_keys(config: VerifyConfig) -> list[bytes]:
    """The configured secrets as HMAC keys. A blank secret is never a key: an empty key would let anyone sign."""
    return [secret.encode() for secret in config.secrets or () if secret.strip()]


def check_freshness(timestamp: float, now: float, tolerance: float, *, future: bool = True) -> None:
    """Refuse a signed time further than `tolerance` seconds in the past (`stale_timestamp`) or, when the
    provider bounds it, in the future (`future_timestamp`). An infinite tolerance (`none`) checks nothing."""
    if tolerance == float("inf"):
        return
    if timestamp < now - tolerance:
        raise Rejected(IngestRejection.STALE_TIMESTAMP)
    if future and timestamp > now + tolerance:
        raise Rejected(IngestRejection.FUTURE_TIMESTAMP)
