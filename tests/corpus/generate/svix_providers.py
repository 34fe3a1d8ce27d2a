"""Writes tests/corpus/webhooks/providers/resend.json and clerk.json: Resend and Clerk send Svix-signed webhooks
(hookpipe's `standard-webhooks` scheme), so their cases are signed and judged by their own SDKs (basis
"library"), through svix_judge.mjs:

- resend: signed with the standardwebhooks copy resend bundles, judged by `new Resend(key).webhooks.verify(
  {payload, headers: {id, timestamp, signature}, webhookSecret})` with the svix-* headers, as Resend's docs show;
- clerk: signed with standardwebhooks, judged by `verifyWebhook(request, {signingSecret})` from
  `@clerk/backend/webhooks`.

Each SDK takes one secret: a receiver with two (a rotation) accepts what the SDK accepts with either. Date.now is
frozen at the case's `receiver.now`. Needs, in a scratch directory (never the repository):

    mkdir -p /tmp/hp-resend-clerk && cd /tmp/hp-resend-clerk && npm init -y
    npm install resend@6.38.0 @clerk/backend@3.25.0

then, from the repository root:
`python tests/corpus/generate/svix_providers.py --node-modules /tmp/hp-resend-clerk/node_modules`.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import provider_cases as pc
from body_hmac import tampered

GENERATOR = "tests/corpus/generate/svix_providers.py"
JUDGE = Path(__file__).with_name("svix_judge.mjs")
TOLERANCE = 300
SIGNATURE_HEADERS = ["svix-signature", "svix-timestamp"]


def installed(node_modules: Path, package: str) -> str:
    version: str = json.loads((node_modules / package / "package.json").read_text())["version"]
    return version


def run_judge(node_modules: Path, document: dict[str, Any]) -> dict[str, Any]:
    """svix_judge.mjs run from the scratch directory (ES modules resolve packages from the script's folder)."""
    target = node_modules.parent / JUDGE.name
    target.write_text(JUDGE.read_text())
    completed = subprocess.run(["node", str(target)], input=json.dumps(document), capture_output=True, text=True,
                               check=True)
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def secret(provider: str, label: str) -> str:
    return "whsec_" + base64.b64encode(pc.derived_bytes(provider, label)).decode()


def resend_event(email_id: str, subject: str) -> bytes:
    return json.dumps({
        "type": "email.delivered", "created_at": "2026-01-01T00:00:00.000Z",
        "data": {"created_at": "2026-01-01 00:00:00.000000+00", "email_id": email_id,
                 "from": "Acme <onboarding@resend.dev>", "to": ["delivered@resend.dev"], "subject": subject},
    }, ensure_ascii=False).encode()


def clerk_event(user_id: str, first_name: str) -> bytes:
    return json.dumps({
        "data": {"id": user_id, "object": "user", "first_name": first_name, "last_name": "Lovelace",
                 "email_addresses": [{"email_address": "ada@example.org", "id": "idn_29w83yL7CwVlJXylYLxcslromF1"}],
                 "created_at": 1767225590000},
        "object": "event", "type": "user.created", "timestamp": 1767225591000, "instance_id": "ins_2a1b3c4d5e6f",
    }, ensure_ascii=False).encode()


EVENTS = {
    "resend": (resend_event("56761188-7520-42d8-8898-ff6fc54ce618", "Sending this example"),
               resend_event("0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", "Grüße aus Köln ✓ 日本"), "email.delivered"),
    "clerk": (clerk_event("user_29w83sxmDNGwOuEthce5gg56FcC", "Ada"),
              clerk_event("user_2b3c4d5e6f7g8h9i0j1k2l3m4n5", "Jürgen 日本"), "user.created"),
}


def plans(provider: str) -> list[dict[str, Any]]:
    """Each case before signing: title, body, timestamp, who signs, what is sent, who receives, the verdict."""
    body, unicode_body, kind = EVENTS[provider]
    now = pc.NOW
    base = {"body": body, "timestamp": now - 5, "signers": ["current"], "secrets": ["current"], "drop": None,
            "replace": {}, "sent_body": None, "notes": ""}

    def plan(title: str, expected: dict[str, Any], **changes: Any) -> dict[str, Any]:
        return {**base, "title": title, "expected": expected, **changes}

    event = pc.accept  # id and type are filled in once the message id is known
    return [
        plan("valid signature", event(None, kind)),
        plan("rotation: signed with the previous secret, both configured", event(None, kind),
             signers=["previous"], secrets=["current", "previous"]),
        plan("two signatures in the header (the sender rotating), one by the receiver's secret", event(None, kind),
             signers=["other", "current"], notes="Svix sends one v1 signature per secret while rotating."),
        plan("valid signature over a body with non-ASCII text", event(None, kind), body=unicode_body),
        plan("tampered body", pc.reject("tampered_body"), sent_body=tampered(body)),
        plan("wrong secret", pc.reject("wrong_secret"), signers=["other"], secrets=["current", "previous"]),
        plan("stale timestamp: 301 s old", pc.reject("stale_timestamp"), timestamp=now - TOLERANCE - 1),
        plan("future timestamp: 301 s ahead", pc.reject("future_timestamp"), timestamp=now + TOLERANCE + 1),
        plan("missing svix-signature header", pc.reject("missing_header"), drop="svix-signature"),
        plan("missing svix-id header", pc.reject("missing_header"), drop="svix-id"),
        plan("malformed svix-timestamp (not a number)", pc.reject("malformed_header"),
             replace={"svix-timestamp": "soon"}),
    ]


def message_id(provider: str, index: int) -> str:
    return "msg_" + pc.derived(provider, f"msg-{index}", 27).upper()


def build(provider: str, node_modules: Path) -> list[dict[str, Any]]:
    steps = plans(provider)
    to_sign = [{"provider": provider, "secret": secret(provider, signer), "id": message_id(provider, index),
                "timestamp": step["timestamp"], "body_b64": base64.b64encode(step["body"]).decode()}
               for index, step in enumerate(steps) for signer in step["signers"]]
    signatures = iter(run_judge(node_modules, {"sign": to_sign, "judge": []})["signatures"])
    requests = []
    for index, step in enumerate(steps):
        signature = " ".join(next(signatures) for _ in step["signers"])
        headers = {"Content-Type": "application/json", "svix-id": message_id(provider, index),
                   "svix-timestamp": str(step["timestamp"]), "svix-signature": signature, **step["replace"]}
        if step["drop"]:
            del headers[step["drop"]]
        sent = step["sent_body"] if step["sent_body"] is not None else step["body"]
        requests.append(pc.request(provider, headers=[list(pair) for pair in headers.items()], body=sent))
    judged = run_judge(node_modules, {"sign": [], "judge": [
        {"provider": provider, "secrets": [secret(provider, label) for label in step["secrets"]],
         "headers": request["headers"], "body_b64": request["body_b64"], "now": pc.NOW}
        for step, request in zip(steps, requests, strict=True)]})["verdicts"]
    return [finish(provider, index, step, request, verdict, node_modules)
            for index, (step, request, verdict) in enumerate(zip(steps, requests, judged, strict=True))]


def finish(provider: str, index: int, step: dict[str, Any], request: dict[str, Any], verdict: dict[str, Any],
           node_modules: Path) -> dict[str, Any]:
    expected = dict(step["expected"])
    if expected["verdict"] == "accept":
        expected["event_id"] = message_id(provider, index)
    if verdict["verdict"] != expected["verdict"]:
        raise AssertionError(f"{provider}: {step['title']}: the SDK says {verdict}")
    if provider == "resend":
        sdk = f"resend {installed(node_modules, 'resend')}"
        signer = f"{sdk}'s standardwebhooks {installed(node_modules, 'resend/node_modules/standardwebhooks')} sign"
        verifier = f"{sdk} Resend.webhooks.verify({{payload, headers: {{id, timestamp, signature}}, webhookSecret}})"
    else:
        sdk = f"@clerk/backend {installed(node_modules, '@clerk/backend')}"
        signer = f"standardwebhooks {installed(node_modules, 'standardwebhooks')} Webhook.sign"
        verifier = f"{sdk} verifyWebhook(request, {{signingSecret}}) from @clerk/backend/webhooks"
    return pc.case(
        provider, 0, step["title"], request=request,
        receiver={"secrets": [secret(provider, label) for label in step["secrets"]], "tolerance_s": TOLERANCE},
        signed_with=step["signers"], expected=expected, basis="library", timestamp=step["timestamp"],
        provenance={"signed_by": signer, "verified_by": verifier, "library_result": verdict["verdict"],
                    "library_detail": verdict["detail"]},
        notes=step["notes"], signature_headers=SIGNATURE_HEADERS,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--node-modules", type=Path, required=True)
    node_modules = parser.parse_args().node_modules.resolve()
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    versions = {"resend": installed(node_modules, "resend"),
                "resend/standardwebhooks": installed(node_modules, "resend/node_modules/standardwebhooks"),
                "@clerk/backend": installed(node_modules, "@clerk/backend"),
                "standardwebhooks": installed(node_modules, "standardwebhooks"), "node": node}
    for provider, used in (("resend", ("resend", "resend/standardwebhooks")),
                           ("clerk", ("@clerk/backend", "standardwebhooks"))):
        generated_with = {name: versions[name] for name in (*used, "node")}
        print(pc.write(provider, build(provider, node_modules), generator=GENERATOR, generated_with=generated_with))


if __name__ == "__main__":
    main()
