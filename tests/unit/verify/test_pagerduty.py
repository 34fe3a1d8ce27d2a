"""Scheme `pagerduty` (ingest/verify/pagerduty.py): the corpus verdicts (PagerDuty's documented V3 construction),
several signatures in one header, rotation, the cap on signatures read, identity."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Scheme, build_scheme
from ingest.verify.pagerduty import MAX_SIGNATURES
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_config
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
SECRET = "pagerduty-current-0123456789abcdef"
PREVIOUS = "pagerduty-previous-0123456789abcdef"
BODY = b'{"event":{"id":"01DEN2HEKJBWA5J9BGR4YC4VVA","event_type":"incident.resolved","data":{"id":"PGR0VU2"}}}'


def pagerduty(*secrets: str) -> Scheme:
    return build_scheme(VerifyConfig(scheme="pagerduty", secrets=list(secrets)))


def v1(secret: str | bytes, body: bytes = BODY) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return "v1=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def request(value: str | None, body: bytes = BODY) -> InboundRequest:
    headers = {"x-pagerduty-signature": value} if value is not None else {}
    return InboundRequest(method="POST", query_string="", headers=headers, body=body, now=NOW)


@pytest.mark.parametrize("case", cases_for("pagerduty"))
def test_every_corpus_case_gets_the_documented_verdict(case: dict[str, Any]) -> None:
    assert_scheme_verdict(build_scheme(verify_config(case)), case)


def test_any_signature_of_the_header_may_match_any_configured_secret() -> None:
    pagerduty(SECRET).verify(request(f"{v1(PREVIOUS)},{v1(SECRET)}"))
    pagerduty(SECRET).verify(request(f"{v1(SECRET)}, {v1(PREVIOUS)}"))
    pagerduty(SECRET, PREVIOUS).verify(request(v1(PREVIOUS)))
    assert reason(pagerduty(SECRET), request(v1(PREVIOUS))) == "bad_signature"


def test_a_signature_made_with_an_empty_key_is_rejected() -> None:
    scheme = build_scheme(VerifyConfig.model_construct(scheme="pagerduty", secrets=["", SECRET]))
    assert reason(scheme, request(v1(b""))) == "bad_signature"


def test_the_number_of_signatures_read_is_capped() -> None:
    pagerduty(SECRET).verify(request(",".join([v1(PREVIOUS)] * (MAX_SIGNATURES - 1) + [v1(SECRET)])))
    too_many = ",".join([v1(PREVIOUS)] * MAX_SIGNATURES + [v1(SECRET)])
    assert reason(pagerduty(SECRET), request(too_many)) == "malformed_header"
    assert reason(pagerduty(SECRET), request("v1=00," * 100_000 + v1(SECRET))) == "malformed_header"


@pytest.mark.parametrize("value", ["", " ", "v1=", "sha256=00", "V1=00", v1(SECRET)[3:], "v1=é0", "v2=00,v3=00"])
def test_unusable_headers_are_malformed(value: str) -> None:
    assert reason(pagerduty(SECRET), request(value)) == "malformed_header"


def test_missing_header() -> None:
    assert reason(pagerduty(SECRET), request(None)) == "missing_header"


def test_the_raw_body_is_signed() -> None:
    assert reason(pagerduty(SECRET), request(v1(SECRET), BODY + b"\n")) == "bad_signature"
    pagerduty(SECRET).verify(request(v1(SECRET, b"\xff not utf-8"), b"\xff not utf-8"))


def test_identify_gives_the_event_id_and_type() -> None:
    assert pagerduty(SECRET).identify(request(v1(SECRET))) == ("01DEN2HEKJBWA5J9BGR4YC4VVA", "incident.resolved")
    assert pagerduty(SECRET).identify(request(None, b'{"event":"x"}')) == (None, None)


def test_reads_and_strips_the_signature_header() -> None:
    assert pagerduty(SECRET).reads_headers == frozenset({"x-pagerduty-signature"})
