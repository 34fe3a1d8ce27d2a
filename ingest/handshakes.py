"""Provider handshakes: requests that prove the endpoint is ours rather than carry an event.

They are answered at once and never published. Meta's subscription check comes before verification (a GET
with the configured verify token); Slack's, Zoom's and GitHub's come signed and are answered after it. Schemes
whose provider has a handshake of its own answer it themselves (`Scheme.greet` and `Scheme.answer`).
"""

from __future__ import annotations

import hmac
from enum import StrEnum
from urllib.parse import parse_qs

import orjson

from hookpipe.config import SourceConfig
from ingest.verify import Answer, InboundRequest, zoom


class Handshake(StrEnum):
    """Which handshake a request was: the `handshake` field of the `handshake answered` log line."""

    META_SUBSCRIBE = "meta_subscribe"
    BAD_VERIFY_TOKEN = "bad_verify_token"  # a Meta subscription check with another token; also the 403's `error`
    GITHUB_PING = "github_ping"
    SLACK_URL_VERIFICATION = "slack_url_verification"
    ZOOM_URL_VALIDATION = zoom.URL_VALIDATION


def before_verification(source: SourceConfig, method: str, query_string: str) -> Answer | None:
    """Meta (WhatsApp, Instagram, Messenger) subscription check: `GET ?hub.mode=subscribe&hub.verify_token=..
    &hub.challenge=..` answered with the challenge when the token matches."""
    token = source.handshake.meta_verify_token if source.handshake else None
    if token is None or method != "GET":
        return None
    params = parse_qs(query_string)
    if params.get("hub.mode") != ["subscribe"] or "hub.challenge" not in params:
        return None
    presented = (params.get("hub.verify_token") or [""])[0].encode()
    if not hmac.compare_digest(presented, token.encode()):
        return Answer(403, orjson.dumps({"error": Handshake.BAD_VERIFY_TOKEN.value}), Handshake.BAD_VERIFY_TOKEN)
    return Answer(200, params["hub.challenge"][0].encode(), Handshake.META_SUBSCRIBE, "text/plain")


def after_verification(source: SourceConfig, request: InboundRequest) -> Answer | None:
    """Slack `url_verification`, Zoom `endpoint.url_validation`, GitHub `ping`: answered, not published."""
    scheme = source.verify.scheme
    if scheme == "github" and request.headers.get("x-github-event") == "ping":
        return Answer(200, orjson.dumps({"ok": True}), Handshake.GITHUB_PING)
    zoom_token = source.handshake.zoom_secret_token if source.handshake else None
    if scheme != "slack" and zoom_token is None:
        return None  # no handshake possible: do not parse the body for nothing
    body = request.json()
    if not isinstance(body, dict):
        return None
    if scheme == "slack" and body.get("type") == "url_verification" and isinstance(body.get("challenge"), str):
        return Answer(200, orjson.dumps({"challenge": body["challenge"]}), Handshake.SLACK_URL_VERIFICATION)
    if zoom_token is not None:
        return zoom.url_validation_answer(zoom_token.encode(), body)  # the scheme `zoom` answers it the same way
    return None
