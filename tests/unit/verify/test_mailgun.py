"""Scheme `mailgun` (ingest/verify/mailgun.py): the mailgun SDK's corpus verdicts, the body's signature object,
rotation, tolerance, and the event's identity across a replay."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Scheme, build_scheme
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_settings
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
KEY = "key-7c6d9eae85405b4e71a3133de3ced239"
PREVIOUS = "key-00112233445566778899aabbccddeeff"
TOKEN = "d785484c24fb8372b928166ac7d4c97feb67ccfebf330eaa39"
EVENT = {"event": "delivered", "id": "0oVwtnefNhXv6ngNuZ3lMo", "recipient": "zoë@example.com"}


def mailgun(*keys: str, **settings: Any) -> Scheme:
    return build_scheme(VerifyConfig(scheme="mailgun", secrets=list(keys), **settings))


def signature(key: str | bytes, timestamp: str, token: str = TOKEN) -> str:
    secret = key.encode() if isinstance(key, str) else key
    return hmac.new(secret, (timestamp + token).encode(), hashlib.sha256).hexdigest()


def request(body: Any, now: float = NOW) -> InboundRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return InboundRequest(method="POST", query_string="",
                          headers={"content-type": "application/json"}, body=raw, now=now)


def signed(key: str | bytes = KEY, timestamp: int | str = NOW - 30, event: dict[str, Any] = EVENT,
           **block: Any) -> InboundRequest:
    fields = {"timestamp": str(timestamp), "token": TOKEN, "signature": signature(key, str(timestamp))}
    return request({"signature": fields | block, "event-data": event})


@pytest.mark.parametrize("tolerance", ["from the case", "default"])
@pytest.mark.parametrize("case", cases_for("mailgun"))
def test_every_corpus_case_gets_the_mailgun_sdks_verdict(case: dict[str, Any], tolerance: str) -> None:
    settings = verify_settings(case)
    if tolerance == "default":  # our default must be the SDK's, so both agree with the corpus
        settings.pop("tolerance", None)
    scheme = build_scheme(VerifyConfig.model_validate(settings))
    assert_scheme_verdict(scheme, case)


def test_accepts_a_signature_made_with_any_configured_signing_key() -> None:
    scheme = mailgun(KEY, PREVIOUS)
    scheme.verify(signed(KEY))
    scheme.verify(signed(PREVIOUS))
    assert reason(scheme, signed("key-retired000000000000000000000000")) == "bad_signature"


def test_a_signature_made_with_an_empty_key_is_rejected() -> None:
    scheme = build_scheme(VerifyConfig.model_construct(scheme="mailgun", secrets=["", KEY]))
    assert reason(scheme, signed(b"")) == "bad_signature"


def test_token_or_timestamp_changed_is_a_bad_signature() -> None:
    assert reason(mailgun(KEY), signed(token="0" * 50)) == "bad_signature"
    assert reason(mailgun(KEY), signed(timestamp=NOW - 30, signature=signature(KEY, str(NOW - 31)))) == (
        "bad_signature")


def test_event_data_is_not_covered_by_the_signature() -> None:
    # As the SDK: the HMAC covers timestamp and token only (so a replayed token is what to watch for).
    mailgun(KEY).verify(signed(event={"event": "failed", "id": "other"}))


def test_integer_timestamp_is_signed_as_its_digits() -> None:
    fields = {"timestamp": NOW - 30, "token": TOKEN, "signature": signature(KEY, str(NOW - 30))}
    mailgun(KEY).verify(request({"signature": fields, "event-data": EVENT}))


def test_default_window_is_900_seconds_both_ways() -> None:
    scheme = mailgun(KEY)
    scheme.verify(signed(timestamp=NOW - 900))
    scheme.verify(signed(timestamp=NOW + 900))
    assert reason(scheme, signed(timestamp=NOW - 901)) == "stale_timestamp"
    assert reason(scheme, signed(timestamp=NOW + 901)) == "future_timestamp"


def test_a_configured_tolerance_replaces_the_default() -> None:
    scheme = mailgun(KEY, tolerance="60s")
    assert reason(scheme, signed(timestamp=NOW - 61)) == "stale_timestamp"
    mailgun(KEY, tolerance="none").verify(signed(timestamp=NOW - 86400 * 30))


@pytest.mark.parametrize("body", [
    b"", b"not json", b"timestamp=1&token=2&signature=3", b"[]", b'["signature"]', b"null", b'"text"',
    b'{"event-data": {"id": "x"}}', b"\xff\xfe{",
])
def test_a_body_without_a_signature_object_is_missing_header(body: bytes) -> None:
    assert reason(mailgun(KEY), request(body)) == "missing_header"


@pytest.mark.parametrize("block", [
    None, "sig", [], 12, {}, {"timestamp": str(NOW), "token": TOKEN},
    {"timestamp": str(NOW), "signature": "ab"}, {"token": TOKEN, "signature": "ab"},
    {"timestamp": str(NOW), "token": 5, "signature": "ab"}, {"timestamp": str(NOW), "token": TOKEN, "signature": 5},
    {"timestamp": str(NOW), "token": "", "signature": "ab"},
    {"timestamp": "soon", "token": TOKEN, "signature": "ab"},
    {"timestamp": NOW + 0.5, "token": TOKEN, "signature": "ab"},
    {"timestamp": True, "token": TOKEN, "signature": "ab"}, {"timestamp": "", "token": TOKEN, "signature": "ab"},
    {"timestamp": "-1767225600", "token": TOKEN, "signature": "ab"},
    {"timestamp": "1" * 40, "token": TOKEN, "signature": "ab"},
    {"timestamp": str(NOW), "token": TOKEN, "signature": "é"},
])
def test_a_signature_object_of_the_wrong_shape_is_malformed_header(block: Any) -> None:
    assert reason(mailgun(KEY), request({"signature": block, "event-data": EVENT})) == "malformed_header"


def test_identity_is_the_event_datas_id_and_event() -> None:
    scheme = mailgun(KEY)
    assert scheme.identify(signed()) == ("0oVwtnefNhXv6ngNuZ3lMo", "delivered")
    assert scheme.identify(request(b"not json")) == (None, None)


def test_reads_no_header_the_signature_is_in_the_body() -> None:
    assert mailgun(KEY).reads_headers == frozenset()


def test_the_nonce_is_the_signed_token_fresh_until_the_window_closes() -> None:
    scheme = mailgun(KEY)
    assert scheme.nonce is not None
    nonce = scheme.nonce(signed(timestamp=NOW - 30))
    assert (nonce.value, nonce.fresh_until) == (TOKEN, NOW - 30 + 900)
    short = mailgun(KEY, tolerance="60s").nonce
    assert short is not None and short(signed(timestamp=NOW)).fresh_until == NOW + 60


def test_schemes_that_sign_the_body_have_no_nonce() -> None:
    for settings in ({"scheme": "stripe", "secrets": ["whsec_c2VjcmV0"]}, {"scheme": "github", "secrets": ["s"]},
                     {"scheme": "slack", "secrets": ["s"]}, {"scheme": "hmac", "secrets": ["s"], "header": "X-Sig"}):
        assert build_scheme(VerifyConfig.model_validate(settings)).nonce is None
