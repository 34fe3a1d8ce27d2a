"""Writes tests/corpus/webhooks/providers/woocommerce.json.

WooCommerce publishes no webhook verifier (its REST API clients call the API), so every case is basis
"documented": signed and judged with Python's stdlib as WooCommerce's webhook code and docs describe
(`WC_Webhook::generate_signature`: `base64_encode(hash_hmac('sha256', $payload, $secret, true))` of the body
sent; `WC_Webhook::deliver`'s X-WC-Webhook-* headers; `WC_Webhook::deliver_ping`: an unsigned POST of
`webhook_id=<id>` that must be answered 200). No published example vector is included. Installs nothing; run
from the repository root: `python tests/corpus/generate/woocommerce.py`.
"""

from __future__ import annotations

import json
import platform

import body_hmac
import provider_cases as pc
from body_hmac import BodyHmacProvider, Event

GENERATOR = "tests/corpus/generate/woocommerce.py"
SOURCE = ("WooCommerce REST API docs, Webhooks (woocommerce.github.io/woocommerce-rest-api-docs/#webhooks) and "
          "WC_Webhook in woocommerce/includes/class-wc-webhook.php (generate_signature, deliver, deliver_ping)")
USER_AGENT = "WooCommerce/9.5.1 Hookshot (WordPress/6.7.1)"
PING_ANSWER = b'{"ok":true}'


def order(delivery_id: str, first_name: str, *, escape: bool) -> Event:
    body = json.dumps({
        "id": 727, "parent_id": 0, "status": "processing", "currency": "EUR", "total": "29.35",
        "date_created": "2026-01-01T00:59:50",
        "billing": {"first_name": first_name, "last_name": "Lovelace", "email": "ada@example.com"},
        "line_items": [{"id": 315, "name": "Woo Single #1", "product_id": 93, "quantity": 2, "total": "6.00"}],
    }, separators=(",", ":"), ensure_ascii=escape).replace("/", "\\/").encode()
    headers = [["Content-Type", "application/json"], ["User-Agent", USER_AGENT],
               ["X-WC-Webhook-Source", "https://shop.example.test/"], ["X-WC-Webhook-Topic", "order.created"],
               ["X-WC-Webhook-Resource", "order"], ["X-WC-Webhook-Event", "created"],
               ["X-WC-Webhook-ID", "42"], ["X-WC-Webhook-Delivery-ID", delivery_id]]
    return Event(body, headers, delivery_id, "order.created")


SPEC = BodyHmacProvider(
    "woocommerce", "X-WC-Webhook-Signature", "", "sha256", "base64", SOURCE,
    # wp_json_encode escapes non-ASCII (\u00fc) and slashes, as WooCommerce's own bodies are.
    order("0b7b7a4d4f2a4b6e8c1d2e3f4a5b6c7d", "Jürgen", escape=True),
    order("9f8e7d6c5b4a39281706f5e4d3c2b1a0", "Jürgen Größe 日本", escape=False),
    "", "a blank value",
)


def ping_case(title: str, body: bytes, headers: list[list[str]], expected: dict[str, object], result: str,
              notes: str) -> dict[str, object]:
    return pc.case("woocommerce", 0, title,
                   request=pc.request("woocommerce", headers=[["User-Agent", USER_AGENT], *headers], body=body),
                   receiver={"secrets": [SPEC.secret("current")]}, signed_with=[], expected=expected,
                   basis="documented",
                   provenance=body_hmac.provenance(SPEC, result, signed_by="unsigned: WC_Webhook::deliver_ping"),
                   notes=notes, signature_headers=["x-wc-webhook-signature"])


def ping_cases() -> list[dict[str, object]]:
    forged_signature = SPEC.signature("other", b"webhook_id=42")
    return [
        ping_case("ping on saving the webhook: unsigned webhook_id=42 answered 200, not published",
                  b"webhook_id=42", [], pc.handshake(200, "application/json", PING_ANSWER), "handshake",
                  "deliver_ping refuses to save the webhook unless the answer is 200."),
        ping_case("a ping-shaped body with a signature header is verified, not answered (wrong secret)",
                  b"webhook_id=42", [["X-WC-Webhook-Signature", forged_signature]], pc.reject("wrong_secret"),
                  "reject", "WooCommerce never signs its ping; a signed one is an event and must verify."),
        ping_case("a body that is not exactly webhook_id=<digits> is verified, not answered (no signature)",
                  b"webhook_id=42&topic=order.created", [], pc.reject("missing_header"), "reject",
                  "Only the exact ping form is answered unsigned."),
    ]


def main() -> None:
    cases = body_hmac.standard_cases(SPEC) + ping_cases()
    print(pc.write("woocommerce", cases, generator=GENERATOR, generated_with={"python": platform.python_version()}))


if __name__ == "__main__":
    main()
