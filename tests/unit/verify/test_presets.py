"""Schemes intercom, vercel, typeform, bitbucket, atlassian (ingest/verify/presets.py): the documented corpus
verdicts, each preset's header, prefix and encoding, rotation, identity, and the bounds of what is parsed."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Scheme, build_scheme
from ingest.verify.presets import PRESETS
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_config
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
SECRET = "preset-current-0123456789abcdef"
PREVIOUS = "preset-previous-0123456789abcdef"
BODY = '{"id": "evt_1", "topic": "ping", "type": "ping", "event_id": "evt_1", "event_type": "ping", "n": "ü"}'.encode()
NAMES = sorted(PRESETS)


def preset(name: str, *secrets: str) -> Scheme:
    return build_scheme(VerifyConfig.model_validate({"scheme": name, "secrets": list(secrets)}))


def signature(name: str, secret: str | bytes, body: bytes = BODY) -> str:
    spec = PRESETS[name]
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, body, getattr(hashlib, spec.algorithm)).digest()
    return spec.prefix + (digest.hex() if spec.encoding == "hex" else base64.b64encode(digest).decode())


def request(headers: dict[str, str], body: bytes = BODY) -> InboundRequest:
    return InboundRequest(method="POST", query_string="", headers=headers, body=body, now=NOW)


def signed(name: str, secret: str | bytes = SECRET, body: bytes = BODY) -> InboundRequest:
    return request({PRESETS[name].header: signature(name, secret, body)}, body)


@pytest.mark.parametrize("case", cases_for(*NAMES))
def test_every_corpus_case_gets_the_documented_verdict(case: dict[str, Any]) -> None:
    assert_scheme_verdict(build_scheme(verify_config(case)), case)


def test_each_preset_is_what_its_provider_documents() -> None:
    assert {name: (p.header, p.prefix, p.algorithm, p.encoding) for name, p in PRESETS.items()} == {
        "intercom": ("x-hub-signature", "sha1=", "sha1", "hex"),
        "vercel": ("x-vercel-signature", "", "sha1", "hex"),
        "typeform": ("typeform-signature", "sha256=", "sha256", "base64"),
        "bitbucket": ("x-hub-signature", "sha256=", "sha256", "hex"),
        "atlassian": ("x-hub-signature", "sha256=", "sha256", "hex"),
    }


@pytest.mark.parametrize("name", NAMES)
def test_accepts_a_signature_made_with_any_configured_secret(name: str) -> None:
    scheme = preset(name, SECRET, PREVIOUS)
    scheme.verify(signed(name, SECRET))
    scheme.verify(signed(name, PREVIOUS))
    assert reason(scheme, signed(name, "preset-retired-0123456789abcdef")) == "bad_signature"


@pytest.mark.parametrize("name", NAMES)
def test_a_signature_made_with_an_empty_key_is_rejected(name: str) -> None:
    # model_construct skips the config's own dropping of empty secrets: the scheme must not rely on it.
    scheme = build_scheme(VerifyConfig.model_construct(scheme=name, secrets=["", "  ", SECRET]))
    assert reason(scheme, signed(name, b"")) == "bad_signature"
    assert reason(scheme, signed(name, b"  ")) == "bad_signature"
    scheme.verify(signed(name, SECRET))


@pytest.mark.parametrize("name", NAMES)
def test_the_raw_body_bytes_are_signed(name: str) -> None:
    raw = b"\xff\xfe\x00 not utf-8"
    preset(name, SECRET).verify(signed(name, body=raw))
    assert reason(preset(name, SECRET), request({PRESETS[name].header: signature(name, SECRET)}, BODY + b"\n")) == (
        "bad_signature"
    )


@pytest.mark.parametrize("name", NAMES)
def test_missing_signature_is_missing_header(name: str) -> None:
    assert reason(preset(name, SECRET), request({})) == "missing_header"


@pytest.mark.parametrize("name", NAMES)
def test_a_value_outside_the_documented_form_is_malformed_or_bad(name: str) -> None:
    scheme, header, good = preset(name, SECRET), PRESETS[name].header, signature(name, SECRET)
    assert reason(scheme, request({header: ""})) == "malformed_header"
    assert reason(scheme, request({header: good + "é"})) == "malformed_header"
    assert reason(scheme, request({header: f"{good}, {good}"})) == "bad_signature"  # a repeated header, joined
    assert reason(scheme, request({header: good[:-2]})) == "bad_signature"
    # A hostile header as long as HTTP allows costs one comparison of it, never a parse.
    assert reason(scheme, request({header: PRESETS[name].prefix + "f" * 100_000})) == "bad_signature"


@pytest.mark.parametrize("name", ["intercom", "typeform", "bitbucket", "atlassian"])
def test_the_prefix_is_matched_exactly(name: str) -> None:
    scheme, spec, good = preset(name, SECRET), PRESETS[name], signature(name, SECRET)
    bare = good.removeprefix(spec.prefix)
    assert reason(scheme, request({spec.header: bare})) == "malformed_header"
    assert reason(scheme, request({spec.header: spec.prefix.upper() + bare})) == "malformed_header"


@pytest.mark.parametrize("name", ["intercom", "vercel", "bitbucket", "atlassian"])
def test_hex_is_compared_case_insensitively(name: str) -> None:
    spec = PRESETS[name]
    upper = spec.prefix + signature(name, SECRET).removeprefix(spec.prefix).upper()
    preset(name, SECRET).verify(request({spec.header: upper}))


def test_typeforms_base64_is_compared_as_sent() -> None:
    good = signature("typeform", SECRET)
    flipped = "sha256=" + good.removeprefix("sha256=").swapcase()
    assert reason(preset("typeform", SECRET), request({"typeform-signature": flipped})) == "bad_signature"


def test_bitbucket_and_atlassian_accept_only_the_sha256_method() -> None:
    sha1 = "sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest()
    for name in ("bitbucket", "atlassian"):
        assert reason(preset(name, SECRET), request({"x-hub-signature": sha1})) == "malformed_header"


def test_identity_is_read_where_each_provider_puts_it() -> None:
    headers = {"x-request-uuid": "req-1", "x-event-key": "repo:push", "x-atlassian-webhook-identifier": "hook-1"}
    body = b'{"id": "a", "topic": "b", "type": "c", "event_id": "d", "event_type": "e", "webhookEvent": "f"}'
    identities = {name: preset(name, SECRET).identify(request(headers, body)) for name in NAMES}
    assert identities == {
        "intercom": ("a", "b"), "vercel": ("a", "c"), "typeform": ("d", "e"),
        "bitbucket": ("req-1", "repo:push"), "atlassian": ("hook-1", "f"),
    }
    assert {preset(name, SECRET).identify(request({}, b"not json")) for name in NAMES} == {(None, None)}


@pytest.mark.parametrize("name", NAMES)
def test_reads_and_strips_its_signature_header(name: str) -> None:
    assert preset(name, SECRET).reads_headers == frozenset({PRESETS[name].header})
