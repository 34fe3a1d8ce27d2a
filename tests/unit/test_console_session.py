"""The web console's credentials and cross-site guards, as pure functions: the CSRF value is HMAC-SHA256 of
"csrf" keyed with the admin token, compared in constant time; the login's double-submit value must equal its
cookie; only the console's own origin may post; `next` after a login stays on the console; any token survives
the session cookie."""

from __future__ import annotations

import hashlib
import hmac
from http.cookies import SimpleCookie

import pytest

from control.admin.auth import Refusal
from control.admin.console.session import (
    HOME,
    csrf_matches,
    csrf_token,
    login_csrf_matches,
    login_csrf_usable,
    login_csrf_value,
    login_location,
    safe_next,
    same_origin,
    session_token,
    session_value,
    token_refusal,
)

TOKEN = "unit-console-token-0123456789"


def test_the_csrf_value_is_the_hex_hmac_sha256_of_csrf_keyed_with_the_token() -> None:
    expected = hmac.new(TOKEN.encode(), b"csrf", hashlib.sha256).hexdigest()
    assert csrf_token(TOKEN) == expected and len(expected) == 64
    assert TOKEN not in csrf_token(TOKEN)
    assert csrf_token(TOKEN + "x") != expected  # a rotated token makes every old form stale


@pytest.mark.parametrize("given, accepted", [
    (None, False), ("", False), ("0" * 64, False), ("not hex at all", False), ("caf\u00e9\udcff", False),
])
def test_only_the_exact_csrf_value_is_accepted(given: str | None, accepted: bool) -> None:
    assert csrf_matches(given, TOKEN) is accepted
    assert csrf_matches(csrf_token(TOKEN), TOKEN) is True
    assert csrf_matches(csrf_token(TOKEN).upper(), TOKEN) is False


def test_the_csrf_value_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert csrf_matches("f" * 64, TOKEN) is False
    assert token_refusal("wrong-token-0123456789", TOKEN) is Refusal.WRONG
    assert compared == [(b"f" * 64, csrf_token(TOKEN).encode()), (b"wrong-token-0123456789", TOKEN.encode())]


def test_the_login_double_submit_value_must_equal_a_well_formed_cookie() -> None:
    value = login_csrf_value()
    assert login_csrf_usable(value) and value != login_csrf_value()
    assert login_csrf_matches(value, value) is True
    assert login_csrf_matches(value, login_csrf_value()) is False
    assert login_csrf_matches(None, value) is False and login_csrf_matches(value, None) is False
    assert login_csrf_matches("abc", "abc") is False  # not a value the console makes
    assert login_csrf_usable("g" * 64) is False


def test_a_token_is_refused_when_empty_or_wrong() -> None:
    assert token_refusal(None, TOKEN) is Refusal.MISSING
    assert token_refusal("", TOKEN) is Refusal.MISSING
    assert token_refusal(TOKEN[:-1], TOKEN) is Refusal.WRONG
    assert token_refusal(TOKEN + " ", TOKEN) is Refusal.WRONG
    assert token_refusal("caf\u00e9\udcff", TOKEN) is Refusal.WRONG
    assert token_refusal(TOKEN, TOKEN) is None


@pytest.mark.parametrize("token", [TOKEN, "with space;semi,comma\"quote\\back", "caf\u00e9-t\u00f6ken-\U0001f511-0123",
                                   "percent%41-and-%-0123456789", "tab\tinside-0123456789"])
def test_any_token_survives_the_session_cookie(token: str) -> None:
    value = session_value(token)
    cookie: SimpleCookie = SimpleCookie()
    cookie["hookpipe_session"] = value
    assert '"' not in cookie.output(), "a value the cookie would have to quote"
    assert session_token(value) == token
    if token == TOKEN:
        assert value == TOKEN  # an ordinary token is the cookie's value as it is
    assert session_token(None) is None


@pytest.mark.parametrize("origin, host, same", [
    (None, "127.0.0.1:8090", True),
    ("http://127.0.0.1:8090", "127.0.0.1:8090", True),
    ("https://Admin.Example.com", "admin.example.com", True),  # TLS ended by a proxy in front
    ("http://127.0.0.1:8091", "127.0.0.1:8090", False),
    ("http://evil.example", "127.0.0.1:8090", False),
    ("null", "127.0.0.1:8090", False),
    ("", "127.0.0.1:8090", False),
    ("file://127.0.0.1:8090", "127.0.0.1:8090", False),
    ("http://127.0.0.1:8090/path", "127.0.0.1:8090", False),
])
def test_only_the_consoles_own_origin_may_post(origin: str | None, host: str, same: bool) -> None:
    assert same_origin(origin, host) is same


@pytest.mark.parametrize("page, kept", [
    ("/events/evt-1", True), ("/events?source=demo&status=dead", True), ("/dead-letters", True), ("/", True),
    (None, False), ("", False), ("events", False), ("//evil.example/x", False), ("/\\evil.example", False),
    ("https://evil.example/", False), ("/login", False), ("/login?next=/events", False), ("/logout", False),
    ("/static/console.css", False), ("/events\r\nSet-Cookie: x=1", False), ("/" + "a" * 3000, False),
])
def test_after_a_login_only_a_page_of_the_console_is_opened(page: str | None, kept: bool) -> None:
    assert safe_next(page) == (page if kept else HOME)


def test_the_login_location_keeps_only_a_page_worth_coming_back_to() -> None:
    assert login_location("/events/evt 1?x=1") == "/login?next=/events/evt%201%3Fx%3D1"
    assert login_location(None) == "/login"
    assert login_location("//evil.example") == "/login"
