"""Scheme `zoom` (ingest/verify/zoom.py): the corpus verdicts of @zoom/rivet (and the 300 s window Zoom leaves to
us), rotation, the URL validation answered with the token that signed it, identity."""

from __future__ import annotations

import asyncio
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
SECRET = "zoom-current-token-0123"
PREVIOUS = "zoom-previous-token-0123"
BODY = b'{"event":"meeting.ended","event_ts":1767225599000,"payload":{"object":{"id":"85678901234"}}}'
VALIDATION = b'{"payload":{"plainToken":"p-123"},"event":"endpoint.url_validation"}'


def zoom(*secrets: str, **settings: Any) -> Scheme:
    return build_scheme(VerifyConfig(scheme="zoom", secrets=list(secrets), **settings))


def signature(secret: str | bytes, timestamp: str, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return "v0=" + hmac.new(key, f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def request(headers: dict[str, str], body: bytes = BODY) -> InboundRequest:
    return InboundRequest(method="POST", query_string="", headers=headers, body=body, now=NOW)


def signed(secret: str | bytes = SECRET, timestamp: int | str = NOW - 2, body: bytes = BODY) -> InboundRequest:
    return request({"x-zm-request-timestamp": str(timestamp),
                    "x-zm-signature": signature(secret, str(timestamp), body)}, body)


def answer(scheme: Scheme, inbound: InboundRequest) -> Any:
    assert scheme.answer is not None
    scheme.verify(inbound)
    return asyncio.run(scheme.answer(inbound))


@pytest.mark.parametrize("case", cases_for("zoom"))
def test_every_corpus_case_gets_rivets_verdict_or_the_documented_window(case: dict[str, Any]) -> None:
    assert_scheme_verdict(build_scheme(verify_config(case)), case)


def test_accepts_a_signature_made_with_any_configured_secret() -> None:
    scheme = zoom(SECRET, PREVIOUS)
    scheme.verify(signed(SECRET))
    scheme.verify(signed(PREVIOUS))
    assert reason(scheme, signed("zoom-retired-token-0123")) == "bad_signature"


def test_a_signature_made_with_an_empty_key_is_rejected() -> None:
    scheme = build_scheme(VerifyConfig.model_construct(scheme="zoom", secrets=["", SECRET]))
    assert reason(scheme, signed(b"")) == "bad_signature"


@pytest.mark.parametrize(("offset", "expected"), [
    (-300, None), (300, None), (-301, "stale_timestamp"), (301, "future_timestamp"),
])
def test_the_timestamp_is_bounded_to_300_seconds_either_way(offset: int, expected: str | None) -> None:
    if expected is None:
        zoom(SECRET).verify(signed(timestamp=NOW + offset))
    else:
        assert reason(zoom(SECRET), signed(timestamp=NOW + offset)) == expected


def test_tolerance_changes_the_window() -> None:
    zoom(SECRET, tolerance="15m").verify(signed(timestamp=NOW - 899))
    assert reason(zoom(SECRET, tolerance="1m"), signed(timestamp=NOW - 61)) == "stale_timestamp"


def test_a_stale_forgery_reads_as_bad_signature() -> None:
    # The signature is checked first: a refusal for staleness says the request was Zoom's.
    assert reason(zoom(SECRET), signed("zoom-other-token-0123", timestamp=NOW - 3600)) == "bad_signature"


@pytest.mark.parametrize("headers", [
    {"x-zm-signature": "v0=00"}, {"x-zm-request-timestamp": str(NOW)},
])
def test_either_header_missing_is_missing_header(headers: dict[str, str]) -> None:
    assert reason(zoom(SECRET), request(headers)) == "missing_header"


@pytest.mark.parametrize(("timestamp", "value"), [
    (str(NOW), "00" * 32), (str(NOW), "V0=" + "00" * 32), (str(NOW), "v0=é"), ("1767225600.5", "v0=00"),
    ("-1", "v0=00"), ("1" * 13, "v0=00"), (" ", "v0=00"),
])
def test_unusable_headers_are_malformed(timestamp: str, value: str) -> None:
    assert reason(zoom(SECRET), request({"x-zm-request-timestamp": timestamp, "x-zm-signature": value})) == (
        "malformed_header"
    )


def test_a_huge_signature_costs_one_comparison() -> None:
    headers = {"x-zm-request-timestamp": str(NOW), "x-zm-signature": "v0=" + "f" * 100_000}
    assert reason(zoom(SECRET), request(headers)) == "bad_signature"


def test_url_validation_is_answered_with_the_hmac_of_the_plain_token() -> None:
    answered = answer(zoom(SECRET), signed(body=VALIDATION))
    expected = hmac.new(SECRET.encode(), b"p-123", hashlib.sha256).hexdigest()
    assert (answered.status, answered.content_type) == (200, "application/json")
    assert orjson.loads(answered.body) == {"plainToken": "p-123", "encryptedToken": expected}


def test_url_validation_is_answered_with_the_token_that_signed_it() -> None:
    answered = answer(zoom(SECRET, PREVIOUS), signed(PREVIOUS, body=VALIDATION))
    expected = hmac.new(PREVIOUS.encode(), b"p-123", hashlib.sha256).hexdigest()
    assert orjson.loads(answered.body)["encryptedToken"] == expected


def test_a_forged_url_validation_is_refused_before_any_answer() -> None:
    assert reason(zoom(SECRET), signed("zoom-other-token-0123", body=VALIDATION)) == "bad_signature"


@pytest.mark.parametrize("body", [
    BODY, b'{"event":"endpoint.url_validation","payload":{"plainToken":7}}',
    b'{"event":"endpoint.url_validation","payload":"p"}', b'{"event":"endpoint.url_validation"}', b"[]",
])
def test_anything_but_a_url_validation_with_a_plain_token_is_an_event(body: bytes) -> None:
    assert answer(zoom(SECRET), signed(body=body)) is None


def test_identify_gives_no_id_and_the_event() -> None:
    assert zoom(SECRET).identify(signed()) == (None, "meeting.ended")


def test_reads_and_strips_the_signature_headers() -> None:
    assert zoom(SECRET).reads_headers == frozenset({"x-zm-signature", "x-zm-request-timestamp"})
