"""Scheme `shopify`: `X-Shopify-Hmac-Sha256`, the base64 HMAC-SHA256 of the raw body keyed with the app's client
secret. There is no timestamp.

As the official verifier (@shopify/shopify-api `webhooks.validate`) does, an authentic request must also carry
the topic, shop domain, API version and webhook id headers, and requests of Shopify's newer Events delivery, whose
headers drop the `x-` (`shopify-hmac-sha256`, `shopify-topic`, ...), are read under those names. The comparison is
of the base64 text as sent. Rotation is ours: every configured secret is tried.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import Identity, InboundRequest, Rejected, Scheme, matches_any, require_header


@dataclass(frozen=True, slots=True)
class ShopifyHeaders:
    """The names of one delivery kind's headers."""

    hmac: str
    topic: str
    shop_domain: str
    api_version: str
    webhook_id: str

    @property
    def required(self) -> tuple[str, ...]:
        """Those the official verifier requires once the HMAC matches."""
        return self.topic, self.shop_domain, self.api_version, self.webhook_id


WEBHOOK_HEADERS = ShopifyHeaders(
    hmac="x-shopify-hmac-sha256",
    topic="x-shopify-topic",
    shop_domain="x-shopify-shop-domain",
    api_version="x-shopify-api-version",
    webhook_id="x-shopify-webhook-id",
)
EVENT_HEADERS = ShopifyHeaders(
    hmac="shopify-hmac-sha256",
    topic="shopify-topic",
    shop_domain="shopify-shop-domain",
    api_version="shopify-api-version",
    webhook_id="shopify-webhook-id",
)


def headers_of(request: InboundRequest) -> ShopifyHeaders:
    """The delivery kind's header names: Events when its HMAC header is there, as the official verifier decides."""
    return EVENT_HEADERS if request.headers.get(EVENT_HEADERS.hmac) else WEBHOOK_HEADERS


def expected_signature(key: bytes, body: bytes) -> bytes:
    return base64.b64encode(hmac.digest(key, body, hashlib.sha256))


def verify_shopify(request: InboundRequest, keys: list[bytes]) -> None:
    names = headers_of(request)
    presented = require_header(request, names.hmac)
    if not presented.isascii():
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    if not request.body:
        # Shopify always sends a body, and the official verifier refuses an empty one.
        raise Rejected(IngestRejection.BAD_SIGNATURE)
    if not matches_any([presented.encode()], [expected_signature(key, request.body) for key in keys]):
        raise Rejected(IngestRejection.BAD_SIGNATURE)
    for name in names.required:
        require_header(request, name)


def identify_shopify(request: InboundRequest) -> Identity:
    """`X-Shopify-Webhook-Id` (the same on a retry) and `X-Shopify-Topic` (`orders/create`)."""
    names = headers_of(request)
    return request.headers.get(names.webhook_id), request.headers.get(names.topic)


def build(config: VerifyConfig) -> Scheme:
    # A blank secret is never a key: an empty HMAC key would let anyone sign.
    keys = [secret.encode() for secret in config.secrets or () if secret.strip()]
    return Scheme(
        verify=lambda request: verify_shopify(request, keys),
        reads_headers=frozenset({WEBHOOK_HEADERS.hmac, EVENT_HEADERS.hmac}),
        identify=identify_shopify,
    )
