"""Scheme `calendly` (ingest/verify/calendly.py): the corpus verdicts (Calendly's documented construction), the
3-minute window, rotation, the bound on the header's items, identity."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Scheme, build_scheme
from ingest.verify.calendly import MAX_ITEMS
from tests.unit.verify.corpus import assert_scheme_verdict, cases_for, verify_config
from tests.unit.verify.corpus import rejection_reason as reason

NOW = 1_767_225_600
SECRET = "calendly-current-0123456789abcdef"
PREVIOUS = "calendly-previous-0123456789abcdef"
BODY = b'{"event":"invitee.created","payload":{"name":"Ada"}}'


def calendly(*secrets: str, **settings: Any) -> Scheme:
    return build_scheme(VerifyConfig(scheme="calendly", secrets=list(secrets), **settings))


def v1(secret: str | bytes, t: int | str, body: bytes = BODY) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def request(value: str | None, body: bytes = BODY) -> InboundRequest:
    headers = {"calendly-webhook-signature": value} if value is not None else {}
    return InboundRequest(method="POST", query_string="", headers=headers, body=body, now=NOW)


def signed(secret: str | bytes = SECRET, t: int = NOW - 3, body: bytes = BODY) -> InboundRequest:
    return request(f"t={t},v1={v1(secret, t, body)}", body)


@pytest.mark.parametrize("case", cases_for("calendly"))
def test_every_corpus_case_gets_the_documented_verdict(case: dict[str, Any]) -> None:
    assert_scheme_verdict(build_scheme(verify_config(case)), case)


def test_accepts_a_signature_made_with_any_configured_secret() -> None:
    scheme = calendly(SECRET, PREVIOUS)
    scheme.verify(signed(SECRET))
    scheme.verify(signed(PREVIOUS))
    assert reason(scheme, signed("calendly-retired-0123456789abcdef")) == "bad_signature"


def test_a_signature_made_with_an_empty_key_is_rejected() -> None:
    scheme = build_scheme(VerifyConfig.model_construct(scheme="calendly", secrets=["", SECRET]))
    assert reason(scheme, signed(b"")) == "bad_signature"


@pytest.mark.parametrize(("offset", "expected"), [
    (-180, None), (180, None), (-181, "stale_timestamp"), (181, "future_timestamp"),
])
def test_t_is_bounded_to_3_minutes_either_way(offset: int, expected: str | None) -> None:
    if expected is None:
        calendly(SECRET).verify(signed(t=NOW + offset))
    else:
        assert reason(calendly(SECRET), signed(t=NOW + offset)) == expected


def test_tolerance_changes_the_window() -> None:
    calendly(SECRET, tolerance="10m").verify(signed(t=NOW - 599))


def test_items_may_come_in_any_order_with_spaces_and_several_v1() -> None:
    t = NOW - 1
    calendly(SECRET).verify(request(f"v1={v1(PREVIOUS, t)}, v1={v1(SECRET, t)}, t={t}"))


def test_only_the_first_t_is_signed() -> None:
    t = NOW - 1
    assert reason(calendly(SECRET), request(f"t={NOW - 2},t={t},v1={v1(SECRET, t)}")) == "bad_signature"


@pytest.mark.parametrize("value", [
    "", " ", f"v1={'0' * 64}", f"t={NOW}", f"t={NOW},v1=", f"t=soon,v1={'0' * 64}", f"t={NOW}.5,v1={'0' * 64}",
    f"t={NOW},v1=é", f"t={NOW},V1={'0' * 64}",
])
def test_unusable_headers_are_malformed(value: str) -> None:
    assert reason(calendly(SECRET), request(value)) == "malformed_header"


def test_missing_header() -> None:
    assert reason(calendly(SECRET), request(None)) == "missing_header"


def test_the_number_of_items_read_is_capped() -> None:
    t = NOW - 1
    good = f"t={t},v1={v1(SECRET, t)}"
    calendly(SECRET).verify(request(good + ",x=1" * (MAX_ITEMS - 2)))
    assert reason(calendly(SECRET), request(good + ",x=1" * (MAX_ITEMS - 1))) == "malformed_header"
    assert reason(calendly(SECRET), request(good + ",v1=00" * 10_000)) == "malformed_header"


def test_identify_gives_no_id_and_the_event() -> None:
    assert calendly(SECRET).identify(signed()) == (None, "invitee.created")


def test_reads_and_strips_the_signature_header() -> None:
    assert calendly(SECRET).reads_headers == frozenset({"calendly-webhook-signature"})
