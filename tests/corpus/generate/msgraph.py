"""Writes tests/corpus/webhooks/providers/msgraph.json.

Microsoft publishes no change-notification verifier for plain webhooks (the Graph SDKs create subscriptions;
npm and PyPI searched), so every case is basis "documented": judged with Python's stdlib as "Receive change
notifications through webhooks" (learn.microsoft.com/graph/change-notifications-delivery-webhooks) describes:
each notification's `clientState` must equal the value the subscription was created with, and the validation
POST `?validationToken=<URL-encoded token>` is answered 200 text/plain with the decoded token. Nothing is signed,
so there is no tampered-body case. The validation token is shaped as the docs' example is, with our own
request id. Installs nothing; run from the repository root: `python tests/corpus/generate/msgraph.py`.
"""

from __future__ import annotations

import hmac
import json
import platform
from typing import Any
from urllib.parse import quote_plus

import provider_cases as pc

PROVIDER = "msgraph"
GENERATOR = "tests/corpus/generate/msgraph.py"
SOURCE = ("Microsoft Graph docs, Receive change notifications through webhooks (learn.microsoft.com/graph/"
          "change-notifications-delivery-webhooks): notification endpoint validation, clientState, lifecycle "
          "notifications")
TENANT = "84bd8158-6d4d-4958-8b9f-9d6445542f95"
SUBSCRIPTION = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
TOKEN = "Validation: Testing client application reachability for subscription Request-Id: " \
        "3c9f1e2d-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
JSON = [["Content-Type", "application/json; charset=utf-8"]]


def secret(label: str) -> str:
    return "graph-state-" + pc.derived(PROVIDER, label)


def created(state: str, message: str = "AAMkAGUwNjQ4ZjIxAAA=", subject: str | None = None) -> dict[str, Any]:
    notification: dict[str, Any] = {
        "id": "lsgTZMr9KwAAA", "subscriptionId": SUBSCRIPTION,
        "subscriptionExpirationDateTime": "2026-01-03T00:00:00.0000000+00:00", "clientState": state,
        "changeType": "created", "resource": f"Users/{TENANT}/Messages/{message}", "tenantId": TENANT,
        "resourceData": {"@odata.type": "#Microsoft.Graph.Message", "@odata.id": f"Users/{TENANT}/Messages/{message}",
                         "@odata.etag": "W/\"CQAAABYAAADkrWGo7bouTKlsgTZMr9KwAAAUWRHf\"", "id": message},
    }
    if subject is not None:
        notification["resourceData"]["subject"] = subject
    return notification


def lifecycle(state: str) -> dict[str, Any]:
    return {"subscriptionId": SUBSCRIPTION, "subscriptionExpirationDateTime": "2026-01-01T01:00:00.0000000+00:00",
            "tenantId": TENANT, "clientState": state, "lifecycleEvent": "reauthorizationRequired"}


def batch(*notifications: dict[str, Any]) -> bytes:
    return json.dumps({"value": list(notifications)}, ensure_ascii=False).encode()


def documented_verdict(secrets: list[str], body: bytes) -> str:
    """The documented check: a JSON batch whose every notification carries one of the clientState values."""
    try:
        items = json.loads(body)["value"]
    except (ValueError, KeyError, TypeError):
        return "reject"
    ok = isinstance(items, list) and bool(items) and all(
        isinstance(item, dict) and isinstance(item.get("clientState"), str)
        and any(hmac.compare_digest(item["clientState"].encode(), s.encode()) for s in secrets) for item in items)
    return "accept" if ok else "reject"


def make(title: str, body: bytes, expected: dict[str, Any], *, secrets: tuple[str, ...] = ("current",),
         query: str = "", headers: list[list[str]] = JSON, notes: str = "") -> dict[str, Any]:
    configured = [secret(label) for label in secrets]
    result = "handshake" if expected["verdict"] == "handshake" else documented_verdict(configured, body)
    if result != expected["verdict"] and expected["verdict"] != "handshake":
        raise AssertionError(f"msgraph: {title}: documented check says {result}")
    python = f"Python {platform.python_version()} stdlib json, hmac.compare_digest"
    return pc.case(
        PROVIDER, 0, title, request=pc.request(PROVIDER, query=query, headers=headers, body=body),
        receiver={"secrets": configured}, signed_with=[], expected=expected, basis="documented",
        provenance={"signed_by": "not signed: each notification carries the subscription's clientState",
                    "verified_by": f"{python}: the documented check (msgraph.documented_verdict)",
                    "library_result": result, "source": SOURCE},
        notes=notes,
    )


def cases() -> list[dict[str, Any]]:
    current, previous, other = secret("current"), secret("previous"), secret("other")
    published = pc.accept(None, None)
    text = [["Content-Type", "text/plain; charset=utf-8"]]
    return [
        make("one notification with the subscription's clientState", batch(created(current)), published,
             notes="A batch has no single id or type: ingest generates the id."),
        make("a batch of two notifications, both with the clientState",
             batch(created(current), created(current, "AAMkAGUwNjQ4ZjIxAAB=")), published),
        make("rotation: the previous clientState, both configured", batch(created(previous)), published,
             secrets=("current", "previous")),
        make("non-ASCII text in a notification", batch(created(current, subject="Grüße aus Köln ✓ 日本")), published),
        make("lifecycle notification (reauthorizationRequired) with the clientState", batch(lifecycle(current)),
             published, notes="Lifecycle notifications are verified and published like the others."),
        make("another clientState", batch(created(other)), pc.reject("wrong_secret"),
             secrets=("current", "previous")),
        make("one notification of two with another clientState", batch(created(current), created(other)),
             pc.reject("bad_signature"), notes="Every notification must carry a configured clientState."),
        make("a notification without clientState", batch({k: v for k, v in created(current).items()
                                                          if k != "clientState"}), pc.reject("bad_signature")),
        make("a body that is not a notification batch", b'{"clientState": "' + current.encode() + b'"}',
             pc.reject("bad_signature")),
        make("an empty batch", batch(), pc.reject("bad_signature")),
        make("subscription validation: POST ?validationToken= answered with the decoded token", b"",
             pc.handshake(200, "text/plain", TOKEN.encode()), query=f"validationToken={quote_plus(TOKEN)}",
             headers=text, notes="Graph expects the answer within 10 seconds."),
        make("a validation token over the bound is not echoed: verified as a notification", b"",
             pc.reject("bad_signature"), query="validationToken=" + "A" * 1025, headers=text,
             notes="hookpipe echoes at most 1024 characters; an empty body is no notification batch."),
    ]


def main() -> None:
    print(pc.write(PROVIDER, cases(), generator=GENERATOR, generated_with={"python": platform.python_version()}))


if __name__ == "__main__":
    main()
