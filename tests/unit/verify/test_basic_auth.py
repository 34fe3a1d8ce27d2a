"""Scheme `basic-auth` (ingest/verify/basic_auth.py): `Authorization: Basic`, rotation, malformed credentials."""

from __future__ import annotations

import base64

import pytest

from hookpipe.config import VerifyConfig
from ingest.verify import InboundRequest, Scheme, build_scheme
from tests.unit.verify.corpus import rejection_reason as reason

USER = "partner"
PASSWORD = "correct-horse-battery-staple"
PREVIOUS = "previous-password-0123456789"


def basic_auth(*passwords: str, username: str = USER) -> Scheme:
    return build_scheme(VerifyConfig(scheme="basic-auth", username=username, secrets=list(passwords)))


def credentials(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def request(authorization: str | None) -> InboundRequest:
    headers = {"authorization": authorization} if authorization is not None else {}
    return InboundRequest(method="POST", query_string="",
                          headers=headers, body=b"{}", now=1_767_225_600)


def test_accepts_the_configured_username_and_password() -> None:
    basic_auth(PASSWORD).verify(request(credentials(USER, PASSWORD)))


@pytest.mark.parametrize("kind", ["basic", "BASIC", "Basic"])
def test_the_scheme_keyword_is_case_insensitive(kind: str) -> None:
    encoded = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    basic_auth(PASSWORD).verify(request(f"{kind} {encoded}"))


def test_accepts_any_of_several_rotated_passwords() -> None:
    scheme = basic_auth(PASSWORD, PREVIOUS)
    scheme.verify(request(credentials(USER, PASSWORD)))
    scheme.verify(request(credentials(USER, PREVIOUS)))
    assert reason(scheme, request(credentials(USER, "retired-password"))) == "bad_signature"


@pytest.mark.parametrize(("user", "password"), [
    ("other", PASSWORD), (USER.upper(), PASSWORD), (USER, PASSWORD + "x"), (USER, ""), ("", PASSWORD),
    (f"{USER}:{PASSWORD}", PASSWORD), (USER, f"{PASSWORD}:{PASSWORD}"),
])
def test_wrong_username_or_password_is_a_bad_signature(user: str, password: str) -> None:
    assert reason(basic_auth(PASSWORD), request(credentials(user, password))) == "bad_signature"


def test_an_empty_password_never_matches() -> None:
    scheme = build_scheme(VerifyConfig.model_construct(scheme="basic-auth", username=USER, secrets=["", PASSWORD]))
    assert reason(scheme, request(credentials(USER, ""))) == "bad_signature"


def test_utf8_credentials_are_accepted() -> None:
    basic_auth("mot-de-passe-été", username="zoë").verify(request(credentials("zoë", "mot-de-passe-été")))


@pytest.mark.parametrize("value", [
    "", "Basic", "Basic ", f"Bearer {PASSWORD}", "Basic not*base64", "Basic cGFydG5lcg",
    "Basic " + base64.b64encode(b"no-colon-here").decode(), "Basic \udcff\udcfe", "Basic é",
    credentials(USER, PASSWORD) + ", " + credentials(USER, PASSWORD), base64.b64encode(b"a:b").decode(),
])
def test_malformed_authorization_is_malformed_header(value: str) -> None:
    assert reason(basic_auth(PASSWORD), request(value)) == "malformed_header"


def test_missing_authorization_is_missing_header() -> None:
    assert reason(basic_auth(PASSWORD), request(None)) == "missing_header"


def test_reads_and_strips_the_authorization_header() -> None:
    scheme = basic_auth(PASSWORD)
    assert scheme.reads_headers == frozenset({"authorization"})
    assert scheme.identify(request(None)) == (None, None)
