"""Writes tests/corpus/webhooks/providers/pagerduty.json: PagerDuty V3 webhooks signed with Python's hmac as
PagerDuty's docs describe (`X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the raw body>`, one `v1` per active
secret during a rotation). PagerDuty publishes no verifier library (its `pagerduty` and `pdpyras` packages are REST
clients), so every verdict is `basis: documented`. V3 signs no timestamp: there are no freshness cases.

Needs nothing beyond Python 3. Run from the repository root:
    python3 tests/corpus/generate/pagerduty.py
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from preset_cases import case_record, compact_json, derived_secret, documented_provenance, write_corpus

PROVIDER = "pagerduty"
CURRENT = derived_secret(PROVIDER, "current", 64)
PREVIOUS = derived_secret(PROVIDER, "previous", 64)
OTHER = derived_secret(PROVIDER, "other", 64)
DOCS = "PagerDuty developer docs, 'Verifying Signatures' (V3 webhooks, X-PagerDuty-Signature)"
SIGNED_BY = "Python hmac, v1=<hex HMAC-SHA256 of the raw body>"
EVENT_ID = "01DEN2HEKJBWA5J9BGR4YC4VVA"


def incident(title: str = "A little bump in the road", event_type: str = "incident.triggered",
             event_id: str = EVENT_ID) -> bytes:
    return compact_json({"event": {
        "id": event_id, "event_type": event_type, "resource_type": "incident",
        "occurred_at": "2025-12-31T23:59:58.000Z",
        "agent": {"html_url": "https://acme.pagerduty.com/users/PLH1HKV", "id": "PLH1HKV",
                  "self": "https://api.pagerduty.com/users/PLH1HKV", "summary": "Tenex Engineer",
                  "type": "user_reference"},
        "client": None,
        "data": {"id": "PGR0VU2", "type": "incident", "self": "https://api.pagerduty.com/incidents/PGR0VU2",
                 "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2", "number": 2,
                 "status": "triggered" if event_type == "incident.triggered" else "acknowledged",
                 "incident_key": "d3640fbd41094207a1c11e58e46b1662", "title": title, "urgency": "high"},
    }})


def v1(secret: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def specs() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    body = incident()

    def add(title: str, body: bytes, header: str | None, *, verdict: str = "accept", reason: str | None = None,
            secrets: list[str] | None = None, signed_with: list[str] | None = None,
            event: tuple[str, str] = (EVENT_ID, "incident.triggered"), notes: str = "") -> None:
        headers = [["Content-Type", "application/json"], ["User-Agent", "PagerDuty-Webhook/V3.0"],
                   ["X-Webhook-Id", event[0]], ["X-Webhook-Subscription", "PY1OQHC"]]
        headers += [["X-PagerDuty-Signature", header]] if header is not None else []
        out.append({"title": title, "body": body, "headers": headers, "secrets": secrets or [CURRENT],
                    "verdict": verdict, "reason": reason, "event": event, "notes": notes,
                    "signed_with": ["current"] if signed_with is None else signed_with})

    add("valid incident.triggered", body, v1(CURRENT, body))
    add("body changed after signing", incident("A big bump in the road"), v1(CURRENT, body), verdict="reject",
        reason="tampered_body")
    add("signed with a secret the receiver lacks", body, v1(OTHER, body), verdict="reject", reason="wrong_secret",
        signed_with=["other"])
    add("PagerDuty's rotation: one v1 per active secret, the receiver has the new one", body,
        f"{v1(OTHER, body)},{v1(CURRENT, body)}", signed_with=["other", "current"])
    add("the receiver's rotation: two secrets configured, signed with the previous one", body, v1(PREVIOUS, body),
        secrets=[CURRENT, PREVIOUS], signed_with=["previous"])
    add("a version hookpipe does not know beside a valid v1", body, f"v2=deadbeef, {v1(CURRENT, body)}",
        notes="PagerDuty's docs: other versions may be added; a receiver checks the v1 entries")
    add("no X-PagerDuty-Signature header", body, None, verdict="reject", reason="missing_header", signed_with=[])
    add("signature without its v1= version", body, v1(CURRENT, body).removeprefix("v1="), verdict="reject",
        reason="malformed_header")
    add("only versions hookpipe does not know", body, "v0=" + v1(CURRENT, body).removeprefix("v1="),
        verdict="reject", reason="malformed_header")
    add("signature in upper-case hex", body, "v1=" + v1(CURRENT, body).removeprefix("v1=").upper(),
        verdict="reject", reason="bad_signature", notes="the docs compare the hex text as sent")
    add("more signatures than hookpipe reads (9), the valid one last", body,
        ",".join([v1(OTHER, body)] * 8 + [v1(CURRENT, body)]), verdict="reject", reason="malformed_header",
        signed_with=["other", "current"], notes="a bound of hookpipe's: PagerDuty sends one v1 per active secret")
    acknowledged = incident("Überlast in Zürich — 東京リージョン 🔥 تنبيه", "incident.acknowledged",
                            "01DEN2HEKJBWA5J9BGR4YC4VVB")
    add("non-ASCII incident title (Latin, CJK, emoji, Arabic), incident.acknowledged", acknowledged,
        v1(CURRENT, acknowledged), event=("01DEN2HEKJBWA5J9BGR4YC4VVB", "incident.acknowledged"))
    return out


def main() -> None:
    cases = [
        case_record(
            PROVIDER, number, spec["title"], headers=spec["headers"], body=spec["body"], secrets=spec["secrets"],
            tolerance_s=None, timestamp=None, signed_with=spec["signed_with"], verdict=spec["verdict"],
            reason=spec["reason"], event_id=spec["event"][0], event_type=spec["event"][1], basis="documented",
            provenance=documented_provenance(SIGNED_BY, DOCS), notes=spec["notes"],
            signature_headers=["x-pagerduty-signature"],
        )
        for number, spec in enumerate(specs(), start=1)
    ]
    path = write_corpus(PROVIDER, {}, cases)
    print(f"{path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
