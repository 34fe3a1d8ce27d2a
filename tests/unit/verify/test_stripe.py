"""Scheme `stripe` (ingest/verify/stripe.py): the corpus verdicts of stripe-python, rotation, tolerance, identity."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Rejected, Scheme, build_scheme
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_config
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
SECRET = "whsec_current0123456789abcdefABCDEF"
PREVIOUS = "whsec_previous0123456789abcdefABCD"
BODY = b'{"id": "evt_1QxYz", "object": "event", "type": "invoice.paid", "data": {"object": {"amount": 4200}}}'


def stripe(*secrets: str, **settings: Any) -> Scheme:
    return build_scheme(VerifyConfig(scheme="stripe", secrets=list(secrets), **settings))


def signature(secret: str | bytes, timestamp: int, body: bytes = BODY) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def request(header: str | None, body: bytes = BODY, now: float = NOW) -> InboundRequest:
    headers = {"content-type": "application/json"} | ({"stripe-signature": header} if header is not None else {})
    return InboundRequest(method="POST", query_string="",
                          headers=headers, body=body, now=now)


def signed(secret: str | bytes = SECRET, timestamp: int = NOW - 5, body: bytes = BODY) -> InboundRequest:
    return request(f"t={timestamp},v1={signature(secret, timestamp, body)}", body)


@pytest.mark.parametrize("case", cases_for("stripe"))
def test_every_corpus_case_gets_stripe_pythons_verdict(case: dict[str, Any]) -> None:
    scheme = build_scheme(verify_config(case))
    assert_scheme_verdict(scheme, case)


def test_accepts_a_signature_made_with_any_configured_secret() -> None:
    scheme = stripe(SECRET, PREVIOUS)
    scheme.verify(signed(SECRET))
    scheme.verify(signed(PREVIOUS))
    assert reason(scheme, signed("whsec_retired0123456789abcdefABCDE")) == "bad_signature"


def test_accepts_any_v1_of_a_header_signed_during_a_secret_roll() -> None:
    timestamp = NOW - 5
    header = f"t={timestamp},v1={signature(PREVIOUS, timestamp)},v1={signature(SECRET, timestamp)}"
    stripe(SECRET).verify(request(header))
    stripe(PREVIOUS).verify(request(header))


def test_key_is_the_whole_secret_string_including_whsec() -> None:
    assert reason(stripe(SECRET), signed(SECRET.removeprefix("whsec_"))) == "bad_signature"


def test_a_signature_made_with_an_empty_key_is_rejected() -> None:
    # model_construct skips the config's own dropping of empty secrets: the scheme must not rely on it.
    scheme = build_scheme(VerifyConfig.model_construct(scheme="stripe", secrets=["", "  ", SECRET]))
    assert reason(scheme, signed(b"")) == "bad_signature"
    assert reason(scheme, signed(b"  ")) == "bad_signature"
    scheme.verify(signed(SECRET))


def test_v0_entries_and_unknown_keys_are_ignored() -> None:
    timestamp = NOW - 5
    stripe(SECRET).verify(request(f"t={timestamp},v0=00ff,v1={signature(SECRET, timestamp)},v9=abc,future"))


@pytest.mark.parametrize("header", [
    f"t={NOW - 5},t={NOW - 6},v1={signature(SECRET, NOW - 5)}",  # the first t counts
    f"t={NOW - 5},v1={signature(SECRET, NOW - 5)}==",  # a value ends at its next '='
    f"t={NOW - 5},v1=00, t={NOW - 6},v1={signature(SECRET, NOW - 5)}",  # a repeated header, joined by ingest
])
def test_the_header_is_read_as_stripe_python_reads_it(header: str) -> None:
    stripe(SECRET).verify(request(header))


def test_items_are_not_trimmed_as_stripe_python_does_not_trim_them() -> None:
    assert reason(stripe(SECRET), request(f"t={NOW - 5}, v1={signature(SECRET, NOW - 5)}")) == "malformed_header"


def test_default_tolerance_is_300_seconds_in_the_past_only() -> None:
    scheme = stripe(SECRET)
    scheme.verify(signed(timestamp=NOW - 300))
    assert reason(scheme, signed(timestamp=NOW - 301)) == "stale_timestamp"
    scheme.verify(signed(timestamp=NOW + 86_400))  # a future t is accepted, as stripe-python does


def test_tolerance_override_is_honoured() -> None:
    scheme = stripe(SECRET, tolerance="10s")
    scheme.verify(signed(timestamp=NOW - 10))
    assert reason(scheme, signed(timestamp=NOW - 11)) == "stale_timestamp"


def test_tolerance_none_skips_the_freshness_check() -> None:
    stripe(SECRET, tolerance="none").verify(signed(timestamp=NOW - 365 * 86_400))


def test_signature_is_checked_before_the_timestamp() -> None:
    assert reason(stripe(SECRET), signed("whsec_other", timestamp=NOW - 3600)) == "bad_signature"


def test_missing_header_is_missing_header() -> None:
    assert reason(stripe(SECRET), request(None)) == "missing_header"


VALID_V1 = signature(SECRET, NOW - 5)


@pytest.mark.parametrize("header", [
    "", "   ", "not-a-signature", f"v1={VALID_V1}", f"t={NOW - 5}", f"t={NOW - 5},v0={VALID_V1}",
    f"t=,v1={VALID_V1}", f"t=abc,v1={VALID_V1}", f"t=-5,v1={VALID_V1}", f"t={NOW - 5}.5,v1={VALID_V1}",
    f"t=1e9,v1={VALID_V1}", f"t=\uff11\uff12\uff13,v1={VALID_V1}", f"t=9999999999999,v1={VALID_V1}",
    f"t={NOW - 5},v1=é{VALID_V1}",
    f"t={NOW - 5}," + ",".join(["v1=00"] * 9) + f",v1={VALID_V1}",
])
def test_unusable_header_is_malformed_header(header: str) -> None:
    assert reason(stripe(SECRET), request(header)) == "malformed_header"


@pytest.mark.parametrize("header", [
    "t=" * 50_000, "," * 100_000, "v1=" + "f" * 100_000, "t=1,v1=\udcff", "\x00\x01\x02", "t=\u0663,v1=00",
    "=" * 10_000, f"t={NOW - 5}," + "v1=" * 10_000,
])
def test_hostile_headers_are_only_ever_rejected(header: str) -> None:
    with pytest.raises(Rejected):
        stripe(SECRET).verify(request(header))


def test_the_raw_body_bytes_are_signed_whatever_they_are() -> None:
    stripe(SECRET).verify(signed(body=b"\xff\xfe not utf-8 \x00"))
    stripe(SECRET).verify(signed(body=b""))


def test_a_changed_body_is_bad_signature() -> None:
    timestamp = NOW - 5
    header = f"t={timestamp},v1={signature(SECRET, timestamp)}"
    assert reason(stripe(SECRET), request(header, body=BODY + b"\n")) == "bad_signature"


def test_identify_reads_the_event_id_and_type_from_the_body() -> None:
    scheme = stripe(SECRET)
    assert scheme.identify(signed()) == ("evt_1QxYz", "invoice.paid")
    assert scheme.identify(signed(body=b"not json")) == (None, None)
    assert scheme.identify(signed(body=b'["evt_1", "x"]')) == (None, None)


def test_reads_and_strips_the_signature_header() -> None:
    assert stripe(SECRET).reads_headers == frozenset({"stripe-signature"})
