"""Scheme `discord` (Discord interactions): an Ed25519 signature of `X-Signature-Timestamp` + the raw body.

Discord signs every interaction it sends to an Interactions Endpoint URL with the application's key; the receiver
holds only the public key (`public_key`: the 64 hex digits shown as "Public Key" in the Developer Portal), parsed
once when the scheme is built. `X-Signature-Ed25519` carries the signature in hex, `X-Signature-Timestamp` the
signed timestamp (Unix seconds), and the signed message is the timestamp's text followed by the body's bytes, as
discord-interactions 0.4.0 `verify_key` builds it.

Freshness: Discord's own verifiers check none. We bound the signed timestamp to 5 minutes either way unless
`tolerance` says otherwise (`none` checks nothing, as they do): Discord sends each interaction once and wants its
answer within 3 seconds, so a genuine request is never more than seconds old, while an unbounded signature would
let a captured interaction be replayed for ever once it has left ingest's dedup window. The cost is that a host
clock more than 5 minutes off refuses every interaction, Discord's own PING included, which shows at once when
the URL is saved in the portal.

Discord's PING (`{"type": 1}`, sent when the URL is saved and now and then after) is answered with a PONG
(`{"type": 1}`) once verified, and never published; an unsigned PING is refused like any other request. Every
other interaction is an event: its `id` (a snowflake) and its `type` (the integer as text: 2 application command,
3 message component, 4 autocomplete, 5 modal submit).
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import (
    Answer,
    Identity,
    InboundRequest,
    Rejected,
    Scheme,
    check_freshness,
    parse_timestamp,
    require_header,
)

SIGNATURE_HEADER = "x-signature-ed25519"
TIMESTAMP_HEADER = "x-signature-timestamp"

#: Seconds the signed timestamp may be away from our clock, either way, unless `tolerance` says otherwise
#: (the module docstring says why there is a bound at all).
DEFAULT_TOLERANCE = 300.0

#: An Ed25519 signature is 64 bytes: 128 hex digits. Anything else is refused before any decoding.
SIGNATURE_HEX_LENGTH = 128
PUBLIC_KEY_HEX_LENGTH = 64

#: Interaction type of Discord's PING, and the PONG it wants back (discord-interactions `InteractionType.PING`,
#: `InteractionResponseType.PONG`).
PING = 1
PONG_BODY = orjson.dumps({"type": 1})

_HEX_DIGITS = frozenset(string.hexdigits)


@dataclass(frozen=True, slots=True)
class DiscordSettings:
    public_key: Ed25519PublicKey
    tolerance: float


def load_public_key(text: str) -> Ed25519PublicKey:
    """The application's public key from its hex form; ValueError unless it is 32 bytes of hex."""
    text = text.strip()
    if len(text) != PUBLIC_KEY_HEX_LENGTH or not set(text) <= _HEX_DIGITS:
        raise ValueError(
            "discord public_key must be the 64 hex digits of the application's Ed25519 public key "
            "(Developer Portal, General Information, Public Key)"
        )
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))


def verify_discord(request: InboundRequest, settings: DiscordSettings) -> None:
    encoded = require_header(request, SIGNATURE_HEADER)
    timestamp = require_header(request, TIMESTAMP_HEADER)
    if len(encoded) != SIGNATURE_HEX_LENGTH or not set(encoded) <= _HEX_DIGITS or not timestamp.isascii():
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    if settings.tolerance != float("inf"):
        # With a bound the timestamp must be Unix seconds; without one it is only text that is signed, as
        # Discord's verifiers treat it.
        check_freshness(parse_timestamp(timestamp), request.now, settings.tolerance)
    try:
        settings.public_key.verify(bytes.fromhex(encoded), timestamp.encode() + request.body)
    except InvalidSignature:
        raise Rejected(IngestRejection.BAD_SIGNATURE) from None


def is_ping(request: InboundRequest) -> bool:
    body = request.json()
    # `type(...) is int`: a JSON true or 1.0 is not Discord's PING.
    return isinstance(body, dict) and type(body.get("type")) is int and body["type"] == PING


async def answer_ping(request: InboundRequest) -> Answer | None:
    """A verified PING's PONG; None for any other interaction (an event)."""
    return Answer(200, PONG_BODY, "discord_ping") if is_ping(request) else None


def identify_discord(request: InboundRequest) -> Identity:
    """The interaction's `id` and its `type` as text (`"2"` for an application command)."""
    return request.json_text("id"), request.json_text("type")


def build(config: VerifyConfig) -> Scheme:
    if config.public_key is None:
        raise ValueError("scheme discord needs 'public_key'")
    settings = DiscordSettings(
        public_key=load_public_key(config.public_key),
        tolerance=DEFAULT_TOLERANCE if config.tolerance is None else config.tolerance,
    )
    return Scheme(
        verify=lambda request: verify_discord(request, settings),
        reads_headers=frozenset({SIGNATURE_HEADER, TIMESTAMP_HEADER}),
        identify=identify_discord,
        answer=answer_ping,
    )
