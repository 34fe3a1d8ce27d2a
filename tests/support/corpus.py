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

#: Corpus provider -> our `verify.scheme`.
SCHEME_OF = {
    "stripe": "stripe", "standardwebhooks": "standard-webhooks", "svix": "standard-webhooks", "github": "github",
    "slack": "slack", "twilio": "twilio", "shopify": "shopify", "paddle": "paddle", "sendgrid": "sendgrid",
    "mailgun": "mailgun",
}

#: Reasons a verifier can tell apart on the wire; the others all read as `bad_signature`.
SEPARABLE_REASONS = {"missing_header", "malformed_header", "stale_timestamp", "future_timestamp"}


@cache
def load_cases() -> list[dict[str, Any]]:
    """Every case of cases.json; raises FileNotFoundError when the corpus is missing."""
    return list(json.loads((CORPUS / "cases.json").read_text())["cases"])


def cases_for(*providers: str) -> list[Any]:
    """pytest params, one per case of these providers (all when none is named), with the case id as the test
    id. No case at all is an error: a test that would run nothing must not pass."""
    cases = [case for case in load_cases() if not providers or case["provider"] in providers]
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
    scheme = SCHEME_OF[case["provider"]]
    required, optional = VERIFY_KEYS[scheme]
    settings: dict[str, Any] = {"scheme": scheme}
    if "secrets" in required:
        settings["secrets"] = receiver["secrets"]
    if "public_key" in required:
        settings["public_key"] = receiver["public_key"]
    if "public_url" in required:
        settings["public_url"] = signed_url_base(case)
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
    elif expected["verdict"] == "accept":
        scheme.verify(inbound(case))
    elif expected["reason"] in SEPARABLE_REASONS:
        assert rejection_reason(scheme, inbound(case)) == expected["reason"]
    elif expected["reason"] == "unsupported_scheme":
        rejection_reason(scheme, inbound(case))
    else:
        assert expected["reason"] in ("bad_signature", "wrong_secret", "tampered_body")
        assert rejection_reason(scheme, inbound(case)) == "bad_signature"
