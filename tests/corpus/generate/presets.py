"""Writes tests/corpus/webhooks/providers/{intercom,vercel,typeform,bitbucket,atlassian}.json.

None of these providers publishes a verifier package (npm and PyPI searched: their SDKs call the API and verify
nothing), so every case is basis "documented": signed and judged with Python's stdlib exactly as the page in
each case's `provenance.source` describes. No published example vector is included: none is known here byte
for byte. Installs nothing; run from the repository root: `python tests/corpus/generate/presets.py`.
"""

from __future__ import annotations

import json
import platform
from dataclasses import replace
from typing import Any

import body_hmac
import provider_cases as pc
from body_hmac import BodyHmacProvider, Event

GENERATOR = "tests/corpus/generate/presets.py"
UNICODE = "Jürgen Größe ✓ 日本語"


def compact(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def intercom_event(topic: str, notification_id: str, name: str) -> Event:
    body = compact({
        "type": "notification_event", "app_id": "a86dr8yl", "id": notification_id, "topic": topic,
        "data": {"type": "notification_event_data", "item": {
            "type": "conversation", "id": "147", "created_at": 1767225500,
            "source": {"type": "conversation", "author": {"type": "user", "name": name}, "body": "<p>Hi</p>"}}},
        "links": {}, "delivery_status": "pending", "delivery_attempts": 1, "delivered_at": 0,
        "first_sent_at": 1767225590, "created_at": 1767225590, "self": None,
    })
    return Event(body, [["Content-Type", "application/json"]], notification_id, topic)


def vercel_event(event_id: str, name: str) -> Event:
    body = compact({
        "id": event_id, "type": "deployment.created", "createdAt": 1767225590000, "region": "iad1",
        "payload": {"deployment": {"id": "dpl_2euZBFqxYdDMDG1jTrHFnNZ2eUVa", "name": name,
                                   "url": "hookpipe-demo-3k2j1h4g5.vercel.app"},
                    "project": {"id": "prj_12HKQaOmR5t5Uy6vdcQsNIiZgHGB"}, "team": {"id": "team_1a2b3c4d"},
                    "user": {"id": "usr_1a2b3c4d"}, "target": "production"},
    })
    return Event(body, [["Content-Type", "application/json"]], event_id, "deployment.created")


def typeform_event(event_id: str, answer: str) -> Event:
    body = compact({
        "event_id": event_id, "event_type": "form_response",
        "form_response": {"form_id": "lT4Z3j", "token": "a3a12ec67a1365927098a606107fac15",
                          "landed_at": "2026-01-01T00:00:00Z", "submitted_at": "2026-01-01T00:00:05Z",
                          "answers": [{"type": "text", "text": answer,
                                       "field": {"id": "JwWggjAKtOkA", "type": "short_text"}}]},
    })
    return Event(body, [["Content-Type", "application/json"], ["User-Agent", "Typeform Webhooks"]],
                 event_id, "form_response")


def bitbucket_event(request_uuid: str, name: str) -> Event:
    body = compact({
        "push": {"changes": [{"new": {"type": "branch", "name": "main",
                                      "target": {"hash": "709d658dc5b6d6afcd46049c2f332ee3f515a67d",
                                                 "message": f"{name}\n"}},
                              "old": {"type": "branch", "name": "main",
                                      "target": {"hash": "1e1d4e1a5b0c7e2f3a4b5c6d7e8f9a0b1c2d3e4f"}},
                              "created": False, "closed": False, "forced": False}]},
        "repository": {"type": "repository", "full_name": "hookpipe/demo",
                       "uuid": "{b7c4c3c8-3f0a-4f8e-9a4b-7a1d2c3e4f50}"},
        "actor": {"type": "user", "display_name": name},
    })
    headers = [["Content-Type", "application/json"], ["User-Agent", "Bitbucket-Webhooks/2.0"],
               ["X-Event-Key", "repo:push"], ["X-Hook-UUID", "5e9c1d2a-0b7f-4c3e-8a6d-1f2e3d4c5b6a"],
               ["X-Request-UUID", request_uuid], ["X-Attempt-Number", "1"]]
    return Event(body, headers, request_uuid, "repo:push")


def atlassian_event(identifier: str, summary: str) -> Event:
    body = compact({
        "timestamp": 1767225590000, "webhookEvent": "jira:issue_created", "issue_event_type_name": "issue_created",
        "user": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Ada"},
        "issue": {"id": "10002", "key": "HP-3", "fields": {"summary": summary,
                                                           "issuetype": {"name": "Task"}}},
    })
    headers = [["Content-Type", "application/json; charset=UTF-8"], ["User-Agent", "Atlassian Webhook HTTP Client"],
               ["X-Atlassian-Webhook-Identifier", identifier], ["X-Atlassian-Webhook-Retry", "0"]]
    return Event(body, headers, identifier, "jira:issue_created")


def specs() -> list[BodyHmacProvider]:
    def without_prefix(spec: BodyHmacProvider) -> str:
        return spec.signature("current", spec.event.body).removeprefix(spec.prefix)

    intercom = BodyHmacProvider(
        "intercom", "X-Hub-Signature", "sha1=", "sha1", "hex",
        "Intercom developer docs, Webhooks > Signed notifications (developers.intercom.com/docs/webhooks): "
        "X-Hub-Signature is sha1= and the hex HMAC-SHA1 of the JSON body keyed with the app's client_secret",
        intercom_event("conversation.user.created", "notif_ccd8a4d0-f965-11e3-a367-c779cae3e1b3", "Ada"),
        intercom_event("conversation.user.replied", "notif_0f3a9b2e-1c4d-4e5f-8a6b-7c8d9e0f1a2b", UNICODE),
        "", "", )
    intercom = _with_malformed(intercom, without_prefix(intercom), "the hex without its sha1= prefix")
    vercel = BodyHmacProvider(
        "vercel", "x-vercel-signature", "", "sha1", "hex",
        "Vercel docs, Webhooks > Securing webhooks (vercel.com/docs/webhooks/webhooks-api#securing-webhooks): "
        "x-vercel-signature is the hex HMAC-SHA1 of the raw body keyed with the webhook's secret",
        vercel_event("uev_3gG3xDT3tcsjKwnD9pvXkGWu", "hookpipe-demo"),
        vercel_event("uev_8aQ2wLx0kd0fRrTj5nVb1Cz7", UNICODE), "", "a blank value")
    typeform = BodyHmacProvider(
        "typeform", "Typeform-Signature", "sha256=", "sha256", "base64",
        "Typeform developer docs, Webhooks > Secure your webhooks (typeform.com/developers/webhooks/"
        "secure-your-webhooks): Typeform-Signature is sha256= and the base64 HMAC-SHA256 of the body",
        typeform_event("01JGXK4Y2J3W6E9C8B7A6Z5Y4X", "Lovelace"),
        typeform_event("01JGXK5A1B2C3D4E5F6G7H8J9K", UNICODE), "", "")
    typeform = _with_malformed(typeform, "sha1=" + without_prefix(typeform), "sha1= where sha256= is documented")
    bitbucket = BodyHmacProvider(
        "bitbucket", "X-Hub-Signature", "sha256=", "sha256", "hex",
        "Bitbucket Cloud docs, Manage webhooks > Secure webhooks (support.atlassian.com/bitbucket-cloud/docs/"
        "manage-webhooks): X-Hub-Signature is sha256= and the hex HMAC-SHA256 of the body keyed with the secret",
        bitbucket_event("3f0c2b1a-6d5e-4f7a-9b8c-0d1e2f3a4b5c", "Fix the build"),
        bitbucket_event("8b7a6c5d-4e3f-4a1b-9c2d-3e4f5a6b7c8d", UNICODE), "", "")
    bitbucket = _with_malformed(bitbucket, "sha1=" + "0" * 40, "a sha1= signature, not the documented sha256=")
    atlassian = BodyHmacProvider(
        "atlassian", "X-Hub-Signature", "sha256=", "sha256", "hex",
        "Jira Cloud platform docs, Webhooks > Secure admin webhooks (developer.atlassian.com/cloud/jira/platform/"
        "webhooks): with a secret, X-Hub-Signature is sha256= and the hex HMAC-SHA256 of the body, as WebSub signs",
        atlassian_event("9a3c6e1f-2b4d-4f8a-8c0e-1d2f3a4b5c6d", "Payment page times out"),
        atlassian_event("4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8", UNICODE), "", "")
    atlassian = _with_malformed(atlassian, "SHA256=" + without_prefix(atlassian),
                                "the method spelled SHA256= (WebSub's names are lower case)")
    return [intercom, vercel, typeform, bitbucket, atlassian]


def _with_malformed(spec: BodyHmacProvider, value: str, why: str) -> BodyHmacProvider:
    return replace(spec, malformed=value, malformed_why=why)


def main() -> None:
    for spec in specs():
        path = pc.write(spec.provider, body_hmac.standard_cases(spec), generator=GENERATOR,
                        generated_with={"python": platform.python_version()})
        print(path)


if __name__ == "__main__":
    main()
