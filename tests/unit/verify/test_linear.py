"""Scheme `linear` (ingest/verify/linear.py): the corpus verdicts of @linear/sdk, the signed body timestamp,
rotation, identity."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson
import pytest

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Scheme, build_scheme
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_config
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
SECRET = "lin_wh_current-0123456789abcdef"
PREVIOUS = "lin_wh_previous-0123456789abcdef"
DELIVERY = "3f1c1c57-5a4b-4d6e-9a53-0a4f3c2b1d10"


def linear(*secrets: str, **settings: Any) -> Scheme:
    return build_scheme(VerifyConfig(scheme="linear", secrets=list(secrets), **settings))


def body(webhook_ms: Any = (NOW - 1) * 1000) -> bytes:
    return orjson.dumps({"action": "update", "type": "Issue", "data": {"id": "i-1"}, "webhookTimestamp": webhook_ms})


def request(headers: dict[str, str], payload: bytes) -> InboundRequest:
    headers = {"linear-delivery": DELIVERY, "linear-event": "Issue", **headers}
    return InboundRequest(method="POST", query_string="", headers=headers, body=payload, now=NOW)


def signed(secret: str | bytes = SECRET, payload: bytes | None = None) -> InboundRequest:
    payload = body() if payload is None else payload
    key = secret.encode() if isinstance(secret, str) else secret
    return request({"linear-signature": hmac.new(key, payload, hashlib.sha256).hexdigest()}, payload)


@pytest.mark.parametrize("case", cases_for("linear"))
def test_every_corpus_case_gets_the_linear_sdks_verdict(case: dict[str, Any]) -> None:
    assert_scheme_verdict(build_scheme(verify_config(case)), case)


def test_accepts_a_signature_made_with_any_configured_secret() -> None:
    scheme = linear(SECRET, PREVIOUS)
    scheme.verify(signed(SECRET))
    scheme.verify(signed(PREVIOUS))
    assert reason(scheme, signed("lin_wh_retired-0123456789abcdef")) == "bad_signature"


def test_a_signature_made_with_an_empty_key_is_rejected() -> None:
    scheme = build_scheme(VerifyConfig.model_construct(scheme="linear", secrets=["", SECRET]))
    assert reason(scheme, signed(b"")) == "bad_signature"


@pytest.mark.parametrize(("offset_s", "expected"), [
    (-60, None), (60, None), (-60.001, "stale_timestamp"), (60.001, "future_timestamp"),
])
def test_webhook_timestamp_is_bounded_to_60_seconds_either_way(offset_s: float, expected: str | None) -> None:
    request = signed(payload=body(round((NOW + offset_s) * 1000)))
    if expected is None:
        linear(SECRET).verify(request)
    else:
        assert reason(linear(SECRET), request) == expected


def test_tolerance_widens_the_window() -> None:
    linear(SECRET, tolerance="5m").verify(signed(payload=body((NOW - 299) * 1000)))


@pytest.mark.parametrize("value", [None, "1767225599000", True, [1], {"ms": 1}])
def test_a_signed_body_without_a_numeric_webhook_timestamp_is_stale(value: Any) -> None:
    assert reason(linear(SECRET), signed(payload=body(value))) == "stale_timestamp"


def test_a_body_that_is_not_json_is_refused() -> None:
    assert reason(linear(SECRET), signed(payload=b"not json")) == "stale_timestamp"


def test_the_unsigned_timestamp_header_is_ignored() -> None:
    stale = signed(payload=body((NOW - 3600) * 1000))
    stale = request({**stale.headers, "linear-timestamp": str(NOW * 1000)}, stale.body)
    assert reason(linear(SECRET), stale) == "stale_timestamp"


def test_missing_and_blank_signature() -> None:
    assert reason(linear(SECRET), request({}, body())) == "missing_header"
    assert reason(linear(SECRET), request({"linear-signature": " "}, body())) == "malformed_header"
    assert reason(linear(SECRET), request({"linear-signature": "é" * 64}, body())) == "malformed_header"


def test_a_huge_signature_costs_one_comparison() -> None:
    assert reason(linear(SECRET), request({"linear-signature": "f" * 100_000}, body())) == "bad_signature"


def test_identify_gives_the_delivery_and_the_body_type() -> None:
    assert linear(SECRET).identify(signed()) == (DELIVERY, "Issue")
    assert linear(SECRET).identify(request({}, b"[]")) == (DELIVERY, None)


def test_reads_and_strips_the_signature_header() -> None:
    assert linear(SECRET).reads_headers == frozenset({"linear-signature"})
