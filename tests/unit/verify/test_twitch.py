"""Scheme `twitch` (ingest/verify/twitch.py): the corpus verdicts (Twitch's documented EventSub construction), the
strict RFC 3339 timestamp and its 10-minute window, the callback verification answered after verification,
revocations, identity."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Any

import pytest

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Rejected, Scheme, build_scheme
from ingest.verify.twitch import MAX_MESSAGE_ID_LENGTH, MAX_TIMESTAMP_LENGTH, parse_rfc3339
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_config
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
SECRET = "twitch-current-0123456789"
PREVIOUS = "twitch-previous-0123456789"
MESSAGE_ID = "e76c6bd4-55c9-4987-8304-da1588d8988b"
SENT = "2025-12-31T23:59:58.634234626Z"
BODY = b'{"subscription":{"type":"channel.follow"},"event":{"user_login":"cool_user"}}'
VERIFICATION = b'{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"type":"channel.follow"}}'


def twitch(*secrets: str, **settings: Any) -> Scheme:
    return build_scheme(VerifyConfig(scheme="twitch", secrets=list(secrets), **settings))


def signature(secret: str | bytes, timestamp: str, body: bytes, message_id: str = MESSAGE_ID) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, (message_id + timestamp).encode() + body, hashlib.sha256).hexdigest()


def request(headers: dict[str, str], body: bytes = BODY) -> InboundRequest:
    return InboundRequest(method="POST", query_string="", headers=headers, body=body, now=NOW)


def signed(secret: str | bytes = SECRET, timestamp: str = SENT, body: bytes = BODY, kind: str = "notification",
           message_id: str = MESSAGE_ID) -> InboundRequest:
    return request({
        "twitch-eventsub-message-id": message_id, "twitch-eventsub-message-timestamp": timestamp,
        "twitch-eventsub-message-signature": signature(secret, timestamp, body, message_id),
        "twitch-eventsub-message-type": kind, "twitch-eventsub-subscription-type": "channel.follow",
    }, body)


def answer(scheme: Scheme, inbound: InboundRequest) -> Any:
    assert scheme.answer is not None
    scheme.verify(inbound)
    return asyncio.run(scheme.answer(inbound))


@pytest.mark.parametrize("case", cases_for("twitch"))
def test_every_corpus_case_gets_the_documented_verdict(case: dict[str, Any]) -> None:
    assert_scheme_verdict(build_scheme(verify_config(case)), case)


def test_accepts_a_signature_made_with_any_configured_secret() -> None:
    scheme = twitch(SECRET, PREVIOUS)
    scheme.verify(signed(SECRET))
    scheme.verify(signed(PREVIOUS))
    assert reason(scheme, signed("twitch-retired-0123456789")) == "bad_signature"


def test_a_signature_made_with_an_empty_key_is_rejected() -> None:
    scheme = build_scheme(VerifyConfig.model_construct(scheme="twitch", secrets=["", SECRET]))
    assert reason(scheme, signed(b"")) == "bad_signature"


def test_the_message_id_is_signed() -> None:
    forged = signed()
    forged = request({**forged.headers, "twitch-eventsub-message-id": "another-id"})
    assert reason(twitch(SECRET), forged) == "bad_signature"


@pytest.mark.parametrize(("timestamp", "expected"), [
    ("2025-12-31T23:50:00Z", None), ("2026-01-01T00:10:00Z", None),
    ("2025-12-31T23:49:59.999Z", "stale_timestamp"), ("2026-01-01T00:10:00.001Z", "future_timestamp"),
    ("2026-01-01T01:00:00+01:00", None), ("2025-12-31T19:00:00-05:00", None),
    ("2026-01-01T02:00:00+01:00", "future_timestamp"),
])
def test_the_timestamp_is_bounded_to_10_minutes_either_way(timestamp: str, expected: str | None) -> None:
    if expected is None:
        twitch(SECRET).verify(signed(timestamp=timestamp))
    else:
        assert reason(twitch(SECRET), signed(timestamp=timestamp)) == expected


def test_tolerance_changes_the_window() -> None:
    assert reason(twitch(SECRET, tolerance="1m"), signed(timestamp="2025-12-31T23:58:59Z")) == "stale_timestamp"


def test_rfc3339_gives_unix_seconds_with_the_fraction() -> None:
    assert parse_rfc3339("2026-01-01T00:00:00Z") == NOW
    assert parse_rfc3339("2026-01-01T00:00:00.5Z") == NOW + 0.5
    assert parse_rfc3339("2026-01-01T05:30:00+05:30") == NOW


@pytest.mark.parametrize("timestamp", [
    "1767225598", "2025-12-31 23:59:58Z", "2025-12-31T23:59:58", "2025-12-31t23:59:58z",
    "2025-12-31T23:59:58.Z", "2025-12-31T23:59:58.0123456789Z", "2025-02-30T00:00:00Z",
    "2025-12-31T24:00:00Z", "2025-12-31T23:59:60Z", "2025-12-31T23:59:58+24:00", "2025-12-31T23:59:58+01:60",
    "\uff12\uff10\uff12\uff15-12-31T23:59:58Z", "2025-12-31T23:59:58Z 0", "2025-12-31T23:59:58." + "1" * 100_000 + "Z",
])
def test_anything_but_a_short_rfc3339_timestamp_is_malformed(timestamp: str) -> None:
    assert reason(twitch(SECRET), signed(timestamp=timestamp)) == "malformed_header"


def test_the_timestamp_length_is_bounded() -> None:
    longest = "2025-12-31T23:59:58.123456789+00:00"
    assert len(longest) == MAX_TIMESTAMP_LENGTH
    twitch(SECRET).verify(signed(timestamp=longest))
    with pytest.raises(Rejected):
        parse_rfc3339(longest + " ")


def test_the_message_id_length_is_bounded() -> None:
    twitch(SECRET).verify(signed(message_id="m" * MAX_MESSAGE_ID_LENGTH))
    assert reason(twitch(SECRET), signed(message_id="m" * (MAX_MESSAGE_ID_LENGTH + 1))) == "malformed_header"
    assert reason(twitch(SECRET), signed(message_id="idé")) == "malformed_header"


@pytest.mark.parametrize("drop", [
    "twitch-eventsub-message-id", "twitch-eventsub-message-timestamp", "twitch-eventsub-message-signature",
])
def test_each_signed_header_is_required(drop: str) -> None:
    headers = {name: value for name, value in signed().headers.items() if name != drop}
    assert reason(twitch(SECRET), request(headers)) == "missing_header"


@pytest.mark.parametrize("value", ["00" * 32, "SHA256=" + "00" * 32, "sha256=é", " "])
def test_a_signature_without_its_prefix_is_malformed(value: str) -> None:
    headers = {**signed().headers, "twitch-eventsub-message-signature": value}
    assert reason(twitch(SECRET), request(headers)) == "malformed_header"


def test_callback_verification_is_answered_with_the_challenge_as_text() -> None:
    answered = answer(twitch(SECRET), signed(body=VERIFICATION, kind="webhook_callback_verification"))
    assert (answered.status, answered.content_type, answered.body) == (
        200, "text/plain", b"pogchamp-kappa-360noscope-vohiyo")


def test_a_forged_callback_verification_is_refused_before_any_answer() -> None:
    forged = signed("twitch-other-0123456789", body=VERIFICATION, kind="webhook_callback_verification")
    assert reason(twitch(SECRET), forged) == "bad_signature"


@pytest.mark.parametrize("body", [b'{"challenge":7}', b'{"subscription":{}}', b"[]", b"not json"])
def test_a_callback_verification_without_a_challenge_is_refused_not_published(body: bytes) -> None:
    with pytest.raises(Rejected) as refused:
        answer(twitch(SECRET), signed(body=body, kind="webhook_callback_verification"))
    assert (refused.value.reason, refused.value.status) == ("bad_request", 400)


@pytest.mark.parametrize("kind", ["notification", "revocation", "something_new"])
def test_other_messages_are_events(kind: str) -> None:
    assert answer(twitch(SECRET), signed(body=VERIFICATION, kind=kind)) is None


@pytest.mark.parametrize(("kind", "expected"), [
    ("notification", "channel.follow"), ("revocation", "revocation"), ("something_new", "something_new"),
])
def test_identify_gives_the_message_id_and_the_subscription_or_message_type(kind: str, expected: str) -> None:
    assert twitch(SECRET).identify(signed(kind=kind)) == (MESSAGE_ID, expected)
    assert twitch(SECRET).identify(request({})) == (None, None)


def test_reads_and_strips_the_signature_header() -> None:
    assert twitch(SECRET).reads_headers == frozenset({"twitch-eventsub-message-signature"})
