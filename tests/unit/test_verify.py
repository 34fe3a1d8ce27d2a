"""Inbound verification schemes (ingest/verify): bearer, none, and the schemes not built yet."""

from __future__ import annotations

from typing import Any

import pytest

from hookpipe.config import VERIFY_KEYS, VerifyConfig
from ingest.verify import InboundRequest, Rejected, build_scheme

TOKEN = "partner-token-0123456789"
PREVIOUS = "partner-token-previous-abcdef"


def request(headers: dict[str, str] | None = None, body: bytes = b'{"type": "ping"}') -> InboundRequest:
    return InboundRequest(method="POST", query_string="",
                          headers=headers or {}, body=body, now=1_700_000_000.0)


def bearer(*tokens: str) -> Any:
    return build_scheme(VerifyConfig(scheme="bearer", secrets=list(tokens)))


def rejection(scheme: Any, inbound: InboundRequest) -> Rejected:
    with pytest.raises(Rejected) as caught:
        scheme.verify(inbound)
    return caught.value


def test_bearer_accepts_the_configured_token() -> None:
    bearer(TOKEN).verify(request({"authorization": f"Bearer {TOKEN}"}))


@pytest.mark.parametrize("kind", ["bearer", "BEARER", "Bearer"])
def test_bearer_keyword_is_case_insensitive(kind: str) -> None:
    bearer(TOKEN).verify(request({"authorization": f"{kind} {TOKEN}"}))


def test_bearer_tolerates_surrounding_spaces() -> None:
    bearer(TOKEN).verify(request({"authorization": f"Bearer   {TOKEN}  "}))


def test_bearer_without_authorization_header_is_missing_header() -> None:
    refused = rejection(bearer(TOKEN), request({"x-api-key": TOKEN}))
    assert (refused.reason, refused.status) == ("missing_header", 401)


@pytest.mark.parametrize("value", ["", "Bearer", "Bearer ", "Bearer    ", TOKEN, f"Basic {TOKEN}", f"Token {TOKEN}",
                                   f"Bearer{TOKEN}"])
def test_bearer_with_malformed_header_is_malformed_header(value: str) -> None:
    refused = rejection(bearer(TOKEN), request({"authorization": value}))
    assert (refused.reason, refused.status) == ("malformed_header", 401)


@pytest.mark.parametrize("presented", ["wrong-token", TOKEN[:-1], TOKEN + "x", TOKEN.upper(), f"{TOKEN} {TOKEN}"])
def test_bearer_with_wrong_token_is_bad_signature(presented: str) -> None:
    refused = rejection(bearer(TOKEN), request({"authorization": f"Bearer {presented}"}))
    assert (refused.reason, refused.status) == ("bad_signature", 401)


def test_bearer_accepts_any_of_several_rotated_tokens() -> None:
    scheme = bearer(TOKEN, PREVIOUS)
    scheme.verify(request({"authorization": f"Bearer {TOKEN}"}))
    scheme.verify(request({"authorization": f"Bearer {PREVIOUS}"}))
    assert rejection(scheme, request({"authorization": "Bearer retired-token"})).reason == "bad_signature"


def test_bearer_accepts_non_ascii_tokens() -> None:
    bearer("jeton-secret-été-2024").verify(request({"authorization": "Bearer jeton-secret-été-2024"}))


def test_bearer_reads_and_strips_the_authorization_header() -> None:
    assert bearer(TOKEN).reads_headers == frozenset({"authorization"})


def test_rejection_never_carries_the_token() -> None:
    refused = rejection(bearer(TOKEN), request({"authorization": "Bearer presented-secret-value"}))
    assert "presented-secret-value" not in str(refused) and TOKEN not in str(refused)


def test_scheme_none_accepts_every_request() -> None:
    scheme = build_scheme(VerifyConfig(scheme="none"))
    scheme.verify(request())
    scheme.verify(request({"authorization": "Bearer anything"}, body=b"\x00"))
    assert scheme.reads_headers == frozenset()


def _public_key() -> str:
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def _ed25519_public_key() -> str:
    """A Discord application's public key: 64 hex digits."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


VALUES: dict[str, Any] = {
    "secrets": [TOKEN], "public_url": "https://hooks.example.com/ingest/twilio",
    "public_key": _public_key(), "username": "partner", "header": "X-Signature",
    "topics": ["arn:aws:sns:us-east-1:123456789012:orders"],
}
#: Values whose form depends on the scheme.
SCHEME_VALUES: dict[str, dict[str, Any]] = {"discord": {"public_key": _ed25519_public_key()}}
VERIFYING = sorted(set(VERIFY_KEYS) - {"none"})


@pytest.mark.parametrize("scheme", VERIFYING)
def test_every_scheme_refuses_a_request_without_credentials(scheme: str) -> None:
    import ingest.app  # noqa: F401 - gives the sns scheme the HTTPS client ingest gives it (nothing is fetched here)

    required, _ = VERIFY_KEYS[scheme]
    values = {**VALUES, **SCHEME_VALUES.get(scheme, {})}
    built = build_scheme(VerifyConfig.model_validate({"scheme": scheme, **{key: values[key] for key in required}}))
    garbage = {"x-signature": "00", "authorization": "Bearer x"}
    for headers, body in (({}, b""), ({}, b'{"signature": {}}'), (garbage, b"{}")):
        refused = rejection(built, request(headers, body=body))
        assert refused.status == 401 and refused.reason in {"missing_header", "malformed_header", "bad_signature"}
