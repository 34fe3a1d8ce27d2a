"""Writes tests/corpus/webhooks/providers/zoom.json: Zoom webhooks signed with Python's hmac as Zoom's docs
describe (`v0=` + hex HMAC-SHA256 of `v0:{x-zm-request-timestamp}:{body}`) and judged by Zoom's own
@zoom/rivet (zoom_judge.mjs: its AwsLambdaReceiver, which verifies the signature and answers
`endpoint.url_validation`).

Rivet checks no freshness, and Zoom publishes no window: the stale and future cases are hookpipe's 300 s window
(`basis: documented`), with Rivet's own result (it accepts them) kept in `provenance`.

Needs, in a scratch directory (not the repository):
    mkdir -p /tmp/hp-corpus-js && cd /tmp/hp-corpus-js && npm install @zoom/rivet@0.4.0
Run from the repository root:
    python3 tests/corpus/generate/zoom.py --node-modules /tmp/hp-corpus-js/node_modules
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
    answer_record,
    case_record,
    compact_json,
    derived_secret,
    judge_with_node,
    write_corpus,
)

PROVIDER = "zoom"
RIVET_VERSION = "0.4.0"
CURRENT = derived_secret(PROVIDER, "current", 22)
PREVIOUS = derived_secret(PROVIDER, "previous", 22)
OTHER = derived_secret(PROVIDER, "other", 22)
TOLERANCE = 300
SENT = DEFAULT_NOW - 3
JUDGE = Path(__file__).with_name("zoom_judge.mjs")
DOCS = "Zoom developer docs, 'Using webhooks' (Verify webhook events; Validate your webhook endpoint)"


def meeting_started(topic: str = "Weekly sync") -> bytes:
    return compact_json({
        "event": "meeting.started", "event_ts": SENT * 1000 - 120,
        "payload": {"account_id": "AAAAAABBBB", "object": {
            "id": "85678901234", "uuid": "4444AAAiAAAAAiAiAiiAii==", "host_id": "x1yCzABCDEfg23HiJKl4mN",
            "topic": topic, "type": 2, "start_time": "2025-12-31T23:57:57Z", "timezone": "Europe/Zurich",
            "duration": 30}},
    })


def url_validation(plain_token: str) -> bytes:
    return compact_json({"payload": {"plainToken": plain_token}, "event_ts": SENT * 1000,
                         "event": "endpoint.url_validation"})


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def headers_for(timestamp: str | None, signature: str | None) -> list[list[str]]:
    headers = [["Content-Type", "application/json; charset=utf-8"], ["User-Agent", "Zoom Marketplace/1.1a"]]
    headers += [["x-zm-request-timestamp", timestamp]] if timestamp is not None else []
    return headers + ([["x-zm-signature", signature]] if signature is not None else [])


def specs() -> list[dict[str, Any]]:
    """Each case before judging: title, request, receiver, the verdict it is built to get and its basis."""
    out: list[dict[str, Any]] = []
    body, sent = meeting_started(), str(SENT)

    def add(title: str, body: bytes, timestamp: str | None, signature: str | None, *, verdict: str = "accept",
            reason: str | None = None, secrets: list[str] | None = None, signed_with: list[str] | None = None,
            basis: str = "library", notes: str = "") -> None:
        out.append({"title": title, "body": body, "headers": headers_for(timestamp, signature),
                    "secrets": secrets or [CURRENT], "timestamp": timestamp, "verdict": verdict, "reason": reason,
                    "signed_with": ["current"] if signed_with is None else signed_with, "basis": basis,
                    "notes": notes})

    add("valid meeting.started", body, sent, sign(CURRENT, sent, body))
    add("body changed after signing", meeting_started("Weekly sync (moved)"), sent, sign(CURRENT, sent, body),
        verdict="reject", reason="tampered_body")
    add("signed with a secret token the receiver lacks", body, sent, sign(OTHER, sent, body), verdict="reject",
        reason="wrong_secret", signed_with=["other"])
    add("rotation: new token configured first, signed with the previous one", body, sent,
        sign(PREVIOUS, sent, body), secrets=[CURRENT, PREVIOUS], signed_with=["previous"],
        notes="Rivet takes one token: judged with each configured token, accepted when one accepts")
    stale = str(DEFAULT_NOW - TOLERANCE - 1)
    add("timestamp 301 s old", body, stale, sign(CURRENT, stale, body), verdict="reject",
        reason="stale_timestamp", basis="documented",
        notes="Rivet checks no freshness and accepts; Zoom publishes no window: hookpipe's 300 s refuses it")
    future = str(DEFAULT_NOW + TOLERANCE + 1)
    add("timestamp 301 s ahead", body, future, sign(CURRENT, future, body), verdict="reject",
        reason="future_timestamp", basis="documented",
        notes="Rivet checks no freshness and accepts; Zoom publishes no window: hookpipe's 300 s refuses it")
    add("no x-zm-signature header", body, sent, None, verdict="reject", reason="missing_header", signed_with=[])
    add("no x-zm-request-timestamp header", body, None, sign(CURRENT, sent, body), verdict="reject",
        reason="missing_header")
    add("signature without its v0= prefix", body, sent, sign(CURRENT, sent, body).removeprefix("v0="),
        verdict="reject", reason="malformed_header")
    add("timestamp that is not a number, signed as sent", body, "yesterday", sign(CURRENT, "yesterday", body),
        verdict="reject", reason="malformed_header")
    add("non-ASCII topic (Latin, CJK, emoji, RTL)", meeting_started("Café ☕ 東京 👋 שלום"), sent,
        sign(CURRENT, sent, meeting_started("Café ☕ 東京 👋 שלום")))
    validation = url_validation("qgg8vlvZRS6UYooatFL8Aw")
    add("endpoint.url_validation, signed: answered with the encrypted token", validation, sent,
        sign(CURRENT, sent, validation), verdict="handshake")
    add("endpoint.url_validation during a rotation, signed with the previous token: answered with it",
        validation, sent, sign(PREVIOUS, sent, validation), verdict="handshake", secrets=[CURRENT, PREVIOUS],
        signed_with=["previous"], notes="the token that verified the request is the one Zoom checks the answer with")
    add("forged endpoint.url_validation (another token): refused, not answered", validation, sent,
        sign(OTHER, sent, validation), verdict="reject", reason="wrong_secret", signed_with=["other"])
    add("unsigned endpoint.url_validation: refused, not answered", validation, sent, None, verdict="reject",
        reason="missing_header", signed_with=[])
    return out


def record(number: int, spec: dict[str, Any], judged: dict[str, Any]) -> dict[str, Any]:
    if spec["basis"] == "library" and judged["verdict"] != spec["verdict"]:
        raise SystemExit(f"zoom-{number:03d} {spec['title']}: Rivet says {judged}")
    answer = None
    if spec["verdict"] == "handshake":
        token = judged["answer"]
        answer = answer_record(200, "application/json", compact_json(
            {"plainToken": token["plainToken"], "encryptedToken": token["encryptedToken"]}))
    event_type = None if spec["verdict"] != "accept" else "meeting.started"
    return case_record(
        PROVIDER, number, spec["title"], headers=spec["headers"], body=spec["body"], secrets=spec["secrets"],
        tolerance_s=TOLERANCE, timestamp=int(spec["timestamp"]) if (spec["timestamp"] or "").isdigit() else None,
        signed_with=spec["signed_with"], verdict=spec["verdict"], reason=spec["reason"], event_id=None,
        event_type=event_type, answer=answer, basis=spec["basis"],
        provenance={
            "signed_by": "computed-by-stdlib: Python hmac, v0= + hex HMAC-SHA256 of v0:{timestamp}:{body}",
            "verified_by": f"@zoom/rivet {RIVET_VERSION} AwsLambdaReceiver({{webhooksSecretToken}}).start()(event)",
            "library_result": judged["verdict"], "library_detail": judged["detail"], "source": DOCS,
        },
        notes=spec["notes"], signature_headers=["x-zm-signature"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node-modules", type=Path, required=True)
    node_modules = parser.parse_args().node_modules
    built = specs()
    verdicts = judge_with_node(JUDGE, node_modules, [
        {"headers": spec["headers"], "body_b64": base64.b64encode(spec["body"]).decode(), "secrets": spec["secrets"]}
        for spec in built
    ])
    cases = [record(number, spec, judged) for number, (spec, judged) in enumerate(zip(built, verdicts, strict=True), 1)]
    path = write_corpus(PROVIDER, {"@zoom/rivet": RIVET_VERSION, "node": NODE_VERSION}, cases)
    print(f"{path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
