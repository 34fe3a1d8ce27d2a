"""Cases for a provider that signs the raw body with an HMAC in one header, computed with Python's stdlib exactly
as the provider documents it (basis "documented"): shared by presets.py, dropbox.py and woocommerce.py.

Every verdict is the documented check's: the HMAC of the body under each configured secret, encoded and prefixed
as documented, compared with the header's whole value (`documented_verdict`); a case whose expected verdict
disagrees with it stops the generator.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import platform
from dataclasses import dataclass, field
from typing import Any

import provider_cases as pc


@dataclass(frozen=True)
class Event:
    """One delivery: its body, the headers the provider sends beside the signature, and the documented id and
    type (None: the provider has none)."""

    body: bytes
    headers: list[list[str]]
    event_id: str | None
    event_type: str | None


@dataclass(frozen=True)
class BodyHmacProvider:
    provider: str
    header: str  # as the provider spells it
    prefix: str
    algorithm: str
    encoding: str  # "hex" or "base64"
    source: str  # the documentation page the computation follows
    event: Event
    unicode_event: Event  # a body with non-ASCII text
    malformed: str  # a header value the documented format cannot be
    malformed_why: str
    extra_receiver: dict[str, Any] = field(default_factory=dict)

    def secret(self, label: str) -> str:
        return pc.derived(self.provider, label)

    def signature(self, label: str, body: bytes) -> str:
        digest = hmac.new(self.secret(label).encode(), body, self.algorithm).digest()
        text = digest.hex() if self.encoding == "hex" else base64.b64encode(digest).decode()
        return self.prefix + text


def documented_verdict(spec: BodyHmacProvider, secrets: list[str], headers: list[list[str]], body: bytes) -> str:
    """The documented check, written out again on its own: accept when the header's value equals the prefixed,
    encoded HMAC of the body under one of the secrets."""
    values = [value for name, value in headers if name.lower() == spec.header.lower()]
    if len(values) != 1:
        return "reject"
    for secret in secrets:
        digest = hmac.new(secret.encode(), body, getattr(hashlib, spec.algorithm)).digest()
        encoded = digest.hex() if spec.encoding == "hex" else base64.b64encode(digest).decode()
        if hmac.compare_digest((spec.prefix + encoded).encode(), values[0].encode()):
            return "accept"
    return "reject"


def provenance(spec: BodyHmacProvider, result: str, signed_by: str | None = None) -> dict[str, Any]:
    python = f"Python {platform.python_version()} stdlib hmac/hashlib"
    return {
        "signed_by": signed_by or f"{python}: {spec.prefix}{spec.encoding} HMAC-{spec.algorithm.upper()} of the body",
        "verified_by": f"{python}: the documented comparison (body_hmac.documented_verdict)",
        "library_result": result,
        "source": spec.source,
    }


def make_case(spec: BodyHmacProvider, title: str, *, event: Event, body: bytes | None = None,
              signature: str | None, secrets: list[str], signed_with: list[str], expected: dict[str, Any],
              notes: str = "") -> dict[str, Any]:
    """A case whose request carries `event`'s headers and `signature` (none when None) over `body` (the event's
    own unless given); the expected verdict is checked against the documented one."""
    sent = event.body if body is None else body
    headers = [list(pair) for pair in event.headers]
    if signature is not None:
        headers.append([spec.header, signature])
    result = documented_verdict(spec, [spec.secret(label) for label in secrets], headers, sent)
    if result != expected["verdict"]:
        raise AssertionError(f"{spec.provider}: {title}: documented check says {result}")
    return pc.case(
        spec.provider, 0, title,
        request=pc.request(spec.provider, headers=headers, body=sent),
        receiver={"secrets": [spec.secret(label) for label in secrets], **spec.extra_receiver},
        signed_with=signed_with, expected=expected, basis="documented", provenance=provenance(spec, result),
        notes=notes, signature_headers=[spec.header.lower()],
    )


def standard_cases(spec: BodyHmacProvider) -> list[dict[str, Any]]:
    """valid, rotation, non-ASCII body, tampered body, wrong secret, missing header, malformed header."""
    event, body = spec.event, spec.event.body
    valid = pc.accept(event.event_id, event.event_type)
    return [
        make_case(spec, "valid signature", event=event, signature=spec.signature("current", body),
                  secrets=["current"], signed_with=["current"], expected=valid),
        make_case(spec, "rotation: signed with the previous secret, both configured", event=event,
                  signature=spec.signature("previous", body), secrets=["current", "previous"],
                  signed_with=["previous"], expected=valid,
                  notes="The provider sends one signature; the receiver tries every configured secret."),
        make_case(spec, "valid signature over a body with non-ASCII text", event=spec.unicode_event,
                  signature=spec.signature("current", spec.unicode_event.body), secrets=["current"],
                  signed_with=["current"],
                  expected=pc.accept(spec.unicode_event.event_id, spec.unicode_event.event_type),
                  notes="The raw UTF-8 bytes are signed, never a decoded or re-encoded text."),
        make_case(spec, "tampered body: one byte changed after signing", event=event,
                  body=tampered(body), signature=spec.signature("current", body), secrets=["current"],
                  signed_with=["current"], expected=pc.reject("tampered_body")),
        make_case(spec, "wrong secret: signed with a secret the receiver does not have", event=event,
                  signature=spec.signature("other", body), secrets=["current", "previous"],
                  signed_with=["other"], expected=pc.reject("wrong_secret")),
        make_case(spec, f"missing {spec.header} header", event=event, signature=None, secrets=["current"],
                  signed_with=[], expected=pc.reject("missing_header")),
        make_case(spec, f"malformed {spec.header} header: {spec.malformed_why}", event=event,
                  signature=spec.malformed, secrets=["current"], signed_with=["current"],
                  expected=pc.reject("malformed_header")),
    ]


def tampered(body: bytes) -> bytes:
    """The body with its last digit changed (a JSON body keeps its shape)."""
    for index in range(len(body) - 1, -1, -1):
        if body[index:index + 1].isdigit():
            digit = (int(body[index:index + 1]) + 1) % 10
            return body[:index] + str(digit).encode() + body[index + 1:]
    return body + b" "
