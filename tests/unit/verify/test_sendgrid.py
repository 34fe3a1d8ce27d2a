"""Scheme `sendgrid` (ingest/verify/sendgrid.py): sendgrid-python's corpus verdicts, ECDSA keys, tolerance."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Scheme, build_scheme
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_config
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
BODY = '[{"email":"zoë@example.com","event":"delivered","sg_event_id":"ev_1","timestamp":1767225570}]\r\n'.encode()
SIGNING_KEY = ec.derive_private_key(0x5EED_5EED_5EED, ec.SECP256R1())
OTHER_KEY = ec.derive_private_key(0x0DD_0DD_0DD, ec.SECP256R1())


def public_key_text(key: Any) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def sendgrid(key: Any = SIGNING_KEY, **settings: Any) -> Scheme:
    return build_scheme(VerifyConfig(scheme="sendgrid", public_key=public_key_text(key), **settings))


def signature(timestamp: str, body: bytes = BODY, key: Any = SIGNING_KEY) -> str:
    return base64.b64encode(key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()


def request(sig: str | None, timestamp: str | None, body: bytes = BODY) -> InboundRequest:
    headers = {"content-type": "application/json"}
    headers |= {"x-twilio-email-event-webhook-signature": sig} if sig is not None else {}
    headers |= {"x-twilio-email-event-webhook-timestamp": timestamp} if timestamp is not None else {}
    return InboundRequest(method="POST", query_string="",
                          headers=headers, body=body, now=NOW)


def signed(timestamp: int = NOW - 5, body: bytes = BODY, key: Any = SIGNING_KEY) -> InboundRequest:
    return request(signature(str(timestamp), body, key), str(timestamp), body)


@pytest.mark.parametrize("case", cases_for("sendgrid"))
def test_every_corpus_case_gets_sendgrid_pythons_verdict(case: dict[str, Any]) -> None:
    scheme = build_scheme(verify_config(case))
    assert_scheme_verdict(scheme, case)


def test_accepts_a_signature_of_timestamp_and_raw_body() -> None:
    sendgrid().verify(signed())


def test_body_timestamp_or_key_changed_is_a_bad_signature() -> None:
    timestamp = str(NOW - 5)
    sig = signature(timestamp)
    assert reason(sendgrid(), request(sig, timestamp, BODY.rstrip(b"\r\n"))) == "bad_signature"
    assert reason(sendgrid(), request(sig, str(NOW - 4))) == "bad_signature"
    assert reason(sendgrid(OTHER_KEY), request(sig, timestamp)) == "bad_signature"


def test_no_freshness_window_by_default_as_in_sendgrids_library() -> None:
    sendgrid().verify(signed(timestamp=NOW - 86400 * 365))
    sendgrid().verify(signed(timestamp=NOW + 86400))


def test_the_timestamp_is_signed_as_sent_without_a_window() -> None:
    sendgrid().verify(request(signature("not-a-number"), "not-a-number"))


def test_an_explicit_tolerance_bounds_the_timestamp_both_ways() -> None:
    scheme = sendgrid(tolerance="10m")
    scheme.verify(signed(timestamp=NOW - 600))
    scheme.verify(signed(timestamp=NOW + 600))
    assert reason(scheme, signed(timestamp=NOW - 601)) == "stale_timestamp"
    assert reason(scheme, signed(timestamp=NOW + 601)) == "future_timestamp"
    assert reason(scheme, request(signature("soon"), "soon")) == "malformed_header"


def test_tolerance_none_is_the_default() -> None:
    sendgrid(tolerance="none").verify(signed(timestamp=NOW - 86400 * 30))


@pytest.mark.parametrize("sig", [
    "not-a-signature!!", "MEUCIQ", "c2lnbmF0dXJl", base64.b64encode(b"\x30\x03\x02\x01").decode(), "é==",
    "\udcff", "A" * 4000,
])
def test_signatures_that_are_no_base64_der_are_malformed(sig: str) -> None:
    assert reason(sendgrid(), request(sig, str(NOW))) == "malformed_header"


def test_duplicate_signature_headers_joined_by_ingest_are_malformed() -> None:
    sig = signature(str(NOW))
    assert reason(sendgrid(), request(f"{sig}, {sig}", str(NOW))) == "malformed_header"


def test_a_well_formed_der_signature_that_is_wrong_is_a_bad_signature() -> None:
    other = signature(str(NOW), b"another body")
    assert reason(sendgrid(), request(other, str(NOW))) == "bad_signature"


@pytest.mark.parametrize(("sig", "timestamp"), [(None, str(NOW)), ("MEUC", None), (None, None)])
def test_missing_headers_are_missing_header(sig: str | None, timestamp: str | None) -> None:
    assert reason(sendgrid(), request(sig, timestamp)) == "missing_header"


def test_non_ascii_timestamp_is_malformed() -> None:
    assert reason(sendgrid(), request(signature(str(NOW)), "\udcff1767225600")) == "malformed_header"


def test_public_key_may_be_pasted_across_lines() -> None:
    text = public_key_text(SIGNING_KEY)
    scheme = build_scheme(VerifyConfig(scheme="sendgrid", public_key=f"{text[:40]}\n  {text[40:]}\n"))
    scheme.verify(signed())


@pytest.mark.parametrize("key", [
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",  # truncated
    "not base64 at all!",
    base64.b64encode(b"\x30\x00").decode(),
    public_key_text(ec.generate_private_key(ec.SECP384R1())),
    public_key_text(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
])
def test_a_public_key_that_is_no_p256_key_is_refused_when_built(key: str) -> None:
    with pytest.raises(ValueError):
        build_scheme(VerifyConfig(scheme="sendgrid", public_key=key))


def test_no_identity_a_body_is_a_batch_of_events() -> None:
    assert sendgrid().identify(signed()) == (None, None)


def test_reads_the_signature_and_timestamp_headers() -> None:
    assert sendgrid().reads_headers == frozenset(
        {"x-twilio-email-event-webhook-signature", "x-twilio-email-event-webhook-timestamp"})
