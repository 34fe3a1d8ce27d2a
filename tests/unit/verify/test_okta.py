"""Scheme `okta` (ingest/verify/okta.py): the documented corpus verdicts, the configurable header, the
verification GET answered only with a configured secret, its bounds, identity."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import InboundRequest, Rejected, Scheme, build_scheme
from ingest.verify.okta import MAX_CHALLENGE
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_config
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
SECRET = "okta-hook-current-0123456789"
PREVIOUS = "okta-hook-previous-0123456789"
BODY = b'{"eventType":"com.okta.event_hook","eventId":"b5a188b9","data":{"events":[]}}'


def okta(*secrets: str, header: str | None = None) -> Scheme:
    settings: dict[str, Any] = {"scheme": "okta", "secrets": list(secrets)}
    if header is not None:
        settings["header"] = header
    return build_scheme(VerifyConfig.model_validate(settings))


def request(headers: dict[str, str], body: bytes = BODY, method: str = "POST") -> InboundRequest:
    return InboundRequest(method=method, query_string="", headers=headers, body=body, now=NOW)


def verification(headers: dict[str, str]) -> InboundRequest:
    return request(headers, b"", method="GET")


def refusal(scheme: Scheme, inbound: InboundRequest) -> IngestRejection:
    assert scheme.greet is not None
    with pytest.raises(Rejected) as refused:
        scheme.greet(inbound)
    return refused.value.reason


@pytest.mark.parametrize("case", cases_for("okta"))
def test_every_corpus_case_gets_the_documented_verdict(case: dict[str, Any]) -> None:
    assert_scheme_verdict(build_scheme(verify_config(case)), case)


def test_accepts_any_configured_secret_and_nothing_else() -> None:
    scheme = okta(SECRET, PREVIOUS)
    scheme.verify(request({"authorization": SECRET}))
    scheme.verify(request({"authorization": PREVIOUS}))
    for wrong in (SECRET + "x", SECRET[:-1], f"Bearer {SECRET}", f"{SECRET}, {SECRET}", "x" * 100_000):
        assert reason(scheme, request({"authorization": wrong})) == "bad_signature"


def test_missing_blank_and_non_ascii_values() -> None:
    assert reason(okta(SECRET), request({})) == "missing_header"
    assert reason(okta(SECRET), request({"authorization": " "})) == "malformed_header"
    assert reason(okta(SECRET), request({"authorization": "é"})) == "malformed_header"


def test_a_blank_secret_never_matches() -> None:
    scheme = build_scheme(VerifyConfig.model_construct(scheme="okta", secrets=["", "  "]))
    assert reason(scheme, request({"authorization": "  x"})) == "bad_signature"


def test_the_admins_own_header_is_read_and_stripped_instead() -> None:
    scheme = okta(SECRET, header="X-Okta-Secret")
    scheme.verify(request({"x-okta-secret": SECRET}))
    assert reason(scheme, request({"authorization": SECRET})) == "missing_header"
    assert scheme.reads_headers == frozenset({"x-okta-secret"})
    assert okta(SECRET).reads_headers == frozenset({"authorization"})


def test_the_verification_get_is_answered_once_its_secret_matches() -> None:
    scheme = okta(SECRET, PREVIOUS)
    assert scheme.greet is not None and scheme.greet_methods == frozenset({"GET"})
    answer = scheme.greet(verification({"authorization": PREVIOUS, "x-okta-verification-challenge": "abc\"<x>"}))
    assert answer is not None
    assert (answer.status, answer.content_type) == (200, "application/json")
    assert orjson.loads(answer.body) == {"verification": 'abc"<x>'}


def test_a_verification_get_without_a_configured_secret_is_refused() -> None:
    scheme = okta(SECRET)
    assert refusal(scheme, verification({"x-okta-verification-challenge": "abc"})) == "missing_header"
    assert refusal(scheme, verification({"authorization": "nope", "x-okta-verification-challenge": "abc"})) == (
        "bad_signature"
    )


@pytest.mark.parametrize("challenge", ["", " ", "x" * (MAX_CHALLENGE + 1)])
def test_a_blank_or_overlong_challenge_is_malformed(challenge: str) -> None:
    headers = {"authorization": SECRET, "x-okta-verification-challenge": challenge}
    assert refusal(okta(SECRET), verification(headers)) == "malformed_header"


def test_the_longest_challenge_is_answered() -> None:
    scheme = okta(SECRET)
    assert scheme.greet is not None
    answer = scheme.greet(verification({"authorization": SECRET, "x-okta-verification-challenge": "x" * MAX_CHALLENGE}))
    assert answer is not None and orjson.loads(answer.body) == {"verification": "x" * MAX_CHALLENGE}


def test_only_a_get_with_the_challenge_header_is_greeted() -> None:
    scheme = okta(SECRET)
    assert scheme.greet is not None
    assert scheme.greet(verification({"authorization": SECRET})) is None
    assert scheme.greet(request({"authorization": SECRET, "x-okta-verification-challenge": "abc"})) is None


def test_identify_gives_the_deliverys_event_id_and_type() -> None:
    assert okta(SECRET).identify(request({})) == ("b5a188b9", "com.okta.event_hook")
