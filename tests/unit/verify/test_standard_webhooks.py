"""Scheme `standard-webhooks` (ingest/verify/standard_webhooks.py), with Svix's `svix-*` headers: the corpus
verdicts of the standardwebhooks and svix libraries, signatures made by the official library, rotation,
tolerance, identity."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks import Webhook

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Rejected, Scheme, build_scheme
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_config
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PREVIOUS = "whsec_" + base64.b64encode(b"the previous key, 32 bytes long!").decode()
MESSAGE_ID = "msg_2mC3xQ9Yk1LxFqZ7aB0cD4eF5gH"
BODY = b'{"type": "invoice.paid", "data": {"amount": 4200, "note": "Gr\xc3\xbc\xc3\x9fe"}}'


def standard_webhooks(*secrets: str, **settings: Any) -> Scheme:
    return build_scheme(VerifyConfig(scheme="standard-webhooks", secrets=list(secrets), **settings))


def signature(secret: str, timestamp: int = NOW - 5, message_id: str = MESSAGE_ID, body: bytes = BODY) -> str:
    """`v1,<base64>` as the official library signs it."""
    return Webhook(secret).sign(message_id, datetime.fromtimestamp(timestamp, tz=UTC), body.decode())


def request(headers: dict[str, str], body: bytes = BODY, now: float = NOW) -> InboundRequest:
    return InboundRequest(method="POST", query_string="",
                          headers=headers, body=body, now=now)


def signed(secret: str = SECRET, timestamp: int = NOW - 5, *, prefix: str = "webhook", body: bytes = BODY,
           message_id: str = MESSAGE_ID) -> InboundRequest:
    return request({
        f"{prefix}-id": message_id,
        f"{prefix}-timestamp": str(timestamp),
        f"{prefix}-signature": signature(secret, timestamp, message_id, body),
    }, body)


def with_signature(value: str, timestamp: int = NOW - 5) -> InboundRequest:
    return request({"webhook-id": MESSAGE_ID, "webhook-timestamp": str(timestamp), "webhook-signature": value})


@pytest.mark.parametrize("case", cases_for("standardwebhooks", "svix"))
def test_every_corpus_case_gets_the_official_librarys_verdict(case: dict[str, Any]) -> None:
    scheme = build_scheme(verify_config(case))
    assert_scheme_verdict(scheme, case)


@pytest.mark.parametrize("prefix", ["webhook", "svix"])
def test_accepts_what_the_official_library_signs_under_either_header_names(prefix: str) -> None:
    standard_webhooks(SECRET).verify(signed(prefix=prefix))


def test_the_official_verifier_accepts_what_we_accept() -> None:
    now = int(time.time())  # the library reads the real clock
    headers = dict(signed(timestamp=now).headers)
    Webhook(SECRET).verify(BODY, headers)
    standard_webhooks(SECRET).verify(request(headers, now=now))


def test_svix_headers_win_over_webhook_headers() -> None:
    svix = signed(prefix="svix").headers
    forged = {"webhook-id": "msg_forged", "webhook-timestamp": str(NOW), "webhook-signature": "v1,AAAA"}
    standard_webhooks(SECRET).verify(request({**forged, **svix}))
    genuine = signed(prefix="webhook").headers
    forged_svix = {"svix-id": "msg_forged", "svix-timestamp": str(NOW), "svix-signature": "v1,AAAA"}
    assert reason(standard_webhooks(SECRET), request({**genuine, **forged_svix})) == "bad_signature"


def test_accepts_a_signature_made_with_any_configured_secret() -> None:
    scheme = standard_webhooks(SECRET, PREVIOUS)
    scheme.verify(signed(SECRET))
    scheme.verify(signed(PREVIOUS))
    assert reason(scheme, signed("whsec_" + base64.b64encode(b"r" * 32).decode())) == "bad_signature"


def test_accepts_any_v1_of_a_header_signed_during_a_rotation() -> None:
    both = f"{signature(PREVIOUS)} {signature(SECRET)}"
    standard_webhooks(SECRET).verify(with_signature(both))
    standard_webhooks(PREVIOUS).verify(with_signature(both))


def test_base64_is_decoded_as_leniently_as_the_library_decodes_it() -> None:
    valid = signature(SECRET).removeprefix("v1,")
    standard_webhooks(SECRET).verify(with_signature(f"v1,{valid}=="))
    standard_webhooks(SECRET).verify(with_signature(f"v1,{valid[:8]}!{valid[8:]}"))
    assert reason(standard_webhooks(SECRET), with_signature("v1,!!!!")) == "bad_signature"


def test_other_versions_are_skipped() -> None:
    asymmetric = "v1a," + base64.b64encode(b"s" * 64).decode()
    standard_webhooks(SECRET).verify(with_signature(f"{asymmetric} v2,AAAA {signature(SECRET)}"))
    assert reason(standard_webhooks(SECRET), with_signature(asymmetric)) == "bad_signature"


@pytest.mark.parametrize("secret", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "c2hvcnQ", "not+quite_base64-at-all"])
def test_a_secret_without_whsec_is_read_as_base64_like_the_library_does(secret: str) -> None:
    standard_webhooks(secret).verify(signed(secret))


def test_a_signature_made_with_an_empty_key_is_rejected() -> None:
    # Secrets that decode to no key at all; model_construct skips the config's own checks.
    scheme = build_scheme(VerifyConfig.model_construct(scheme="standard-webhooks", secrets=["whsec_", "====", "é"]))
    empty_key = hmac.digest(b"", f"{MESSAGE_ID}.{NOW - 5}.".encode() + BODY, hashlib.sha256)
    assert reason(scheme, with_signature("v1," + base64.b64encode(empty_key).decode())) == "bad_signature"


def test_default_tolerance_is_300_seconds_both_ways() -> None:
    scheme = standard_webhooks(SECRET)
    scheme.verify(signed(timestamp=NOW - 300))
    scheme.verify(signed(timestamp=NOW + 300))
    assert reason(scheme, signed(timestamp=NOW - 301)) == "stale_timestamp"
    assert reason(scheme, signed(timestamp=NOW + 301)) == "future_timestamp"


def test_tolerance_override_is_honoured() -> None:
    scheme = standard_webhooks(SECRET, tolerance="1m")
    scheme.verify(signed(timestamp=NOW - 60))
    assert reason(scheme, signed(timestamp=NOW - 61)) == "stale_timestamp"
    assert reason(scheme, signed(timestamp=NOW + 61)) == "future_timestamp"


def test_tolerance_none_skips_the_freshness_check() -> None:
    scheme = standard_webhooks(SECRET, tolerance="none")
    scheme.verify(signed(timestamp=NOW - 365 * 86_400))
    scheme.verify(signed(timestamp=NOW + 365 * 86_400))


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_header_is_required(missing: str) -> None:
    headers = {name: value for name, value in signed().headers.items() if name != missing}
    assert reason(standard_webhooks(SECRET), request(headers)) == "missing_header"


@pytest.mark.parametrize("value", [
    "", "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", ",AAAA", "v1,AAA", "v1,AA AA", "v1,AAAA,",
    "v1,éé==", "v1,\udcff", " ".join(["v1,AAAA"] * 17),
])
def test_unusable_signature_header_is_malformed_header(value: str) -> None:
    assert reason(standard_webhooks(SECRET), with_signature(value)) == "malformed_header"


@pytest.mark.parametrize("timestamp", ["", "now", "-5", f"{NOW}.5", "1e9", "١٢٣", "9" * 13])
def test_unusable_timestamp_is_malformed_header(timestamp: str) -> None:
    headers = {**signed().headers, "webhook-timestamp": timestamp}
    assert reason(standard_webhooks(SECRET), request(headers)) == "malformed_header"


@pytest.mark.parametrize("message_id", ["msg_é漢字", "msg_" + "x" * 2000])
def test_the_id_is_signed_as_utf_8(message_id: str) -> None:
    standard_webhooks(SECRET).verify(signed(message_id=message_id))


def test_an_id_that_is_not_utf_8_is_signed_as_the_bytes_sent() -> None:
    # aiohttp hands over header bytes that are not UTF-8 as surrogate escapes.
    wire_id = b"msg_\xff"
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    digest = hmac.digest(key, wire_id + f".{NOW - 5}.".encode() + BODY, hashlib.sha256)
    headers = {"webhook-id": wire_id.decode("utf-8", "surrogateescape"), "webhook-timestamp": str(NOW - 5),
               "webhook-signature": "v1," + base64.b64encode(digest).decode()}
    standard_webhooks(SECRET).verify(request(headers))
    assert reason(standard_webhooks(SECRET), request({**headers, "webhook-id": "msg_\ud800"})) == "malformed_header"


@pytest.mark.parametrize("value", [
    "v1," * 5000, " " * 100_000, "\x00", "v1,=", f"{signature(SECRET)}, {signature(SECRET)}",
])
def test_hostile_signature_headers_are_only_ever_rejected(value: str) -> None:
    with pytest.raises(Rejected):
        standard_webhooks(SECRET).verify(with_signature(value))


def test_the_raw_body_bytes_are_signed() -> None:
    assert reason(standard_webhooks(SECRET), request(dict(signed().headers), body=BODY + b" ")) == "bad_signature"


def test_identify_gives_the_message_id_and_the_body_type() -> None:
    scheme = standard_webhooks(SECRET)
    assert scheme.identify(signed()) == (MESSAGE_ID, "invoice.paid")
    assert scheme.identify(signed(prefix="svix")) == (MESSAGE_ID, "invoice.paid")
    both = request({"svix-id": "msg_svix", "webhook-id": "msg_webhook"}, body=b"not json")
    assert scheme.identify(both) == ("msg_svix", None)


def test_reads_and_strips_the_signature_and_timestamp_headers() -> None:
    assert standard_webhooks(SECRET).reads_headers == frozenset(
        {"webhook-signature", "webhook-timestamp", "svix-signature", "svix-timestamp"}
    )
