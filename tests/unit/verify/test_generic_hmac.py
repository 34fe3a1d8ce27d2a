"""Scheme `hmac` (ingest/verify/generic_hmac.py): header, prefix, algorithm, encoding, signed template, timestamp."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Scheme, build_scheme
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
SECRET = "generic-hmac-secret-0123456789"
PREVIOUS = "generic-hmac-secret-previous-xy"
BODY = '{"text": "Grüße 🎉", "template": "{timestamp} and {body} are data here"}'.encode()
GITHUB_STYLE = {"header": "X-Hub-Signature-256", "prefix": "sha256=", "algorithm": "sha256", "encoding": "hex"}
SLACK_STYLE = {"header": "X-Signature", "prefix": "v0=", "signed": "v0:{timestamp}:{body}",
               "timestamp_header": "X-Request-Timestamp"}


def generic(*secrets: str, **settings: Any) -> Scheme:
    return build_scheme(VerifyConfig.model_validate({"scheme": "hmac", "secrets": list(secrets), **settings}))


def mac(secret: str | bytes, message: bytes, algorithm: str = "sha256", encoding: str = "hex") -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, message, getattr(hashlib, algorithm)).digest()
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()


def request(headers: dict[str, str], body: bytes = BODY, now: float = NOW) -> InboundRequest:
    return InboundRequest(method="POST", query_string="",
                          headers=headers, body=body, now=now)


def github_style(signature: str) -> InboundRequest:
    return request({"x-hub-signature-256": signature})


def slack_style(secret: str | bytes = SECRET, timestamp: int | str = NOW - 10, body: bytes = BODY) -> InboundRequest:
    signature = "v0=" + mac(secret, f"v0:{timestamp}:".encode() + body)
    return request({"x-signature": signature, "x-request-timestamp": str(timestamp)}, body)


def test_github_style_prefixed_hex_sha256_of_the_body() -> None:
    generic(SECRET, **GITHUB_STYLE).verify(github_style("sha256=" + mac(SECRET, BODY)))


def test_githubs_published_example_verifies() -> None:
    scheme = generic("It's a Secret to Everybody", **GITHUB_STYLE)
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    scheme.verify(request({"x-hub-signature-256": expected}, b"Hello, World!"))


def test_hex_is_compared_case_insensitively() -> None:
    generic(SECRET, **GITHUB_STYLE).verify(github_style("sha256=" + mac(SECRET, BODY).upper()))


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_each_algorithm_and_encoding(algorithm: str, encoding: str) -> None:
    scheme = generic(SECRET, header="X-Signature", algorithm=algorithm, encoding=encoding)
    scheme.verify(request({"x-signature": mac(SECRET, BODY, algorithm, encoding)}))
    other = "sha1" if algorithm != "sha1" else "sha256"
    assert reason(scheme, request({"x-signature": mac(SECRET, BODY, other, encoding)})) == "bad_signature"


def test_base64_is_compared_exactly() -> None:
    scheme = generic(SECRET, header="X-Signature", encoding="base64")
    signature = mac(SECRET, BODY, encoding="base64")
    assert reason(scheme, request({"x-signature": signature.lower()})) == "bad_signature"
    assert reason(scheme, request({"x-signature": signature.rstrip("=")})) == "bad_signature"


def test_accepts_a_signature_made_with_any_configured_secret() -> None:
    scheme = generic(SECRET, PREVIOUS, **GITHUB_STYLE)
    scheme.verify(github_style("sha256=" + mac(SECRET, BODY)))
    scheme.verify(github_style("sha256=" + mac(PREVIOUS, BODY)))
    assert reason(scheme, github_style("sha256=" + mac("retired-secret-0123456789", BODY))) == "bad_signature"


def test_a_signature_made_with_an_empty_key_is_rejected() -> None:
    scheme = build_scheme(VerifyConfig.model_construct(scheme="hmac", secrets=["", SECRET], header="X-Signature"))
    assert reason(scheme, request({"x-signature": mac(b"", BODY)})) == "bad_signature"


def test_tampered_body_is_a_bad_signature() -> None:
    signature = "sha256=" + mac(SECRET, BODY)
    assert reason(generic(SECRET, **GITHUB_STYLE), request({"x-hub-signature-256": signature}, BODY + b" ")) == (
        "bad_signature")


def test_body_bytes_are_signed_as_received_never_decoded() -> None:
    body = b"\xff\xfe\x00 not utf-8 \xc3"
    generic(SECRET, **GITHUB_STYLE).verify(request({"x-hub-signature-256": "sha256=" + mac(SECRET, body)}, body))


def test_signed_template_puts_in_the_timestamp_and_body() -> None:
    generic(SECRET, **SLACK_STYLE).verify(slack_style())


def test_placeholders_inside_the_body_are_data_not_template() -> None:
    # BODY contains "{timestamp}" and "{body}": only the template's own fields are replaced.
    timestamp = NOW - 10
    naive = BODY.replace(b"{timestamp}", str(timestamp).encode())
    forged = "v0=" + mac(SECRET, f"v0:{timestamp}:".encode() + naive)
    sent = request({"x-signature": forged, "x-request-timestamp": str(timestamp)})
    assert reason(generic(SECRET, **SLACK_STYLE), sent) == "bad_signature"


def test_the_timestamp_is_signed_so_changing_it_breaks_the_signature() -> None:
    sent = slack_style()
    sent.headers = {**sent.headers, "x-request-timestamp": str(NOW - 11)}
    assert reason(generic(SECRET, **SLACK_STYLE), sent) == "bad_signature"


def test_default_window_with_a_timestamp_is_300_seconds_both_ways() -> None:
    scheme = generic(SECRET, **SLACK_STYLE)
    scheme.verify(slack_style(timestamp=NOW - 300))
    scheme.verify(slack_style(timestamp=NOW + 300))
    assert reason(scheme, slack_style(timestamp=NOW - 301)) == "stale_timestamp"
    assert reason(scheme, slack_style(timestamp=NOW + 301)) == "future_timestamp"


def test_a_configured_tolerance_replaces_the_default() -> None:
    scheme = generic(SECRET, **SLACK_STYLE, tolerance="30s")
    assert reason(scheme, slack_style(timestamp=NOW - 31)) == "stale_timestamp"
    generic(SECRET, **SLACK_STYLE, tolerance="none").verify(slack_style(timestamp=NOW - 86400 * 30))


@pytest.mark.parametrize("timestamp", ["soon", "", "-1", "1.5", "١٧٦٧٢٢٥٥٩٠", "9" * 20, "\udcff"])
def test_a_timestamp_that_is_no_integer_is_malformed(timestamp: str) -> None:
    sent = request({"x-signature": "v0=" + mac(SECRET, BODY), "x-request-timestamp": timestamp})
    assert reason(generic(SECRET, **SLACK_STYLE), sent) == "malformed_header"


def test_missing_timestamp_header_is_missing_header() -> None:
    assert reason(generic(SECRET, **SLACK_STYLE), request({"x-signature": "v0=00"})) == "missing_header"


def test_missing_signature_header_is_missing_header() -> None:
    assert reason(generic(SECRET, **GITHUB_STYLE), request({})) == "missing_header"


@pytest.mark.parametrize("value", ["", "  ", "sha1=" + "0" * 40, "SHA256=" + "0" * 64, "0" * 64, "sha256=é", "\udcff"])
def test_signature_without_its_prefix_or_not_ascii_is_malformed(value: str) -> None:
    assert reason(generic(SECRET, **GITHUB_STYLE), github_style(value)) == "malformed_header"


@pytest.mark.parametrize("value", ["sha256=", "sha256=zz", "sha256=" + "0" * 64, "sha256=" + "A" * 8000])
def test_a_prefixed_value_that_does_not_match_is_a_bad_signature(value: str) -> None:
    assert reason(generic(SECRET, **GITHUB_STYLE), github_style(value)) == "bad_signature"


def test_one_signature_per_header_duplicates_joined_by_ingest_do_not_verify() -> None:
    signature = "sha256=" + mac(SECRET, BODY)
    assert reason(generic(SECRET, **GITHUB_STYLE), github_style(f"{signature}, {signature}")) == "bad_signature"


def test_reads_the_signature_and_timestamp_headers_lower_cased() -> None:
    assert generic(SECRET, **GITHUB_STYLE).reads_headers == frozenset({"x-hub-signature-256"})
    assert generic(SECRET, **SLACK_STYLE).reads_headers == frozenset({"x-signature", "x-request-timestamp"})
    assert generic(SECRET, **GITHUB_STYLE).identify(github_style("x")) == (None, None)


@pytest.mark.parametrize("settings", [
    {"header": "X-Signature", "timestamp_header": "X-Timestamp"},  # checked but not signed: anyone could change it
    {"header": "X-Signature", "signed": "{timestamp}.{body}"},  # signed but never sent
    {"header": "X-Signature", "tolerance": "5m"},  # nothing to check
])
def test_inconsistent_timestamp_settings_are_refused_when_built(settings: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        generic(SECRET, **settings)
