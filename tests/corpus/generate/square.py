"""Writes tests/corpus/webhooks/providers/square.json: Square webhook notifications judged by Square's own Python
SDK, squareup `square.utils.webhooks_helper.verify_signature`, plus the SDK's published test vectors.

Needs, in a scratch venv outside the repository:
    python -m venv /tmp/sdkvenv
    /tmp/sdkvenv/bin/pip install squareup==46.0.0.20260916 freezegun==1.5.5
Run from the repository root: /tmp/sdkvenv/bin/python tests/corpus/generate/square.py

Square publishes no signer, so the signatures are computed with Python's `hmac` exactly as Square documents them
(base64 HMAC-SHA256 of the notification URL + the body, keyed with the signature key): `signed_by` says
computed-by-stdlib. The SDK takes the notification URL from its caller; each case hands it the URL the request
arrived at (`receiver.public_url` and the query as received), which is how hookpipe rebuilds it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any
from urllib.parse import urlsplit

# This script is square.py, and its folder comes first on sys.path: moved last, `square` is the SDK's package
# and provider_cases (beside this file) still imports.
sys.path.append(sys.path.pop(0))

from freezegun import freeze_time
from provider_cases import NOW, accept, case, derived_bytes, reject, request, write
from square.utils.webhooks_helper import verify_signature

PROVIDER = "square"
GENERATOR = "tests/corpus/generate/square.py"
PUBLIC_URL = "https://hooks.example.test/ingest/square"
SIGNATURE_HEADERS = ["x-square-hmacsha256-signature", "x-square-signature"]

SIGNED_BY = ("computed-by-stdlib: base64(HMAC-SHA256(signature key, notification URL + body)), "
             "Square's documented scheme")
VERIFIED_BY = (f"squareup {version('squareup')} square.utils.webhooks_helper.verify_signature(request_body=..., "
               "signature_header=..., signature_key=..., notification_url=<the URL the request arrived at>)")

# The square-python-sdk test vectors (tests/integration/test_webhooks_helper.py at this commit).
PUBLISHED_SOURCE = ("square/square-python-sdk@ef5c175fb960def97100ed453368829d9c910b35 "
                    "tests/integration/test_webhooks_helper.py")


def signature_key(label: str) -> str:
    """A key shaped like Square's (22 characters of URL-safe base64)."""
    return base64.urlsafe_b64encode(derived_bytes(PROVIDER, label, 16)).decode().rstrip("=")


CURRENT, PREVIOUS, OTHER = signature_key("current"), signature_key("previous"), signature_key("other")


def notification(event_id: str, kind: str, note: str = "Order #1042") -> bytes:
    """A notification as Square sends it: compact JSON of Square's event envelope."""
    payment = {"id": "KkAkhdMsgzn59SM8A89WgKwekxLZY", "amount_money": {"amount": 1250, "currency": "EUR"},
               "status": "COMPLETED", "location_id": "S8GWD5R9QB376", "note": note, "version": 3}
    envelope = {"merchant_id": "6SSW7HV8K2ST5", "type": kind, "event_id": event_id,
                "created_at": "2026-01-01T00:00:00.000Z",
                "data": {"type": "payment", "id": payment["id"], "object": {"payment": payment}}}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


PAYMENT = notification("6a8f5f28-54a1-4eb0-a98a-3111513fd4fc", "payment.updated")
NON_ASCII = notification("b4c3a7d2-8c0e-4f7a-9a53-2f1e3c4d5e6f", "payment.created",
                         note="Café Grüße — 寿司 🍣 x2, مرحبا, n\u0303")


def sign(key: str, url: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), url.encode() + body, hashlib.sha256).digest()).decode()


def headers(signature: str | None, *, legacy: str | None = None) -> list[list[str]]:
    pairs = [["Content-Type", "application/json"], ["User-Agent", "Square Connect v2"],
             ["Square-Version", "2025-10-16"], ["Square-Environment", "Production"]]
    if legacy is not None:
        pairs.append(["X-Square-Signature", legacy])
    if signature is not None:
        pairs.append(["X-Square-HmacSha256-Signature", signature])
    return pairs


def judge(body: bytes, signature: str | None, keys: list[str], url: str) -> bool:
    """squareup's verdict with each configured key (one match is enough); a missing header is a refusal."""
    if signature is None:
        return False
    with freeze_time(datetime.fromtimestamp(NOW, UTC)):
        return any(verify_signature(request_body=body.decode(), signature_header=signature, signature_key=key,
                                    notification_url=url) for key in keys)


def make(title: str, body: bytes, *, signature: str | None, signed_with: list[str], expected: dict[str, Any],
         keys: list[str] | None = None, public_url: str = PUBLIC_URL, query: str = "", basis: str = "library",
         legacy: str | None = None, notes: str = "", source: str | None = None) -> dict[str, Any]:
    keys = keys or [CURRENT]
    arrived_at = public_url + (f"?{query}" if query else "")
    accepted = judge(body, signature, keys, arrived_at)
    if accepted != (expected["verdict"] == "accept"):
        raise SystemExit(f"{title}: squareup says {accepted}, the case expects {expected}")
    sent = request(PROVIDER, query=query, headers=headers(signature, legacy=legacy), body=body)
    if public_url != PUBLIC_URL:  # a published vector: the request went to its own URL
        sent["url"] = arrived_at
        sent["path_suffix"] = urlsplit(public_url).path
    provenance = {"signed_by": "published example" if source else SIGNED_BY, "verified_by": VERIFIED_BY,
                  "library_result": "accept" if accepted else "reject"}
    if source:
        provenance["source"] = source
    return case(PROVIDER, 0, title, request=sent, receiver={"secrets": keys, "public_url": public_url},
                signed_with=signed_with, expected=expected, basis=basis, provenance=provenance, notes=notes,
                signature_headers=SIGNATURE_HEADERS)


def published() -> list[dict[str, Any]]:
    body = (b'{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-'
            b'a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc36'
            b'8e64-01aa-407e-b46e-3231809b1129"}}')
    escaped = b'{"data":{"type":"webhooks","id":">id<"}}'
    return [
        make("published test vector (square-python-sdk), test notification", body,
             signature="GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=", signed_with=["current"],
             keys=["Ibxx_5AKakO-3qeNVR61Dw"], public_url="https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9",
             expected=accept("ac3ac95b-f97d-458c-a6e6-18981597e05f", "webhooks.test_notification"),
             basis="published-example", source=PUBLISHED_SOURCE),
        make("published test vector (square-python-sdk), body with > and <, no event_id", escaped,
             signature="Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U=", signed_with=["current"],
             keys=["signature-key"], public_url="https://webhook.site/webhooks", expected=accept(None, None),
             basis="published-example", source=PUBLISHED_SOURCE,
             notes="no event_id or type in the body: ingest generates the id"),
        make("published test vector (square-python-sdk) at another URL", body,
             signature="GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=", signed_with=["current"],
             keys=["Ibxx_5AKakO-3qeNVR61Dw"], public_url="https://webhook.site/79a4f3a-dcfa-49ee-bac5-9d0edad886b9",
             expected=reject("tampered_url"), basis="published-example", source=PUBLISHED_SOURCE),
    ]


def cases() -> list[dict[str, Any]]:
    query = "tenant=acme&region=eu-west-1"
    with_query = f"{PUBLIC_URL}?{query}"
    return [
        *published(),
        make("valid payment.updated", PAYMENT, signature=sign(CURRENT, PUBLIC_URL, PAYMENT), signed_with=["current"],
             expected=accept("6a8f5f28-54a1-4eb0-a98a-3111513fd4fc", "payment.updated")),
        make("non-ASCII note (accents, CJK, emoji, Arabic, combining tilde)", NON_ASCII,
             signature=sign(CURRENT, PUBLIC_URL, NON_ASCII), signed_with=["current"],
             expected=accept("b4c3a7d2-8c0e-4f7a-9a53-2f1e3c4d5e6f", "payment.created")),
        make("rotation: two keys configured, signed with the previous", PAYMENT,
             signature=sign(PREVIOUS, PUBLIC_URL, PAYMENT), signed_with=["previous"], keys=[CURRENT, PREVIOUS],
             expected=accept("6a8f5f28-54a1-4eb0-a98a-3111513fd4fc", "payment.updated")),
        make("legacy X-Square-Signature beside a valid v2 signature", PAYMENT,
             signature=sign(CURRENT, PUBLIC_URL, PAYMENT), signed_with=["current"],
             legacy=base64.b64encode(hmac.new(CURRENT.encode(), PUBLIC_URL.encode() + PAYMENT,
                                              hashlib.sha1).digest()).decode(),
             expected=accept("6a8f5f28-54a1-4eb0-a98a-3111513fd4fc", "payment.updated"),
             notes="the legacy HMAC-SHA1 header is not checked, but must not be stored"),
        make("notification URL with a query, signed with it", PAYMENT, signature=sign(CURRENT, with_query, PAYMENT),
             signed_with=["current"], query=query,
             expected=accept("6a8f5f28-54a1-4eb0-a98a-3111513fd4fc", "payment.updated"),
             notes="the URL entered at Square has a query; Square calls it and signs it with that query"),
        make("tampered body", PAYMENT.replace(b"1250", b"9250"), signature=sign(CURRENT, PUBLIC_URL, PAYMENT),
             signed_with=["current"], expected=reject("tampered_body")),
        make("signed with a key the receiver does not have", PAYMENT, signature=sign(OTHER, PUBLIC_URL, PAYMENT),
             signed_with=["other"], expected=reject("wrong_secret")),
        make("signed for another notification URL", PAYMENT,
             signature=sign(CURRENT, "https://hooks.example.test/ingest/square-staging", PAYMENT),
             signed_with=["current"], expected=reject("tampered_url")),
        make("query changed after signing", PAYMENT, signature=sign(CURRENT, with_query, PAYMENT),
             signed_with=["current"], query="tenant=other&region=eu-west-1", expected=reject("tampered_url")),
        make("signed with the query, sent without it", PAYMENT, signature=sign(CURRENT, with_query, PAYMENT),
             signed_with=["current"], expected=reject("tampered_url")),
        make("missing X-Square-HmacSha256-Signature", PAYMENT, signature=None, signed_with=["current"],
             expected=reject("missing_header")),
        make("only the legacy X-Square-Signature", PAYMENT, signature=None, signed_with=["current"],
             legacy=base64.b64encode(hmac.new(CURRENT.encode(), PUBLIC_URL.encode() + PAYMENT,
                                              hashlib.sha1).digest()).decode(),
             expected=reject("missing_header")),
        make("malformed signature (not base64)", PAYMENT, signature="not-a-signature!" * 2 + "=" * 12,
             signed_with=["current"], expected=reject("malformed_header")),
        make("malformed signature (truncated)", PAYMENT, signature=sign(CURRENT, PUBLIC_URL, PAYMENT)[:-4],
             signed_with=["current"], expected=reject("malformed_header")),
        make("empty body, signed", b"", signature=sign(CURRENT, PUBLIC_URL, b""), signed_with=["current"],
             expected=reject("bad_signature"), notes="verify_signature refuses an empty body whatever the signature"),
    ]


def main() -> None:
    generated_with = {name: version(name) for name in ("squareup", "freezegun")}
    path = write(PROVIDER, cases(), generator=GENERATOR, generated_with=generated_with)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
