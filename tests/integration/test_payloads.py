"""Real provider payloads, signed with the providers' own tooling, arrive on the broker byte-identical.

The payload files are byte-for-byte copies from octokit/webhooks and stripe/openapi
(tests/corpus/webhooks/payloads). Besides them: a 1.5 MB body and a unicode-heavy one, made here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

import aiohttp
import orjson
import pytest
import stripe

from tests.support.broker import connect
from tests.support.corpus import CORPUS
from tests.support.pipeline import InProcessPipeline, ingest_url, pipeline_config

pytestmark = pytest.mark.integration

GITHUB_SECRET = "github-payload-test-secret-0123"
STRIPE_SECRET = "whsec_payload_test_secret_0123456789"


def _payloads() -> list[Any]:
    # Part of the repository: a missing manifest or payload file fails collection.
    entries = json.loads((CORPUS / "payloads.manifest.json").read_text())
    params = [pytest.param(entry["provider"], (CORPUS / "payloads" / entry["file"]).read_bytes(), id=entry["file"])
              for entry in entries]
    github_bodies = [p.values[1] for p in params if p.values[0] == "github"]
    if not github_bodies:
        raise LookupError(f"no GitHub payload in {CORPUS / 'payloads.manifest.json'}")
    copies = github_bodies
    while sum(map(len, copies)) < 1_600_000:  # the real GHES index file is 1.5 MB; this is at least that
        copies = copies + github_bodies
    large = b"[" + b",".join(copies) + b"]"
    unicode_body = json.dumps({"text": "Grüße, 東京, مرحبا, 🎉, e\u0301", "n": 1}, ensure_ascii=False).encode()
    return [*params, pytest.param("github", large, id="large-1.5MB"),
            pytest.param("stripe", unicode_body, id="unicode")]


def _signed_request(provider: str, body: bytes) -> tuple[dict[str, str], str | None, str | None]:
    """Headers as the provider would send them, and the id and type ingest should extract."""
    if provider == "github":
        delivery, event = str(uuid.uuid4()), "push"
        signature = "sha256=" + hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {"X-Hub-Signature-256": signature, "X-GitHub-Delivery": delivery, "X-GitHub-Event": event,
                   "Content-Type": "application/json"}
        return headers, delivery, event
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), STRIPE_SECRET)
    document = orjson.loads(body)
    expected_id = document.get("id") if isinstance(document, dict) else None
    expected_type = document.get("type") if isinstance(document, dict) else None
    return ({"Stripe-Signature": header, "Content-Type": "application/json"},
            expected_id if isinstance(expected_id, str) else None,
            expected_type if isinstance(expected_type, str) else None)


@pytest.mark.parametrize(("provider", "body"), _payloads())
async def test_real_payload_is_on_the_broker_byte_identical_with_its_id_and_type(
    prefix, receiver, topology_cleanup, provider: str, body: bytes
):
    config = pipeline_config(prefix, receiver.url, sources={
        "github": {"verify": {"scheme": "github", "secrets": [GITHUB_SECRET]}, "max_body": "4MiB"},
        "stripe": {"verify": {"scheme": "stripe", "secrets": [STRIPE_SECRET]}, "max_body": "4MiB"},
    }, routes=[])
    topology_cleanup(config)
    ingest = InProcessPipeline(config, services=("ingest",))
    await ingest.start()
    headers, expected_id, expected_type = _signed_request(provider, body)
    try:
        async with aiohttp.ClientSession() as http, http.post(
            ingest_url(config, provider), data=body, headers=headers
        ) as response:
            assert response.status == 200, await response.text()
            answered_id = (await response.json())["id"]
    finally:
        await ingest.stop()
    connection = await connect()
    async with connection:
        queue = await (await connection.channel()).get_queue(f"{prefix}.router")
        message = await queue.get(no_ack=True)
    assert message is not None
    assert hashlib.sha256(message.body).digest() == hashlib.sha256(body).digest()
    assert message.message_id == answered_id
    if expected_id is not None:
        assert message.message_id == expected_id
    assert message.type == expected_type
    assert message.headers["x-hookpipe-source"] == provider
