"""Every SNS corpus case through the real HTTP ingest and RabbitMQ, with SNS's hosts played by a local HTTPS server.

The server (tests/support/sns_server.py, a test CA made at test time) serves the corpus's signing certificate at
the URL the messages name and answers SubscribeURL GETs; ingest's HTTPS client is the default one, only trusting
that CA and resolving SNS's names to 127.0.0.1 (`sns_certificates.default_fetcher` is replaced before ingest
builds its sources). Pinned-certificate cases fetch nothing. No test reaches the network.
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from ingest import sns_certificates
from ingest.verify import sns
from tests.integration.test_corpus import Clock, _expect_published, ingest_alone, send_case, source_name
from tests.support.corpus import SEPARABLE_REASONS, body_of, cases_for, expected_answer, verify_settings
from tests.support.network import loopback_only_connects
from tests.support.sns_server import CORPUS_KEYS, sns_server

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "arn:aws:sns:us-east-1:123456789012:hookpipe-orders"
SIGNING_KEY: Any = serialization.load_pem_private_key((CORPUS_KEYS / "signing-key.pem").read_bytes(), None)
NOW = 1_767_225_600


def settings(case: dict[str, Any]) -> dict[str, Any]:
    verify = verify_settings(case)
    if verify.get("certificates"):
        verify["certificates"] = [str(ROOT / path) for path in verify["certificates"]]
    return {"verify": verify}


def certificate_url(case: dict[str, Any]) -> str | None:
    try:
        url = json.loads(body_of(case["request"])).get("SigningCertURL")
    except ValueError:
        return None
    return url if isinstance(url, str) and sns.allowed_certificate_url(url) else None


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sns_ingest():
    prefix = f"hp-test-sns-{uuid.uuid4().hex[:8]}"
    cases = [parameter.values[0] for parameter in cases_for("sns")]
    async with sns_server() as server:
        for case in cases:
            if (url := certificate_url(case)) is not None:
                server.files[url.split(".com", 1)[1]] = (CORPUS_KEYS / "signing-cert.pem").read_bytes()
        sources = {source_name(case): settings(case) for case in cases}
        sources["sns-live"] = {"verify": {"scheme": "sns", "topics": [TOPIC]}}
        clock = Clock()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(sns_certificates, "default_fetcher", server.client)
            async with ingest_alone(prefix, sources, clock) as (config, queue):
                yield server, clock, config, queue


def url_of(config: dict[str, Any], source: str) -> str:
    return f"http://{config['ingest']['listen']}/ingest/{source}"


@pytest.mark.parametrize("case", cases_for("sns"))
async def test_sns_corpus_case_through_ingest(sns_ingest, case, monkeypatch: pytest.MonkeyPatch):
    server, clock, config, queue = sns_ingest
    clock.now = case["receiver"]["now"]
    before = list(server.requests)
    connects = loopback_only_connects(monkeypatch)
    status, _, answer = await send_case(url_of(config, source_name(case)), case, case["request"])
    made = server.requests[len(before):]
    assert set(connects) <= {"127.0.0.1"}
    expected = case["expected"]
    body = json.loads(body_of(case["request"])) if expected["reason"] != "malformed_header" else {}
    confirms = [path for path in made if "Action=ConfirmSubscription" in path]
    if expected["verdict"] == "handshake":
        assert (status, _, answer) == expected_answer(case)
        assert await queue.get(no_ack=True, fail=False) is None, "a handshake was published"
        wanted = [body["SubscribeURL"].split(".com", 1)[1]] if body["Type"] == "SubscriptionConfirmation" else []
        assert confirms == wanted, "the subscription must be confirmed exactly once, and only a subscription"
    elif expected["verdict"] == "accept":
        assert 200 <= status < 300, f"refused with {status} {answer!r}"
        await _expect_published(queue, case, case["request"])
        assert confirms == []
    else:
        assert 400 <= status < 500, f"answered {status} {answer!r} to a request the case refuses"
        if expected["reason"] in SEPARABLE_REASONS | {"unknown_topic"}:
            assert json.loads(answer) == {"error": expected["reason"]}
        assert await queue.get(no_ack=True, fail=False) is None
        assert confirms == []
    if case["receiver"].get("certificates"):
        assert made == [], "a pinned source fetched something"
    elif certificate_url(case) is None:
        assert made == [], "a certificate off SNS's hosts was fetched"


async def test_each_source_fetched_its_certificate_once(sns_ingest):
    server, *_ = sns_ingest
    pem_fetches = [path for path in server.requests if path.endswith(".pem")]
    fetching_sources = [case for case in (p.values[0] for p in cases_for("sns"))
                        if not case["receiver"].get("certificates") and certificate_url(case) is not None
                        and case["expected"]["reason"] not in ("unknown_topic", "malformed_header",
                                                               "missing_header")]
    assert 0 < len(pem_fetches) <= len(fetching_sources)
    assert set(server.lookups) <= {"sns.us-east-1.amazonaws.com"}


def signed(message: dict[str, Any], cert_path: str = "/SimpleNotificationService-live.pem") -> bytes:
    message = {**message, "TopicArn": TOPIC, "Timestamp": "2025-12-31T23:59:30.000Z", "SignatureVersion": "2",
               "SigningCertURL": f"https://sns.us-east-1.amazonaws.com{cert_path}"}
    text = sns.canonical_string(message)
    message["Signature"] = base64.b64encode(SIGNING_KEY.sign(text, padding.PKCS1v15(), hashes.SHA256())).decode()
    return json.dumps(message).encode()


async def post(config: dict[str, Any], kind: str, body: bytes) -> tuple[int, str | None, Any]:
    """POST to the `sns-live` source: status, Retry-After, JSON answer."""
    async with aiohttp.ClientSession() as http, http.post(
        url_of(config, "sns-live"), data=body, headers={"x-amz-sns-message-type": kind}
    ) as response:
        return response.status, response.headers.get("Retry-After"), await response.json(content_type=None)


async def test_a_certificate_that_cannot_be_fetched_answers_503_with_retry_after(sns_ingest):
    _, clock, config, queue = sns_ingest
    clock.now = NOW
    body = signed({"Type": "Notification", "MessageId": "late-1", "Message": "hello"},
                  cert_path="/SimpleNotificationService-missing.pem")
    status, retry_after, answer = await post(config, "Notification", body)
    assert (status, answer) == (503, {"error": "certificate_unavailable"}) and retry_after
    assert await queue.get(no_ack=True, fail=False) is None


async def test_a_subscription_whose_confirmation_fails_answers_503_and_is_confirmed_on_sns_retry(sns_ingest):
    server, clock, config, queue = sns_ingest
    clock.now = NOW
    server.files["/SimpleNotificationService-live.pem"] = (CORPUS_KEYS / "signing-cert.pem").read_bytes()
    token = "retry-token"
    body = signed({"Type": "SubscriptionConfirmation", "MessageId": "confirm-1", "Token": token,
                   "Message": "confirm", "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action="
                   f"ConfirmSubscription&TopicArn={TOPIC}&Token={token}"})
    server.confirm_status = 500
    try:
        status, retry_after, answer = await post(config, "SubscriptionConfirmation", body)
        assert (status, answer) == (503, {"error": "confirmation_failed"}) and retry_after
    finally:
        server.confirm_status = 200
    status, _, answer = await post(config, "SubscriptionConfirmation", body)
    assert (status, answer) == (200, {"ok": True})
    assert len([path for path in server.requests if f"Token={token}" in path]) == 2
    assert await queue.get(no_ack=True, fail=False) is None
