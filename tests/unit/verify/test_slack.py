"""Scheme `slack` (ingest/verify/slack.py): the corpus verdicts of slack_sdk, rotation, tolerance, identity."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Scheme, build_scheme
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_config
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
SECRET = "ecdae7f61f409b08cf8a44c1c9f33b86"
PREVIOUS = "d3a612e7d0250b9cf1e84a7c55f0e1aa"
BODY = (b'{"type": "event_callback", "event_id": "Ev08MFMKH6", "team_id": "T123ABC456",'
        b' "event": {"type": "app_mention", "text": "Gr\xc3\xbc\xc3\x9fe \xf0\x9f\x91\x8b"}}')


def slack(*secrets: str, **settings: Any) -> Scheme:
    return build_scheme(VerifyConfig(scheme="slack", secrets=list(secrets), **settings))


def signature(secret: str | bytes, timestamp: str, body: bytes = BODY) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return "v0=" + hmac.new(key, f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def request(headers: dict[str, str], body: bytes = BODY, now: float = NOW) -> InboundRequest:
    return InboundRequest(method="POST", query_string="",
                          headers=headers, body=body, now=now)


def signed(secret: str | bytes = SECRET, timestamp: int | str = NOW - 5, body: bytes = BODY) -> InboundRequest:
    return request({"x-slack-request-timestamp": str(timestamp),
                    "x-slack-signature": signature(secret, str(timestamp), body)}, body)


@pytest.mark.parametrize("case", cases_for("slack"))
def test_every_corpus_case_gets_slack_sdks_verdict(case: dict[str, Any]) -> None:
    scheme = build_scheme(verify_config(case))
    assert_scheme_verdict(scheme, case)


def test_accepts_a_signature_made_with_any_configured_secret() -> None:
    scheme = slack(SECRET, PREVIOUS)
    scheme.verify(signed(SECRET))
    scheme.verify(signed(PREVIOUS))
    assert reason(scheme, signed("0123456789abcdef0123456789abcdef")) == "bad_signature"


def test_a_signature_made_with_an_empty_key_is_rejected() -> None:
    # model_construct skips the config's own dropping of empty secrets: the scheme must not rely on it.
    scheme = build_scheme(VerifyConfig.model_construct(scheme="slack", secrets=["", SECRET]))
    assert reason(scheme, signed(b"")) == "bad_signature"
    scheme.verify(signed(SECRET))


def test_default_tolerance_is_300_seconds_both_ways() -> None:
    scheme = slack(SECRET)
    scheme.verify(signed(timestamp=NOW - 300))
    scheme.verify(signed(timestamp=NOW + 300))
    assert reason(scheme, signed(timestamp=NOW - 301)) == "stale_timestamp"
    assert reason(scheme, signed(timestamp=NOW + 301)) == "future_timestamp"


def test_tolerance_override_is_honoured() -> None:
    scheme = slack(SECRET, tolerance="30s")
    scheme.verify(signed(timestamp=NOW - 30))
    assert reason(scheme, signed(timestamp=NOW - 31)) == "stale_timestamp"
    assert reason(scheme, signed(timestamp=NOW + 31)) == "future_timestamp"


def test_tolerance_none_skips_the_freshness_check() -> None:
    slack(SECRET, tolerance="none").verify(signed(timestamp=NOW - 365 * 86_400))


def test_the_timestamp_is_checked_before_the_signature() -> None:
    assert reason(slack(SECRET), signed("another-secret-0123456789", timestamp=NOW - 3600)) == "stale_timestamp"


def test_the_timestamp_is_signed_as_sent() -> None:
    slack(SECRET).verify(signed(timestamp=f"0{NOW - 5}"))
    rewritten = {**signed(timestamp=NOW - 5).headers, "x-slack-request-timestamp": f"0{NOW - 5}"}
    assert reason(slack(SECRET), request(rewritten)) == "bad_signature"


@pytest.mark.parametrize("missing", ["x-slack-signature", "x-slack-request-timestamp"])
def test_each_header_is_required(missing: str) -> None:
    headers = {name: value for name, value in signed().headers.items() if name != missing}
    assert reason(slack(SECRET), request(headers)) == "missing_header"


@pytest.mark.parametrize("timestamp", ["", "now", "-5", f"{NOW}.0", "1e9", "١٢٣", "9" * 13, "\udcff"])
def test_unusable_timestamp_is_malformed_header(timestamp: str) -> None:
    headers = {**signed().headers, "x-slack-request-timestamp": timestamp}
    assert reason(slack(SECRET), request(headers)) == "malformed_header"


@pytest.mark.parametrize("value", [
    "", signature(SECRET, str(NOW - 5)).removeprefix("v0="), signature(SECRET, str(NOW - 5)).replace("v0=", "v1="),
    "v0=é", "v0=\udcff",
])
def test_unusable_signature_is_malformed_header(value: str) -> None:
    headers = {**signed().headers, "x-slack-signature": value}
    assert reason(slack(SECRET), request(headers)) == "malformed_header"


@pytest.mark.parametrize("value", [
    signature(SECRET, str(NOW - 5))[:-1], signature(SECRET, str(NOW - 5)).upper().replace("V0=", "v0="),
    f"{signature(SECRET, str(NOW - 5))}, {signature(SECRET, str(NOW - 5))}", "v0=" + "0" * 100_000,
])
def test_anything_but_the_exact_signature_is_bad_signature(value: str) -> None:
    headers = {**signed().headers, "x-slack-signature": value}
    assert reason(slack(SECRET), request(headers)) == "bad_signature"


def test_the_raw_body_bytes_are_signed() -> None:
    slack(SECRET).verify(signed(body=b"\xff\xfe\x00 not utf-8"))
    slack(SECRET).verify(signed(body=b""))
    assert reason(slack(SECRET), request(dict(signed().headers), body=BODY + b" ")) == "bad_signature"


@pytest.mark.parametrize(("body", "identity"), [
    (BODY, ("Ev08MFMKH6", "app_mention")),
    (b'{"type": "event_callback", "event_id": "Ev1", "event": {}}', ("Ev1", "event_callback")),
    (b'{"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}',
     (None, "url_verification")),
    (b'{"type": "app_rate_limited", "team_id": "T123ABC456"}', (None, "app_rate_limited")),
    (b"token=gIkuvaNzQIHg97ATvDxqgjtO&command=%2Fweather&text=94070", (None, None)),
    (b"[1, 2]", (None, None)),
])
def test_identify_gives_the_event_id_and_the_inner_event_type(body: bytes, identity: tuple[str | None, ...]) -> None:
    assert slack(SECRET).identify(signed(body=body)) == identity


def test_reads_and_strips_the_signature_and_timestamp_headers() -> None:
    assert slack(SECRET).reads_headers == frozenset({"x-slack-signature", "x-slack-request-timestamp"})
