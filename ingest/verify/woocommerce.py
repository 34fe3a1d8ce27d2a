"""Scheme `woocommerce`: `X-WC-Webhook-Signature: <base64 HMAC-SHA256(body)>`, keyed with the webhook's secret,
and WooCommerce's ping.

WooCommerce (`WC_Webhook::deliver` and `generate_signature`) sends the JSON payload as the body and signs exactly
those bytes with HMAC-SHA256, base64; there is no timestamp. Its headers name the delivery
(`X-WC-Webhook-Delivery-ID`, the event's id here) and the topic (`X-WC-Webhook-Topic`, `order.created`, the
event's type). Rotation is the receiver's: every configured secret is tried.

When a webhook is saved active, WooCommerce pings its URL (`WC_Webhook::deliver_ping`): an UNSIGNED POST whose
body is exactly `webhook_id=<the webhook's id>`, and it refuses to save the webhook unless the answer is 200.
That ping is answered 200 before verification (`greet`) and never published, only when it carries no signature
header and its body is exactly that form: anything else, however close, is verified as an event.
"""

from __future__ import annotations

import re

from hookpipe.config import VerifyConfig
from ingest.verify import Answer, InboundRequest, Scheme, header_identity
from ingest.verify.generic_hmac import body_hmac_settings, verify_hmac

SIGNATURE_HEADER = "x-wc-webhook-signature"

#: The ping's whole body. A webhook id is a WordPress post id (an unsigned 64-bit integer at most: 20 digits).
PING_BODY = re.compile(rb"webhook_id=[0-9]{1,20}")

#: Longest body looked at as a ping, in bytes (the regex never reads more).
MAX_PING_BODY = len(b"webhook_id=") + 20

HANDSHAKE = "woocommerce_ping"

PING_ANSWER = b'{"ok":true}'


def greet_woocommerce(request: InboundRequest) -> Answer | None:
    """The ping, answered 200; None for anything else (including a ping-shaped body with a signature)."""
    if request.method != "POST" or SIGNATURE_HEADER in request.headers or len(request.body) > MAX_PING_BODY:
        return None
    if PING_BODY.fullmatch(request.body) is None:
        return None
    return Answer(200, PING_ANSWER, HANDSHAKE)


def build(config: VerifyConfig) -> Scheme:
    settings = body_hmac_settings(config, header=SIGNATURE_HEADER, prefix="", algorithm="sha256", encoding="base64")
    return Scheme(
        verify=lambda request: verify_hmac(request, settings),
        reads_headers=frozenset({SIGNATURE_HEADER}),
        identify=header_identity("x-wc-webhook-delivery-id", "x-wc-webhook-topic"),
        greet=greet_woocommerce,
    )
