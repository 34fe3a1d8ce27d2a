"""Scheme `discord` (ingest/verify/discord.py): discord-interactions' corpus verdicts, the PING handshake, the
freshness window, the public key's checks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Scheme, build_scheme
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_config
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
PUBLIC_KEY = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
COMMAND = b'{"id":"1315050000000000001","type":2,"data":{"name":"ping"}}'
PING = b'{"id":"1315050000000000009","type":1}'


def discord(public_key: str = PUBLIC_KEY, **settings: Any) -> Scheme:
    return build_scheme(VerifyConfig(scheme="discord", public_key=public_key, **settings))


def signed(body: bytes = COMMAND, timestamp: int | str = NOW, key: Ed25519PrivateKey = KEY,
           **headers: str) -> InboundRequest:
    sent = {"x-signature-ed25519": key.sign(str(timestamp).encode() + body).hex(),
            "x-signature-timestamp": str(timestamp)}
    sent |= {name.replace("_", "-"): value for name, value in headers.items()}
    return InboundRequest(method="POST", query_string="", headers=sent, body=body, now=NOW)


def answer(scheme: Scheme, request: InboundRequest) -> Any:
    assert scheme.answer is not None
    scheme.verify(request)
    return asyncio.run(scheme.answer(request))


@pytest.mark.parametrize("case", cases_for("discord"))
def test_every_corpus_case_gets_discord_interactions_verdict(case: dict[str, Any]) -> None:
    assert_scheme_verdict(build_scheme(verify_config(case)), case)


def test_a_signed_interaction_is_accepted_and_identified_by_its_id_and_type() -> None:
    scheme = discord()
    scheme.verify(signed())
    assert scheme.identify(signed()) == ("1315050000000000001", "2")


def test_a_verified_ping_is_answered_pong_and_an_event_is_not() -> None:
    pong = answer(discord(), signed(PING))
    assert (pong.status, pong.content_type, pong.body) == (200, "application/json", b'{"type":1}')
    assert answer(discord(), signed()) is None


@pytest.mark.parametrize("body", [b'{"type":true}', b'{"type":1.0}', b'{"type":"1"}', b"[1]", b"type=1", b""])
def test_only_an_integer_type_1_is_a_ping(body: bytes) -> None:
    assert answer(discord(), signed(body)) is None


def test_an_unsigned_or_forged_ping_is_refused_before_any_answer() -> None:
    bare = InboundRequest(method="POST", query_string="", headers={}, body=PING, now=NOW)
    assert reason(discord(), bare) == "missing_header"
    assert reason(discord(), signed(PING, key=OTHER)) == "bad_signature"


@pytest.mark.parametrize(("age", "expected"), [
    (300, None), (-300, None), (301, "stale_timestamp"), (-301, "future_timestamp"),
])
def test_the_signed_timestamp_is_bounded_to_5_minutes_either_way(age: int, expected: str | None) -> None:
    request = signed(timestamp=NOW - age)
    if expected is None:
        discord().verify(request)
    else:
        assert reason(discord(), request) == expected


def test_tolerance_sets_the_window_and_none_turns_it_off() -> None:
    assert reason(discord(tolerance="60s"), signed(timestamp=NOW - 61)) == "stale_timestamp"
    discord(tolerance="none").verify(signed(timestamp=NOW - 86_400 * 365))
    # Without a window the timestamp is only signed text, as Discord's verifiers treat it.
    discord(tolerance="none").verify(signed(timestamp="not-a-number"))


@pytest.mark.parametrize("timestamp", ["not-a-number", "1767225600.5", "9" * 13, "-1767225600"])
def test_with_a_window_a_timestamp_that_is_not_unix_seconds_is_malformed(timestamp: str) -> None:
    assert reason(discord(), signed(timestamp=timestamp)) == "malformed_header"


def test_the_signature_covers_the_timestamp_and_the_raw_body() -> None:
    request = signed()
    changed_time = InboundRequest(method="POST", query_string="", body=COMMAND, now=NOW,
                                  headers={**request.headers, "x-signature-timestamp": str(NOW - 1)})
    assert reason(discord(), changed_time) == "bad_signature"
    changed_body = InboundRequest(method="POST", query_string="", headers=request.headers, body=COMMAND + b" ",
                                  now=NOW)
    assert reason(discord(), changed_body) == "bad_signature"
    discord().verify(signed(b"\xff\xfe not utf-8"))


@pytest.mark.parametrize("signature", [
    "", "  ", "ab" * 63, "ab" * 65, "zz" * 64, "ab" * 100_000, "é" * 128, "\udcff" * 128, "ab " * 42 + "ab",
])
def test_a_signature_that_is_not_128_hex_digits_is_malformed_and_never_decoded(signature: str) -> None:
    request = signed(x_signature_ed25519=signature)
    assert reason(discord(), request) == "malformed_header"


def test_a_repeated_signature_header_joined_by_ingest_is_malformed() -> None:
    one = signed().headers["x-signature-ed25519"]
    assert reason(discord(), signed(x_signature_ed25519=f"{one}, {one}")) == "malformed_header"


def test_missing_headers_are_missing_header() -> None:
    request = signed()
    for name in ("x-signature-ed25519", "x-signature-timestamp"):
        headers = {k: v for k, v in request.headers.items() if k != name}
        bare = InboundRequest(method="POST", query_string="", headers=headers, body=COMMAND, now=NOW)
        assert reason(discord(), bare) == "missing_header"


@pytest.mark.parametrize("key", ["", "00" * 31, "00" * 33, "zz" * 32, PUBLIC_KEY + "00", "base64+key/=="])
def test_a_public_key_that_is_not_64_hex_digits_is_refused_when_built(key: str) -> None:
    with pytest.raises(ValueError, match="64 hex digits"):
        discord(public_key=key)


def test_the_public_key_may_be_pasted_in_either_case_with_surrounding_space() -> None:
    discord(public_key=f"  {PUBLIC_KEY.upper()}\n").verify(signed())


def test_reads_and_strips_both_signature_headers() -> None:
    assert discord().reads_headers == frozenset({"x-signature-ed25519", "x-signature-timestamp"})
