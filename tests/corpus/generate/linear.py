"""Writes tests/corpus/webhooks/providers/linear.json: Linear webhooks signed with Python's hmac (hex HMAC-SHA256
of the raw body: Linear publishes no signer) and judged by the official @linear/sdk's webhook handler
(`LinearWebhookClient(secret).createHandler()`, linear_judge.mjs), Date.now frozen at `receiver.now`.

Needs, in a scratch directory (not the repository):
    mkdir -p /tmp/hp-corpus-js && cd /tmp/hp-corpus-js && npm install @linear/sdk@98.0.0
Run from the repository root:
    python3 tests/corpus/generate/linear.py --node-modules /tmp/hp-corpus-js/node_modules
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
from pathlib import Path
from typing import Any

from preset_cases import (
    DEFAULT_NOW,
    NODE_VERSION,
    case_record,
    compact_json,
    derived_secret,
    derived_uuid,
    judge_with_node,
    write_corpus,
)

PROVIDER = "linear"
SDK_VERSION = "98.0.0"
CURRENT = "lin_wh_" + derived_secret(PROVIDER, "current")
PREVIOUS = "lin_wh_" + derived_secret(PROVIDER, "previous")
OTHER = "lin_wh_" + derived_secret(PROVIDER, "other")
TOLERANCE = 60
JUDGE = Path(__file__).with_name("linear_judge.mjs")
#: When Linear sent the usual cases (ms): 2 s before the receiver's clock.
SENT_MS = (DEFAULT_NOW - 2) * 1000


def issue_body(webhook_ms: Any = SENT_MS, title: str = "Retry delivery on 503") -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": "create",
        "actor": {"id": derived_uuid(PROVIDER, "actor"), "type": "user", "name": "Ada Lovelace"},
        "createdAt": "2025-12-31T23:59:58.000Z",
        "data": {"id": derived_uuid(PROVIDER, "issue"), "identifier": "ENG-42", "title": title, "priority": 2,
                 "teamId": derived_uuid(PROVIDER, "team")},
        "url": "https://linear.app/acme/issue/ENG-42/retry-delivery-on-503",
        "type": "Issue",
        "organizationId": derived_uuid(PROVIDER, "organization"),
        "webhookTimestamp": webhook_ms,
        "webhookId": derived_uuid(PROVIDER, "webhook"),
    }
    if webhook_ms is None:
        del body["webhookTimestamp"]
    return body


def comment_body() -> dict[str, Any]:
    return {
        "action": "create",
        "createdAt": "2025-12-31T23:59:59.000Z",
        "data": {"id": derived_uuid(PROVIDER, "comment"), "body": "Grüße aus Zürich 👋 — 東京でも再現しました، شكراً",
                 "issueId": derived_uuid(PROVIDER, "issue")},
        "url": "https://linear.app/acme/issue/ENG-42#comment-1",
        "type": "Comment",
        "organizationId": derived_uuid(PROVIDER, "organization"),
        "webhookTimestamp": (DEFAULT_NOW - 1) * 1000 + 250,
        "webhookId": derived_uuid(PROVIDER, "webhook"),
    }


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers_for(delivery: str, event: str, signature: str | None) -> list[list[str]]:
    headers = [["Content-Type", "application/json; charset=utf-8"], ["User-Agent", "Linear-Webhook"],
               ["Linear-Delivery", delivery], ["Linear-Event", event]]
    return headers + ([["Linear-Signature", signature]] if signature is not None else [])


def specs() -> list[dict[str, Any]]:
    """Each case before judging: title, request, receiver and the verdict it is built to get."""
    body = compact_json(issue_body())
    out: list[dict[str, Any]] = []

    def add(title: str, body: bytes, signature: str | None, *, secrets: list[str] | None = None,
            signed_with: list[str] | None = None, verdict: str = "accept", reason: str | None = None,
            event: str = "Issue", timestamp: Any = SENT_MS, notes: str = "") -> None:
        number = len(out) + 1
        out.append({"title": title, "body": body, "secrets": secrets or [CURRENT],
                    "headers": headers_for(derived_uuid(PROVIDER, f"delivery-{number}"), event, signature),
                    "signed_with": signed_with if signed_with is not None else ["current"], "verdict": verdict,
                    "reason": reason, "event_type": event, "timestamp": timestamp, "notes": notes})

    add("valid Issue create", body, sign(CURRENT, body))
    add("body changed after signing", body.replace(b"Retry delivery", b"Drop delivery"), sign(CURRENT, body),
        verdict="reject", reason="tampered_body")
    add("signed with a secret the receiver lacks", body, sign(OTHER, body), signed_with=["other"],
        verdict="reject", reason="wrong_secret")
    add("rotation: new secret configured first, signed with the previous one", body, sign(PREVIOUS, body),
        secrets=[CURRENT, PREVIOUS], signed_with=["previous"],
        notes="the SDK takes one secret: judged with each configured secret, accepted when one accepts")
    stale = compact_json(issue_body((DEFAULT_NOW - TOLERANCE - 1) * 1000))
    add("webhookTimestamp 61 s old", stale, sign(CURRENT, stale), verdict="reject", reason="stale_timestamp",
        timestamp=(DEFAULT_NOW - TOLERANCE - 1) * 1000)
    future = compact_json(issue_body((DEFAULT_NOW + TOLERANCE + 1) * 1000))
    add("webhookTimestamp 61 s ahead", future, sign(CURRENT, future), verdict="reject", reason="future_timestamp",
        timestamp=(DEFAULT_NOW + TOLERANCE + 1) * 1000)
    edge = compact_json(issue_body((DEFAULT_NOW - TOLERANCE) * 1000))
    add("webhookTimestamp exactly 60 s old (the SDK's bound is inclusive)", edge, sign(CURRENT, edge),
        timestamp=(DEFAULT_NOW - TOLERANCE) * 1000)
    untimed = compact_json(issue_body(None))
    add("signed body without webhookTimestamp", untimed, sign(CURRENT, untimed), verdict="reject",
        reason="stale_timestamp", timestamp=None,
        notes="the SDK throws 'Missing webhook timestamp'; hookpipe reads it as stale (it cannot be shown fresh)")
    add("no Linear-Signature header", body, None, signed_with=[], verdict="reject", reason="missing_header")
    add("empty Linear-Signature header", body, "", signed_with=[], verdict="reject", reason="malformed_header")
    add("signature in upper-case hex", body, sign(CURRENT, body).upper(), verdict="reject", reason="bad_signature",
        notes="the SDK compares the hex text as sent")
    comment = compact_json(comment_body())
    add("non-ASCII Comment body (Latin, emoji, CJK, Arabic)", comment, sign(CURRENT, comment), event="Comment",
        timestamp=comment_body()["webhookTimestamp"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node-modules", type=Path, required=True)
    node_modules = parser.parse_args().node_modules
    built = specs()
    verdicts = judge_with_node(JUDGE, node_modules, [
        {"headers": spec["headers"], "body_b64": base64.b64encode(spec["body"]).decode(),
         "secrets": spec["secrets"], "now": DEFAULT_NOW} for spec in built
    ])
    cases = []
    for number, (spec, judged) in enumerate(zip(built, verdicts, strict=True), start=1):
        if judged["verdict"] != spec["verdict"]:
            raise SystemExit(f"linear-{number:03d} {spec['title']}: the SDK says {judged}")
        headers = dict((name.lower(), value) for name, value in spec["headers"])
        cases.append(case_record(
            PROVIDER, number, spec["title"], headers=spec["headers"], body=spec["body"], secrets=spec["secrets"],
            tolerance_s=TOLERANCE, timestamp=spec["timestamp"], signed_with=spec["signed_with"],
            verdict=spec["verdict"], reason=spec["reason"], event_id=headers["linear-delivery"],
            event_type=spec["event_type"], basis="library",
            provenance={
                "signed_by": "computed-by-stdlib: Python hmac, hex HMAC-SHA256 of the raw body",
                "verified_by": f"@linear/sdk {SDK_VERSION} LinearWebhookClient(secret).createHandler()(request)",
                "library_result": judged["verdict"], "library_detail": judged["detail"],
            },
            notes=spec["notes"], signature_headers=["linear-signature"],
        ))
    path = write_corpus(PROVIDER, {"@linear/sdk": SDK_VERSION, "node": NODE_VERSION}, cases)
    print(f"{path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
