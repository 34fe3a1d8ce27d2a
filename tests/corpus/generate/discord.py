"""Writes tests/corpus/webhooks/providers/discord.json: Discord interactions signed with Ed25519 (PyNaCl) and judged
by Discord's own Python verifier, discord-interactions `verify_key`.

Needs, in a scratch venv outside the repository:
    python -m venv /tmp/sdkvenv
    /tmp/sdkvenv/bin/pip install discord-interactions==0.4.0 PyNaCl==1.6.2 freezegun==1.5.5
Run from the repository root: /tmp/sdkvenv/bin/python tests/corpus/generate/discord.py

The signing key is derived from the seed, so a rerun writes the same bytes (Ed25519 signatures are
deterministic). `verify_key` checks no freshness; hookpipe bounds the signed timestamp to 5 minutes by default,
so the stale and future cases are `library+policy`: the library accepts their signatures, hookpipe's window
refuses them (ingest/verify/discord.py says why).
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

from discord_interactions import verify_key
from freezegun import freeze_time
from nacl.signing import SigningKey
from provider_cases import NOW, accept, case, derived_bytes, handshake, reject, request, write

PROVIDER = "discord"
GENERATOR = "tests/corpus/generate/discord.py"
CURRENT = SigningKey(derived_bytes(PROVIDER, "current", 32))
OTHER = SigningKey(derived_bytes(PROVIDER, "other", 32))
PUBLIC_KEY = CURRENT.verify_key.encode().hex()
RECEIVER = {"secrets": [], "public_key": PUBLIC_KEY}
SIGNATURE_HEADERS = ["x-signature-ed25519", "x-signature-timestamp"]

SIGNED_BY = f"PyNaCl {version('PyNaCl')} nacl.signing.SigningKey(seed).sign(timestamp + body)"
VERIFIED_BY = (f"discord-interactions {version('discord-interactions')} "
               "verify_key(body, signature, timestamp, public_key)")

APPLICATION = "1315000000000000000"


def interaction(kind: int, interaction_id: str, data: dict[str, Any] | None = None) -> bytes:
    """An interaction as Discord sends it: compact JSON, the fields of Discord's Interaction object."""
    body: dict[str, Any] = {"application_id": APPLICATION, "id": interaction_id, "type": kind, "version": 1,
                            "token": "aW50ZXJhY3Rpb246MTMxNTA1MDAwMDAwMDAwMDAwMTpmaXh0dXJl"}
    if data is not None:
        body |= {"data": data, "guild_id": "1315000000000000100", "channel_id": "1315000000000000200",
                 "app_permissions": "2248473465835073", "locale": "en-US", "guild_locale": "en-US",
                 "member": {"user": {"id": "1315000000000000300", "username": "hookpipe-tester",
                                     "global_name": "Tester"}, "roles": [], "permissions": "2248473465835073"}}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


COMMAND = interaction(2, "1315050000000000001", {"id": "1315000000000000400", "name": "ping", "type": 1})
COMPONENT = interaction(3, "1315050000000000002", {"custom_id": "approve:42", "component_type": 2})
NON_ASCII = interaction(2, "1315050000000000003", {
    "id": "1315000000000000401", "name": "say", "type": 1,
    "options": [{"name": "text", "type": 3, "value": "Grüße, 世界 — مرحبا 👋🏽 e\u0301"}],
})
PING = b'{"application_id":"1315000000000000000","id":"1315050000000000009","type":1,"version":1,"token":"cGluZw"}'


def sign(key: SigningKey, timestamp: str, body: bytes) -> str:
    return key.sign(timestamp.encode() + body).signature.hex()


def headers(signature: str | None, timestamp: str | None) -> list[list[str]]:
    pairs = [["Content-Type", "application/json"], ["User-Agent", "Discord-Interactions/1.0 (+https://discord.com)"]]
    if signature is not None:
        pairs.append(["X-Signature-Ed25519", signature])
    if timestamp is not None:
        pairs.append(["X-Signature-Timestamp", timestamp])
    return pairs


def judge(body: bytes, signature: str | None, timestamp: str | None) -> bool:
    """discord-interactions' verdict at NOW; a missing header is refused as its Flask decorator refuses it."""
    if signature is None or timestamp is None:
        return False
    # verify_key prints the exception of a failed verification: kept out of the generator's output.
    with freeze_time(datetime.fromtimestamp(NOW, UTC)), contextlib.redirect_stdout(io.StringIO()):
        return verify_key(body, signature, timestamp, PUBLIC_KEY)


def make(title: str, body: bytes, *, signature: str | None, timestamp: str | None, signed_with: list[str],
         expected: dict[str, Any], basis: str = "library", notes: str = "",
         signed_at: int | None = None) -> dict[str, Any]:
    accepted = judge(body, signature, timestamp)
    library_accepts = expected["verdict"] != "reject" or basis == "library+policy"
    if accepted != library_accepts:
        raise SystemExit(f"{title}: discord-interactions says {accepted}, the case expects {expected}")
    return case(
        PROVIDER, 0, title,
        request=request(PROVIDER, headers=headers(signature, timestamp), body=body),
        receiver=RECEIVER, signed_with=signed_with, expected=expected, basis=basis,
        provenance={"signed_by": SIGNED_BY, "verified_by": VERIFIED_BY,
                    "library_result": "accept" if accepted else "reject"},
        notes=notes, signature_headers=SIGNATURE_HEADERS,
        timestamp=signed_at if signed_at is not None else int(timestamp) if timestamp else None,
    )


def cases() -> list[dict[str, Any]]:
    now = str(NOW - 2)
    out = [
        make("valid application command", COMMAND, signature=sign(CURRENT, now, COMMAND), timestamp=now,
             signed_with=["current"], expected=accept("1315050000000000001", "2")),
        make("valid message component", COMPONENT, signature=sign(CURRENT, now, COMPONENT), timestamp=now,
             signed_with=["current"], expected=accept("1315050000000000002", "3")),
        make("non-ASCII option value (umlaut, CJK, Arabic, emoji with skin tone, combining mark)", NON_ASCII,
             signature=sign(CURRENT, now, NON_ASCII), timestamp=now, signed_with=["current"],
             expected=accept("1315050000000000003", "2")),
        make("signature in upper-case hex", COMMAND, signature=sign(CURRENT, now, COMMAND).upper(), timestamp=now,
             signed_with=["current"], expected=accept("1315050000000000001", "2"),
             notes="verify_key decodes with bytes.fromhex, which reads either case"),
        make("tampered body", COMMAND.replace(b'"ping"', b'"pong"'), signature=sign(CURRENT, now, COMMAND),
             timestamp=now, signed_with=["current"], expected=reject("tampered_body")),
        make("signed with another application's key", COMMAND, signature=sign(OTHER, now, COMMAND), timestamp=now,
             signed_with=["other"], expected=reject("wrong_secret")),
        make("timestamp header changed after signing", COMMAND, signature=sign(CURRENT, now, COMMAND),
             timestamp=str(NOW - 1), signed_with=["current"], expected=reject("bad_signature"), signed_at=NOW - 2),
    ]
    out += [
        make("timestamp 299 s old, inside hookpipe's window", COMMAND,
             signature=sign(CURRENT, str(NOW - 299), COMMAND), timestamp=str(NOW - 299), signed_with=["current"],
             expected=accept("1315050000000000001", "2")),
        make("stale timestamp (301 s old)", COMMAND, signature=sign(CURRENT, str(NOW - 301), COMMAND),
             timestamp=str(NOW - 301), signed_with=["current"], expected=reject("stale_timestamp"),
             basis="library+policy",
             notes="verify_key checks no freshness and accepts; hookpipe's default 5-minute window refuses it"),
        make("future timestamp (301 s ahead)", COMMAND, signature=sign(CURRENT, str(NOW + 301), COMMAND),
             timestamp=str(NOW + 301), signed_with=["current"], expected=reject("future_timestamp"),
             basis="library+policy",
             notes="verify_key checks no freshness and accepts; hookpipe's default 5-minute window refuses it"),
        make("missing X-Signature-Ed25519", COMMAND, signature=None, timestamp=now, signed_with=["current"],
             expected=reject("missing_header")),
        make("missing X-Signature-Timestamp", COMMAND, signature=sign(CURRENT, now, COMMAND), timestamp=None,
             signed_with=["current"], expected=reject("missing_header")),
        make("malformed signature (not hex)", COMMAND, signature="zz" * 64, timestamp=now, signed_with=["current"],
             expected=reject("malformed_header")),
        make("malformed signature (truncated to 63 bytes)", COMMAND, signature=sign(CURRENT, now, COMMAND)[:-2],
             timestamp=now, signed_with=["current"], expected=reject("malformed_header")),
        make("PING answered with PONG", PING, signature=sign(CURRENT, now, PING), timestamp=now,
             signed_with=["current"], expected=handshake(200, "application/json", b'{"type":1}'),
             notes="verify_key accepts; discord-interactions' decorator answers a PING with {\"type\": 1} "
                   "(InteractionResponseType.PONG), never passing it on"),
        make("unsigned PING refused", PING, signature=None, timestamp=None, signed_with=[],
             expected=reject("missing_header"),
             notes="Discord sends such requests when the URL is saved and expects them refused"),
        make("PING signed with another key refused", PING, signature=sign(OTHER, now, PING), timestamp=now,
             signed_with=["other"], expected=reject("wrong_secret")),
    ]
    return out


def main() -> None:
    generated_with = {name: version(name) for name in ("discord-interactions", "PyNaCl", "freezegun")}
    path = write(PROVIDER, cases(), generator=GENERATOR, generated_with=generated_with)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
