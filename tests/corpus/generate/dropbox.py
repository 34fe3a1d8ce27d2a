"""Writes tests/corpus/webhooks/providers/dropbox.json.

Dropbox publishes no webhook verifier (its SDKs call the API), so every case is basis "documented": signed and
judged with Python's stdlib as Dropbox's Webhooks reference describes (www.dropbox.com/developers/reference/
webhooks): `X-Dropbox-Signature` is the hex HMAC-SHA256 of the body keyed with the app secret, and the
verification request is `GET ?challenge=<value>`, answered with the value as text/plain. No published example
vector is included. Installs nothing; run from the repository root: `python tests/corpus/generate/dropbox.py`.
"""

from __future__ import annotations

import json
import platform

import body_hmac
import provider_cases as pc
from body_hmac import BodyHmacProvider, Event

GENERATOR = "tests/corpus/generate/dropbox.py"
SOURCE = ("Dropbox developers, Webhooks reference (www.dropbox.com/developers/reference/webhooks): notifications, "
          "signature verification, the verification request")
HEADERS = [["Content-Type", "application/json"], ["User-Agent", "DropboxWebhooks/1.0"]]
CHALLENGE = "WtKhSMO9qDmg1eBuQ2mYOjnIEFjT0YiCvWXFs3CDHtA"


def notification(*accounts: str) -> Event:
    body = json.dumps({"list_folder": {"accounts": list(accounts)}, "delta": {"users": [12345678]}},
                      ensure_ascii=False).encode()
    return Event(body, HEADERS, None, None)


SPEC = BodyHmacProvider(
    "dropbox", "X-Dropbox-Signature", "", "sha256", "hex", SOURCE,
    notification("dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc", "dbid:AAB6kYeV1yXr2C1LY8TqSSBQd9m2fWYR1kE"),
    notification("dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc", "dbid:Jürgen-ü-日本"),
    "", "a blank value",
)


def handshake_cases() -> list[dict[str, object]]:
    documented = body_hmac.provenance(SPEC, "handshake", signed_by="unsigned: Dropbox's verification request")
    refused = body_hmac.provenance(SPEC, "reject", signed_by="unsigned")
    return [
        pc.case("dropbox", 0, "verification request: GET ?challenge= echoed as text/plain",
                request=pc.request("dropbox", method="GET", query=f"challenge={CHALLENGE}",
                                   headers=[["User-Agent", "DropboxWebhooks/1.0"]], body=b""),
                receiver={"secrets": [SPEC.secret("current")]}, signed_with=[],
                expected=pc.handshake(200, "text/plain", CHALLENGE.encode()), basis="documented",
                provenance={**documented, "verified_by": "the documented answer: the challenge echoed"},
                notes="Unsigned: answered before verification, even though the source accepts only POST."),
        pc.case("dropbox", 0, "a challenge on a POST is not echoed: verified as a notification (no signature)",
                request=pc.request("dropbox", query=f"challenge={CHALLENGE}", headers=HEADERS, body=b""),
                receiver={"secrets": [SPEC.secret("current")]}, signed_with=[],
                expected=pc.reject("missing_header"), basis="documented", provenance=refused,
                notes="Dropbox's challenge is only ever a GET; a POST must carry X-Dropbox-Signature."),
    ]


def main() -> None:
    cases = body_hmac.standard_cases(SPEC) + handshake_cases()
    print(pc.write("dropbox", cases, generator=GENERATOR, generated_with={"python": platform.python_version()}))


if __name__ == "__main__":
    main()
