"""The webhook corpus (tests/corpus/webhooks): real requests signed and judged by the providers' own SDKs.

The corpus is part of the repository (tests/corpus/README.md says where each case comes from), so a missing or
empty corpus is an error at collection, never a skip.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from hookpipe.config import VERIFY_KEYS, VerifyConfig
from ingest.verify import InboundRequest

#: The webhook corpus: cases.json, payloads/ and payloads.manifest.json.
CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "webhooks"

#: Corpus provider -> our `verify.scheme`, where the names differ (elsewhere the provider is the scheme).
SCHEME_OF = {
    "stripe": "stripe", "standardwebhooks": "standard-webhooks", "svix": "standard-webhooks", "github": "github",
    "slack": "slack", "twilio": "twilio", "shopify": "shopify", "paddle": "paddle", "sendgrid": "sendgrid",
    "mailgun": "mailgun", "resend": "standard-webhooks", "clerk": "standard-webhooks",
}

#: Reasons a verifier can tell apart on the wire; the others all read as `bad_signature`.
SEPARABLE_REASONS = {"missing_header", "malformed_header", "stale_timestamp", "future_timestamp"}


#: One file per provider added since cases.json, in its format (tests/corpus/README.md).
PROVIDER_FILES = CORPUS / "providers"


@cache
def load_cases() -> list[dict[str, Any]]:
    """Every case of cases.json and of providers/*.json; raises FileNotFoundError when the corpus is missing."""
    cases = list(json.loads((CORPUS / "cases.json").read_text())["cases"])
    for path in sorted(PROVIDER_FILES.glob("*.json")):
        cases += json.loads(path.read_text())["cases"]
    return cases


def scheme_of(case: dict[str, Any]) -> str:
    return SCHEME_OF.get(case["provider"], case["provider"])


def cases_for(*providers: str, without: tuple[str, ...] = ()) -> list[Any]:
    """pytest params, one per case of these providers (all when none is named, less those `without`), with the
    case id as the test id. No case at all is an error: a test that would run nothing must not pass."""
    cases = [case for case in load_cases()
             if (not providers or case["provider"] in providers) and case["provider"] not in without]
    if not cases:
        raise LookupError(f"no case for {providers or 'any provider'} in {CORPUS / 'cases.json'}")
    return [pytest.param(case, id=case["id"]) for case in cases]


def body_of(request: dict[str, Any]) -> bytes:
    return base64.b64decode(request["body_b64"])


def joined_headers(pairs: list[list[str]]) -> dict[str, str]:
    """Lower-case names; repeated headers joined with ', ' (what ingest hands a scheme)."""
    headers: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def verify_settings(case: dict[str, Any]) -> dict[str, Any]:
    """The `verify` block of a source configured from the case's `receiver` block."""
    receiver = case["receiver"]
    scheme = scheme_of(case)
    required, optional = VERIFY_KEYS[scheme]
    settings: dict[str, Any] = {"scheme": scheme}
    for key in ("secrets", "public_key", "topics"):
        if key in required:
            settings[key] = receiver[key]
    if "public_url" in required:
        settings["public_url"] = signed_url_base(case)
    for key in ("header", "certificates"):
        if key in optional and receiver.get(key) is not None:
            settings[key] = receiver[key]
    if "tolerance" in optional and receiver.get("tolerance_s") is not None:
        settings["tolerance"] = f"{receiver['tolerance_s']}s"
    return settings


def verify_config(case: dict[str, Any]) -> VerifyConfig:
    return VerifyConfig.model_validate(verify_settings(case))


def signed_url_base(case: dict[str, Any]) -> str:
    """The URL configured at the provider, without the query (ingest appends the query it receives)."""
    url = case["receiver"].get("public_url") or case["request"]["url"]
    return url.split("?", 1)[0]


def query_of(case: dict[str, Any]) -> str:
    return urlsplit(case["request"]["url"]).query


def inbound(case: dict[str, Any], request: dict[str, Any] | None = None) -> InboundRequest:
    """The case's request (or one of its prior_requests) as ingest would hand it to the scheme."""
    request = request or case["request"]
    return InboundRequest(
        method=case["request"]["method"],
        query_string=query_of(case),
        headers=joined_headers(request["headers"]),
        body=body_of(request),
        now=case["receiver"]["now"],
    )


def rejection_reason(scheme: Any, request: InboundRequest) -> str:
    """The reason `scheme` refuses `request` (fails the test if it accepts)."""
    from ingest.verify import Rejected

    with pytest.raises(Rejected) as refused:
        scheme.verify(request)
    return refused.value.reason


def assert_scheme_verdict(scheme: Any, case: dict[str, Any]) -> None:
    """`scheme` agrees with the provider's SDK on `case`.

    Accepts are accepted; separable reasons (missing or malformed header, stale or future timestamp) match
    exactly; every other signature failure reads as `bad_signature` (`unsupported_scheme`: any refusal). A
    replay's signature is valid: refusing it is ingest's dedup, so its requests must all verify and give one id.
    """
    expected = case["expected"]
    if expected["reason"] == "replayed_id":
        requests = [inbound(case, prior) for prior in case.get("prior_requests", [])] + [inbound(case)]
        for request in requests:
            scheme.verify(request)
        ids = {scheme.identify(request)[0] for request in requests}
        assert len(ids) == 1 and None not in ids, f"a replay must keep its id, got {ids}"
    elif expected["verdict"] == "handshake":
        answer = handshake_answer(scheme, inbound(case))
        assert answer is not None, "a handshake was not answered"
        assert (answer.status, answer.content_type, answer.body) == expected_answer(case)
    elif expected["verdict"] == "accept":
        scheme.verify(inbound(case))
        assert handshake_answer(scheme, inbound(case)) is None, "an event was answered as a handshake"
        if "event_id" in expected:
            assert tuple(scheme.identify(inbound(case))) == (expected["event_id"], expected["event_type"])
    elif expected["reason"] in SEPARABLE_REASONS:
        assert rejection_reason(scheme, inbound(case)) == expected["reason"]
    elif expected["reason"] == "unsupported_scheme":
        rejection_reason(scheme, inbound(case))
    else:
        assert expected["reason"] in ("bad_signature", "wrong_secret", "tampered_body", "tampered_url")
        assert rejection_reason(scheme, inbound(case)) == "bad_signature"


def expected_answer(case: dict[str, Any]) -> tuple[int, str, bytes]:
    """A handshake case's answer: status, content type, body."""
    answer = case["expected"]["answer"]
    return answer["status"], answer["content_type"], base64.b64decode(answer["body_b64"])


def handshake_answer(scheme: Any, request: InboundRequest) -> Any:
    """What the scheme answers instead of publishing: its greeting before verification, else (once verified)
    its answer; None for an event. The schemes answering after verification are async."""
    import asyncio

    if scheme.greet is not None and (greeting := scheme.greet(request)) is not None:
        return greeting
    if scheme.answer is None:
        return None
    if scheme.prepare is not None:
        asyncio.run(scheme.prepare(request))
    scheme.verify(request)
    return asyncio.run(scheme.answer(request))
