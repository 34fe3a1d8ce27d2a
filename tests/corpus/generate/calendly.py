"""Writes tests/corpus/webhooks/providers/calendly.json: Calendly webhooks signed with Python's hmac as Calendly's
docs describe (`Calendly-Webhook-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{body}">`, a `t` older than
3 minutes refused). Calendly publishes no verifier library, so every verdict is `basis: documented`.

Needs nothing beyond Python 3. Run from the repository root:
    python3 tests/corpus/generate/calendly.py
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from preset_cases import (
    DEFAULT_NOW,
    case_record,
    compact_json,
    derived_secret,
    documented_provenance,
    write_corpus,
)

PROVIDER = "calendly"
CURRENT = derived_secret(PROVIDER, "current", 43)
PREVIOUS = derived_secret(PROVIDER, "previous", 43)
OTHER = derived_secret(PROVIDER, "other", 43)
TOLERANCE = 180
SENT = DEFAULT_NOW - 4
DOCS = "Calendly developer docs, 'Webhook signatures' (Calendly-Webhook-Signature, the 3-minute tolerance)"
SIGNED_BY = 'Python hmac, t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{body}">'


def invitee(event: str = "invitee.created", name: str = "Ada Lovelace") -> bytes:
    return compact_json({
        "created_at": "2025-12-31T23:59:56.000000Z",
        "created_by": "https://api.calendly.com/users/AAAAAAAAAAAAAAAA",
        "event": event,
        "payload": {
            "email": "ada@example.test", "name": name, "status": "active" if event == "invitee.created" else "canceled",
            "timezone": "Europe/London", "uri": "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2/invitees/"
            "AAAAAAAAAAAAAAAA", "scheduled_event": {"name": "30 Minute Meeting",
                                                    "start_time": "2026-01-05T10:00:00.000000Z"},
            "questions_and_answers": [{"question": "Anything to share?", "answer": "Bring the retry logs"}],
        },
    })


def signature_header(secret: str, t: int | str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def specs() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    body = invitee()

    def add(title: str, body: bytes, header: str | None, *, verdict: str = "accept", reason: str | None = None,
            secrets: list[str] | None = None, signed_with: list[str] | None = None, t: int | None = SENT,
            event: str = "invitee.created", notes: str = "") -> None:
        headers = [["Content-Type", "application/json; charset=utf-8"]]
        headers += [["Calendly-Webhook-Signature", header]] if header is not None else []
        out.append({"title": title, "body": body, "headers": headers, "secrets": secrets or [CURRENT],
                    "verdict": verdict, "reason": reason, "t": t, "event": event, "notes": notes,
                    "signed_with": ["current"] if signed_with is None else signed_with})

    add("valid invitee.created", body, signature_header(CURRENT, SENT, body))
    canceled = invitee("invitee.canceled")
    add("valid invitee.canceled", canceled, signature_header(CURRENT, SENT, canceled), event="invitee.canceled")
    add("body changed after signing", invitee(name="Mallory"), signature_header(CURRENT, SENT, body),
        verdict="reject", reason="tampered_body")
    add("signed with a signing key the receiver lacks", body, signature_header(OTHER, SENT, body),
        verdict="reject", reason="wrong_secret", signed_with=["other"])
    add("rotation: new key configured first, signed with the previous one", body,
        signature_header(PREVIOUS, SENT, body), secrets=[CURRENT, PREVIOUS], signed_with=["previous"])
    stale = DEFAULT_NOW - TOLERANCE - 1
    add("t 181 s old", body, signature_header(CURRENT, stale, body), verdict="reject", reason="stale_timestamp",
        t=stale)
    edge = DEFAULT_NOW - TOLERANCE
    add("t exactly 180 s old: still fresh", body, signature_header(CURRENT, edge, body), t=edge)
    future = DEFAULT_NOW + TOLERANCE + 1
    add("t 181 s ahead", body, signature_header(CURRENT, future, body), verdict="reject", reason="future_timestamp",
        t=future, notes="Calendly's docs bound only the past; hookpipe bounds the future by the same window")
    add("no Calendly-Webhook-Signature header", body, None, verdict="reject", reason="missing_header",
        signed_with=[], t=None)
    add("header without t", body, signature_header(CURRENT, SENT, body).split(",", 1)[1], verdict="reject",
        reason="malformed_header")
    add("t that is not a number, signed as sent", body, signature_header(CURRENT, "soon", body), verdict="reject",
        reason="malformed_header", t=None)
    padded = signature_header(CURRENT, SENT, body) + ",x=1" * 8
    add("header with more items than hookpipe reads (9 or more)", body, padded, verdict="reject",
        reason="malformed_header", notes="a bound of hookpipe's: Calendly sends two items")
    name = "Zoë Ñúñez 山田 👋 مرحبا"
    add("non-ASCII invitee (Latin, CJK, emoji, Arabic)", invitee(name=name),
        signature_header(CURRENT, SENT, invitee(name=name)))
    return out


def main() -> None:
    cases = [
        case_record(
            PROVIDER, number, spec["title"], headers=spec["headers"], body=spec["body"], secrets=spec["secrets"],
            tolerance_s=TOLERANCE, timestamp=spec["t"], signed_with=spec["signed_with"], verdict=spec["verdict"],
            reason=spec["reason"], event_id=None, event_type=spec["event"], basis="documented",
            provenance=documented_provenance(SIGNED_BY, DOCS), notes=spec["notes"],
            signature_headers=["calendly-webhook-signature"],
        )
        for number, spec in enumerate(specs(), start=1)
    ]
    path = write_corpus(PROVIDER, {}, cases)
    print(f"{path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
