"""Scheme `square` (ingest/verify/square.py): squareup's corpus verdicts, the notification URL and its query,
rotation, the header's bounds."""

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

KEY = "Ibxx_5AKakO-3qeNVR61Dw"
PREVIOUS = "MCmhFRxGX82xMwg5FsaoQA"
PUBLIC_URL = "https://hooks.example.com/ingest/square"
BODY = b'{"merchant_id":"MLEFBHHSJGVHD","type":"payment.updated","event_id":"ac3ac95b-f97d","data":{}}'


def square(*keys: str, public_url: str = PUBLIC_URL) -> Scheme:
    return build_scheme(VerifyConfig(scheme="square", secrets=list(keys or [KEY]), public_url=public_url))


def signature(key: str | bytes, url: str = PUBLIC_URL, body: bytes = BODY) -> str:
    key = key.encode() if isinstance(key, str) else key
    return base64.b64encode(hmac.new(key, url.encode() + body, hashlib.sha256).digest()).decode()


def request(sig: str | None, body: bytes = BODY, query: str = "") -> InboundRequest:
    headers = {"content-type": "application/json"} | ({"x-square-hmacsha256-signature": sig} if sig else {})
    return InboundRequest(method="POST", query_string=query, headers=headers, body=body, now=1_767_225_600)


@pytest.mark.parametrize("case", cases_for("square"))
def test_every_corpus_case_gets_squareups_verdict(case: dict[str, Any]) -> None:
    assert_scheme_verdict(build_scheme(verify_config(case)), case)



def test_a_signed_notification_is_accepted_and_identified_by_event_id_and_type() -> None:
    square().verify(request(signature(KEY)))
    assert square().identify(request(None)) == ("ac3ac95b-f97d", "payment.updated")


def test_every_configured_key_is_tried() -> None:
    square(KEY, PREVIOUS).verify(request(signature(PREVIOUS)))
    assert reason(square(KEY), request(signature(PREVIOUS))) == "bad_signature"


def test_a_signature_made_with_an_empty_key_is_rejected() -> None:
    scheme = build_scheme(VerifyConfig.model_construct(scheme="square", secrets=["", KEY], public_url=PUBLIC_URL))
    assert reason(scheme, request(signature(b""))) == "bad_signature"


def test_the_query_as_received_is_signed_after_public_url_percent_encoding_untouched() -> None:
    query = "tenant=acme&name=J%C3%BCrgen+M%20x&path=a%2Fb"
    sig = signature(KEY, f"{PUBLIC_URL}?{query}")
    square().verify(request(sig, query=query))
    assert reason(square(), request(sig, query="tenant=acme&name=J%C3%BCrgen+M+x&path=a/b")) == "bad_signature"
    assert reason(square(), request(sig)) == "bad_signature"


def test_a_query_in_public_url_is_replaced_by_the_one_received_not_repeated() -> None:
    scheme = square(public_url=f"{PUBLIC_URL}?tenant=acme")
    scheme.verify(request(signature(KEY, f"{PUBLIC_URL}?tenant=acme"), query="tenant=acme"))
    scheme.verify(request(signature(KEY)))


def test_the_url_is_signed_exactly_as_configured_with_no_port_or_slash_added() -> None:
    assert reason(square(), request(signature(KEY, "https://hooks.example.com:443/ingest/square"))) == (
        "bad_signature"
    )
    assert reason(square(), request(signature(KEY, PUBLIC_URL + "/"))) == "bad_signature"
    square(public_url=PUBLIC_URL + "/").verify(request(signature(KEY, PUBLIC_URL + "/")))


def test_the_raw_body_bytes_are_signed() -> None:
    body = b"\xff\xfe not utf-8"
    square().verify(request(signature(KEY, body=body), body=body))
    assert reason(square(), request(signature(KEY), body=BODY + b"\n")) == "bad_signature"


def test_an_empty_body_is_refused_as_squareup_refuses_it() -> None:
    assert reason(square(), request(signature(KEY, body=b""), body=b"")) == "bad_signature"


@pytest.mark.parametrize("value", [
    "   ", "abc", signature(KEY)[:-1], signature(KEY) + "=", "A" * 100_000, "é" * 44, "\udcff" * 44,
    "!" * 44, f"{signature(KEY)}, {signature(KEY)}",
])
def test_a_header_that_is_not_44_characters_of_base64_is_malformed_and_no_hmac_is_computed(value: str) -> None:
    assert reason(square(), request(value)) == "malformed_header"


def test_a_well_formed_wrong_signature_is_bad_signature() -> None:
    assert reason(square(), request(signature("some-other-key"))) == "bad_signature"
    assert reason(square(), request(base64.b64encode(bytes(32)).decode())) == "bad_signature"


def test_missing_signature_is_missing_header_even_with_the_legacy_one() -> None:
    legacy = InboundRequest(method="POST", query_string="", headers={"x-square-signature": "abc="}, body=BODY,
                            now=1_767_225_600)
    assert reason(square(), legacy) == "missing_header"
    assert reason(square(), request(None)) == "missing_header"


@pytest.mark.parametrize("url", ["hooks.example.com/ingest", "ftp://hooks.example.com/x", "https:///no-host", ""])
def test_public_url_that_is_no_absolute_http_url_is_refused_when_built(url: str) -> None:
    with pytest.raises(ValueError):
        square(public_url=url)


def test_reads_and_strips_both_signature_headers() -> None:
    assert square().reads_headers == frozenset({"x-square-hmacsha256-signature", "x-square-signature"})
