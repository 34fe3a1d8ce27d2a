"""Scheme `github` (ingest/verify/github.py): the corpus verdicts of @octokit/webhooks-methods, GitHub's published
example, rotation, identity."""

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
SECRET = "gh-current-0123456789abcdef"
PREVIOUS = "gh-previous-0123456789abcdef"
BODY = b'{"zen": "Design for failure.", "hook_id": 322867504}'
DELIVERY = "ead77c7b-a571-c100-e5e1-249239312e8b"


def github(*secrets: str) -> Scheme:
    return build_scheme(VerifyConfig(scheme="github", secrets=list(secrets)))


def signature(secret: str | bytes, body: bytes = BODY) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def request(headers: dict[str, str], body: bytes = BODY) -> InboundRequest:
    headers = {"x-github-event": "ping", "x-github-delivery": DELIVERY, **headers}
    return InboundRequest(method="POST", query_string="",
                          headers=headers, body=body, now=NOW)


def signed(secret: str | bytes = SECRET, body: bytes = BODY) -> InboundRequest:
    return request({"x-hub-signature-256": signature(secret, body)}, body)


@pytest.mark.parametrize("case", cases_for("github"))
def test_every_corpus_case_gets_octokits_verdict(case: dict[str, Any]) -> None:
    scheme = build_scheme(verify_config(case))
    assert_scheme_verdict(scheme, case)


def test_githubs_published_example_is_accepted() -> None:
    # docs.github.com, "Validating webhook deliveries", section "Testing the webhook payload validation".
    published = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    github("It's a Secret to Everybody").verify(request({"x-hub-signature-256": published}, body=b"Hello, World!"))


def test_accepts_a_signature_made_with_any_configured_secret() -> None:
    scheme = github(SECRET, PREVIOUS)
    scheme.verify(signed(SECRET))
    scheme.verify(signed(PREVIOUS))
    assert reason(scheme, signed("gh-retired-0123456789abcdef")) == "bad_signature"


def test_a_signature_made_with_an_empty_key_is_rejected() -> None:
    # model_construct skips the config's own dropping of empty secrets: the scheme must not rely on it.
    scheme = build_scheme(VerifyConfig.model_construct(scheme="github", secrets=["", SECRET]))
    assert reason(scheme, signed(b"")) == "bad_signature"
    scheme.verify(signed(SECRET))


def test_the_legacy_sha1_signature_alone_is_missing_header() -> None:
    sha1 = "sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest()
    assert reason(github(SECRET), request({"x-hub-signature": sha1})) == "missing_header"


def test_missing_signature_is_missing_header() -> None:
    assert reason(github(SECRET), request({})) == "missing_header"


@pytest.mark.parametrize("value", [
    "", "  ", signature(SECRET).removeprefix("sha256="), signature(SECRET).replace("sha256=", "SHA256="),
    signature(SECRET).replace("sha256=", "sha1="), "sha256=é" + "0" * 63, "sha256=\udcff",
])
def test_unusable_signature_is_malformed_header(value: str) -> None:
    assert reason(github(SECRET), request({"x-hub-signature-256": value})) == "malformed_header"


@pytest.mark.parametrize("value", [
    signature(SECRET)[:-2], signature(SECRET) + "00", signature(SECRET).upper().replace("SHA256=", "sha256="),
    f"{signature(SECRET)}, {signature(SECRET)}",  # a repeated header, joined by ingest
    "sha256=" + "f" * 100_000, "sha256=",
])
def test_anything_but_the_exact_lower_case_hex_is_bad_signature(value: str) -> None:
    assert reason(github(SECRET), request({"x-hub-signature-256": value})) == "bad_signature"


def test_an_empty_body_is_refused_as_the_official_verifier_refuses_it() -> None:
    assert reason(github(SECRET), signed(body=b"")) == "bad_signature"


def test_the_raw_body_bytes_are_signed() -> None:
    github(SECRET).verify(signed(body=b"\xff\xfe\x00 not utf-8"))
    assert reason(github(SECRET), request({"x-hub-signature-256": signature(SECRET)}, body=BODY + b"\n")) == (
        "bad_signature"
    )


def test_identify_gives_the_delivery_id_and_the_event() -> None:
    assert github(SECRET).identify(signed()) == (DELIVERY, "ping")
    bare = InboundRequest(method="POST", query_string="",
                          headers={}, body=BODY, now=NOW)
    assert github(SECRET).identify(bare) == (None, None)


def test_reads_and_strips_both_signature_headers() -> None:
    assert github(SECRET).reads_headers == frozenset({"x-hub-signature-256", "x-hub-signature"})
