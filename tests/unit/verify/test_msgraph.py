"""Scheme `msgraph` (ingest/verify/msgraph.py): the documented corpus verdicts, every notification's clientState,
the validation echo and its bounds, no identity."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from hookpipe.config import VerifyConfig
from ingest.verify import Answer, InboundRequest, Scheme, build_scheme
from ingest.verify.msgraph import MAX_NOTIFICATIONS, MAX_QUERY, MAX_VALIDATION_TOKEN
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_config
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
STATE = "graph-state-current-0123456789"
PREVIOUS = "graph-state-previous-0123456789"


def msgraph(*secrets: str) -> Scheme:
    return build_scheme(VerifyConfig(scheme="msgraph", secrets=list(secrets)))


def request(body: bytes, *, query: str = "", method: str = "POST") -> InboundRequest:
    return InboundRequest(method=method, query_string=query, headers={}, body=body, now=NOW)


def batch(*states: Any) -> InboundRequest:
    return request(orjson.dumps({"value": [{"changeType": "created", "clientState": s} for s in states]}))


def validation(query: str, method: str = "POST") -> InboundRequest:
    return request(b"", query=query, method=method)


def greet(scheme: Scheme, inbound: InboundRequest) -> Answer | None:
    assert scheme.greet is not None
    return scheme.greet(inbound)


@pytest.mark.parametrize("case", cases_for("msgraph"))
def test_every_corpus_case_gets_the_documented_verdict(case: dict[str, Any]) -> None:
    assert_scheme_verdict(build_scheme(verify_config(case)), case)


def test_every_notification_must_carry_a_configured_client_state() -> None:
    scheme = msgraph(STATE, PREVIOUS)
    scheme.verify(batch(STATE, PREVIOUS, STATE))
    for states in [("nope",), (STATE, "nope"), (STATE, None), (STATE, 42), (STATE + "x",), ("",)]:
        assert reason(scheme, batch(*states)) == "bad_signature"


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[]", b'{"value": []}', b'{"value": {}}', b'{"value": ["x"]}', b'{"other": []}',
    b'{"value": [{"clientState": "' + STATE.encode() + b'"}, "x"]}',
])
def test_a_body_that_is_not_a_notification_batch_is_refused(body: bytes) -> None:
    assert reason(msgraph(STATE), request(body)) == "bad_signature"


def test_a_blank_secret_never_matches() -> None:
    scheme = build_scheme(VerifyConfig.model_construct(scheme="msgraph", secrets=["", "  "]))
    assert reason(scheme, batch("")) == "bad_signature"
    assert reason(scheme, batch("  ")) == "bad_signature"


def test_at_most_max_notifications_are_looked_at() -> None:
    msgraph(STATE).verify(batch(*[STATE] * MAX_NOTIFICATIONS))
    assert reason(msgraph(STATE), batch(*[STATE] * (MAX_NOTIFICATIONS + 1))) == "bad_signature"


def test_the_validation_token_is_echoed_decoded_as_text_plain() -> None:
    query = "validationToken=Validation%3a+Testing+client+application+reachability"
    answer = greet(msgraph(STATE), validation(query))
    assert answer is not None
    assert (answer.status, answer.content_type, answer.body) == (
        200, "text/plain", b"Validation: Testing client application reachability")


def test_the_longest_validation_token_is_echoed() -> None:
    answer = greet(msgraph(STATE), validation("validationToken=" + "A" * MAX_VALIDATION_TOKEN))
    assert answer is not None and answer.body == b"A" * MAX_VALIDATION_TOKEN


@pytest.mark.parametrize("query", [
    "", "validationToken=", "validationToken=a&validationToken=b", "validationtoken=a",
    "validationToken=" + "A" * (MAX_VALIDATION_TOKEN + 1), "validationToken=a&pad=" + "x" * MAX_QUERY,
])
def test_anything_but_one_bounded_token_is_not_echoed(query: str) -> None:
    assert greet(msgraph(STATE), validation(query)) is None


def test_only_a_post_is_a_validation() -> None:
    scheme = msgraph(STATE)
    assert greet(scheme, validation("validationToken=abc", method="GET")) is None
    assert scheme.greet_methods == frozenset()


def test_a_batch_has_no_id_and_no_type_and_no_header_is_read() -> None:
    assert msgraph(STATE).identify(batch(STATE)) == (None, None)
    assert msgraph(STATE).reads_headers == frozenset()
