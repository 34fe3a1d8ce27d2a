"""Scheme `shopify` (ingest/verify/shopify.py): the corpus verdicts of @shopify/shopify-api, its required headers,
Events deliveries, rotation, identity."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Scheme, build_scheme
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_config
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
SECRET = "shpss_current0123456789abcdef"
PREVIOUS = "shpss_previous0123456789abcdef"
BODY = '{"id": 820982911946154508, "email": "jürgen@example.com", "total_price": "42.00"}'.encode()
WEBHOOK_ID = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"


def shopify(*secrets: str) -> Scheme:
    return build_scheme(VerifyConfig(scheme="shopify", secrets=list(secrets)))


def signature(secret: str | bytes, body: bytes = BODY) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return base64.b64encode(hmac.digest(key, body, hashlib.sha256)).decode()


def request(headers: dict[str, str], body: bytes = BODY) -> InboundRequest:
    return InboundRequest(method="POST", query_string="",
                          headers=headers, body=body, now=NOW)


def delivery_headers(prefix: str = "x-shopify-") -> dict[str, str]:
    return {
        f"{prefix}topic": "orders/create",
        f"{prefix}shop-domain": "example.myshopify.com",
        f"{prefix}api-version": "2025-10",
        f"{prefix}webhook-id": WEBHOOK_ID,
    }


def signed(secret: str | bytes = SECRET, body: bytes = BODY, prefix: str = "x-shopify-") -> InboundRequest:
    return request({f"{prefix}hmac-sha256": signature(secret, body), **delivery_headers(prefix)}, body)


@pytest.mark.parametrize("case", cases_for("shopify"))
def test_every_corpus_case_gets_the_shopify_librarys_verdict(case: dict[str, Any]) -> None:
    scheme = build_scheme(verify_config(case))
    assert_scheme_verdict(scheme, case)


def test_accepts_a_signature_made_with_any_configured_secret() -> None:
    scheme = shopify(SECRET, PREVIOUS)
    scheme.verify(signed(SECRET))
    scheme.verify(signed(PREVIOUS))
    assert reason(scheme, signed("shpss_retired0123456789abcdef")) == "bad_signature"


def test_a_signature_made_with_an_empty_key_is_rejected() -> None:
    # model_construct skips the config's own dropping of empty secrets: the scheme must not rely on it.
    scheme = build_scheme(VerifyConfig.model_construct(scheme="shopify", secrets=["", SECRET]))
    assert reason(scheme, signed(b"")) == "bad_signature"
    scheme.verify(signed(SECRET))


def test_missing_hmac_is_missing_header() -> None:
    assert reason(shopify(SECRET), request(delivery_headers())) == "missing_header"


@pytest.mark.parametrize("missing", sorted(delivery_headers()))
def test_an_authentic_request_without_a_delivery_header_is_missing_header(missing: str) -> None:
    headers = {name: value for name, value in signed().headers.items() if name != missing}
    assert reason(shopify(SECRET), request(headers)) == "missing_header"


def test_the_hmac_is_checked_before_the_delivery_headers() -> None:
    assert reason(shopify(SECRET), request({"x-shopify-hmac-sha256": signature("other")})) == "bad_signature"


def test_events_deliveries_are_read_under_their_own_header_names() -> None:
    shopify(SECRET).verify(signed(prefix="shopify-"))
    headers = {"shopify-hmac-sha256": signature(SECRET), **delivery_headers("x-shopify-")}
    assert reason(shopify(SECRET), request(headers)) == "missing_header"


@pytest.mark.parametrize("value", [
    signature(SECRET).rstrip("="), signature(SECRET).replace("+", "-").replace("/", "_"),
    base64.b16encode(base64.b64decode(signature(SECRET))).decode(), f"{signature(SECRET)}, {signature(SECRET)}",
    "A" * 100_000,
])
def test_anything_but_the_exact_base64_is_bad_signature(value: str) -> None:
    headers = {**signed().headers, "x-shopify-hmac-sha256": value}
    assert reason(shopify(SECRET), request(headers)) == "bad_signature"


@pytest.mark.parametrize("value", ["", "   ", "é" + signature(SECRET), "\udcff"])
def test_unusable_hmac_header_is_malformed_header(value: str) -> None:
    headers = {**signed().headers, "x-shopify-hmac-sha256": value}
    assert reason(shopify(SECRET), request(headers)) == "malformed_header"


def test_an_empty_body_is_refused_as_the_official_verifier_refuses_it() -> None:
    assert reason(shopify(SECRET), signed(body=b"")) == "bad_signature"


def test_the_raw_body_bytes_are_signed() -> None:
    shopify(SECRET).verify(signed(body=b"\xff\xfe\x00 not utf-8"))
    headers = dict(signed().headers)
    assert reason(shopify(SECRET), request(headers, body=BODY + b"\n")) == "bad_signature"


def test_identify_gives_the_webhook_id_and_topic() -> None:
    assert shopify(SECRET).identify(signed()) == (WEBHOOK_ID, "orders/create")
    assert shopify(SECRET).identify(signed(prefix="shopify-")) == (WEBHOOK_ID, "orders/create")
    assert shopify(SECRET).identify(request({})) == (None, None)


def test_reads_and_strips_the_hmac_headers_only() -> None:
    # Topic, shop domain, API version and webhook id are not credentials: routes may match on them.
    assert shopify(SECRET).reads_headers == frozenset({"x-shopify-hmac-sha256", "shopify-hmac-sha256"})
