"""The web console's credentials and its guards against cross-site requests, as pure functions.

A signed-in browser holds the admin token itself in the `hookpipe_session` cookie (HttpOnly, Secure,
SameSite=Strict): the console has no sessions of its own to store, and rotating `admin.token` signs every browser
out. A token holding a character a cookie cannot (a space, a semicolon, a quote, non-ASCII) is percent-encoded
there; any other token is the cookie's value as it is.

Every POST form carries a CSRF value: HMAC-SHA256 of the word "csrf" keyed with the token (so it changes with the
token and reveals nothing of it); the login form, which comes before any token, carries a random double-submit
value that must equal the `hookpipe_csrf` cookie. Every comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import quote, unquote, urlsplit

from control.admin.auth import Refusal

#: The cookie that holds the admin token once a browser signed in.
SESSION_COOKIE = "hookpipe_session"

#: Characters a session cookie keeps as they are besides letters, digits and `_.-~` (those a cookie value may
#: hold unquoted, less `%`, which escapes the others).
COOKIE_SAFE = "!#$&'*+^`|:"

#: The cookie GET /login sets: the login form's double-submit CSRF value.
LOGIN_CSRF_COOKIE = "hookpipe_csrf"

#: The cookie that carries one notice (what an action did) to the page it redirects to.
NOTICE_COOKIE = "hookpipe_notice"

#: The hidden field every POST form carries.
CSRF_FIELD = "csrf"

#: What the CSRF value is an HMAC of.
CSRF_MESSAGE = b"csrf"

#: Random bytes in a login CSRF value (64 hex digits).
LOGIN_CSRF_BYTES = 32

#: A login CSRF value as login_csrf_value makes them.
LOGIN_CSRF_PATTERN = re.compile(r"[0-9a-f]{64}")

#: Where a browser goes after signing in when it names no page of its own.
HOME = "/events"

#: Longest `next` page kept across the login (characters); a longer one goes HOME.
MAX_NEXT = 2000

#: Paths a `next` may not name: the login itself, and what is no page.
NOT_NEXT = ("/login", "/logout", "/static/")

#: Characters no `next` may hold: controls, and the backslash some browsers read as a slash.
UNSAFE_IN_NEXT = re.compile(r"[\x00-\x1f\x7f\\]")


def session_value(token: str) -> str:
    """The `hookpipe_session` cookie's value for `token`: the token, its characters a cookie cannot hold
    percent-encoded."""
    return quote(token, safe=COOKIE_SAFE)


def session_token(cookie: str | None) -> str | None:
    """The token a `hookpipe_session` cookie carries (session_value undone); None without the cookie."""
    return None if cookie is None else unquote(cookie, errors="surrogateescape")


def csrf_token(token: str) -> str:
    """The CSRF value of every console form but the login's: hex HMAC-SHA256(token, "csrf")."""
    return hmac.new(token.encode("utf-8"), CSRF_MESSAGE, hashlib.sha256).hexdigest()


def csrf_matches(given: str | None, token: str) -> bool:
    """Whether `given` (a form's csrf field) is the CSRF value of `token`, compared in constant time."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), csrf_token(token).encode("ascii"))


def login_csrf_value() -> str:
    """A new random login CSRF value (for the `hookpipe_csrf` cookie and the login form)."""
    return secrets.token_hex(LOGIN_CSRF_BYTES)


def login_csrf_usable(value: str | None) -> bool:
    """Whether `value` (the cookie a browser sent) is a login CSRF value as login_csrf_value makes them."""
    return value is not None and LOGIN_CSRF_PATTERN.fullmatch(value) is not None


def login_csrf_matches(given: str | None, cookie: str | None) -> bool:
    """Whether the login form's csrf field equals the `hookpipe_csrf` cookie (both present and well formed)."""
    if not given or cookie is None or not login_csrf_usable(cookie):
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), cookie.encode("ascii"))


def token_refusal(given: str | None, token: str) -> Refusal | None:
    """None when `given` (a session cookie, or the token typed at the login) is the admin token, else why not:
    MISSING when empty, WRONG otherwise (the `reason` of hookpipe_admin_unauthorized_total)."""
    if not given:
        return Refusal.MISSING
    # Bytes, so any value compares (compare_digest refuses non-ASCII str).
    if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode("utf-8")):
        return Refusal.WRONG
    return None


def same_origin(origin: str | None, host: str) -> bool:
    """Whether a request's Origin header names the console's own origin (`host`: its Host header). No Origin
    passes (older browsers and non-browser clients send none: the CSRF value still guards them); "null" (a
    sandboxed frame, a redirect across sites) does not. The scheme is not compared: behind a proxy that ends
    TLS the console is reached by http while the browser says https."""
    if origin is None:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        return False
    return parts.netloc.lower() == host.lower()


def safe_next(page: str | None) -> str:
    """The page to go to after signing in: `page` when it is a path of this console (one leading slash, no
    scheme or host, nothing that a browser could read as another origin), else HOME."""
    if not page or len(page) > MAX_NEXT or UNSAFE_IN_NEXT.search(page):
        return HOME
    if not page.startswith("/") or page.startswith("//"):
        return HOME
    if page.startswith(NOT_NEXT):
        return HOME
    parts = urlsplit(page)
    if parts.scheme or parts.netloc:
        return HOME
    return page


def login_location(page: str | None) -> str:
    """Where a browser without a session is sent: /login, with `next=page` when `page` is worth coming back to."""
    if page is None or safe_next(page) != page:
        return "/login"
    return "/login?next=" + quote(page, safe="/")
