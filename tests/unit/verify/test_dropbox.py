"""Scheme `dropbox` (ingest/verify/dropbox.py): the documented corpus verdicts, the challenge echo and its
bounds, rotation, no identity."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from hookpipe.config import VerifyConfig
from ingest.verify import Answer, InboundRequest, Scheme, build_scheme
from ingest.verify.dropbox import MAX_CHALLENGE, MAX_QUERY
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_config
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
SECRET = "dropbox-app-secret-current"
PREVIOUS = "dropbox-app-secret-previous"
BODY = b'{"list_folder": {"accounts": ["dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"]}, "delta": {"users": [1]}}'


def dropbox(*secrets: str) -> Scheme:
    return build_scheme(VerifyConfig(scheme="dropbox", secrets=list(secrets)))


def request(headers: dict[str, str], body: bytes = BODY, *, method: str = "POST", query: str = "") -> InboundRequest:
    return InboundRequest(method=method, query_string=query, headers=headers, body=body, now=NOW)


def signed(secret: str | bytes = SECRET, body: bytes = BODY) -> InboundRequest:
    key = secret.encode() if isinstance(secret, str) else secret
    return request({"x-dropbox-signature": hmac.new(key, body, hashlib.sha256).hexdigest()}, body)


def greet(scheme: Scheme, inbound: InboundRequest) -> Answer | None:
    assert scheme.greet is not None
    return scheme.greet(inbound)


def challenge(query: str, method: str = "GET") -> InboundRequest:
    return request({}, b"", method=method, query=query)


@pytest.mark.parametrize("case", cases_for("dropbox"))
def test_every_corpus_case_gets_the_documented_verdict(case: dict[str, Any]) -> None:
    assert_scheme_verdict(build_scheme(verify_config(case)), case)


def test_accepts_a_signature_made_with_any_configured_secret() -> None:
    scheme = dropbox(SECRET, PREVIOUS)
    scheme.verify(signed(SECRET))
    scheme.verify(signed(PREVIOUS))
    assert reason(scheme, signed("dropbox-app-secret-retired")) == "bad_signature"


def test_a_signature_made_with_an_empty_key_is_rejected() -> None:
    scheme = build_scheme(VerifyConfig.model_construct(scheme="dropbox", secrets=["", SECRET]))
    assert reason(scheme, signed(b"")) == "bad_signature"


def test_missing_blank_and_non_ascii_signatures() -> None:
    assert reason(dropbox(SECRET), request({})) == "missing_header"
    assert reason(dropbox(SECRET), request({"x-dropbox-signature": " "})) == "malformed_header"
    assert reason(dropbox(SECRET), request({"x-dropbox-signature": "é" * 64})) == "malformed_header"
    assert reason(dropbox(SECRET), request({"x-dropbox-signature": "f" * 100_000})) == "bad_signature"


def test_the_challenge_is_echoed_decoded_as_text_plain() -> None:
    answer = greet(dropbox(SECRET), challenge("challenge=a%2Bb+c"))
    assert answer is not None
    assert (answer.status, answer.content_type, answer.body) == (200, "text/plain", b"a+b c")


def test_the_challenge_gets_through_a_post_only_source() -> None:
    assert dropbox(SECRET).greet_methods == frozenset({"GET"})


@pytest.mark.parametrize("query", [
    "", "other=1", "challenge=", "challenge=a&challenge=b", "challenge=" + "x" * (MAX_CHALLENGE + 1),
    "challenge=x&pad=" + "y" * MAX_QUERY,
])
def test_anything_but_one_bounded_challenge_is_not_echoed(query: str) -> None:
    assert greet(dropbox(SECRET), challenge(query)) is None


def test_the_longest_challenge_is_echoed() -> None:
    answer = greet(dropbox(SECRET), challenge("challenge=" + "x" * MAX_CHALLENGE))
    assert answer is not None and answer.body == b"x" * MAX_CHALLENGE


def test_a_challenge_on_a_post_is_verified_not_echoed() -> None:
    scheme = dropbox(SECRET)
    assert greet(scheme, challenge("challenge=abc", method="POST")) is None
    assert reason(scheme, challenge("challenge=abc", method="POST")) == "missing_header"


def test_a_notification_has_no_id_and_no_type() -> None:
    assert dropbox(SECRET).identify(signed()) == (None, None)


def test_reads_and_strips_the_signature_header() -> None:
    assert dropbox(SECRET).reads_headers == frozenset({"x-dropbox-signature"})
