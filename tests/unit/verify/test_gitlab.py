"""Scheme `gitlab` (ingest/verify/gitlab.py): the shared token, rotation, and which header names the event."""

from __future__ import annotations

import pytest

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Scheme, build_scheme
from tests.unit.verify.corpus import rejection_reason as reason

TOKEN = "gitlab-webhook-token-0123456789"
PREVIOUS = "gitlab-webhook-token-previous-xyz"


def gitlab(*tokens: str) -> Scheme:
    return build_scheme(VerifyConfig(scheme="gitlab", secrets=list(tokens)))


def request(token: str | None = TOKEN, **headers: str) -> InboundRequest:
    sent = {"content-type": "application/json", "x-gitlab-event": "Push Hook"}
    sent |= {"x-gitlab-token": token} if token is not None else {}
    sent |= {name.replace("_", "-"): value for name, value in headers.items()}
    return InboundRequest(method="POST", query_string="",
                          headers=sent, body=b'{"object_kind": "push"}', now=1_767_225_600)


def test_accepts_the_configured_token() -> None:
    gitlab(TOKEN).verify(request())


def test_accepts_any_of_several_rotated_tokens() -> None:
    scheme = gitlab(TOKEN, PREVIOUS)
    scheme.verify(request(TOKEN))
    scheme.verify(request(PREVIOUS))
    assert reason(scheme, request("retired-token-0123456789")) == "bad_signature"


@pytest.mark.parametrize("presented", [TOKEN[:-1], TOKEN + "x", TOKEN.upper(), f"{TOKEN}, {TOKEN}", "x" * 8000])
def test_any_other_token_is_a_bad_signature(presented: str) -> None:
    assert reason(gitlab(TOKEN), request(presented)) == "bad_signature"


def test_an_empty_token_never_matches() -> None:
    scheme = build_scheme(VerifyConfig.model_construct(scheme="gitlab", secrets=["", TOKEN]))
    assert reason(scheme, request("")) == "malformed_header"
    assert reason(scheme, request("  ")) == "malformed_header"


def test_missing_token_is_missing_header() -> None:
    assert reason(gitlab(TOKEN), request(None)) == "missing_header"


def test_non_ascii_tokens_compare_as_the_bytes_sent() -> None:
    token = "jeton-secret-été-2024"
    gitlab(token).verify(request(token))
    # aiohttp hands undecodable bytes over as surrogates: refused, never an exception of another kind
    assert reason(gitlab(token), request("jeton-secret-\udcc3\udca9t\udcc3-2024")) == "bad_signature"


def test_identity_prefers_the_idempotency_key_kept_across_retries() -> None:
    scheme = gitlab(TOKEN)
    both = request(idempotency_key="idem-1", x_gitlab_webhook_uuid="attempt-1", x_gitlab_event_uuid="chain-1")
    assert scheme.identify(both) == ("idem-1", "Push Hook")
    assert scheme.identify(request(x_gitlab_webhook_uuid="attempt-1")) == ("attempt-1", "Push Hook")


def test_event_uuid_is_never_the_id_every_hook_of_one_request_shares_it() -> None:
    assert gitlab(TOKEN).identify(request(x_gitlab_event_uuid="chain-1")) == (None, "Push Hook")


def test_reads_the_token_header_only() -> None:
    assert gitlab(TOKEN).reads_headers == frozenset({"x-gitlab-token"})
