"""Schemes `intercom`, `vercel`, `typeform`, `bitbucket`, `atlassian`: one HMAC of the raw body in one header.

Each is the `hmac` scheme (ingest/verify/generic_hmac.py) with the provider's header, prefix, algorithm and
encoding fixed, and its event id and type read where the provider puts them. What each provider documents:

- intercom: `X-Hub-Signature: sha1=<hex HMAC-SHA1(body)>`, keyed with the app's client secret (Intercom developer
  docs, "Webhooks" > "Signed notifications"). Id: the notification's `id` (`notif_...`); type: its `topic`
  (`conversation.user.created`, `ping`).
- vercel: `x-vercel-signature: <hex HMAC-SHA1(body)>`, no prefix, keyed with the webhook's secret (or the
  integration's client secret) (Vercel docs, "Webhooks" > "Securing webhooks"). Id: the body's `id`; type: its
  `type` (`deployment.created`).
- typeform: `Typeform-Signature: sha256=<base64 HMAC-SHA256(body)>`, keyed with the webhook's secret (Typeform
  developer docs, "Webhooks" > "Secure your webhooks"). Id: `event_id`; type: `event_type` (`form_response`).
- bitbucket: Bitbucket Cloud, a webhook with a secret: `X-Hub-Signature: sha256=<hex HMAC-SHA256(body)>`
  (Bitbucket Cloud docs, "Manage webhooks" > "Secure webhooks"). Id: the `X-Request-UUID` header (one per
  delivery); type: `X-Event-Key` (`repo:push`).
- atlassian: Jira and Confluence Cloud admin webhooks with a secret, signed as WebSub does:
  `X-Hub-Signature: sha256=<hex HMAC-SHA256(body)>` (Jira Cloud platform docs, "Webhooks" > "Secure admin
  webhooks"). Id: `X-Atlassian-Webhook-Identifier` (the same on every retry of one delivery); type: the body's
  `webhookEvent` (`jira:issue_created`).

None sends a timestamp, so a replayed delivery is caught only by ingest's dedup on the id. Each header holds one
signature; rotation is the receiver's: every configured secret is tried, in constant time. The prefix is matched
exactly (`SHA256=` is malformed); hex is compared case-insensitively, base64 as sent. Bitbucket and Atlassian may
name another WebSub method than sha256 in the prefix; only sha256 is accepted, the only one they document sending.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hookpipe.config import VerifyConfig
from ingest.verify import (
    Identity,
    InboundRequest,
    Scheme,
    header_identity,
    json_identity,
)
from ingest.verify.generic_hmac import body_hmac_settings, verify_hmac


@dataclass(frozen=True, slots=True)
class Preset:
    """Where one provider puts its signature, how it is made, and where the event's id and type are."""

    header: str  # lower case
    prefix: str
    algorithm: str
    encoding: str  # "hex" or "base64"
    identify: Callable[[InboundRequest], Identity]


def _atlassian_identity(request: InboundRequest) -> Identity:
    # The id is a header and the type is in the body.
    return request.headers.get("x-atlassian-webhook-identifier"), request.json_text("webhookEvent")


#: Scheme name -> its preset.
PRESETS: dict[str, Preset] = {
    "intercom": Preset("x-hub-signature", "sha1=", "sha1", "hex", json_identity(("id",), ("topic",))),
    "vercel": Preset("x-vercel-signature", "", "sha1", "hex", json_identity(("id",), ("type",))),
    "typeform": Preset("typeform-signature", "sha256=", "sha256", "base64",
                       json_identity(("event_id",), ("event_type",))),
    "bitbucket": Preset("x-hub-signature", "sha256=", "sha256", "hex",
                        header_identity("x-request-uuid", "x-event-key")),
    "atlassian": Preset("x-hub-signature", "sha256=", "sha256", "hex", _atlassian_identity),
}


def build(config: VerifyConfig) -> Scheme:
    preset = PRESETS[config.scheme]
    settings = body_hmac_settings(config, header=preset.header, prefix=preset.prefix, algorithm=preset.algorithm,
                                  encoding=preset.encoding)
    return Scheme(
        verify=lambda request: verify_hmac(request, settings),
        reads_headers=frozenset({preset.header}),
        identify=preset.identify,
    )
