"""Provider handshakes, answered without publishing."""

from __future__ import annotations

import hashlib
import hmac

import orjson

from hookpipe.config import SourceConfig
from ingest.handshakes import after_verification, before_verification
from ingest.verify import InboundRequest


def source(scheme: str, **settings: object) -> SourceConfig:
    secrets = {"secrets": ["a-long-enough-secret-0123"]} if scheme != "none" else {}
    extra = {"header": "X-Sig"} if scheme == "hmac" else {}
    unverified = {"unverified": True} if scheme == "none" else {}
    return SourceConfig.model_validate({"verify": {"scheme": scheme, **secrets, **extra}, **unverified, **settings})


def request(body: object, **headers: str) -> InboundRequest:
    return InboundRequest(method="POST", query_string="", headers=headers,
                          body=orjson.dumps(body), now=0)


def test_meta_challenge_needs_the_configured_token() -> None:
    meta = source("hmac", handshake={"meta_verify_token": "tok"})
    ok = before_verification(meta, "GET", "hub.mode=subscribe&hub.verify_token=tok&hub.challenge=42")
    assert ok is not None and (ok.status, ok.body) == (200, b"42")
    bad = before_verification(meta, "GET", "hub.mode=subscribe&hub.verify_token=nope&hub.challenge=42")
    assert bad is not None and bad.status == 403
    assert before_verification(meta, "POST", "hub.mode=subscribe&hub.verify_token=tok&hub.challenge=42") is None
    assert before_verification(source("hmac"), "GET", "hub.mode=subscribe&hub.challenge=42") is None


def test_slack_url_verification_echoes_the_challenge() -> None:
    answer = after_verification(source("slack"), request({"type": "url_verification", "challenge": "c-1"}))
    assert answer is not None and orjson.loads(answer.body) == {"challenge": "c-1"}
    assert after_verification(source("slack"), request({"type": "event_callback"})) is None
    assert after_verification(source("hmac"), request({"type": "url_verification", "challenge": "c"})) is None


def test_zoom_url_validation_returns_the_hmac_of_the_plain_token() -> None:
    zoom = source("hmac", handshake={"zoom_secret_token": "zoom-secret"})
    answer = after_verification(zoom, request({"event": "endpoint.url_validation", "payload": {"plainToken": "p"}}))
    assert answer is not None
    expected = hmac.new(b"zoom-secret", b"p", hashlib.sha256).hexdigest()
    assert orjson.loads(answer.body) == {"plainToken": "p", "encryptedToken": expected}


def test_github_ping_is_answered_not_published() -> None:
    answer = after_verification(source("github"), request({"zen": "Keep it logically awesome."},
                                                          **{"x-github-event": "ping"}))
    assert answer is not None and answer.status == 200
    assert after_verification(source("github"), request({}, **{"x-github-event": "push"})) is None
