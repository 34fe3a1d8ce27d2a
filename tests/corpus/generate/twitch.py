"""Writes tests/corpus/webhooks/providers/twitch.json: Twitch EventSub webhook messages signed with Python's hmac
as Twitch's docs describe (`Twitch-Eventsub-Message-Signature: sha256=<hex HMAC-SHA256 of message id + timestamp +
raw body>`, a message older than 10 minutes refused). Twitch publishes no verifier library, so every verdict is
`basis: documented`; the callback verification's answer is the body's `challenge`, as text/plain with 200.

Needs nothing beyond Python 3. Run from the repository root:
    python3 tests/corpus/generate/twitch.py
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from typing import Any

from preset_cases import (
    DEFAULT_NOW,
    answer_record,
    case_record,
    compact_json,
    derived_secret,
    derived_uuid,
    documented_provenance,
    write_corpus,
)

PROVIDER = "twitch"
CURRENT = derived_secret(PROVIDER, "current", 40)
PREVIOUS = derived_secret(PROVIDER, "previous", 40)
OTHER = derived_secret(PROVIDER, "other", 40)
TOLERANCE = 600
DOCS = ("Twitch developer docs, EventSub 'Handling webhook events' (Verifying the event message; Responding to a "
        "challenge request)")
SIGNED_BY = "Python hmac, sha256=<hex HMAC-SHA256 of message id + timestamp + raw body>"
CHALLENGE = "pogchamp-kappa-360noscope-vohiyo"


def rfc3339(unix: float, digits: int = 9) -> str:
    """A Twitch-style timestamp: UTC, `Z`, with `digits` fraction digits (Twitch sends nanoseconds)."""
    whole = int(unix // 1)
    moment = datetime.datetime.fromtimestamp(whole, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{round((unix - whole) * 10**digits):0{digits}d}" if digits else ""
    return f"{moment}.{fraction}Z" if digits else f"{moment}Z"


#: When Twitch sent the usual messages: 1.365765374 s before the receiver's clock, in nanoseconds as Twitch sends.
SENT = rfc3339(DEFAULT_NOW - 2, digits=0).replace("Z", ".634234626Z")


def subscription(kind: str, status: str) -> dict[str, Any]:
    return {"id": derived_uuid(PROVIDER, f"subscription-{kind}"), "status": status, "type": kind, "version": "2"
            if kind == "channel.follow" else "1", "cost": 0,
            "condition": {"broadcaster_user_id": "1337", "moderator_user_id": "1337"}
            if kind == "channel.follow" else {"broadcaster_user_id": "1337", "user_id": "1337"},
            "transport": {"method": "webhook", "callback": "https://hooks.example.test/ingest/twitch"},
            "created_at": "2025-12-31T23:50:12.634234626Z"}


def follow() -> bytes:
    return compact_json({"subscription": subscription("channel.follow", "enabled"), "event": {
        "user_id": "1234", "user_login": "cool_user", "user_name": "Cool_User", "broadcaster_user_id": "1337",
        "broadcaster_user_login": "cooler_user", "broadcaster_user_name": "Cooler_User",
        "followed_at": "2025-12-31T23:59:58.17106713Z"}})


def chat_message(text: str) -> bytes:
    return compact_json({"subscription": subscription("channel.chat.message", "enabled"), "event": {
        "broadcaster_user_id": "1337", "broadcaster_user_login": "cooler_user", "chatter_user_id": "4145994",
        "chatter_user_login": "viewer32", "chatter_user_name": "Viewer32", "message_id": derived_uuid(PROVIDER, "chat"),
        "message": {"text": text, "fragments": [{"type": "text", "text": text}]}, "message_type": "text"}})


def verification() -> bytes:
    return compact_json({"challenge": CHALLENGE,
                         "subscription": subscription("channel.follow", "webhook_callback_verification_pending")})


def revocation() -> bytes:
    return compact_json({"subscription": subscription("channel.follow", "authorization_revoked")})


def sign(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), (message_id + timestamp).encode() + body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


def specs() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    body = follow()

    def add(title: str, body: bytes, *, secret: str | None = CURRENT, timestamp: str = SENT,
            kind: str = "notification", subscription_type: str = "channel.follow", signature: str | None = None,
            drop: str | None = None, verdict: str = "accept", reason: str | None = None,
            secrets: list[str] | None = None, event_type: str | None = None, notes: str = "") -> None:
        number = len(out) + 1
        message_id = derived_uuid(PROVIDER, f"message-{number}")
        if signature is None and secret is not None:
            signature = sign(secret, message_id, timestamp, body)
        headers = [["Content-Type", "application/json"], ["Twitch-Eventsub-Message-Id", message_id],
                   ["Twitch-Eventsub-Message-Retry", "0"], ["Twitch-Eventsub-Message-Type", kind],
                   ["Twitch-Eventsub-Message-Signature", signature or ""],
                   ["Twitch-Eventsub-Message-Timestamp", timestamp],
                   ["Twitch-Eventsub-Subscription-Type", subscription_type],
                   ["Twitch-Eventsub-Subscription-Version", "2" if subscription_type == "channel.follow" else "1"]]
        if secret is None and signature is None:
            drop = "Twitch-Eventsub-Message-Signature"
        headers = [pair for pair in headers if pair[0] != drop]
        names = {CURRENT: "current", PREVIOUS: "previous", OTHER: "other"}
        out.append({"title": title, "body": body, "headers": headers, "secrets": secrets or [CURRENT],
                    "verdict": verdict, "reason": reason, "timestamp": timestamp, "notes": notes,
                    "signed_with": [names[secret]] if secret else [], "message_id": message_id,
                    "event_type": event_type or subscription_type})

    add("valid notification, channel.follow", body)
    add("body changed after signing", body.replace(b"cool_user", b"evil_user"), signature=sign(
        CURRENT, derived_uuid(PROVIDER, "message-2"), SENT, body), verdict="reject", reason="tampered_body")
    add("signed with a secret the receiver lacks", body, secret=OTHER, verdict="reject", reason="wrong_secret")
    add("rotation: new secret configured first, signed with the previous one", body, secret=PREVIOUS,
        secrets=[CURRENT, PREVIOUS])
    add("timestamp 10 min 1 s old", body, timestamp=rfc3339(DEFAULT_NOW - TOLERANCE - 1), verdict="reject",
        reason="stale_timestamp")
    add("timestamp 10 min 1 s ahead", body, timestamp=rfc3339(DEFAULT_NOW + TOLERANCE + 1), verdict="reject",
        reason="future_timestamp", notes="Twitch's docs bound only the past; hookpipe bounds the future the same")
    add("timestamp 9 min 59.999999999 s old, nanoseconds", body,
        timestamp=rfc3339(DEFAULT_NOW - TOLERANCE).replace(".000000000Z", ".000000001Z"))
    add("timestamp without a fraction", body, timestamp=rfc3339(DEFAULT_NOW - 2, digits=0))
    add("no Twitch-Eventsub-Message-Signature header", body, secret=None, verdict="reject",
        reason="missing_header")
    add("no Twitch-Eventsub-Message-Id header", body, drop="Twitch-Eventsub-Message-Id", verdict="reject",
        reason="missing_header")
    add("timestamp as Unix seconds, signed as sent", body, timestamp=str(DEFAULT_NOW - 2), verdict="reject",
        reason="malformed_header")
    add("timestamp with 10 fraction digits, signed as sent", body,
        timestamp=rfc3339(DEFAULT_NOW - 2).replace("Z", "0Z"), verdict="reject", reason="malformed_header")
    add("signature without its sha256= prefix", body, signature=sign(
        CURRENT, derived_uuid(PROVIDER, "message-13"), SENT, body).removeprefix("sha256="), verdict="reject",
        reason="malformed_header")
    chat = chat_message("Grüße aus Zürich 👋 東京 مرحبا n\u0303")
    add("non-ASCII chat message (Latin, emoji, CJK, Arabic, combining mark)", chat,
        subscription_type="channel.chat.message")
    add("revocation: published with the type revocation", revocation(), kind="revocation",
        event_type="revocation")
    add("webhook_callback_verification, signed: answered with the challenge", verification(),
        kind="webhook_callback_verification", verdict="handshake")
    add("forged webhook_callback_verification (another secret): refused, not answered", verification(),
        secret=OTHER, kind="webhook_callback_verification", verdict="reject", reason="wrong_secret")
    add("unsigned webhook_callback_verification: refused, not answered", verification(), secret=None,
        kind="webhook_callback_verification", verdict="reject", reason="missing_header")
    return out


def main() -> None:
    cases = []
    for number, spec in enumerate(specs(), start=1):
        answer = answer_record(200, "text/plain", CHALLENGE.encode()) if spec["verdict"] == "handshake" else None
        cases.append(case_record(
            PROVIDER, number, spec["title"], headers=spec["headers"], body=spec["body"], secrets=spec["secrets"],
            tolerance_s=TOLERANCE, timestamp=spec["timestamp"], signed_with=spec["signed_with"],
            verdict=spec["verdict"], reason=spec["reason"], event_id=spec["message_id"],
            event_type=spec["event_type"], answer=answer, basis="documented",
            provenance=documented_provenance(SIGNED_BY, DOCS), notes=spec["notes"],
            signature_headers=["twitch-eventsub-message-signature"],
        ))
    path = write_corpus(PROVIDER, {}, cases)
    print(f"{path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
