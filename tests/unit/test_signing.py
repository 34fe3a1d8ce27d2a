"""Outbound signatures (deliverer/signing.py), checked against the official `standardwebhooks` package."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from deliverer.signing import Signer, secret_key
from hookpipe.config import SigningConfig
from ingest.verify import InboundRequest
from ingest.verify.standard_webhooks import signing_key, verify_standard_webhooks

SECRET = "whsec_" + base64.b64encode(b"hookpipe-unit-test-signing-key-1").decode()
PREVIOUS = "whsec_" + base64.b64encode(b"hookpipe-unit-test-signing-key-0").decode()
BODY = b'{"type": "invoice.paid", "data": {"amount": 4200, "note": "caf\xc3\xa9"}}'
MSG_ID = "evt_01J9Z3Q4X8"


def signed_headers(signer: Signer, body: bytes = BODY, msg_id: str = MSG_ID) -> dict[str, str]:
    """What the sender puts on a request: the id, the attempt's timestamp and the signer's headers."""
    timestamp = int(time.time())
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), **signer.headers(msg_id, timestamp, body)}


def standard_signer(*secrets: str) -> Signer:
    return Signer(SigningConfig(scheme="standard-webhooks", secrets=list(secrets)))


def test_standard_webhooks_signature_verifies_with_the_official_library() -> None:
    headers = signed_headers(standard_signer(SECRET))
    assert Webhook(SECRET).verify(BODY, headers) == {"type": "invoice.paid",
                                                     "data": {"amount": 4200, "note": "café"}}


def test_signature_is_v1_and_base64_of_hmac_sha256_over_id_timestamp_body() -> None:
    signature = standard_signer(SECRET).headers(MSG_ID, 1_700_000_000, BODY)["webhook-signature"]
    expected = hmac.new(base64.b64decode(SECRET.removeprefix("whsec_")),
                        f"{MSG_ID}.1700000000.".encode() + BODY, hashlib.sha256).digest()
    assert signature == "v1," + base64.b64encode(expected).decode()


@pytest.mark.parametrize(
    "change",
    [
        lambda h, b: (h, b + b" "),
        lambda h, b: ({**h, "webhook-id": "evt_other"}, b),
        lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
    ],
    ids=["body", "id", "timestamp"],
)
def test_signature_covers_body_id_and_timestamp(
    change: Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]],
) -> None:
    headers, body = change(signed_headers(standard_signer(SECRET)), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, headers)


def test_signature_does_not_verify_with_another_secret() -> None:
    with pytest.raises(WebhookVerificationError):
        Webhook(PREVIOUS).verify(BODY, signed_headers(standard_signer(SECRET)))


def test_rotation_gives_one_v1_signature_per_secret_each_valid() -> None:
    headers = signed_headers(standard_signer(SECRET, PREVIOUS))
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    assert all(signature.startswith("v1,") for signature in signatures)
    for secret, signature in zip((SECRET, PREVIOUS), signatures, strict=True):
        Webhook(secret).verify(BODY, {**headers, "webhook-signature": signature})
    # a receiver that knows only one of the secrets accepts the rotated header as sent
    Webhook(SECRET).verify(BODY, headers)
    Webhook(PREVIOUS).verify(BODY, headers)


@pytest.mark.parametrize("secret", ["a-plain-shared-secret-\u00e9", "c2VjcmV0LWluLWJhc2U2NC1idXQtbm8tcHJlZml4"])
def test_a_secret_without_whsec_cannot_sign_standard_webhooks(secret: str) -> None:
    # Receivers base64-decode a Standard Webhooks secret: its UTF-8 bytes would sign with a key none of them has.
    with pytest.raises(ValidationError, match="a standard-webhooks secret is whsec_ followed by base64"):
        SigningConfig(scheme="standard-webhooks", secrets=[secret])


def test_the_signature_verifies_with_hookpipes_own_inbound_verifier() -> None:
    headers = signed_headers(standard_signer(SECRET))
    request = InboundRequest(method="POST", query_string="", headers=headers, body=BODY, now=time.time())
    verify_standard_webhooks(request, [signing_key(SECRET)], tolerance=300)


def test_secret_key_decodes_whsec() -> None:
    assert secret_key("whsec_" + base64.b64encode(b"\x00\x01key").decode()) == b"\x00\x01key"


def test_signature_is_computed_over_the_exact_bytes() -> None:
    signer = standard_signer(SECRET)
    assert signer.headers(MSG_ID, 1, b'{"a":1}') != signer.headers(MSG_ID, 1, b'{"a": 1}')


def hmac_signer(secrets: list[str], **settings: str) -> Signer:
    config = {"scheme": "hmac", "secrets": secrets, "header": "X-Hub-Signature-256", **settings}
    return Signer(SigningConfig.model_validate(config))


@pytest.mark.parametrize(
    ("settings", "encode"),
    [
        ({}, lambda mac: mac.hexdigest()),
        ({"prefix": "sha256="}, lambda mac: "sha256=" + mac.hexdigest()),
        ({"encoding": "base64"}, lambda mac: base64.b64encode(mac.digest()).decode()),
        ({"encoding": "base64", "prefix": "v1="}, lambda mac: "v1=" + base64.b64encode(mac.digest()).decode()),
    ],
    ids=["hex", "hex-prefix", "base64", "base64-prefix"],
)
def test_hmac_signature_matches_a_hashlib_reference(settings: dict[str, str], encode: Callable[[Any], str]) -> None:
    headers = hmac_signer(["partner-signing-secret"], **settings).headers(MSG_ID, 1_700_000_000, BODY)
    reference = hmac.new(b"partner-signing-secret", BODY, hashlib.sha256)
    assert headers == {"X-Hub-Signature-256": encode(reference)}


def test_hmac_sha512() -> None:
    headers = hmac_signer(["partner-signing-secret"], algorithm="sha512").headers(MSG_ID, 0, BODY)
    assert headers == {"X-Hub-Signature-256": hmac.new(b"partner-signing-secret", BODY, hashlib.sha512).hexdigest()}


def test_hmac_rotation_gives_one_signature_per_secret() -> None:
    headers = hmac_signer(["new-signing-secret", "old-signing-secret"], prefix="sha256=").headers(MSG_ID, 0, BODY)
    assert headers["X-Hub-Signature-256"].split(",") == [
        "sha256=" + hmac.new(secret, BODY, hashlib.sha256).hexdigest()
        for secret in (b"new-signing-secret", b"old-signing-secret")
    ]


def test_hmac_whsec_secret_that_is_not_base64_never_signs_with_an_empty_key() -> None:
    signer = hmac_signer(["whsec_!!!!"])
    assert all(signer.keys)


def test_scheme_none_adds_no_header() -> None:
    assert Signer(SigningConfig(scheme="none")).headers(MSG_ID, 0, BODY) == {}
