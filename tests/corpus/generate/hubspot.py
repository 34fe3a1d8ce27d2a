"""Writes tests/corpus/webhooks/providers/hubspot.json: HubSpot webhook batches signed (v3) and judged by HubSpot's
own Python client, hubspot-api-client `hubspot.utils.signature.Signature`.

Needs, in a scratch venv outside the repository:
    python -m venv /tmp/sdkvenv
    /tmp/sdkvenv/bin/pip install hubspot-api-client==12.0.0 freezegun==1.5.5
Run from the repository root: /tmp/sdkvenv/bin/python tests/corpus/generate/hubspot.py

`Signature.get_signature(secret, body, "v3", uri, method, timestamp)` signs and `Signature.is_valid(...,
signature_version="v3", timestamp=...)` judges, time frozen at `receiver.now` (its 300 s window reads the clock).
The client takes the URI from its caller; each case hands it the URL the request arrived at
(`receiver.public_url` and the query as received) with the escapes HubSpot's "Validating requests" page lists
decoded, which is how hookpipe rebuilds it.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

# This script is hubspot.py, and its folder comes first on sys.path: moved last, `hubspot` is the client's package
# and provider_cases (beside this file) still imports.
sys.path.append(sys.path.pop(0))

from freezegun import freeze_time
from hubspot.exceptions import InvalidSignatureTimestampError
from hubspot.utils.signature import Signature
from provider_cases import NOW, accept, case, derived, reject, request, write

PROVIDER = "hubspot"
GENERATOR = "tests/corpus/generate/hubspot.py"
PUBLIC_URL = "https://hooks.example.test/ingest/hubspot"
SIGNATURE_HEADERS = ["x-hubspot-signature-v3", "x-hubspot-signature", "x-hubspot-request-timestamp"]

CLIENT = f"hubspot-api-client {version('hubspot-api-client')}"
SIGNED_BY = f"{CLIENT} Signature.get_signature(client_secret, body, 'v3', uri, method, timestamp)"
VERIFIED_BY = (f"{CLIENT} Signature.is_valid(signature, client_secret, body, uri, method, signature_version='v3', "
               "timestamp=...) with uri = the URL the request arrived at, HubSpot's listed escapes decoded")

#: The escapes HubSpot's "Validating requests" page says to decode in the URI before hashing.
DECODED = re.compile(r"%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)", re.IGNORECASE)


def client_secret(label: str) -> str:
    """A secret shaped like a HubSpot app's client secret (a UUID)."""
    text = derived(PROVIDER, label, 32).translate(str.maketrans("ghijklmnopqrstuvwxyz", "0123456789abcdef0123"))
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:32]}"


CURRENT, PREVIOUS, OTHER = client_secret("current"), client_secret("previous"), client_secret("other")


def batch(*events: dict[str, Any]) -> bytes:
    """A webhook batch as HubSpot sends it: a compact JSON array of events."""
    common = {"subscriptionId": 2_345_678, "portalId": 62_515, "appId": 1_160_452, "attemptNumber": 0,
              "changeSource": "CRM"}
    return json.dumps([common | event for event in events], separators=(",", ":"), ensure_ascii=False).encode()


CREATION = batch({"eventId": 1_769_001, "occurredAt": NOW * 1000 - 4_000, "subscriptionType": "contact.creation",
                  "objectId": 512, "changeFlag": "NEW"},
                 {"eventId": 1_769_002, "occurredAt": NOW * 1000 - 3_500, "subscriptionType": "deal.creation",
                  "objectId": 9_001, "changeFlag": "NEW"})
NON_ASCII = batch({"eventId": 1_769_003, "occurredAt": NOW * 1000 - 3_000,
                   "subscriptionType": "contact.propertyChange", "objectId": 512, "propertyName": "firstname",
                   "propertyValue": "Zoë Ångström — 山田 太郎 🚀, مرحبا, a\u0301"})


def decoded(uri: str) -> str:
    return DECODED.sub(lambda escape: chr(int(escape.group(1), 16)), uri)


def sign(secret: str, uri: str, body: bytes, timestamp: str, method: str = "POST") -> str:
    return Signature.get_signature(secret, body.decode(), "v3", uri, method, timestamp)


def headers(signature: str | None, timestamp: str | None, *, legacy: str | None = None) -> list[list[str]]:
    pairs = [["Content-Type", "application/json"],
             ["User-Agent", "HubSpot Connect 2.0 (http://dev.hubspot.com/) - WebhooksExecutorDaemon"]]
    if legacy is not None:
        pairs += [["X-HubSpot-Signature", legacy], ["X-HubSpot-Signature-Version", "v1"]]
    if signature is not None:
        pairs.append(["X-HubSpot-Signature-v3", signature])
    if timestamp is not None:
        pairs.append(["X-HubSpot-Request-Timestamp", timestamp])
    return pairs


def judge(body: bytes, signature: str | None, timestamp: str | None, secrets: list[str], uri: str) -> str:
    """The client's verdict with each configured secret: accept, reject, or stale (it raised for the timestamp)."""
    if signature is None:
        return "reject"
    with freeze_time(datetime.fromtimestamp(NOW, UTC)):
        try:
            valid = any(Signature.is_valid(signature, secret, body.decode(), uri, "POST", signature_version="v3",
                                           timestamp=timestamp) for secret in secrets)
        except InvalidSignatureTimestampError:
            return "stale"
    return "accept" if valid else "reject"


def make(title: str, body: bytes, *, signature: str | None, timestamp: str | None, signed_with: list[str],
         expected: dict[str, Any], secrets: list[str] | None = None, query: str = "", legacy: str | None = None,
         notes: str = "") -> dict[str, Any]:
    secrets = secrets or [CURRENT]
    verdict = judge(body, signature, timestamp, secrets, decoded(PUBLIC_URL + (f"?{query}" if query else "")))
    if (verdict == "accept") != (expected["verdict"] == "accept"):
        raise SystemExit(f"{title}: hubspot-api-client says {verdict}, the case expects {expected}")
    detail = ("no X-HubSpot-Signature-v3: is_valid has nothing to check" if signature is None
              else {"stale": "is_valid raised InvalidSignatureTimestampError"}.get(verdict, f"is_valid: {verdict}"))
    return case(
        PROVIDER, 0, title,
        request=request(PROVIDER, query=query, headers=headers(signature, timestamp, legacy=legacy), body=body),
        receiver={"secrets": secrets, "public_url": PUBLIC_URL, "tolerance_s": 300}, signed_with=signed_with,
        expected=expected, basis="library",
        provenance={"signed_by": SIGNED_BY, "verified_by": VERIFIED_BY,
                    "library_result": "accept" if verdict == "accept" else "reject", "library_detail": detail},
        notes=notes, signature_headers=SIGNATURE_HEADERS,
        timestamp=int(timestamp) if timestamp and timestamp.isdigit() else None,
    )


def cases() -> list[dict[str, Any]]:
    fresh = str(NOW * 1000 - 1_500)
    query = "portalId=62515&callback=https%3A%2F%2Fapp.example.test%2Fdone%3Bv%3D2"
    with_query = f"{PUBLIC_URL}?{query}"
    legacy_v1 = Signature.get_signature(CURRENT, CREATION.decode(), "v1")
    out = [
        make("valid batch of two events (with the legacy v1 signature beside it)", CREATION,
             signature=sign(CURRENT, PUBLIC_URL, CREATION, fresh), timestamp=fresh, signed_with=["current"],
             legacy=legacy_v1, expected=accept(None, None),
             notes="a batch has no one id or type: ingest generates the id"),
        make("non-ASCII property value (diaeresis, ring, CJK, emoji, Arabic, combining acute)", NON_ASCII,
             signature=sign(CURRENT, PUBLIC_URL, NON_ASCII, fresh), timestamp=fresh, signed_with=["current"],
             expected=accept(None, None)),
        make("rotation: two client secrets configured, signed with the previous", CREATION,
             signature=sign(PREVIOUS, PUBLIC_URL, CREATION, fresh), timestamp=fresh, signed_with=["previous"],
             secrets=[CURRENT, PREVIOUS], expected=accept(None, None)),
        make("query with escapes HubSpot decodes before signing", CREATION,
             signature=sign(CURRENT, decoded(with_query), CREATION, fresh), timestamp=fresh, signed_with=["current"],
             query=query, expected=accept(None, None),
             notes="signed over ...?portalId=62515&callback=https://app.example.test/done;v%3D2 "
                   "(%3A %2F %3B decoded, %3D kept), as HubSpot's page describes"),
        make("tampered body", CREATION.replace(b'"objectId":512', b'"objectId":513'),
             signature=sign(CURRENT, PUBLIC_URL, CREATION, fresh), timestamp=fresh, signed_with=["current"],
             expected=reject("tampered_body")),
        make("signed with a client secret the receiver does not have", CREATION,
             signature=sign(OTHER, PUBLIC_URL, CREATION, fresh), timestamp=fresh, signed_with=["other"],
             expected=reject("wrong_secret")),
        make("timestamp header changed after signing", CREATION,
             signature=sign(CURRENT, PUBLIC_URL, CREATION, fresh), timestamp=str(NOW * 1000 - 1_000),
             signed_with=["current"], expected=reject("bad_signature")),
        make("signed for another URL", CREATION,
             signature=sign(CURRENT, "https://hooks.example.test/ingest/hubspot-old", CREATION, fresh),
             timestamp=fresh, signed_with=["current"], expected=reject("tampered_url")),
        make("query changed after signing", CREATION,
             signature=sign(CURRENT, decoded(with_query), CREATION, fresh), timestamp=fresh, signed_with=["current"],
             query=query.replace("62515", "62516"), expected=reject("tampered_url")),
        make("signed over the URI with its escapes left encoded", CREATION,
             signature=sign(CURRENT, with_query, CREATION, fresh), timestamp=fresh, signed_with=["current"],
             query=query, expected=reject("bad_signature"),
             notes="HubSpot signs the decoded form; a signature over the encoded one is not HubSpot's"),
    ]
    return out + freshness(legacy_v1)


def freshness(legacy_v1: str) -> list[dict[str, Any]]:
    def aged(age_ms: int) -> dict[str, str]:
        timestamp = str(NOW * 1000 - age_ms)
        return {"signature": sign(CURRENT, PUBLIC_URL, CREATION, timestamp), "timestamp": timestamp}

    return [
        make("timestamp 299 s old", CREATION, **aged(299_000), signed_with=["current"], expected=accept(None, None)),
        make("timestamp 299.5 s old: whole seconds, so 300, refused", CREATION, **aged(299_500),
             signed_with=["current"], expected=reject("stale_timestamp"),
             notes="is_valid reads the timestamp in whole seconds (ms // 1000) and refuses an age of 300 or more"),
        make("stale timestamp (10 minutes old)", CREATION, **aged(600_000), signed_with=["current"],
             expected=reject("stale_timestamp")),
        make("future timestamp (10 minutes ahead) is accepted: HubSpot bounds only the past", CREATION,
             **aged(-600_000), signed_with=["current"], expected=accept(None, None),
             notes="HubSpot's page and is_valid refuse only timestamps older than 5 minutes"),
        make("missing X-HubSpot-Signature-v3 (legacy v1 signature only)", CREATION, signature=None,
             timestamp=str(NOW * 1000), signed_with=["current"], legacy=legacy_v1, expected=reject("missing_header")),
        make("missing X-HubSpot-Request-Timestamp", CREATION,
             signature=sign(CURRENT, PUBLIC_URL, CREATION, str(NOW * 1000)), timestamp=None, signed_with=["current"],
             expected=reject("missing_header")),
        make("malformed signature (not base64)", CREATION, signature="sha256=" + "0" * 37, timestamp=str(NOW * 1000),
             signed_with=["current"], expected=reject("malformed_header")),
        make("malformed timestamp (not a number)", CREATION,
             signature=sign(CURRENT, PUBLIC_URL, CREATION, "yesterday"), timestamp="yesterday",
             signed_with=["current"], expected=reject("malformed_header")),
    ]


def main() -> None:
    generated_with = {name: version(name) for name in ("hubspot-api-client", "freezegun")}
    path = write(PROVIDER, cases(), generator=GENERATOR, generated_with=generated_with)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
