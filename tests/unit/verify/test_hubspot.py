"""Scheme `hubspot` (ingest/verify/hubspot.py): hubspot-api-client's corpus verdicts, the URI HubSpot signs (its
listed escapes decoded), the 5-minute window read as the client reads it, rotation, the headers' bounds."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Scheme, build_scheme
from ingest.verify.hubspot import signed_uri
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_config
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
SECRET = "3f1c2b9e-7d4a-4c1e-9b2f-0a1b2c3d4e5f"
PREVIOUS = "9e8d7c6b-5a49-4838-8271-605f4e3d2c1b"
PUBLIC_URL = "https://hooks.example.com/ingest/hubspot"
BODY = b'[{"eventId":1,"subscriptionType":"contact.creation","objectId":512}]'
FRESH = str(NOW * 1000 - 1_500)


def hubspot(*secrets: str, public_url: str = PUBLIC_URL, **settings: Any) -> Scheme:
    return build_scheme(VerifyConfig(scheme="hubspot", secrets=list(secrets or [SECRET]), public_url=public_url,
                                     **settings))


def signature(secret: str | bytes, uri: str = PUBLIC_URL, body: bytes = BODY, timestamp: str = FRESH,
              method: str = "POST") -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    signed = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def request(sig: str | None, timestamp: str | None = FRESH, body: bytes = BODY, query: str = "",
            method: str = "POST") -> InboundRequest:
    headers = {"content-type": "application/json"}
    headers |= {"x-hubspot-signature-v3": sig} if sig is not None else {}
    headers |= {"x-hubspot-request-timestamp": timestamp} if timestamp is not None else {}
    return InboundRequest(method=method, query_string=query, headers=headers, body=body, now=NOW)



@pytest.mark.parametrize("case", cases_for("hubspot"))
def test_every_corpus_case_gets_hubspot_api_clients_verdict(case: dict[str, Any]) -> None:
    assert_scheme_verdict(build_scheme(verify_config(case)), case)


def test_a_signed_batch_is_accepted_with_no_one_id_or_type() -> None:
    hubspot().verify(request(signature(SECRET)))
    assert hubspot().identify(request(signature(SECRET))) == (None, None)


def test_every_configured_secret_is_tried() -> None:
    hubspot(SECRET, PREVIOUS).verify(request(signature(PREVIOUS)))
    assert reason(hubspot(SECRET), request(signature(PREVIOUS))) == "bad_signature"


def test_a_signature_made_with_an_empty_key_is_rejected() -> None:
    scheme = build_scheme(VerifyConfig.model_construct(scheme="hubspot", secrets=["", SECRET], public_url=PUBLIC_URL))
    assert reason(scheme, request(signature(b""))) == "bad_signature"


@pytest.mark.parametrize(("query", "signed"), [
    ("a=%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B", "a=:/?@!$'()*,;"),
    ("a=%3a%2f%3b", "a=:/;"),  # lower-case escapes name the same octets
    ("a=%3D%26%20%25%2B%C3%BC", "a=%3D%26%20%25%2B%C3%BC"),  # not in HubSpot's list: kept as sent
    ("a=%253A", "a=%253A"),  # one pass: %25 is kept, so no second decoding
    ("q=J%C3%BCrgen+M&x=1", "q=J%C3%BCrgen+M&x=1"),
])
def test_the_uri_is_public_url_and_the_query_with_hubspots_listed_escapes_decoded(query: str, signed: str) -> None:
    assert signed_uri(PUBLIC_URL, query) == f"{PUBLIC_URL}?{signed}"
    hubspot().verify(request(signature(SECRET, f"{PUBLIC_URL}?{signed}"), query=query))


def test_a_query_in_public_url_is_replaced_by_the_one_received() -> None:
    scheme = hubspot(public_url=f"{PUBLIC_URL}?portalId=1")
    scheme.verify(request(signature(SECRET)))
    scheme.verify(request(signature(SECRET, f"{PUBLIC_URL}?portalId=2"), query="portalId=2"))


def test_the_method_is_signed() -> None:
    hubspot().verify(request(signature(SECRET, method="GET", body=b""), body=b"", method="GET"))
    assert reason(hubspot(), request(signature(SECRET), method="PUT")) == "bad_signature"


def test_the_raw_body_bytes_are_signed() -> None:
    body = b"\xff\xfe not utf-8"
    hubspot().verify(request(signature(SECRET, body=body), body=body))
    assert reason(hubspot(), request(signature(SECRET), body=BODY + b"\n")) == "bad_signature"


@pytest.mark.parametrize(("age_ms", "expected"), [
    (299_000, None), (299_001, "stale_timestamp"), (300_000, "stale_timestamp"), (86_400_000, "stale_timestamp"),
    (-86_400_000, None), (0, None),
])
def test_the_timestamp_must_be_less_than_300_whole_seconds_old_and_may_be_ahead(age_ms: int,
                                                                                expected: str | None) -> None:
    # Whole seconds, as hubspot-api-client reads it: 299.001 s is second NOW-300, an age of 300, refused.
    timestamp = str(NOW * 1000 - age_ms)
    sent = request(signature(SECRET, timestamp=timestamp), timestamp=timestamp)
    if expected is None:
        hubspot().verify(sent)
    else:
        assert reason(hubspot(), sent) == expected


def test_the_window_is_checked_before_the_signature_as_the_client_checks_it() -> None:
    assert reason(hubspot(), request("A" * 43 + "=", timestamp=str((NOW - 600) * 1000))) == "stale_timestamp"


def test_tolerance_sets_the_window_and_none_turns_it_off() -> None:
    old = str((NOW - 120) * 1000)
    assert reason(hubspot(tolerance="60s"), request(signature(SECRET, timestamp=old), timestamp=old)) == (
        "stale_timestamp"
    )
    ancient = str((NOW - 86_400 * 365) * 1000)
    hubspot(tolerance="none").verify(request(signature(SECRET, timestamp=ancient), timestamp=ancient))


@pytest.mark.parametrize("timestamp", ["yesterday", "1767225600000.0", "-1767225600000", "1e12", "9" * 17, "\udcff",
                                       "١٧٦٧٢٢٥٦٠٠٠٠٠"])
def test_a_timestamp_that_is_not_plain_milliseconds_is_malformed(timestamp: str) -> None:
    assert reason(hubspot(), request(signature(SECRET, timestamp="x"), timestamp=timestamp)) == "malformed_header"


@pytest.mark.parametrize("value", [
    "   ", "abc", signature(SECRET)[:-1], signature(SECRET) + "=", "A" * 100_000, "é" * 44, "\udcff" * 44, "!" * 44,
    f"{signature(SECRET)}, {signature(SECRET)}",
])
def test_a_signature_that_is_not_44_characters_of_base64_is_malformed(value: str) -> None:
    assert reason(hubspot(), request(value)) == "malformed_header"


def test_missing_headers_are_missing_header() -> None:
    assert reason(hubspot(), request(None)) == "missing_header"
    assert reason(hubspot(), request(signature(SECRET), timestamp=None)) == "missing_header"
    legacy = InboundRequest(method="POST", query_string="", body=BODY, now=NOW,
                            headers={"x-hubspot-signature": "ab" * 32, "x-hubspot-signature-version": "v1"})
    assert reason(hubspot(), legacy) == "missing_header"


@pytest.mark.parametrize("url", ["hooks.example.com/ingest", "ftp://hooks.example.com/x", "https:///no-host", ""])
def test_public_url_that_is_no_absolute_http_url_is_refused_when_built(url: str) -> None:
    with pytest.raises(ValueError):
        hubspot(public_url=url)


def test_reads_and_strips_the_signatures_and_the_timestamp() -> None:
    assert hubspot().reads_headers == frozenset({"x-hubspot-signature-v3", "x-hubspot-request-timestamp",
                                                 "x-hubspot-signature", "x-hubspot-signature-version"})
