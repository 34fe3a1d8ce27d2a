"""Scheme `paddle` (ingest/verify/paddle.py): the Paddle SDK's corpus verdicts, header parsing, rotation, tolerance."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Scheme, build_scheme
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_settings
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
SECRET = "pdl_ntfset_01current_A3BKGrRk3ybOYzSpDHM1Ghmh3Vpf97rL"
PREVIOUS = "pdl_ntfset_01previous_Zz9yXx8wWv7uUt6sSr5qQp4oOn3mMl2k"
BODY = b'{"event_id":"evt_01abc","event_type":"transaction.completed","data":{"note":"Z\xc3\xbcrich \xf0\x9f\x8e\x89"}}'


def paddle(*secrets: str, **settings: Any) -> Scheme:
    return build_scheme(VerifyConfig(scheme="paddle", secrets=list(secrets), **settings))


def h1(secret: str | bytes, timestamp: int | str, body: bytes = BODY) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, f"{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def request(header: str | None, body: bytes = BODY, now: float = NOW) -> InboundRequest:
    headers = {"content-type": "application/json"} | ({"paddle-signature": header} if header is not None else {})
    return InboundRequest(method="POST", query_string="",
                          headers=headers, body=body, now=now)


def signed(secret: str | bytes = SECRET, timestamp: int = NOW - 2, now: float = NOW) -> InboundRequest:
    return request(f"ts={timestamp};h1={h1(secret, timestamp)}", now=now)


@pytest.mark.parametrize("tolerance", ["from the case", "default"])
@pytest.mark.parametrize("case", cases_for("paddle"))
def test_every_corpus_case_gets_paddle_sdks_verdict(case: dict[str, Any], tolerance: str) -> None:
    settings = verify_settings(case)
    if tolerance == "default":  # our default must be the SDK's, so both agree with the corpus
        settings.pop("tolerance", None)
    scheme = build_scheme(VerifyConfig.model_validate(settings))
    assert_scheme_verdict(scheme, case)


def test_accepts_a_signature_made_with_any_configured_secret() -> None:
    scheme = paddle(SECRET, PREVIOUS)
    scheme.verify(signed(SECRET))
    scheme.verify(signed(PREVIOUS))
    assert reason(scheme, signed("pdl_ntfset_01retired_0000000000000000000000")) == "bad_signature"


def test_accepts_any_h1_of_a_header_signed_during_a_rotation() -> None:
    timestamp = NOW - 2
    header = f"ts={timestamp};h1={h1(PREVIOUS, timestamp)};h1={h1(SECRET, timestamp)}"
    paddle(SECRET).verify(request(header))
    paddle(PREVIOUS).verify(request(header))


def test_a_signature_made_with_an_empty_key_is_rejected() -> None:
    scheme = build_scheme(VerifyConfig.model_construct(scheme="paddle", secrets=["", SECRET]))
    assert reason(scheme, signed(b"")) == "bad_signature"


def test_tampered_body_is_a_bad_signature() -> None:
    timestamp = NOW - 2
    assert reason(paddle(SECRET), request(f"ts={timestamp};h1={h1(SECRET, timestamp)}", BODY + b" ")) == (
        "bad_signature")


def test_default_window_is_five_seconds_both_ways() -> None:
    scheme = paddle(SECRET)
    scheme.verify(signed(timestamp=NOW - 5))
    scheme.verify(signed(timestamp=NOW + 5))
    assert reason(scheme, signed(timestamp=NOW - 6)) == "stale_timestamp"
    assert reason(scheme, signed(timestamp=NOW + 6)) == "future_timestamp"


def test_a_configured_tolerance_replaces_the_default() -> None:
    scheme = paddle(SECRET, tolerance="1m")
    scheme.verify(signed(timestamp=NOW - 60))
    scheme.verify(signed(timestamp=NOW + 60))
    assert reason(scheme, signed(timestamp=NOW - 61)) == "stale_timestamp"


def test_tolerance_none_checks_no_time() -> None:
    scheme = paddle(SECRET, tolerance="none")
    scheme.verify(signed(timestamp=NOW - 86400 * 365))
    scheme.verify(signed(timestamp=NOW + 86400))


def test_the_signed_time_is_what_the_timestamp_says_as_an_integer() -> None:
    # The SDK signs int(ts): a zero-padded ts is the same time, signed without the padding.
    timestamp = NOW - 2
    paddle(SECRET).verify(request(f"ts=0{timestamp};h1={h1(SECRET, timestamp)}"))
    assert reason(paddle(SECRET), request(f"ts={timestamp};h1={h1(SECRET, NOW - 3)}")) == "bad_signature"


def test_spaces_and_empty_parts_around_pairs_are_tolerated() -> None:
    timestamp = NOW - 2
    paddle(SECRET).verify(request(f" ts={timestamp} ; h1={h1(SECRET, timestamp)} ;"))


@pytest.mark.parametrize("header", [
    "", "ts=1767225598", "h1=abc", "ts=1767225598;h1=", "ts=;h1=abcd", "ts=soon;h1=abcd",
    "ts=1767225598;h1=abcd;v1=abcd", "ts=1767225598;h2=abcd", "ts=1767225598;ts=1767225599;h1=abcd",
    "ts=1767225598;h1", "t=1767225598,v1=abcd", "ts=-1767225598;h1=abcd", "ts=1767225598;h1=é",
    "ts=1767225598;h1=\udcff", "ts=١٧٦٧٢٢٥٥٩٨;h1=abcd", "ts=99999999999999999999;h1=abcd",
    "ts=1767225598;h1=ab, ts=1767225598;h1=cd", ";;;",
])
def test_malformed_headers_are_malformed_header(header: str) -> None:
    assert reason(paddle(SECRET), request(header)) == "malformed_header"


def test_missing_header_is_missing_header() -> None:
    assert reason(paddle(SECRET), request(None)) == "missing_header"


def test_a_huge_header_of_many_signatures_is_just_a_bad_signature() -> None:
    header = f"ts={NOW};" + ";".join(["h1=" + "0" * 64] * 120)
    assert reason(paddle(SECRET, PREVIOUS), request(header)) == "bad_signature"


def test_identity_is_the_bodys_event_id_and_event_type() -> None:
    scheme = paddle(SECRET)
    assert scheme.identify(signed()) == ("evt_01abc", "transaction.completed")
    assert scheme.identify(request(None, body=b"not json")) == (None, None)


def test_reads_the_signature_header() -> None:
    assert paddle(SECRET).reads_headers == frozenset({"paddle-signature"})
