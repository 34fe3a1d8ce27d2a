"""Writes tests/corpus/webhooks/providers/okta.json.

Okta publishes no event-hook verifier (its SDKs call the management API; npm and PyPI searched), so every case
is basis "documented": judged with Python's stdlib as Okta's docs describe (developer.okta.com/docs/concepts/
event-hooks and "Event hook implementation"): the admin's authentication secret sent as the whole value of the
authentication field (`Authorization` unless the admin names another header), and the one-time verification
GET carrying `X-Okta-Verification-Challenge`, answered `{"verification": "<value>"}` (and sent with the
authentication header too). Nothing in the body is signed, so there is no tampered-body case: TLS protects it.
No published example vector is included. Installs nothing; run from the repository root:
`python tests/corpus/generate/okta.py`.
"""

from __future__ import annotations

import hmac
import json
import platform
from typing import Any

import provider_cases as pc

PROVIDER = "okta"
GENERATOR = "tests/corpus/generate/okta.py"
SOURCE = ("Okta developer docs, Event hooks (developer.okta.com/docs/concepts/event-hooks) and Event hook "
          "implementation (developer.okta.com/docs/guides/event-hook-implementation): authentication field and "
          "secret, one-time verification request")
CUSTOM_HEADER = "X-Okta-Secret"
CHALLENGE = pc.derived(PROVIDER, "challenge", 40)
EVENT_ID = "b5a188b9-5ece-4636-b041-482ffda96311"


def secret(label: str) -> str:
    return "okta-hook-" + pc.derived(PROVIDER, label)


def delivery(display_name: str, event_id: str = EVENT_ID) -> bytes:
    return json.dumps({
        "eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1",
        "source": "https://example.okta.com/api/v1/eventHooks/whlxrwm8dJm0hOyrs0g4", "eventId": event_id,
        "data": {"events": [{
            "uuid": "79a6f1b2-9e1c-11f0-8f5e-2b7a4c0d1e2f", "published": "2026-01-01T00:00:00.000Z",
            "eventType": "user.session.start", "version": "0", "displayMessage": "User login to Okta",
            "severity": "INFO", "actor": {"id": "00u1a2b3c4d5e6f7g8h9", "type": "User",
                                          "alternateId": "ada@example.com", "displayName": display_name},
            "outcome": {"result": "SUCCESS"}}]},
        "eventTime": "2026-01-01T00:00:01.000Z", "contentType": "application/json",
    }, separators=(",", ":"), ensure_ascii=False).encode()


def documented_verdict(header: str, secrets: list[str], headers: list[list[str]]) -> str:
    """The documented check: the authentication field's whole value equals one of the secrets."""
    values = [value for name, value in headers if name.lower() == header.lower()]
    matched = len(values) == 1 and any(hmac.compare_digest(values[0].encode(), s.encode()) for s in secrets)
    return "accept" if matched else "reject"


def make(title: str, *, auth: str | None, expected: dict[str, Any], secrets: tuple[str, ...] = ("current",),
         header: str | None = None, sent_as: str | None = None, body: bytes | None = None,
         challenge: bool = False, notes: str = "") -> dict[str, Any]:
    configured = header or "Authorization"
    headers: list[list[str]] = [] if challenge else [["Content-Type", "application/json"]]
    if auth is not None:
        headers.append([sent_as or configured, auth])
    if challenge:
        headers.append(["X-Okta-Verification-Challenge", CHALLENGE])
    result = documented_verdict(configured, [secret(label) for label in secrets], headers)
    if (result == "reject") != (expected["verdict"] == "reject"):
        raise AssertionError(f"okta: {title}: documented check says {result}")
    receiver: dict[str, Any] = {"secrets": [secret(label) for label in secrets]}
    if header is not None:
        receiver["header"] = header
    python = f"Python {platform.python_version()} stdlib hmac.compare_digest"
    return pc.case(
        PROVIDER, 0, title,
        request=pc.request(PROVIDER, method="GET" if challenge else "POST", headers=headers,
                           body=b"" if challenge else (body or delivery("Ada Lovelace"))),
        receiver=receiver, signed_with=[], expected=expected, basis="documented",
        provenance={"signed_by": "not signed: the admin's authentication secret sent as the header's value",
                    "verified_by": f"{python}: the documented comparison (okta.documented_verdict)",
                    "library_result": "handshake" if expected["verdict"] == "handshake" else result,
                    "source": SOURCE},
        notes=notes, signature_headers=[configured.lower()],
    )


def cases() -> list[dict[str, Any]]:
    current, previous, other = secret("current"), secret("previous"), secret("other")
    event = pc.accept(EVENT_ID, "com.okta.event_hook")
    answer = json.dumps({"verification": CHALLENGE}, separators=(",", ":")).encode()
    return [
        make("valid delivery: the secret in Authorization", auth=current, expected=event),
        make("rotation: the previous secret, both configured", auth=previous, secrets=("current", "previous"),
             expected=event),
        make("valid delivery with non-ASCII text in the body", auth=current,
             body=delivery("Jürgen Größe 日本", "0c2d4e6f-8a0b-4c2d-9e4f-6a8b0c2d4e6f"),
             expected=pc.accept("0c2d4e6f-8a0b-4c2d-9e4f-6a8b0c2d4e6f", "com.okta.event_hook")),
        make("the admin's own authentication field (header: X-Okta-Secret)", auth=current, header=CUSTOM_HEADER,
             expected=event),
        make("header X-Okta-Secret configured, the secret sent in Authorization", auth=current,
             header=CUSTOM_HEADER, sent_as="Authorization", expected=pc.reject("missing_header")),
        make("wrong secret", auth=other, secrets=("current", "previous"), expected=pc.reject("wrong_secret")),
        make("missing Authorization header", auth=None, expected=pc.reject("missing_header")),
        make("blank Authorization header", auth="", expected=pc.reject("malformed_header")),
        make("one-time verification: GET with the challenge and the secret, answered with the challenge",
             auth=current, challenge=True, expected=pc.handshake(200, "application/json", answer),
             notes="Answered before verification, though the source accepts only POST, once its secret matches."),
        make("verification GET with a wrong secret is refused, the challenge not echoed", auth=other,
             challenge=True, expected=pc.reject("wrong_secret")),
        make("verification GET without the authentication header is refused", auth=None, challenge=True,
             expected=pc.reject("missing_header")),
    ]


def main() -> None:
    print(pc.write(PROVIDER, cases(), generator=GENERATOR, generated_with={"python": platform.python_version()}))


if __name__ == "__main__":
    main()
