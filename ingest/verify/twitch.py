"""Scheme `twitch` (EventSub over webhooks): `Twitch-Eventsub-Message-Signature: sha256=<hex>`.

Twitch's EventSub docs ("Handling webhook events", Verifying the event message): the signature is `sha256=` and
the hex HMAC-SHA256, keyed with the secret given when the subscription was created (UTF-8), of the
`Twitch-Eventsub-Message-Id` header, the `Twitch-Eventsub-Message-Timestamp` header and the raw body,
concatenated as sent. The docs tell a receiver to refuse a message whose timestamp is more than 10 minutes old
and to dedupe on the message id (ingest's dedup does, with the id below); one more than 10 minutes ahead of our
clock is refused too. The timestamp is RFC 3339 with up to nanoseconds (`2023-07-19T10:11:12.123456789Z`),
parsed strictly and only when short. Each subscription has its own secret; every configured one is tried.

`Twitch-Eventsub-Message-Type` (not signed) says what the message is:
- `webhook_callback_verification`: Twitch's check of a new subscription, answered after verification with the
  body's `challenge` as `text/plain` and never published (one without a challenge is refused, 400);
- `notification`: published, its type `Twitch-Eventsub-Subscription-Type` (`channel.follow`);
- `revocation`: published with the type `revocation`, so a route can send revocations to whoever must
  resubscribe; the revoked subscription's type and status are in the body (`subscription.type`, `.status`).
Any other message type is published with its message type as the type.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import (
    Answer,
    Identity,
    InboundRequest,
    Rejected,
    Scheme,
    check_freshness,
    hmac_keys,
    matches_any,
    require_header,
)

#: Seconds the message timestamp may be away from our clock, either way: the 10 minutes of Twitch's docs.
DEFAULT_TOLERANCE = 600.0

#: Characters of a timestamp header parsed: `YYYY-MM-DDTHH:MM:SS.fffffffff+HH:MM` is 35.
MAX_TIMESTAMP_LENGTH = 35

#: Characters of a message id (Twitch's are UUIDs, 36): the id is signed and becomes the event's id.
MAX_MESSAGE_ID_LENGTH = 128

SIGNATURE_HEADER = "twitch-eventsub-message-signature"
MESSAGE_ID_HEADER = "twitch-eventsub-message-id"
TIMESTAMP_HEADER = "twitch-eventsub-message-timestamp"
MESSAGE_TYPE_HEADER = "twitch-eventsub-message-type"
SUBSCRIPTION_TYPE_HEADER = "twitch-eventsub-subscription-type"
SIGNATURE_PREFIX = "sha256="

VERIFICATION = "webhook_callback_verification"
NOTIFICATION = "notification"

#: The `handshake answered` log line's name for a callback verification.
CALLBACK_VERIFICATION = "twitch_callback_verification"

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))", re.ASCII
)


def parse_rfc3339(text: str) -> float:
    """Unix seconds from an RFC 3339 date-time; Rejected('malformed_header') for anything else."""
    match = _RFC3339.fullmatch(text) if len(text) <= MAX_TIMESTAMP_LENGTH else None
    if match is None:
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    try:
        # datetime checks the calendar (no 31 April); a leap second (60) is not accepted.
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)  # the offset is applied below
    except ValueError:
        raise Rejected(IngestRejection.MALFORMED_HEADER) from None
    sign, offset_hours, offset_minutes = match.group(8, 9, 10)
    offset = 0
    if sign is not None:
        if int(offset_hours) > 23 or int(offset_minutes) > 59:
            raise Rejected(IngestRejection.MALFORMED_HEADER)
        offset = (int(offset_hours) * 60 + int(offset_minutes)) * 60 * (1 if sign == "+" else -1)
    fraction = float(f"0.{match.group(7)}") if match.group(7) else 0.0
    return moment.timestamp() - offset + fraction


def signed_message(request: InboundRequest) -> tuple[bytes, bytes, float]:
    """The presented signature, the signed prefix (message id and timestamp as sent) and the timestamp."""
    message_id = require_header(request, MESSAGE_ID_HEADER)
    timestamp = require_header(request, TIMESTAMP_HEADER)
    presented = require_header(request, SIGNATURE_HEADER)
    if not message_id.isascii() or len(message_id) > MAX_MESSAGE_ID_LENGTH:
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    moment = parse_rfc3339(timestamp)
    if not presented.startswith(SIGNATURE_PREFIX) or not presented.isascii():
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    return presented.encode(), (message_id + timestamp).encode(), moment


def expected_signature(key: bytes, prefix: bytes, body: bytes) -> bytes:
    mac = hmac.new(key, prefix, hashlib.sha256)
    mac.update(body)
    return SIGNATURE_PREFIX.encode() + mac.hexdigest().encode()


def verify_twitch(request: InboundRequest, keys: list[bytes], tolerance: float) -> None:
    presented, prefix, moment = signed_message(request)
    if not matches_any([presented], [expected_signature(key, prefix, request.body) for key in keys]):
        raise Rejected(IngestRejection.BAD_SIGNATURE)
    check_freshness(moment, request.now, tolerance)


async def answer_twitch(request: InboundRequest) -> Answer | None:
    """The body's `challenge`, as is, for a (verified) callback verification; None for every other message."""
    if request.headers.get(MESSAGE_TYPE_HEADER) != VERIFICATION:
        return None
    body = request.json()
    challenge = body.get("challenge") if isinstance(body, dict) else None
    if not isinstance(challenge, str):
        raise Rejected(IngestRejection.BAD_REQUEST, status=400)  # nothing to answer, and not an event
    return Answer(200, challenge.encode(), CALLBACK_VERIFICATION, "text/plain")


def identify_twitch(request: InboundRequest) -> Identity:
    """The message id, and the subscription type of a notification (`channel.follow`), else the message type
    (`revocation`)."""
    kind = request.headers.get(MESSAGE_TYPE_HEADER)
    if kind is None or kind == NOTIFICATION:
        kind = request.headers.get(SUBSCRIPTION_TYPE_HEADER)
    return request.headers.get(MESSAGE_ID_HEADER), kind


def build(config: VerifyConfig) -> Scheme:
    keys = hmac_keys(config)
    tolerance = DEFAULT_TOLERANCE if config.tolerance is None else config.tolerance
    return Scheme(
        verify=lambda request: verify_twitch(request, keys, tolerance),
        reads_headers=frozenset({SIGNATURE_HEADER}),
        identify=identify_twitch,
        answer=answer_twitch,
    )
