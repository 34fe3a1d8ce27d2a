"""The configuration schema: every section and key of the pipeline file, as frozen pydantic models.

Each model refuses unknown keys and validates its values; validators name the problem, never the value, since a
secret put under the wrong key must not reach a terminal or a log. hookpipe.config.loading reads a file into
these models.
"""


from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from yarl import URL

from hookpipe.config.units import parse_duration, parse_rate, parse_size

#: Secrets shorter than this many bytes are accepted with a warning: short HMAC keys can be brute-forced.
MIN_SECRET_BYTES = 16

#: Names that end up in queue names and URLs: a letter or digit, then letters, digits, `_` or `-`.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")

#: Longest time-out of one delivery attempt (s), so no delivery is held unacked for over 5 minutes.
MAX_DELIVERY_TIMEOUT = 180.0

#: Inbound headers that carry credentials; they are never stored with an event nor forwarded.
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})

#: An HTTP header name (RFC 9110 token).
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

#: What a header value may not hold: CR, LF, NUL and the other control characters but tab (RFC 9110 §5.5).
HEADER_VALUE_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

#: What a URL in the config may not hold (written as `%20`, `%0A`... if meant).
URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")

#: How to make a Standard Webhooks secret, for the error that refuses another one.
MAKE_WHSEC = "python -c \"import base64,os;print('whsec_'+base64.b64encode(os.urandom(32)).decode())\""

Seconds = Annotated[float, BeforeValidator(parse_duration)]
Bytes = Annotated[int, BeforeValidator(parse_size)]
PerSecond = Annotated[float, BeforeValidator(parse_rate)]


def _parse_tolerance(value: object) -> float:
    """A duration, or `none` for no freshness bound (stored as infinity)."""
    if value == "none":
        return math.inf
    return parse_duration(value)


Tolerance = Annotated[float, BeforeValidator(_parse_tolerance)]


def _parse_host_port(value: object) -> str:
    if not isinstance(value, str) or value.rpartition(":")[2].isdigit() is False or ":" not in value:
        raise ValueError("expected host:port, such as 127.0.0.1:8080")
    port = int(value.rpartition(":")[2])
    if not 0 < port < 65536:
        raise ValueError("port must be between 1 and 65535")
    return value


HostPort = Annotated[str, BeforeValidator(_parse_host_port)]


def _header_name(name: str) -> str:
    """`name` if it can be sent as a header name; never repeats it otherwise (it may hold anything)."""
    if not HEADER_NAME.fullmatch(name):
        raise ValueError("a header name is letters, digits and !#$%&'*+-.^_`|~ only")
    return name


def _header_value(value: str, what: str = "") -> str:
    """`value` if it can be sent as a header value: a CR or LF would end the header (or inject another)."""
    if HEADER_VALUE_FORBIDDEN.search(value):
        raise ValueError(f"{what}a header value cannot contain CR, LF or other control characters")
    return value


def _http_url(url: str, what: str) -> str:
    """`url` if hookpipe can connect to it: http(s), a host, nothing to strip and a host yarl can encode."""
    if URL_FORBIDDEN.search(url):
        raise ValueError("a URL cannot contain spaces or control characters (percent-encode them)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL with {what}")
    try:
        host = URL(url).raw_host
    except ValueError:  # yarl's IDNA encoding refuses it: the client could never connect
        host = None
    if not host:
        raise ValueError("the host is not a valid host name (IDNA)")
    return url


HeaderValue = Annotated[str, AfterValidator(_header_value)]


def _drop_empty_secrets(value: object) -> object:
    """Empty strings left by `${VAR:-}` are dropped: an empty HMAC key would let anyone sign."""
    if isinstance(value, list):
        return [item for item in value if item != ""]
    return value


def _require_secrets(value: list[str] | None) -> list[str] | None:
    if value is not None and not value:
        raise ValueError("no secret left after dropping empty ones: set at least one")
    return value


Secrets = Annotated[list[str] | None, BeforeValidator(_drop_empty_secrets), AfterValidator(_require_secrets)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- broker and services -------------------------------------------------------------------------------


def _url_list(value: object) -> object:
    """One URL is a list of one; a YAML list (or tuple) is the cluster's nodes, tried in order."""
    return (value,) if isinstance(value, str) else value


def _amqp_urls(urls: tuple[str, ...]) -> tuple[str, ...]:
    if not urls:
        raise ValueError("expected an AMQP URL or a list of them, not an empty list")
    for number, url in enumerate(urls, 1):
        if urlsplit(url).scheme not in ("amqp", "amqps"):
            where = f" (item {number} of the list)" if len(urls) > 1 else ""
            raise ValueError(f"expected an amqp:// or amqps:// URL{where}")
    return urls


#: `broker.url`: the AMQP URLs of one broker or of a cluster's nodes, in the order a connection tries them.
AmqpUrls = Annotated[tuple[str, ...], BeforeValidator(_url_list), AfterValidator(_amqp_urls)]


class BrokerConfig(_Model):
    url: AmqpUrls = ("amqp://guest:guest@127.0.0.1:5672/",)
    prefix: str = "hookpipe"
    heartbeat: Seconds = 10.0
    #: Nodes each quorum queue is replicated on when hookpipe creates it; None: RabbitMQ's default (every
    #: node of the cluster). Fixed per queue at creation: `rabbitmq-queues grow|shrink` changes existing ones.
    quorum_replicas: Annotated[int, Field(ge=1, le=99)] | None = None

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, prefix: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", prefix):
            raise ValueError("expected letters, digits, '.', '_' or '-' (at most 64)")
        return prefix

    @field_validator("heartbeat")
    @classmethod
    def _heartbeat(cls, heartbeat: float) -> float:
        if not 1 <= heartbeat <= 10:
            raise ValueError("must be between 1s and 10s, so a cut link is noticed quickly")
        return heartbeat


class InFlightLimits(_Model):
    requests: Annotated[int, Field(ge=1)] = 256
    bytes: Bytes = 64 * 1024**2


class IngestConfig(_Model):
    listen: HostPort = "127.0.0.1:8080"
    ops: HostPort = "127.0.0.1:9101"
    max_body: Bytes = 1024**2
    max_in_flight: InFlightLimits = InFlightLimits()
    read_timeout: Seconds = 10.0
    publish_timeout: Seconds = 5.0


#: Longest `router.match_budget` (s): the events behind a slow one for the same destinations wait as long.
MAX_MATCH_BUDGET = 60.0


class RouterConfig(_Model):
    ops: HostPort = "127.0.0.1:9102"
    unrouted: bool = False
    match_budget: Seconds = 2.0

    @field_validator("match_budget")
    @classmethod
    def _bounded_match_budget(cls, budget: float) -> float:
        if not 0 < budget <= MAX_MATCH_BUDGET:
            raise ValueError("must be more than 0 and at most 1m")
        return budget


class DelivererConfig(_Model):
    ops: HostPort = "127.0.0.1:9103"


class ArchiveConfig(_Model):
    """Retention of a stream: the archive, or the delivery log."""

    max_age: Seconds = 7 * 86400.0
    max_bytes: Bytes = 10 * 1024**3


def _archive_off(value: object) -> object:
    # YAML 1.1 reads a bare `off` as false.
    return None if value in (False, "off") else value


#: Shortest admin API token (characters): a bearer token is the only thing between the network and every
#: operator action.
MIN_ADMIN_TOKEN = 16


class AdminConfig(_Model):
    """`hookpipe admin`: the HTTP API (`listen`), its ops listener (metrics, health), the bearer token every
    request but /healthz must carry, and the delivery-log index: a SQLite file (the default), or a
    `postgresql://` URL that several admin replicas share."""

    listen: HostPort = "127.0.0.1:8090"
    ops: HostPort = "127.0.0.1:9104"
    token: str | None = None
    index: str = "hookpipe-index.sqlite3"

    @field_validator("token")
    @classmethod
    def _long_token(cls, token: str | None) -> str | None:
        if token is None or token == "":
            return None  # an unset ${VAR:-}: `hookpipe admin` refuses to start without one
        if len(token) < MIN_ADMIN_TOKEN:
            raise ValueError(f"must be at least {MIN_ADMIN_TOKEN} characters")
        if HEADER_VALUE_FORBIDDEN.search(token) or token != token.strip():
            raise ValueError("must be printable, without spaces around it")
        return token

    @field_validator("index")
    @classmethod
    def _index(cls, index: str) -> str:
        if not index.strip():
            raise ValueError("give a SQLite file path or a postgresql:// URL")
        return index


class LogConfig(_Model):
    level: Literal["debug", "info", "warning", "error"] = "info"


# --- sources -------------------------------------------------------------------------------------------

VerifyScheme = Literal[
    "stripe", "github", "shopify", "slack", "twilio", "standard-webhooks", "paddle", "sendgrid", "mailgun",
    "gitlab", "basic-auth", "bearer", "hmac", "none",
    "zoom", "linear", "intercom", "vercel", "typeform", "pagerduty", "calendly", "okta", "bitbucket", "atlassian",
    "dropbox", "twitch", "woocommerce",
    "discord", "square", "hubspot", "sns", "msgraph",
]

#: Per scheme: the keys it requires and the optional ones it reads (besides `scheme`).
VERIFY_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "stripe": (frozenset({"secrets"}), frozenset({"tolerance"})),
    "github": (frozenset({"secrets"}), frozenset()),
    "shopify": (frozenset({"secrets"}), frozenset()),
    "slack": (frozenset({"secrets"}), frozenset({"tolerance"})),
    "twilio": (frozenset({"secrets", "public_url"}), frozenset()),
    "standard-webhooks": (frozenset({"secrets"}), frozenset({"tolerance"})),
    "paddle": (frozenset({"secrets"}), frozenset({"tolerance"})),
    "sendgrid": (frozenset({"public_key"}), frozenset({"tolerance"})),
    "mailgun": (frozenset({"secrets"}), frozenset({"tolerance"})),
    "gitlab": (frozenset({"secrets"}), frozenset()),
    "basic-auth": (frozenset({"secrets", "username"}), frozenset()),
    "bearer": (frozenset({"secrets"}), frozenset()),
    "hmac": (
        frozenset({"secrets", "header"}),
        frozenset({"algorithm", "encoding", "prefix", "signed", "timestamp_header", "tolerance"}),
    ),
    "none": (frozenset(), frozenset()),
    "zoom": (frozenset({"secrets"}), frozenset({"tolerance"})),
    "linear": (frozenset({"secrets"}), frozenset({"tolerance"})),
    "intercom": (frozenset({"secrets"}), frozenset()),
    "vercel": (frozenset({"secrets"}), frozenset()),
    "typeform": (frozenset({"secrets"}), frozenset()),
    "pagerduty": (frozenset({"secrets"}), frozenset()),
    "calendly": (frozenset({"secrets"}), frozenset({"tolerance"})),
    "okta": (frozenset({"secrets"}), frozenset({"header"})),
    "bitbucket": (frozenset({"secrets"}), frozenset()),
    "atlassian": (frozenset({"secrets"}), frozenset()),
    "dropbox": (frozenset({"secrets"}), frozenset()),
    "twitch": (frozenset({"secrets"}), frozenset({"tolerance"})),
    "woocommerce": (frozenset({"secrets"}), frozenset()),
    "discord": (frozenset({"public_key"}), frozenset({"tolerance"})),
    "square": (frozenset({"secrets", "public_url"}), frozenset()),
    "hubspot": (frozenset({"secrets", "public_url"}), frozenset({"tolerance"})),
    "sns": (frozenset({"topics"}), frozenset({"certificates", "tolerance"})),
    "msgraph": (frozenset({"secrets"}), frozenset()),
}


class VerifyConfig(_Model):
    """How a source proves its requests. `secrets` are tried in order, so a rotation lists old and new."""

    scheme: VerifyScheme
    secrets: Secrets = None
    tolerance: Tolerance | None = None  # None: the provider's documented default; inf: no bound
    public_url: str | None = None  # twilio, square, hubspot: the URL the provider signs
    public_key: str | None = None  # sendgrid: base64 DER of the ECDSA P-256 key; discord: hex Ed25519 key
    username: str | None = None  # basic-auth
    header: str | None = None  # hmac: the signature header; okta: the header carrying the secret
    algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = ""
    signed: str = "{body}"  # hmac: what is signed; `{timestamp}` and `{body}` are replaced
    timestamp_header: str | None = None
    topics: list[str] | None = None  # sns: the topic ARNs whose messages (and subscriptions) are accepted
    certificates: list[str] | None = None  # sns: PEM files of pinned signing certificates (then nothing is fetched)

    @model_validator(mode="after")
    def _keys_fit_scheme(self) -> VerifyConfig:
        required, optional = VERIFY_KEYS[self.scheme]
        given = self.model_fields_set - {"scheme"}
        for key in sorted(required - given):
            raise ValueError(f"scheme {self.scheme} needs '{key}'")
        for key in sorted(given - required - optional):
            raise ValueError(f"'{key}' is not used by scheme {self.scheme}")
        if "{body}" not in self.signed:
            raise ValueError("'signed' must contain {body}")
        if self.scheme == "standard-webhooks":
            for secret in self.secrets or ():
                if secret.startswith("whsec_"):
                    _check_whsec(secret)
        return self


class FieldSource(_Model):
    """Where an event's id or type comes from: one request header, or one JSON path into the body."""

    header: str | None = None
    json_path: str | None = Field(None, alias="json")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _exactly_one(self) -> FieldSource:
        if (self.header is None) == (self.json_path is None):
            raise ValueError("give exactly one of 'header' or 'json'")
        if self.json_path is not None and not re.fullmatch(r"\$(\.[A-Za-z0-9_-]+)+", self.json_path):
            raise ValueError("'json' must be a path such as $.type or $.data.id")
        return self


class DedupConfig(_Model):
    window: Seconds = 3600.0
    max_ids: Annotated[int, Field(ge=1)] = 100_000


def _dedup_off(value: object) -> object:
    return None if value in (False, "off") else value


class HandshakeConfig(_Model):
    meta_verify_token: str | None = None  # Meta's hub.verify_token for the GET subscription check
    zoom_secret_token: str | None = None  # Zoom's endpoint.url_validation


class ResponseConfig(_Model):
    """What the provider gets back once its event is accepted."""

    status: Annotated[int, Field(ge=200, le=299)] = 200
    body: str | None = None
    content_type: HeaderValue = "application/json"


class SourceConfig(_Model):
    verify: VerifyConfig
    unverified: bool = False
    max_body: Bytes | None = None  # None: ingest.max_body
    methods: list[Literal["POST", "PUT", "PATCH", "GET"]] = ["POST"]
    rate_limit: PerSecond | None = None
    dedup: Annotated[DedupConfig | None, BeforeValidator(_dedup_off)] = DedupConfig()
    id: FieldSource | None = None
    type: FieldSource | None = None
    handshake: HandshakeConfig | None = None
    response: ResponseConfig = ResponseConfig()

    @model_validator(mode="after")
    def _unverified_matches_scheme(self) -> SourceConfig:
        if self.verify.scheme == "none" and not self.unverified:
            raise ValueError("scheme none accepts anyone's requests: say 'unverified: true'")
        if self.unverified and self.verify.scheme != "none":
            raise ValueError("'unverified: true' is only for scheme none")
        return self


# --- destinations --------------------------------------------------------------------------------------


class SigningConfig(_Model):
    """How hookpipe signs what it delivers; one signature per secret during a rotation."""

    scheme: Literal["standard-webhooks", "hmac", "none"] = "standard-webhooks"
    secrets: Secrets = None
    header: str | None = None  # hmac
    prefix: str = ""  # hmac
    encoding: Literal["hex", "base64"] = "hex"  # hmac
    algorithm: Literal["sha256", "sha512"] = "sha256"  # hmac

    @model_validator(mode="after")
    def _keys_fit_scheme(self) -> SigningConfig:
        if self.scheme != "none" and self.secrets is None:
            raise ValueError(f"scheme {self.scheme} needs 'secrets' (or say scheme: none)")
        if self.scheme == "hmac" and self.header is None:
            raise ValueError("scheme hmac needs 'header'")
        if self.header is not None:
            _header_name(self.header)
        _header_value(self.prefix, "'prefix': ")
        if self.scheme == "standard-webhooks":
            for secret in self.secrets or ():
                # Receivers (the standardwebhooks libraries, hookpipe's own verifier) base64-decode what follows
                # `whsec_`: a secret in any other form signs with a key no receiver derives from it.
                if not secret.startswith("whsec_"):
                    raise ValueError(
                        "a standard-webhooks secret is whsec_ followed by base64 (Standard Webhooks receivers "
                        f"decode it so); make one with: {MAKE_WHSEC}"
                    )
                _check_whsec(secret)
        hmac_only = {"header", "prefix", "encoding", "algorithm"} & self.model_fields_set
        if self.scheme != "hmac" and hmac_only:
            raise ValueError(f"'{sorted(hmac_only)[0]}' is only for scheme hmac")
        return self


def whsec_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks `whsec_<base64>` secret; ValueError if it is not one."""
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        raise ValueError("a whsec_ secret must be base64 after the prefix") from None
    if not key:
        raise ValueError("a whsec_ secret needs a key after the prefix")
    return key


def _check_whsec(secret: str) -> None:
    whsec_key(secret)


class RetryConfig(_Model):
    schedule: list[Seconds] = [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0]
    max_age: Seconds = 3 * 86400.0

    @field_validator("schedule")
    @classmethod
    def _positive(cls, schedule: list[float]) -> list[float]:
        if any(delay <= 0 for delay in schedule):
            raise ValueError("every retry delay must be positive")
        return schedule


class BreakerConfig(_Model):
    failures: Annotated[int, Field(ge=1)] = 5
    cooldown: Seconds = 30.0
    max_cooldown: Seconds = 600.0


def _networks(value: object) -> object:
    if isinstance(value, list):
        try:
            return [ipaddress.ip_network(_text_only(item), strict=False) for item in value]
        except (TypeError, ValueError):
            raise ValueError("expected true, false, or a list of networks such as 127.0.0.0/8") from None
    return value


def _text_only(item: object) -> str:
    if not isinstance(item, str):
        raise TypeError("a network is written as text, such as 127.0.0.0/8")
    return item


class DestinationConfig(_Model):
    url: str
    timeout: Seconds = 15.0
    signing: SigningConfig
    headers: dict[str, str] = {}
    forward_headers: list[str] = []
    concurrency: Annotated[int, Field(ge=1, le=1000)] = 10
    rate_limit: PerSecond | None = None
    retry: RetryConfig = RetryConfig()
    dead_letter_on: list[Annotated[int, Field(ge=100, le=599)]] = [410]
    breaker: BreakerConfig = BreakerConfig()
    ordering: Literal["unordered", "fifo"] = "unordered"
    follow_redirects: bool = False
    paused: bool = False
    allow_private_network: Annotated[
        bool | list[ipaddress.IPv4Network | ipaddress.IPv6Network], BeforeValidator(_networks)
    ] = False
    proxy: str | None = None  # an explicit egress proxy; the environment's proxy settings are never read

    @model_validator(mode="before")
    @classmethod
    def _signing_defaults_to_standard_webhooks(cls, data: Any) -> Any:
        # Absent `signing` means standard-webhooks, which needs secrets: say so rather than send unsigned.
        if isinstance(data, dict) and "signing" not in data:
            raise ValueError(
                "'signing' is required: {scheme: standard-webhooks, secrets: [...]}, or {scheme: none}"
            )
        return data

    @field_validator("timeout")
    @classmethod
    def _bounded_timeout(cls, timeout: float) -> float:
        # A delivery is never held unacked for more than 5 minutes (memory stays bounded): the attempt's
        # time-out plus up to a minute waiting for the rate limit must stay well inside that.
        if not 0 < timeout <= MAX_DELIVERY_TIMEOUT:
            raise ValueError("must be more than 0 and at most 3m")
        return timeout

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        return _http_url(url, "a host")

    @field_validator("proxy")
    @classmethod
    def _http_proxy(cls, proxy: str | None) -> str | None:
        return None if proxy is None else _http_url(proxy, "the proxy's host")

    @field_validator("forward_headers")
    @classmethod
    def _no_credentials(cls, names: list[str]) -> list[str]:
        lowered = [_header_name(name).lower() for name in names]
        for name in lowered:
            if name in CREDENTIAL_HEADERS:
                raise ValueError(f"'{name}' carries credentials and is never forwarded")
        return lowered

    @field_validator("headers")
    @classmethod
    def _no_hookpipe_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            _header_name(name)
            if name.lower().startswith(("x-hookpipe-", "webhook-")):
                raise ValueError(f"'{name}' is set by hookpipe itself")
            _header_value(value, f"'{name}': ")
        return headers


# --- routes --------------------------------------------------------------------------------------------


class TransformConfig(_Model):
    """EventBridge input-transformer style: either one sub-document, or named paths into a template."""

    body: str | None = None
    paths: dict[str, str] | None = None
    template: Any = None

    @model_validator(mode="after")
    def _one_form(self) -> TransformConfig:
        if (self.body is None) == (self.paths is None):
            raise ValueError("give either 'body' or 'paths' with 'template'")
        if self.paths is not None and self.template is None:
            raise ValueError("'paths' needs a 'template'")
        return self


class RouteConfig(_Model):
    name: str
    sources: list[str] | None = None  # None: every verified source
    filter: dict[str, Any] | None = None
    transform: TransformConfig | None = None
    to: list[str] = Field(min_length=1)


# --- the whole file ------------------------------------------------------------------------------------


class Config(_Model):
    broker: BrokerConfig = BrokerConfig()
    ingest: IngestConfig = IngestConfig()
    router: RouterConfig = RouterConfig()
    deliverer: DelivererConfig = DelivererConfig()
    archive: Annotated[ArchiveConfig | None, BeforeValidator(_archive_off)] = ArchiveConfig()
    delivery_log: Annotated[ArchiveConfig | None, BeforeValidator(_archive_off)] = ArchiveConfig()
    admin: AdminConfig = AdminConfig()
    log: LogConfig = LogConfig()
    sources: dict[str, SourceConfig] = {}
    destinations: dict[str, DestinationConfig] = {}
    routes: list[RouteConfig] = []

    @field_validator("sources", "destinations")
    @classmethod
    def _names(cls, entries: dict[str, Any]) -> dict[str, Any]:
        for name in entries:
            if not NAME_PATTERN.fullmatch(name):
                raise ValueError(f"'{name}': names are letters, digits, '_' and '-' (at most 100)")
        return entries

    @model_validator(mode="after")
    def _routes_refer_to_known_names(self) -> Config:
        seen: set[str] = set()
        for index, route in enumerate(self.routes):
            where = f"routes[{index}]"
            if route.name in seen:
                raise ValueError(f"{where}.name: '{route.name}' is used twice")
            seen.add(route.name)
            for source in route.sources or ():
                if source not in self.sources:
                    raise ValueError(f"{where}.sources: no source named '{source}'")
            for destination in route.to:
                if destination not in self.destinations:
                    raise ValueError(f"{where}.to: no destination named '{destination}'")
        return self
