"""Scheme `twilio` (ingest/verify/twilio.py): twilio-python's corpus verdicts, the URL and parameter rules, rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode

import pytest

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Scheme, build_scheme
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_config
from tests.unit.verify.corpus import rejection_reason as reason

TOKEN = "3c2ae078a49aff4d2d62491962ebb83a"
SECONDARY = "9f0e1d2c3b4a59687766554433221100"
PUBLIC_URL = "https://hooks.example.com/ingest/twilio"
FORM = [("To", "+15558675310"), ("From", "+15017122661"), ("Body", "Héllo 👋 ça va? & = + %"), ("NumMedia", "0")]


def twilio(*tokens: str, public_url: str = PUBLIC_URL) -> Scheme:
    return build_scheme(VerifyConfig(scheme="twilio", secrets=list(tokens), public_url=public_url))


def signature(token: str | bytes, signed: str, digest: Any = hashlib.sha1) -> str:
    key = token.encode() if isinstance(token, str) else token
    return base64.b64encode(hmac.new(key, signed.encode(), digest).digest()).decode()


def form_signature(token: str | bytes, url: str, form: list[tuple[str, str]] = FORM) -> str:
    return signature(token, url + "".join(name + value for name, value in sorted(form)))


def request(headers: dict[str, str], body: bytes = b"", query: str = "") -> InboundRequest:
    return InboundRequest(method="POST", query_string=query, headers=headers,
                          body=body, now=1_767_225_600)


def form_request(sig: str | None, form: list[tuple[str, str]] = FORM, query: str = "",
                 **headers: str) -> InboundRequest:
    sent = {"content-type": "application/x-www-form-urlencoded", "i-twilio-idempotency-token": "idem-1"}
    sent |= {"x-twilio-signature": sig} if sig is not None else {}
    sent |= {name.replace("_", "-"): value for name, value in headers.items()}
    return request(sent, urlencode(form).encode(), query)


@pytest.mark.parametrize("case", cases_for("twilio"))
def test_every_corpus_case_gets_twilio_pythons_verdict(case: dict[str, Any]) -> None:
    scheme = build_scheme(verify_config(case))
    assert_scheme_verdict(scheme, case)


def test_accepts_form_parameters_signed_in_sorted_order_whatever_the_body_order() -> None:
    scheme = twilio(TOKEN)
    scheme.verify(form_request(form_signature(TOKEN, PUBLIC_URL)))
    scheme.verify(form_request(form_signature(TOKEN, PUBLIC_URL), form=list(reversed(FORM))))


def test_extra_missing_or_changed_parameters_are_bad_signatures() -> None:
    scheme, sig = twilio(TOKEN), form_signature(TOKEN, PUBLIC_URL)
    assert reason(scheme, form_request(sig, form=[*FORM, ("Injected", "1")])) == "bad_signature"
    assert reason(scheme, form_request(sig, form=FORM[1:])) == "bad_signature"
    assert reason(scheme, form_request(sig, form=[("To", "+10000000000"), *FORM[1:]])) == "bad_signature"


def test_repeated_parameter_contributes_each_distinct_value_sorted() -> None:
    form = [("Digits", "5678"), ("Sid", "CA123"), ("Digits", "1234")]
    signed = PUBLIC_URL + "Digits1234Digits5678SidCA123"
    twilio(TOKEN).verify(form_request(signature(TOKEN, signed), form=form))


def test_the_query_as_received_is_signed_after_public_url() -> None:
    query = "tenant=acme&name=J%C3%BCrgen+M%20x&path=a%2Fb"  # signed percent-encoded, exactly as sent
    sig = form_signature(TOKEN, f"{PUBLIC_URL}?{query}")
    twilio(TOKEN).verify(form_request(sig, query=query))
    assert reason(twilio(TOKEN), form_request(sig, query="tenant=acme")) == "bad_signature"
    assert reason(twilio(TOKEN), form_request(sig)) == "bad_signature"


def test_a_query_in_public_url_is_replaced_by_the_one_received_not_repeated() -> None:
    scheme = twilio("12345", public_url="https://mycompany.com/myapp.php?foo=1&bar=2")
    body = b"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212"
    published = request({"x-twilio-signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}, body, "foo=1&bar=2")
    scheme.verify(published)  # twilio-python's published vector


@pytest.mark.parametrize(("configured", "signed"), [
    ("https://hooks.example.com/ingest/twilio", "https://hooks.example.com:443/ingest/twilio"),
    ("https://hooks.example.com:443/ingest/twilio", "https://hooks.example.com/ingest/twilio"),
    ("http://hooks.example.com/ingest/twilio", "http://hooks.example.com:80/ingest/twilio"),
    ("https://hooks.example.com:8443/ingest/twilio", "https://hooks.example.com/ingest/twilio"),
])
def test_url_is_tried_with_and_without_its_port(configured: str, signed: str) -> None:
    twilio(TOKEN, public_url=configured).verify(form_request(form_signature(TOKEN, signed)))


def test_json_body_is_checked_against_the_signed_body_hash() -> None:
    body = b'{"property": "value", "boolean": true}'
    query = f"bodySHA256={hashlib.sha256(body).hexdigest()}"
    headers = {"content-type": "application/json", "x-twilio-signature": signature(TOKEN, f"{PUBLIC_URL}?{query}")}
    twilio(TOKEN).verify(request(headers, body, query))
    assert reason(twilio(TOKEN), request(headers, body.replace(b"value", b"VALUE"), query)) == "bad_signature"


def test_json_body_hash_must_be_in_the_signed_url() -> None:
    body = b'{"property": "value"}'
    forged_query = f"bodySHA256={hashlib.sha256(body).hexdigest()}"
    headers = {"content-type": "application/json", "x-twilio-signature": signature(TOKEN, PUBLIC_URL)}
    assert reason(twilio(TOKEN), request(headers, body, forged_query)) == "bad_signature"


def test_empty_body_hash_is_refused() -> None:
    headers = {"content-type": "application/json", "x-twilio-signature": signature(TOKEN, f"{PUBLIC_URL}?bodySHA256=")}
    assert reason(twilio(TOKEN), request(headers, b"{}", "bodySHA256=")) == "bad_signature"


def test_shared_key_signature_uses_the_algorithm_the_settings_header_names() -> None:
    signed = PUBLIC_URL + "".join(name + value for name, value in sorted(FORM))
    sha256 = signature(TOKEN, signed, hashlib.sha256)
    settings = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    scheme = twilio(TOKEN)
    scheme.verify(form_request(sha256, x_twilio_webhooks_signature_settings=settings))
    scheme.verify(form_request(sha256, x_twilio_webhooks_signature_settings="key=k, algorithm = hmac_sha256"))
    assert reason(scheme, form_request(sha256)) == "bad_signature"  # no settings: HMAC-SHA1
    sha1 = form_signature(TOKEN, PUBLIC_URL)
    assert reason(scheme, form_request(sha1, x_twilio_webhooks_signature_settings=settings)) == "bad_signature"
    scheme.verify(form_request(sha1, x_twilio_webhooks_signature_settings="key=webhooks_sharedkey_1"))


def test_an_algorithm_we_do_not_know_is_refused_not_guessed() -> None:
    refused = form_request(form_signature(TOKEN, PUBLIC_URL),
                           x_twilio_webhooks_signature_settings="key=k,algorithm=HMAC_SHA512")
    assert reason(twilio(TOKEN), refused) == "malformed_header"


def test_primary_and_secondary_auth_tokens_are_both_accepted() -> None:
    scheme = twilio(TOKEN, SECONDARY)
    scheme.verify(form_request(form_signature(TOKEN, PUBLIC_URL)))
    scheme.verify(form_request(form_signature(SECONDARY, PUBLIC_URL)))
    assert reason(scheme, form_request(form_signature("retired-token-0123456789", PUBLIC_URL))) == "bad_signature"


def test_a_signature_made_with_an_empty_key_is_rejected() -> None:
    scheme = build_scheme(VerifyConfig.model_construct(scheme="twilio", secrets=["", TOKEN], public_url=PUBLIC_URL))
    assert reason(scheme, form_request(form_signature(b"", PUBLIC_URL))) == "bad_signature"


@pytest.mark.parametrize(("value", "expected"), [
    (None, "missing_header"), ("", "malformed_header"), ("   ", "malformed_header"),
    ("\udcff\udcfe", "malformed_header"), ("sïgnature", "malformed_header"), ("A" * 8000, "bad_signature"),
])
def test_missing_or_malformed_signature_header(value: str | None, expected: str) -> None:
    assert reason(twilio(TOKEN), form_request(value)) == expected


def test_duplicate_signature_headers_joined_by_ingest_do_not_verify() -> None:
    sig = form_signature(TOKEN, PUBLIC_URL)
    assert reason(twilio(TOKEN), form_request(f"{sig}, {sig}")) == "bad_signature"


@pytest.mark.parametrize("body", [b"\xff\xfe%ZZ&&==&a=%FF", b"\x00" * 100, "a=é&b=%".encode(), b"=" * 5000])
def test_hostile_bodies_are_rejected_never_raise_anything_else(body: bytes) -> None:
    sent = request({"x-twilio-signature": form_signature(TOKEN, PUBLIC_URL)}, body)
    assert reason(twilio(TOKEN), sent) == "bad_signature"


def test_hostile_query_never_raises_anything_but_rejected() -> None:
    sent = form_request(form_signature(TOKEN, PUBLIC_URL), query="a=\udcff&bodySHA256=\udcfe#[")
    assert reason(twilio(TOKEN), sent) == "bad_signature"


def test_identity_is_the_idempotency_token_and_no_type() -> None:
    scheme = twilio(TOKEN)
    assert scheme.identify(form_request(None)) == ("idem-1", None)
    assert scheme.identify(request({})) == (None, None)


def test_reads_the_signature_and_settings_headers() -> None:
    assert twilio(TOKEN).reads_headers == frozenset({"x-twilio-signature", "x-twilio-webhooks-signature-settings"})


@pytest.mark.parametrize("url", ["hooks.example.com/ingest", "ftp://hooks.example.com/x", "https://host:99999/x",
                                 "https:///no-host"])
def test_public_url_that_is_no_absolute_http_url_is_refused_when_built(url: str) -> None:
    with pytest.raises(ValueError):
        twilio(TOKEN, public_url=url)


def test_a_body_of_more_parameters_than_twilio_ever_sends_is_refused_unparsed() -> None:
    form = [(f"Param{i}", str(i)) for i in range(1001)]
    assert reason(twilio(TOKEN), form_request(form_signature(TOKEN, PUBLIC_URL, form), form=form)) == "bad_signature"
    form = form[:1000]
    twilio(TOKEN).verify(form_request(form_signature(TOKEN, PUBLIC_URL, form), form=form))
