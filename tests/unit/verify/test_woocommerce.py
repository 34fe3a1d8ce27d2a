"""Scheme `woocommerce` (ingest/verify/woocommerce.py): the documented corpus verdicts, the ping and its bounds,
rotation, identity."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from hookpipe.config import VerifyConfig
from ingest.verify import Answer, InboundRequest, Scheme, build_scheme
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_config
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
SECRET = "wc-secret-current-0123456789"
PREVIOUS = "wc-secret-previous-0123456789"
BODY = b'{"id":727,"status":"processing","total":"29.35"}'
DELIVERY = "0b7b7a4d4f2a4b6e8c1d2e3f4a5b6c7d"


def woocommerce(*secrets: str) -> Scheme:
    return build_scheme(VerifyConfig(scheme="woocommerce", secrets=list(secrets)))


def signature(secret: str | bytes, body: bytes = BODY) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def request(headers: dict[str, str], body: bytes = BODY) -> InboundRequest:
    headers = {"x-wc-webhook-topic": "order.created", "x-wc-webhook-delivery-id": DELIVERY, **headers}
    return InboundRequest(method="POST", query_string="", headers=headers, body=body, now=NOW)


def signed(secret: str | bytes = SECRET, body: bytes = BODY) -> InboundRequest:
    return request({"x-wc-webhook-signature": signature(secret, body)}, body)


def greet(scheme: Scheme, inbound: InboundRequest) -> Answer | None:
    assert scheme.greet is not None
    return scheme.greet(inbound)


def ping(body: bytes, headers: dict[str, str] | None = None, method: str = "POST") -> InboundRequest:
    return InboundRequest(method=method, query_string="", headers=headers or {}, body=body, now=NOW)


@pytest.mark.parametrize("case", cases_for("woocommerce"))
def test_every_corpus_case_gets_the_documented_verdict(case: dict[str, Any]) -> None:
    assert_scheme_verdict(build_scheme(verify_config(case)), case)


def test_accepts_a_signature_made_with_any_configured_secret() -> None:
    scheme = woocommerce(SECRET, PREVIOUS)
    scheme.verify(signed(SECRET))
    scheme.verify(signed(PREVIOUS))
    assert reason(scheme, signed("wc-secret-retired-0123456789")) == "bad_signature"


def test_a_signature_made_with_an_empty_key_is_rejected() -> None:
    scheme = build_scheme(VerifyConfig.model_construct(scheme="woocommerce", secrets=["", SECRET]))
    assert reason(scheme, signed(b"")) == "bad_signature"


def test_base64_is_compared_as_sent() -> None:
    assert reason(woocommerce(SECRET), request({"x-wc-webhook-signature": signature(SECRET).swapcase()})) == (
        "bad_signature"
    )
    assert reason(woocommerce(SECRET), request({"x-wc-webhook-signature": "A" * 100_000})) == "bad_signature"


def test_missing_and_blank_signatures() -> None:
    assert reason(woocommerce(SECRET), request({})) == "missing_header"
    assert reason(woocommerce(SECRET), request({"x-wc-webhook-signature": ""})) == "malformed_header"


@pytest.mark.parametrize("body", [b"webhook_id=1", b"webhook_id=42", b"webhook_id=" + b"9" * 20])
def test_the_unsigned_ping_is_answered_200(body: bytes) -> None:
    answer = greet(woocommerce(SECRET), ping(body))
    assert answer is not None and (answer.status, answer.body) == (200, b'{"ok":true}')


@pytest.mark.parametrize("body", [
    b"", b"webhook_id=", b"webhook_id=x", b"webhook_id=42\n", b" webhook_id=42", b"webhook_id=42&a=b",
    b"webhook_id=" + b"9" * 21, b"webhook_id=1" + b"0" * 100_000, b"WEBHOOK_ID=42", BODY,
])
def test_anything_but_the_exact_ping_is_not_answered(body: bytes) -> None:
    assert greet(woocommerce(SECRET), ping(body)) is None


def test_a_ping_with_a_signature_header_is_verified_instead() -> None:
    scheme = woocommerce(SECRET)
    forged = ping(b"webhook_id=42", {"x-wc-webhook-signature": signature("not-the-secret", b"webhook_id=42")})
    assert greet(scheme, forged) is None
    assert reason(scheme, forged) == "bad_signature"


def test_only_a_post_is_a_ping() -> None:
    assert greet(woocommerce(SECRET), ping(b"webhook_id=42", method="PUT")) is None
    assert woocommerce(SECRET).greet_methods == frozenset()


def test_identify_gives_the_delivery_id_and_the_topic() -> None:
    assert woocommerce(SECRET).identify(signed()) == (DELIVERY, "order.created")


def test_reads_and_strips_the_signature_header() -> None:
    assert woocommerce(SECRET).reads_headers == frozenset({"x-wc-webhook-signature"})
