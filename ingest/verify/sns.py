"""Scheme `sns`: Amazon SNS's HTTP(S) messages, RSA-signed by a certificate the message itself names.

The body is a JSON object of strings (AWS, "Verifying the signatures of Amazon SNS messages"). What is signed is
a canonical string: for each signed key, in this order and when present, `key\\n` then `value\\n`:
- Notification: Message, MessageId, Subject (only if present), Timestamp, TopicArn, Type;
- SubscriptionConfirmation and UnsubscribeConfirmation: Message, MessageId, SubscribeURL, Timestamp, Token,
  TopicArn, Type.
`SignatureVersion` "1" is SHA1withRSA and "2" SHA256withRSA (PKCS#1 v1.5); `Signature` is its base64.

Checks, in this order (each refusal before any fetch where it can be):
- the body parses as a JSON object whose keys are strings where SNS sends strings, with every key its type needs
  (`malformed_header`: the signature travels in the body, so a body that is no SNS message is a malformed
  signature), and `x-amz-sns-message-type` names the same `Type` (`missing_header` without it);
- `TopicArn` is one of the configured `topics` (`unknown_topic`, 403): AWS says to refuse unexpected topics, and
  a message for another topic is refused before its certificate is fetched;
- `SigningCertURL` is `https://sns.<region>.amazonaws.com[.cn]/<path>.pem`: the host pattern of AWS's own
  validators (sns-validator: `^sns\\.[a-zA-Z0-9\\-]{3,}\\.amazonaws\\.com(\\.cn)?$`), narrowed to what a region
  looks like (`us-east-1`, `cn-north-1`, `us-gov-west-1`): the official pattern also matches other names under
  amazonaws.com, such as an S3 bucket called `sns` on a legacy `s3-external-1` endpoint. No port, no user, no
  query, no fragment, no `.` or `..` segment. Anything else is `bad_signature`;
- the signature, with the certificate `prepare` fetched (or one of the pinned ones);
- `Timestamp` within `tolerance` (default DEFAULT_TOLERANCE) in either direction: SNS keeps the original
  Timestamp on every retry and stops retrying an HTTP/S endpoint within 3,600 s (a hard limit, AWS, "Amazon
  SNS message delivery retries"). AWS's validators check no time; the window only bounds a replay.

Handshakes (`answer`, after verification): a SubscriptionConfirmation is confirmed by a GET of its
`SubscribeURL` (only `https://sns.<region>.amazonaws.com/?Action=ConfirmSubscription&TopicArn=<its own topic>...`)
and answered 200; never published. If the GET fails the answer is 503, so SNS sends the confirmation again. An
UnsubscribeConfirmation (sent after the subscription is gone) is answered 200 and not published either: its
`SubscribeURL` would subscribe the endpoint again, which is the operator's call, not ingest's.

`identify`: `MessageId` (SNS keeps it on retries: the id dedup needs) and `Type` (`Notification` for every
published event; a source's `type: {json: $.Subject}` or `$.TopicArn` says more when wanted).

Verification itself does no I/O: certificates come from a CertificateSource (fetched and cached by
ingest.sns_certificates, which ingest sets here as `network`; or pinned PEM files, read at config load).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs

import orjson
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hookpipe.config import VerifyConfig
from hookpipe.outcomes import IngestRejection
from ingest.verify import Answer, Identity, InboundRequest, Rejected, Scheme, check_freshness, require_header

MESSAGE_TYPE_HEADER = "x-amz-sns-message-type"

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"

#: Signed keys by message type, in canonical order (AWS, "Verifying the signatures of Amazon SNS messages").
_CONFIRMATION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
SIGNED_KEYS: dict[str, tuple[str, ...]] = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: _CONFIRMATION_KEYS,
    UNSUBSCRIBE_CONFIRMATION: _CONFIRMATION_KEYS,
}

#: Keys every message must have besides its signed ones (Subject is the one optional signed key).
SIGNATURE_KEYS = ("SignatureVersion", "Signature", "SigningCertURL")
OPTIONAL_KEYS = frozenset({"Subject"})

#: SignatureVersion -> the hash of SHA1withRSA / SHA256withRSA.
HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}

#: Seconds a Timestamp may be off our clock: SNS's hard limit on an HTTP/S endpoint's total retry time (3,600 s)
#: plus 5 minutes for clock skew and the last attempt's own time.
DEFAULT_TOLERANCE = 3900.0

#: Base64 characters of a Signature: an RSA-8192 signature is 1,368; SNS signs with RSA-2048 (344).
MAX_SIGNATURE_CHARS = 1368

#: Characters of a SigningCertURL or SubscribeURL (a SubscribeURL carries a ~300-character Token).
MAX_URL_CHARS = 2048

#: Pinned certificates one source may list: a few during AWS's rotation of its signing certificate.
MAX_PINNED = 16

# The host: sns.<region>.amazonaws.com or, in China, .amazonaws.com.cn. A region is letters in dash-separated
# words and a number; this never matches a name the official pattern refuses.
_HOST = r"sns\.[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}\.amazonaws\.com(?:\.cn)?"
_SEGMENT = r"/[A-Za-z0-9_-][A-Za-z0-9._-]*"
CERTIFICATE_URL = re.compile(rf"https://{_HOST}(?:{_SEGMENT})+\.pem")
SUBSCRIBE_URL = re.compile(rf"https://{_HOST}/\?[A-Za-z0-9._~%&=+:-]+")

_TIMESTAMP = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]{1,9}))?Z")

#: The answer to a confirmed subscription and to an unsubscribe confirmation (SNS reads only the status).
ANSWER_BODY = orjson.dumps({"ok": True})
SUBSCRIPTION_CONFIRMED = "sns_subscription_confirmed"
UNSUBSCRIBE_ACKNOWLEDGED = "sns_unsubscribe_acknowledged"

#: Seconds a 503 (a certificate or a confirmation that could not be had) asks the sender to wait in Retry-After;
#: SNS itself retries on its delivery policy's schedule.
RETRY_AFTER = 5


class CertificateSource(Protocol):
    """Where a message's signing keys come from: `keys` (no I/O) after `load` (I/O) of the same URL."""

    def keys(self, url: str) -> Sequence[rsa.RSAPublicKey]: ...

    def load(self, url: str) -> Awaitable[None]: ...


class Network(CertificateSource, Protocol):
    """The HTTPS client of ingest.sns_certificates: certificates, and the subscription's confirmation GET."""

    def confirm(self, url: str) -> Awaitable[None]: ...


#: Makes the Network of a source. ingest (ingest/app.py) sets ingest.sns_certificates' here (this module does no
#: I/O and imports no transport); until then a source without pinned certificates cannot be built.
network: Callable[[], Network] | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """A parsed SNS message: what verification and identification read."""

    type: str
    message_id: str
    topic_arn: str
    timestamp: str
    signature_version: str
    signature: str
    certificate_url: str
    subscribe_url: str | None
    canonical: bytes


def canonical_string(fields: dict[str, str]) -> bytes:
    """The bytes SNS signs for this message (its `Type` chooses the keys; a missing optional key is skipped)."""
    parts = [f"{key}\n{fields[key]}\n" for key in SIGNED_KEYS[fields["Type"]] if key in fields]
    return "".join(parts).encode()


def parse_message(request: InboundRequest) -> Message:
    """The request's SNS message; Rejected('missing_header' / 'malformed_header') when it is none."""
    header = require_header(request, MESSAGE_TYPE_HEADER)
    document = request.json()
    if not isinstance(document, dict):
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    kind = document.get("Type")
    if kind not in SIGNED_KEYS or header != kind:
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    fields: dict[str, str] = {}
    for key in (*SIGNED_KEYS[kind], *SIGNATURE_KEYS):
        value = document.get(key)
        if value is None and key in OPTIONAL_KEYS:
            continue  # SNS sends no Subject, or "Subject": null, when none was published
        if not isinstance(value, str):
            raise Rejected(IngestRejection.MALFORMED_HEADER)
        fields[key] = value
    if fields["SignatureVersion"] not in HASHES or len(fields["Signature"]) > MAX_SIGNATURE_CHARS:
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    message = Message(
        type=kind, message_id=fields["MessageId"], topic_arn=fields["TopicArn"], timestamp=fields["Timestamp"],
        signature_version=fields["SignatureVersion"], signature=fields["Signature"],
        certificate_url=fields["SigningCertURL"], subscribe_url=fields.get("SubscribeURL"),
        canonical=canonical_string(fields),
    )
    if message.subscribe_url is not None and not allowed_subscribe_url(
        message.subscribe_url, message.topic_arn, fields["Token"]
    ):
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    return message


def allowed_certificate_url(url: str) -> bool:
    """Whether `url` is a certificate URL of SNS itself (the module docstring says exactly which)."""
    return len(url) <= MAX_URL_CHARS and CERTIFICATE_URL.fullmatch(url) is not None


def allowed_subscribe_url(url: str, topic_arn: str, token: str) -> bool:
    """Whether `url` is SNS's ConfirmSubscription URL for this message: the certificate URL's hosts, path `/`,
    a query of `Action=ConfirmSubscription` and the message's own TopicArn and Token, each once."""
    if not on_sns_host(url):
        return False
    query = parse_qs(url.partition("?")[2], keep_blank_values=True)
    return (query.get("Action") == ["ConfirmSubscription"] and query.get("TopicArn") == [topic_arn]
            and query.get("Token") == [token])


def on_sns_host(url: str) -> bool:
    """Whether `url` is a query URL on SNS's own host (`https://sns.<region>.amazonaws.com/?...`): the only
    URL a subscription's confirmation GET may go to."""
    return len(url) <= MAX_URL_CHARS and SUBSCRIBE_URL.fullmatch(url) is not None


def signed_time(text: str) -> float:
    """Unix seconds of an SNS `Timestamp` (`2012-04-25T21:49:25.719Z`); Rejected('malformed_header') otherwise."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise Rejected(IngestRejection.MALFORMED_HEADER)
    try:
        whole = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise Rejected(IngestRejection.MALFORMED_HEADER) from None
    return whole.timestamp() + float(f"0.{match.group(2) or 0}")


def signature_matches(message: Message, keys: Sequence[rsa.RSAPublicKey]) -> bool:
    """Whether any of `keys` signed `message` (RSA PKCS#1 v1.5 with its SignatureVersion's hash)."""
    try:
        signature = base64.b64decode(message.signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    algorithm = HASHES[message.signature_version]
    for key in keys:
        try:
            key.verify(signature, message.canonical, padding.PKCS1v15(), algorithm())
        except InvalidSignature:
            continue
        return True
    return False


def checked_before_fetch(request: InboundRequest, topics: frozenset[str]) -> Message:
    """The message, once everything that needs no certificate is checked (type, topic, certificate URL)."""
    message = parse_message(request)
    if message.topic_arn not in topics:
        raise Rejected(IngestRejection.UNKNOWN_TOPIC, status=403)
    if not allowed_certificate_url(message.certificate_url):
        raise Rejected(IngestRejection.BAD_SIGNATURE)
    return message


def verify_sns(
    request: InboundRequest, topics: frozenset[str], certificates: CertificateSource, tolerance: float
) -> Message:
    message = checked_before_fetch(request, topics)
    if not signature_matches(message, certificates.keys(message.certificate_url)):
        raise Rejected(IngestRejection.BAD_SIGNATURE)
    check_freshness(signed_time(message.timestamp), request.now, tolerance)
    return message


def identify_sns(request: InboundRequest) -> Identity:
    """`MessageId` and `Type` from the JSON body."""
    return request.json_text("MessageId"), request.json_text("Type")


class PinnedCertificates:
    """Certificates read from PEM files at config load: every message is checked against each, nothing is
    fetched. A message must still name an SNS certificate URL."""

    def __init__(self, paths: Sequence[str]) -> None:
        if not paths or len(paths) > MAX_PINNED:
            raise ValueError(f"'certificates' lists 1 to {MAX_PINNED} PEM files")
        self._keys = [_pinned_key(path) for path in paths]

    def keys(self, url: str) -> Sequence[rsa.RSAPublicKey]:
        return self._keys

    async def load(self, url: str) -> None:
        return None


def _pinned_key(path: str) -> rsa.RSAPublicKey:
    try:
        certificate = x509.load_pem_x509_certificate(Path(path).read_bytes())
    except OSError as error:
        raise ValueError(f"cannot read certificate {path}: {error.strerror}") from None
    except ValueError:
        raise ValueError(f"{path} is not a PEM certificate") from None
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{path} is not an RSA certificate (SNS signs with RSA)")
    return key


async def respond(message: Message, client: Network | None) -> Answer | None:
    """What answers a verified message instead of publishing it: for a SubscriptionConfirmation, a GET of its
    SubscribeURL then 200 (503 when that fails, so SNS sends it again); 200 for an UnsubscribeConfirmation;
    None (publish it) for a Notification."""
    if message.type == NOTIFICATION:
        return None
    if message.type == UNSUBSCRIBE_CONFIRMATION:
        return Answer(200, ANSWER_BODY, UNSUBSCRIBE_ACKNOWLEDGED)
    if client is None or message.subscribe_url is None:
        raise Rejected(IngestRejection.CONFIRMATION_FAILED, status=503, retry_after=RETRY_AFTER)
    await client.confirm(message.subscribe_url)
    return Answer(200, ANSWER_BODY, SUBSCRIPTION_CONFIRMED)


def build(config: VerifyConfig, *, certificates: CertificateSource | None = None,
          confirmer: Network | None = None) -> Scheme:
    """The scheme; `certificates` and `confirmer` replace the configured or installed ones (tests)."""
    topics = frozenset(topic for topic in config.topics or () if topic.strip())
    if not topics:
        raise ValueError("'topics' names no topic ARN")
    client = confirmer if confirmer is not None else (network() if network is not None else None)
    if certificates is None:
        if config.certificates is not None:
            certificates = PinnedCertificates(config.certificates)
        elif client is None:
            raise ValueError("fetching SNS certificates needs ingest's HTTPS client; pin 'certificates' instead")
        else:
            certificates = client
    source: CertificateSource = certificates
    tolerance = DEFAULT_TOLERANCE if config.tolerance is None else config.tolerance

    async def prepare(request: InboundRequest) -> None:
        await source.load(checked_before_fetch(request, topics).certificate_url)

    def verify(request: InboundRequest) -> None:
        verify_sns(request, topics, source, tolerance)

    async def answer(request: InboundRequest) -> Answer | None:
        return await respond(verify_sns(request, topics, source, tolerance), client)

    return Scheme(
        verify=verify,
        reads_headers=frozenset(),
        identify=identify_sns,
        answer=answer,
        prepare=prepare,
    )
