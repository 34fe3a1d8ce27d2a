"""Outbound signatures, computed per attempt (the timestamp is the attempt's).

`standard-webhooks` (https://www.standardwebhooks.com): HMAC-SHA256 over `{id}.{timestamp}.{body}`, sent as
`webhook-signature: v1,<base64>`, one space-separated signature per secret during a rotation. Its secrets
are `whsec_<base64>` (the config refuses any other form), and the key is what the base64 decodes to, as every
Standard Webhooks receiver derives it. An `hmac` secret is used as its UTF-8 bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from hookpipe.config import SigningConfig, whsec_key


def secret_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks `whsec_` secret: base64 after the prefix (a test receiver's helper:
    any other form is refused by the config before it reaches a Signer)."""
    return whsec_key(secret) if secret.startswith("whsec_") else secret.encode()


def standard_webhooks_signature(keys: list[bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode() for key in keys
    )


class Signer:
    """Signs deliveries for one destination. `headers(...)` returns the headers to add to the request."""

    def __init__(self, config: SigningConfig) -> None:
        self.config = config
        secrets = config.secrets or ()
        # Only Standard Webhooks defines the whsec_ form (the config guarantees it); an HMAC secret is used as written.
        if config.scheme == "standard-webhooks":
            self.keys = [whsec_key(secret) for secret in secrets]
        else:
            self.keys = [secret.encode() for secret in secrets]

    def headers(self, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        scheme = self.config.scheme
        if scheme == "standard-webhooks":
            return {"webhook-signature": standard_webhooks_signature(self.keys, msg_id, timestamp, body)}
        if scheme == "hmac":
            digest = getattr(hashlib, self.config.algorithm)
            signatures = []
            for key in self.keys:
                mac = hmac.new(key, body, digest).digest()
                encoded = mac.hex() if self.config.encoding == "hex" else base64.b64encode(mac).decode()
                signatures.append(self.config.prefix + encoded)
            assert self.config.header is not None  # the config requires it for hmac
            return {self.config.header: ",".join(signatures)}
        return {}
